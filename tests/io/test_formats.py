"""IDX and CIFAR-10 binary parsers on synthetic files written in the real formats."""

from __future__ import annotations

import gzip
import tarfile

import numpy as np
import pytest

from nplab_io.errors import FormatError, UnsafeArchiveError
from nplab_io.formats import (
    load_mnist,
    parse_cifar_batch,
    parse_idx,
    read_cifar_binary_tar,
    read_idx_gz,
)
from nplab_io.synthetic import (
    cifar_batch_bytes,
    idx_bytes,
    make_synthetic_mirror,
    write_cifar_batch,
    write_cifar_tar,
    write_idx,
    write_tar_gz,
)

MNIST_FILES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


def rand_images(rng, n, shape=(28, 28)):
    return rng.integers(0, 256, size=(n, *shape), dtype=np.uint8)


# ------------------------------------------------------------------------------------- IDX


def test_idx_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    x = rand_images(rng, 7)
    y = rng.integers(0, 10, size=7).astype(np.uint8)
    write_idx(tmp_path / "img.gz", x)
    write_idx(tmp_path / "lab.gz", y)
    got_x = read_idx_gz(tmp_path / "img.gz", expected_ndim=3)
    got_y = read_idx_gz(tmp_path / "lab.gz", expected_ndim=1)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)
    assert got_x.dtype == np.uint8 and got_x.flags.writeable
    raw = gzip.decompress((tmp_path / "img.gz").read_bytes())
    assert raw[:4] == b"\x00\x00\x08\x03" and raw[4:8] == (7).to_bytes(4, "big")


def test_idx_wrong_ndim(tmp_path):
    write_idx(tmp_path / "lab.gz", np.zeros(5, np.uint8))
    with pytest.raises(FormatError) as ei:
        read_idx_gz(tmp_path / "lab.gz", expected_ndim=3)
    msg = one_line(ei)
    assert "lab.gz" in msg and "0x00000803" in msg


def test_idx_bad_magic():
    buf = b"\x12\x34\x08\x01" + (3).to_bytes(4, "big") + b"abc"
    with pytest.raises(FormatError) as ei:
        parse_idx(buf, "labels.idx")
    msg = one_line(ei)
    assert "labels.idx" in msg and "bad IDX magic 0x12340801" in msg and "0x00000801" in msg


def test_idx_unsupported_type():
    buf = b"\x00\x00\x0d\x01" + (1).to_bytes(4, "big") + b"\x00" * 4  # float32
    with pytest.raises(FormatError) as ei:
        parse_idx(buf, "f.idx")
    assert "0x0d" in one_line(ei) and "0x08" in str(ei.value)


def test_idx_truncated():
    buf = idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-10]
    with pytest.raises(FormatError) as ei:
        parse_idx(buf, "img.idx")
    msg = one_line(ei)
    assert "img.idx: truncated IDX file: header promises 3136 bytes of data, found 3126" in msg


def test_idx_truncated_header():
    with pytest.raises(FormatError) as ei:
        parse_idx(b"\x00\x00\x08\x03\x00\x00", "h.idx")
    assert "truncated IDX header" in one_line(ei)
    with pytest.raises(FormatError):
        parse_idx(b"\x00\x00", "tiny.idx")


def test_idx_trailing_bytes():
    buf = idx_bytes(np.arange(5, dtype=np.uint8)) + b"junk"
    with pytest.raises(FormatError) as ei:
        parse_idx(buf, "lab.idx")
    msg = one_line(ei)
    assert "lab.idx" in msg and "4 trailing bytes" in msg


def test_idx_gz_not_gzip(tmp_path):
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(idx_bytes(np.zeros((1, 2, 2), np.uint8)))  # raw IDX, not gzipped
    with pytest.raises(FormatError) as ei:
        read_idx_gz(p)
    msg = one_line(ei)
    assert str(p) in msg and "not a valid gzip file" in msg


# ----------------------------------------------------------------------------------- MNIST


def write_mnist(d, n_train=30, n_test=10, seed=0, **override):
    rng = np.random.default_rng(seed)
    arrays = {
        MNIST_FILES[0]: rand_images(rng, n_train),
        MNIST_FILES[1]: np.arange(n_train) % 10,
        MNIST_FILES[2]: rand_images(rng, n_test),
        MNIST_FILES[3]: np.arange(n_test) % 10,
    }
    arrays.update(override)
    for name, a in arrays.items():
        write_idx(d / name, np.asarray(a).astype(np.uint8))
    return arrays


def test_load_mnist_round_trip(tmp_path):
    arrays = write_mnist(tmp_path)
    out = load_mnist(tmp_path)
    assert out["x_train"].shape == (30, 28, 28) and out["x_test"].shape == (10, 28, 28)
    assert out["y_train"].dtype == np.int64 and out["x_train"].dtype == np.uint8
    np.testing.assert_array_equal(out["x_train"], arrays[MNIST_FILES[0]])
    np.testing.assert_array_equal(out["y_test"], arrays[MNIST_FILES[3]])


