"""Atomic writes: temp file in the same directory, renamed only on success."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nplab_io.atomic import (
    atomic_path,
    atomic_write,
    save_npz_atomic,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def leftovers(d):
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))


def test_write_bytes_and_text(tmp_path):
    write_bytes_atomic(tmp_path / "sub" / "a.bin", b"\x00\x01")
    write_text_atomic(tmp_path / "b.txt", "héllo\n")
    assert (tmp_path / "sub" / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "b.txt").read_bytes() == "héllo\n".encode()
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "sub") == []


def test_temp_file_is_hidden_in_same_dir_and_renamed(tmp_path):
    target = tmp_path / "out.dat"
    with atomic_write(target) as fh:
        fh.write(b"data")
        names = [p.name for p in tmp_path.iterdir()]
        assert len(names) == 1
        assert names[0].startswith(".out.dat.") and names[0].endswith(".tmp")
        assert fh.name == str(tmp_path / names[0])
        assert not target.exists()
    assert target.read_bytes() == b"data"
    assert leftovers(tmp_path) == []


def test_exception_leaves_target_untouched(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as fh:
        fh.write("new half-written")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert leftovers(tmp_path) == []


def test_exception_creates_nothing(tmp_path):
    with pytest.raises(KeyError), atomic_path(tmp_path / "x.bin") as tmp:
        tmp.write_bytes(b"x")
        raise KeyError("x")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_renames(tmp_path):
    with atomic_path(tmp_path / "y.bin") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".tmp")
        tmp.write_bytes(b"y")
    assert (tmp_path / "y.bin").read_bytes() == b"y" and leftovers(tmp_path) == []


def test_json_sorted_indented_trailing_newline(tmp_path):
    p = tmp_path / "a.json"
    write_json_atomic(p, {"b": 1, "a": [np.int64(2), np.float32(0.5)], "c": np.arange(2)})
    text = p.read_text()
    assert text == (
        '{\n  "a": [\n    2,\n    0.5\n  ],\n  "b": 1,\n  "c": [\n    0,\n    1\n  ]\n}\n'
    )
    assert json.loads(text)["b"] == 1


def test_json_rejects_nan_and_writes_nothing(tmp_path):
    p = tmp_path / "bad.json"
    with pytest.raises(ValueError):
        write_json_atomic(p, {"x": float("nan")})
    assert not p.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("compressed", [True, False])
def test_npz_round_trip_no_suffix_added_and_deterministic(tmp_path, compressed):
    arrays = {
        "x": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "y": np.array([1, 2], np.int64),
        "names": np.array(["cat", "dog"]),
    }
    p1, p2 = tmp_path / "one.data", tmp_path / "two.data"
    save_npz_atomic(p1, compressed=compressed, **arrays)
    save_npz_atomic(p2, compressed=compressed, **arrays)
    assert sorted(q.name for q in tmp_path.iterdir()) == ["one.data", "two.data"]
    assert p1.read_bytes() == p2.read_bytes()  # no timestamps inside
    with np.load(p1) as z:
        assert set(z.files) == set(arrays)
        for k, v in arrays.items():
            np.testing.assert_array_equal(z[k], v)
            assert z[k].dtype == v.dtype


def test_npz_failure_leaves_nothing(tmp_path):
    p = tmp_path / "obj.npz"
    with pytest.raises(ValueError):
        save_npz_atomic(p, bad=np.array([{"a": 1}], dtype=object))
    assert list(tmp_path.iterdir()) == []
