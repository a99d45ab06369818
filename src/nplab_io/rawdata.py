"""Parse a dataset's verified raw downloads; a file that fails is removed, not kept.

A raw file reaches ``load_dataset`` only after its checksum passed, but a mirror's own
``SHA256SUMS`` only proves that the file is what the mirror serves. If the parser or the
archive safety checks then reject it (bad IDX magic, wrong label count, a ``../`` or
symlink member, a record of the wrong size, a truncated archive), keeping it would repeat
the same error on every run. :func:`load_raw_dataset` removes the offending file(s) and
their ``.provenance.json`` and says so in its one-line error, so the next run of the same
command downloads them again (from the fixed mirror, or from another ``mirror=``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from nplab_io.errors import DataError
from nplab_io.formats import load_mnist, read_cifar_binary_tar

__all__ = ["PROVENANCE_SUFFIX", "load_raw_dataset", "remove_raw"]

PROVENANCE_SUFFIX = ".provenance.json"


def remove_raw(paths) -> list[str]:
    """Remove raw files and their provenance; return the raw files that were removed."""
    removed = []
    for p in paths:
        p = Path(p)
        for f in (p, p.with_name(p.name + PROVENANCE_SUFFIX)):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f)
        removed.append(str(p))
    return removed


def load_raw_dataset(dataset: str, files) -> dict:
    """Parse the raw files of ``dataset`` (``mnist``: the four ``.gz``; ``cifar10``: the
    binary ``.tar.gz``) into arrays (see :func:`nplab_io.formats.load_mnist` and
    :func:`~nplab_io.formats.read_cifar_binary_tar`).

    On a :class:`~nplab_io.errors.DataError` the file(s) it names (all of ``files`` when it
    names none) are removed with their provenance and the error is raised again, same
    class, one line, ending with what was removed and what to do.
    """
    files = [Path(f) for f in files]
    if not files:
        raise DataError(f"{dataset}: no raw files given")
    try:
        if dataset == "mnist":
            return load_mnist(files[0].parent)
        return read_cifar_binary_tar(files[0])
    except DataError as exc:
        bad = [Path(f) for f in exc.files] or files
        removed = remove_raw(bad)
        what = " and ".join(removed) + (" and its provenance" if len(removed) == 1 else "")
        if len(removed) > 1:
            what += " and their provenance"
        raise type(exc)(
            f"{exc}; removed {what} (the checksum had passed, so the source serves a bad "
            f"file): fix the mirror or give another mirror=, then run the same command again",
            files=bad,
        ) from None