def test_load_mnist_label_out_of_range(tmp_path):
    labels = np.arange(30) % 10
    labels[17] = 10
    write_mnist(tmp_path, **{MNIST_FILES[1]: labels})
    with pytest.raises(FormatError) as ei:
        load_mnist(tmp_path)
    msg = one_line(ei)
    assert MNIST_FILES[1] in msg and "label 10 at index 17" in msg and "0-9" in msg


def test_load_mnist_count_mismatch(tmp_path):
    write_mnist(tmp_path, **{MNIST_FILES[3]: np.arange(9) % 10})
    with pytest.raises(FormatError) as ei:
        load_mnist(tmp_path)
    msg = one_line(ei)
    assert "10 images" in msg and "9 labels" in msg


def test_load_mnist_labels_file_with_images(tmp_path):
    write_mnist(tmp_path, **{MNIST_FILES[1]: np.zeros((30, 2, 2))})
    with pytest.raises(FormatError) as ei:
        load_mnist(tmp_path)
    assert MNIST_FILES[1] in one_line(ei) and "0x00000801" in str(ei.value)


def test_load_mnist_missing_file(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / MNIST_FILES[2]).unlink()
    with pytest.raises(FormatError) as ei:
        load_mnist(tmp_path)
    assert MNIST_FILES[2] in one_line(ei) and "missing" in str(ei.value)


# -------------------------------------------------------------------------------- CIFAR-10


def test_cifar_batch_round_trip_and_layout(tmp_path):
    rng = np.random.default_rng(2)
    x = rand_images(rng, 4, (32, 32, 3))
    y = np.array([3, 0, 9, 1])
    write_cifar_batch(tmp_path / "b.bin", x, y)
    buf = (tmp_path / "b.bin").read_bytes()
    assert len(buf) == 4 * 3073
    # official layout: label, then the R plane, G plane, B plane, each row-major
    rec = np.frombuffer(buf[3073 : 2 * 3073], np.uint8)
    assert rec[0] == 0
    assert rec[1] == x[1, 0, 0, 0] and rec[2] == x[1, 0, 1, 0] and rec[33] == x[1, 1, 0, 0]
    assert rec[1 + 1024] == x[1, 0, 0, 1] and rec[1 + 2048 + 5] == x[1, 0, 5, 2]
    images, labels = parse_cifar_batch(buf, "b.bin")
    np.testing.assert_array_equal(images, x)
    np.testing.assert_array_equal(labels, y)
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and images.flags.c_contiguous


@pytest.mark.parametrize("size", [3072, 3074, 2 * 3073 + 1, 0])
def test_cifar_wrong_record_size(size):
    with pytest.raises(FormatError) as ei:
        parse_cifar_batch(b"\x01" * size, "data_batch_1.bin")
    msg = one_line(ei)
    assert "data_batch_1.bin" in msg and f"{size:,} bytes" in msg and "3,073" in msg


def test_cifar_label_out_of_range():
    buf = bytearray(cifar_batch_bytes(np.zeros((5, 32, 32, 3), np.uint8), [0, 1, 2, 3, 4]))
    buf[3 * 3073] = 12
    with pytest.raises(FormatError) as ei:
        parse_cifar_batch(bytes(buf), "test_batch.bin")
    msg = one_line(ei)
    assert "test_batch.bin" in msg and "record 3" in msg and "label 12" in msg


def small_cifar(rng, n=20):
    y = np.arange(n) % 10
    return rand_images(rng, n, (32, 32, 3)), y


def test_read_cifar_tar_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    train = [small_cifar(rng) for _ in range(5)]
    test = small_cifar(rng, 10)
    tar = write_cifar_tar(tmp_path / "c.tar.gz", train, test)
    out = read_cifar_binary_tar(tar, tmp_path / "work")
    assert out["x_train"].shape == (100, 32, 32, 3) and out["x_test"].shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(out["x_train"][20:40], train[1][0])
    np.testing.assert_array_equal(out["y_train"], np.concatenate([t[1] for t in train]))
    np.testing.assert_array_equal(out["y_test"], test[1])
    assert out["y_train"].dtype == np.int64
    assert out["label_names"][0] == "airplane" and out["label_names"][9] == "truck"
    assert read_cifar_binary_tar(tar, records_per_batch=None)["x_test"].shape[0] == 10
    with pytest.raises(FormatError, match="20 records, expected 10000"):
        read_cifar_binary_tar(tar, records_per_batch=10000)


def members_from(train, test):
    m = {
        f"cifar-10-batches-bin/data_batch_{i}.bin": cifar_batch_bytes(*b)
        for i, b in enumerate(train, 1)
    }
    m["cifar-10-batches-bin/test_batch.bin"] = cifar_batch_bytes(*test)
    return m


