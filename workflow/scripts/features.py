"""HOG + hue-histogram features for the CIFAR-10 splits, standardised with TRAIN stats."""

import time

import numpy as np

from nplab.features import extract_features, feature_names
from nplab.preprocess import add_bias_column, standardize_apply, standardize_fit
from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.jobs import run_job


def main(sm, log):
    hog = dict(sm.params.hog)
    hue_bins = int(sm.params.hue_bins)
    with np.load(sm.input.npz) as z:
        split = {k: z[k] for k in z.files}
    shape = tuple(int(s) for s in split["image_shape"])
    # dev is a subset of train: reuse the train features instead of recomputing them.
    parts = ["train", "val", "test"]
    images = np.concatenate([split[f"X_{s}"] for s in parts]).reshape((-1,) + shape)
    t0 = time.perf_counter()
    feats = extract_features(
        images, hog=hog, hue_bins=hue_bins, n_jobs=sm.threads, chunk_size=int(sm.params.chunk_size)
    )
    secs = time.perf_counter() - t0
    log.info(
        "features for %d images in %.1f s with %d process(es) (%.0f images/s)",
        len(images),
        secs,
        sm.threads,
        len(images) / secs,
    )
    raw, start = {}, 0
    for s in parts:
        n = len(split[f"y_{s}"])
        raw[s] = feats[start : start + n]
        start += n
    if "idx_dev" in split:
        pos = np.searchsorted(split["idx_train"], split["idx_dev"])
        if not np.array_equal(split["idx_train"][pos], split["idx_dev"]):
            raise ValueError("split.npz: dev indices are not a subset of the train indices")
        raw["dev"] = raw["train"][pos]
    mean, std = standardize_fit(raw["train"])
    out = {}
    for s, f in raw.items():
        out[f"X_{s}"] = add_bias_column(standardize_apply(f, mean, std))
        out[f"y_{s}"] = split[f"y_{s}"]
    out.update(
        feature_mean=mean,
        feature_std=std,
        class_names=split["class_names"],
        feature_names=np.array(feature_names(hog, hue_bins) + ["bias"]),
    )
    save_npz_atomic(sm.output.npz, compressed=False, **out)
    write_json_atomic(
        sm.output.meta,
        {
            "hog": hog,
            "hue_bins": hue_bins,
            "n_features": int(feats.shape[1]),
            "n_features_with_bias": int(feats.shape[1]) + 1,
            "standardised_with": "train split mean and std",
            "images": int(len(images)),
            "threads": int(sm.threads),
            "descriptor": "scikit-image hog on the grey image (centred gradients, per-block "
            "normalisation) + hue histogram of skimage.color.rgb2hsv; the course's "
            "hand-written HOG uses forward differences and no block normalisation",
            "shapes": {k: list(v.shape) for k, v in out.items() if k.startswith("X_")},
        },
    )


run_job(snakemake, main)
