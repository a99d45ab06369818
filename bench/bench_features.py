"""On-demand benchmark (not a test): HOG + hue-histogram extraction speed.

Times ``nplab.features.extract_features`` on N random 32x32x3 uint8 images with
n_jobs=1 and n_jobs=2, checks both give identical features, and prints seconds,
images/s and the speedup.

    python bench/bench_features.py --n 60000 --chunk-size 2000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from nplab.features import extract_features


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60000, help="number of images (default 60000)")
    ap.add_argument("--chunk-size", type=int, default=2000, help="images per chunk")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random images")
    ap.add_argument(
        "--jobs", type=int, nargs="+", default=[1, 2], help="n_jobs values to time (default: 1 2)"
    )
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    images = rng.integers(0, 256, size=(args.n, 32, 32, 3), dtype=np.uint8)
    print(f"{args.n} images 32x32x3, chunk_size={args.chunk_size}, cpus={os.cpu_count()}")
    times, ref = {}, None
    for n_jobs in args.jobs:
        t0 = time.perf_counter()
        feats = extract_features(images, n_jobs=n_jobs, chunk_size=args.chunk_size)
        times[n_jobs] = dt = time.perf_counter() - t0
        same = "" if ref is None else f"  identical={np.array_equal(feats, ref)}"
        ref = feats if ref is None else ref
        print(
            f"n_jobs={n_jobs}: {dt:8.2f} s  {args.n / dt:9.0f} images/s  shape={feats.shape}{same}"
        )
    base = args.jobs[0]
    for n_jobs in args.jobs[1:]:
        print(f"speedup n_jobs={n_jobs} vs n_jobs={base}: {times[base] / times[n_jobs]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
