"""The nets stage (workflow/rules/nets.smk): dry run, config, and the outputs of the shared
quick-config run (gradient check, figures, summary table, question evidence)."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from conftest import ROOT
from stage_checks import (
    assert_dry_run_has_rules,
    assert_figures_exist,
    course_question_test,
    question_rules,
    read_csv,
    read_evidence,
    summary_rows,
)

from nplab_io.evidence import load_registry

TABLES = [
    "twolayer_default",
    "twolayer_search",
    "twolayer_data_size",
    "fc_overfit",
    "fc_init_scale",
    "fc_optimizers",
    "bn_init_scale",
    "bn_batch_size",
    "ln_width",
    "dropout",
    "fc_best",
]
# the figures of fc_overfit .. ln_width are named after their tables
FIGURES = [
    "twolayer_default_curves",
    "twolayer_weights",
    "twolayer_search",
    *TABLES[TABLES.index("fc_overfit") : TABLES.index("ln_width") + 1],
    "dropout_curves",
    "fc_best_curves",
]
REGISTRY = {q["id"]: q for q in load_registry(ROOT / "report" / "questions")}
# question id -> keys its evidence must hold (besides question and figures)
QUESTIONS = {
    "twolayer-1": [
        "sigmoid_grad_max",
        "sigmoid_saturates_beyond_abs_x",
        "relu_frac_exactly_zero",
        "leaky_relu_grad_min",
        "default_net_final_frac_zero",
        "default_net_final_frac_dead_units",
        "best_net_final_frac_zero",
        "best_net_final_frac_dead_units",
    ],
    "twolayer-2": [
        "data_size_num_train",
        "data_size_gap",
        "hidden_sizes",
        "hidden_mean_gap",
        "regs",
        "reg_mean_gap",
        "more_data_gap_change",
        "more_reg_gap_change",
    ],
    "fcnet-1": [
        "weight_scales",
        "depth3_num_reach_100",
        "depth5_num_reach_100",
        "depth3_num_diverged",
        "depth5_num_diverged",
        "depth3_best_scale",
        "depth5_best_scale",
        "deeper_is_more_sensitive",
    ],
    "fcnet-2": [
        "adagrad_eff_lr_first",
        "adagrad_eff_lr_last",
        "adagrad_eff_lr_ratio",
        "adam_eff_lr_first",
        "adam_eff_lr_last",
        "adam_eff_lr_ratio",
        "adagrad_rel_update_first10pct",
        "adam_rel_update_last10pct",
    ],
    "bn-1": [
        "trains_threshold_train_acc",
        "batchnorm_num_trains",
        "none_num_trains",
        "batchnorm_best_val_acc",
        "none_best_val_acc",
        "batchnorm_wider_range",
    ],
    "bn-2": [
        "batch_sizes",
        "batchnorm_val_acc",
        "layernorm_val_acc",
        "none_val_acc",
        "batchnorm_drop_at_smallest_batch",
        "layernorm_drop_at_smallest_batch",
    ],
    "bn-3": [
        "mapping",
        "subtract_mean_image_feature_mean_abs_max",
        "image_rgb_sum_to_one_example_sum_spread",
        "raw_feature_mean_abs_max",
        "batchnorm_like",
        "layernorm_like",
        "neither",
    ],
    "bn-4": [
        "widths",
        "small_widths",
        "layernorm_small_mean_val_acc",
        "batchnorm_small_mean_val_acc",
        "none_small_mean_val_acc",
        "ln_minus_batchnorm_small",
    ],
    "dropout-1": [
        *("p", "mean_test", "mean_train_divided", "mean_train_not_divided"),
        *("ratio_train_to_test_divided", "ratio_train_to_test_not_divided"),
    ],
    "dropout-2": ["keep", "train_acc", "val_acc", "gap", "gap_reduction", "dropout_reduces_gap"],
}


# --------------------------------------------------------------------------- without running
def test_dry_run_includes_the_nets_jobs(workdir):
    rules = ["nets_gradcheck", "nets_figure", "nets_summary", "nets_step_sizes"]
    assert_dry_run_has_rules(workdir, "nets", [*rules, *question_rules(QUESTIONS)])


def test_twolayer_tables_record_activation_stats():
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["experiments"]
    for table in ("twolayer_default", "twolayer_search"):
        assert cfg[table]["base"].get("record_stats") is True, table
    assert cfg["fc_best"].get("select") == "val_acc"
    assert cfg["twolayer_search"].get("select") == "val_acc"


# --------------------------------------------------------------------------- quick run
@pytest.mark.e2e
def test_gradcheck(results):
    g = json.loads((results / "nets" / "gradcheck.json").read_text())
    assert g["hidden_dims"] == [20, 30] and g["N"] == 2 and g["D"] == 15 and g["C"] == 10
    assert g["h"] == 1e-5 and g["dtype"] == "float64"
    names = {(c["normalization"], c["reg"], c["dropout_keep"]) for c in g["cases"]}
    for norm in ("none", "batchnorm", "layernorm"):
        assert (norm, 0.0, 1.0) in names and (norm, 3.14, 1.0) in names
    assert any(c["dropout_keep"] < 1 and c["dropout_seed"] is not None for c in g["cases"])
    for c in g["cases"]:
        assert set(c["max_rel_error"]) >= {"W1", "b1", "W2", "b2", "W3", "b3"}
        assert c["max_rel_error_overall"] < 1e-5, c
    assert g["all_passed"] is True
    assert abs(g["expected_initial_loss"] - math.log(10)) < 1e-12
    assert g["initial_loss_ok"] is True


@pytest.mark.e2e
def test_figures_exist(results):
    assert_figures_exist(results / "figures" / "nets", FIGURES)
    for qid in QUESTIONS:
        assert (results / "figures" / "questions" / f"{qid}.png").is_file(), qid


@pytest.mark.e2e
def test_summary_table(results):
    columns = ["best_variant", "best_run", "train_acc", "val_acc", "test_acc", "test_source"]
    rows = summary_rows(results, "nets", TABLES, [*columns, "anchor_model", "anchor_value"])
    assert "protocol_note" in rows[0]
    for r in rows:
        for col in ("train_acc", "val_acc"):
            v = float(r[col])
            assert 0.0 <= v <= 1.0 and not math.isnan(v), (r["table"], col)
        assert r["protocol_note"]
        if r["table"] in ("twolayer_search", "fc_best"):  # the tables with select
            best = json.loads((results / "experiments" / r["table"] / "best.json").read_text())
            assert float(r["test_acc"]) == pytest.approx(best["test_acc"])
            assert r["best_run"] == best["run"]
            assert r["anchor_model"] and 0 < float(r["anchor_value"]) < 1
        else:
            assert r["test_acc"] == ""  # never evaluated on test


@pytest.mark.e2e
def test_step_sizes(results):
    rows = read_csv(results / "nets" / "step_sizes.csv")
    assert {r["optimizer"] for r in rows} == {"adagrad", "adam"}
    for opt in ("adagrad", "adam"):
        allw = [r for r in rows if r["optimizer"] == opt and r["param"] == "all"]
        assert allw and [int(r["iteration"]) for r in allw] == list(range(1, len(allw) + 1))
        for r in allw:
            for col in ("rel_update", "eff_lr_median", "grad_norm", "loss"):
                assert math.isfinite(float(r[col])) and float(r[col]) >= 0
    # AdaGrad's cache only grows: every coordinate's rate, hence the median, never increases
    ada = [
        float(r["eff_lr_median"])
        for r in rows
        if r["optimizer"] == "adagrad" and r["param"] == "W1"
    ]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(ada, ada[1:]))


test_question_evidence = course_question_test("nets", QUESTIONS, REGISTRY)


@pytest.mark.e2e
def test_question_specifics(results):
    ev = {q: read_evidence(results, q) for q in QUESTIONS}
    t1 = ev["twolayer-1"]
    assert t1["sigmoid_grad_max"] == pytest.approx(0.25)
    assert t1["relu_frac_exactly_zero"] == pytest.approx(0.5, abs=0.01)
    assert t1["leaky_relu_grad_min"] == pytest.approx(0.01)
    for k in ("default_net_final_frac_zero", "best_net_final_frac_dead_units"):
        assert 0.0 <= t1[k] <= 1.0
    f2 = ev["fcnet-2"]
    assert f2["adagrad_eff_lr_monotone_decreasing"] is True
    assert f2["adagrad_eff_lr_ratio"] <= 1.0
    b3 = ev["bn-3"]
    assert b3["mapping"]["subtract_mean_image"] == "batch norm"
    assert b3["mapping"]["image_rgb_sum_to_one"] == "layer norm"
    assert b3["mapping"]["row_rgb_sum_to_one"].startswith("layer norm")
    assert b3["mapping"]["binarize"] == "neither"
    d1 = ev["dropout-1"]
    for p, r_div, r_no in zip(
        d1["p"], d1["ratio_train_to_test_divided"], d1["ratio_train_to_test_not_divided"]
    ):
        assert 0 < p < 1
        assert r_no == pytest.approx(p * r_div, rel=1e-6)
        assert r_div == pytest.approx(1.0, abs=0.1)
    d2 = ev["dropout-2"]
    assert len(d2["keep"]) == len(d2["gap"]) == len(d2["train_acc"])
    for k in ("train_acc", "val_acc"):
        assert all(0 <= v <= 1 for v in d2[k])
