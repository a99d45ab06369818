#!/usr/bin/env python
"""Augmentation: time per batch of each transform (default 128 images of 32x32x3, float32).

Every transform of :mod:`nplab.augment` with the parameters of the lab's ablation, plus
the whole "everything" pipeline.  Random [0, 1] pixels; best and median of --repeat
rounds, each round timing --calls consecutive batches (per-batch time reported).
Compare with the training step the augmentation is added to.

    .venv/bin/python bench/bench_augment.py
    .venv/bin/python bench/bench_augment.py --threads 1 --batch 256 --json results/bench/augment.json
"""

from __future__ import annotations

import _common

_THREADS = _common.pin_threads_from_argv()

import numpy as np  # noqa: E402

_common.ensure_nplab_importable()

from nplab.augment import build_pipeline  # noqa: E402

CASES = {
    "hflip": [{"name": "hflip", "p": 0.5}],
    "vflip": [{"name": "vflip", "p": 0.5}],
    "crop pad 4": [{"name": "crop", "pad": 4}],
    "rotate 15": [{"name": "rotate", "degrees": 15}],
    "affine": [
        {"name": "affine", "degrees": 10, "translate": 0.1, "scale": (0.9, 1.1), "shear": 5}
    ],
    "rescale 0.8-1.2": [{"name": "rescale", "scale": (0.8, 1.2)}],
    "color_jitter": [
        {"name": "color_jitter", "brightness": 0.4, "contrast": 0.4, "saturation": 0.4}
        | {"hue": 0.1, "clip": (0, 1)}
    ],
    "noise 0.05": [{"name": "noise", "sigma": 0.05}],
    "cutout 8": [{"name": "cutout", "size": 8}],
}
CASES["all of the above"] = [t for ts in CASES.values() for t in ts]


def parse_args(argv=None):
    p = _common.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--size", type=int, default=32, help="H = W")
    p.add_argument("--calls", type=int, default=10, help="batches per timed round")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    _common.apply_thread_limits(args.threads)
    info = _common.machine_info(args.threads, args.wait_idle)
    rng = np.random.default_rng(args.seed)
    x = rng.random((args.batch, args.size, args.size, 3), dtype=np.float32)
    rows, out = [], {}
    for name, cfg in CASES.items():
        pipe = build_pipeline(cfg)
        t = _common.time_it(
            lambda pipe=pipe: [pipe(x, rng) for _ in range(args.calls)],
            repeat=args.repeat,
            warmup=1,
        )
        best, median = t["best"] / args.calls, t["median"] / args.calls
        out[name] = {"config": cfg, "best_s": best, "median_s": median}
        per_img = best / args.batch
        rows.append([name, _common.fmt_s(best), _common.fmt_s(median), _common.fmt_s(per_img)])
    _common.print_table(
        ["transform", "best/batch", "median/batch", "best/image"],
        rows,
        title=f"batch {args.batch} x {args.size}x{args.size}x3 float32, {args.threads} threads",
    )
    _common.write_json(args.json, {"machine": info, "args": vars(args), "results": out})


if __name__ == "__main__":
    main()
