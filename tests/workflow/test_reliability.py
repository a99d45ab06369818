"""Nothing stale, nothing silently wrong (issue 13): config holes closed before the first
job, bad downloads removed and fetched again once the source is fixed, reruns that follow
content, and several Snakemake instances in one directory.

The pipeline runs here are kept small (the MNIST or CIFAR-10 raw files and what reads
them, on small synthetic datasets), and most checks are dry runs."""

from __future__ import annotations

import copy
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, with_setting

from nplab_io import sources
from nplab_io.config import ConfigError, check_runs, load_yaml, validate_config
from nplab_io.runs import expand_experiments
from nplab_io.synthetic import (
    balanced_labels,
    write_idx,
    write_sha256sums,
    write_tar_gz,
)

pytestmark = pytest.mark.e2e

# ------------------------------------------------------------------------------ config holes


@pytest.fixture(scope="module")
def schema():
    return load_yaml(ROOT / "workflow" / "schemas" / "config.schema.yaml")


@pytest.fixture(scope="module")
def full():
    return load_yaml(ROOT / "config" / "config.yaml")


def _check(cfg, schema):
    """What common.smk does before the first job."""
    v = validate_config(cfg, schema, source="config/config.yaml")
    check_runs(v, expand_experiments(v["experiments"], seed=v["seed"], limits=v["limits"]))


LINEAR = {"kind": "linear", "base": {"model": "svm", "iterations": 10}}
NET = {"kind": "net", "base": {"hidden_dims": [10], "epochs": 1}}

HOLES = [
    # (what, dotted key -> value, words the one line must hold)
    (
        "linear batch_size full",
        {"experiments.t": dict(LINEAR, base=dict(LINEAR["base"], batch_size="full"))},
        ["experiments.t.base.batch_size", "'full' is for net runs", "got 'full'"],
    ),
    (
        "linear batch_size full in a grid",
        {"experiments.t": dict(LINEAR, grid={"batch_size": [100, "full"]})},
        ["experiments.t.grid.batch_size[1]", "got 'full'"],
    ),
    (
        "linear iterations null",
        {"experiments.t": dict(LINEAR, variants=[{"name": "a"}, {"iterations": None}])},
        ["experiments.t.variants[1].iterations", "expected an integer >= 1", "got None"],
    ),
    ("timeout nan", {"data.timeout": float("nan")}, ["data.timeout", "finite", "nan"]),
    ("backoff inf", {"data.backoff": float("inf")}, ["data.backoff", "finite", "inf"]),
    (
        "val_fraction nan",
        {"data.mnist.val_fraction": float("nan")},
        ["data.mnist.val_fraction", "finite"],
    ),
    (
        "nan inside a table",
        {"experiments.t": dict(NET, grid={"lr": [1e-3, float("nan")]})},
        ["experiments.t.grid.lr[1]", "finite"],
    ),
    ("backoff above its bound", {"data.backoff": 11}, ["data.backoff", "<= 10"]),
    (
        "backoff too long a wait",
        {"data.backoff": 3.0, "data.retries": 12},
        ["data.backoff", "backoff ** (retries - 1) <= 3600", "177147"],
    ),
    (
        "run num_train above its split",
        {"experiments.t": dict(NET, base=dict(NET["base"], num_train=49500))},
        ["experiments.t: run 't': num_train", "at most 49000", "data.cifar10.num_training"],
    ),
    (
        "run num_val above its split",
        {"experiments.t": dict(NET, base=dict(NET["base"], data="mnist/scaled", num_val=20000))},
        ["num_val", "at most 12000", "mnist/scaled"],
    ),
    (
        "net batch larger than its train set",
        {"experiments.t": dict(NET, base=dict(NET["base"], num_train=400, batch_size=500))},
        ["experiments.t: run 't': batch_size", "at most the run's 400 training", "got 500"],
    ),
    (
        "knn.course sizes",
        {"knn.course.num_train": 49500},
        ["knn.course.num_train", "<= 49000", "data.cifar10.num_training"],
    ),
    ("knn test size", {"knn.full.num_test": 2000}, ["knn.full.num_test", "<= 1000"]),
    (
        "cv_ks above a fold",
        {"knn.course.num_train": 500, "knn.course.cv_ks": [1, 3, 450]},
        ["knn.course.cv_ks", "every k <= 400", "500 minus the largest of 5 folds", "got 450"],
    ),
    (
        "table name",
        {"experiments.Bad-Name": NET},
        ["experiments.Bad-Name", "[a-z0-9_]+", "'Bad-Name'"],
    ),
    ("empty mirror=", {"mirror": None}, ["mirror", "expected a directory or URL after mirror="]),
    ("blank mirror=", {"mirror": "  "}, ["mirror", "got an empty value"]),
]


