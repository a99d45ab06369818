"""SLURM execution: the quick config run locally and through a real (local, one-node)
SLURM cluster with profiles/slurm must give byte-identical results.

The cluster comes from tests/slurm/cluster.py (Debian packages slurm-wlm + munge,
installed with apt-get when missing and running as root). Where that is impossible the
end-to-end test is skipped with the reason -- except under CI=true, where it must run.

Every SLURM job pays a Snakemake start-up inside the job (several CPU-seconds) and the
quick config's default target is now some 250 jobs of well under a second each, so the
test runs a fixed slice of it (SLICE: every data/feature job and two experiment tables,
one linear and one net, with the best-on-val test evaluation; about 25 jobs, about two
minutes through SLURM). NPLAB_SLURM_TEST_TARGETS="all" (or any targets, space separated)
runs something else, e.g. the whole default target on a bigger machine.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import yaml
from compare_outputs import compare_trees, outputs
from conftest import ROOT, _is_ci, config_copy

from nplab_io.smk_cmd import snakemake_command

PROFILE = ROOT / "profiles" / "slurm"
# A fixed slice of the quick config's default target `all` (see the module docstring).
SLICE = [
    *[
        f"results/prep/{p}.npz"
        for p in ("cifar10/pixels", "cifar10/centered", "cifar10/centered_bias", "mnist/scaled")
    ],
    *[
        f"results/figures/data/{ds}_{fig}.{fmt}"
        for ds in ("mnist", "cifar10")
        for fig in ("samples", "mean_image")
        for fmt in ("png", "svg")
    ],
    "results/features/cifar10/features.npz",
    "results/experiments/svm_course/runs.csv",  # 4 train_linear runs + table
    "results/experiments/svm_course/best.json",  # best on val, evaluated on test
    "results/experiments/twolayer_default/runs.csv",  # 1 train_net run + table
]
TARGETS = os.environ.get("NPLAB_SLURM_TEST_TARGETS", "").split() or SLICE
# Seconds per Snakemake run, enforced with `timeout -k` (Snakemake ignores SIGTERM while
# jobs run).
SNAKEMAKE_TIMEOUT = 300 if TARGETS == SLICE else 3600


def _load_cluster_module():
    spec = importlib.util.spec_from_file_location(
        "nplab_test_slurm_cluster", ROOT / "tests" / "slurm" / "cluster.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


cluster_mod = _load_cluster_module()


def _profile() -> dict:
    # A YTE template; its plain keys are ordinary YAML.
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


# -- the profile, without a cluster --------------------------------------------------------
def test_slurm_profile_settings():
    prof = _profile()
    assert prof["executor"] == "slurm"
    assert prof["slurm-status-command"] == "squeue"
    init = int(prof["slurm-init-seconds-before-status-checks"])
    # The plugin silently switches to sacct (useless without slurmdbd) when
    # MinJobAge < 3 x this: stay within Slurm's default MinJobAge (300 s) and the test
    # cluster's.
    assert init >= 1 and 3 * init <= min(300, cluster_mod.MIN_JOB_AGE)
    assert int(prof["jobs"]) >= 1 and int(prof["latency-wait"]) >= 5
    res = prof["default-resources"]
    assert {"mem_mb", "runtime"} <= set(res)
    assert prof["rerun-incomplete"] is True


def test_slurm_profile_parses_in_snakemake(monkeypatch):
    from snakemake.profiles import ProfileConfigFileParser

    monkeypatch.delenv("NPLAB_SLURM_PARTITION", raising=False)
    monkeypatch.delenv("NPLAB_SLURM_ACCOUNT", raising=False)
    with open(PROFILE / "config.yaml") as fh:
        plain = dict(ProfileConfigFileParser().parse(fh))
    assert not [r for r in plain["default-resources"] if r.startswith("slurm_")]
    monkeypatch.setenv("NPLAB_SLURM_PARTITION", "all")  # a Python builtin's name
    monkeypatch.setenv("NPLAB_SLURM_ACCOUNT", "proj-42")
    with open(PROFILE / "config.yaml") as fh:
        parsed = dict(ProfileConfigFileParser().parse(fh))
    assert "slurm_partition='all'" in parsed["default-resources"]
    assert "slurm_account='proj-42'" in parsed["default-resources"]
    assert parsed["executor"] == "slurm"


def test_dry_run_with_the_slurm_profile(workdir):
    cmd = snakemake_command(
        ROOT / "Snakefile",
        workdir,
        "--workflow-profile",
        str(PROFILE),
        "-n",
        "--configfile",
        "config/quick.yaml",
    )
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=workdir)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"workflow specific profile {PROFILE}" in res.stdout + res.stderr


# -- the real thing -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def slurm_cluster():
    def unavailable(reason: str):
        msg = f"no local SLURM cluster: {reason}"
        if _is_ci():
            pytest.fail(f"CI=true but {msg}")
        pytest.skip(msg)

    try:
        cluster_mod.ensure_installed(install=True)
        cluster = cluster_mod.LocalSlurmCluster.start_new()
    except cluster_mod.SlurmUnavailable as exc:
        unavailable(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop(remove=True)


def _run(
    workdir: Path,
    extra: list[str],
    mirror: Path,
    env: dict | None = None,
) -> tuple[subprocess.CompletedProcess, float]:
    cmd = [
        "timeout",
        "-k",
        "15",
        str(SNAKEMAKE_TIMEOUT),
        *snakemake_command(
            ROOT / "Snakefile",
            workdir,
            *TARGETS,
            *extra,
            "--configfile",
            "config/quick.yaml",
            "--config",
            f"mirror={mirror}",
        ),
    ]  # --config last: it takes every word after it
    t0 = time.monotonic()
    res = subprocess.run(
        cmd, capture_output=True, text=True, cwd=workdir, env=env, timeout=SNAKEMAKE_TIMEOUT + 60
    )
    return res, time.monotonic() - t0


def _finished(text: str) -> list[tuple[int, str]]:
    return [(int(j), r) for j, r in re.findall(r"Finished jobid: (\d+) \(Rule: (\w+)\)", text)]


@pytest.mark.slurm
def test_quick_config_through_slurm_matches_local_run(slurm_cluster, e2e_mirror, tmp_path_factory):
    mirror, _ = e2e_mirror
    base = tmp_path_factory.mktemp("slurm_vs_local")
    wd_local, wd_slurm = base / "local", base / "slurm"
    for wd in (wd_local, wd_slurm):
        config_copy(wd)

    # 1. locally, two cores
    env_local = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    local, t_local = _run(wd_local, ["--cores", "2"], mirror, env_local)
    assert local.returncode == 0, (local.stdout[-3000:], local.stderr[-3000:])

    # 2. through SLURM with the workflow profile, as a user would run it
    env = slurm_cluster.env
    env["NPLAB_SLURM_PARTITION"] = slurm_cluster.partition  # the profile's settable value
    env.pop("NPLAB_SLURM_ACCOUNT", None)  # no accounting DB here to validate one
    slurm, t_slurm = _run(wd_slurm, ["--workflow-profile", str(PROFILE)], mirror, env)
    log = slurm.stdout + slurm.stderr
    assert slurm.returncode == 0, (log[-4000:], slurm_cluster.logs_tail())
    print(f"\nlocal run {t_local:.0f} s, SLURM run {t_slurm:.0f} s")

    # -- the jobs really went through SLURM -------------------------------------------
    run_id = re.search(r"SLURM run ID: (\S+)", log)
    assert run_id, log[-3000:]
    submitted = {
        int(j): int(s)
        for j, s in re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log)
    }
    # rules Snakemake runs on the submitting host: `all` (no action) and any localrule
    local_rules = {"all", *re.findall(r"^localrule (\w+):", log, re.M)}
    ran_local = sorted(r for _, r in _finished(local.stdout + local.stderr) if r not in local_rules)
    ran_slurm = [(j, r) for j, r in _finished(log) if r not in local_rules]
    assert sorted(r for _, r in ran_slurm) == ran_local, (ran_local, ran_slurm)
    # every other executed job was an sbatch submission
    assert sorted(submitted) == sorted(j for j, _ in ran_slurm), (submitted, ran_slurm)
    slurm_ids = set(submitted.values())
    assert len(slurm_ids) == len(submitted) >= 10, submitted
    # job states came from squeue (no sacct fallback: MinJobAge is large enough)
    assert "Falling back to 'sacct'" not in log
    assert "may cause 'squeue' to miss" not in log
    calls = slurm_cluster.client_calls()
    assert any(c.startswith("squeue ") and run_id.group(1) in c for c in calls), calls
    assert not [c for c in calls if c.startswith("sacct ") and run_id.group(1) in c], calls
    assert sum(c.startswith("sbatch ") for c in calls) == len(submitted)
    # inside every job, the rule ran as a job step: `srun ... python -m snakemake ...`
    assert sum(c.startswith("srun ") for c in calls) == len(submitted), calls

    queue = {}
    for line in slurm_cluster.squeue_all().splitlines():
        jid, name, state, comment = line.split("|", 3)
        queue[int(jid)] = (name, state, comment)
    for sid in slurm_ids:
        assert sid in queue, (sid, queue)
        name, state, comment = queue[sid]
        assert name == run_id.group(1) and state == "COMPLETED", (sid, queue[sid])
        assert comment.startswith("rule_"), queue[sid]
    ctld = slurm_cluster.slurmctld_log.read_text(errors="replace")
    for sid in slurm_ids:
        assert re.search(rf"_job_complete: JobId={sid} WEXITSTATUS 0\b", ctld), sid

    # -- and produced exactly the same files -----------------------------------------
    a, b = outputs(wd_local / "results"), outputs(wd_slurm / "results")
    assert sorted(a) == sorted(b)
    data = [k for k in a if k.endswith((".npz", ".csv", ".json"))]
    assert any(k.endswith(".npz") for k in data) and any(k.endswith(".json") for k in data)
    # Every file must be byte-identical, except: timing/provenance fields of .json and
    # .csv files (compared without them), and .npz files whose arrays are all equal
    # (zip metadata only; reported as a warning, they are meant to be byte-identical).
    differ, timing_only, npz_metadata_only = compare_trees(a, b)
    assert not differ, f"outputs differ between the local and the SLURM run: {differ}"
    print(
        f"{len(a)} output files compared: {len(a) - len(timing_only) - len(npz_metadata_only)}"
        f" byte-identical, {len(timing_only)} equal but for timing fields"
    )
    if npz_metadata_only:
        warnings.warn(
            "same arrays but not byte-identical: " + ", ".join(npz_metadata_only), stacklevel=2
        )
