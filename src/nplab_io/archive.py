"""Safe tar extraction: every member is validated before anything is written.

Rejected (one-line :class:`UnsafeArchiveError` naming the member): absolute paths (and
Windows drive/UNC forms), any ``..`` component, symlinks, hard links, device files, FIFOs
and anything else that is not a regular file or a directory. Extraction then uses
``tarfile``'s ``filter="data"`` as a second line of defence.
"""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from nplab_io.errors import FormatError, UnsafeArchiveError

__all__ = ["check_member", "member_name", "iter_safe_members", "safe_extract", "open_tar"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def member_name(name: str) -> str:
    """The normalised member name: leading ``./`` removed, trailing ``/`` removed."""
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def check_member(member: tarfile.TarInfo, source: str | os.PathLike = "archive") -> str:
    """Validate one member; return its normalised name or raise UnsafeArchiveError."""
    name = member.name

    def bad(why: str) -> UnsafeArchiveError:
        return UnsafeArchiveError(
            f"{source}: unsafe archive member {name!r}: {why}; nothing was extracted"
        )

    if not name or "\x00" in name:
        raise bad("empty name or NUL byte in the name")
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise bad("absolute path")
    parts = re.split(r"[/\\]", name)
    if ".." in parts:
        raise bad("'..' path component")
    if member.issym():
        raise bad(f"symbolic link (to {member.linkname!r})")
    if member.islnk():
        raise bad(f"hard link (to {member.linkname!r})")
    if member.ischr() or member.isblk():
        raise bad("device file")
    if member.isfifo():
        raise bad("FIFO")
    if not (member.isfile() or member.isdir()):
        raise bad("not a regular file or directory")
    normalised = member_name(name)
    if not normalised or normalised == ".":
        if member.isdir():
            return "."
        raise bad("empty name")
    return normalised


def iter_safe_members(
    tar: tarfile.TarFile, source: str | os.PathLike | None = None
) -> Iterator[tarfile.TarInfo]:
    """Yield the members of ``tar`` (in order), raising on the first unsafe one.

    Works on streamed archives (``mode="r|*"``) too: members are checked as they are read.
    """
    src = source if source is not None else (tar.name or "archive")
    for member in tar:
        check_member(member, src)
        yield member


def open_tar(tar_path: str | os.PathLike, stream: bool = False) -> tarfile.TarFile:
    """Open a (possibly compressed) tar archive; unreadable → FormatError."""
    try:
        return tarfile.open(tar_path, mode="r|*" if stream else "r:*")
    except FileNotFoundError:
        raise FormatError(f"{tar_path}: file not found (expected a tar archive)") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{tar_path}: not a readable tar archive ({exc})") from None


_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


def safe_extract(
    tar_path: str | os.PathLike, dest: str | os.PathLike, members: Iterable[str] | None = None
) -> list[Path]:
    """Extract ``tar_path`` (or only the named ``members``) into ``dest``; return the files.

    ALL members of the archive are validated first; if any is unsafe nothing is extracted.
    Files are extracted into a temp directory inside ``dest`` and then renamed into place,
    so an interrupted extraction leaves no partial file under a final name. A requested
    member that is missing → :class:`FormatError`.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    tar = open_tar(tar_path)
    try:
        try:
            all_members = tar.getmembers()
        except _READ_ERRORS as exc:
            raise FormatError(f"{tar_path}: corrupt tar archive ({exc})") from None
        checked = [(check_member(m, tar_path), m) for m in all_members]
        if members is None:
            selected = [m for _, m in checked]
        else:
            wanted = [member_name(n) for n in members]
            by_name = dict(checked)
            missing = [n for n in wanted if n not in by_name]
            if missing:
                raise FormatError(f"{tar_path}: missing archive member(s) {', '.join(missing)}")
            selected = [by_name[n] for n in wanted]
        tmp = Path(tempfile.mkdtemp(dir=dest, prefix=".extract.", suffix=".tmp"))
        try:
            try:
                tar.extractall(tmp, members=selected, filter="data")
            except tarfile.FilterError as exc:
                raise UnsafeArchiveError(
                    f"{tar_path}: unsafe archive member ({exc}); nothing was kept"
                ) from None
            except _READ_ERRORS as exc:
                raise FormatError(f"{tar_path}: corrupt tar archive ({exc})") from None
            out: list[Path] = []
            for m in selected:
                name = member_name(m.name)
                if m.isdir():
                    (dest / name).mkdir(parents=True, exist_ok=True)
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / name, target)
                out.append(target)
            return out
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        tar.close()
