"""The MNIST questions' evidence on tiny hand-made tables (nplab_io.evidence.mnist).

Accuracies are multiples of 1/16 so that differences and ratios are exact in binary."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from answer_checks import answer_problems

from nplab_io.evidence import QuestionData, load_registry, render_answer
from nplab_io.evidence import mnist as ev_mnist
from nplab_io.evidence.io import check_evidence

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY = {
    q["id"]: q for q in load_registry(REPO_ROOT / "report" / "questions") if q["family"] == "mnist"
}


# --------------------------------------------------------------------------- fixtures
def _table(root, name, runs, curves=(), loss=()):
    """An experiment table's runs.csv, curves.csv and loss.csv under root/experiments."""
    d = root / "experiments" / name
    d.mkdir(parents=True)
    pd.DataFrame(runs).to_csv(d / "runs.csv", index=False)
    pd.DataFrame(curves, columns=["run", "epoch", "val_acc"]).to_csv(d / "curves.csv", index=False)
    pd.DataFrame(loss, columns=["run", "iteration", "loss"]).to_csv(d / "loss.csv", index=False)
    return [str(d / f) for f in ("runs.csv", "curves.csv", "loss.csv")]


def _curve(run, values):
    return [(run, e, v) for e, v in enumerate(values, 1)]


def _run_path(root, run, name):
    path = root / "runs" / run / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _npz(root, run, name, **arrays):
    path = _run_path(root, run, name)
    np.savez(path, **arrays)
    return str(path)


def _joined(root, name, rows):
    path = root / "mnist" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return str(path)


def _data(tables, **inputs):
    """QuestionData over {table: files} (faithful first) and the other named inputs."""
    files = [f for fs in tables.values() for f in fs]
    return QuestionData({"tables": files, **inputs}, tables=list(tables))


def _settings(qid):
    return dict(REGISTRY[qid].get("settings", {}))


def _depth_data(root):
    faithful = [
        {"variant": "1 hidden", "run": "f1", "val_acc": 0.5, "lr": 1e-5, "weight_scale": 0.01},
        {"variant": "2 hidden", "run": "f2", "val_acc": 0.25, "lr": 1e-5, "weight_scale": 0.01},
    ]
    tuned = [
        {"variant": "1 hidden, lr=0.5", "run": "t1", "val_acc": 0.75, "lr": 0.5},
        {"variant": "1 hidden, lr=0.1", "run": "t1b", "val_acc": 0.5, "lr": 0.1},
        {"variant": "2 hidden, lr=0.5", "run": "t2", "val_acc": 0.625, "lr": 0.5},
    ]
    tables = {
        "mnist_depth": _table(
            root,
            "mnist_depth",
            faithful,
            _curve("f1", [0.25, 0.5]) + _curve("f2", [0.125, 0.25]),
            [("f1", i, v) for i, v in enumerate([4.0, 2.0, 1.0], 1)]
            + [("f2", i, v) for i, v in enumerate([1.0, 2.0, 1.0, 2.0, 4.0], 1)],
        ),
        "mnist_tuned_depth": _table(
            root,
            "mnist_tuned_depth",
            tuned,
            _curve("t1", [0.5, 0.75]) + _curve("t1b", [0.25, 0.5]) + _curve("t2", [0.5, 0.625]),
        ),
    }
    rows = [
        ("1 hidden", 100, 0.375, 1.0, 0.625, 0.5, 0.875),
        ("2 hidden", 100, 0.25, 1.5, 0.5, 0.75, 0.75),
        ("1 hidden", 200, 0.5, 2.0, 0.75, 1.0, 0.9375),
        ("2 hidden", 200, 0.25, 3.0, 0.6875, 1.5, 0.875),
    ]
    cols = ["variant", "epochs", "faithful_test_acc", "faithful_wall_time_s"]
    cols += ["tuned_test_acc", "tuned_wall_time_s", "writeup_test_acc"]
    history = [
        _npz(root, "f1", "history.npz", init_std=np.array([0.0625])),
        _npz(root, "f2", "history.npz", init_std=np.array([0.0625, 0.0078125])),
    ]
    joined = _joined(root, "depth", [dict(zip(cols, r)) for r in rows])
    return _data(tables, joined=joined, history=history)


