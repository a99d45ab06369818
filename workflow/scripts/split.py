"""Split a dataset as in the spec; store flattened uint8 images and int64 labels."""

import numpy as np

from nplab.preprocess import cifar_split_indices, flatten, mnist_split_indices
from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.jobs import run_job


def main(sm, log):
    ds = sm.wildcards.dataset
    p = dict(sm.params.split)
    seed = int(sm.params.seed)
    with np.load(sm.input.npz) as z:
        x_train, y_train = z["x_train"], z["y_train"]
        x_test, y_test = z["x_test"], z["y_test"]
        class_names = z["class_names"]
    if ds == "cifar10":
        idx = cifar_split_indices(
            len(x_train),
            len(x_test),
            num_training=p["num_training"],
            num_validation=p["num_validation"],
            num_test=p["num_test"],
            num_dev=p["num_dev"],
            seed=seed,
        )
        src = {"train": "train", "val": "train", "dev": "train", "test": "test"}
    else:
        pool = p["num_train_pool"] or len(x_train)
        n_test = p["num_test"] or len(x_test)
        if pool > len(x_train) or n_test > len(x_test):
            raise ValueError(
                f"data.mnist: num_train_pool={pool} / num_test={n_test} exceed the data "
                f"({len(x_train)} train, {len(x_test)} test images)"
            )
        idx = mnist_split_indices(pool, val_fraction=p["val_fraction"], seed=seed)
        idx["test"] = np.arange(n_test, dtype=np.int64)
        src = {"train": "train", "val": "train", "test": "test"}
    pools = {"train": (x_train, y_train), "test": (x_test, y_test)}
    out, sizes, counts = {}, {}, {}
    for name, ix in idx.items():
        x, y = pools[src[name]]
        out[f"X_{name}"] = flatten(x[ix])
        out[f"y_{name}"] = y[ix].astype(np.int64)
        out[f"idx_{name}"] = np.asarray(ix, dtype=np.int64)
        sizes[name] = int(len(ix))
        counts[name] = np.bincount(y[ix], minlength=len(class_names)).tolist()
    out["image_shape"] = np.array(x_train.shape[1:], dtype=np.int64)
    out["class_names"] = class_names
    save_npz_atomic(sm.output.npz, compressed=False, **out)
    write_json_atomic(
        sm.output.meta,
        {
            "dataset": ds,
            "seed": seed,
            "params": p,
            "sizes": sizes,
            "class_counts": counts,
            "source_of_split": src,
            "image_shape": [int(s) for s in x_train.shape[1:]],
        },
    )
    log.info("%s split sizes: %s", ds, sizes)


run_job(snakemake, main)
