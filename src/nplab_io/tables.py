"""Writing tables: one CSV dialect for every output (no index, '\\n' line ends), atomic."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence

import pandas as pd

from nplab_io.atomic import write_text_atomic

__all__ = ["csv_text", "write_csv_atomic"]


def csv_text(
    table: pd.DataFrame | Iterable,
    *,
    header: Sequence[str] | None = None,
    float_format: str | None = None,
) -> str:
    """``table`` as CSV text: a DataFrame (``float_format`` as pandas takes it), dicts (the
    first one's keys are the header) or rows (with ``header``; values as ``str`` gives)."""
    if isinstance(table, pd.DataFrame):
        return table.to_csv(index=False, float_format=float_format, lineterminator="\n")
    rows = list(table)
    buf = io.StringIO()
    if rows and isinstance(rows[0], dict):
        writer = csv.DictWriter(buf, fieldnames=list(header or rows[0]), lineterminator="\n")
        writer.writeheader()
    else:
        writer = csv.writer(buf, lineterminator="\n")
        if header is not None:
            writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_csv_atomic(
    path: str | os.PathLike,
    table: pd.DataFrame | Iterable,
    *,
    header: Sequence[str] | None = None,
    float_format: str | None = None,
) -> None:
    write_text_atomic(path, csv_text(table, header=header, float_format=float_format))
