"""On-demand benchmark (not a test): how the pipeline scales from 1 to 2 cores.

Runs a fixed slice of the pipeline -- by default the quick config's default target
(`all`, ``--configfile config/quick.yaml``) -- from scratch in two fresh temporary working
directories, once with ``--cores 1`` and once with ``--cores 2``, and prints both wall
times, the speedup (goal >= 1.7x) and the thread counts (CPUs, cores given, the largest
``threads`` any job got, and how many jobs got more than one thread).

    .venv/bin/python bench/bench_scaling.py
    .venv/bin/python bench/bench_scaling.py --cores 1 2 --mirror ../shared/datasets --json results/bench/scaling.json
    .venv/bin/python bench/bench_scaling.py --targets results/features/cifar10/features.npz

The dataset mirror is ``--mirror``, else ``$NPLAB_MIRROR``, else ``../shared/datasets``,
else a small synthetic mirror written for the run (numbers then are not comparable).
Each run is wrapped in ``timeout -k`` (Snakemake ignores SIGTERM while jobs run).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

ROOT = Path(__file__).resolve().parents[1]
GOAL_SPEEDUP = 1.7


def _mirror(arg: str | None, scratch: Path) -> tuple[str, str]:
    if arg:
        return arg, "given"
    path = Path(os.environ.get("NPLAB_MIRROR", ROOT.parent / "shared" / "datasets"))
    if (path / "mnist").is_dir():
        return str(path), "real"
    _common.ensure_nplab_importable()
    from nplab_io.synthetic import make_synthetic_mirror

    make_synthetic_mirror(scratch / "mirror", seed=0)
    return str(scratch / "mirror"), "synthetic"


def run_once(cores: int, workdir: Path, args, mirror: str) -> dict:
    shutil.copytree(ROOT / "config", workdir / "config")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _common._THREAD_ENV_VARS and not k.startswith("SLURM_")
    }
    _common.ensure_nplab_importable()
    from nplab_io.smk_cmd import config_args, snakemake_command

    cmd = [
        "timeout",
        "-k",
        "15",
        str(args.timeout),
        *snakemake_command(
            ROOT / "Snakefile",
            workdir,
            *args.targets,
            *config_args(mirror, cores=cores, configfile=args.configfile),
        ),
    ]
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    out = res.stdout + res.stderr
    if res.returncode != 0:
        print(out[-4000:], file=sys.stderr)
        raise SystemExit(f"--cores {cores}: snakemake exited {res.returncode}")
    jobs = len(re.findall(r"^Finished jobid: \d+ \(Rule: (?!all\))", out, re.M))
    threads = [int(t) for t in re.findall(r"^\s+threads: (\d+)$", out, re.M)]
    return {
        "cores": cores,
        "wall_s": wall,
        "jobs": jobs,
        "max_job_threads": max(threads, default=1),
        "jobs_multithreaded": sum(t > 1 for t in threads),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    ap.add_argument(
        "--cores",
        type=int,
        nargs=2,
        default=[1, 2],
        metavar=("BASE", "N"),
        help="the two --cores values to compare",
    )
    ap.add_argument("--configfile", default="config/quick.yaml")
    ap.add_argument(
        "--targets",
        nargs="+",
        default=["all"],
        help="Snakemake targets (the slice of the pipeline to run)",
    )
    ap.add_argument("--mirror", default=None, help="dataset mirror (see above)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per run")
    _common.add_wait_idle(ap, "first wait up to this long for an idle CPU")
    ap.add_argument("--keep", action="store_true", help="keep the working directories")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args(argv)

    _common.wait_for_idle(args.wait_idle)
    scratch = Path(tempfile.mkdtemp(prefix="nplab-bench-scaling-"))
    try:
        mirror, kind = _mirror(args.mirror, scratch)
        print("=" * 78)
        print(f"machine : {_common._cpu_model()}, os.cpu_count()={os.cpu_count()}")
        print(
            f"slice   : snakemake {' '.join(args.targets)} --configfile {args.configfile}"
            f"  (mirror: {kind}, {mirror})"
        )
        before = _common.report_background_load("before")
        print("=" * 78, flush=True)
        runs = []
        for cores in args.cores:
            r = run_once(cores, scratch / f"cores{cores}", args, mirror)
            runs.append(r)
            print(
                f"--cores {cores}: {_common.fmt_s(r['wall_s']):>8}  {r['jobs']} jobs, "
                f"max threads per job {r['max_job_threads']}, "
                f"{r['jobs_multithreaded']} job(s) with >1 thread",
                flush=True,
            )
        after = _common.report_background_load("after")
        speedup = runs[0]["wall_s"] / runs[1]["wall_s"]
        print(
            f"speedup --cores {args.cores[1]} vs --cores {args.cores[0]}: {speedup:.2f}x  "
            f"{_common.goal_mark(speedup, GOAL_SPEEDUP, higher_is_better=True)}"
        )
        _common.write_json(
            args.json,
            {
                "benchmark": "scaling",
                "targets": args.targets,
                "configfile": args.configfile,
                "mirror": kind,
                "os_cpu_count": os.cpu_count(),
                "runs": runs,
                "speedup": speedup,
                "goal_speedup": GOAL_SPEEDUP,
                "background_load": [before, after],
            },
        )
    finally:
        if args.keep:
            print(f"working directories kept under {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
