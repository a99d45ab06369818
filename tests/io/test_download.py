"""fetch(): mirrors (local dir, file://, http://), canonical URLs with fallback and retries,
checksum verification before the rename, idempotence; plus the real offline mirror."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from nplab_io import sources
from nplab_io.checksums import md5_gunzip, sha256_file
from nplab_io.download import OFFICIAL, UNOFFICIAL, fetch
from nplab_io.errors import ChecksumError, DataError, DownloadError, FormatError
from nplab_io.formats import load_mnist, read_cifar_binary_tar
from nplab_io.synthetic import make_synthetic_mirror, write_idx, write_sha256sums

LABELS = "train-labels-idx1-ubyte.gz"
CIFAR = "cifar-10-binary.tar.gz"
MNIST_FILES = sources.filenames("mnist")
PROV_KEYS = {
    "dataset",
    "filename",
    "source",
    "mirror",
    "checksum_kind",
    "checksum_algorithm",
    "sha256",
    "md5",
    "expected",
    "bytes",
    "reused",
}


class Sleeps(list):
    """An injected sleep that records the waits instead of sleeping."""

    def __call__(self, seconds):
        self.append(seconds)


def quiet(_msg):
    pass


def no_temp_files(d: Path) -> bool:
    return not d.exists() or not [p for p in d.iterdir() if p.name.endswith(".tmp")]


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mirror")
    make_synthetic_mirror(
        root, n_mnist_train=100, n_mnist_test=50, n_cifar_per_batch=20, n_cifar_test=20, seed=1
    )
    return root


def labels_file(path: Path, n=40, mtime=0) -> Path:
    write_idx(path, (np.arange(n) % 10).astype(np.uint8), mtime=mtime)
    return path


# ------------------------------------------------------------------------ local directory


def test_local_mirror_with_sha256sums(mirror, tmp_path):
    dest = tmp_path / "raw" / LABELS
    logs = []
    prov = fetch("mnist", LABELS, dest, mirror=mirror, log=logs.append)
    src = mirror / "mnist" / LABELS
    assert dest.read_bytes() == src.read_bytes() and not dest.is_symlink()
    assert PROV_KEYS | {"payload_md5"} == set(prov)
    assert prov["checksum_kind"] == UNOFFICIAL and prov["checksum_algorithm"] == "sha256"
    assert prov["source"] == str(src) and prov["mirror"] == str(mirror)
    assert prov["sha256"] == prov["expected"] == sha256_file(src)
    assert prov["md5"] == hashlib.md5(src.read_bytes()).hexdigest()
    assert prov["payload_md5"] == md5_gunzip(src) and prov["bytes"] == src.stat().st_size
    assert prov["reused"] is False and prov["dataset"] == "mnist"
    assert any("verified" in m for m in logs)
    assert no_temp_files(dest.parent)


def test_cifar_found_in_its_subdir(mirror, tmp_path):
    prov = fetch("cifar10", CIFAR, tmp_path / CIFAR, mirror=mirror, log=quiet)
    assert prov["source"] == str(mirror / "cifar-10" / CIFAR)
    assert prov["checksum_kind"] == UNOFFICIAL and "payload_md5" not in prov
    assert read_cifar_binary_tar(tmp_path / CIFAR)["x_train"].shape == (100, 32, 32, 3)


def test_mirror_without_sums_uses_official_payload_md5(tmp_path, monkeypatch):
    """The MNIST official md5 covers the decompressed payload: a re-gzipped copy (other
    gzip header timestamp) still verifies."""
    original = labels_file(tmp_path / "orig" / LABELS, mtime=0)
    copy = labels_file(tmp_path / "mirror" / "mnist" / LABELS, mtime=1234567)
    assert original.read_bytes() != copy.read_bytes()
    monkeypatch.setitem(sources.DATASETS["mnist"]["files"][LABELS], "md5", md5_gunzip(original))
    prov = fetch("mnist", LABELS, tmp_path / "out" / LABELS, mirror=tmp_path / "mirror", log=quiet)
    assert prov["checksum_kind"] == OFFICIAL
    assert prov["checksum_algorithm"] == "md5 of the decompressed payload"
    assert prov["expected"] == prov["payload_md5"] == md5_gunzip(original)
    assert prov["md5"] != prov["expected"]


def test_mirror_root_fallback_and_official_archive_md5(tmp_path, monkeypatch):
    (tmp_path / "m").mkdir()
    data = b"not really a tarball, but the md5 is what is checked here"
    (tmp_path / "m" / CIFAR).write_bytes(data)  # in the mirror root ('.')
    monkeypatch.setitem(
        sources.DATASETS["cifar10"]["files"][CIFAR], "md5", hashlib.md5(data).hexdigest()
    )
    prov = fetch("cifar10", CIFAR, tmp_path / "o" / CIFAR, mirror=tmp_path / "m", log=quiet)
    assert prov["checksum_kind"] == OFFICIAL and prov["checksum_algorithm"] == "md5"
    assert prov["source"] == str(tmp_path / "m" / CIFAR)


def test_wrong_sha256_removes_everything(tmp_path):
    src = labels_file(tmp_path / "m" / "mnist" / LABELS)
    (tmp_path / "m" / "mnist" / "SHA256SUMS").write_text(f"{'0' * 64}  {LABELS}\n")
    dest = tmp_path / "raw" / LABELS
    dest.parent.mkdir()
    dest.write_bytes(b"stale junk")  # a stale, unverified file must go too
    with pytest.raises(ChecksumError) as ei:
        fetch("mnist", LABELS, dest, mirror=tmp_path / "m", log=quiet)
    msg = one_line(ei)
    assert msg.startswith(f"{LABELS}: sha256 mismatch")
    assert f"expected {'0' * 64}, got {sha256_file(src)}" in msg
    assert str(src) in msg and "removed" in msg
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_corrupt_gz_with_manifest_is_a_mismatch(mirror, tmp_path):
    """A flipped byte in a listed .gz reports the sha256 mismatch (not just bad gzip)."""
    d = tmp_path / "m" / "mnist"
    d.mkdir(parents=True)
    data = bytearray((mirror / "mnist" / LABELS).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (d / LABELS).write_bytes(bytes(data))
    (d / "SHA256SUMS").write_bytes((mirror / "mnist" / "SHA256SUMS").read_bytes())
    dest = tmp_path / "raw" / LABELS
    with pytest.raises(ChecksumError) as ei:
        fetch("mnist", LABELS, dest, mirror=tmp_path / "m", log=quiet)
    assert "sha256 mismatch" in one_line(ei) and "unofficial mirror checksum" in str(ei.value)
    assert not dest.exists() and no_temp_files(dest.parent)


def test_wrong_official_md5(tmp_path):
    labels_file(tmp_path / "m" / "mnist" / LABELS)  # no SHA256SUMS: the real official md5
    dest = tmp_path / "raw" / LABELS
    with pytest.raises(ChecksumError) as ei:
        fetch("mnist", LABELS, dest, mirror=tmp_path / "m", log=quiet)
    msg = one_line(ei)
    assert "official checksum" in msg and "a25bea736e30d166cdddb491f175f624" in msg
    assert not dest.exists() and no_temp_files(dest.parent)


def test_not_gzip_is_rejected_even_with_matching_sums(tmp_path):
    d = tmp_path / "m" / "mnist"
    d.mkdir(parents=True)
    (d / LABELS).write_bytes(b"<html>404 page saved as .gz</html>")
    write_sha256sums(d)
    dest = tmp_path / "raw" / LABELS
    with pytest.raises(FormatError) as ei:
        fetch("mnist", LABELS, dest, mirror=tmp_path / "m", log=quiet)
    msg = one_line(ei)
    assert LABELS in msg and "not a valid gzip file" in msg and "removed" in msg
    assert not dest.exists() and no_temp_files(dest.parent)


def test_missing_in_mirror_and_bad_mirror(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DownloadError) as ei:
        fetch("mnist", LABELS, tmp_path / "o" / LABELS, mirror=tmp_path / "empty", log=quiet)
    assert "not found in mirror" in one_line(ei) and LABELS in str(ei.value)
    with pytest.raises(DownloadError, match="does not exist"):
        fetch("mnist", LABELS, tmp_path / "o" / LABELS, mirror=tmp_path / "nope", log=quiet)
    with pytest.raises(DataError, match="unknown dataset 'svhn'"):
        fetch("svhn", LABELS, tmp_path / "o" / LABELS, mirror=tmp_path / "empty")
    with pytest.raises(DataError, match="not a file of dataset 'mnist'"):
        fetch("mnist", CIFAR, tmp_path / "o" / CIFAR, mirror=tmp_path / "empty")
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_idempotent_reuse_and_stale_replacement(mirror, tmp_path):
    dest = tmp_path / LABELS
    first = fetch("mnist", LABELS, dest, mirror=mirror, log=quiet)
    mtime = dest.stat().st_mtime_ns
    second = fetch("mnist", LABELS, dest, mirror=mirror, log=quiet)
    assert second["reused"] is True and dest.stat().st_mtime_ns == mtime
    assert {k: v for k, v in second.items() if k != "reused"} == {
        k: v for k, v in first.items() if k != "reused"
    }
    dest.write_bytes(b"corrupted")
    third = fetch("mnist", LABELS, dest, mirror=mirror, log=quiet)
    assert third["reused"] is False
    assert dest.read_bytes() == (mirror / "mnist" / LABELS).read_bytes()


def test_progress_lines_are_bounded(tmp_path):
    d = tmp_path / "m" / "cifar-10"
    d.mkdir(parents=True)
    (d / CIFAR).write_bytes(np.random.default_rng(0).bytes(5_500_000))
    write_sha256sums(d)
    logs = []
    fetch("cifar10", CIFAR, tmp_path / CIFAR, mirror=tmp_path / "m", log=logs.append)
    pct = [m for m in logs if "%" in m]
    assert 3 <= len(pct) <= 21 and pct[-1].startswith(f"{CIFAR}: 100% (5.5 MB of 5.5 MB)")


# ------------------------------------------------------------------------------------ URLs


def test_file_url_mirror(mirror, tmp_path):
    url = mirror.as_uri()
    prov = fetch("cifar10", CIFAR, tmp_path / CIFAR, mirror=url, log=quiet, sleep=Sleeps())
    assert prov["source"] == f"{url}/cifar-10/{CIFAR}" and prov["mirror"] == url
    assert prov["checksum_kind"] == UNOFFICIAL
    assert (tmp_path / CIFAR).read_bytes() == (mirror / "cifar-10" / CIFAR).read_bytes()


class _Handler(http.server.SimpleHTTPRequestHandler):
    flaky: dict = {}  # path -> number of 503s still to send
    hits: list = []

    def do_GET(self):
        self.hits.append(self.path)
        if self.flaky.get(self.path, 0) > 0:
            self.flaky[self.path] -= 1
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture()
def http_mirror(tmp_path, monkeypatch):
    """A tiny HTTP server on 127.0.0.1 serving tmp_path/'www' (stopped after the test)."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    root = tmp_path / "www"
    root.mkdir()
    _Handler.flaky, _Handler.hits = {}, []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(root))
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", _Handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_http_mirror_subdir_fallback_after_404(http_mirror, mirror, tmp_path):
    root, base, handler = http_mirror
    (root / "cifar10").mkdir()  # the third subdir tried: cifar-10/ and cifar-10-lossy/ 404
    for name in (CIFAR, "SHA256SUMS"):
        (root / "cifar10" / name).write_bytes((mirror / "cifar-10" / name).read_bytes())
    sleeps = Sleeps()
    prov = fetch(
        "cifar10",
        CIFAR,
        tmp_path / "o" / CIFAR,
        mirror=base + "/",
        log=quiet,
        sleep=sleeps,
        timeout=5,
    )
    assert prov["source"] == f"{base}/cifar10/{CIFAR}"
    assert prov["checksum_kind"] == UNOFFICIAL
    assert sleeps == []  # a 404 is not retried
    assert handler.hits[:3] == [
        f"/cifar-10/{CIFAR}",
        f"/cifar-10-lossy/{CIFAR}",
        f"/cifar10/{CIFAR}",
    ]
    assert sha256_file(tmp_path / "o" / CIFAR) == sha256_file(mirror / "cifar-10" / CIFAR)


