"""What real runs meet: diverging runs, killed jobs, failing writes, changed settings, and
a second run of the whole quick config (determinism).

All of them work on the session's quick-config run (`quick_run`, tests/conftest.py); the
jobs they add train a table of their own (`failure_test_*`, from an extra config file) so
the quick run's own outputs stay as they were."""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml
from compare_outputs import VOLATILE_JSON_KEY, compare_trees, has_volatile_keys, outputs
from conftest import ROOT, config_copy, run_quick, run_snakemake

from nplab_io.smk_cmd import snakemake_command

pytestmark = pytest.mark.e2e

RUN_FILES = ("metrics.json", "timing.json", "history.npz", "params.npz")


def _extra_config(wd: Path, name: str, tables: dict, limits: dict | None = None) -> str:
    """An extra config file (merged over quick.yaml) adding experiment tables."""
    cfg = {"experiments": tables}
    if limits is not None:
        cfg["limits"] = limits
    path = wd / "config" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return f"config/{name}.yaml"


def _smk(wd: Path, *targets: str, configfiles=(), extra=()) -> list[str]:
    return snakemake_command(
        ROOT / "Snakefile",
        wd,
        *targets,
        "--cores",
        "2",
        *extra,
        "--configfile",
        "config/quick.yaml",
        *configfiles,
    )


def _run_dirs(wd: Path) -> set[str]:
    return {p.name for p in (wd / "results" / "runs").iterdir()}


def _failure_table(wd: Path, name: str, spec: dict) -> tuple[list[str], str, set[str]]:
    """Table `failure_test_<name>` of `spec` (quick limits lifted) added by an extra config:
    the command that builds it, its runs.csv, and the run folders there were before."""
    cfg = _extra_config(wd, f"failure_{name}", {f"failure_test_{name}": spec}, NO_LIMITS)
    target = f"results/experiments/failure_test_{name}/runs.csv"
    return _smk(wd, target, configfiles=[cfg]), target, _run_dirs(wd)


