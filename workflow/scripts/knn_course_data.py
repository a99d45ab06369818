"""The course's kNN subsample: the first N train / M test images of the splits (uint8)."""

import json

import numpy as np

from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.jobs import run_job


def main(sm, log):
    c = dict(sm.params.course)
    seed = int(sm.params.seed)
    with np.load(sm.input.npz) as z:
        split = {
            k: z[k]
            for k in (
                "X_train",
                "y_train",
                "idx_train",
                "X_test",
                "y_test",
                "idx_test",
                "image_shape",
                "class_names",
            )
        }
    prov = json.loads(open(sm.input.provenance).read())
    n_tr, n_te = int(c["num_train"]), int(c["num_test"])
    have_tr, have_te = len(split["y_train"]), len(split["y_test"])
    if n_tr > have_tr or n_te > have_te:
        raise ValueError(
            f"knn.course: num_train={n_tr} / num_test={n_te} exceed the train "
            f"({have_tr}) / test ({have_te}) splits"
        )
    if c["subsample"] == "first":
        itr, ite = np.arange(n_tr), np.arange(n_te)
        how = (
            f"the first {n_tr} images of the train split and the first {n_te} of the "
            f"test split, in order (as the course does)"
        )
    else:
        rng = np.random.default_rng(seed)
        itr = np.sort(rng.choice(have_tr, size=n_tr, replace=False))
        ite = np.sort(rng.choice(have_te, size=n_te, replace=False))
        how = f"a random subset (seed {seed}) of {n_tr} train / {n_te} test images"
    out = {
        "X_train": split["X_train"][itr],
        "y_train": split["y_train"][itr],
        "X_test": split["X_test"][ite],
        "y_test": split["y_test"][ite],
        "idx_train": split["idx_train"][itr],
        "idx_test": split["idx_test"][ite],
        "image_shape": split["image_shape"],
        "class_names": split["class_names"],
    }
    save_npz_atomic(sm.output.npz, compressed=False, **out)
    n_cls = len(split["class_names"])
    write_json_atomic(
        sm.output.meta,
        {
            "subsample": c["subsample"],
            "protocol": how,
            "seed": seed,
            "num_train": n_tr,
            "num_test": n_te,
            "dataset_train_index_first": int(out["idx_train"].min()),
            "dataset_train_index_last": int(out["idx_train"].max()),
            "dataset_test_index_first": int(out["idx_test"].min()),
            "dataset_test_index_last": int(out["idx_test"].max()),
            "train_class_counts": ",".join(map(str, np.bincount(out["y_train"], minlength=n_cls))),
            "test_class_counts": ",".join(map(str, np.bincount(out["y_test"], minlength=n_cls))),
            "dtype": str(out["X_train"].dtype),
            "lossy_mirror": bool(prov.get("lossy_mirror", False)),
        },
    )
    log.info("course subsample: %s", how)


run_job(snakemake, main)