def _loss_data(root):
    faithful = [
        {"variant": "cross_entropy", "run": "c1", "val_acc": 0.9375, "lr": 1e-5, "test_acc": 0.875},
        {"variant": "mse", "run": "m1", "val_acc": 0.625, "lr": 1e-5, "test_acc": 0.5},
    ]
    tuned = [
        {
            "variant": "cross_entropy, lr=0.5",
            "run": "c2",
            "val_acc": 0.875,
            "lr": 0.5,
            "test_acc": 0.875,
        },
        {"variant": "mse, lr=2", "run": "m2", "val_acc": 0.9375, "lr": 2.0, "test_acc": 0.9375},
    ]
    curves = _curve("c1", [0.5, 0.8125, 0.9375]) + _curve("m1", [0.25, 0.5, 0.625])
    tuned_curves = _curve("c2", [0.75, 0.875]) + _curve("m2", [0.75, 0.9375])
    return _data(
        {
            "mnist_loss": _table(root, "mnist_loss", faithful, curves),
            "mnist_tuned_loss": _table(root, "mnist_tuned_loss", tuned, tuned_curves),
        }
    )


ACTS = {  # activation: (faithful test acc, tuned test acc, final saturated share, final mean)
    "relu": (0.5, 0.75, 0.5, 0.25),
    "leaky_relu": (0.625, 0.875, 0.375, 0.125),
    "tanh": (0.75, 0.8125, 0.125, 0.0),
    "sigmoid": (0.25, 0.625, 0.0625, 0.5),
}


def _activation_data(root):
    faithful = [
        {"variant": a, "run": f"f_{a}", "val_acc": 0.5, "lr": 1e-5, "weight_scale": 0.01}
        for a in ACTS
    ]
    tuned = [{"variant": f"{a}, lr=0.5", "run": f"t_{a}", "val_acc": 0.5, "lr": 0.5} for a in ACTS]
    curves = [c for a in ACTS for c in _curve(f"f_{a}", [0.25, 0.5])]
    rows, history = [], []
    for a, (f, t, sat, mean) in ACTS.items():
        for e in (100, 200):
            f_e = f - (200 - e) / 1600  # 1/16 less after 100 epochs
            rows.append(
                dict(variant=a, epochs=e, faithful_test_acc=f_e, tuned_test_acc=t)
                | {"writeup_test_acc": 0.9375}
            )
        stats = {f"init_{k}": np.array([0.0]) for k in ("frac_saturated", "mean", "std")}
        stats.update(final_frac_saturated=np.array([sat, 1.0]), final_mean=np.array([mean]))
        history.append(_npz(root, f"f_{a}", "history.npz", **stats))
    tables = {
        "mnist_activation": _table(root, "mnist_activation", faithful, curves),
        "mnist_tuned_activation": _table(root, "mnist_tuned_activation", tuned),
    }
    return _data(tables, joined=_joined(root, "activation", rows), history=history)


BATCHING = {  # method: (faithful lr, updates, faithful val curve, tuned val curve)
    "BGD": (1e-5, 2, [0.25, 0.5], [0.5, 0.9375]),
    "MBGD": (1e-4, 4, [0.375, 0.4375], [0.5, 0.625]),
    "SGD": (1e-2, 800, [0.5, 0.75], [0.75, 0.96875]),
}
TIMES = {"BGD": [1.0, 2.0], "MBGD": [1.05, 2.1], "SGD": [8.0, 16.0]}


def _batching_data(root, faithful_times, tuned_times=TIMES):
    tables, timing = {}, []
    for kind, name in (("faithful", "mnist_batching"), ("tuned", "mnist_tuned_batching")):
        runs, curves = [], []
        for g, (lr, updates, fc, tc) in BATCHING.items():
            run = f"{kind}_{g}"
            lr = lr if kind == "faithful" else 0.5
            val = (fc if kind == "faithful" else tc)[-1]
            runs.append(
                dict(variant=g, run=run, val_acc=val, lr=lr, iterations_run=updates, test_acc=0.5)
            )
            curves += _curve(run, fc if kind == "faithful" else tc)
            times = (faithful_times if kind == "faithful" else tuned_times)[g]
            path = _run_path(root, run, "timing.json")
            path.write_text(json.dumps({"run": run, "epoch_elapsed_s": times}))
            timing.append(str(path))
        tables[name] = _table(root, name, runs, curves)
    return _data(tables, timing=timing)


