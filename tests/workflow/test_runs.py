"""Experiment tables -> run specs: expansion, sharing, hashing, validation, limits."""

import re

import pytest
from conftest import ROOT, run_snakemake

from nplab.optim import DEFAULTS as OPTIM_DEFAULTS
from nplab_io.config import ConfigError, load_yaml, validate_config
from nplab_io.runs import canonical_spec, expand_experiments, expand_table, run_id


def test_grid_times_variants_expands_to_the_product_with_labels():
    runs = expand_table(
        "t",
        {
            "kind": "net",
            "variants": [{"name": "a"}, {"name": "b", "reg": 0.1}],
            "grid": {"lr": [1e-3, 1e-2], "epochs": [1, 2, 3]},
        },
    )
    assert len(runs) == 12
    assert runs[0]["variant"] == "a, lr=0.001, epochs=1"
    assert len({r["run"] for r in runs}) == 12
    assert all(r["spec"]["reg"] == 0.1 for r in runs if r["variant"].startswith("b"))


def test_identical_runs_in_two_tables_share_one_id():
    exp = {
        "one": {"kind": "linear", "grid": {"lr": [1e-7, 2e-7]}},
        "two": {"kind": "linear", "base": {"lr": 1e-7, "reg": 2.5e4}},
    }
    out = expand_experiments(exp)
    assert out["one"][0]["run"] == out["two"][0]["run"]
    assert out["one"][1]["run"] != out["two"][0]["run"]


def test_explicit_defaults_and_irrelevant_keys_do_not_change_the_id():
    a = run_id("net", {"optimizer": "adam", "lr": 1e-3})
    b = run_id(
        "net",
        {
            "optimizer": "adam",
            "lr": 1e-3,
            "momentum": 0.5,
            "hidden_dims": [100],
            "leaky_alpha": 0.3,
        },
    )
    c = run_id("net", {"optimizer": "adam", "lr": 2e-3})
    assert a == b != c
    assert "momentum" not in canonical_spec("net", {"optimizer": "adam"})
    assert "momentum" in canonical_spec("net", {"optimizer": "sgd_momentum"})


def test_unset_optimizer_hyperparameters_take_the_optimizers_own_defaults():
    for rule, defaults in OPTIM_DEFAULTS.items():
        spec = canonical_spec("net", {"optimizer": rule})
        assert {k: spec["lr" if k == "learning_rate" else k] for k in defaults} == defaults
        unused = {"momentum", "decay_rate", "beta1", "beta2", "epsilon"} - set(defaults)
        assert not unused & set(spec)
    assert canonical_spec("net", {"optimizer": "adam"})["lr"] == 1e-3  # not SGD's 1e-2
    assert run_id("net", {"optimizer": "adam"}) == run_id("net", {"optimizer": "adam", "lr": 1e-3})


def test_disabled_table_is_skipped():
    assert expand_experiments({"x": {"kind": "net", "enabled": False}}) == {}


def test_limits_cap_sizes_but_keep_nets_epoch_driven():
    runs = expand_table(
        "t",
        {"kind": "net", "base": {"epochs": 20, "batch_size": 6000, "test_epochs": [10, 20]}},
        limits={"max_train": 400, "max_epochs": 2, "max_iterations": 30},
    )
    s = runs[0]["spec"]
    assert (s["num_train"], s["epochs"], s["batch_size"], s["iterations"]) == (400, 2, 400, None)
    assert s["test_epochs"] == [2]
    lin = expand_table("l", {"kind": "linear"}, limits={"max_iterations": 30})[0]["spec"]
    assert lin["iterations"] == 30


