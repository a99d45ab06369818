"""float32 design matrices for the models (variant = pixels|centered|centered_bias|scaled)."""

import numpy as np

from nplab.preprocess import add_bias_column, one_hot, scale01, subtract_mean, to_float
from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.jobs import run_job

DESCRIPTION = {
    "pixels": "raw pixel values 0-255 as float32, flattened",
    "centered": "float32 pixels minus the TRAIN mean image",
    "centered_bias": "float32 pixels minus the TRAIN mean image, plus a constant-1 column",
    "scaled": "pixels / 255 as float32 in [0, 1], flattened; one-hot labels Y_*",
}


def main(sm, log):
    ds, variant = sm.wildcards.dataset, sm.wildcards.variant
    allowed = {"cifar10": {"pixels", "centered", "centered_bias"}, "mnist": {"scaled"}}
    if variant not in allowed[ds]:
        raise ValueError(
            f"{ds}: unknown preprocessing variant {variant!r}, "
            f"expected one of {sorted(allowed[ds])}"
        )
    dtype = np.float32
    with np.load(sm.input.npz) as z:
        split = {k: z[k] for k in z.files}
    with np.load(sm.input.mean) as m:
        mean = m["mean"].astype(dtype)
    splits = sorted(k[2:] for k in split if k.startswith("X_"))
    out = {}
    for s in splits:
        x = split[f"X_{s}"]
        if variant == "pixels":
            xf = to_float(x, dtype)
        elif variant == "scaled":
            xf = scale01(x, dtype)
        else:
            xf = subtract_mean(to_float(x, dtype), mean)
            if variant == "centered_bias":
                xf = add_bias_column(xf)
        out[f"X_{s}"] = xf
        out[f"y_{s}"] = split[f"y_{s}"]
        if variant == "scaled":
            out[f"Y_{s}"] = one_hot(split[f"y_{s}"], len(split["class_names"]), dtype=dtype)
    out["class_names"] = split["class_names"]
    out["image_shape"] = split["image_shape"]
    save_npz_atomic(sm.output.npz, compressed=False, **out)
    write_json_atomic(
        sm.output.meta,
        {
            "dataset": ds,
            "variant": variant,
            "description": DESCRIPTION[variant],
            "dtype": "float32",
            "mean_from": "train split only",
            "shapes": {k: list(v.shape) for k, v in out.items() if k.startswith(("X_", "Y_"))},
        },
    )
    log.info("%s/%s: %s", ds, variant, {k: v.shape for k, v in out.items() if k.startswith("X_")})


run_job(snakemake, main)
