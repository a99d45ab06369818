"""The MNIST stage (workflow/rules/mnist.smk): the join with the write-up's numbers and the
other helpers of nplab_io.mnist on hand-computed cases, the config tables, a dry run, and
the outputs of the shared quick-config run (tables, figures, evidence, extras)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT
from stage_checks import (
    assert_answer_reads_well,
    assert_dry_run_has_rules,
    assert_evidence,
    assert_figures_exist,
    question_rules,
    read_csv,
    read_evidence,
)

from nplab.layers import weight_grad
from nplab.perceptron import Perceptron
from nplab_io.evidence import load_registry
from nplab_io.mnist import (
    best_per_group,
    epochs_to_reach,
    equivalent_mean_lr,
    join_table,
    loss_noise,
    loss_per_example,
    perceptron_summary,
    split_label,
    value_at_time,
    weight_sparsity,
)
from nplab_io.runs import expand_experiments

NAMES = ["depth", "loss", "activation", "batching", "optimizers", "regularization"]
WRITEUP_EXPERIMENT = {
    "depth": "depth",
    "activation": "activation",
    "batching": "batching",
    "optimizers": "optimizer",
    "regularization": "regularization",
}
QUESTIONS = {
    "mnist-1": [
        "faithful_one_test_acc_200",
        "faithful_two_test_acc_200",
        "tuned_one_test_acc_200",
        "faithful_two_init_activation_std",
        "time_ratio_two_over_one",
        "two_worse_faithful",
    ],
    "mnist-2": [
        "uniform_ce_grad_norm",
        "uniform_mse_grad_norm",
        "uniform_grad_ratio_ce_over_mse",
        "faithful_cross_entropy_final_val_acc",
        "faithful_mse_final_val_acc",
        "tuned_mse_lr",
    ],
    "mnist-3": [
        "sigmoid_init_frac_saturated",
        "sigmoid_final_frac_saturated",
        "tanh_final_frac_saturated",
        "relu_final_frac_saturated",
        "sigmoid_max_local_grad",
        "faithful_sigmoid_gap_to_worst_other",
    ],
    "mnist-4": [
        "faithful_common_budget_s",
        "faithful_BGD_val_at_budget",
        "faithful_SGD_updates",
        "faithful_furthest_at_budget",
        "tuned_furthest_at_budget",
        "faithful_furthest_per_epoch",
        "faithful_BGD_val_at_common_epochs",
        "timing_noise",
    ],
    "mnist-5": [
        "momentum_effective_mean_lr",
        "plain_mean_lr",
        "Momentum_faithful_test_acc",
        "RMSprop_tuned_test_acc",
        "faithful_RMSprop_beats_plain",
        "adam_gap_stated_lr",
        "adam_gap_10x_step",
        "Adam 10x step_faithful_test_acc",
        "momentum_lr",
        "plain_lr",
        "momentum",
        "rmsprop_decay",
    ],
    "mnist-6": [
        "L1+Adagrad_frac_near_zero",
        "none+Adagrad_frac_near_zero",
        "L2+RMSprop_l2_norm",
        "L1+RMSprop_gap_change",
        "gap_shrinks_count",
    ],
}


#: rows of a joined table that are our diagnostics, not write-up rows (faithful runs only)
DIAGNOSTIC_ROWS = {"optimizers": ("Adam 10x step",)}


def _seed():
    return pd.read_csv(ROOT / "report" / "reference" / "seed_results.csv")


# --------------------------------------------------------------------------- helpers
def test_split_label():
    assert split_label("L2+RMSprop, reg=10") == ("L2+RMSprop", {"reg": "10"})
    assert split_label("tanh, lr=0.25") == ("tanh", {"lr": "0.25"})
    assert split_label("1 hidden") == ("1 hidden", {})
    with pytest.raises(ValueError):
        split_label("relu, oops")


def test_equivalent_mean_lr():
    assert equivalent_mean_lr(1e-5, 48000, "sgd") == pytest.approx(0.48)
    assert equivalent_mean_lr(1e-4, 6000, "sgd") == pytest.approx(0.6)
    assert equivalent_mean_lr(1e-5, 6000, "sgd_momentum") == pytest.approx(0.06)
    assert equivalent_mean_lr(0.1, 6000, "adagrad") == 0.1  # scale-invariant
    assert equivalent_mean_lr(1e-5, 6000, "adam_no_bias_correction") == 1e-5
    with pytest.raises(ValueError):
        equivalent_mean_lr(1e-5, 0, "sgd")


def _runs(rows):
    base = {
        "diverged": False,
        "reg": 0.0,
        "optimizer": "sgd",
        "batch_size": "full",
        "num_train_used": 100,
        "reduction": "sum",
    }
    return pd.DataFrame([dict(base, **r) for r in rows])


def _curves(rows):
    return pd.DataFrame(rows, columns=["run", "epoch", "val_acc"])


def test_join_table_hand_case():
    seed = pd.DataFrame(
        [
            {
                "source": "mnist_lab",
                "experiment": "depth",
                "variant": "1 hidden",
                "lr": 1e-5,
                "epochs": 100,
                "wall_time_s": 79.15,
                "test_acc": 0.9176,
                "train_acc": np.nan,
                "note": "x",
            },
            {
                "source": "mnist_lab",
                "experiment": "depth",
                "variant": "1 hidden",
                "lr": 1e-5,
                "epochs": 200,
                "wall_time_s": 162.64,
                "test_acc": 0.9374,
                "train_acc": np.nan,
                "note": np.nan,
            },
            {
                "source": "other",
                "experiment": "depth",
                "variant": "1 hidden",
                "lr": 1,
                "epochs": 100,
                "wall_time_s": 1,
                "test_acc": 0.1,
                "train_acc": 0.1,
                "note": "",
            },
        ]
    )
    f_runs = _runs(
        [
            {
                "variant": "1 hidden",
                "run": "f1",
                "lr": 1e-5,
                "epochs": 200,
                "test_acc": 0.93,
                "train_acc": 0.94,
                "val_acc": 0.935,
                "wall_time_s": 80.0,
                "test_acc_epoch100": 0.91,
                "train_acc_epoch100": 0.915,
                "elapsed_epoch100_s": 40.0,
            }
        ]
    )
    f_curves = _curves([("f1", 100, 0.905), ("f1", 200, 0.935)])
    t_runs = _runs(
        [
            {
                "variant": "1 hidden, lr=0.25",
                "run": "t1",
                "lr": 0.25,
                "epochs": 200,
                "test_acc": 0.95,
                "train_acc": 0.96,
                "val_acc": 0.95,
                "wall_time_s": 81.0,
                "test_acc_epoch100": 0.90,
                "train_acc_epoch100": 0.9,
                "elapsed_epoch100_s": 41.0,
                "reduction": "mean",
            },
            {
                "variant": "1 hidden, lr=0.5",
                "run": "t2",
                "lr": 0.5,
                "epochs": 200,
                "test_acc": 0.94,
                "train_acc": 0.95,
                "val_acc": 0.94,
                "wall_time_s": 82.0,
                "test_acc_epoch100": 0.92,
                "train_acc_epoch100": 0.93,
                "elapsed_epoch100_s": 42.0,
                "reduction": "mean",
            },
        ]
    )
    # at epoch 100 t2 is better on val, at epoch 200 t1 is
    t_curves = _curves([("t1", 100, 0.90), ("t1", 200, 0.95), ("t2", 100, 0.92), ("t2", 200, 0.94)])
    df = join_table(
        "depth",
        seed,
        (f_runs, f_curves),
        (t_runs, t_curves),
        n_train=48000,
        extra_rows=[("1 hidden", 300, "our own row")],
    )
    assert list(zip(df["variant"], df["epochs"])) == [
        ("1 hidden", 100),
        ("1 hidden", 200),
        ("1 hidden", 300),
    ]
    r100, r200, r300 = (df.iloc[i] for i in range(3))
    assert r100["writeup_test_acc"] == 0.9176 and r100["writeup_wall_time_s"] == 79.15
    assert r100["faithful_test_acc"] == 0.91 and r100["faithful_wall_time_s"] == 40.0
    assert r100["faithful_val_acc"] == 0.905 and r100["faithful_train_acc"] == 0.915
    assert r100["tuned_run"] == "t2" and r100["tuned_lr"] == 0.5 and r100["tuned_test_acc"] == 0.92
    assert r200["faithful_test_acc"] == 0.93 and r200["faithful_wall_time_s"] == 80.0
    assert r200["tuned_run"] == "t1" and r200["tuned_test_acc"] == 0.95
    assert (
        r200["tuned_candidates"] == 2 and "tuned lr 0.25 chosen on val from 2 runs" in r200["note"]
    )
    assert r100["batch_size"] == 48000 and r100["equivalent_mean_lr"] == pytest.approx(0.48)
    assert r100["note"].startswith("x")
    # no write-up number and no run reached 300 epochs: empty, not invented
    assert pd.isna(r300["writeup_test_acc"]) and pd.isna(r300["faithful_test_acc"])
    assert r300["note"] == "our own row" and "our own row" not in r200["note"]
    with pytest.raises(ValueError, match="extra row"):
        join_table(
            "depth",
            seed,
            (f_runs, f_curves),
            (t_runs, t_curves),
            n_train=48000,
            extra_rows=[("1 hidden",)],
        )
    # the quick config's epoch cap: rows read after min(epochs, cap) epochs
    capped = join_table(
        "depth", seed, (f_runs, f_curves), (t_runs, t_curves), n_train=48000, max_epochs=200
    )
    assert list(capped["epochs_run"]) == [100, 200]


def test_join_picks_reg_on_val_and_skips_diverged():
    seed = _seed()
    runs = _runs(
        [
            {
                "variant": "L2+Adagrad, reg=1",
                "run": "a",
                "lr": 0.1,
                "reg": 1.0,
                "epochs": 100,
                "test_acc": 0.97,
                "train_acc": 0.98,
                "val_acc": 0.96,
                "optimizer": "adagrad",
                "batch_size": "6000",
            },
            {
                "variant": "L2+Adagrad, reg=10",
                "run": "b",
                "lr": 0.1,
                "reg": 10.0,
                "epochs": 100,
                "test_acc": 0.975,
                "train_acc": 0.976,
                "val_acc": 0.97,
                "optimizer": "adagrad",
                "batch_size": "6000",
            },
            {
                "variant": "L2+Adagrad, reg=100",
                "run": "c",
                "lr": 0.1,
                "reg": 100.0,
                "epochs": 100,
                "test_acc": 0.99,
                "train_acc": 0.99,
                "val_acc": 0.99,
                "optimizer": "adagrad",
                "batch_size": "6000",
                "diverged": True,
            },
        ]
    )
    curves = _curves([("a", 100, 0.96), ("b", 100, 0.97), ("c", 100, 0.99)])
    df = join_table("regularization", seed, (runs, curves), (runs, curves), n_train=48000)
    row = df[df["variant"] == "L2+Adagrad"].iloc[0]
    assert row["faithful_run"] == "b" and row["faithful_reg"] == 10.0
    assert row["faithful_candidates"] == 2
    assert row["writeup_test_acc"] == 0.9695
    assert row["equivalent_mean_lr"] == 0.1 and row["batch_size"] == 6000
    assert len(df) == 6  # every write-up row of the table
    assert df[df["variant"] != "L2+Adagrad"]["faithful_run"].isna().all()


def test_best_per_group_and_loss_per_example():
    runs = _runs(
        [
            {"variant": "relu, lr=1", "run": "a", "val_acc": 0.5, "lr": 1.0},
            {"variant": "relu, lr=2", "run": "b", "val_acc": 0.6, "lr": 2.0, "diverged": True},
            {"variant": "tanh", "run": "c", "val_acc": 0.4, "lr": 1.0},
        ]
    )
    sel = best_per_group(runs)
    assert list(sel) == ["relu", "tanh"] and sel["relu"]["run"] == "a"
    loss = np.array([200.0, 100.0])
    assert list(
        loss_per_example(loss, {"reduction": "sum", "batch_size": "full", "num_train_used": 100})
    ) == [2.0, 1.0]
    assert list(loss_per_example(loss, {"reduction": "sum", "batch_size": "50"})) == [4.0, 2.0]
    assert loss_per_example(loss, {"reduction": "mean", "batch_size": 50}) is loss


def test_small_helpers():
    assert epochs_to_reach([1, 2, 3], [0.2, 0.6, 0.9], 0.5) == 2
    assert epochs_to_reach([1, 2], [0.2, 0.3], 0.5) is None
    assert value_at_time([1.0, 2.0, 4.0], [0.1, 0.2, 0.4], 3.0) == 0.2
    assert value_at_time([1.0], [0.1], 0.5) is None
    n = loss_noise([1.0, 2.0, 1.0])
    assert n["increase_frac"] == 0.5 and n["mean_abs_log_change"] == pytest.approx(math.log(2))
    s = weight_sparsity(np.array([0.0, 0.0005, -3.0, 4.0]), 1e-3)
    assert s == {
        "frac_near_zero": 0.5,
        "l1": pytest.approx(7.0005),
        "l2": pytest.approx(5.0, abs=1e-6),
    }


def test_perceptron_summary_hand_case():
    # 1-D: x = 2 (label 1), x = -1 (label 0). In order, from w = b = 0: the first example
    # is a mistake (score 0) -> w = 2, b = 1; then scores 5 and -1: no more mistakes.
    X = np.array([[2.0], [-1.0]])
    y = np.array([1, 0])
    p = Perceptron(max_epochs=10, shuffle=False).fit(X, y)
    assert p.mistakes_per_epoch_ == [1, 0]
    s = perceptron_summary(p, X, y, X, y)
    # R = max ||(x, 1)|| = sqrt(5); margins y (w x + b) = 5, 1 over ||(2, 1)|| = sqrt(5)
    assert s["n_updates"] == 1 and s["epochs"] == 2 and s["converged"] is True
    assert s["R"] == pytest.approx(math.sqrt(5))
    assert s["gamma"] == pytest.approx(1 / math.sqrt(5))
    assert s["bound"] == pytest.approx(25.0)
    assert s["bound_holds"] is True and s["train_acc"] == 1.0 and s["test_acc"] == 1.0


def test_weight_grad_single_example_is_bit_identical():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5):
        x = rng.standard_normal((n, 7)).astype(np.float32)
        d = rng.standard_normal((n, 3)).astype(np.float32)
        g = weight_grad(x, d)
        assert g.shape == (7, 3) and g.dtype == np.float32
        np.testing.assert_array_equal(g, x.T @ d)


# --------------------------------------------------------------------------- config
@pytest.fixture(scope="module")
def cfg():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_mnist_tables_cover_every_writeup_row(cfg):
    exp = expand_experiments({k: v for k, v in cfg["experiments"].items() if k.startswith("mnist")})
    seed = _seed()
    seed = seed[seed["source"] == "mnist_lab"]
    assert set(seed["experiment"]) == set(WRITEUP_EXPERIMENT.values())
    for name, experiment in WRITEUP_EXPERIMENT.items():
        for kind in (f"mnist_{name}", f"mnist_tuned_{name}"):
            groups = {split_label(r["variant"])[0] for r in exp[kind]}
            rows = seed[seed["experiment"] == experiment]
            assert set(rows["variant"]) <= groups, (kind, set(rows["variant"]) - groups)
            for r in exp[kind]:
                g = split_label(r["variant"])[0]
                for e in rows[rows["variant"] == g]["epochs"]:
                    assert e == r["spec"]["epochs"] or e in r["spec"]["test_epochs"], (kind, g, e)
    assert {split_label(r["variant"])[0] for r in exp["mnist_loss"]} == {"cross_entropy", "mse"}


def test_faithful_and_tuned_settings(cfg):
    exp = expand_experiments(
        {k: v for k, v in cfg["experiments"].items() if k.startswith("mnist_")}
    )
    for table, runs in exp.items():
        if table in ("mnist_best",) or table.startswith("mnist_extras"):
            continue
        for r in runs:
            s = r["spec"]
            assert (
                s["data"] == "mnist/scaled"
                and s["weight_scale"] == 0.01
                and s["init"] == "gaussian"
            )
            assert s["hidden_dims"] in ([256], [256, 128]) and s["test"] is True
            assert s["reduction"] == ("mean" if table.startswith("mnist_tuned_") else "sum"), table
    by = {r["variant"]: r["spec"] for r in exp["mnist_batching"]}
    assert by["BGD"]["batch_size"] == "full" and by["BGD"]["lr"] == 1e-5
    assert by["MBGD"]["batch_size"] == 6000 and by["MBGD"]["lr"] == 1e-4
    assert by["SGD"]["batch_size"] == 1 and by["SGD"]["epochs"] == 5 and by["SGD"]["lr"] == 1e-2
    opt = {r["variant"]: r["spec"] for r in exp["mnist_optimizers"]}
    assert opt["Adam"]["optimizer"] == "adam_no_bias_correction" and opt["Adam"]["beta2"] == 0.9999
    assert opt["Adam (textbook)"]["optimizer"] == "adam"
    assert opt["RMSprop"]["decay_rate"] == 0.999 and opt["Adagrad"]["lr"] == 0.1
    assert cfg["experiments"]["mnist_best"]["select"] == "val_acc"


def test_dry_run_includes_the_mnist_jobs(workdir):
    rules = ["mnist_table", "mnist_best_table", "mnist_figure", "extras_table", "extras_perceptron"]
    assert_dry_run_has_rules(workdir, "mnist", [*rules, *question_rules(QUESTIONS)])


# --------------------------------------------------------------------------- quick run
@pytest.mark.e2e
def test_mnist_tables(results):
    seed = _seed()
    seed = seed[seed["source"] == "mnist_lab"]
    for name in NAMES:
        rows = read_csv(results / "mnist" / f"{name}.csv")
        assert rows, name
        keys = {(r["variant"], int(r["epochs"])) for r in rows}
        if name in WRITEUP_EXPERIMENT:
            want = seed[seed["experiment"] == WRITEUP_EXPERIMENT[name]]
            assert {(v, int(e)) for v, e in zip(want["variant"], want["epochs"])} <= keys
        for r in rows:
            # diagnostic rows (no write-up row, no tuned counterpart) have faithful runs only
            diagnostic = r["variant"] in DIAGNOSTIC_ROWS.get(name, ())
            for kind in ("faithful",) if diagnostic else ("faithful", "tuned"):
                for col in ("test_acc", "train_acc", "val_acc"):
                    v = float(r[f"{kind}_{col}"])
                    assert 0.0 <= v <= 1.0 and not math.isnan(v), (name, r["variant"], kind, col)
                assert r[f"{kind}_run"].startswith("net-")
                assert float(r[f"{kind}_wall_time_s"]) > 0
            assert diagnostic or float(r["tuned_lr"]) > 0
            assert float(r["equivalent_mean_lr"]) > 0
            if r["writeup_test_acc"]:
                assert 0.5 < float(r["writeup_test_acc"]) < 1
            if diagnostic:
                assert "not the write-up's" in r["note"] and "= the run's lr" in r["note"], r[
                    "note"
                ]
        assert set(DIAGNOSTIC_ROWS.get(name, ())) <= {r["variant"] for r in rows}, name
        best = max(float(r["tuned_test_acc"]) for r in rows if r["tuned_test_acc"])
        assert best > 0.1, (name, best)  # above chance (10 digits)


@pytest.mark.e2e
def test_mnist_best_and_figures(results):
    rows = read_csv(results / "mnist" / "best.csv")
    assert any(r["source"] == "mnist_best" for r in rows)
    assert [int(r["rank_by_val"]) for r in rows] == list(range(1, len(rows) + 1))
    assert max(float(r["test_acc"]) for r in rows) > 0.1
    names = ["depth_curves", "loss_curves", "activation_curves", "batching_time"]
    names += ["optimizer_curves", "regularization_curves"]
    assert_figures_exist(results / "figures" / "mnist", names)


@pytest.mark.e2e
@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_mnist_question_evidence(results, qid):
    ev = read_evidence(results, qid)
    (entry,) = [q for q in load_registry(ROOT / "report" / "questions") if q["id"] == qid]
    assert_answer_reads_well(entry, ev)
    assert ev["figures"] == [f"figures/questions/{qid}.png"]
    assert (results / ev["figures"][0]).is_file()
    assert_evidence(ev, qid, QUESTIONS[qid], min_numbers=6)


@pytest.mark.e2e
def test_mnist_question_specifics(results):
    ev = {q: json.loads((results / "questions" / f"{q}.json").read_text()) for q in QUESTIONS}
    m2 = ev["mnist-2"]
    assert m2["uniform_ce_grad_norm"] == pytest.approx(math.sqrt(0.81 + 9 * 0.01))
    assert m2["uniform_grad_ratio_ce_over_mse"] == pytest.approx(10.0)
    assert m2["wrong_grad_ratio_ce_over_mse"] > m2["uniform_grad_ratio_ce_over_mse"]
    assert ev["mnist-3"]["sigmoid_max_local_grad"] == pytest.approx(0.25)
    for k in ("sigmoid_init_frac_saturated", "sigmoid_final_frac_saturated"):
        assert 0.0 <= ev["mnist-3"][k] <= 1.0
    m5 = ev["mnist-5"]
    assert m5["momentum_effective_mean_lr"] == pytest.approx(m5["plain_mean_lr"])
    assert m5["momentum_same_step"] is True
    m4 = ev["mnist-4"]
    assert m4["faithful_furthest_per_epoch"] in ("BGD", "MBGD", "SGD", None)
    assert m4["timing_noise"] >= m4["timing_noise_floor"] > 0
    m6 = ev["mnist-6"]
    for v in m6["variants"]:
        assert 0.0 <= m6[f"{v}_frac_near_zero"] <= 1.0


@pytest.mark.e2e
def test_extras(results):
    sch = read_csv(results / "extras" / "schedules.csv")
    assert {r["schedule"] for r in sch} == {"none", "step", "cosine", "linear", "inverse_sqrt"}
    for r in sch:
        if r["schedule"] != "none":
            assert float(r["lr_last_epoch"]) <= float(r["lr_first_epoch"])
    init = read_csv(results / "extras" / "init.csv")
    assert {(r["activation"], r["init"]) for r in init} == {
        (a, i) for a in ("relu", "tanh") for i in ("gaussian", "uniform", "xavier", "he")
    }
    assert {int(r["layer"]) for r in init} == set(range(1, 7))
    (p,) = read_csv(results / "extras" / "perceptron.csv")
    assert p["digits"] == "0 vs 1" and p["converged"] == "True"
    assert int(p["n_updates"]) <= float(p["bound"]) and p["bound_holds"] == "True"
    assert sum(json.loads(p["mistakes_per_epoch"])) == int(p["n_updates"])
    for name in ("schedules", "init", "perceptron"):
        assert (results / "figures" / "extras" / f"{name}.png").is_file()


@pytest.mark.parametrize("rule", ["adagrad", "rmsprop", "adam", "adam_no_bias_correction"])
def test_adaptive_rules_flush_subnormals(rule):
    # a weight only an L2 penalty pulls on shrinks geometrically under the adaptive rules;
    # subnormal values (which make BLAS 10-100x slower) must be flushed to 0
    from nplab.optim import OPTIMIZERS

    tiny = np.finfo(np.float32).tiny
    w = np.array([1e-3, -2e-3, 0.5, 0.0], dtype=np.float32)
    w[2] = tiny / 4  # already subnormal
    config = {"learning_rate": 1e-3}
    for _ in range(3000):
        w, config = OPTIMIZERS[rule](w, 10.0 * w, config)
        assert not np.any((w != 0) & (np.abs(w) < tiny))
    for key in ("cache", "m", "v"):
        if key in config:
            s = config[key]
            assert not np.any((s != 0) & (np.abs(s) < tiny)), key


def test_mean_difference_separator_hand_case():
    from nplab_io.mnist import mean_difference_separator

    X = np.array([[2.0], [4.0], [-1.0]])
    y = np.array([1, 1, 0])
    w, b = mean_difference_separator(X, y)
    # w = mean(2, 4) - (-1) = 4; scores 8, 16, -4; b = -(-4 + 8) / 2 = -2
    assert w.tolist() == [4.0] and b == -2.0
    # class means equal (1 vs 1): w = 0 separates nothing
    assert mean_difference_separator(np.array([[0.0], [2.0], [1.0]]), np.array([1, 1, 0])) is None
