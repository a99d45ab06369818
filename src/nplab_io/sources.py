"""Where the raw datasets come from, as data: file names, official checksums, URLs.

Official checksums:

* MNIST — md5 of the DECOMPRESSED IDX payload of each ``.gz`` (the ``.gz`` bytes depend on
  the gzip header timestamp, which differs between otherwise identical copies);
* CIFAR-10 — md5 of the ``cifar-10-binary.tar.gz`` archive itself (binary version only;
  the pickled "python" version is never used).

``mirror_subdirs`` are the folders tried, in order, under a mirror root.
Tests may monkeypatch the nested dicts (e.g. an official md5) with ``monkeypatch.setitem``.
"""

from __future__ import annotations

from nplab_io.errors import DataError

__all__ = [
    "DATASETS",
    "MNIST_BASE_URLS",
    "CIFAR10_URL",
    "CIFAR10_CLASS_NAMES",
    "datasets",
    "get_dataset",
    "filenames",
    "file_entry",
    "urls_for",
    "mirror_subdirs",
]

MNIST_BASE_URLS = [
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"

CIFAR10_CLASS_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]

# checksum_of: "payload" = md5 of the gunzipped content; "archive" = md5 of the file.
DATASETS: dict[str, dict] = {
    "mnist": {
        "files": {
            "train-images-idx3-ubyte.gz": {
                "md5": "6bbc9ace898e44ae57da46a324031adb",
                "checksum_of": "payload",
                "split": "train",
                "kind": "images",
            },
            "train-labels-idx1-ubyte.gz": {
                "md5": "a25bea736e30d166cdddb491f175f624",
                "checksum_of": "payload",
                "split": "train",
                "kind": "labels",
            },
            "t10k-images-idx3-ubyte.gz": {
                "md5": "2646ac647ad5339dbf082846283269ea",
                "checksum_of": "payload",
                "split": "test",
                "kind": "images",
            },
            "t10k-labels-idx1-ubyte.gz": {
                "md5": "27ae3e4e09519cfbb04c329615203637",
                "checksum_of": "payload",
                "split": "test",
                "kind": "labels",
            },
        },
        # Each file is fetched as <base URL><filename>, bases tried in this order.
        "base_urls": MNIST_BASE_URLS,
        "mirror_subdirs": ["mnist", "."],
    },
    "cifar10": {
        "files": {
            "cifar-10-binary.tar.gz": {
                "md5": "c32a1d4ab5d03f1284b67883e8d87530",
                "checksum_of": "archive",
                "urls": [CIFAR10_URL],
            },
        },
        "base_urls": [],
        "mirror_subdirs": ["cifar-10", "cifar-10-lossy", "cifar10", "."],
    },
}


def datasets() -> list[str]:
    return list(DATASETS)


def get_dataset(dataset: str) -> dict:
    try:
        return DATASETS[dataset]
    except KeyError:
        raise DataError(
            f"unknown dataset {dataset!r}: expected one of {', '.join(DATASETS)}"
        ) from None


def filenames(dataset: str) -> list[str]:
    """The raw files of ``dataset``, in manifest order."""
    return list(get_dataset(dataset)["files"])


def file_entry(dataset: str, filename: str) -> dict:
    files = get_dataset(dataset)["files"]
    try:
        return files[filename]
    except KeyError:
        raise DataError(
            f"{filename}: not a file of dataset {dataset!r}: expected one of {', '.join(files)}"
        ) from None


def urls_for(dataset: str, filename: str) -> list[str]:
    """Canonical URLs of one file, in the order they are tried."""
    entry = file_entry(dataset, filename)
    if entry.get("urls"):
        return list(entry["urls"])
    return [base.rstrip("/") + "/" + filename for base in get_dataset(dataset)["base_urls"]]


def mirror_subdirs(dataset: str) -> list[str]:
    return list(get_dataset(dataset)["mirror_subdirs"])
