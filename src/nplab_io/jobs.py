"""What every workflow script shares: logging, thread limits, clean failure.

A script under ``workflow/scripts/`` ends with ``run_job(snakemake, main)``. ``main`` gets
the Snakemake object and a logger writing to the rule's ``log:`` file. BLAS/OpenMP thread
pools are limited to the rule's ``threads``.

Before anything else the job takes an exclusive lock of its own (``flock`` on
``.snakemake/nplab-job-locks/<hash of its outputs>.lock``): if another Snakemake instance in
the same directory is running the same job, this one waits for it to finish instead of
writing the same files beside it (Snakemake 9.27.1's own directory lock can be lost, see
:mod:`nplab_io.smk_locks`). Holding that lock, it removes the temp files an earlier, killed
run of the same job left next to its outputs (:func:`nplab_io.atomic.sweep_stale_temps`). A :class:`~nplab_io.errors.DataError`,
:class:`~nplab_io.config.ConfigError` or ``ValueError`` becomes ONE line on stderr (and in
the log) and exit status 1, and the job's declared outputs are removed so that nothing
half-written can be mistaken for a result (Snakemake removes them too; this also covers
files written outside Snakemake's knowledge of the job).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["run_job", "job_logger", "limit_threads", "acquire_job_lock", "JOB_LOCK_DIR"]

#: Where the per-job locks live (relative to the working directory Snakemake runs jobs in).
JOB_LOCK_DIR = Path(".snakemake") / "nplab-job-locks"


def job_logger(log_path: str | None, name: str = "nplab") -> logging.Logger:
    logger = logging.getLogger(f"{name}.{os.getpid()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_path, mode="w", encoding="utf-8")
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    else:
        sh = logging.StreamHandler(sys.stderr)
        sh.setFormatter(fmt)
        logger.addHandler(sh)
    return logger


def limit_threads(n: int):
    """Limit BLAS/OpenMP pools to ``n`` threads (returns the threadpoolctl context)."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["OPENBLAS_NUM_THREADS"] = str(n)
    os.environ["MKL_NUM_THREADS"] = str(n)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n)


def _lock_path(outputs, lock_dir: Path) -> Path:
    names = sorted(os.path.abspath(str(o)) for o in outputs)
    key = hashlib.sha256("\0".join(names).encode()).hexdigest()[:24]
    return Path(lock_dir) / f"{key}.lock"


def acquire_job_lock(outputs, *, lock_dir: str | os.PathLike = JOB_LOCK_DIR, note=None):
    """Take the exclusive lock of the job writing ``outputs``; return its open file (keep it
    open: the lock lasts as long as the file object / the process), or None if the
    filesystem cannot lock (then the job runs unguarded, as before).

    If another process holds the lock, ``note(message)`` is called once and this call
    blocks until that process releases it (it finished or died: flock locks die with
    their process, so a SIGKILLed job never leaves a stale lock).
    """
    path = _lock_path(outputs, Path(lock_dir))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+")
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            if note is not None:
                first = str(next(iter(outputs), "?"))
                note(
                    f"another Snakemake instance is running the job that writes {first} "
                    f"(process {holder}, lock {path}); waiting for it to finish"
                )
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
    except OSError as exc:
        fh.close()
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            return None
        raise
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def _remove_outputs(outputs) -> None:
    for out in outputs:
        p = Path(out)
        try:
            if p.is_file() or p.is_symlink():
                p.unlink()
        except OSError:
            pass


def run_job(snakemake, main: Callable) -> None:
    """Run ``main(snakemake, log)`` with the conventions described in the module doc."""
    from nplab_io.atomic import sweep_stale_temps
    from nplab_io.config import ConfigError
    from nplab_io.errors import DataError

    outputs = [str(o) for o in snakemake.output]
    # before the log is opened: its "w" mode would truncate a running twin's log
    lock = acquire_job_lock(
        outputs or [f"rule {snakemake.rule}"],
        note=lambda msg: print(f"nplab: rule {snakemake.rule}: {msg}", file=sys.stderr),
    )
    log_path = snakemake.log[0] if len(snakemake.log) else None
    log = job_logger(log_path)
    if lock is None:
        log.warning("no job lock (the filesystem does not support flock); stale temp files kept")
    else:
        swept = [p for out in outputs for p in sweep_stale_temps(out)]
        if swept:
            log.info(
                "removed %d stale temp file(s) of an interrupted earlier run: %s",
                len(swept),
                ", ".join(map(str, swept)),
            )
    threads = max(1, int(getattr(snakemake, "threads", 1) or 1))
    limit_threads(threads)
    log.info(
        "rule %s, threads %d, outputs: %s",
        snakemake.rule,
        threads,
        ", ".join(map(str, snakemake.output)),
    )
    t0 = time.perf_counter()
    try:
        main(snakemake, log)
    except (DataError, ConfigError, ValueError, OSError) as exc:
        msg = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        log.error("%s", msg)
        _remove_outputs(snakemake.output)
        print(f"nplab: rule {snakemake.rule} failed: {msg}", file=sys.stderr)
        sys.exit(1)
    except BaseException:
        log.exception("unexpected failure")
        _remove_outputs(snakemake.output)
        raise
    log.info("done in %.2f s", time.perf_counter() - t0)