def test_http_mirror_without_sums_and_bad_sums(http_mirror, tmp_path, monkeypatch):
    root, base, _ = http_mirror
    src = labels_file(root / "mnist" / LABELS)
    monkeypatch.setitem(sources.DATASETS["mnist"]["files"][LABELS], "md5", md5_gunzip(src))
    prov = fetch("mnist", LABELS, tmp_path / LABELS, mirror=base, log=quiet, sleep=Sleeps())
    assert prov["checksum_kind"] == OFFICIAL
    (root / "mnist" / "SHA256SUMS").write_text(f"{'f' * 64}  {LABELS}\n")
    dest = tmp_path / "again" / LABELS
    with pytest.raises(ChecksumError) as ei:
        fetch("mnist", LABELS, dest, mirror=base, log=quiet, sleep=Sleeps())
    assert f"(source {base}/mnist/{LABELS}, unofficial mirror checksum)" in one_line(ei)
    assert not dest.exists() and no_temp_files(dest.parent)


def test_canonical_urls_retry_then_fall_back(http_mirror, tmp_path, monkeypatch):
    root, base, handler = http_mirror
    src = labels_file(root / "good" / LABELS)
    monkeypatch.setitem(sources.DATASETS["mnist"]["files"][LABELS], "md5", md5_gunzip(src))
    monkeypatch.setitem(
        sources.DATASETS["mnist"],
        "base_urls",
        [
            f"http://127.0.0.1:{refused_port()}/mnist/",  # connection refused: retried
            f"{base}/missing/",  # 404: not retried
            f"{base}/good/",
        ],
    )
    sleeps, logs = Sleeps(), []
    prov = fetch(
        "mnist",
        LABELS,
        tmp_path / LABELS,
        retries=3,
        backoff=2.0,
        timeout=5,
        log=logs.append,
        sleep=sleeps,
    )
    assert sleeps == [2.0, 4.0]  # backoff**1, backoff**2 after attempts 1 and 2
    assert prov["source"] == f"{base}/good/{LABELS}" and prov["mirror"] is None
    assert prov["checksum_kind"] == OFFICIAL
    assert handler.hits == [f"/missing/{LABELS}", f"/good/{LABELS}"]
    assert any("retrying in 2 s" in m for m in logs)


