"""Comparing two runs' results/ trees: byte-identical, or equal but for timing fields.

Used by the SLURM test (SLURM vs local run) and the determinism test (two local runs)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np

# Outputs that legitimately differ between two runs (timings, per-run logs).
VOLATILE_DIRS = {"logs", "benchmarks"}
# JSON keys / CSV columns ignored when two files differ in bytes (provenance/timing fields).
VOLATILE_JSON_KEY = re.compile(
    r"(^|_)(time|times|timing|timings|timestamp|date|datetime|elapsed|seconds|secs|duration|"
    r"wall|started|finished|created|written_at|host|hostname|node|pid|user|peak_rss_mb|"
    r"rss|speedup|ratio_to_baseline|s|ms|budget|fastest)($|_)",
    re.I,
)


def outputs(results: Path) -> dict[str, Path]:
    """Every file under results/ except logs and benchmarks, by relative path."""
    out = {}
    for p in sorted(results.rglob("*")):
        rel = p.relative_to(results)
        if p.is_file() and rel.parts[0] not in VOLATILE_DIRS:
            out[rel.as_posix()] = p
    return out


def strip_volatile(obj):
    if isinstance(obj, dict):
        return {
            k: strip_volatile(v) for k, v in obj.items() if not VOLATILE_JSON_KEY.search(str(k))
        }
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def has_volatile_keys(obj) -> bool:
    return isinstance(obj, dict) and any(VOLATILE_JSON_KEY.search(str(k)) for k in obj)


def csv_without_volatile_columns(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return rows
    keep = [i for i, h in enumerate(rows[0]) if not VOLATILE_JSON_KEY.search(h)]
    return [[r[i] for i in keep if i < len(r)] for r in rows]


def npz_equal(a: Path, b: Path) -> bool:
    """Same array names and, except for timing arrays (e.g. `seconds`), equal arrays."""
    with np.load(a, allow_pickle=False) as za, np.load(b, allow_pickle=False) as zb:
        if sorted(za.files) != sorted(zb.files):
            return False
        for k in za.files:
            if VOLATILE_JSON_KEY.search(k):
                continue
            x, y = za[k], zb[k]
            if x.dtype != y.dtype or x.shape != y.shape:
                return False
            if not np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
                return False
    return True


def compare_trees(a: dict[str, Path], b: dict[str, Path], skip=lambda rel: False):
    """(differ, timing_only, npz_metadata_only) over the files both trees share.

    A JSON file whose bytes differ is equal if it is equal without its volatile keys; a
    JSON evidence file that *has* volatile keys (timings) may also carry them in its prose
    `finding`, which is then ignored too. CSV: equal without volatile columns. NPZ: equal
    arrays (zip metadata only)."""
    differ, timing_only, npz_meta = [], [], []
    for rel, pa in a.items():
        pb = b[rel]
        if skip(rel) or pa.read_bytes() == pb.read_bytes():
            continue
        if rel.endswith(".npz") and npz_equal(pa, pb):
            npz_meta.append(rel)
        elif rel.endswith(".json"):
            ja, jb = json.loads(pa.read_text()), json.loads(pb.read_text())
            if has_volatile_keys(ja):
                ja = {k: v for k, v in ja.items() if k != "finding"}
                jb = {k: v for k, v in jb.items() if k != "finding"}
            if strip_volatile(ja) == strip_volatile(jb):
                timing_only.append(rel)
            else:
                differ.append(rel)
        elif rel.endswith(".csv") and (
            csv_without_volatile_columns(pa) == csv_without_volatile_columns(pb)
        ):
            timing_only.append(rel)
        else:
            differ.append(rel)
    return differ, timing_only, npz_meta


def json_numbers(value) -> list:
    """Every number inside a JSON value (lists and dicts walked; booleans are not numbers)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, dict):
        return [x for v in value.values() for x in json_numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in json_numbers(v)]
    return []
