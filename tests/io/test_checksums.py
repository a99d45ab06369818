"""Checksums: streaming hashes, md5 of a gzip payload, SHA256SUMS parsing."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from nplab_io.checksums import (
    format_sha256sums,
    md5_file,
    md5_gunzip,
    parse_sha256sums,
    sha256_file,
)
from nplab_io.errors import FormatError

PAYLOAD = bytes(range(256)) * 5000  # > 1 MiB: several chunks


def test_file_hashes(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(PAYLOAD)
    assert sha256_file(p) == hashlib.sha256(PAYLOAD).hexdigest()
    assert md5_file(p) == hashlib.md5(PAYLOAD).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_md5_gunzip_ignores_gzip_header(tmp_path):
    a, b = tmp_path / "a.gz", tmp_path / "b.gz"
    a.write_bytes(gzip.compress(PAYLOAD, mtime=0))
    b.write_bytes(gzip.compress(PAYLOAD, mtime=123456789, compresslevel=1))
    assert md5_file(a) != md5_file(b)
    assert md5_gunzip(a) == md5_gunzip(b) == hashlib.md5(PAYLOAD).hexdigest()


@pytest.mark.parametrize(
    "content",
    [b"plain text, not gzip", gzip.compress(PAYLOAD)[:5000]],
    ids=["not-gzip", "truncated-gzip"],
)
def test_md5_gunzip_bad_gzip_is_one_line(tmp_path, content):
    p = tmp_path / "x.gz"
    p.write_bytes(content)
    with pytest.raises(FormatError) as ei:
        md5_gunzip(p)
    msg = str(ei.value)
    assert "x.gz" in msg and "gzip" in msg and "\n" not in msg


def test_parse_sha256sums_formats():
    h1, h2 = "a" * 64, "0123456789ABCDEF" * 4
    text = f"{h1}  one.gz\n\n{h2} *two.tar.gz\r\n# comment\n{h1}  ./three name.bin\n"
    assert parse_sha256sums(text) == {"one.gz": h1, "two.tar.gz": h2.lower(), "three name.bin": h1}
    assert parse_sha256sums(format_sha256sums({"b": h1, "a": h2})) == {"a": h2.lower(), "b": h1}
    assert parse_sha256sums("") == {}


@pytest.mark.parametrize(
    "line",
    [
        "abc  file.gz",
        "a" * 64 + "file.gz",
        "a" * 63 + "  f.gz",
        "g" * 64 + "  f.gz",
        "a" * 64 + "  ",
    ],
)
def test_parse_sha256sums_malformed(line):
    with pytest.raises(FormatError) as ei:
        parse_sha256sums("b" * 64 + "  ok.gz\n" + line + "\n", source="mirror/SHA256SUMS")
    msg = str(ei.value)
    assert "mirror/SHA256SUMS" in msg and "line 2" in msg and "\n" not in msg


def test_parse_sha256sums_conflicting_duplicate():
    with pytest.raises(FormatError, match="twice"):
        parse_sha256sums(f"{'a' * 64}  f.gz\n{'b' * 64}  f.gz\n")
