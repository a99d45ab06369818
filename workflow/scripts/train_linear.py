"""Train one linear classifier run (multiclass SVM or softmax, minibatch SGD as in the course).

Writes the run's metrics (JSON), timing (JSON), loss history (.npz) and weights W (.npz).
"""

import time

import numpy as np

from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.jobs import run_job
from nplab_io.models import build_linear
from nplab_io.runs import flatten_for_table

_TAIL = 50  # final loss = mean of the last iterations' minibatch losses


def main(sm, log):
    spec = dict(sm.params.spec)
    run = sm.wildcards.run
    with np.load(sm.input.data) as z:
        data = {
            k: np.ascontiguousarray(z[k], dtype=np.float32) if k.startswith("X_") else z[k]
            for k in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")
        }
    n = spec["num_train"]
    if n is not None:
        if n > len(data["y_train"]):
            raise ValueError(
                f"{sm.input.data}: num_train={n} but the train split has only "
                f"{len(data['y_train'])} examples"
            )
        data["X_train"], data["y_train"] = data["X_train"][:n], data["y_train"][:n]
    model = build_linear(spec, num_classes=10)
    t0 = time.perf_counter()
    model.fit(data["X_train"], data["y_train"])
    secs = time.perf_counter() - t0
    hist = model.loss_history_
    acc = lambda s: float(np.mean(model.predict(data[f"X_{s}"]) == data[f"y_{s}"]))  # noqa: E731
    metrics = {
        "run": run,
        "kind": "linear",
        **flatten_for_table(spec),
        "train_acc": acc("train"),
        "val_acc": acc("val"),
        "test_acc": acc("test") if spec["test"] else None,
        "initial_loss": float(hist[0]) if len(hist) else None,
        "final_loss": float(hist[-_TAIL:].mean()) if len(hist) else None,
        "iterations_run": int(model.n_iter_),
        "diverged": bool(model.diverged_),
        "num_train_used": int(len(data["y_train"])),
    }
    log.info(
        "done: train %.4f val %.4f diverged %s in %.1f s",
        metrics["train_acc"],
        metrics["val_acc"],
        metrics["diverged"],
        secs,
    )
    save_npz_atomic(sm.output.params, compressed=False, W=model.W_)
    save_npz_atomic(sm.output.history, compressed=True, loss=hist)
    write_json_atomic(
        sm.output.timing,
        {"run": run, "wall_time_s": round(secs, 3), "train_time_s": round(secs, 3)},
    )
    write_json_atomic(sm.output.metrics, metrics)


run_job(snakemake, main)
