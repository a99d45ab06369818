"""The linear-classifier and features questions' evidence on tiny hand-made data
(nplab_io.evidence.linear): svm-1, svm-2, softmax-1, softmax-2, softmax-3, features-1."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from answer_checks import answer_problems
from fixture_files import question_data, run_params, write_json

from nplab_io.evidence import linear as ev_linear
from nplab_io.evidence import load_registry, render_answer
from nplab_io.evidence.io import check_evidence

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY = {
    q["id"]: q for q in load_registry(REPO_ROOT / "report" / "questions") if q["family"] == "linear"
}


def _data(qid, inputs, **kw):
    """The question's QuestionData, with the input names its registry entry gives its rule."""
    return question_data(REGISTRY[qid], inputs, **kw)


def _params(tmp_path, run, W):
    return run_params(tmp_path, run, W=np.asarray(W, dtype=np.float64))


def _public(ev):
    """What the job writes: no working values, JSON types only."""
    return json.loads(json.dumps({k: v for k, v in ev.items() if not k.startswith("_")}))


# --------------------------------------------------------------------------- svm-1
SVM1_SETTINGS = {
    "deltas": [0.0, 2e-5, 1.0],
    "num_rows": 2,
    "num_coords": 5,
    "weight_scale": 0.0,  # W = 0: every score 0, every hinge argument exactly Δ
    "h": 1e-5,
    "mismatch_tol": 1e-6,
    "seed": 0,
}


def _centered(tmp_path, **arrays):
    path = tmp_path / "centered_bias.npz"
    np.savez(path, **arrays)
    return path


def _svm_1(tmp_path):
    # three dev rows of two positive features; num_rows keeps the first two
    X = np.array([[1.0, 2.0], [3.0, 1.0], [2.0, 2.0]])
    data = _data("svm-1", {"data": _centered(tmp_path, X_dev=X, y_dev=np.array([0, 1, 2]))})
    return ev_linear.compute_svm_1(data, SVM1_SETTINGS)


def test_svm_1_mismatches_only_where_the_step_crosses_a_kink(tmp_path):
    ev = _svm_1(tmp_path)
    assert (ev["N"], ev["D"], ev["C"], ev["hinge_terms"]) == (2, 2, 10, 18)
    assert ev["num_coords_checked"] == 5 and ev["max_abs_x"] == 3.0
    assert ev["band_h_max_abs_x"] == pytest.approx(3e-5)
    # Δ = 0: all 18 terms sit on the kink, the analytic subgradient there is 0 but every
    # centred difference sees a positive slope on one side (all X > 0): 5 of 5 mismatch.
    # Δ = 2e-5: every term lies 2h from the kink, within the band h * max|x| = 3h.
    # Δ = 1: all terms active (loss 9 per row), no kink within ±h, no mismatch.
    assert ev["initial_loss"] == pytest.approx([0.0, 9 * 2e-5, 9.0])
    assert ev["active_term_fraction"] == [0.0, 1.0, 1.0]
    assert ev["near_kink_terms_within_h"] == [18, 0, 0]
    assert ev["near_kink_terms_within_band"] == [18, 18, 0]
    assert ev["num_mismatches"][0::2] == [5, 0]
    assert ev["coords_with_kink_crossing"][0::2] == [5, 0]
    assert ev["mismatches_at_kink_crossing"] == ev["num_mismatches"]
    assert ev["mismatches_without_kink_crossing"] == [0, 0, 0]
    assert ev["max_rel_error"][0] == 1.0 and ev["max_rel_error"][2] < 1e-6
    assert ev["all_mismatches_explained_by_kinks"] is True
    assert ev["margin_std"] == 0.0


def test_svm_1_one_dimensional_example_at_the_kink(tmp_path):
    ev = _svm_1(tmp_path)
    assert ev["example_1d_x"] == [0.0, 0.5e-5, 2e-5]
    assert ev["example_1d_analytic"] == [0.0, 1.0, 1.0]
    # (f(h) - f(-h)) / 2h = 0.5 at 0; (1.5h - 0) / 2h = 0.75 at h/2; 1 past the kink
    assert ev["example_1d_numeric"] == pytest.approx([0.5, 0.75, 1.0], abs=1e-9)