@pytest.mark.parametrize(
    "table, message",
    [
        (
            {"kind": "net", "base": {"lr": -1}},
            "experiments.t.base.lr: expected a number > 0, got -1",
        ),
        ({"kind": "net", "grid": {"lr": []}}, "experiments.t.grid.lr: expected a non-empty list"),
        (
            {"kind": "net", "base": {"optimizer": "adamw"}},
            "experiments.t.base.optimizer: expected one of",
        ),
        (
            {"kind": "net", "base": {"activation": "gelu"}},
            "experiments.t.base.activation: expected one of",
        ),
        ({"kind": "net", "base": {"colour": 1}}, "unknown key 'colour' for a net run"),
        ({"kind": "net", "base": {"dropout_keep": 0}}, "expected a keep probability in (0, 1]"),
        ({"kind": "net", "base": {"hidden_dims": [10, 0]}}, "expected a list of integers >= 1"),
        ({"kind": "net", "base": {"batch_size": "half"}}, "expected an integer >= 1 or 'full'"),
        (
            {"kind": "net", "base": {"schedule": "step"}},
            "missing required parameter(s) ['step_size']",
        ),
        (
            {
                "kind": "net",
                "base": {
                    "schedule": "cosine",
                    "lr_decay": 0.9,
                    "schedule_params": {"total_steps": 5},
                },
            },
            "either schedule or lr_decay",
        ),
        ({"kind": "svm"}, "experiments.t.kind: expected one of"),
        (
            {"kind": "linear", "variants": [{"name": "a"}, {"name": "a", "reg": 1.0}]},
            "two runs share the label",
        ),
        ({"kind": "net", "base": {"momentum": 1.5}}, "expected a number in [0, 1)"),
    ],
)
def test_bad_tables_give_one_line_naming_the_key(table, message):
    with pytest.raises(ConfigError) as exc:
        expand_table("t", table)
    text = str(exc.value)
    assert message in text and "\n" not in text


def _dry_run_priorities(workdir):
    """(rule, run wildcard or None) -> priority, from a dry run of the full config
    (Snakemake prints no priority line for priority 0)."""
    res = run_snakemake(workdir, "-n", "--cores", "2")
    assert res.returncode == 0, res.stderr[-2000:]
    out = {}
    for block in re.split(r"\n(?=\[|localrule |rule )", res.stdout + res.stderr):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        prio = re.search(r"^\s+priority: (\d+)", block, re.M)
        if rule:
            run = re.search(r"wildcards: .*run=([\w-]+)", block)
            metric = re.search(r"wildcards: .*metric=(\w+)", block)
            out[(rule.group(1), run.group(1) if run else metric.group(1) if metric else None)] = (
                int(prio.group(1)) if prio else 0
            )
    return out


def test_longest_runs_start_first_after_the_data_and_features(workdir):
    """The full config's dry run: fc_best (the longest CIFAR run) has the top training
    priority, a 1,500-iteration course SVM run the bottom one; the data preparation and
    the jobs that many runs wait for (features, knn_full) are above every training run,
    and every training run of the default config has one thread (Snakemake reserves no
    cores for a two-thread job: it would wait until the queue drains)."""
    cfg = validate_config(
        load_yaml(workdir / "config" / "config.yaml"),
        load_yaml(ROOT / "workflow" / "schemas" / "config.schema.yaml"),
    )
    exp = expand_experiments(cfg["experiments"], seed=cfg["seed"], limits=cfg["limits"])
    prio = _dry_run_priorities(workdir)
    train = {run: p for (rule, run), p in prio.items() if rule in ("train_net", "train_linear")}
    assert len(train) >= 200
    fc_best = exp["fc_best"][0]["run"]
    assert train[fc_best] == max(train.values()) > 0
    assert train[exp["svm_course"][0]["run"]] == 0
    first = [("features", None), ("knn_full", "l1"), ("preprocess", None), ("split", None)]
    assert {prio[job] for job in first} == {100} and max(train.values()) < 100
    assert (
        all(cfg["experiments"][t]["threads"] == 1 for t in exp)
        and cfg["knn"]["full"]["threads"] == 1
    )
    # cnn runs: one job per distinct run; the best CNN (the longest) first, the one-epoch
    # 49,000-image run above a 100-image sanity run
    cnn = {run: p for (rule, run), p in prio.items() if rule == "train_cnn"}
    cnn_runs = {r["run"] for t, recs in exp.items() if t.startswith("cnn_") for r in recs}
    assert set(cnn) == cnn_runs and len(cnn_runs) >= 40
    assert cnn[exp["cnn_best"][0]["run"]] == max(cnn.values()) == 90
    assert cnn[exp["cnn_three_layer"][0]["run"]] > cnn[exp["cnn_overfit"][0]["run"]]
