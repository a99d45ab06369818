"""Select the best run of an experiment table on the VALIDATION split and evaluate it on
the test split (the only test-set evaluation of the table)."""

import numpy as np
import pandas as pd

from nplab_io.atomic import write_json_atomic
from nplab_io.cnn_runs import cnn_test_net, evaluation_note, plain_accuracies
from nplab_io.jobs import run_job
from nplab_io.models import build_net, linear_scores, load_net_state


def main(sm, log):
    runs = pd.read_csv(sm.input.runs)
    metric = sm.params.metric
    ok = runs[~runs["diverged"].astype(bool)]
    if ok.empty:
        raise ValueError(f"{sm.input.runs}: every run diverged; nothing to select")
    # highest metric; ties -> first run in table order (stable)
    best = ok.loc[ok[metric].idxmax()]
    rec = next(r for r in sm.params.runs if r["run"] == best["run"])
    spec = rec["spec"]
    path = dict(zip([r["run"] for r in sm.params.runs], sm.input.params))[best["run"]]
    with np.load(sm.input.data) as z:
        X, y = np.ascontiguousarray(z["X_test"], dtype=np.float32), z["y_test"]
    with np.load(path) as z:
        state = {k: z[k] for k in z.files}
    extra = {}
    if rec["kind"] == "cnn":  # its classes, pixel shuffle and saved input statistics
        net, X, y = cnn_test_net(spec, state, sm.input.data)
        pred = net.predict(X, batch_size=1000)
        # a test-time-flip run: the single-view accuracies too, what the flip adds
        extra = plain_accuracies(spec, net, {"X_test": X, "y_test": y}, splits=("test",))
        if extra:
            extra["val_acc_plain"] = float(best["val_acc_plain"])
        extra["evaluation"] = evaluation_note(spec, extra.get("test_acc_plain"))
    elif rec["kind"] == "linear":
        pred = np.argmax(linear_scores(state["W"], X), axis=1)
    else:
        model = build_net(
            spec, int(np.prod(X.shape[1:])), int(state[f"b{len(spec['hidden_dims']) + 1}"].shape[0])
        )
        load_net_state(model, state, source=path)
        pred = model.predict(X, batch_size=2000)
    test_acc = float(np.mean(pred == y))
    log.info(
        "best of %s by %s: %s (%s) -> test acc %.4f",
        sm.params.table,
        metric,
        rec["variant"],
        rec["run"],
        test_acc,
    )
    classes = int(max(y.max(), pred.max())) + 1
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    write_json_atomic(
        sm.output.best,
        {
            "table": sm.params.table,
            "selected_by": metric,
            "variant": rec["variant"],
            "run": rec["run"],
            "kind": rec["kind"],
            "spec": spec,
            "train_acc": float(best["train_acc"]),
            "val_acc": float(best["val_acc"]),
            "test_acc": test_acc,
            "num_test": int(len(y)),
            "candidates": int(len(runs)),
            "diverged_candidates": int(len(runs) - len(ok)),
            "confusion": confusion.tolist(),
            "predictions": pred.tolist(),
        }
        | extra,
    )


run_job(snakemake, main)
