"""Experiment tables -> run specs: expansion, sharing, hashing, validation, limits."""
import pytest

from nplab_io.config import ConfigError
from nplab_io.runs import canonical_spec, expand_experiments, expand_table, run_id


def test_grid_times_variants_expands_to_the_product_with_labels():
    runs = expand_table("t", {"kind": "net", "variants": [{"name": "a"}, {"name": "b", "reg": 0.1}],
                              "grid": {"lr": [1e-3, 1e-2], "epochs": [1, 2, 3]}})
    assert len(runs) == 12
    assert runs[0]["variant"] == "a, lr=0.001, epochs=1"
    assert len({r["run"] for r in runs}) == 12
    assert all(r["spec"]["reg"] == 0.1 for r in runs if r["variant"].startswith("b"))


def test_identical_runs_in_two_tables_share_one_id():
    exp = {"one": {"kind": "linear", "grid": {"lr": [1e-7, 2e-7]}},
           "two": {"kind": "linear", "base": {"lr": 1e-7, "reg": 2.5e4}}}
    out = expand_experiments(exp)
    assert out["one"][0]["run"] == out["two"][0]["run"]
    assert out["one"][1]["run"] != out["two"][0]["run"]


def test_explicit_defaults_and_irrelevant_keys_do_not_change_the_id():
    a = run_id("net", {"optimizer": "adam", "lr": 1e-3})
    b = run_id("net", {"optimizer": "adam", "lr": 1e-3, "momentum": 0.5, "hidden_dims": [100],
                       "leaky_alpha": 0.3})
    c = run_id("net", {"optimizer": "adam", "lr": 2e-3})
    assert a == b != c
    assert "momentum" not in canonical_spec("net", {"optimizer": "adam"})
    assert "momentum" in canonical_spec("net", {"optimizer": "sgd_momentum"})


def test_disabled_table_is_skipped():
    assert expand_experiments({"x": {"kind": "net", "enabled": False}}) == {}


def test_limits_cap_sizes_but_keep_nets_epoch_driven():
    runs = expand_table("t", {"kind": "net", "base": {"epochs": 20, "batch_size": 6000,
                                                      "test_epochs": [10, 20]}},
                        limits={"max_train": 400, "max_epochs": 2, "max_iterations": 30})
    s = runs[0]["spec"]
    assert (s["num_train"], s["epochs"], s["batch_size"], s["iterations"]) == (400, 2, 400, None)
    assert s["test_epochs"] == [2]
    lin = expand_table("l", {"kind": "linear"}, limits={"max_iterations": 30})[0]["spec"]
    assert lin["iterations"] == 30


@pytest.mark.parametrize("table, message", [
    ({"kind": "net", "base": {"lr": -1}}, "experiments.t.base.lr: expected a number > 0, got -1"),
    ({"kind": "net", "grid": {"lr": []}}, "experiments.t.grid.lr: expected a non-empty list"),
    ({"kind": "net", "base": {"optimizer": "adamw"}}, "experiments.t.base.optimizer: expected one of"),
    ({"kind": "net", "base": {"activation": "gelu"}}, "experiments.t.base.activation: expected one of"),
    ({"kind": "net", "base": {"colour": 1}}, "unknown key 'colour' for a net run"),
    ({"kind": "net", "base": {"dropout_keep": 0}}, "expected a keep probability in (0, 1]"),
    ({"kind": "net", "base": {"hidden_dims": [10, 0]}}, "expected a list of integers >= 1"),
    ({"kind": "net", "base": {"batch_size": "half"}}, "expected an integer >= 1 or 'full'"),
    ({"kind": "net", "base": {"schedule": "step"}}, "missing required parameter(s) ['step_size']"),
    ({"kind": "net", "base": {"schedule": "cosine", "lr_decay": 0.9,
                              "schedule_params": {"total_steps": 5}}}, "either schedule or lr_decay"),
    ({"kind": "svm"}, "experiments.t.kind: expected one of"),
    ({"kind": "linear", "variants": [{"name": "a"}, {"name": "a", "reg": 1.0}]}, "two runs share the label"),
    ({"kind": "net", "base": {"momentum": 1.5}}, "expected a number in [0, 1)"),
])
def test_bad_tables_give_one_line_naming_the_key(table, message):
    with pytest.raises(ConfigError) as exc:
        expand_table("t", table)
    text = str(exc.value)
    assert message in text and "\n" not in text