@pytest.mark.parametrize("what,changes,words", HOLES, ids=[h[0] for h in HOLES])
def test_config_holes_give_one_line_naming_the_key(schema, full, what, changes, words):
    cfg = full
    for k, v in changes.items():
        cfg = with_setting(cfg, k, v)
    with pytest.raises(ConfigError) as info:
        _check(cfg, schema)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("config error"), msg
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_the_shipped_configs_pass_the_new_checks(schema, full):
    quick = load_yaml(ROOT / "config" / "quick.yaml")
    merged = copy.deepcopy(full)
    for k, v in quick.items():
        merged[k] = {**merged.get(k, {}), **v} if isinstance(v, dict) else v
    for cfg in (full, merged):
        _check(cfg, schema)


def _smk(wd: Path, *args, snakefile=ROOT / "Snakefile", env=None, timeout=300, **kw):
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile), "--directory", str(wd)]
    return subprocess.run(
        [*cmd, *args],
        cwd=wd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kw,
    )


def _config_errors(res):
    return [ln for ln in res.stderr.splitlines() if "config error" in ln]


def test_bad_configs_stop_the_workflow_before_any_job(workdir):
    res = _smk(workdir, "--cores", "1", "--config", "mirror=")
    assert res.returncode != 0
    assert _config_errors(res) == [
        "config error: mirror: expected a directory or URL after mirror= (leave mirror= out "
        "to use the canonical hosts), got an empty value"
    ], res.stderr[-2000:]
    extra = workdir / "config" / "bad.yaml"
    extra.write_text(
        yaml.safe_dump({"experiments": {"svm_course": {"base": {"batch_size": "full"}}}})
    )
    res = _smk(workdir, "-n", "--cores", "1", "--configfile", "config/config.yaml", str(extra))
    assert res.returncode != 0
    lines = _config_errors(res)
    assert len(lines) == 1 and "experiments.svm_course.base.batch_size" in lines[0], res.stderr
    assert "Traceback" not in res.stderr and "TypeError" not in res.stderr
    assert not (workdir / "results").exists()


# ------------------------------------------------------------------ bad downloads, identity


def _raw(wd, ds):
    return wd / "results" / "data" / "raw" / ds


def _failed_lines(res, rule):
    return [ln for ln in res.stderr.splitlines() if ln.startswith(f"nplab: rule {rule} failed")]


def _hostile_mnist(good: Path, root: Path) -> Path:
    """A copy of the good MNIST files whose t10k labels are 7 where there are more images,
    with a SHA256SUMS that matches (the checksum passes, the parser does not)."""
    d = root / "mnist"
    shutil.copytree(good / "mnist", d)
    for p in d.iterdir():
        os.chmod(p, 0o644)
    write_idx(
        d / "t10k-labels-idx1-ubyte.gz",
        balanced_labels(7, np.random.default_rng(0)).astype(np.uint8),
    )
    write_sha256sums(d, sources.filenames("mnist"))
    return root