def _start(cmd: list[str], wd: Path) -> subprocess.Popen:
    """`cmd` in its own session (killable as a group), stderr into stdout."""
    return subprocess.Popen(
        cmd,
        cwd=wd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _run(cmd: list[str], wd: Path, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=wd, capture_output=True, text=True, timeout=timeout, **kwargs)


# A net run that takes several seconds even on 400 examples (the quick limits are lifted).
SLOW_NET = {
    "kind": "net",
    "description": "failure tests: a slow run",
    "base": {
        "hidden_dims": [300],
        "epochs": 60,
        "batch_size": 20,
        "lr": 1e-3,
        "keep_best": False,
        "num_train": 400,
    },
}
NO_LIMITS = {"max_train": 400, "max_epochs": None, "max_iterations": None}


def _wait_for_job(wd: Path, script: str, timeout: float = 120) -> int:
    """PID of the job script `script` running for workdir `wd`."""
    pat = re.compile(re.escape(str(wd)) + r"/\.snakemake/scripts/\S*" + re.escape(script))
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if pat.search(cmd):
                return int(pid)
        time.sleep(0.1)
    raise AssertionError(f"{script} did not start within {timeout} s")


def _declared_outputs_exist(wd: Path, new_runs: set[str]) -> list[str]:
    found = []
    for run in new_runs:
        for f in RUN_FILES:
            if (wd / "results" / "runs" / run / f).exists():
                found.append(f"{run}/{f}")
    return found


def test_diverging_run_is_recorded_shown_and_the_pipeline_completes(quick_run):
    """The course's own SVM grid has a diverging point (lr 5e-5 with reg 5e4): it is kept
    as `diverged` in the metrics, never selected, named in the report, and the rest of the
    DAG (down to the report) completed."""
    res = quick_run / "results"
    runs = pd.read_csv(res / "experiments" / "svm_course" / "runs.csv")
    bad = runs[runs["diverged"].astype(bool)]
    assert len(bad) >= 1 and (bad["lr"] == 5e-5).all(), runs[["variant", "lr", "diverged"]]
    for run in bad["run"]:
        metrics = json.loads((res / "runs" / run / "metrics.json").read_text())
        assert metrics["diverged"] is True
    best = json.loads((res / "experiments" / "svm_course" / "best.json").read_text())
    assert best["run"] not in set(bad["run"]) and best["diverged_candidates"] == len(bad)
    html = (res / "report" / "lab_report.html").read_text()
    for variant in bad["variant"]:
        assert re.search(
            r'class="diverged">\d+ of \d+ runs diverged[^<]*' + re.escape(variant), html
        ), variant


def test_killed_training_job_leaves_nothing_and_the_rerun_completes(quick_run):
    wd = quick_run
    cmd, target, before = _failure_table(wd, "kill", SLOW_NET)

    # 1. SIGTERM to the training job itself: the job fails, Snakemake removes its outputs.
    proc = _start(cmd, wd)
    os.kill(_wait_for_job(wd, "train_net.py"), signal.SIGTERM)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, out[-2000:]
    new = _run_dirs(wd) - before
    assert _declared_outputs_exist(wd, new) == [], out[-2000:]
    assert not (wd / target).exists()

    # 2. SIGKILL to Snakemake and its jobs (power cut): no cleanup can run, yet no output
    #    exists (every file is written to a temp name and renamed when complete).
    proc = _start(cmd, wd)
    _wait_for_job(wd, "train_net.py")
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    new = _run_dirs(wd) - before
    assert _declared_outputs_exist(wd, new) == []

    # 3. The rerun (after the usual `--unlock` of a killed Snakemake) completes.
    unlock = _run([*cmd, "--unlock"], wd, timeout=120)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    done = _run(cmd, wd, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    table = pd.read_csv(wd / target)
    assert len(table) == 1 and table["train_acc"].notna().all()
    run = table["run"].iloc[0]
    assert all((wd / "results" / "runs" / run / f).exists() for f in RUN_FILES)
    # and no temp file was left behind next to the outputs
    assert not [p.name for p in (wd / "results" / "runs" / run).iterdir() if p.name.startswith(".")]


def _limit_file_size():
    # ~1 MB per file: the run's params.npz (3072 x 300 float32 weights) cannot be written,
    # the way a full disk fails a write; Python ignores SIGXFSZ, so write() raises EFBIG.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def test_failing_write_fails_the_job_cleanly(quick_run):
    wd = quick_run
    spec = dict(SLOW_NET, base=dict(SLOW_NET["base"], epochs=1, seed=7))
    cmd, target, before = _failure_table(wd, "write", spec)
    res = _run(cmd, wd, timeout=600, preexec_fn=_limit_file_size)
    log = res.stdout + res.stderr
    assert res.returncode != 0, log[-2000:]
    assert "Error in rule train_net" in log, log[-2000:]
    run = re.search(r"wildcards: run=(net-[0-9a-f]{12})", log).group(1)
    assert run not in before
    job_log = wd / "results" / "logs" / "runs" / f"{run}.log"
    text = job_log.read_text() if job_log.exists() else log
    assert "File too large" in text or "Errno 27" in text, text[-2000:]
    # nothing Snakemake could take for done, and no temp files
    run_dir = wd / "results" / "runs" / run
    assert not run_dir.exists() or [p.name for p in run_dir.iterdir()] == []
    assert not (wd / target).exists()


def _jobs_by_rule(dry_run_stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> number of jobs."""
    stats = dry_run_stdout.split("Job stats:")[-1]
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)
        if m.group(1) != "total"
    }


def test_changing_one_table_reruns_only_that_branch(quick_run):
    wd = quick_run
    quick = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    keeps = quick["experiments"]["dropout"]["grid"]["dropout_keep"]
    cfg = _extra_config(wd, "failure_change", {"dropout": {"base": {"lr": 7e-4}}})
    res = _run(_smk(wd, configfiles=[cfg], extra=["-n"]), wd, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    jobs = _jobs_by_rule(res.stdout)
    # one new training run per dropout setting, the dropout table, and what reads it
    assert jobs.get("train_net") == len(keeps), jobs
    assert "train_linear" not in jobs and "download" not in jobs and "features" not in jobs
    assert not [r for r in jobs if r.startswith("knn")], jobs
    assert set(re.findall(r"wildcards: table=(\w+)", res.stdout)) == {"dropout"}
    assert jobs.get("report") == 1


class _Sections(HTMLParser):
    """Text of a report per top-level section, skipping tables with timing columns,
    images, and the answers named in `skip_answers`."""

    def __init__(self, skip_answers: set[str]):
        super().__init__()
        self.skip_answers = skip_answers
        self.section, self.skip_depth, self.depth = None, None, 0
        self.text: dict[str, list[str]] = {}
        self._table: list | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.depth += 1
        if tag == "section":
            self.section = a.get("id")
        if self.skip_depth is None and tag == "article" and a.get("id") in self.skip_answers:
            self.skip_depth = self.depth
        if tag == "table":
            self._table = []

    def handle_endtag(self, tag):
        if tag == "table" and self._table is not None:
            words = " ".join(self._table)
            header = self._table[: self._table.index("|")] if "|" in self._table else []
            if not any(VOLATILE_JSON_KEY.search(h) for h in header):
                self.text.setdefault(self.section, []).append(words)
            self._table = None
        if tag == "tr" and self._table is not None and "|" not in self._table:
            self._table.append("|")
        if self.skip_depth == self.depth:
            self.skip_depth = None
        self.depth -= 1

    def handle_data(self, data):
        if self.skip_depth is not None or not data.strip() or self.section is None:
            return
        if self._table is not None:
            self._table.append(data.strip())
        else:
            self.text.setdefault(self.section, []).append(data.strip())


def _report_numbers(results: Path) -> dict[str, list[str]]:
    skip = {
        p.stem
        for p in (results / "questions").glob("*.json")
        if has_volatile_keys(json.loads(p.read_text()))
    }
    parser = _Sections(skip)
    parser.feed((results / "report" / "lab_report.html").read_text())
    # the glance's run facts state the summed job time: a timing, like the performance section
    return {
        sec: re.findall(
            r"-?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?%?",
            re.sub(r"Job time \S+ min", "Job time", " ".join(words)),
        )
        for sec, words in parser.text.items()
        if sec not in ("performance",)
    }


def test_two_runs_of_the_quick_config_give_identical_results(
    quick_run, e2e_mirror, tmp_path_factory
):
    """A second, independent run of the whole quick config: every metrics table, evidence
    file and array is byte-identical (timing fields aside), and so is every number of the
    report outside timing tables and the performance section; a further invocation has
    nothing to do."""
    mirror, _ = e2e_mirror
    wd = config_copy(tmp_path_factory.mktemp("quick_run_again"))
    res = run_quick(wd, mirror, timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]

    a, b = outputs(quick_run / "results"), outputs(wd / "results")
    # the first run's directory also holds the failure tests' extra runs: compare what
    # the quick config itself produces
    shared = {k: v for k, v in a.items() if k in b}
    assert sorted(b) == sorted(shared)
    assert sum(k.endswith("metrics.json") for k in b) >= 100
    differ, _, _ = compare_trees(
        shared, b, skip=lambda rel: rel.endswith((".png", ".svg", ".html"))
    )
    assert not differ, f"outputs differ between two runs of the same config: {differ}"
    na, nb = _report_numbers(quick_run / "results"), _report_numbers(wd / "results")
    assert set(na) == set(nb) and sum(len(v) for v in na.values()) > 300
    for sec in na:
        assert na[sec] == nb[sec], sec

    again = run_snakemake(wd, "-n", "--cores", "2", "--configfile", "config/quick.yaml")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
