"""Atomic file writes: a temp file in the target's directory, fsync, then ``os.replace``.

On any exception inside the ``with`` block the temp file is removed and the target is left
untouched, so a reader never sees a half-written file under the final name. Temp files are
named ``.<target name>.<random>.tmp``; a process killed with SIGKILL cannot remove its temp
file, so :func:`sweep_stale_temps` removes them when the job that writes the target starts
again (``nplab_io.jobs.run_job`` does, for every declared output). A write that fails with an
``OSError`` that names no file (e.g. ``EFBIG`` at the file-size limit, ``ENOSPC``) is re-raised
naming the target.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = [
    "atomic_write",
    "atomic_path",
    "write_bytes_atomic",
    "write_text_atomic",
    "write_json_atomic",
    "read_json",
    "save_npz_atomic",
    "sweep_stale_temps",
    "TEMP_SUFFIX",
]

TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quiet(path: str | os.PathLike) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)


def _temp_pattern(name: str) -> re.Pattern:
    # mkstemp's random part: letters, digits, underscore (no dots), so the pattern of
    # "a" never matches the temp files of "a.b"
    return re.compile(r"\." + re.escape(name) + r"\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$")


def sweep_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temp files an interrupted atomic write of ``path`` left behind.

    Only ``.<name>.<random>.tmp`` files next to ``path`` (the names :func:`atomic_write`
    and :func:`atomic_path` use) are removed; the caller must make sure no other process
    is writing ``path`` right now (``run_job`` holds the job's lock). Returns the removed
    paths.
    """
    target = Path(path)
    try:
        entries = list(os.scandir(target.parent))
    except (FileNotFoundError, NotADirectoryError):
        return []
    pattern = _temp_pattern(target.name)
    removed = []
    for entry in entries:
        if pattern.match(entry.name) and entry.is_file(follow_symlinks=False):
            _unlink_quiet(entry.path)
            removed.append(Path(entry.path))
    return removed


def _name_target(exc: BaseException, target: Path) -> BaseException:
    """An OSError without a file name (EFBIG, ENOSPC, EDQUOT, EIO ...) naming ``target``."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename is None:
        new = type(exc)(exc.errno, exc.strerror or os.strerror(exc.errno), str(target))
        return new
    return exc


def _temp_next_to(target: Path) -> str:
    """A new, empty temp file in ``target``'s folder (created if missing)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    return tmp


@contextmanager
def _renamed_onto(tmp: str, target: Path) -> Iterator[None]:
    """When the block (which writes and fsyncs ``tmp``) succeeds, rename ``tmp`` onto
    ``target``; on any exception remove ``tmp`` and name ``target`` in a nameless OSError."""
    try:
        yield
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException as exc:
        _unlink_quiet(tmp)
        named = _name_target(exc, target)
        if named is not exc:
            raise named from None
        raise
    _fsync_dir(target.parent)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path next to ``path``; on success it is fsynced and renamed onto it.

    For writers that want a file *name*. The temp file exists (empty) when the block starts.
    """
    target = Path(path)
    tmp = _temp_next_to(target)
    with _renamed_onto(tmp, target):
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())


@contextmanager
def atomic_write(
    path: str | os.PathLike,
    mode: str = "wb",
    *,
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a temp file next to ``path`` for writing; rename it onto ``path`` on success.

    ``mode`` is ``"wb"`` or ``"w"`` (text, UTF-8 unless ``encoding`` is given). The yielded
    file object's ``.name`` is the temp path (useful to verify the data before the rename).
    On any exception the temp file is removed and ``path`` is untouched.
    """
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    tmp = _temp_next_to(target)
    try:
        # Opened by name (not fdopen) so that ``fh.name`` is the temp path.
        if "b" in mode:
            fh = open(tmp, "wb")
        else:
            fh = open(tmp, "w", encoding=encoding or "utf-8", newline=newline)
    except BaseException:
        _unlink_quiet(tmp)
        raise
    with _renamed_onto(tmp, target), fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as fh:
        fh.write(data)


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    with atomic_write(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def read_json(path: str | os.PathLike) -> Any:
    """The JSON document in ``path`` (UTF-8): the reading side of :func:`write_json_atomic`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """JSON with sorted keys, indent 2, a trailing newline; NaN/inf are rejected.

    NumPy scalars/arrays and paths are converted (``.item()``, ``.tolist()``, ``str``).
    """
    text = json.dumps(obj, sort_keys=True, indent=2, allow_nan=False, default=_json_default)
    write_text_atomic(path, text + "\n")


# Fixed zip entry timestamp: np.savez stamps entries with the current time, which would
# make identical arrays give different bytes (and different sha256 in provenance).
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _write_npz(fh: IO[bytes], arrays: dict[str, Any], compressed: bool) -> None:
    compression = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(fh, mode="w", compression=compression, allowZip64=True) as zf:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_DATE)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def save_npz_atomic(path: str | os.PathLike, compressed: bool = True, **arrays: Any) -> None:
    """Save ``arrays`` as an ``.npz`` (readable by ``np.load``) atomically at ``path``.

    Same layout as ``np.savez_compressed``/``np.savez`` (``compressed=False``) but with fixed
    zip timestamps, so the same arrays always give the same bytes. The file is written
    through a file object, so ``path`` is used as given (no ``.npz`` is appended).
    Object arrays are refused (they would need pickle to load).
    """
    if not arrays:
        raise ValueError(f"{path}: save_npz_atomic needs at least one array")
    with atomic_write(path, "wb") as fh:
        _write_npz(fh, arrays, compressed)