OPTIMIZERS = {  # variant: (faithful test, tuned test, write-up test, lr, extra run columns)
    "Momentum": (0.25, 0.625, 0.9375, 0.25, {"momentum": 0.5}),
    "Adagrad": (0.125, 0.25, 0.9375, 0.25, {}),
    "RMSprop": (0.5, 0.75, 0.9375, 0.25, {"decay_rate": 0.875}),
    "Adam": (0.375, 0.8125, 0.890625, 0.125, {"beta1": 0.9}),
    "none": (0.3125, 0.6875, 0.9375, 0.5, {}),
    "Adam 10x step": (0.875, None, None, 1.25, {"beta1": 0.9}),
}


def _optimizer_data(root):
    runs, rows = [], []
    for v, (f, t, w, lr, extra) in OPTIMIZERS.items():
        runs.append(
            dict(variant=v, run=f"o_{v}", val_acc=0.5, lr=lr, batch_size=4, iterations_run=8)
            | extra
        )
        row = dict.fromkeys(ev_mnist.JOINED_OPTIMIZER_COLUMNS)
        row.update(variant=v, faithful_test_acc=f, tuned_test_acc=t, writeup_test_acc=w)
        row.update(faithful_train_acc=f + 0.0625, writeup_train_acc=w, tuned_lr=lr)
        rows.append(row)
    tables = {
        "mnist_optimizers": _table(root, "mnist_optimizers", runs),
        "mnist_tuned_optimizers": _table(root, "mnist_tuned_optimizers", runs),
    }
    return _data(tables, joined=_joined(root, "optimizers", rows))


PENALTY_RUNS = {  # variant: (faithful train, faithful test, all weights, reg)
    "none+Adagrad": (0.75, 0.5, [3.0, 4.0, 0.0], 0.0),
    "L1+Adagrad": (0.625, 0.5, [0.0, 0.0, 0.0, 1.0], 0.1),
    "L2+Adagrad": (0.75, 0.625, [0.0, 2.0], 1.0),
    "none+RMSprop": (0.875, 0.75, [0.0, 1.0], 0.0),
    "L1+RMSprop": (0.875, 0.625, [1.0, 2.0], 0.1),
    "L2+RMSprop": (0.8125, 0.75, [0.5, 0.5, 0.5, 0.5], 1.0),
}


def _regularization_data(root):
    rows, params = [], []
    for v, (tr, te, w, reg) in PENALTY_RUNS.items():
        run = "r_" + v.replace("+", "_")
        row = dict(variant=v, faithful_run=run, faithful_reg=reg)
        for kind in ("faithful", "tuned"):
            row.update({f"{kind}_train_acc": tr, f"{kind}_test_acc": te})
        rows.append(row | {"writeup_train_acc": 0.9375, "writeup_test_acc": 0.875})
        # W1 and W2 hold the weights; the bias b1 must not count
        params.append(
            _npz(root, run, "params.npz", W1=np.array(w[:1]), W2=np.array(w[1:]), b1=[9.0])
        )
    runs = [{"variant": v, "run": "x", "val_acc": 0.5} for v in PENALTY_RUNS]
    tables = {
        "mnist_regularization": _table(root, "mnist_regularization", runs),
        "mnist_tuned_regularization": _table(root, "mnist_tuned_regularization", runs),
    }
    return _data(tables, joined=_joined(root, "regularization", rows), params=params)


def _compute(qid, data, **settings):
    fn = getattr(ev_mnist, "compute_" + qid.replace("-", "_"))
    ev = fn(data, {**_settings(qid), **settings})
    check_evidence({k: v for k, v in ev.items() if not k.startswith("_")})
    return ev


