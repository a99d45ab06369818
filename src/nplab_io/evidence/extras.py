"""Evidence for the questions of the lab's extras: uat-1 (universal approximation)."""

from __future__ import annotations

import numpy as np

from nplab.nets import FullyConnectedNet
from nplab.solver import Solver
from nplab.toy import polygon_net_predict, ring_dataset, ring_net_predict
from nplab_io.figures import pyplot

GRID = 200  # points per axis of the decision-region images


def _accuracy(pred, y) -> float:
    return float(np.mean(pred == y))


def _train(X, y, X_val, y_val, width: int, depth: int, settings: dict) -> FullyConnectedNet:
    """A ReLU net (the trainable stand-in for threshold units) of ``depth`` hidden layers."""
    model = FullyConnectedNet(
        [width] * depth,
        input_dim=2,
        num_classes=2,
        init="he",
        dtype=np.float64,
        seed=int(settings["seed"]),
    )
    solver = Solver(
        model,
        {"X_train": X, "y_train": y, "X_val": X_val, "y_val": y_val},
        update_rule="adam",
        optim_config={"learning_rate": float(settings["lr"])},
        batch_size=int(settings["batch_size"]),
        num_epochs=int(settings["epochs"]),
        seed=int(settings["seed"]),
        num_train_samples=None,
    )
    solver.train()
    return model


def _grid() -> np.ndarray:
    t = np.linspace(-1.0, 1.0, GRID)
    gx, gy = np.meshgrid(t, t)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def compute_uat_1(data, settings):
    """Hand-built threshold nets (one hidden layer: a convex polygon; two: the ring as one
    polygon minus another) and trained ReLU nets of growing width, 1 and 2 hidden layers."""
    rng = np.random.default_rng(int(settings["seed"]))
    r_in, r_out = float(settings["r_inner"]), float(settings["r_outer"])
    X, y = ring_dataset(int(settings["n_train"]), rng, r_in, r_out)
    X_test, y_test = ring_dataset(int(settings["n_test"]), rng, r_in, r_out)
    disk = (np.hypot(X_test[:, 0], X_test[:, 1]) < r_out).astype(np.int64)
    ks, widths = [int(k) for k in settings["polygon_sides"]], [int(w) for w in settings["widths"]]
    ev = {
        "n_train": len(y),
        "n_test": len(y_test),
        "r_inner": r_in,
        "r_outer": r_out,
        "ring_fraction": float(y_test.mean()),
        "polygon_sides": ks,
        "disk_acc_one_layer": [_accuracy(polygon_net_predict(X_test, k, r_out), disk) for k in ks],
        "ring_acc_two_layers": [
            _accuracy(ring_net_predict(X_test, k, r_in, r_out), y_test) for k in ks
        ],
        "ring_acc_best_convex": float(max(y_test.mean(), 1 - y_test.mean())),
        "widths": widths,
    }
    grid, nets = _grid(), {}
    for depth in (1, 2):
        accs, params = [], []
        for w in widths:
            model = _train(X, y, X_test, y_test, w, depth, settings)
            accs.append(_accuracy(model.predict(X_test), y_test))
            params.append(int(sum(p.size for p in model.params.values())))
            nets[(depth, w)] = model.predict(grid).reshape(GRID, GRID)
        ev[f"trained_acc_depth{depth}"] = accs
        ev[f"trained_params_depth{depth}"] = params
    goal = float(settings["good_accuracy"])
    ev["good_accuracy"] = goal
    for depth in (1, 2):
        ok = [w for w, a in zip(widths, ev[f"trained_acc_depth{depth}"]) if a >= goal]
        ev[f"narrowest_good_width_depth{depth}"] = ok[0] if ok else None
    ev["_regions"] = nets
    ev["_data"] = (X, y)
    return ev


def plot_uat_1(ev, data):
    plt = pyplot()
    shown = [w for w in ev["widths"] if w in (4, 8, 16, 64)] or ev["widths"][-4:]
    fig, axes = plt.subplots(
        2, len(shown) + 1, figsize=(2.6 * (len(shown) + 1), 5.4), squeeze=False
    )
    X, y = ev["_data"]
    for row, depth in enumerate((1, 2)):
        for col, w in enumerate(shown):
            ax = axes[row, col]
            ax.imshow(
                ev["_regions"][(depth, w)],
                extent=(-1, 1, -1, 1),
                origin="lower",
                cmap="Blues",
                vmin=0,
                vmax=1.5,
            )
            ax.scatter(X[:300, 0], X[:300, 1], c=y[:300], s=3, cmap="coolwarm")
            acc = ev[f"trained_acc_depth{depth}"][ev["widths"].index(w)]
            ax.set_title(f"{depth} hidden × {w}: {100 * acc:.0f}%", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = axes[row, -1]
        ax.semilogx(ev["widths"], ev[f"trained_acc_depth{depth}"], "-o", ms=3, label="trained")
        ax.axhline(ev["good_accuracy"], color="0.5", lw=0.8, ls="--")
        ax.set_xlabel("hidden width")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0.4, 1.0)
        ax.set_title(f"{depth} hidden layer{'s' if depth > 1 else ''}", fontsize=8)
    fig.suptitle(
        "uat-1: decision regions on the ring (blue: predicted inside) vs hidden width", fontsize=9
    )
    fig.tight_layout()
    return fig
