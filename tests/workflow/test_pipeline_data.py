"""The data stage of the workflow: dry run, bad config, end-to-end run, corrupt mirror."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from conftest import config_copy, run_quick, run_snakemake

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_dry_run_of_the_whole_dag(workdir):
    res = run_snakemake(workdir, "-n", "--cores", "2", "--quiet", "rules")
    assert res.returncode == 0, res.stderr[-2000:]
    text = res.stdout + res.stderr
    for rule in [
        "download",
        "load_dataset",
        "split",
        "mean_image",
        "preprocess",
        "data_figures",
        "features",
        "all",
    ]:
        assert rule in text, f"rule {rule} missing from the dry run:\n{text[-3000:]}"


def test_dry_run_of_the_quick_config(workdir):
    res = run_snakemake(workdir, "-n", "--cores", "2", "--configfile", "config/quick.yaml")
    assert res.returncode == 0, res.stderr[-2000:]


def test_bad_config_stops_before_any_job_with_one_line(workdir):
    res = run_snakemake(workdir, "--cores", "1", "--config", "seed=-3")
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if "config error" in ln]
    assert lines == ["config error: seed: expected a value >= 0, got -3"], res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert not (workdir / "results").exists()


@pytest.fixture(scope="module")
def data_run(tmp_path_factory, e2e_mirror):
    """One quick-config run of the data stage on the mirror, shared by the checks below."""
    mirror, kind = e2e_mirror
    wd = config_copy(tmp_path_factory.mktemp("e2e_data"))
    res = run_quick(wd, mirror, "data")
    assert res.returncode == 0, (res.stdout[-3000:], res.stderr[-3000:])
    return wd, kind, res


def test_data_stage_outputs(data_run):
    wd, kind, _ = data_run
    r = wd / "results"
    for ds in ["mnist", "cifar10"]:
        assert (r / "data" / f"{ds}.npz").stat().st_size > 0
        for fig in ["samples", "mean_image"]:
            for fmt in ["png", "svg"]:
                assert (r / "figures" / "data" / f"{ds}_{fig}.{fmt}").stat().st_size > 1000
    with np.load(r / "data" / "mnist.npz") as z:
        assert z["x_train"].dtype == np.uint8 and z["x_train"].ndim == 3
        assert z["y_train"].dtype == np.int64
        if kind == "real":
            assert z["x_train"].shape == (60000, 28, 28)
            assert np.bincount(z["y_train"]).tolist() == MNIST_TRAIN_COUNTS
            assert np.bincount(z["y_test"]).tolist() == MNIST_TEST_COUNTS
            assert z["y_train"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    with np.load(r / "data" / "cifar10.npz") as z:
        assert z["x_train"].shape[1:] == (32, 32, 3) and z["x_train"].dtype == np.uint8
        counts = np.bincount(z["y_train"], minlength=10)
        assert len(set(counts.tolist())) == 1  # balanced
        if kind == "real":
            assert counts.tolist() == [5000] * 10
            assert np.bincount(z["y_test"]).tolist() == [1000] * 10
    prov = json.loads(
        (r / "data" / "raw" / "cifar10" / "cifar-10-binary.tar.gz.provenance.json").read_text()
    )
    assert prov["checksum_kind"] == "unofficial mirror checksum"


def test_splits_and_preprocessing(data_run):
    wd, _, _ = data_run
    r = wd / "results" / "prep"
    with np.load(r / "cifar10" / "split.npz") as s:
        assert len(s["y_train"]) == 2000 and len(s["y_val"]) == 200
        assert len(s["y_test"]) == 200 and len(s["y_dev"]) == 100
        assert np.intersect1d(s["idx_train"], s["idx_val"]).size == 0
        assert np.isin(s["idx_dev"], s["idx_train"]).all()
        x_train = s["X_train"].astype(np.float64)
    with np.load(r / "cifar10" / "mean_image.npz") as m:
        np.testing.assert_allclose(m["mean"], x_train.mean(axis=0), rtol=0, atol=1e-9)
    with np.load(r / "cifar10" / "centered_bias.npz") as c:
        assert c["X_train"].dtype == np.float32 and c["X_train"].shape == (2000, 3073)
        assert np.all(c["X_val"][:, -1] == 1)
        assert abs(float(c["X_train"][:, :-1].mean())) < 1e-3
    with np.load(r / "mnist" / "scaled.npz") as m:
        assert len(m["y_train"]) == 1600 and len(m["y_val"]) == 400 and len(m["y_test"]) == 500
        assert m["X_train"].max() <= 1.0 and m["X_train"].min() >= 0.0
        assert np.array_equal(m["Y_train"].argmax(1), m["y_train"])
    with np.load(wd / "results" / "features" / "cifar10" / "features.npz") as f:
        assert f["X_train"].shape == (2000, 3 * 3 * 4 * 9 + 10 + 1)  # 2x2-cell HOG blocks
        assert f["X_dev"].shape == (100, 335)
        np.testing.assert_allclose(f["X_train"][:, :-1].mean(0), 0, atol=1e-4)
        assert np.isfinite(f["X_test"]).all()


def test_second_run_has_nothing_to_do(quick_run):
    """After the whole quick DAG, a second invocation (even without the mirror setting,
    the verified downloads being there) has nothing to do."""
    res = run_snakemake(quick_run, "-n", "--cores", "2", "--configfile", "config/quick.yaml")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Nothing to be done" in res.stdout + res.stderr


def test_corrupt_mirror_file_fails_cleanly(tmp_path, e2e_mirror):
    mirror, _ = e2e_mirror
    bad = tmp_path / "bad_mirror"
    shutil.copytree(mirror / "mnist", bad / "mnist")
    target = bad / "mnist" / "t10k-labels-idx1-ubyte.gz"
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    wd = config_copy(tmp_path / "wd")
    res = run_snakemake(wd, "results/data/mnist.npz", "--cores", "1", "--config", f"mirror={bad}")
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("nplab: rule download failed")]
    assert len(lines) == 1, res.stderr[-3000:]
    assert "t10k-labels-idx1-ubyte.gz" in lines[0] and "mismatch" in lines[0]
    raw = wd / "results" / "data" / "raw" / "mnist"
    assert not (raw / "t10k-labels-idx1-ubyte.gz").exists()
    assert not [p for p in raw.iterdir() if p.name.startswith(".")] if raw.exists() else True
    assert not (wd / "results" / "data" / "mnist.npz").exists()
