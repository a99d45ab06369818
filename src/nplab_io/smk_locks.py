"""Keep Snakemake's directory locks working when several instances share a directory.

Snakemake (9.27.1, the newest release at the time of writing; PyPI has nothing newer)
writes each instance's locks as ``.snakemake/locks/<n>.{input,output}.lock`` and, when an
instance exits, removes the WHOLE ``locks`` folder (``FilePersistence._delete_locks``
ends in ``shutil.rmtree``), taking every other running instance's locks with it. A third
instance then finds nothing locked and starts jobs that are already running.

:func:`install` (called by ``workflow/rules/common.smk`` while the Snakefile is read)
makes an exiting instance remove only its own lock files; ``snakemake --unlock`` still
removes them all. It patches nothing if the installed Snakemake no longer removes the
folder. The per-job lock of :func:`nplab_io.jobs.run_job` is the second line of defence
(two instances started in the same instant, ``--nolock``, the ``db`` persistence backend).
"""

from __future__ import annotations

import contextlib
import inspect
import os

__all__ = ["install", "needs_guard"]


def needs_guard(cls) -> bool:
    """True if ``cls._delete_locks`` removes the whole lock folder (the bug)."""
    try:
        source = inspect.getsource(cls._delete_locks)
    except (OSError, TypeError, AttributeError):
        return False
    return "rmtree" in source


def install() -> bool:
    """Patch Snakemake's file persistence (once per process); True if the guard is active."""
    try:
        from snakemake.persistence.file import FilePersistence
    except ImportError:  # pragma: no cover - another Snakemake layout: nothing to guard
        return False
    if getattr(FilePersistence, "_nplab_own_locks_only", False):
        return True
    if not needs_guard(FilePersistence):
        return False
    remove_all = FilePersistence._delete_locks

    def _delete_own_locks(self) -> None:
        for lockfile in self._lockfile.values():
            with contextlib.suppress(FileNotFoundError):
                os.remove(lockfile)
        self._lockfile.clear()

    def cleanup_locks(self) -> None:  # `snakemake --unlock`: every lock, as before
        remove_all(self)

    FilePersistence._delete_locks = _delete_own_locks
    FilePersistence.cleanup_locks = cleanup_locks
    FilePersistence._nplab_own_locks_only = True
    return True
