"""The linear-classifier and image-features stage (workflow/rules/linear.smk): dry run, config,
and the outputs of the shared quick-config run (checks, heat maps, summary table, weight
images, loss curves, misclassified galleries, question evidence)."""

from __future__ import annotations

import json
import math

import pytest
import yaml
from conftest import ROOT
from stage_checks import (
    assert_dry_run_has_rules,
    course_question_test,
    question_rules,
    read_csv,
    read_evidence,
    summary_rows,
)

from nplab_io.evidence import load_registry

GRIDS = [
    "svm_course",
    "svm_wide",
    "svm_long",
    "softmax_course",
    "softmax_writeup",
    "softmax_wide",
    "softmax_long",
    "svm_features",
    "softmax_features",
]
SUMMARY = GRIDS + ["twolayer_features"]
GOALS = {
    "svm_wide": 0.39,
    "svm_long": 0.39,
    "softmax_wide": 0.40,
    "softmax_long": 0.40,
    "twolayer_features": 0.60,
}
FEATURE_TABLES = ["twolayer_features", "svm_features"]
# question id -> keys its evidence must hold (besides question and figures); the prose is
# the registry's (report/questions/linear.yaml)
QUESTIONS = {
    "svm-1": [
        "deltas",
        "num_mismatches",
        "coords_with_kink_crossing",
        "mismatches_at_kink_crossing",
        "mismatches_without_kink_crossing",
        "near_kink_terms_within_h",
        "near_kink_terms_within_band",
        "max_rel_error",
        "example_1d_x",
        "example_1d_analytic",
        "example_1d_numeric",
        "h",
    ],
    "svm-2": [
        "own_class_corr",
        "mean_own_class_corr",
        "mean_other_class_corr",
        "num_classes_own_mean_best_match",
        "test_acc",
        "bluest_template",
    ],
    "softmax-1": [
        "num_classes",
        "expected_loss",
        "measured_loss",
        "abs_diff",
        "mean_prob_correct",
        "weight_scales",
        "loss_by_scale",
    ],
    "softmax-2": [
        "svm_loss_contribution",
        "softmax_loss_contribution",
        "svm_sum_dev",
        "svm_sum_dev_plus_point",
        "softmax_sum_dev",
        "softmax_sum_dev_plus_point",
        "alpha",
        "svm_max_hinge_argument",
    ],
    "softmax-3": [
        "own_class_corr",
        "mean_own_class_corr",
        "mean_other_class_corr",
        "num_classes_own_mean_best_match",
        "test_acc",
    ],
    "features-1": [
        "twolayer_per_class_acc",
        "svm_per_class_acc",
        "twolayer_top_confused_true",
        "twolayer_top_confused_pred",
        "twolayer_top_confused_count",
        "twolayer_top_pairs",
        "twolayer_within_group_error_fraction",
        "twolayer_test_acc",
        "svm_test_acc",
    ],
}


REGISTRY = {q["id"]: q for q in load_registry(ROOT / "report" / "questions")}


# --------------------------------------------------------------------------- without running
def test_dry_run_includes_the_linear_jobs(workdir):
    rules = ["linear_checks", "linear_heatmap", "linear_summary", "linear_weights"]
    rules += ["linear_loss", "features_errors", *question_rules(QUESTIONS)]
    assert_dry_run_has_rules(workdir, "linear", rules)


def test_course_grids_are_the_course_s():
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["experiments"]
    assert cfg["svm_course"]["grid"] == {"lr": [1e-7, 5e-5], "reg": [2.5e4, 5e4]}
    assert cfg["softmax_course"]["grid"] == {"lr": [1e-7, 5e-7], "reg": [2.5e4, 5e4]}
    assert cfg["softmax_writeup"]["grid"] == {"lr": [1e-7, 1e-6], "reg": [2.5e4, 1e4]}
    assert cfg["softmax_writeup"]["base"]["iterations"] == 1000
    for t in SUMMARY:
        assert cfg[t]["select"] == "val_acc", t


# --------------------------------------------------------------------------- quick run
@pytest.mark.e2e
def test_checks(results):
    c = json.loads((results / "linear" / "checks.json").read_text())
    assert c["dtype"] == "float64" and c["h"] == 1e-5 and c["C"] == 10 and c["D"] == 3073
    assert c["softmax_expected_loss"] == pytest.approx(math.log(10), abs=1e-12)
    assert abs(c["softmax_initial_loss"] - math.log(10)) < 0.1
    assert abs(c["svm_initial_loss"] - 9.0) < 0.5
    cases = {(g["model"], g["implementation"], g["reg"]) for g in c["gradcheck"]}
    assert cases == {
        (m, i, r) for m in ("svm", "softmax") for i in ("naive", "vectorized") for r in (0.0, 50.0)
    }
    for g in c["gradcheck"]:
        assert g["median_rel_error"] < 1e-6, g
        if g["model"] == "softmax":  # smooth: every coordinate agrees
            assert g["max_rel_error"] < 1e-6, g
    assert c["naive_vs_vectorized_all_agree"] is True
    for a in c["naive_vs_vectorized"]:
        assert a["loss_abs_diff"] < 1e-9 and a["grad_frobenius_diff"] < 1e-8
    t = json.loads((results / "linear" / "timings.json").read_text())
    for m in ("svm", "softmax"):
        assert t[m]["naive_s"] > 0 and t[m]["vectorized_s"] > 0 and t[m]["speedup"] > 1
    assert "timing" not in json.dumps(c) and '_s"' not in json.dumps(c)


