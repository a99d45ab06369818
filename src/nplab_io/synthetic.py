"""Writers of small datasets in the REAL file formats, for tests and an offline self-test.

``make_synthetic_mirror(root)`` lays out a mirror like ``../shared/datasets``::

    root/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz  + SHA256SUMS
    root/cifar-10/cifar-10-binary.tar.gz                          + SHA256SUMS

Images are simple but class-dependent (a tiny classifier beats chance easily); labels are
balanced over the 10 classes when the counts are multiples of 10. All output bytes are a
deterministic function of the arguments (gzip/tar timestamps fixed).
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import numpy as np

from nplab_io import sources
from nplab_io.atomic import atomic_write, write_bytes_atomic, write_text_atomic
from nplab_io.checksums import sha256sums_for
from nplab_io.formats import CIFAR_MEMBER_DIR, CIFAR_META, CIFAR_TEST_BATCH, CIFAR_TRAIN_BATCHES

__all__ = [
    "idx_bytes",
    "write_idx",
    "cifar_batch_bytes",
    "write_cifar_batch",
    "write_tar_gz",
    "write_cifar_tar",
    "write_sha256sums",
    "balanced_labels",
    "mnist_like",
    "cifar_like",
    "make_synthetic_mirror",
]


def idx_bytes(array: np.ndarray) -> bytes:
    """The uncompressed IDX encoding of a uint8 array."""
    arr = np.asarray(array)
    if arr.dtype != np.uint8:
        raise ValueError(f"idx_bytes: expected a uint8 array, got {arr.dtype}")
    if not 1 <= arr.ndim <= 255:
        raise ValueError(f"idx_bytes: expected 1-255 dimensions, got {arr.ndim}")
    header = bytes([0, 0, 0x08, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(arr).tobytes()


def write_idx(
    path_gz: str | os.PathLike, array: np.ndarray, *, mtime: int = 0, compresslevel: int = 9
) -> Path:
    """Write ``array`` (uint8) as a gzipped IDX file (gzip header timestamp ``mtime``)."""
    data = gzip.compress(idx_bytes(array), compresslevel=compresslevel, mtime=mtime)
    write_bytes_atomic(path_gz, data)
    return Path(path_gz)


def cifar_batch_bytes(images: np.ndarray, labels) -> bytes:
    """CIFAR-10 binary records for images ``(N,32,32,3)`` uint8 (HWC) and labels ``(N,)``."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8 or images.shape[1:] != (32, 32, 3):
        raise ValueError(
            f"cifar_batch_bytes: expected uint8 images (N,32,32,3), got "
            f"{images.dtype} {images.shape}"
        )
    if labels.shape != (len(images),) or labels.min(initial=0) < 0 or labels.max(initial=0) > 255:
        raise ValueError("cifar_batch_bytes: expected one label byte (0-255) per image")
    chw = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    records = np.concatenate([labels.astype(np.uint8)[:, None], chw], axis=1)
    return records.tobytes()


def write_cifar_batch(path: str | os.PathLike, images: np.ndarray, labels) -> Path:
    write_bytes_atomic(path, cifar_batch_bytes(images, labels))
    return Path(path)


