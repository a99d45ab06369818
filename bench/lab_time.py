"""Wall time, CPU time and peak memory of the whole lab, stage by stage.

    python bench/lab_time.py run --workdir DIR [--mirror M] [--cores 2]
    python bench/lab_time.py summary --workdir DIR

``run`` builds the lab from scratch in DIR (a fresh directory holding a copy of config/,
or a checkout) in two phases with this repository's Snakefile: first everything but the
convolutional nets (their experiment tables disabled by an overlay config), then the
default target, which adds the CNN stage and re-renders what gathers every stage (the
report). The second phase's wall time is what the CNN stage adds. For each phase it
records the wall time, the CPU time of Snakemake and all its jobs (``RUSAGE_CHILDREN``) and
that of the Snakemake process alone (polled every 2 s; its jobs excluded).

``summary`` reads DIR/results/benchmarks (each job's ``benchmark:`` file) and prints, per
stage, the jobs, their summed wall time, the span from the first job's start to the last
job's end (start = file time - wall time) and the peak RSS of any job, then the phases
with how busy the cores were (CPU / (cores x wall)): at ~100% no schedule is faster, only
less CPU work.
A benchmark file's CPU time and RSS are samples (every 0.5 s for the first 15 s of a job,
then every 30 s), so CPU time is left out and a peak shorter than 30 s can be missed.

Nothing here is a test; CI never runs it. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import yaml

from nplab_io.report import benchmark_table

ROOT = Path(__file__).resolve().parents[1]
DATA_RULES = {"download", "load_dataset", "split", "mean_image", "preprocess", "data_figures"}
STAGES = ("data", "cifar10 (knn, features, linear, nets)", "mnist", "cnn", "report", "other")


def _cnn_overlay(config_path: Path) -> dict:
    tables = yaml.safe_load(config_path.read_text())["experiments"]
    return {"experiments": {t: {"enabled": False} for t in tables if t.startswith("cnn_")}}


def _phase(name: str, wd: Path, args: list[str], log: Path, cores: int) -> dict:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=wd, stdout=fh, stderr=subprocess.STDOUT)
        main_cpu = 0.0
        while proc.poll() is None:
            try:
                t = psutil.Process(proc.pid).cpu_times()
                main_cpu = t.user + t.system
            except psutil.Error:
                pass
            time.sleep(2)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        f"{name}: exit {proc.returncode}, wall {wall / 60:.1f} min, CPU {cpu / 60:.1f} min "
        f"(Snakemake itself {main_cpu / 60:.1f})",
        flush=True,
    )
    if proc.returncode:
        sys.exit(f"{name} failed; see {log}")
    return {
        "phase": name,
        "wall_s": wall,
        "cpu_s": cpu,
        "snakemake_cpu_s": main_cpu,
        "cores": cores,
    }


def run(wd: Path, mirror: str | None, cores: int) -> None:
    overlay = wd / "no_cnn.yaml"
    overlay.write_text(yaml.safe_dump(_cnn_overlay(wd / "config" / "config.yaml")))
    common = ["--cores", str(cores)] + (["--config", f"mirror={mirror}"] if mirror else [])
    phases = [
        _phase(
            "lab without CNNs",
            wd,
            ["--configfile", "config/config.yaml", str(overlay), *common],
            wd / "lab_time_1.log",
            cores,
        ),
        _phase("CNN stage (+ report)", wd, common, wd / "lab_time_2.log", cores),
    ]
    (wd / "lab_time.json").write_text(json.dumps(phases, indent=1))
    summary(wd)


def _stage(parts: tuple[str, ...], results: Path) -> str:
    rule, name = parts[0], parts[-1]
    if rule in DATA_RULES:
        return "data"
    if rule == "runs":
        metrics = json.loads((results / "runs" / name / "metrics.json").read_text())
        if metrics["kind"] == "cnn":
            return "cnn"
        return "mnist" if str(metrics.get("data", "")).startswith("mnist") else STAGES[1]
    if rule in ("experiments", "questions", "cnn", "mnist"):
        for stage in ("cnn", "mnist"):
            if rule == stage or name.startswith(stage):
                return stage
        return STAGES[1]
    if rule in ("knn", "nets", "linear", "features", "extras"):
        return STAGES[1]
    return rule if rule in STAGES else "other"


def benchmarks(results: Path) -> pd.DataFrame:
    """The report's table of benchmark files, with each job's stage and start time."""
    df = benchmark_table(results).rename(columns={"s": "wall_s"})
    df["stage"] = [_stage(Path(job).parts, results) for job in df["job"]]
    df["start"] = df["end"] - df["wall_s"]
    return df


def summary(wd: Path) -> None:
    df = benchmarks(wd / "results")
    g = df.groupby("stage")
    table = pd.DataFrame(
        {
            "jobs": g.size(),
            "job wall (min)": g["wall_s"].sum() / 60,
            "span (min)": (g["end"].max() - g["start"].min()) / 60,
            "peak RSS (MB)": g["max_rss_mb"].max(),
        }
    ).reindex([s for s in STAGES if s in g.groups])
    print(table.round(1).to_string())
    top = df.sort_values("max_rss_mb", ascending=False).head(3)
    print(
        "largest jobs (RSS MB):", ", ".join(f"{j} {m:.0f}" for j, m in zip(top.job, top.max_rss_mb))
    )
    record = wd / "lab_time.json"
    if record.is_file():
        for ph in json.loads(record.read_text()):
            main_cpu = ph.get("snakemake_cpu_s", float("nan"))
            print(
                f"{ph['phase']}: wall {ph['wall_s'] / 60:.1f} min, CPU {ph['cpu_s'] / 60:.1f} min "
                f"(Snakemake itself {main_cpu / 60:.1f}){_busy(ph)}"
            )


def _busy(phase: dict) -> str:
    """How full the cores were: near 100% means only less CPU work can shorten the phase."""
    if "cores" not in phase:
        return ""
    busy = phase["cpu_s"] / (phase["cores"] * phase["wall_s"])
    floor = phase["cpu_s"] / phase["cores"] / 60
    return f"; {phase['cores']} cores {busy:.0%} busy, so at least {floor:.1f} min for this CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["run", "summary"])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--mirror", default=None)
    ap.add_argument("--cores", type=int, default=2)
    a = ap.parse_args()
    if a.command == "run":
        run(a.workdir.resolve(), a.mirror, a.cores)
    else:
        summary(a.workdir.resolve())


if __name__ == "__main__":
    main()