# --------------------------------------------------------------------------- mnist-1
def test_mnist_1_depth_gap_init_scale_and_time(tmp_path):
    ev = _compute("mnist-1", _depth_data(tmp_path))
    assert ev["epochs"] == [100, 200]
    assert ev["faithful_one_test_acc_100"] == 0.375 and ev["writeup_one_test_acc_200"] == 0.9375
    assert ev["faithful_one_epochs_to_0.5"] == 2 and ev["faithful_two_epochs_to_0.5"] is None
    assert ev["faithful_one_minus_two_test_acc"] == 0.25  # 0.5 - 0.25 after 200 epochs
    assert ev["tuned_one_minus_two_test_acc"] == 0.0625  # 0.75 - 0.6875
    assert ev["tuned_one_lr"] == 0.5  # the best of the two 1-hidden tuned runs
    assert ev["time_ratio_two_over_one"] == 1.5  # 3.0 s / 2.0 s
    assert ev["faithful_two_loss_increase_frac"] == 0.75  # 3 of 4 steps rise
    assert ev["faithful_one_loss_mean_abs_log_change"] == pytest.approx(math.log(2))
    assert ev["faithful_two_init_activation_std"] == [0.0625, 0.0078125]
    assert ev["faithful_two_init_std_ratio"] == 8.0 and ev["init_explains_gap"] is True
    assert ev["two_worse_faithful"] and ev["two_noisier_faithful"]
    assert ev["tuned_removes_most_of_gap"] is True  # 0.0625 < 0.5 * 0.25
    assert ev["faithful_weight_scale"] == 0.01 and ev["faithful_one_lr"] == 1e-5


# --------------------------------------------------------------------------- mnist-2
def test_mnist_2_gradients_and_epochs_to_targets(tmp_path):
    ev = _compute("mnist-2", _loss_data(tmp_path))
    assert ev["targets"] == [0.5, 0.8, 0.9]
    assert ev["faithful_cross_entropy_epochs_to"] == [1, 2, 3]
    assert ev["faithful_mse_epochs_to"] == [2, None, None]
    assert ev["ce_ahead_faithful"] is True and ev["ce_ahead_tuned"] is False  # 0.875 < 0.9375
    assert ev["tuned_mse_lr"] == 2.0 and ev["faithful_mse_test_acc"] == 0.5
    # uniform softmax: p - y = (-0.9, 0.1, ...); the softmax Jacobian scales it by p = 0.1
    assert ev["uniform_ce_grad_norm"] == pytest.approx(math.sqrt(0.81 + 9 * 0.01))
    assert ev["uniform_grad_ratio_ce_over_mse"] == pytest.approx(10.0)
    assert ev["confident_wrong_p_correct"] == pytest.approx(1 / 900)  # e^0 / (1 + 891 + 8)
    assert ev["wrong_grad_ratio_ce_over_mse"] > ev["uniform_grad_ratio_ce_over_mse"]


# --------------------------------------------------------------------------- mnist-3
def test_mnist_3_sigmoid_gap_slope_and_saturation(tmp_path):
    ev = _compute("mnist-3", _activation_data(tmp_path))
    assert ev["epochs"] == [100, 200]
    assert ev["faithful_sigmoid_test_acc_100"] == 0.25 - 100 / 1600
    assert ev["faithful_sigmoid_gap_to_worst_other"] == 0.25  # relu 0.5 - sigmoid 0.25
    assert ev["tuned_sigmoid_gap_to_worst_other"] == 0.125  # relu 0.75 - sigmoid 0.625
    assert ev["sigmoid_last_faithful"] is True
    assert ev["sigmoid_final_frac_saturated"] == 0.0625  # the first hidden layer's value
    assert ev["sigmoid_saturation_minor"] is True  # 6.25% < 10%
    assert ev["sigmoid_more_saturated_than_tanh"] is False
    assert ev["sigmoid_final_mean"] == 0.5 and ev["writeup_tanh_test_acc_200"] == 0.9375
    assert ev["sigmoid_max_local_grad"] == pytest.approx(0.25)
    assert ev["tanh_max_local_grad"] == pytest.approx(1.0)
    assert ev["tuned_sigmoid_lr"] == 0.5 and ev["faithful_weight_scale"] == 0.01


def test_mnist_3_marks_saturation_above_the_threshold(tmp_path):
    ev = _compute("mnist-3", _activation_data(tmp_path), minor_saturation=0.05)
    assert ev["sigmoid_saturation_minor"] is False


