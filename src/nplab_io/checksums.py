"""Streaming checksums and the ``SHA256SUMS`` manifest format."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import zlib
from pathlib import Path

from nplab_io.errors import FormatError

__all__ = [
    "CHUNK",
    "new_hash",
    "hash_file",
    "sha256_file",
    "md5_file",
    "md5_gunzip",
    "parse_sha256sums",
    "format_sha256sums",
    "sha256sums_for",
]

CHUNK = 1 << 20


def new_hash(name: str):
    """A hashlib object; md5 is flagged as not used for security (FIPS builds)."""
    if name == "md5":
        return hashlib.md5(usedforsecurity=False)
    return hashlib.new(name)


def hash_file(path: str | os.PathLike, *algorithms: str) -> dict[str, str]:
    """Hex digests of ``path`` for each algorithm, in one streaming pass."""
    algorithms = algorithms or ("sha256",)
    hashes = {a: new_hash(a) for a in algorithms}
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            for h in hashes.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashes.items()}


def sha256_file(path: str | os.PathLike) -> str:
    return hash_file(path, "sha256")["sha256"]


def md5_file(path: str | os.PathLike) -> str:
    return hash_file(path, "md5")["md5"]


def md5_gunzip(path: str | os.PathLike, name: str | None = None) -> str:
    """md5 of the decompressed payload of a gzip file, streaming.

    This is what the official MNIST checksums cover, so a re-gzipped copy (other header
    timestamp or compression level) still verifies. Not gzip → :class:`FormatError`.
    """
    h = new_hash("md5")
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                h.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise FormatError(f"{name or path}: not a valid gzip file ({exc})") from None
    return h.hexdigest()


_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def parse_sha256sums(text: str, source: str | os.PathLike = "SHA256SUMS") -> dict[str, str]:
    """Parse ``sha256sum`` output: ``<64 hex>  <name>`` or ``<64 hex> *<name>`` per line.

    Blank lines and ``#`` comments are ignored; a leading ``./`` in a name is dropped.
    Returns ``{filename: lowercase hex}``. A malformed line or a file listed twice with
    different digests → :class:`FormatError` naming the line.
    """
    out: dict[str, str] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line.strip())
        if not m:
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise FormatError(
                f"{source}: line {lineno}: expected '<64 hex digits>  <filename>', got {shown!r}"
            )
        digest, name = m.group(1).lower(), m.group(2).strip()
        if name.startswith("./"):
            name = name[2:]
        if name in out and out[name] != digest:
            raise FormatError(
                f"{source}: line {lineno}: {name} is listed twice with different "
                f"digests ({out[name]} and {digest})"
            )
        out[name] = digest
    return out


def format_sha256sums(digests: dict[str, str]) -> str:
    """The ``SHA256SUMS`` text for ``{filename: hex}`` (sorted by name)."""
    return "".join(f"{digests[n]}  {n}\n" for n in sorted(digests))


def sha256sums_for(directory: str | os.PathLike, names) -> str:
    d = Path(directory)
    return format_sha256sums({n: sha256_file(d / n) for n in names})
