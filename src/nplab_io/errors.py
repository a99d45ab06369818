"""The exceptions of the data layer.

Every error is ONE line naming the file and what was expected, so that a workflow script
can print it as is (see :mod:`nplab_io.jobs`). Newlines in a message are folded to spaces.
"""

from __future__ import annotations

__all__ = ["DataError", "DownloadError", "ChecksumError", "FormatError", "UnsafeArchiveError"]


class DataError(Exception):
    """Base class: a data file could not be fetched, verified or parsed.

    ``files``: the raw file(s) the problem was found in, when known (the pipeline removes
    them, see :func:`nplab_io.rawdata.load_raw_dataset`).
    """

    def __init__(self, msg: object = "", *, files=()) -> None:
        text = " ".join(str(msg).replace("\r", "\n").split("\n"))
        super().__init__(text)
        self.files = tuple(str(f) for f in files)


class DownloadError(DataError):
    """No source delivered the file (network errors, HTTP errors, not in the mirror)."""


class ChecksumError(DataError):
    """A file's checksum differs from the expected one (the file was removed)."""


class FormatError(DataError):
    """A file is not in the expected format (bad gzip, bad IDX header, bad record size...)."""


class UnsafeArchiveError(DataError):
    """An archive member would escape the destination or is not a regular file/directory."""
