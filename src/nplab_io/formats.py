"""Parsers for the raw dataset formats: pure functions on bytes plus thin file readers.

* IDX (MNIST): magic ``00 00 08 <ndim>``, dims as big-endian uint32, then uint8 data.
* CIFAR-10 binary batches: records of 3,073 bytes (label, 1024 R, 1024 G, 1024 B, row-major).

Every problem is a one-line :class:`~nplab_io.errors.FormatError` naming the file.
"""

from __future__ import annotations

import gzip
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np

from nplab_io import sources
from nplab_io.archive import iter_safe_members, member_name, open_tar
from nplab_io.errors import FormatError

__all__ = [
    "IDX_UINT8",
    "CIFAR_RECORD_BYTES",
    "CIFAR_MEMBER_DIR",
    "CIFAR_TRAIN_BATCHES",
    "CIFAR_TEST_BATCH",
    "CIFAR_META",
    "parse_idx",
    "read_gz",
    "read_idx_gz",
    "check_labels",
    "load_mnist",
    "parse_cifar_batch",
    "parse_cifar_meta",
    "read_cifar_binary_tar",
]

IDX_UINT8 = 0x08
CIFAR_RECORD_BYTES = 1 + 3 * 32 * 32  # 3,073
CIFAR_MEMBER_DIR = "cifar-10-batches-bin"
CIFAR_TRAIN_BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)]
CIFAR_TEST_BATCH = "test_batch.bin"
CIFAR_META = "batches.meta.txt"
NUM_CLASSES = 10


# ----------------------------------------------------------------------------- IDX (MNIST)


_IDX_KIND = {1: "labels", 3: "images"}