def test_transient_http_errors_are_retried(http_mirror, tmp_path, monkeypatch):
    root, base, handler = http_mirror
    src = labels_file(root / LABELS)
    monkeypatch.setitem(sources.DATASETS["mnist"]["files"][LABELS], "md5", md5_gunzip(src))
    monkeypatch.setitem(sources.DATASETS["mnist"], "base_urls", [base])
    handler.flaky[f"/{LABELS}"] = 2
    sleeps = Sleeps()
    prov = fetch(
        "mnist",
        LABELS,
        tmp_path / LABELS,
        retries=3,
        backoff=3.0,
        log=quiet,
        sleep=sleeps,
        timeout=5,
    )
    assert sleeps == [3.0, 9.0] and len(handler.hits) == 3 and prov["reused"] is False


def test_all_sources_fail(http_mirror, tmp_path, monkeypatch):
    _, base, _ = http_mirror
    monkeypatch.setitem(
        sources.DATASETS["mnist"],
        "base_urls",
        [f"http://127.0.0.1:{refused_port()}/", f"{base}/nothing/"],
    )
    sleeps = Sleeps()
    dest = tmp_path / "raw" / LABELS
    with pytest.raises(DownloadError) as ei:
        fetch("mnist", LABELS, dest, retries=2, backoff=2.0, log=quiet, sleep=sleeps, timeout=5)
    msg = one_line(ei)
    assert "download failed from all 2 source(s)" in msg and "HTTP 404" in msg
    assert sleeps == [2.0]
    assert not dest.exists() and no_temp_files(dest.parent)


