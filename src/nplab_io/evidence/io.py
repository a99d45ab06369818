"""What every question's evidence shares: its inputs, read on demand, and the checks on
what it may write."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from nplab_io.atomic import read_json

__all__ = ["QuestionData", "check_evidence", "rel", "read_json", "MAX_LABEL_CHARS"]

#: Evidence strings are labels (a class name, a table, a figure path), never prose: the
#: prose lives in the registry's templates.
MAX_LABEL_CHARS = 100

#: The files a question reads for each table it names, unless its entry says otherwise.
TABLE_FILES = ("runs.csv", "curves.csv", "loss.csv")


def rel(path) -> str:
    """A path under results/ as the report expects it (relative to results/)."""
    p = Path(path).as_posix()
    return p.split("results/", 1)[1] if "results/" in p else p


class QuestionData:
    """The named inputs and outputs of one question job, read when asked for.

    ``inputs`` maps a name to a path or a list of paths (the rule's named inputs). The
    experiment tables a question names are the input ``tables``: ``table_files`` files per
    table, in the order of ``tables``. ``runs`` maps each table to its run records
    (``variant``, ``run``, ``spec``), as the config expanded them.
    """

    def __init__(
        self,
        inputs: Mapping[str, str | Sequence[str]],
        *,
        outputs: Mapping[str, str | Sequence[str]] | None = None,
        tables: Sequence[str] = (),
        table_files: Sequence[str] = TABLE_FILES,
        runs: Mapping[str, list] | None = None,
    ):
        self.inputs = dict(inputs)
        self.outputs = dict(outputs or {})
        self.table_names = list(tables)
        self.table_files = list(table_files)
        self.runs = dict(runs or {})
        self._tables: dict[str, dict[str, pd.DataFrame]] = {}

    # --------------------------------------------------------------- named files
    def paths(self, name: str) -> list[Path]:
        if name not in self.inputs:
            raise ValueError(f"question input {name!r} is not declared in its registry entry")
        value = self.inputs[name]
        if isinstance(value, (str, Path)):
            return [Path(value)]
        return [Path(v) for v in value]

    def path(self, name: str) -> Path:
        paths = self.paths(name)
        if len(paths) != 1:
            raise ValueError(f"question input {name!r} has {len(paths)} files, expected one")
        return paths[0]

    def output(self, name: str) -> list[Path]:
        value = self.outputs[name]
        return [Path(value)] if isinstance(value, (str, Path)) else [Path(v) for v in value]

    def json(self, name: str) -> dict:
        return read_json(self.path(name))

    def csv(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.path(name))

    def npz(self, name: str, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """The arrays of an ``.npz`` input (only ``keys`` when given: large files)."""
        with np.load(self.path(name), allow_pickle=False) as z:
            return {k: z[k] for k in (z.files if keys is None else keys)}

    # --------------------------------------------------------------- experiment tables
    def table(self, name: str) -> dict[str, pd.DataFrame]:
        """``{"runs": DataFrame, "curves": ..., ...}`` of one experiment table."""
        if name not in self._tables:
            if name not in self.table_names:
                raise ValueError(f"table {name!r} is not among this question's tables")
            i, n = self.table_names.index(name), len(self.table_files)
            files = self.paths("tables")[i * n : (i + 1) * n]
            frames = {}
            for f in files:
                frames[f.name.split(".")[0]] = (
                    read_json(f) if f.suffix == ".json" else pd.read_csv(f)
                )
            self._tables[name] = frames
        return self._tables[name]


def _check_value(key: str, value) -> None:
    if isinstance(value, (bool, np.bool_)) or value is None:
        return
    if isinstance(value, (int, np.integer)):
        return
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(float(value)):
            raise ValueError(f"evidence {key!r} is not finite ({value!r})")
        return
    if isinstance(value, str):
        if len(value) > MAX_LABEL_CHARS or "\n" in value:
            raise ValueError(
                f"evidence {key!r} is prose ({len(value)} characters): put it in the "
                "question's registry templates, keep short labels in evidence"
            )
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_value(f"{key}[{i}]", v)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            _check_value(f"{key}.{k}", v)
        return
    raise ValueError(f"evidence {key!r} has type {type(value).__name__}")


def check_evidence(evidence: Mapping) -> None:
    """Evidence holds numbers (finite), booleans, short labels and lists/maps of them."""
    for key, value in evidence.items():
        _check_value(str(key), value)
