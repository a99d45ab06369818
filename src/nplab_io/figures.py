"""Saving figures reproducibly (byte-identical for the same data) and atomically."""

from __future__ import annotations

import io
from pathlib import Path

from nplab_io.atomic import write_bytes_atomic

__all__ = ["pyplot", "label_axes", "save_figure"]


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (jobs have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def label_axes(ax, xlabel=None, ylabel=None, *, legend=None, title=None, title_size=9) -> None:
    """Label ``ax``: its x and y labels, a legend (of font size ``legend``) and a title,
    each where given."""
    if xlabel is not None:
        ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if legend is not None:
        ax.legend(fontsize=legend)
    if title is not None:
        ax.set_title(title, fontsize=title_size)


def save_figure(fig, paths, dpi: int = 110) -> None:
    """Save ``fig`` to each path (format from the suffix) without timestamps, then close it.

    SVG ids use a fixed hash salt and no date metadata; PNG carries no creation time, so the
    same figure gives the same bytes on every run.
    """
    import matplotlib
    import matplotlib.pyplot as plt

    if isinstance(paths, (str, Path)):
        paths = [paths]
    for p in paths:
        p = Path(p)
        fmt = p.suffix.lstrip(".").lower()
        meta = {
            "svg": {"Date": None, "Creator": None},
            "png": {"Software": None},
            "pdf": {"CreationDate": None, "ModDate": None, "Creator": None, "Producer": None},
        }.get(fmt, {})
        buf = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": "nplab", "svg.fonttype": "path"}):
            fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=meta)
        write_bytes_atomic(p, buf.getvalue())
    plt.close(fig)
