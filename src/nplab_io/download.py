"""Fetch one raw dataset file, verified BEFORE it is renamed into place.

``fetch(dataset, filename, dest, mirror=None, ...)``

* no mirror: the canonical URLs of :mod:`nplab_io.sources` in order, each tried
  ``retries`` times with ``backoff**attempt`` seconds between attempts (HTTP 404/410 and
  other permanent client errors are not retried), verified against the OFFICIAL checksum;
* ``mirror`` = a local directory or a ``file://`` / ``http(s)://`` URL: the file is looked
  up as ``<mirror>/<subdir>/<filename>`` for each of the dataset's ``mirror_subdirs``
  (local: first that exists; URL: first that downloads). If a ``SHA256SUMS`` next to it
  lists the file, its sha256 is verified against that ("unofficial mirror checksum");
  otherwise the official checksum is ("official checksum").

The data is streamed to a temp file in ``dest``'s directory and hashed on the way; the
temp file is verified and only then renamed onto ``dest``. On any failure the temp file
(and any stale ``dest``) is removed and ONE line is raised (:class:`DownloadError`,
:class:`ChecksumError`, :class:`FormatError`). The returned provenance holds no
timestamps, so it is reproducible.

``source_identity(dataset, filename, mirror, recorded)`` is the download job's identity
(a Snakemake param): where the file comes from and the digest it must match. A different
``mirror=`` or a mirror whose SHA256SUMS changed gives a new identity, so the file is
fetched (or re-verified) again; with no mirror configured, the identity recorded in the
existing provenance is kept, so verified files are reused whatever source they came from.
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from nplab_io import sources
from nplab_io.atomic import atomic_write
from nplab_io.checksums import CHUNK, hash_file, md5_gunzip, new_hash, parse_sha256sums
from nplab_io.errors import ChecksumError, DataError, DownloadError, FormatError

__all__ = [
    "fetch",
    "resolve_mirror",
    "source_identity",
    "OFFICIAL",
    "UNOFFICIAL",
    "USER_AGENT",
    "MAX_PROGRESS_LINES",
]

OFFICIAL = "official checksum"
UNOFFICIAL = "unofficial mirror checksum"
USER_AGENT = "nplab-download/0.1 (+python urllib)"
MAX_PROGRESS_LINES = 20
SUMS_NAME = "SHA256SUMS"

Log = Callable[[str], object]


class _NotFound(Exception):
    """A permanent 'not there' (HTTP 404/410, missing file:// path): try the next place."""


class _Transient(Exception):
    """A failure worth retrying (network error, timeout, 5xx, short read)."""


class _Permanent(Exception):
    """A failure not worth retrying at this URL (other 4xx, unsupported scheme)."""


# --------------------------------------------------------------------------------- helpers


def _is_url(mirror: str | os.PathLike) -> bool:
    return "://" in str(mirror)


def _redact(url: str) -> str:
    """Drop any user:password@ from a URL before it is logged or recorded."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


def _join_url(base: str, subdir: str, filename: str) -> str:
    base = base.rstrip("/")
    parts = [base]
    if subdir not in ("", "."):
        parts.append(urllib.parse.quote(subdir.strip("/")))
    parts.append(urllib.parse.quote(filename))
    return "/".join(parts)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class _Progress:
    """At most ~MAX_PROGRESS_LINES lines per file: every 5 % if the size is known, else at
    each doubling of the byte count (1, 2, 4, ... MB)."""

    def __init__(self, label: str, total: int | None, log: Log):
        self.label, self.total, self.log = label, total, log
        self.done = 0
        self.next_pct = 100 // MAX_PROGRESS_LINES
        self.next_bytes = 1 << 20

    def update(self, n: int) -> None:
        self.done += n
        if self.total:
            pct = min(100, self.done * 100 // self.total)
            if pct >= self.next_pct:
                self.log(f"{self.label}: {pct}% ({_mb(self.done)} of {_mb(self.total)})")
                step = 100 // MAX_PROGRESS_LINES
                self.next_pct = (pct // step + 1) * step
        elif self.done >= self.next_bytes:
            self.log(f"{self.label}: {_mb(self.done)}")
            while self.next_bytes <= self.done:
                self.next_bytes *= 2


def _stream(reader, fh, total: int | None, label: str, log: Log) -> dict:
    """Copy ``reader`` to ``fh`` in chunks, hashing (sha256, md5) and logging progress."""
    sha, md5 = new_hash("sha256"), new_hash("md5")
    progress = _Progress(label, total, log)
    while True:
        chunk = reader.read(CHUNK)
        if not chunk:
            break
        fh.write(chunk)
        sha.update(chunk)
        md5.update(chunk)
        progress.update(len(chunk))
    if total is not None and progress.done != total:
        raise _Transient(f"short read: got {progress.done} of {total} bytes")
    fh.flush()
    return {"sha256": sha.hexdigest(), "md5": md5.hexdigest(), "bytes": progress.done}


def _open_url(url: str, timeout: float):
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise _Permanent(f"unsupported URL scheme {scheme!r}")
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (404, 410):
            raise _NotFound(f"HTTP {exc.code}") from None
        if 400 <= exc.code < 500 and exc.code not in (408, 425, 429):
            raise _Permanent(f"HTTP {exc.code} {exc.reason}") from None
        raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (FileNotFoundError, NotADirectoryError)):
            raise _NotFound("no such file") from None
        raise _Transient(str(exc.reason)) from None
    except (OSError, ValueError) as exc:  # timeouts, resets, bad URLs
        raise _Transient(f"{type(exc).__name__}: {exc}") from None


def _content_length(resp) -> int | None:
    value = resp.headers.get("Content-Length") if resp.headers else None
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _with_retries(what: str, attempt_fn, retries: int, backoff: float, sleep, log: Log):
    """Run ``attempt_fn()`` up to ``retries`` times; sleep ``backoff**k`` after failure k.

    _NotFound/_Permanent and DataError (e.g. checksum) propagate at once.
    """
    retries = max(1, int(retries))
    last: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            return attempt_fn()
        except _Transient as exc:
            last = exc
            if attempt < retries:
                wait = float(backoff) ** attempt
                log(f"{what}: attempt {attempt}/{retries} failed ({exc}); retrying in {wait:g} s")
                sleep(wait)
            else:
                log(f"{what}: attempt {attempt}/{retries} failed ({exc})")
    raise _Transient(f"{last} (after {retries} attempts)")


def _fetch_text(
    url: str, timeout: float, retries: int, backoff: float, sleep, log: Log
) -> str | None:
    """A small text file (SHA256SUMS) at ``url``, or None if it is not there."""

    def attempt():
        resp = _open_url(url, timeout)
        try:
            data = resp.read(1 << 20)
        except (OSError, ValueError) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        finally:
            resp.close()
        return data.decode("utf-8", errors="replace")

    try:
        return _with_retries(_redact(url), attempt, retries, backoff, sleep, log)
    except _NotFound:
        return None
    except (_Transient, _Permanent) as exc:
        raise DownloadError(f"{_redact(url)}: could not read the checksum file ({exc})") from None


# ------------------------------------------------------------------------------ verification


def _expected_for(dataset: str, filename: str, sums: dict[str, str] | None) -> tuple[str, str, str]:
    """(checksum_kind, algorithm, expected hex) for this file given an optional SHA256SUMS."""
    if sums is not None and filename in sums:
        return UNOFFICIAL, "sha256", sums[filename]
    entry = sources.file_entry(dataset, filename)
    algo = "md5 of the decompressed payload" if entry["checksum_of"] == "payload" else "md5"
    return OFFICIAL, algo, entry["md5"].lower()


def _verify(
    path: Path, filename: str, hashes: dict, expected: tuple[str, str, str], where: str
) -> dict:
    """Check ``path`` (a temp file or an existing dest); return the checksum fields."""
    kind, algo, want = expected
    out = {"sha256": hashes["sha256"], "md5": hashes["md5"], "bytes": hashes["bytes"]}

    def compare(got: str) -> None:
        if got != want:
            raise ChecksumError(
                f"{filename}: {algo} mismatch: expected {want}, got {got} "
                f"(source {where}, {kind}); the file was removed"
            )

    if algo in ("sha256", "md5"):
        compare(out[algo])  # a corrupt file with a manifest → a clear "mismatch" first
    if filename.endswith(".gz") and not filename.endswith(".tar.gz"):
        try:
            out["payload_md5"] = md5_gunzip(path, name=f"{filename} (source {where})")
        except FormatError as exc:
            raise FormatError(f"{exc}; the file was removed") from None
    if algo not in ("sha256", "md5"):
        compare(out["payload_md5"])
    out["checksum_kind"] = kind
    out["checksum_algorithm"] = algo
    out["expected"] = want
    return out


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# ---------------------------------------------------------------------------------- sources


def _local_candidates(dataset: str, filename: str, mirror: Path) -> list[Path]:
    return [
        (mirror / sub / filename) if sub not in ("", ".") else mirror / filename
        for sub in sources.mirror_subdirs(dataset)
    ]


def _local_sums(path: Path) -> dict[str, str] | None:
    sums_path = path.parent / SUMS_NAME
    if not sums_path.is_file():
        return None
    return parse_sha256sums(
        sums_path.read_text(encoding="utf-8", errors="replace"), source=sums_path
    )


def _url_sums(file_url: str, timeout, retries, backoff, sleep, log) -> dict[str, str] | None:
    sums_url = file_url.rsplit("/", 1)[0] + "/" + SUMS_NAME
    text = _fetch_text(sums_url, timeout, retries, backoff, sleep, log)
    return None if text is None else parse_sha256sums(text, source=_redact(sums_url))


# ------------------------------------------------------------------------------- identity


def resolve_mirror(mirror: str | os.PathLike | None) -> str | None:
    """A local mirror as an absolute path (``~`` expanded); URLs and None unchanged."""
    if mirror is None:
        return None
    mirror = str(mirror)
    if _is_url(mirror):
        return mirror
    return str(Path(mirror).expanduser().resolve())


def _identity(mirror: str | None, algo: str | None, want: str | None) -> str:
    if mirror is None:
        where = "canonical hosts"
    elif _is_url(mirror):
        # the digest of a URL mirror is only known once its SHA256SUMS is fetched
        return f"mirror {_redact(mirror)}"
    else:
        where = f"mirror {mirror}"
    return f"{where}, {algo} {want}" if want else where


def source_identity(
    dataset: str,
    filename: str,
    mirror: str | os.PathLike | None = None,
    recorded: dict | None = None,
) -> str:
    """Where ``filename`` is fetched from and the digest it is verified against, as one
    string (e.g. ``mirror /data/mirror, sha256 9f86...``), cheap enough to compute for
    every dry run (a local ``SHA256SUMS`` is read; nothing is fetched).

    ``mirror`` None: the identity ``recorded`` in the existing provenance if there is one
    (verified files are kept whatever their source), else the canonical hosts with the
    official checksum. A URL mirror's identity is its URL (its digest is not fetched).
    """
    sources.file_entry(dataset, filename)
    if mirror is None:
        if recorded and recorded.get("expected"):
            return _identity(
                recorded.get("mirror"), recorded.get("checksum_algorithm"), recorded["expected"]
            )
        _, algo, want = _expected_for(dataset, filename, None)
        return _identity(None, algo, want)
    m = resolve_mirror(mirror)
    if _is_url(m):
        return _identity(m, None, None)
    src = next((c for c in _local_candidates(dataset, filename, Path(m)) if c.is_file()), None)
    if src is None:
        return f"mirror {m}, {filename} not found"
    try:
        _, algo, want = _expected_for(dataset, filename, _local_sums(src))
    except DataError:
        return f"mirror {m}, unreadable {SUMS_NAME}"
    return _identity(m, algo, want)


# -------------------------------------------------------------------------------- the fetch


def fetch(
    dataset: str,
    filename: str,
    dest: str | os.PathLike,
    *,
    mirror: str | os.PathLike | None = None,
    timeout: float = 60,
    retries: int = 3,
    backoff: float = 2.0,
    log: Log = print,
    sleep: Callable[[float], object] = time.sleep,
) -> dict:
    """Fetch ``filename`` of ``dataset`` to ``dest``, verified; return its provenance.

    Provenance keys: dataset, filename, source (URL or path used), mirror (or None),
    checksum_kind ("official checksum" / "unofficial mirror checksum"), checksum_algorithm,
    expected (the value verified against), sha256, md5, payload_md5 (``.gz`` only), bytes,
    reused (True if a verified ``dest`` was already there and kept).
    """
    sources.file_entry(dataset, filename)  # unknown dataset/file → one-line DataError
    dest = Path(dest)
    mirror_str = None if mirror is None else str(mirror)
    base = {
        "dataset": dataset,
        "filename": filename,
        "mirror": None
        if mirror_str is None
        else (_redact(mirror_str) if _is_url(mirror_str) else mirror_str),
    }

    if dest.exists():
        reused = _try_reuse(
            dataset, filename, dest, mirror_str, base, timeout, retries, backoff, sleep, log
        )
        if reused is not None:
            return reused

    if mirror_str is None:
        return _fetch_canonical(
            dataset, filename, dest, base, timeout, retries, backoff, sleep, log
        )
    if _is_url(mirror_str):
        return _fetch_url_mirror(
            dataset, filename, dest, mirror_str, base, timeout, retries, backoff, sleep, log
        )
    return _fetch_local_mirror(dataset, filename, dest, Path(mirror_str), base, log)


def _try_reuse(
    dataset, filename, dest: Path, mirror, base, timeout, retries, backoff, sleep, log
) -> dict | None:
    """Keep an existing ``dest`` if it verifies the way a fresh fetch would; else remove it."""
    sums, source = None, str(dest)
    if mirror is not None and not _is_url(mirror):
        for cand in _local_candidates(dataset, filename, Path(mirror)):
            if cand.is_file():
                sums, source = _local_sums(cand), str(cand)
                break
    elif mirror is not None:
        for sub in sources.mirror_subdirs(dataset):
            url = _join_url(mirror, sub, filename)
            s = _url_sums(url, timeout, retries, backoff, sleep, log)
            if s is not None and filename in s:
                sums, source = s, _redact(url)
                break
    expected = _expected_for(dataset, filename, sums)
    hashes = hash_file(dest, "sha256", "md5")
    hashes["bytes"] = dest.stat().st_size
    try:
        fields = _verify(dest, filename, hashes, expected, str(dest))
    except DataError as exc:
        log(f"{dest}: existing file does not verify ({exc}); removing it and fetching again")
        _remove(dest)
        return None
    log(f"{dest}: already present and verified ({expected[0]}); reusing it")
    return {**base, "source": source, **fields, "reused": True}


def _download_to(dest: Path, open_fn, filename: str, where: str, expected_fn, log) -> dict:
    """Stream ``open_fn()`` into a temp file next to ``dest``, verify, rename.

    ``expected_fn()`` is called after the data arrived (so a SHA256SUMS can be read then).
    """
    with atomic_write(dest, "wb") as fh:
        reader, total = open_fn()
        try:
            log(f"{filename}: fetching from {where}" + (f" ({_mb(total)})" if total else ""))
            try:
                hashes = _stream(reader, fh, total, filename, log)
            except (OSError, ValueError) as exc:  # timeouts, resets mid-stream
                raise _Transient(f"{type(exc).__name__}: {exc}") from None
        finally:
            reader.close()
        try:
            fields = _verify(Path(fh.name), filename, hashes, expected_fn(), where)
        except DataError:
            _remove(dest)  # never leave a stale/unverified file under the final name
            raise
    log(f"{filename}: verified ({fields['checksum_kind']}, {fields['bytes']} bytes)")
    return fields


def _url_opener(url: str, timeout: float):
    def open_fn():
        resp = _open_url(url, timeout)
        return resp, _content_length(resp)

    return open_fn


def _fetch_url(url, filename, dest, expected_fn, timeout, retries, backoff, sleep, log):
    """``url`` into ``dest`` with retries; ``expected_fn()`` gives the checksums to verify."""
    shown = _redact(url)
    return _with_retries(
        shown,
        lambda: _download_to(dest, _url_opener(url, timeout), filename, shown, expected_fn, log),
        retries,
        backoff,
        sleep,
        log,
    )


def _fetch_canonical(dataset, filename, dest, base, timeout, retries, backoff, sleep, log):
    urls = sources.urls_for(dataset, filename)
    errors: list[str] = []
    mismatch: DataError | None = None

    def expected():
        return _expected_for(dataset, filename, None)

    for url in urls:
        shown = _redact(url)
        try:
            fields = _fetch_url(
                url, filename, dest, expected, timeout, retries, backoff, sleep, log
            )
        except (_NotFound, _Permanent, _Transient) as exc:
            errors.append(f"{shown}: {exc}")
            log(f"{filename}: {shown} failed ({exc}); trying the next source")
            continue
        except (ChecksumError, FormatError) as exc:
            mismatch = mismatch or exc
            errors.append(f"{shown}: {exc}")
            log(f"{exc}; trying the next source")
            continue
        return {**base, "source": shown, **fields, "reused": False}
    if mismatch is not None:
        raise mismatch
    raise DownloadError(
        f"{filename}: download failed from all {len(urls)} source(s); "
        f"{'; '.join(errors)}; {dest} was not written"
    )


def _fetch_url_mirror(dataset, filename, dest, mirror, base, timeout, retries, backoff, sleep, log):
    errors: list[str] = []
    for sub in sources.mirror_subdirs(dataset):
        url = _join_url(mirror, sub, filename)
        shown = _redact(url)

        def expected():
            return _expected_for(
                dataset, filename, _url_sums(url, timeout, retries, backoff, sleep, log)
            )

        try:
            fields = _fetch_url(
                url, filename, dest, expected, timeout, retries, backoff, sleep, log
            )
        except (_NotFound, _Permanent, _Transient) as exc:
            errors.append(f"{shown}: {exc}")
            continue
        return {**base, "source": shown, **fields, "reused": False}
    raise DownloadError(
        f"{filename}: could not download it from mirror {base['mirror']} "
        f"(looked in {', '.join(s + '/' for s in sources.mirror_subdirs(dataset))}"
        f"): {'; '.join(errors)}; {dest} was not written"
    )


def _fetch_local_mirror(dataset, filename, dest, mirror: Path, base, log):
    if not mirror.is_dir():
        raise DownloadError(
            f"{filename}: mirror directory {mirror} does not exist (expected "
            f"a directory or a file://, http(s):// URL)"
        )
    cands = _local_candidates(dataset, filename, mirror)
    src = next((c for c in cands if c.is_file()), None)
    if src is None:
        raise DownloadError(
            f"{filename}: not found in mirror {mirror} (looked in "
            f"{', '.join(str(c.parent) + '/' for c in cands)})"
        )
    if dest.exists() and os.path.samefile(src, dest):
        raise DownloadError(f"{filename}: destination {dest} is the mirror file itself")

    def open_fn():
        fh = open(src, "rb")
        return fh, os.fstat(fh.fileno()).st_size

    try:
        fields = _download_to(
            dest,
            open_fn,
            filename,
            str(src),
            lambda: _expected_for(dataset, filename, _local_sums(src)),
            log,
        )
    except _Transient as exc:
        raise DownloadError(
            f"{filename}: could not copy {src} ({exc}); {dest} was not written"
        ) from None
    except OSError as exc:
        raise DownloadError(
            f"{filename}: could not copy {src} ({exc}); {dest} was not written"
        ) from None
    return {**base, "source": str(src), **fields, "reused": False}