def parse_idx(buf: bytes, name: str = "IDX data", expected_ndim: int | None = None) -> np.ndarray:
    """Parse an uncompressed IDX file (uint8 data only) into a writeable uint8 array.

    ``expected_ndim`` (1 for labels, 3 for images) is checked against the magic number
    before the dimensions are read, so a labels file carrying the images magic says so
    (rather than reading image bytes as a nonsensical size).
    """
    view = memoryview(buf).cast("B")
    n = len(view)
    if n < 4:
        raise FormatError(
            f"{name}: not an IDX file: {n} bytes, shorter than the 4-byte magic "
            f"(expected 0x00000801 for labels or 0x00000803 for images)"
        )
    magic = int.from_bytes(view[:4], "big")
    if view[0] != 0 or view[1] != 0:
        raise FormatError(
            f"{name}: bad IDX magic 0x{magic:08x}: expected 0x000008NN "
            f"(two zero bytes, type 0x08, ndim), e.g. 0x00000801 for labels "
            f"or 0x00000803 for images"
        )
    dtype_code, ndim = view[2], view[3]
    if dtype_code != IDX_UINT8:
        raise FormatError(
            f"{name}: unsupported IDX data type 0x{dtype_code:02x} (magic "
            f"0x{magic:08x}): expected 0x08 (unsigned byte)"
        )
    if ndim == 0:
        raise FormatError(
            f"{name}: IDX magic 0x{magic:08x} declares 0 dimensions: expected "
            f"at least 1 (0x00000801 labels, 0x00000803 images)"
        )
    if expected_ndim is not None and ndim != expected_ndim:
        want = _IDX_KIND.get(expected_ndim, f"{expected_ndim}-d data")
        got = _IDX_KIND.get(ndim, f"{ndim}-d data")
        raise FormatError(
            f"{name}: IDX magic 0x{magic:08x} declares {got} ({ndim} dimension(s)): "
            f"expected {want}, magic 0x{0x800 | expected_ndim:08x}"
        )
    header = 4 + 4 * ndim
    if n < header:
        raise FormatError(
            f"{name}: truncated IDX header: {ndim} dimensions need {header} header bytes, found {n}"
        )
    dims = [int.from_bytes(view[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    need = 1
    for d in dims:
        need *= d
    found = n - header
    if found < need:
        raise FormatError(
            f"{name}: truncated IDX file: header promises {need} bytes of data, "
            f"found {found} (shape {tuple(dims)})"
        )
    if found > need:
        raise FormatError(
            f"{name}: {found - need} trailing bytes after the IDX data: header "
            f"promises {need} bytes of data (shape {tuple(dims)}), found {found}"
        )
    return np.frombuffer(view, dtype=np.uint8, count=need, offset=header).reshape(dims).copy()


def read_gz(path: str | os.PathLike) -> bytes:
    """The decompressed content of a gzip file; not gzip → FormatError."""
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        raise FormatError(f"{path}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{path}: not a valid gzip file ({exc})") from None


def read_idx_gz(path: str | os.PathLike, expected_ndim: int | None = None) -> np.ndarray:
    """Gunzip and parse an IDX file; optionally check its number of dimensions."""
    arr = parse_idx(read_gz(path), str(path), expected_ndim)
    if expected_ndim is not None and arr.ndim != expected_ndim:  # pragma: no cover - checked
        what = {1: "labels", 3: "images"}.get(expected_ndim, f"{expected_ndim}-d data")
        raise FormatError(
            f"{path}: expected IDX {what} with {expected_ndim} dimension(s) "
            f"(magic 0x0000080{expected_ndim}), got {arr.ndim} (shape "
            f"{arr.shape})"
        )
    return arr


def check_labels(labels: np.ndarray, name: str, num_classes: int = NUM_CLASSES) -> None:
    """Labels must lie in 0..num_classes-1; otherwise FormatError naming the first bad index."""
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        i = int(bad[0])
        raise FormatError(
            f"{name}: label {int(labels[i])} at index {i} is out of range "
            f"0-{num_classes - 1} ({bad.size} bad label(s))"
        )


def load_mnist(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load the four MNIST ``.gz`` files of ``directory``.

    Returns ``x_train (N,H,W) uint8, y_train (N,) int64, x_test, y_test``. Checks: images
    are 3-d and labels 1-d IDX, labels in 0-9, as many labels as images, same image size
    for train and test. Any size works (small synthetic files too).
    """
    d = Path(directory)
    entries = sources.get_dataset("mnist")["files"]
    out: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    for filename, entry in entries.items():
        path = d / filename
        if not path.is_file():
            raise FormatError(f"{path}: MNIST file missing (expected {', '.join(entries)} in {d})")
        split, kind = entry["split"], entry["kind"]
        try:
            if kind == "images":
                out[f"x_{split}"] = read_idx_gz(path, expected_ndim=3)
            else:
                labels = read_idx_gz(path, expected_ndim=1)
                check_labels(labels, str(path))
                out[f"y_{split}"] = labels.astype(np.int64)
        except FormatError as exc:
            raise FormatError(str(exc), files=[path]) from None
        paths[f"{kind}_{split}"] = path
    for split in ("train", "test"):
        n_img, n_lab = len(out[f"x_{split}"]), len(out[f"y_{split}"])
        if n_img != n_lab:
            raise FormatError(
                f"{paths['images_' + split]}: {n_img} images but "
                f"{paths['labels_' + split].name} has {n_lab} labels: expected "
                f"equal counts",
                files=[paths["images_" + split], paths["labels_" + split]],
            )
    if out["x_train"].shape[1:] != out["x_test"].shape[1:]:
        raise FormatError(
            f"{paths['images_test']}: image size {out['x_test'].shape[1:]} "
            f"differs from the training images' {out['x_train'].shape[1:]}",
            files=[paths["images_train"], paths["images_test"]],
        )
    return {k: out[k] for k in ("x_train", "y_train", "x_test", "y_test")}


# ----------------------------------------------------------------------- CIFAR-10 (binary)


def parse_cifar_batch(buf: bytes, name: str = "CIFAR-10 batch") -> tuple[np.ndarray, np.ndarray]:
    """Parse a CIFAR-10 binary batch into ``(images (N,32,32,3) uint8 HWC, labels (N,) int64)``."""
    n = len(buf)
    if n == 0 or n % CIFAR_RECORD_BYTES:
        raise FormatError(
            f"{name}: size {n:,} bytes is not a positive multiple of the 3,073-byte "
            f"CIFAR-10 record (1 label byte + 3,072 pixel bytes)"
        )
    records = np.frombuffer(buf, dtype=np.uint8).reshape(-1, CIFAR_RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        i = int(bad[0])
        raise FormatError(
            f"{name}: record {i} has label {int(labels[i])}, expected 0-9 "
            f"({bad.size} bad record(s))"
        )
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def parse_cifar_meta(buf: bytes, name: str = CIFAR_META) -> list[str]:
    """The class names of ``batches.meta.txt`` (one per line, blank lines ignored)."""
    try:
        text = bytes(buf).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{name}: not UTF-8 text ({exc})") from None
    names = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(names) != NUM_CLASSES:
        raise FormatError(
            f"{name}: expected {NUM_CLASSES} class names, one per line, found {len(names)}"
        )
    return names


def read_cifar_binary_tar(
    tar_path: str | os.PathLike,
    workdir: str | os.PathLike | None = None,
    *,
    records_per_batch: int | None = None,
) -> dict:
    """Read ``cifar-10-binary.tar.gz`` (the official binary layout) in one streaming pass.

    Every member name is validated (:func:`nplab_io.archive.iter_safe_members`: no absolute
    paths, ``..``, links or devices); the batches are read directly from the archive, so
    nothing is extracted and ``workdir`` is unused (accepted for API compatibility).
    Returns ``x_train (N,32,32,3) uint8, y_train (N,) int64, x_test, y_test, label_names``.
    All five training batches and the test batch must be present; the five training batches
    must have equal sizes (10,000 records each in the official file); ``records_per_batch``
    additionally pins every batch's size. Without ``batches.meta.txt`` the standard class
    names are used.
    """
    del workdir
    wanted = [f"{CIFAR_MEMBER_DIR}/{b}" for b in CIFAR_TRAIN_BATCHES + [CIFAR_TEST_BATCH]]
    meta_name = f"{CIFAR_MEMBER_DIR}/{CIFAR_META}"
    data: dict[str, bytes] = {}
    tar = open_tar(tar_path, stream=True)
    try:
        for member in iter_safe_members(tar, tar_path):
            name = member_name(member.name)
            if member.isfile() and (name in wanted or name == meta_name):
                if name in data:
                    raise FormatError(f"{tar_path}: archive member {name} appears twice")
                fh = tar.extractfile(member)
                data[name] = fh.read() if fh is not None else b""
                if len(data[name]) != member.size:
                    raise FormatError(
                        f"{tar_path}: archive member {name} is truncated "
                        f"({len(data[name])} of {member.size} bytes)"
                    )
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{tar_path}: corrupt tar.gz archive ({exc})") from None
    finally:
        tar.close()
    missing = [w for w in wanted if w not in data]
    if missing:
        raise FormatError(
            f"{tar_path}: missing CIFAR-10 batch(es) {', '.join(missing)}: "
            f"expected {CIFAR_MEMBER_DIR}/data_batch_1..5.bin and "
            f"{CIFAR_TEST_BATCH}"
        )
    parsed = {w: parse_cifar_batch(data.pop(w), f"{tar_path}:{w}") for w in wanted}
    sizes = {w: len(parsed[w][1]) for w in wanted}
    if records_per_batch is not None:
        for w, n in sizes.items():
            if n != records_per_batch:
                raise FormatError(f"{tar_path}:{w}: {n} records, expected {records_per_batch}")
    train_sizes = {sizes[w] for w in wanted[:5]}
    if len(train_sizes) != 1:
        detail = ", ".join(f"{w.rsplit('/', 1)[1]}={sizes[w]}" for w in wanted[:5])
        raise FormatError(
            f"{tar_path}: training batches differ in size ({detail}): expected "
            f"equal batches (10,000 records each in the official file)"
        )
    if meta_name in data:
        label_names = parse_cifar_meta(data[meta_name], f"{tar_path}:{meta_name}")
    else:
        label_names = list(sources.CIFAR10_CLASS_NAMES)
    return {
        "x_train": np.concatenate([parsed[w][0] for w in wanted[:5]]),
        "y_train": np.concatenate([parsed[w][1] for w in wanted[:5]]),
        "x_test": parsed[wanted[5]][0],
        "y_test": parsed[wanted[5]][1],
        "label_names": label_names,
    }