@pytest.mark.e2e
def test_figures_exist(results):
    names = [f"linear/{t}_heatmap" for t in GRIDS]
    names += [f"linear/{m}_{k}" for m in ("svm", "softmax") for k in ("weights", "loss")]
    names += [f"features/{t}_{k}" for t in FEATURE_TABLES for k in ("confusion", "misclassified")]
    names += [f"questions/{q}" for q in QUESTIONS]
    for name in names:
        for fmt in ("png", "svg"):
            p = results / "figures" / f"{name}.{fmt}"
            assert p.is_file() and p.stat().st_size > 1000, p


@pytest.mark.e2e
def test_summary_table(results):
    columns = ["best_variant", "best_run", "best_lr", "best_reg", "val_acc", "test_acc"]
    columns += ["anchor_model", "anchor_value", "protocol_note", "goal_test_acc", "meets_goal"]
    rows = summary_rows(results, "linear", SUMMARY, columns)
    for r in rows:
        assert "nan" not in {v.lower() for v in r.values()}, r["table"]
        for col in ("train_acc", "val_acc", "test_acc"):
            assert 0.0 <= float(r[col]) <= 1.0, (r["table"], col)
        best = json.loads((results / "experiments" / r["table"] / "best.json").read_text())
        assert float(r["test_acc"]) == pytest.approx(best["test_acc"])
        assert r["best_run"] == best["run"]
        assert r["anchor_model"] and 0 < float(r["anchor_value"]) < 1
        assert r["protocol_note"]
        if r["table"] in GOALS:
            assert float(r["goal_test_acc"]) == GOALS[r["table"]]
            assert r["meets_goal"] == str(float(r["test_acc"]) >= GOALS[r["table"]])
        else:
            assert r["goal_test_acc"] == "" and r["meets_goal"] == ""


@pytest.mark.e2e
def test_templates(results):
    for model in ("svm", "softmax"):
        rows = read_csv(results / "linear" / f"{model}_templates.csv")
        assert len(rows) == 100
        best = json.loads((results / "experiments" / f"{model}_wide" / "best.json").read_text())
        assert {r["run"] for r in rows} == {best["run"]}
        for r in rows:
            for col in ("corr_centered", "corr_raw"):
                assert -1.0 <= float(r[col]) <= 1.0


@pytest.mark.e2e
def test_misclassified(results):
    rows = read_csv(results / "features" / "misclassified.csv")
    for table in FEATURE_TABLES:
        best = json.loads((results / "experiments" / table / "best.json").read_text())
        mine = [r for r in rows if r["table"] == table]
        pred, conf = best["predictions"], best["confusion"]
        assert len(mine) == sum(map(sum, conf)) - sum(conf[i][i] for i in range(len(conf)))
        for r in mine:
            i = int(r["test_index"])
            assert pred[i] == int(r["predicted_label"]) != int(r["true_label"])
        for c in range(10):
            shown = [
                r for r in mine if int(r["predicted_label"]) == c and r["in_gallery"] == "True"
            ]
            assert len(shown) <= 8


test_question_evidence = course_question_test("linear", QUESTIONS, REGISTRY)


@pytest.mark.e2e
def test_question_specifics(results):
    ev = {q: read_evidence(results, q) for q in QUESTIONS}
    s1 = ev["svm-1"]
    assert s1["example_1d_analytic"][0] == 0.0 and s1["example_1d_numeric"][0] == pytest.approx(0.5)
    assert s1["mismatches_without_kink_crossing"] == [0] * len(s1["deltas"])
    assert s1["num_mismatches"] == s1["mismatches_at_kink_crossing"]
    big = s1["deltas"].index(max(s1["deltas"]))
    assert s1["num_mismatches"][big] == 0
    assert s1["num_mismatches"][s1["deltas"].index(0.0)] >= s1["num_mismatches"][big]
    sm1 = ev["softmax-1"]
    assert sm1["num_classes"] == 10 and sm1["expected_loss"] == pytest.approx(math.log(10))
    assert sm1["measured_loss"] == pytest.approx(sm1["measured_loss_checks_json"])
    sm2 = ev["softmax-2"]
    assert sm2["svm_loss_contribution"] == 0.0 and sm2["svm_max_hinge_argument"] < 0
    assert sm2["softmax_loss_contribution"] > 0 and sm2["alpha"] >= 1
    assert sm2["svm_sum_unchanged"] is True and sm2["softmax_sum_changed"] is True
    for q in ("svm-2", "softmax-3"):
        assert len(ev[q]["own_class_corr"]) == 10
        assert 0 <= ev[q]["num_classes_own_mean_best_match"] <= 10
    f1 = ev["features-1"]
    assert len(f1["twolayer_per_class_acc"]) == 10 and len(f1["svm_per_class_acc"]) == 10
    counts = f1["twolayer_top_confused_count"]
    assert counts == sorted(counts, reverse=True) and all(c > 0 for c in counts)
