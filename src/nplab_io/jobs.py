"""What every workflow script shares: logging, thread limits, clean failure.

A script under ``workflow/scripts/`` ends with ``run_job(snakemake, main)``. ``main`` gets
the Snakemake object and a logger writing to the rule's ``log:`` file. BLAS/OpenMP thread
pools are limited to the rule's ``threads``. A :class:`~nplab_io.errors.DataError`,
:class:`~nplab_io.config.ConfigError` or ``ValueError`` becomes ONE line on stderr (and in
the log) and exit status 1, and the job's declared outputs are removed so that nothing
half-written can be mistaken for a result (Snakemake removes them too; this also covers
files written outside Snakemake's knowledge of the job).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["run_job", "job_logger", "limit_threads"]


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
    from nplab_io.config import ConfigError
    from nplab_io.errors import DataError

    log_path = snakemake.log[0] if len(snakemake.log) else None
    log = job_logger(log_path)
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