def _hostile_cifar(root: Path) -> Path:
    """A CIFAR-10 archive with a '../evil' member, with a matching SHA256SUMS."""
    d = root / "cifar-10"
    d.mkdir(parents=True)
    write_tar_gz(
        d / "cifar-10-binary.tar.gz",
        {"cifar-10-batches-bin/data_batch_1.bin": bytes(3073), "../evil": b"x"},
        add_dirs=False,
    )
    write_sha256sums(d, ["cifar-10-binary.tar.gz"])
    return root


def test_a_bad_mnist_file_from_a_mirror_is_removed_and_fetched_again_once_fixed(
    workdir, synthetic_mirror, tmp_path
):
    mirror = _hostile_mnist(synthetic_mirror, tmp_path / "mirror")
    cmd = ["results/data/mnist.npz", "--cores", "2", "--config", f"mirror={mirror}"]
    res = _smk(workdir, *cmd)
    assert res.returncode != 0
    lines = _failed_lines(res, "load_dataset")
    assert len(lines) == 1, res.stderr[-3000:]
    assert "10 images" not in lines[0] and "has 7 labels" in lines[0], lines[0]
    assert "t10k-labels-idx1-ubyte.gz and their provenance" in lines[0], lines[0]
    raw = _raw(workdir, "mnist")
    left = sorted(p.name for p in raw.iterdir())
    assert left == sorted(
        f + s
        for f in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
        for s in ("", ".provenance.json")
    ), left
    assert not (workdir / "results" / "data" / "mnist.npz").exists()

    # the mirror is fixed: the same command fetches the removed files again and succeeds
    shutil.copy(synthetic_mirror / "mnist" / "t10k-labels-idx1-ubyte.gz", mirror / "mnist")
    write_sha256sums(mirror / "mnist", sources.filenames("mnist"))
    res = _smk(workdir, *cmd)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (workdir / "results" / "data" / "mnist.npz").exists()

    # the download's identity is its source and digest: another mirror fetches again,
    # no mirror keeps the verified files
    res = _smk(workdir, "-n", *cmd[:-1], f"mirror={synthetic_mirror}")
    assert res.returncode == 0 and "download" in res.stdout and "Params have changed" in res.stdout
    res = _smk(workdir, "-n", *cmd[:-2])
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout


def test_a_bad_cifar_archive_is_removed_and_another_mirror_then_succeeds(
    workdir, synthetic_mirror, tmp_path
):
    hostile = _hostile_cifar(tmp_path / "mirror")
    target = ["results/data/cifar10.npz", "--cores", "2"]
    res = _smk(workdir, *target, "--config", f"mirror={hostile}")
    assert res.returncode != 0
    lines = _failed_lines(res, "load_dataset")
    assert len(lines) == 1, res.stderr[-3000:]
    assert "unsafe archive member '../evil'" in lines[0] and "its provenance" in lines[0]
    raw = _raw(workdir, "cifar10")
    assert not raw.exists() or list(raw.iterdir()) == []
    assert not (tmp_path / "evil").exists() and not (workdir / "results" / "evil").exists()
    res = _smk(workdir, *target, "--config", f"mirror={synthetic_mirror}")
    assert res.returncode == 0, res.stderr[-3000:]
    prov = json.loads((raw / "cifar-10-binary.tar.gz.provenance.json").read_text())
    assert prov["mirror"] == str(synthetic_mirror)


# ----------------------------------------------------------------- reruns follow content


def _copy_tree(dst: Path) -> Path:
    """The repository's workflow, packages and configs (what a checkout holds)."""
    dst.mkdir(parents=True)
    for name in ("Snakefile", "workflow", "src", "config", "profiles", "report", "envs"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, dst / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(src, dst / name)
    return dst


def _job_stats(stdout: str) -> dict[str, int]:
    import re

    if "Job stats:" not in stdout:
        return {}
    stats = stdout.split("Job stats:")[1].split("Reasons:")[0]
    return {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)
        if m.group(1) != "total"
    }