# --------------------------------------------------------------------------- svm-2 / softmax-3
NAMES3 = ["red", "green", "blue"]
# template (row) x class mean image (column)
CORR = np.array([[0.5, 0.1, -0.2], [0.0, 0.3, 0.4], [0.1, 0.2, 0.9]])


def _templates_csv(tmp_path, run):
    lines = ["run,template,image_class,corr_centered,corr_raw"]
    for i, t in enumerate(NAMES3):
        for j, c in enumerate(NAMES3):
            lines.append(f"{run},{t},{c},{CORR[i, j]},{CORR[i, j] / 2}")
    path = tmp_path / "templates.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _templates(tmp_path, qid, table, run_in_csv="linear-best"):
    # 1x1x3 images: W rows are R, G, B and the bias; each class weighs one channel
    W = np.vstack([np.diag([1.0, 2.0, 3.0]), np.zeros(3)])
    best = {
        "table": table,
        "run": "linear-best",
        "variant": "lr=0.1, reg=5",
        "spec": {"lr": 0.1, "reg": 5},
        "val_acc": 0.4,
        "test_acc": 0.375,
    }
    inputs = {
        "tables": [write_json(tmp_path / table / "best.json", best)],
        "params": [
            _params(tmp_path, "linear-other", -W),  # a worse run of the same table
            _params(tmp_path, "linear-best", W),
        ],
        "templates": _templates_csv(tmp_path, run_in_csv),
    }
    return _data(qid, inputs)


@pytest.mark.parametrize(
    ("qid", "table", "model"),
    [("svm-2", "svm_wide", "svm"), ("softmax-3", "softmax_wide", "softmax")],
)
def test_templates_against_the_class_means(tmp_path, qid, table, model):
    compute = getattr(ev_linear, f"compute_{qid.replace('-', '_')}")
    ev = compute(
        _templates(tmp_path, qid, table), REGISTRY[qid]["settings"] | {"image_shape": [1, 1, 3]}
    )
    assert (ev["model"], ev["table"], ev["run"]) == (model, table, "linear-best")
    assert (ev["lr"], ev["reg"], ev["test_acc"]) == (0.1, 5.0, 0.375)
    assert ev["class_names"] == NAMES3
    assert ev["own_class_corr"] == [0.5, 0.3, 0.9]
    assert ev["own_class_corr_raw"] == [0.25, 0.15, 0.45]
    assert ev["mean_own_class_corr"] == pytest.approx(1.7 / 3)
    assert (ev["min_own_class_corr"], ev["max_own_class_corr"]) == (0.3, 0.9)
    assert ev["mean_other_class_corr"] == pytest.approx(0.6 / 6)
    # green's template matches blue's mean better than its own
    assert ev["best_matching_class"] == ["red", "blue", "blue"]
    assert ev["num_classes_own_mean_best_match"] == 2
    # from the best run's W, not the other run's (-W would make red the bluest)
    assert ev["channel_mean_weight_rgb"] == [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 3.0]]
    assert (ev["bluest_template"], ev["greenest_template"]) == ("blue", "green")
    assert ev["weight_abs_max"] == 3.0


def test_templates_must_come_from_the_best_run(tmp_path):
    data = _templates(tmp_path, "svm-2", "svm_wide", run_in_csv="linear-other")
    with pytest.raises(ValueError, match="not computed from the best run"):
        ev_linear.compute_svm_2(data, {"image_shape": [1, 1, 3]})


# --------------------------------------------------------------------------- softmax-1
def _softmax_1(tmp_path, X):
    checks = write_json(
        tmp_path / "checks.json", {"weight_scale": 0.0, "softmax_initial_loss": 2.25}
    )
    npz = _centered(tmp_path, X_dev=X, y_dev=np.array([0, 3, 9]))
    data = _data("softmax-1", {"data": npz, "checks": checks})
    return ev_linear.compute_softmax_1(data, {"weight_scales": [0.5, 0.0], "seed": 3})


