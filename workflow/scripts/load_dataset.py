"""Parse verified raw files into one compressed .npz per dataset plus provenance.

A raw file that fails to parse (or fails the archive safety checks) is removed with its
provenance (nplab_io.rawdata), so the next run downloads it again."""

import json
from pathlib import Path

import numpy as np

from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.checksums import sha256_file
from nplab_io.jobs import run_job
from nplab_io.rawdata import load_raw_dataset


def main(sm, log):
    ds = sm.wildcards.dataset
    arrays = load_raw_dataset(ds, sm.input.files)
    if ds == "mnist":
        class_names = [str(i) for i in range(10)]
    else:
        class_names = list(arrays.pop("label_names"))
    out = {k: arrays[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    for k in ("x_train", "x_test"):
        if out[k].dtype != np.uint8:
            raise ValueError(f"{ds}: {k} has dtype {out[k].dtype}, expected uint8")
    for k in ("y_train", "y_test"):
        out[k] = out[k].astype(np.int64, copy=False)
    out["class_names"] = np.array(class_names)
    save_npz_atomic(sm.output.npz, **out)
    raw = [json.loads(Path(p).read_text()) for p in sm.input.provenance]
    official = all(r.get("checksum_kind") == "official checksum" for r in raw)
    prov = {
        "dataset": ds,
        "files": raw,
        "all_official_checksums": official,
        "lossy_mirror": any("lossy" in str(r.get("source", "")) for r in raw),
        "shapes": {k: list(v.shape) for k, v in out.items()},
        "dtypes": {k: str(v.dtype) for k, v in out.items()},
        "class_counts": {
            "train": np.bincount(out["y_train"], minlength=10).tolist(),
            "test": np.bincount(out["y_test"], minlength=10).tolist(),
        },
        "npz_sha256": sha256_file(sm.output.npz),
        "npz_bytes": Path(sm.output.npz).stat().st_size,
    }
    write_json_atomic(sm.output.provenance, prov)
    log.info("%s: train %s test %s", ds, out["x_train"].shape, out["x_test"].shape)


run_job(snakemake, main)
