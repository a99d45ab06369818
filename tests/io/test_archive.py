"""Safe tar extraction: unsafe members are rejected before anything is extracted."""

from __future__ import annotations

import io
import tarfile

import pytest

from nplab_io.archive import iter_safe_members, safe_extract
from nplab_io.errors import FormatError, UnsafeArchiveError


def make_tar(path, entries):
    """entries: list of (name, kind, payload) with kind file/dir/sym/lnk/chr/fifo."""
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "sym": tarfile.SYMTYPE,
                "lnk": tarfile.LNKTYPE,
                "chr": tarfile.CHRTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[kind]
            if kind in ("sym", "lnk"):
                info.linkname = payload
            tar.addfile(info)
    return path


GOOD = [("pkg", "dir", None), ("pkg/a.txt", "file", b"A"), ("pkg/sub/b.bin", "file", b"BB")]


def test_extract_good_archive(tmp_path):
    tar = make_tar(tmp_path / "ok.tar.gz", GOOD)
    out = safe_extract(tar, tmp_path / "dest")
    assert sorted(p.relative_to(tmp_path / "dest").as_posix() for p in out) == [
        "pkg/a.txt",
        "pkg/sub/b.bin",
    ]
    assert (tmp_path / "dest" / "pkg" / "sub" / "b.bin").read_bytes() == b"BB"
    assert not [p for p in (tmp_path / "dest").iterdir() if p.name.startswith(".")]


def test_extract_selected_members(tmp_path):
    tar = make_tar(tmp_path / "ok.tar.gz", GOOD)
    out = safe_extract(tar, tmp_path / "dest", members=["./pkg/sub/b.bin"])
    assert [p.name for p in out] == ["b.bin"]
    assert not (tmp_path / "dest" / "pkg" / "a.txt").exists()
    with pytest.raises(FormatError, match="missing archive member"):
        safe_extract(tar, tmp_path / "dest2", members=["pkg/nope.bin"])


@pytest.mark.parametrize(
    "entry,why",
    [
        (("pkg/../../escape.txt", "file", b"x"), "'..'"),
        (("../escape.txt", "file", b"x"), "'..'"),
        (("/tmp/abs_escape.txt", "file", b"x"), "absolute path"),
        (("pkg/link", "sym", "/etc/passwd"), "symbolic link"),
        (("pkg/hard", "lnk", "pkg/a.txt"), "hard link"),
        (("pkg/dev", "chr", None), "device file"),
        (("pkg/fifo", "fifo", None), "FIFO"),
    ],
    ids=["dotdot-inner", "dotdot", "absolute", "symlink", "hardlink", "device", "fifo"],
)
def test_unsafe_member_rejected_and_nothing_extracted(tmp_path, entry, why):
    tar = make_tar(tmp_path / "bad.tar.gz", GOOD + [entry, ("pkg/z.txt", "file", b"Z")])
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError) as ei:
        safe_extract(tar, dest)
    msg = str(ei.value)
    assert "\n" not in msg and entry[0] in msg and why in msg and "bad.tar.gz" in msg
    # validated before extraction: not even the good members came out
    assert not dest.exists() or list(dest.rglob("*")) == []
    assert not (tmp_path / "escape.txt").exists()


def test_iter_safe_members(tmp_path):
    tar_path = make_tar(tmp_path / "ok.tar.gz", GOOD)
    with tarfile.open(tar_path) as tar:
        assert [m.name for m in iter_safe_members(tar)] == ["pkg", "pkg/a.txt", "pkg/sub/b.bin"]
    bad = make_tar(tmp_path / "bad.tar.gz", [("ok.txt", "file", b""), ("../x", "file", b"")])
    with tarfile.open(bad, "r|gz") as tar:
        it = iter_safe_members(tar, "bad.tar.gz")
        assert next(it).name == "ok.txt"
        with pytest.raises(UnsafeArchiveError, match=r"bad.tar.gz: unsafe archive member '\.\./x'"):
            next(it)


def test_not_an_archive(tmp_path):
    p = tmp_path / "x.tar.gz"
    p.write_bytes(b"nope")
    with pytest.raises(FormatError) as ei:
        safe_extract(p, tmp_path / "d")
    assert "x.tar.gz" in str(ei.value) and "\n" not in str(ei.value)