def test_softmax_1_zero_weights_give_minus_log_one_tenth(tmp_path):
    X = np.array([[1.0, -2.0], [0.5, 1.0], [-1.0, 3.0]])
    ev = _softmax_1(tmp_path, X)
    # the checks' scale (0) is the second of the two: every score is 0, p = 1/10
    assert ev["weight_scale"] == 0.0 and ev["N"] == 3 and ev["num_classes"] == 10
    assert ev["expected_loss"] == pytest.approx(math.log(10), abs=1e-15)
    assert ev["measured_loss"] == pytest.approx(math.log(10), abs=1e-12)
    assert ev["abs_diff"] == pytest.approx(0.0, abs=1e-12)
    assert ev["mean_prob_correct"] == pytest.approx(0.1, abs=1e-15)
    assert ev["score_std"] == 0.0
    assert ev["measured_loss_checks_json"] == 2.25
    assert ev["loss_by_scale"][1] == ev["measured_loss"]
    # scale 0.5: the seeded N(0,1) weights, halved; the loss by hand
    W = 0.5 * np.random.default_rng(3).standard_normal((2, 10))
    s = X @ W
    by_hand = np.mean(np.log(np.exp(s).sum(axis=1)) - s[[0, 1, 2], [0, 3, 9]])
    assert ev["loss_by_scale"][0] == pytest.approx(by_hand, rel=1e-12)
    assert ev["score_std_by_scale"] == [pytest.approx(s.std(), rel=1e-12), 0.0]


# --------------------------------------------------------------------------- softmax-2
def _softmax_2(tmp_path, X_val, y_val):
    """One pixel plus the bias column. The SVM scores class 0 as 2 * pixel, every other
    class 0; the softmax weights are 0 (every probability 1/10)."""
    Wsvm = np.zeros((2, 10))
    Wsvm[0, 0] = 2.0
    bests = {
        "svm_wide": {"table": "svm_wide", "run": "linear-svm", "variant": "svm v", "spec": {}},
        "softmax_wide": {"table": "softmax_wide", "run": "linear-sm", "variant": "sm v"},
    }
    npz = _centered(
        tmp_path,
        X_dev=np.array([[1.0, 1.0], [0.25, 1.0], [0.5, 1.0]]),
        y_dev=np.array([0, 0, 1]),
        X_val=np.asarray(X_val),
        y_val=np.asarray(y_val),
        class_names=np.array([f"c{k}" for k in range(10)]),
        image_shape=np.array([1, 1, 1]),
    )
    inputs = {
        "tables": [write_json(tmp_path / t / "best.json", b) for t, b in bests.items()],
        "params": [_params(tmp_path, "linear-svm", Wsvm), _params(tmp_path, "linear-sm", 0 * Wsvm)],
        "data": npz,
    }
    return ev_linear.compute_softmax_2(_data("softmax-2", inputs), {})


def test_softmax_2_a_point_with_every_margin_met(tmp_path):
    # val image 0 (pixel 0.25) has hinge loss 9 * (1 - 0.5); images 1 and 2 have 0
    ev = _softmax_2(tmp_path, [[0.25, 1.0], [1.0, 1.0], [2.0, 1.0]], [0, 0, 0])
    assert (ev["val_index"], ev["alpha"], ev["point_scaled"]) == (1, 1.0, False)
    assert ev["delta"] == 1.0  # the SVM run's spec has none: the default
    assert ev["true_class_name"] == "c0"
    assert ev["svm_max_hinge_argument"] == -1.0 and ev["svm_min_margin_over_delta"] == 1.0
    assert ev["svm_loss_contribution"] == 0.0
    assert ev["softmax_loss_contribution"] == pytest.approx(math.log(10))
    assert ev["softmax_prob_correct"] == pytest.approx(0.1)
    # with the SVM's scores (2, 0, ..., 0): -log(e^2 / (e^2 + 9))
    assert ev["softmax_loss_contribution_svm_weights"] == pytest.approx(math.log(1 + 9 / math.e**2))
    # dev losses: 0, 9 * 0.5, and (class 1 row) 2 + 8 * 1
    assert ev["dev_rows"] == 3 and ev["svm_sum_dev"] == 14.5
    assert ev["svm_sum_dev_plus_point"] == 14.5 and ev["svm_sum_unchanged"] is True
    assert ev["softmax_sum_dev"] == pytest.approx(3 * math.log(10))
    assert ev["softmax_sum_dev_plus_point"] == pytest.approx(4 * math.log(10))
    assert ev["softmax_sum_changed"] is True
    assert ev["frac_dev_zero_svm_loss"] == pytest.approx(1 / 3)
    assert ev["frac_val_zero_svm_loss"] == pytest.approx(2 / 3)
    assert ev["min_softmax_loss_dev"] == pytest.approx(math.log(10))