def test_read_cifar_tar_missing_batch(tmp_path):
    rng = np.random.default_rng(4)
    m = members_from([small_cifar(rng) for _ in range(5)], small_cifar(rng))
    del m["cifar-10-batches-bin/data_batch_4.bin"]
    tar = write_tar_gz(tmp_path / "c.tar.gz", m)
    with pytest.raises(FormatError) as ei:
        read_cifar_binary_tar(tar)
    msg = one_line(ei)
    assert "c.tar.gz" in msg and "data_batch_4.bin" in msg and "missing" in msg


def test_read_cifar_tar_unequal_batches(tmp_path):
    rng = np.random.default_rng(5)
    m = members_from([small_cifar(rng, 20 if i else 10) for i in range(5)], small_cifar(rng))
    with pytest.raises(FormatError) as ei:
        read_cifar_binary_tar(write_tar_gz(tmp_path / "c.tar.gz", m))
    assert "data_batch_1.bin=10" in one_line(ei)


def test_read_cifar_tar_bad_label_names_record_and_member(tmp_path):
    rng = np.random.default_rng(6)
    m = members_from([small_cifar(rng) for _ in range(5)], small_cifar(rng))
    buf = bytearray(m["cifar-10-batches-bin/data_batch_2.bin"])
    buf[7 * 3073] = 200
    m["cifar-10-batches-bin/data_batch_2.bin"] = bytes(buf)
    with pytest.raises(FormatError) as ei:
        read_cifar_binary_tar(write_tar_gz(tmp_path / "c.tar.gz", m))
    msg = one_line(ei)
    assert "data_batch_2.bin" in msg and "record 7" in msg and "label 200" in msg


def test_read_cifar_tar_unsafe_member(tmp_path):
    rng = np.random.default_rng(7)
    m = members_from([small_cifar(rng) for _ in range(5)], small_cifar(rng))
    m["../evil.txt"] = b"x"
    with pytest.raises(UnsafeArchiveError) as ei:
        read_cifar_binary_tar(
            write_tar_gz(tmp_path / "c.tar.gz", m, add_dirs=False), tmp_path / "work"
        )
    assert "../evil.txt" in one_line(ei)
    assert not (tmp_path / "evil.txt").exists()


def test_read_cifar_tar_not_an_archive(tmp_path):
    p = tmp_path / "cifar-10-binary.tar.gz"
    p.write_bytes(b"<html>not found</html>")
    with pytest.raises(FormatError) as ei:
        read_cifar_binary_tar(p)
    assert "cifar-10-binary.tar.gz" in one_line(ei)
    q = tmp_path / "trunc.tar.gz"
    rng = np.random.default_rng(8)
    write_tar_gz(q, members_from([small_cifar(rng) for _ in range(5)], small_cifar(rng)))
    q.write_bytes(q.read_bytes()[:-20000])
    with pytest.raises(FormatError) as ei:
        read_cifar_binary_tar(q)
    assert "trunc.tar.gz" in one_line(ei)


# ------------------------------------------------------------------------ synthetic mirror


def test_synthetic_mirror_is_deterministic_balanced_and_learnable(tmp_path):
    kw = dict(n_mnist_train=200, n_mnist_test=100, n_cifar_per_batch=40, n_cifar_test=100)
    make_synthetic_mirror(tmp_path / "a", seed=0, **kw)
    make_synthetic_mirror(tmp_path / "b", seed=0, **kw)
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert [str(f) for f in files] == [
        "cifar-10/SHA256SUMS",
        "cifar-10/cifar-10-binary.tar.gz",
        "mnist/SHA256SUMS",
        *[f"mnist/{n}" for n in sorted(MNIST_FILES)],
    ]
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    mnist = load_mnist(tmp_path / "a" / "mnist")
    cifar = read_cifar_binary_tar(tmp_path / "a" / "cifar-10" / "cifar-10-binary.tar.gz")
    for d in (mnist, cifar):
        assert np.bincount(d["y_train"]).tolist() == [len(d["y_train"]) // 10] * 10
        assert np.bincount(d["y_test"]).tolist() == [len(d["y_test"]) // 10] * 10
        # nearest class mean beats chance (10 %) by far
        X = d["x_train"].reshape(len(d["x_train"]), -1).astype(float)
        Xt = d["x_test"].reshape(len(d["x_test"]), -1).astype(float)
        mu = np.stack([X[d["y_train"] == k].mean(0) for k in range(10)])
        pred = ((Xt[:, None, :] - mu[None]) ** 2).sum(-1).argmin(1)
        assert (pred == d["y_test"]).mean() > 0.5
    names = ["airplane", "automobile", "bird", "cat", "deer"]
    assert cifar["label_names"] == [*names, "dog", "frog", "horse", "ship", "truck"]
    with tarfile.open(tmp_path / "a" / "cifar-10" / "cifar-10-binary.tar.gz") as t:
        assert all(n.startswith("cifar-10-batches-bin") for n in t.getnames())
