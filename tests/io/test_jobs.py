"""What every job does around its script (nplab_io.jobs.run_job): it waits for a twin
running the same job in another Snakemake instance, it sweeps the temp files a killed
earlier run left behind, and a failing write names its file."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nplab_io.atomic import sweep_stale_temps, write_bytes_atomic

JOB = textwrap.dedent(
    """
    import json, sys, time, types
    from nplab_io.atomic import write_bytes_atomic
    from nplab_io.jobs import run_job

    outs = json.loads(sys.argv[1])
    sm = types.SimpleNamespace(output=outs, log=[sys.argv[2]], rule="test_rule", threads=1)

    def main(sm, log):
        print("started", time.time(), flush=True)
        write_bytes_atomic(sm.output[0], b"x" * int(sys.argv[3]))

    run_job(sm, main)
    """
)


def _job(cwd: Path, outputs, log, nbytes=10, **kw):
    import json

    return subprocess.run(
        [sys.executable, "-c", JOB, json.dumps([str(o) for o in outputs]), str(log), str(nbytes)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        **kw,
    )


def test_sweep_removes_only_the_targets_temp_files(tmp_path):
    d = tmp_path / "runs" / "r1"
    d.mkdir(parents=True)
    stale = [d / ".metrics.json.k2j_9x8a.tmp", d / ".metrics.json.abcdefgh.tmp"]
    others = [
        d / ".metrics.json.b.abcdefgh.tmp",  # the temp file of "metrics.json.b"
        d / ".history.npz.abcdefgh.tmp",
        d / "metrics.json.abcdefgh.tmp",
        d / "metrics.json",
    ]
    for p in stale + others:
        p.write_text("x")
    assert sorted(sweep_stale_temps(d / "metrics.json")) == sorted(stale)
    assert sorted(p.name for p in d.iterdir()) == sorted(p.name for p in others)
    assert sweep_stale_temps(tmp_path / "missing" / "x.json") == []


def test_a_rerun_of_a_killed_job_sweeps_its_temp_files(tmp_path):
    out = tmp_path / "results" / "a.npz"
    out.parent.mkdir(parents=True)
    left = out.parent / ".a.npz.q1w2e3r4.tmp"  # what SIGKILL during a write leaves
    other = out.parent / ".b.npz.q1w2e3r4.tmp"  # another job's: not ours to remove
    left.write_bytes(b"half")
    other.write_bytes(b"half")
    res = _job(tmp_path, [out], tmp_path / "job.log")
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == b"x" * 10
    assert not left.exists() and other.exists()
    assert "removed 1 stale temp file(s)" in (tmp_path / "job.log").read_text()


def test_a_job_waits_for_its_twin_in_another_instance(tmp_path):
    out = tmp_path / "results" / "a.npz"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from nplab_io.jobs import acquire_job_lock\n"
            "fh = acquire_job_lock([sys.argv[1]])\n"
            "print('locked', flush=True)\n"
            "time.sleep(1.5)\n"
            "print('released', time.time(), flush=True)\n",
            str(out),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    res = _job(tmp_path, [out], tmp_path / "job.log")
    released = float(holder.stdout.readline().split()[1])
    holder.wait(timeout=30)
    assert res.returncode == 0, res.stderr
    started = float(res.stdout.split()[1])
    assert started >= released
    assert "another Snakemake instance is running the job that writes" in res.stderr
    assert "waiting for it to finish" in res.stderr


def test_a_lock_dies_with_its_process(tmp_path):
    from nplab_io.jobs import acquire_job_lock

    out = tmp_path / "x"
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys\nfrom nplab_io.jobs import acquire_job_lock\n"
            "fh = acquire_job_lock([sys.argv[1]])\nos._exit(9)\n",
            str(out),
        ],
        cwd=tmp_path,
        timeout=30,
    )
    t0 = time.monotonic()
    fh = acquire_job_lock([out], lock_dir=tmp_path / ".snakemake" / "nplab-job-locks")
    assert fh is not None and time.monotonic() - t0 < 1


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


def test_a_write_over_the_file_size_limit_names_the_file(tmp_path):
    out = tmp_path / "results" / "runs" / "big.npz"
    res = _job(tmp_path, [out], tmp_path / "job.log", nbytes=1 << 20, preexec_fn=_limit_file_size)
    assert res.returncode == 1
    line = [ln for ln in res.stderr.splitlines() if ln.startswith("nplab: rule test_rule failed")]
    assert len(line) == 1, res.stderr
    assert "File too large" in line[0] and "results/runs/big.npz" in line[0], line[0]
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_atomic_write_names_the_target_of_a_nameless_oserror(tmp_path, monkeypatch):
    import errno

    class Full:
        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    target = tmp_path / "x.bin"
    with pytest.raises(OSError) as info:
        from nplab_io.atomic import atomic_write

        with atomic_write(target) as fh:
            Full().write(b"x")
            fh.write(b"never")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert str(target) in str(info.value)
    assert list(tmp_path.iterdir()) == []
    write_bytes_atomic(target, b"ok")  # and a normal write still works
    assert target.read_bytes() == b"ok"


def test_snakemake_lock_guard():
    """Snakemake 9.27.1 removes every instance's locks on exit; the guard is installed
    (nplab_io.smk_locks) and keeps `--unlock` removing them all."""
    import snakemake
    from snakemake.persistence.file import FilePersistence

    from nplab_io import smk_locks

    bug = smk_locks.needs_guard(FilePersistence) or getattr(
        FilePersistence, "_nplab_own_locks_only", False
    )
    if snakemake.__version__ == "9.27.1":
        assert bug  # the pinned release has it (a newer one may not: then no patch)
    assert smk_locks.install() is bug
    if bug:
        assert FilePersistence._nplab_own_locks_only
        assert not smk_locks.needs_guard(FilePersistence)  # own lock files only now