def test_softmax_2_scales_a_correctly_classified_image(tmp_path):
    # image 0 (pixel -1) is misclassified; image 1 (pixel 0.25) needs pixel > 0.5, i.e.
    # alpha > 2: zero_hinge_scale doubles the smallest factor
    ev = _softmax_2(tmp_path, [[-1.0, 1.0], [0.25, 1.0]], [0, 0])
    assert (ev["val_index"], ev["alpha"], ev["point_scaled"]) == (1, 4.0, True)
    assert ev["svm_max_hinge_argument"] == -1.0 and ev["svm_loss_contribution"] == 0.0
    assert ev["frac_val_zero_svm_loss"] == 0.0
    assert ev["_image"].shape == (1, 1, 1) and ev["_image"][0, 0, 0] == 1.0


# --------------------------------------------------------------------------- features-1
NAMES4 = ["cat", "dog", "car", "truck"]
GROUPS = {"animals": ["cat", "dog"], "vehicles": ["car", "truck"]}
CONF = {
    "twolayer_features": [[5, 3, 1, 0], [2, 6, 0, 0], [0, 0, 7, 2], [0, 1, 1, 4]],
    "svm_features": [[6, 1, 2, 0], [1, 7, 0, 0], [1, 0, 8, 0], [0, 0, 1, 5]],
}


def _misclassified_csv(tmp_path, conf=CONF):
    lines = ["table,test_index,true_label,true_name,predicted_label,predicted_name"]
    for table, m in conf.items():
        for i, row in enumerate(m):
            for j, n in enumerate(row):
                if i != j:
                    lines += [f"{table},0,{i},{NAMES4[i]},{j},{NAMES4[j]}"] * n
    path = tmp_path / "misclassified.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _features_1(tmp_path, misclassified):
    bests = {
        t: {"variant": f"{t} v", "test_acc": acc, "num_test": 32, "confusion": CONF[t]}
        for t, acc in [("twolayer_features", 22 / 32), ("svm_features", 26 / 32)]
    }
    split = tmp_path / "split.npz"
    np.savez(split, class_names=np.array(NAMES4))
    inputs = {
        "tables": [write_json(tmp_path / t / "best.json", b) for t, b in bests.items()],
        "misclassified": misclassified,
        "split": split,
    }
    return ev_linear.compute_features_1(_data("features-1", inputs), {"top_k": 3, "groups": GROUPS})


def test_features_1_confusions_and_within_group_errors(tmp_path):
    ev = _features_1(tmp_path, _misclassified_csv(tmp_path))
    assert ev["class_names"] == NAMES4 and ev["groups"] == GROUPS
    assert ev["twolayer_num_errors"] == 10 and ev["svm_num_errors"] == 6
    assert ev["twolayer_per_class_acc"] == pytest.approx([5 / 9, 6 / 8, 7 / 9, 4 / 6])
    assert (ev["twolayer_best_class"], ev["twolayer_worst_class"]) == ("car", "cat")
    # largest off-diagonal cells; ties: smaller true class first
    assert ev["twolayer_top_confused_true"] == ["cat", "dog", "car"]
    assert ev["twolayer_top_confused_pred"] == ["dog", "cat", "truck"]
    assert ev["twolayer_top_confused_count"] == [3, 2, 2]
    assert ev["twolayer_top_pairs"] == ["cat/dog", "car/truck", "cat/car"]
    assert ev["twolayer_top_pair_count"] == [5, 3, 1]
    # cat->dog 3, dog->cat 2, car->truck 2, truck->car 1 stay in a group: 8 of 10
    assert ev["twolayer_within_group_error_fraction"] == 0.8
    assert ev["svm_within_group_error_fraction"] == 0.5
    assert ev["twolayer_most_predicted_wrongly"] == "dog"
    assert ev["svm_top_pairs"][0] == "cat/car" and ev["same_top_pair"] is False
    # across the divide: cat/car 1 and dog/truck 1 tie; the names decide
    assert ev["twolayer_top_cross_group_pair"] == "cat/car"
    assert ev["twolayer_top_cross_group_count"] == 1
    # 2 groups of 2 among 4 classes: 2 * (2 * 1) of the 4 * 3 (true, predicted) pairs
    assert ev["within_group_chance_fraction"] == pytest.approx(1 / 3)
    assert ev["twolayer_test_acc"] == 22 / 32 and ev["svm_num_test"] == 32


