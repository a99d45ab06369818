"""Shared helpers for the on-demand benchmarks in ``bench/``.

Nothing here is a test: the scripts print numbers (and optionally write them as
JSON) so that a person can compare nplab against baselines measured in the same
run, on the same machine, with the same thread count.

Thread control
--------------
``pin_threads_from_argv()`` must run *before* numpy (or torch) is imported: it
reads ``--threads`` from ``sys.argv`` and exports ``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and friends, so BLAS pools are
created at the right size.  ``apply_thread_limits()`` then also caps every
already-loaded pool through threadpoolctl and calls ``torch.set_num_threads``
when torch is importable.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any


def ensure_nplab_importable() -> None:
    """Make ``import nplab`` work from a plain checkout (no install needed)."""
    try:
        importlib.import_module("nplab")
    except ImportError:
        src = Path(__file__).resolve().parent.parent / "src"
        sys.path.insert(0, str(src))


ensure_nplab_importable()
from nplab._threads import THREAD_ENV_VARS as _THREAD_ENV_VARS  # noqa: E402  (no numpy)

# Keep the threadpoolctl controller alive for the whole process.
_LIMITER: Any = None


def default_threads() -> int:
    return os.cpu_count() or 1


def pin_threads_from_argv(argv: Sequence[str] | None = None) -> int:
    """Export the thread-count env vars from ``--threads`` before numpy loads."""
    argv = list(sys.argv[1:] if argv is None else argv)
    n = default_threads()
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            n = int(argv[i + 1])
        elif a.startswith("--threads="):
            n = int(a.split("=", 1)[1])
    for var in _THREAD_ENV_VARS:
        os.environ[var] = str(n)
    return n


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--threads",
        type=int,
        default=default_threads(),
        help="threads for BLAS/OpenMP (numpy, scikit-learn) and torch",
    )
    int_arg(p, "--repeat", 3, "timing repeats (best of N is reported)")
    int_arg(p, "--seed", 0, "seed for the random data")
    add_wait_idle(
        p, "before timing, wait up to this long for other processes to leave the CPU idle"
    )
    p.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the numbers as JSON here",
    )
    return p


def int_arg(p: argparse.ArgumentParser, name: str, default: int, help: str | None = None) -> None:
    """An integer option ``name`` of ``p``."""
    p.add_argument(name, type=int, default=default, help=help)


def add_wait_idle(p: argparse.ArgumentParser, help: str) -> None:
    """``--wait-idle SECONDS`` (see :func:`wait_for_idle`)."""
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS", help=help)


def optional_import(name: str) -> Any | None:
    """Import a baseline package, or print a note and return None."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError, or a broken install
        print(
            f"note: baseline '{name}' skipped ({type(exc).__name__}: {exc}); "
            f"install it with: pip install -e '.[bench]'"
        )
        return None