def write_tar_gz(
    path: str | os.PathLike, members: dict[str, bytes], *, mtime: int = 0, add_dirs: bool = True
) -> Path:
    """A deterministic ``.tar.gz`` of regular files ``{name: content}`` (order kept), each
    preceded by a member for its parent directory when ``add_dirs``."""
    with (
        atomic_write(path, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=mtime, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        dirs_done = set()
        for name, content in members.items():
            parent = name.rsplit("/", 1)[0] if "/" in name else ""
            if add_dirs and parent and parent not in dirs_done:
                d = tarfile.TarInfo(parent)
                d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, mtime
                tar.addfile(d)
                dirs_done.add(parent)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, mtime
            tar.addfile(info, io.BytesIO(content))
    return Path(path)


def write_cifar_tar(
    path: str | os.PathLike,
    train: list[tuple[np.ndarray, np.ndarray]],
    test: tuple[np.ndarray, np.ndarray],
    label_names: list[str] | None = None,
) -> Path:
    """``cifar-10-binary.tar.gz`` in the official layout from 5 train batches and a test batch."""
    if len(train) != 5:
        raise ValueError(f"write_cifar_tar: expected 5 training batches, got {len(train)}")
    names = label_names if label_names is not None else sources.CIFAR10_CLASS_NAMES
    members = {f"{CIFAR_MEMBER_DIR}/{CIFAR_META}": ("\n".join(names) + "\n\n").encode()}
    for fname, (x, y) in zip(CIFAR_TRAIN_BATCHES, train):
        members[f"{CIFAR_MEMBER_DIR}/{fname}"] = cifar_batch_bytes(x, y)
    members[f"{CIFAR_MEMBER_DIR}/{CIFAR_TEST_BATCH}"] = cifar_batch_bytes(*test)
    return write_tar_gz(path, members)


def write_sha256sums(directory: str | os.PathLike, names=None) -> Path:
    """Write ``directory/SHA256SUMS`` for ``names`` (default: every file but SHA256SUMS)."""
    d = Path(directory)
    if names is None:
        names = sorted(
            p.name
            for p in d.iterdir()
            if p.is_file() and p.name != "SHA256SUMS" and not p.name.startswith(".")
        )
    write_text_atomic(d / "SHA256SUMS", sha256sums_for(d, names))
    return d / "SHA256SUMS"


def balanced_labels(n: int, rng: np.random.Generator, num_classes: int = 10) -> np.ndarray:
    """``n`` labels, each class ``n // num_classes`` (+1 for the first ``n % 10``), shuffled."""
    return rng.permutation(np.arange(n) % num_classes).astype(np.int64)


def mnist_like(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """28x28 uint8 images: class k is a bright bar (rows 2k+2..2k+6) with jitter and noise."""
    n = len(labels)
    imgs = np.zeros((n, 28, 28), dtype=np.float64)
    shifts = rng.integers(-1, 2, size=(n, 2))
    for i, (k, (dy, dx)) in enumerate(zip(labels, shifts)):
        r0 = 2 + 2 * int(k) + dy
        c0 = 4 + 2 * (int(k) % 3) + dx
        imgs[i, r0 : r0 + 5, c0 : c0 + 16] = 220.0
    imgs += rng.normal(0.0, 25.0, size=imgs.shape)
    return np.clip(np.rint(imgs), 0, 255).astype(np.uint8)


_PALETTE = np.array(
    [
        [200, 60, 60],
        [60, 200, 60],
        [60, 60, 200],
        [200, 200, 60],
        [200, 60, 200],
        [60, 200, 200],
        [230, 140, 40],
        [120, 120, 120],
        [40, 100, 160],
        [160, 100, 40],
    ],
    dtype=np.float64,
)


def cifar_like(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """32x32x3 uint8 images: class colour plus a class-dependent gradient, plus noise."""
    n = len(labels)
    ramp = np.linspace(-40.0, 40.0, 32)
    out = np.empty((n, 32, 32, 3), dtype=np.float64)
    for i, k in enumerate(labels):
        k = int(k)
        grad = ramp[None, :] if k % 2 == 0 else ramp[:, None]
        out[i] = _PALETTE[k][None, None, :] + (grad * (1 if k < 5 else -1))[..., None]
    out += rng.normal(0.0, 30.0, size=out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def make_synthetic_mirror(
    root: str | os.PathLike,
    n_mnist_train: int = 3000,
    n_mnist_test: int = 600,
    n_cifar_per_batch: int = 500,
    n_cifar_test: int = 300,
    seed: int = 0,
) -> dict[str, Path]:
    """Write a small MNIST + CIFAR-10 mirror under ``root`` (see the module doc).

    The defaults cover ``config/quick.yaml`` (2,000 MNIST train / 500 test images; 2,200
    CIFAR training and 200 test images). Returns ``{"mnist": dir, "cifar10": dir}``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    mnist_dir = root / "mnist"
    for split, n in (("train", n_mnist_train), ("t10k", n_mnist_test)):
        y = balanced_labels(n, rng)
        x = mnist_like(y, rng)
        write_idx(mnist_dir / f"{split}-images-idx3-ubyte.gz", x)
        write_idx(mnist_dir / f"{split}-labels-idx1-ubyte.gz", y.astype(np.uint8))
    write_sha256sums(mnist_dir, sources.filenames("mnist"))

    cifar_dir = root / "cifar-10"
    train = []
    for _ in range(5):
        y = balanced_labels(n_cifar_per_batch, rng)
        train.append((cifar_like(y, rng), y))
    y_test = balanced_labels(n_cifar_test, rng)
    write_cifar_tar(cifar_dir / "cifar-10-binary.tar.gz", train, (cifar_like(y_test, rng), y_test))
    write_sha256sums(cifar_dir, sources.filenames("cifar10"))
    return {"mnist": mnist_dir, "cifar10": cifar_dir}
