"""The kNN questions' evidence on tiny hand-made data (nplab_io.evidence.knn)."""

import csv
from pathlib import Path

import numpy as np
import pytest
from answer_checks import answer_problems

from nplab_io.evidence import QuestionData, load_registry, render_answer
from nplab_io.evidence import knn as ev_knn
from nplab_io.evidence.io import check_evidence

REPO_ROOT = Path(__file__).resolve().parents[2]

SETTINGS = {"budget_mb": 16}


def _course_data(tmp_path):
    """6 train / 3 test images of 1x2 grey pixels: distances are easy to follow."""
    X_train = np.array(
        [[10, 12], [12, 16], [200, 210], [14, 10], [20, 24], [16, 18]], dtype=np.uint8
    )
    X_test = np.array([[11, 13], [250, 240], [13, 13]], dtype=np.uint8)
    path = tmp_path / "course_data.npz"
    np.savez(
        path,
        X_train=X_train,
        y_train=np.array([0, 0, 1, 0, 0, 1]),
        X_test=X_test,
        y_test=np.array([0, 1, 0]),
        idx_train=np.array([100, 101, 102, 103, 104, 105]),
        idx_test=np.array([7, 8, 9]),
        image_shape=np.array([1, 2]),
        class_names=np.array(["cat", "dog"]),
    )
    return path


def _data(tmp_path, **inputs):
    outputs = {"json": str(tmp_path / "q.json"), "fig": [str(tmp_path / "results/q.png")]}
    return QuestionData({k: str(v) for k, v in inputs.items()}, outputs=outputs)


def test_knn_1_picks_the_farthest_row_and_column(tmp_path):
    npz = _course_data(tmp_path)
    ev = ev_knn.compute_knn_1(_data(tmp_path, npz=npz, matrix=tmp_path / "m.png"), SETTINGS)
    # test image 1 (250, 240) is far from every training image; train image 2 (200, 210)
    # is far from two of the three test images
    assert ev["test_max_dataset_index"] == 8 and ev["test_max_class"] == "dog"
    assert ev["train_max_dataset_index"] == 102
    assert ev["test_max_pixel_mean"] == 245.0 and ev["test_max_pixel_std"] == 5.0
    assert ev["dataset_pixel_mean"] == pytest.approx((11 + 14 + 205 + 12 + 22 + 17) / 6)
    gaps = [(240, 228), (238, 224), (50, 30), (236, 230), (230, 216), (234, 222)]
    assert ev["test_max_mean_distance"] == pytest.approx(sum(np.hypot(a, b) for a, b in gaps) / 6)
    assert ev["figures"] == ["q.png", str(tmp_path / "m.png")]
    check_evidence({k: v for k, v in ev.items() if not k.startswith("_")})


def _transform(tmp_path, name, pred, nn_index, accuracy):
    path = tmp_path / f"{name}.npz"
    np.savez(
        path,
        transform=np.array(name),
        description=np.array(f"{name} transform"),
        dtype=np.array("float32"),
        pred=np.array(pred),
        nn_index=np.array(nn_index),
        accuracy=np.array(accuracy),
        seconds=np.array(0.5),
    )
    return path


def test_knn_2_counts_changed_predictions_and_writes_the_table(tmp_path):
    npz = _course_data(tmp_path)
    paths = [
        _transform(tmp_path, "raw", [0, 1, 0], [0, 2, 1], 1.0),
        _transform(tmp_path, "global_mean", [0, 1, 0], [0, 2, 1], 1.0),
        _transform(tmp_path, "pixel_mean_std", [1, 1, 0], [2, 2, 1], 2 / 3),
    ]
    data = QuestionData({"transforms": [str(p) for p in paths], "data": str(npz)})
    ev = ev_knn.compute_knn_2(data, SETTINGS)
    assert ev["unchanged_transforms"] == "global_mean"
    assert ev["changed_transforms"] == "pixel_mean_std"
    assert ev["pixel_mean_std_n_changed"] == 1
    assert ev["pixel_mean_std_fraction_changed"] == pytest.approx(1 / 3)
    assert ev["pixel_mean_std_neighbour_changes_at_raw_ties"] == 0  # |11-12| != |11-200|
    rows = list(csv.DictReader(ev["_files"]["csv"].splitlines()))
    assert [r["transform"] for r in rows] == ["global_mean", "pixel_mean_std"]
    assert rows[1]["predictions_unchanged"] == "False"


def test_knn_3_errors_timing_and_segments(tmp_path):
    npz = _course_data(tmp_path)
    timing = tmp_path / "timing.csv"
    timing.write_text(
        "n_train,n_test,fit_seconds,predict_seconds\n"
        "100,50,0.001,0.01\n200,50,0.001,0.02\n400,50,0.002,0.05\n"
    )
    data = QuestionData({"npz": str(npz), "timing": str(timing)})
    settings = dict(SETTINGS, seed=0, questions={"segment_pairs": 4, "segment_points": 5})
    ev = ev_knn.compute_knn_3(data, settings)
    assert ev["train_error_k1"] == 0.0  # every training image is its own neighbour
    # 5 of 6 training images, 4 of them class 0: at least 3 votes for class 0, always
    assert ev["train_error_k5"] == pytest.approx(2 / 6)
    assert ev["test_error_k5"] == pytest.approx(1 / 3)
    assert ev["predict_time_ratio"] == pytest.approx(5.0)
    assert ev["train_size_ratio"] == pytest.approx(4.0)
    assert ev["statement_time_grows_with_train_size_holds"] is True
    assert ev["segment_pairs"] == 4


def test_knn_3_timing_within_noise_is_not_growth():
    rows = [
        {"n_train": 100, "n_test": 50, "fit_seconds": 0.001, "predict_seconds": 0.010},
        {"n_train": 200, "n_test": 50, "fit_seconds": 0.001, "predict_seconds": 0.011},
        {"n_train": 400, "n_test": 50, "fit_seconds": 0.001, "predict_seconds": 0.012},
    ]
    assert ev_knn._timing_evidence(rows)["predict_time_grows_with_train_size"] is False


def test_every_knn_answer_renders_against_its_evidence(tmp_path):
    npz = _course_data(tmp_path)
    timing = tmp_path / "timing.csv"
    timing.write_text("n_train,n_test,fit_seconds,predict_seconds\n100,50,0.001,0.01\n")
    paths = [
        _transform(tmp_path, "raw", [0, 1, 0], [0, 2, 1], 1.0),
        _transform(tmp_path, "rot90", [0, 1, 0], [0, 2, 1], 1.0),
    ]
    evidence = {
        "knn-1": ev_knn.compute_knn_1(
            _data(tmp_path, npz=npz, matrix=tmp_path / "m.png"), SETTINGS
        ),
        "knn-2": ev_knn.compute_knn_2(
            QuestionData({"transforms": [str(p) for p in paths], "data": str(npz)}), SETTINGS
        ),
        "knn-3": ev_knn.compute_knn_3(
            QuestionData({"npz": str(npz), "timing": str(timing)}),
            dict(SETTINGS, seed=0, questions={"segment_pairs": 2, "segment_points": 3}),
        ),
    }
    for q in load_registry(REPO_ROOT / "report" / "questions"):
        if q["family"] == "knn":
            text = render_answer(q, evidence[q["id"]])
            assert "finding" not in text and len(text) > 200
            # the tiny fixture's numbers collide by chance: the number check runs on the
            # quick-run evidence in test_answers.py
            assert answer_problems(q, text, numbers=False) == [], (q["id"], text)