# --------------------------------------------------------------------------- mnist-4
def test_mnist_4_same_work_same_time_and_target(tmp_path):
    ev = _compute("mnist-4", _batching_data(tmp_path, TIMES))
    assert ev["faithful_common_epochs"] == 2
    assert [ev[f"faithful_{g}_val_at_common_epochs"] for g in ev["methods"]] == [0.5, 0.4375, 0.75]
    assert ev["faithful_furthest_per_epoch"] == "SGD"
    assert ev["faithful_common_budget_s"] == 2.0  # the shortest run: BGD
    # at 2.0 s BGD has run 2 epochs, MBGD 1 (1.05 s), SGD none (8 s)
    assert ev["faithful_BGD_val_at_budget"] == 0.5 and ev["faithful_MBGD_val_at_budget"] == 0.375
    assert ev["faithful_SGD_val_at_budget"] is None
    assert ev["timing_spread"] == 0.0 and ev["timing_noise"] == 0.1  # the floor
    # BGD's 2nd epoch ends at 2.0 s: 10% slower, it falls after the budget
    assert ev["faithful_furthest_at_budget"] is None
    assert ev["faithful_methods_reaching_target"] == [] and ev["faithful_fastest_to_target"] is None
    assert ev["tuned_BGD_time_to_target_s"] == 2.0 and ev["tuned_SGD_time_to_target_s"] == 16.0
    assert ev["tuned_methods_reaching_target"] == ["BGD", "SGD"]
    assert ev["tuned_fastest_to_target"] == "BGD"  # 2.2 s (slow) < 16 / 1.1 s (fast)
    # BGD 10% slow: 0.5 at 2.0 s; MBGD 10% fast: 0.625 (1.05 / 1.1 s), so no clear lead
    assert ev["tuned_furthest_at_budget"] is None
    assert ev["faithful_SGD_updates"] == 800 and ev["faithful_BGD_lr"] == 1e-5


def test_mnist_4_verdict_does_not_flip_with_timing_noise(tmp_path):
    """Two runs whose timings differ by 5%: comparing the accuracies at the shortest run's
    time would call BGD furthest in one and MBGD in the other; the verdicts do not flip."""
    swapped = dict(TIMES, BGD=[1.05, 2.1], MBGD=[1.0, 2.0])
    a = _compute("mnist-4", _batching_data(tmp_path / "a", TIMES))
    b = _compute("mnist-4", _batching_data(tmp_path / "b", swapped))

    def raw_winner(ev):  # the old rule: the highest val accuracy at the budget
        return max(ev["methods"], key=lambda g: ev[f"faithful_{g}_val_at_budget"] or -1)

    assert (raw_winner(a), raw_winner(b)) == ("BGD", "MBGD")
    # b: BGD 1.05 s per epoch faithful vs 1.0 s tuned, within the 10% floor
    assert b["timing_spread"] == pytest.approx(0.05) and b["timing_noise"] == 0.1
    for key in ("faithful_furthest_per_epoch", "faithful_furthest_at_budget"):
        assert a[key] == b[key], key
    assert a["faithful_furthest_per_epoch"] == "SGD" and a["faithful_furthest_at_budget"] is None
    texts = [render_answer(REGISTRY["mnist-4"], ev) for ev in (a, b)]
    for text in texts:
        assert text.startswith("No method gets clearly furthest for the time spent at the write-up")
        same_work = "For the same work, 2 epochs computing every example's gradient as often,"
        assert f"{same_work} SGD gets furthest (" in " ".join(text.split())


def test_mnist_4_a_clear_lead_in_time_is_named(tmp_path):
    times = dict(TIMES, MBGD=[3.0, 6.0])  # MBGD has no epoch done within 2.0 s / 1.1
    ev = _compute("mnist-4", _batching_data(tmp_path, times, times))
    assert ev["timing_noise"] == 0.1
    assert ev["faithful_furthest_at_budget"] == "BGD"
    assert render_answer(REGISTRY["mnist-4"], ev).startswith(
        "BGD gets furthest for the time spent at the write-up's settings"
    )


def test_mnist_4_a_measured_spread_raises_the_noise(tmp_path):
    faithful = dict(TIMES, MBGD=[1.5, 3.0])  # 1.5 s per epoch vs 1.05 s for the tuned run
    ev = _compute("mnist-4", _batching_data(tmp_path, faithful))
    assert ev["timing_spread"] == pytest.approx(0.45 / 1.05)
    assert ev["timing_noise"] == ev["timing_spread"]


