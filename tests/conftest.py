"""Shared fixtures: the repository root, the dataset mirror (real or synthetic)."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from nplab_io.smk_cmd import config_args, snakemake_command

ROOT = Path(__file__).resolve().parents[1]
SHARED_MIRROR = ROOT.parent / "shared" / "datasets"


def _is_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def real_mirror() -> Path:
    """The offline mirror of the real datasets (../shared/datasets, or $NPLAB_MIRROR).

    Under CI=true its absence is an error; elsewhere the tests that need it are skipped.
    """
    path = Path(os.environ.get("NPLAB_MIRROR", SHARED_MIRROR))
    if not (path / "mnist").is_dir():
        if _is_ci():
            pytest.fail(f"CI=true but the dataset mirror {path} is missing")
        pytest.skip(f"no real dataset mirror at {path} (set NPLAB_MIRROR)")
    return path


@pytest.fixture(scope="session")
def synthetic_mirror(tmp_path_factory) -> Path:
    """Small datasets written in the real file formats, with their own SHA256SUMS."""
    from nplab_io.synthetic import make_synthetic_mirror

    root = tmp_path_factory.mktemp("synthetic_mirror")
    make_synthetic_mirror(root, seed=0)
    return root


@pytest.fixture(scope="session")
def e2e_mirror(tmp_path_factory) -> tuple[Path, str]:
    """The mirror the end-to-end tests run on: real when present (always under CI),
    otherwise synthetic. Returns (path, kind)."""
    path = Path(os.environ.get("NPLAB_MIRROR", SHARED_MIRROR))
    if (path / "mnist").is_dir():
        return path, "real"
    if _is_ci():
        pytest.fail(f"CI=true but the dataset mirror {path} is missing")
    from nplab_io.synthetic import make_synthetic_mirror

    root = tmp_path_factory.mktemp("synthetic_e2e_mirror")
    make_synthetic_mirror(root, seed=0)
    return root, "synthetic"


def with_setting(cfg: dict, dotted: str, value) -> dict:
    """A deep copy of ``cfg`` with the setting ``a.b.c`` set to ``value`` (missing levels
    are created)."""
    cfg = copy.deepcopy(cfg)
    *head, last = dotted.split(".")
    node = cfg
    for k in head:
        node = node.setdefault(k, {})
    node[last] = value
    return cfg


def run_snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the workflow of this repository with ``workdir`` as the working directory."""
    cmd = snakemake_command(ROOT / "Snakefile", workdir, *args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=str(workdir))


def config_copy(wd: Path) -> Path:
    """``wd`` with a copy of config/ (Snakefile paths are relative)."""
    shutil.copytree(ROOT / "config", wd / "config")
    return wd


def run_quick(wd: Path, mirror, *targets: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``targets`` (default: the default target) of the quick config on ``mirror``, two cores."""
    return run_snakemake(wd, *targets, *config_args(mirror), timeout=timeout)


def quick_stage_run(tmp_path_factory, mirror, name: str, *targets: str) -> Path:
    """A fresh working directory in which ``targets`` of the quick config ran on ``mirror``;
    fails with the end of Snakemake's output if the run failed."""
    wd = config_copy(tmp_path_factory.mktemp(name))
    res = run_quick(wd, mirror, *targets)
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
    return wd


@pytest.fixture()
def workdir(tmp_path) -> Path:
    """A fresh working directory holding a copy of config/ (Snakefile paths are relative)."""
    return config_copy(tmp_path)


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory, e2e_mirror) -> Path:
    """The WHOLE quick-config DAG (default target), run once per test session on the
    e2e mirror with --cores 2. Returns the working directory (results/ inside).
    Stage tests assert on its outputs instead of running the pipeline again.
    NPLAB_QUICK_RUN_DIR=<dir> (development only) brings that directory up to date instead
    of starting from scratch."""
    mirror, _ = e2e_mirror
    reuse = os.environ.get("NPLAB_QUICK_RUN_DIR")
    wd = Path(reuse) if reuse else tmp_path_factory.mktemp("quick_run")
    if reuse:
        shutil.rmtree(wd / "config", ignore_errors=True)
    res = run_quick(config_copy(wd), mirror, timeout=1800)
    if res.returncode != 0:
        pytest.fail("quick-config pipeline run failed:\n" + res.stderr[-4000:])
    return wd


@pytest.fixture(scope="session")
def results(quick_run) -> Path:
    """results/ of the session's quick-config run (see ``quick_run``)."""
    return quick_run / "results"
