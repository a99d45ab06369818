"""The style tools pass on the whole tree (issue 11): ruff (lint + format), snakefmt and
`snakemake --lint`, each run from the test's own interpreter (the venv CI installs), each
failing with the tool's own output. Configuration: pyproject.toml ([tool.ruff],
[tool.snakefmt])."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT


def _run(*args, cwd=ROOT, timeout=300):
    res = subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    return res, f"$ {' '.join(args)}  (exit {res.returncode})\n{res.stdout}\n{res.stderr}"


@pytest.mark.parametrize(
    "tool",
    [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("snakefmt", "--check", "Snakefile", "workflow/rules"),
    ],
    ids=["ruff check", "ruff format", "snakefmt"],
)
def test_the_tree_is_linted_and_formatted(tool):
    res, out = _run(*tool)
    assert res.returncode == 0, out


def test_snakemake_lint_is_clean(tmp_path):
    """`snakemake --lint` on the quick config prints no lint: every rule has the project's
    conda environment, rule files hold rules (helpers: common.smk, nplab_io), no
    hard-coded path prefixes. Run in a scratch directory with a copy of config/ (the
    Snakefile reads config/config.yaml relative to the working directory)."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    res, out = _run(
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--lint",
        "--configfile",
        "config/quick.yaml",
        cwd=tmp_path,
    )
    assert res.returncode == 0, out
    assert "Lints for" not in out, out
    assert "Congratulations" in out, out