# --------------------------------------------------------------------------- mnist-5
def test_mnist_5_momentum_step_rules_and_adam_10x(tmp_path):
    ev = _compute("mnist-5", _optimizer_data(tmp_path))
    assert ev["optimizers"] == list(OPTIMIZERS)
    # 0.25 * 4 / (1 - 0.5) vs 0.5 * 4: the same step
    assert ev["momentum_effective_mean_lr"] == 2.0 and ev["plain_mean_lr"] == 2.0
    assert ev["momentum_same_step"] is True
    assert (ev["momentum_lr"], ev["plain_lr"], ev["momentum"]) == (0.25, 0.5, 0.5)
    assert ev["rmsprop_decay"] == 0.875 and ev["faithful_updates"] == 8
    beats = {v: ev[f"faithful_{v}_beats_plain"] for v in ev["rules"]}
    assert beats == {"Momentum": False, "Adagrad": False, "RMSprop": True, "Adam": True}
    assert ev["tuned_Adam_beats_plain"] is True and ev["ranking_changes_with_tuning"] is False
    assert ev["Adam 10x step_tuned_test_acc"] is None
    assert ev["adam_step_ratio"] == 10.0 and ev["adam_10x_is_undamped_moment"] is True
    assert ev["adam_gap_stated_lr"] == 0.515625  # 0.890625 - 0.375
    assert ev["adam_gap_10x_step"] == 0.015625 and ev["adam_10x_explains_gap"] is False


def test_mnist_5_without_the_diagnostic_run(tmp_path):
    data = _optimizer_data(tmp_path)
    joined = pd.read_csv(data.path("joined"))
    joined[joined["variant"] != "Adam 10x step"].to_csv(data.path("joined"), index=False)
    ev = _compute("mnist-5", data)
    assert "adam_10x_lr" not in ev
    text = render_answer(REGISTRY["mnist-5"], ev)
    assert "Our Adam (no bias correction)" not in text and "step (the first moment" not in text


# --------------------------------------------------------------------------- mnist-6
def test_mnist_6_gap_sparsity_and_norms(tmp_path):
    ev = _compute("mnist-6", _regularization_data(tmp_path))
    assert ev["variants"] == list(PENALTY_RUNS)
    assert ev["none+Adagrad_frac_near_zero"] == pytest.approx(1 / 3)  # 0 of (3, 4, 0)
    assert ev["none+Adagrad_l2_norm"] == 5.0 and ev["none+Adagrad_l1_norm"] == 7.0  # not b1
    assert ev["L1+Adagrad_frac_near_zero"] == 0.75 and ev["L1+Adagrad_sparser"] is True
    assert ev["L1+RMSprop_sparser"] is False and ev["l1_sparser_count"] == 1
    assert ev["none+Adagrad_faithful_gap"] == 0.25
    assert ev["L1+Adagrad_gap_change"] == -0.125 and ev["L1+RMSprop_gap_change"] == 0.125
    assert ev["L2+RMSprop_gap_change"] == -0.0625
    assert ev["gap_shrinks_count"] == 3 and ev["regularised_runs"] == 4
    assert ev["L2+Adagrad_test_change"] == 0.125 and ev["max_abs_test_change"] == 0.125
    assert ev["L1+Adagrad_reg"] == 0.1 and ev["none+RMSprop_writeup_test_acc"] == 0.875


# --------------------------------------------------------------------------- all
FIXTURES = {
    "mnist-1": _depth_data,
    "mnist-2": _loss_data,
    "mnist-3": _activation_data,
    "mnist-4": lambda root: _batching_data(root, TIMES),
    "mnist-5": _optimizer_data,
    "mnist-6": _regularization_data,
}


def test_every_mnist_answer_renders_against_its_evidence(tmp_path):
    assert sorted(REGISTRY) == sorted(FIXTURES)
    for qid, q in REGISTRY.items():
        ev = _compute(qid, FIXTURES[qid](tmp_path / qid))
        public = json.loads(json.dumps({k: v for k, v in ev.items() if not k.startswith("_")}))
        assert "finding" not in q  # one text, said once
        text = render_answer(q, public)
        assert len(text) > 300, qid
        assert "None" not in text and "{" not in text, qid
        # the fixture's small numbers collide by chance: test_answers.py checks the numbers
        assert answer_problems(q, text, numbers=False) == [], (qid, text)


def test_every_mnist_figure_draws(tmp_path):
    for qid, build in FIXTURES.items():
        data = build(tmp_path / qid)
        ev = _compute(qid, data)
        fig = getattr(ev_mnist, "plot_" + qid.replace("-", "_"))(ev, data)
        assert fig.axes, qid
        fig.clf()