def apply_thread_limits(n: int) -> None:
    """Cap every loaded BLAS/OpenMP pool and torch's intra-op pool to ``n``."""
    global _LIMITER
    from threadpoolctl import threadpool_limits

    _LIMITER = threadpool_limits(limits=n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def blas_summary() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    keep = (
        "user_api",
        "internal_api",
        "prefix",
        "version",
        "num_threads",
        "architecture",
        "threading_layer",
    )
    out = []
    for pool in threadpool_info():
        d = {k: pool.get(k) for k in keep if pool.get(k) is not None}
        d["lib"] = Path(pool.get("filepath", "")).name
        out.append(d)
    return out


def wait_for_idle(max_wait: float, threshold: float = 0.15) -> None:
    """Poll /proc/stat until the CPU is (nearly) idle or ``max_wait`` seconds pass."""
    if max_wait <= 0:
        return
    t_end = time.monotonic() + max_wait
    while True:
        busy = cpu_busy_fraction(2.0)
        if busy is None or busy <= threshold:
            return
        if time.monotonic() >= t_end:
            print(
                f"note: machine still {busy:.0%} busy after waiting {max_wait:.0f} s; going ahead"
            )
            return
        print(f"waiting for an idle CPU (currently {busy:.0%} busy) ...", flush=True)
        time.sleep(8.0)


def machine_info(threads: int, wait_idle: float = 0.0) -> dict[str, Any]:
    """Collect and print what the numbers depend on."""
    import numpy as np

    wait_for_idle(wait_idle)

    info: dict[str, Any] = {
        "os_cpu_count": os.cpu_count(),
        "threads_requested": threads,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "numpy": np.__version__,
        "threadpools": blas_summary(),
    }
    for mod in ("torch", "sklearn"):
        if mod in sys.modules:
            info[mod] = sys.modules[mod].__version__
    if "torch" in sys.modules:
        info["torch_num_threads"] = sys.modules["torch"].get_num_threads()

    print("=" * 78)
    print(f"machine : {info['processor']}  ({info['platform']})")
    print(f"threads : os.cpu_count()={info['os_cpu_count']}, requested --threads={threads}")
    versions = f"python {info['python']}, numpy {info['numpy']}"
    if "torch" in info:
        versions += f", torch {info['torch']} (set_num_threads -> {info['torch_num_threads']})"
    if "sklearn" in info:
        versions += f", scikit-learn {info['sklearn']}"
    print(f"versions: {versions}")
    print("threadpools (threadpoolctl):")
    for p in info["threadpools"]:
        extra = ", ".join(f"{k}={p[k]}" for k in ("architecture", "threading_layer") if k in p)
        print(
            f"  - {p['user_api']:<6} {p.get('internal_api', ''):<9} {p.get('version') or '?':<14} "
            f"num_threads={p.get('num_threads')}  {p['lib']}" + (f"  ({extra})" if extra else "")
        )
    info["background_load_before"] = report_background_load("before")
    print("=" * 78)
    return info


def _proc_stat_cpu() -> tuple[int, int] | None:
    try:
        with open("/proc/stat") as fh:
            vals = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    return sum(vals[:8]), idle


def cpu_busy_fraction(interval: float = 1.0) -> float | None:
    """Fraction of all CPUs busy during ``interval`` seconds (this process idles meanwhile)."""
    a = _proc_stat_cpu()
    time.sleep(interval)
    b = _proc_stat_cpu()
    if a is None or b is None or b[0] == a[0]:
        return None
    return 1.0 - (b[1] - a[1]) / (b[0] - a[0])


def report_background_load(label: str = "before") -> dict[str, Any]:
    """Print (and return) how busy the machine is with *other* work right now.

    Timings and ratios are only trustworthy on an otherwise idle machine.
    """
    busy = cpu_busy_fraction(1.0)
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        load1 = None
    msg = (
        f"background load {label}: CPU busy {busy:.0%} over 1 s"
        if busy is not None
        else f"background load {label}: unknown"
    )
    if load1 is not None:
        msg += f", loadavg(1 min) {load1:.2f}"
    print(msg)
    if busy is not None and busy > 0.15:
        print(
            "WARNING: other processes are using the CPU; timings (and ratios) are unreliable. "
            "Re-run on an idle machine."
        )
    return {"label": label, "cpu_busy": busy, "loadavg1": load1}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def time_it(
    fn: Callable[[], Any],
    repeat: int = 3,
    warmup: int = 0,
    setup: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Run ``fn`` ``repeat`` times (after ``warmup`` untimed runs).

    ``setup`` (untimed) runs before every call, e.g. to re-create a model.
    Returns best / median / all times in seconds.
    """
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    times = []
    for _ in range(max(1, repeat)):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"best": min(times), "median": statistics.median(times), "times": times}


def time_interleaved(
    cases: dict[str, dict[str, Any]],
    repeat: int = 3,
    verbose: bool = True,
) -> dict[str, dict[str, Any]]:
    """Time several contenders in interleaved rounds (A, B, C, A, B, C, ...).

    On a shared or frequency-scaling machine the speed drifts over minutes;
    interleaving exposes every contender to the same drift, so best-of-N
    ratios stay fair.  ``cases`` maps a name to ``{"fn": callable,
    "setup": callable | None, "warmup": int}``; ``setup`` runs untimed before
    every call.  Returns ``{name: {"best", "median", "times"}}``.
    """
    for c in cases.values():
        for _ in range(c.get("warmup", 0)):
            if c.get("setup") is not None:
                c["setup"]()
            c["fn"]()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for r in range(max(1, repeat)):
        for name, c in cases.items():
            if c.get("setup") is not None:
                c["setup"]()
            t0 = time.perf_counter()
            c["fn"]()
            times[name].append(time.perf_counter() - t0)
        if verbose:
            print(
                f"  round {r + 1}/{repeat}: "
                + ", ".join(f"{n} {fmt_s(ts[-1])}" for n, ts in times.items()),
                flush=True,
            )
    return {
        n: {"best": min(ts), "median": statistics.median(ts), "times": ts}
        for n, ts in times.items()
    }


def matmul_gflops(
    m: int,
    k: int,
    n: int,
    dtype: Any = "float32",
    repeat: int = 5,
    min_time: float = 0.2,
    seed: int = 0,
) -> dict[str, Any]:
    """GFLOP/s of a plain ``np.matmul`` of (m×k)@(k×n); 2·m·k·n flops per call.

    Small shapes are called in an inner loop until each sample lasts
    ``min_time`` seconds, so timer resolution does not matter.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=np.float32).astype(dtype, copy=False)
    b = rng.standard_normal((k, n), dtype=np.float32).astype(dtype, copy=False)
    out = np.empty((m, n), dtype=np.result_type(a, b))
    np.matmul(a, b, out=out)  # warm up
    t0 = time.perf_counter()
    np.matmul(a, b, out=out)
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(min_time / one))

    def run() -> None:
        for _ in range(inner):
            np.matmul(a, b, out=out)

    t = time_it(run, repeat=repeat)
    flops = 2.0 * m * k * n
    best_per_call = t["best"] / inner
    return {
        "shape": [m, k, n],
        "dtype": str(np.dtype(dtype)),
        "seconds_per_call": best_per_call,
        "gflops": flops / best_per_call / 1e9,
        "calls_per_sample": inner,
    }