def test_reruns_follow_the_content_of_the_code_not_its_modification_time(
    tmp_path, synthetic_mirror
):
    tree = _copy_tree(tmp_path / "tree")
    wd = tmp_path / "wd"
    shutil.copytree(tree / "config", wd / "config")
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    target = ["results/prep/mnist/scaled.npz", "--cores", "2"]

    def smk(*args):
        res = _smk(wd, *target, *args, snakefile=tree / "Snakefile", env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        return res

    def dry():
        return _job_stats(smk("-n").stdout)

    smk("--config", f"mirror={synthetic_mirror}")
    assert dry() == {}
    # a checkout that restores identical content: every file newer, nothing to do
    future = time.time() + 60
    for p in tree.rglob("*"):
        if p.is_file():
            os.utime(p, (future, future))
    assert dry() == {}

    def edit(*rels):
        before = {rel: (tree / rel).read_bytes() for rel in rels}
        for rel, data in before.items():
            (tree / rel).write_bytes(data + b"\n# an edit\n")
        return lambda: [(tree / rel).write_bytes(data) for rel, data in before.items()]

    # a core module: exactly the jobs whose code imports it (and what reads their outputs)
    restore = edit("src/nplab/preprocess.py")
    assert dry() == {"split": 1, "mean_image": 1, "preprocess": 1}
    restore()  # identical content again, with a newer modification time
    assert dry() == {}
    # a script, and a core module that nothing here imports
    restore = edit("workflow/scripts/mean_image.py", "src/nplab/knn.py")
    assert dry() == {"mean_image": 1, "preprocess": 1}
    restore()
    # an upstream output that changed still reruns what reads it (the mtime trigger)
    mean = wd / "results" / "prep" / "mnist" / "mean_image.npz"
    with np.load(mean) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(mean, **{k: v + 1 if v.dtype.kind == "f" else v for k, v in arrays.items()})
    assert dry() == {"preprocess": 1}


# ------------------------------------------------------------- several instances, one dir


class _GatedMirror(http.server.ThreadingHTTPServer):
    """Serves a mirror over HTTP; a request for `gated` waits until `gate` is set."""

    def __init__(self, root: Path, gated: str):
        self.gate, self.requested, self.count = threading.Event(), threading.Event(), 0
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=str(root), **kw)

            def do_GET(self):
                if self.path.endswith(gated):
                    server.count += 1
                    server.requested.set()
                    server.gate.wait(120)
                super().do_GET()

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


def test_an_instance_that_exits_leaves_the_other_instances_locks(workdir, synthetic_mirror):
    """Snakemake 9.27.1 removes the whole .snakemake/locks/ when any instance exits. With
    the guard (nplab_io.smk_locks), a third instance asking for a job that is running is
    refused at once instead of running it a second time."""
    name = "train-labels-idx1-ubyte.gz"
    server = _GatedMirror(synthetic_mirror, name)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = [f"results/data/raw/mnist/{name}", "--cores", "1"]
    cmd = [*target, "--config", f"mirror={server.url}"]
    base = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
    first = subprocess.Popen(
        [*base, "--directory", str(workdir), *cmd],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.requested.wait(120), "the first instance never fetched the file"
        locks = workdir / ".snakemake" / "locks"
        held = sorted(p.name for p in locks.iterdir())
        assert held, "the first instance holds no lock"
        # a second instance fetches another file and exits: the first one's locks stay
        other = _smk(
            workdir,
            "results/data/raw/mnist/t10k-labels-idx1-ubyte.gz",
            *cmd[1:],
        )
        assert other.returncode == 0, other.stderr[-2000:]
        assert sorted(p.name for p in locks.iterdir()) == held
        # a third asks for the running job: refused, the file is fetched once
        third = _smk(workdir, *cmd, timeout=90)
        assert third.returncode != 0
        assert "LockException" in third.stderr or "cannot be locked" in third.stderr
        assert server.count == 1
    finally:
        server.gate.set()
        out, err = first.communicate(timeout=120)
        server.shutdown()
    assert first.returncode == 0, err[-2000:]
    assert (workdir / "results" / "data" / "raw" / "mnist" / name).exists()
    assert not list((workdir / ".snakemake" / "locks").iterdir())
