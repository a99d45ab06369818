"""A raw file whose checksum passed but which the parser or the archive checks reject is
removed with its provenance, and the one-line error says so (nplab_io.rawdata)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import numpy as np
import pytest

from nplab_io import sources
from nplab_io.errors import DataError, FormatError, UnsafeArchiveError
from nplab_io.formats import (
    CIFAR_MEMBER_DIR,
    CIFAR_TEST_BATCH,
    CIFAR_TRAIN_BATCHES,
    parse_idx,
    read_idx_gz,
)
from nplab_io.rawdata import load_raw_dataset
from nplab_io.synthetic import (
    balanced_labels,
    cifar_batch_bytes,
    cifar_like,
    idx_bytes,
    mnist_like,
    write_cifar_tar,
    write_idx,
    write_tar_gz,
)

MNIST = sources.filenames("mnist")


def _with_provenance(paths):
    for p in paths:
        p.with_name(p.name + ".provenance.json").write_text(json.dumps({"filename": p.name}))
    return paths


def _mnist_dir(d, rng, n_train=60, n_test=20):
    d.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        y = balanced_labels(n, rng)
        write_idx(d / f"{split}-images-idx3-ubyte.gz", mnist_like(y, rng))
        write_idx(d / f"{split}-labels-idx1-ubyte.gz", y.astype(np.uint8))
    return _with_provenance([d / f for f in MNIST])


def _cifar_batches(rng, n=10):
    train = []
    for _ in range(5):
        y = balanced_labels(n, rng)
        train.append((cifar_like(y, rng), y))
    y = balanced_labels(n, rng)
    return train, (cifar_like(y, rng), y)


def _cifar_members(rng):
    train, test = _cifar_batches(rng)
    members = {
        f"{CIFAR_MEMBER_DIR}/{f}": cifar_batch_bytes(*b) for f, b in zip(CIFAR_TRAIN_BATCHES, train)
    }
    members[f"{CIFAR_MEMBER_DIR}/{CIFAR_TEST_BATCH}"] = cifar_batch_bytes(*test)
    return members


def _tar_with_link(path, members, link_name, target):
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        link = tarfile.TarInfo(link_name)
        link.type, link.linkname = tarfile.SYMTYPE, target
        tar.addfile(link)


def _one_line(exc) -> str:
    msg = str(exc)
    assert "\n" not in msg
    return msg


def _left(d):
    return sorted(p.name for p in d.iterdir())


def test_good_files_load(tmp_path):
    rng = np.random.default_rng(0)
    files = _mnist_dir(tmp_path / "mnist", rng)
    out = load_raw_dataset("mnist", files)
    assert out["x_train"].shape == (60, 28, 28) and len(out["y_test"]) == 20
    cifar = tmp_path / "cifar" / "cifar-10-binary.tar.gz"
    write_cifar_tar(cifar, *_cifar_batches(rng))
    out = load_raw_dataset("cifar10", _with_provenance([cifar]))
    assert out["x_train"].shape == (50, 32, 32, 3)
    assert (tmp_path / "mnist" / MNIST[0]).exists() and cifar.exists()


def _break_mnist(d, rng, case):
    """Rewrite one or two files of a good MNIST dir; return the files that are bad."""
    lab = d / "t10k-labels-idx1-ubyte.gz"
    img = d / "train-images-idx3-ubyte.gz"
    if case == "bad IDX magic":
        img.write_bytes(gzip.compress(b"\x12\x34" + idx_bytes(np.zeros((2, 28, 28), np.uint8))[2:]))
        return [img], "bad IDX magic"
    if case == "wrong label count":
        write_idx(lab, balanced_labels(7, rng).astype(np.uint8))
        return [
            d / "t10k-images-idx3-ubyte.gz",
            lab,
        ], "20 images but t10k-labels-idx1-ubyte.gz has 7"
    if case == "labels file with the images magic":
        write_idx(lab, np.zeros((20, 28, 28), np.uint8))
        return [lab], "declares images (3 dimension(s)): expected labels, magic 0x00000801"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["bad IDX magic", "wrong label count", "labels file with the images magic"]
)
def test_bad_mnist_file_is_removed_with_its_provenance(tmp_path, case):
    rng = np.random.default_rng(1)
    d = tmp_path / "mnist"
    files = _mnist_dir(d, rng)
    bad, words = _break_mnist(d, rng, case)
    with pytest.raises(FormatError) as info:
        load_raw_dataset("mnist", files)
    msg = _one_line(info.value)
    assert words in msg, msg
    assert "removed" in msg and "provenance" in msg and "run the same command again" in msg
    for p in bad:
        assert str(p) in msg
        assert not p.exists() and not p.with_name(p.name + ".provenance.json").exists()
    kept = [f for f in MNIST if d / f not in bad]
    assert _left(d) == sorted(kept + [f + ".provenance.json" for f in kept])


def test_labels_with_the_images_magic_is_named_not_a_huge_truncation(tmp_path):
    buf = idx_bytes(np.zeros((20, 28, 28), np.uint8))
    with pytest.raises(FormatError) as info:
        parse_idx(buf, "t10k-labels", expected_ndim=1)
    msg = _one_line(info.value)
    assert "0x00000803 declares images" in msg and "expected labels" in msg
    assert "truncated" not in msg
    path = tmp_path / "x.gz"
    write_idx(path, np.zeros(5, np.uint8))
    with pytest.raises(FormatError, match="declares labels .* expected images"):
        read_idx_gz(path, expected_ndim=3)


def _cifar_case(path, rng, case):
    members = _cifar_members(rng)
    if case == "../evil member":
        members["../evil"] = b"x"
        write_tar_gz(path, members, add_dirs=False)
        return UnsafeArchiveError, "member '../evil': '..' path component"
    if case == "symlink member":
        _tar_with_link(path, members, f"{CIFAR_MEMBER_DIR}/link", "/etc/passwd")
        return UnsafeArchiveError, "symbolic link"
    if case == "wrong record size":
        name = f"{CIFAR_MEMBER_DIR}/{CIFAR_TRAIN_BATCHES[2]}"
        members[name] = members[name][:-5]
        write_tar_gz(path, members)
        return FormatError, "not a positive multiple of the 3,073-byte"
    if case == "truncated tar.gz":
        write_tar_gz(path, members)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        return FormatError, "corrupt tar.gz"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case", ["../evil member", "symlink member", "wrong record size", "truncated tar.gz"]
)
def test_bad_cifar_archive_is_removed_with_its_provenance(tmp_path, case):
    rng = np.random.default_rng(2)
    path = tmp_path / "cifar10" / "cifar-10-binary.tar.gz"
    path.parent.mkdir()
    cls, words = _cifar_case(path, rng, case)
    _with_provenance([path])
    with pytest.raises(cls) as info:
        load_raw_dataset("cifar10", [path])
    msg = _one_line(info.value)
    assert words in msg and f"removed {path} and its provenance" in msg, msg
    assert _left(path.parent) == []
    assert not (tmp_path / "evil").exists() and not (tmp_path / "cifar10" / "link").exists()


def test_errors_carry_the_files_they_name():
    assert DataError("x").files == ()
    assert FormatError("x", files=["a", "b"]).files == ("a", "b")