def fmt_s(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 99.5:
        return f"{x:.0f} s"
    if x >= 0.9995:
        return f"{x:.2f} s"
    if x >= 0.9995e-3:
        return f"{x * 1e3:.1f} ms"
    return f"{x * 1e6:.0f} us"


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def timing_row(label: str, t: dict[str, float], *cells: str) -> list[str]:
    """A table row: ``label``, the best and the median time of ``t``, then ``cells``."""
    return [label, fmt_s(t["best"]), fmt_s(t["median"]), *cells]


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None
) -> None:
    rows = [["-" if c is None else str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, r)]
    if title:
        print()
        print(title)
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def goal_mark(value: float | None, goal: float, higher_is_better: bool = False) -> str:
    if value is None:
        return "n/a"
    ok = value >= goal if higher_is_better else value <= goal
    op = ">=" if higher_is_better else "<="
    return f"{'met' if ok else 'MISSED'} (goal {op} {goal:g})"


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is None:
        return
    path = Path(path)
    if path.parent and not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(payload)
    payload.setdefault("written_at", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    with open(path, "w") as fh:
        json.dump(payload, fh, indent=2, default=_json_default)
        fh.write("\n")
    print(f"\nwrote {path}")


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    if isinstance(o, Path):
        return str(o)
    return str(o)


def write_results(args, benchmark: str, info: dict[str, Any], results: dict[str, Any]) -> None:
    """Report the background load after the run, then write ``--json`` (if given): the
    benchmark's name, the machine ``info``, the command-line parameters and ``results``."""
    info["background_load_after"] = report_background_load("after")
    write_json(
        args.json,
        {
            "benchmark": benchmark,
            "machine": info,
            "params": {k: (str(v) if k == "json" else v) for k, v in vars(args).items()},
            "results": results,
        },
    )


def proc_status_bytes(field: str) -> int | None:
    """A memory field of /proc/self/status (``VmRSS``, ``VmHWM``, ...) in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current RSS (/proc/self/clear_refs); False where the kernel
    does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
