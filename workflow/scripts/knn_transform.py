"""knn-2: L1 1-NN on the course subsample after one preprocessing transform.

Statistics (means, standard deviations) come from the training subsample and are applied
to both training and test images.  'raw' is the untransformed baseline; 'rot90' rotates
every image by 90 degrees (np.rot90 on the spatial axes: a permutation of the pixels, no
interpolation)."""

import time

import numpy as np

from nplab.knn import KNearestNeighbor, accuracy
from nplab_io.atomic import save_npz_atomic
from nplab_io.jobs import run_job

DESCRIPTION = {
    "raw": "raw pixels (baseline)",
    "global_mean": "subtract the mean of all pixels",
    "pixel_mean": "subtract the per-pixel mean image",
    "global_mean_std": "subtract the mean of all pixels, divide by the std of all pixels",
    "pixel_mean_std": "subtract the per-pixel mean, divide by the per-pixel std",
    "rot90": "rotate every image by 90 degrees with np.rot90, without interpolation",
}


def transform(name, Xtr, Xte, shape, dtype):
    if name in ("raw", "rot90"):
        if name == "rot90":
            rot = lambda x: np.rot90(x.reshape((-1,) + shape), k=1, axes=(1, 2)).reshape(len(x), -1)  # noqa: E731
            Xtr, Xte = rot(Xtr), rot(Xte)
        # still 8-bit integers: exact distances (float32 holds them exactly)
        return np.ascontiguousarray(Xtr, np.float32), np.ascontiguousarray(Xte, np.float32)
    A, B = Xtr.astype(dtype), Xte.astype(dtype)
    if name in ("global_mean", "global_mean_std"):
        mu, sd = A.mean(dtype=np.float64), A.std(dtype=np.float64)
    elif name in ("pixel_mean", "pixel_mean_std"):
        mu, sd = A.mean(axis=0, dtype=np.float64), A.std(axis=0, dtype=np.float64)
        sd = np.where(sd > 0, sd, 1.0)
    else:
        raise ValueError(f"unknown transform {name!r}, expected one of {sorted(DESCRIPTION)}")
    A -= np.asarray(mu, dtype)
    B -= np.asarray(mu, dtype)
    if name.endswith("_std"):
        A /= np.asarray(sd, dtype)
        B /= np.asarray(sd, dtype)
    return A, B


def main(sm, log):
    name = sm.wildcards.transform
    dtype = np.dtype(sm.params.dtype)
    with np.load(sm.input.npz) as z:
        X_train, y_train = z["X_train"], z["y_train"]
        X_test, y_test = z["X_test"], z["y_test"]
        shape = tuple(int(s) for s in z["image_shape"])
    A, B = transform(name, X_train, X_test, shape, dtype)
    t0 = time.perf_counter()
    knn = KNearestNeighbor(metric="l1", memory_budget_bytes=int(sm.params.budget)).fit(A, y_train)
    dist, idx = knn.kneighbors(B, 1, return_distance=True)
    secs = time.perf_counter() - t0
    pred = y_train[idx[:, 0]]
    acc = accuracy(y_test, pred)
    log.info(
        "%s (%s): L1 1-NN accuracy %.4f in %.1f s (%s)",
        name,
        DESCRIPTION[name],
        acc,
        secs,
        "exact uint8 kernel" if knn.integer_l1 else f"{A.dtype} kernel",
    )
    save_npz_atomic(
        sm.output.npz,
        compressed=False,
        pred=pred,
        nn_index=idx[:, 0],
        nn_distance=dist[:, 0].astype(np.float64),
        accuracy=np.float64(acc),
        seconds=np.float64(secs),
        transform=np.array(name),
        description=np.array(DESCRIPTION[name]),
        dtype=np.array(str(A.dtype)),
    )


run_job(snakemake, main)
