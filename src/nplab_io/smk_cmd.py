"""The command line that runs this repository's workflow in a working directory of its own
(the tests and ``bench/bench_scaling.py`` start it in fresh directories)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["snakemake_command", "config_args"]


def snakemake_command(snakefile: str | Path, workdir: str | Path, *args: str) -> list[str]:
    """``python -m snakemake`` (this interpreter) on ``snakefile`` in ``workdir``; ``args``
    are its targets and options (put ``--config`` last: it takes every word after it)."""
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        *args,
    ]


def config_args(mirror, *, cores: int = 2, configfile: str = "config/quick.yaml") -> list[str]:
    """``--cores``, ``--configfile`` and, last, ``--config mirror=...``."""
    return ["--cores", str(cores), "--configfile", configfile, "--config", f"mirror={mirror}"]