def test_canonical_manifest():
    assert sources.urls_for("mnist", "t10k-images-idx3-ubyte.gz") == [
        "https://storage.googleapis.com/cvdf-datasets/mnist/t10k-images-idx3-ubyte.gz",
        "https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
        "http://yann.lecun.com/exdb/mnist/t10k-images-idx3-ubyte.gz",
    ]
    assert sources.urls_for("cifar10", CIFAR) == [
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    ]
    assert sources.filenames("mnist") == [
        "train-images-idx3-ubyte.gz",
        LABELS,
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]
    assert sources.mirror_subdirs("cifar10") == ["cifar-10", "cifar-10-lossy", "cifar10", "."]
    assert sources.mirror_subdirs("mnist") == ["mnist", "."]


# ----------------------------------------------------------------- the real offline mirror

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_mnist(real_mirror, tmp_path):
    provs = [fetch("mnist", f, tmp_path / f, mirror=real_mirror, log=quiet) for f in MNIST_FILES]
    for prov in provs:
        assert prov["checksum_kind"] == UNOFFICIAL
        # the payloads are the official ones (only the gzip header differs for train-*)
        assert prov["payload_md5"] == sources.file_entry("mnist", prov["filename"])["md5"]
    data = load_mnist(tmp_path)
    assert data["x_train"].shape == (60000, 28, 28) and data["x_test"].shape == (10000, 28, 28)
    assert np.bincount(data["y_train"]).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(data["y_test"]).tolist() == MNIST_TEST_COUNTS
    assert data["y_train"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data["y_test"][:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_real_cifar10(real_mirror, tmp_path):
    prov = fetch("cifar10", CIFAR, tmp_path / CIFAR, mirror=real_mirror, log=quiet)
    assert prov["checksum_kind"] == UNOFFICIAL and "cifar-10-lossy" in prov["source"]
    assert prov["md5"] != sources.file_entry("cifar10", CIFAR)["md5"]  # lossy copy
    data = read_cifar_binary_tar(tmp_path / CIFAR, tmp_path / "work", records_per_batch=10000)
    assert data["x_train"].shape == (50000, 32, 32, 3)
    assert data["x_test"].shape == (10000, 32, 32, 3)
    assert data["x_train"].dtype == np.uint8 and data["y_train"].dtype == np.int64
    assert np.bincount(data["y_train"]).tolist() == [5000] * 10
    assert np.bincount(data["y_test"]).tolist() == [1000] * 10
    assert data["label_names"] == sources.CIFAR10_CLASS_NAMES
    mean = data["x_train"].reshape(-1, 3).mean(0)
    np.testing.assert_allclose(mean, [125.27, 122.93, 113.86], atol=0.01)