def test_features_1_misclassified_rows_must_match_the_confusion(tmp_path):
    short = dict(CONF, svm_features=[[9, 0, 0, 0], [0, 8, 0, 0], [0, 0, 9, 0], [0, 0, 0, 6]])
    with pytest.raises(ValueError, match="rows for svm_features"):
        _features_1(tmp_path, _misclassified_csv(tmp_path, short))


# --------------------------------------------------------------------------- templates
def _all_evidence(tmp_path):
    def sub(name):
        (tmp_path / name).mkdir(exist_ok=True)
        return tmp_path / name

    shape = {"image_shape": [1, 1, 3]}
    return {
        "svm-1": _svm_1(sub("svm-1")),
        "svm-2": ev_linear.compute_svm_2(_templates(sub("svm-2"), "svm-2", "svm_wide"), shape),
        "softmax-1": _softmax_1(sub("softmax-1"), np.ones((3, 2))),
        "softmax-2": _softmax_2(sub("softmax-2"), [[-1.0, 1.0], [0.25, 1.0]], [0, 0]),
        "softmax-3": ev_linear.compute_softmax_3(
            _templates(sub("softmax-3"), "softmax-3", "softmax_wide"), shape
        ),
        "features-1": _features_1(sub("features-1"), _misclassified_csv(sub("features-1"))),
    }


def test_every_linear_answer_renders_against_its_evidence(tmp_path):
    evidence = _all_evidence(tmp_path)
    assert set(evidence) == set(REGISTRY)
    for qid, q in REGISTRY.items():
        ev = _public(evidence[qid])
        check_evidence(ev)
        assert "finding" not in ev and "finding" not in q  # one text, said once
        text = render_answer(q, ev)
        assert "finding" not in text and len(text) > 400, qid
        # the fixture's small numbers collide by chance: test_answers.py checks the numbers
        assert answer_problems(q, text, numbers=False) == [], (qid, text)


def test_answers_read_their_numbers_from_the_evidence(tmp_path):
    ev = {k: _public(v) for k, v in _all_evidence(tmp_path).items()}
    text = {qid: str(render_answer(REGISTRY[qid], ev[qid])) for qid in REGISTRY}
    assert text["svm-1"].startswith("Not a concern: all 8 mismatches sit where a hinge term")
    assert "mismatches per Δ (0, 2e-05, 1): 5, 3, 0 of the 5 checked" in text["svm-1"]
    assert "from 0.30 (green) to 0.90 (blue), and 2 of 3 templates match" in text["svm-2"]
    assert "2 of 3 templates match their own class best" in text["softmax-3"]
    assert "−log(1/10) = 2.3026 per example" in text["softmax-1"]
    assert "1.89 at scale 0.5" in text["softmax-1"]
    assert text["softmax-2"].startswith("True: a new point that satisfies every margin")
    assert "validation image 1 (c0), its pixels scaled by 4:" in text["softmax-2"]
    assert "its most confused pairs are cat/dog, car/truck, cat/car," in text["features-1"]
    assert "cat taken for dog (3 images)" in text["features-1"]
    assert "divide the largest confusion is cat/car (1 image)." in text["features-1"]
    assert text["features-1"].startswith("Mostly yes")
