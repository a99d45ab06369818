"""The kNN stage (workflow/rules/knn.smk): dry run, config checks, end-to-end quick run."""

from __future__ import annotations

import csv
import json
import math

import pytest
import yaml
from answer_checks import answer_problems
from conftest import ROOT, quick_stage_run, run_quick, run_snakemake

from nplab_io.evidence import load_registry, render_answer

REGISTRY = {q["id"]: q for q in load_registry(ROOT / "report" / "questions")}

KNN_RULES = [
    "knn_course_data",
    "knn_course_methods",
    "knn_course_cv",
    "knn_course_best",
    "knn_full",
    "knn_full_table",
    "knn_transform",
    "knn_timing",
    "question_knn_1",
    "question_knn_2",
    "question_knn_3",
]
# rules without wildcards: asking for them builds every kNN output
KNN_TARGET_RULES = [
    "knn_course_methods",
    "knn_course_best",
    "knn_full_table",
    "question_knn_1",
    "question_knn_2",
    "question_knn_3",
]
INVARIANT = ["global_mean", "pixel_mean", "global_mean_std", "rot90"]
TRANSFORMS = INVARIANT[:3] + ["pixel_mean_std", "rot90"]


def _job_counts(text):
    """{rule: count} from the 'Job stats' table of a dry run."""
    counts, started = {}, False
    for line in text.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            started = True
            continue
        if started and len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
        elif started and parts and parts[0] == "total":
            break
    return counts


def test_dry_run_includes_the_knn_jobs(workdir):
    res = run_snakemake(workdir, "-n", "--cores", "2")
    assert res.returncode == 0, res.stderr[-2000:]
    counts = _job_counts(res.stdout + res.stderr)
    for rule in KNN_RULES:
        assert rule in counts, f"rule {rule} missing from the dry run of `all`: {counts}"
    assert counts["knn_full"] == 2  # one job per metric
    assert counts["knn_transform"] == 6  # raw + five transforms
    for rule in KNN_RULES:
        if rule not in ("knn_full", "knn_transform"):
            assert counts[rule] == 1, (rule, counts)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("course.num_folds", 1, "config error: knn.course.num_folds: expected a value >= 2, got 1"),
        ("full.metrics", ["l3"], "config error: knn.full.metrics[0]"),
        ("course.bogus", 3, "config error: unknown key knn.course.bogus"),
    ],
)
def test_bad_knn_config_stops_with_one_line(workdir, key, value, message):
    cfg = yaml.safe_load((workdir / "config" / "quick.yaml").read_text())
    section, name = key.split(".")
    cfg["knn"][section][name] = value
    (workdir / "config" / "bad.yaml").write_text(yaml.safe_dump(cfg))
    res = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", "config/bad.yaml")
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.splitlines() if "config error" in ln]
    assert len(lines) == 1 and lines[0].startswith(message), res.stderr[-2000:]
    assert "Traceback" not in res.stderr


@pytest.fixture(scope="module")
def knn_run(tmp_path_factory, e2e_mirror):
    """The kNN stage on the quick config (course 500/100, full 2000/200) against the mirror."""
    mirror, kind = e2e_mirror
    wd = quick_stage_run(tmp_path_factory, mirror, "e2e_knn", *KNN_TARGET_RULES)
    quick = yaml.safe_load((wd / "config" / "quick.yaml").read_text())["knn"]
    return wd / "results", kind, quick, mirror


def _csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, f"{path} is empty"
    for r in rows:
        for key, v in r.items():
            assert v not in ("", None) and v.lower() not in ("nan", "inf", "-inf"), (path, key, r)
    return rows


def _json(path):
    info = json.loads(path.read_text())
    for key, v in info.items():  # plain values a report template can interpolate
        if key == "figures":  # the report's list of figures (paths under results/)
            assert v and all(isinstance(f, str) and f.startswith("figures/") for f in v), v
            continue
        assert isinstance(v, (bool, int, float, str)), (path.name, key, v)
        assert not (isinstance(v, float) and not math.isfinite(v)), (path.name, key, v)
    return info


def _acc(x):
    x = float(x)
    assert 0.0 <= x <= 1.0
    return x


@pytest.mark.e2e
def test_course_protocol(knn_run):
    r, kind, q, _ = knn_run
    methods = {row["method"]: row for row in _csv(r / "knn" / "course_methods.csv")}
    assert set(methods) == {"two_loops", "one_loop", "no_loops", "no_loops_float32"}
    for m in ("two_loops", "one_loop", "no_loops"):
        assert float(methods[m]["frobenius_vs_no_loops"]) < 1e-3
        assert methods[m]["agrees"] == "True"
        assert float(methods[m]["seconds"]) > 0
    assert float(methods["two_loops"]["seconds"]) > float(methods["no_loops"]["seconds"])
    info = _json(r / "knn" / "course_methods.json")
    assert info["all_methods_agree"] is True
    assert info["n_train"] == q["course"]["num_train"] and info["n_test"] == q["course"]["num_test"]
    for k in q["course"]["eval_ks"]:
        assert _acc(info[f"test_accuracy_k{k}"]) > 0.1  # chance is 0.1
    data = _json(r / "knn" / "course_data.json")
    assert data["subsample"] == "first" and "first" in data["protocol"]
    assert (data["dataset_train_index_first"], data["dataset_train_index_last"]) == (
        0,
        q["course"]["num_train"] - 1,
    )
    assert (data["dataset_test_index_first"], data["dataset_test_index_last"]) == (
        0,
        q["course"]["num_test"] - 1,
    )

    cv = _csv(r / "knn" / "course_cv.csv")
    ks = q["course"]["cv_ks"]
    assert list(cv[0]) == ["fold", "k", "accuracy"]
    assert {(int(c["fold"]), int(c["k"])) for c in cv} == {
        (f, k) for f in range(q["course"]["num_folds"]) for k in ks
    }
    assert len(cv) == q["course"]["num_folds"] * len(ks)
    for c in cv:
        _acc(c["accuracy"])
    summary = _csv(r / "knn" / "course_cv_summary.csv")
    assert [int(s["k"]) for s in summary] == ks
    means = {int(s["k"]): float(s["mean_accuracy"]) for s in summary}
    best = json.loads((r / "knn" / "course_best.json").read_text())
    assert best["best_k"] == min(k for k in ks if means[k] == max(means.values()))
    assert [s["is_best"] for s in summary].count("True") == 1
    assert _acc(best["test_accuracy"]) > 0.1
    assert best["test_correct"] == round(best["test_accuracy"] * best["n_test"])
    for name in ("distance_matrix", "course_cv"):
        for fmt in ("png", "svg"):
            assert (r / "figures" / "knn" / f"{name}.{fmt}").stat().st_size > 1000


@pytest.mark.e2e
def test_full_train_table(knn_run):
    r, kind, q, _ = knn_run
    rows = _csv(r / "knn" / "full_train.csv")
    assert {(row["metric"], int(row["k"])) for row in rows} == {
        (m, k) for m in q["full"]["metrics"] for k in q["full"]["ks"]
    }
    for row in rows:
        assert int(row["n_train"]) == 2000 and int(row["n_test"]) == q["full"]["num_test"]
        assert float(row["seconds"]) > 0 and float(row["peak_rss_mb"]) > 0
        acc = _acc(row["test_acc"])
        if int(row["k"]) == 1:
            assert acc > 0.15, row  # well above chance (0.1)
    l1 = _json(r / "knn" / "full_l1.json")
    assert "exact uint8" in l1["kernel"]
    assert (r / "figures" / "knn" / "full_train.png").stat().st_size > 1000


@pytest.mark.e2e
def test_question_evidence(knn_run):
    r, kind, q, _ = knn_run
    for qid in ("knn-1", "knn-2", "knn-3"):
        ev = _json(r / "questions" / f"{qid}.json")
        assert ev["question"] == qid and "finding" not in ev  # prose lives in the registry
        text = render_answer(REGISTRY[qid], ev)
        assert len(text) > 300 and answer_problems(REGISTRY[qid], text, numbers=False) == []
        for f in ev["figures"]:
            assert (r / f).stat().st_size > 1000
    q1 = _json(r / "questions" / "knn-1.json")
    for key in [
        "test_max_mean_distance",
        "test_max_pixel_mean",
        "test_max_pixel_std",
        "train_max_mean_distance",
        "train_max_pixel_mean",
        "train_max_pixel_std",
        "dataset_pixel_mean",
        "dataset_pixel_std",
        "corr_rows_distance_vs_rms_from_mean_image",
    ]:
        assert key in q1, key
    assert q1["figures"] == ["figures/questions/knn-1.png", "figures/knn/distance_matrix.png"]
    assert (
        q1["test_max_mean_distance"] >= q1["row_mean_distance_avg"] >= q1["test_min_mean_distance"]
    )
    assert q1["corr_rows_distance_vs_rms_from_mean_image"] > 0.5

    q2 = _json(r / "questions" / "knn-2.json")
    rows = {row["transform"]: row for row in _csv(r / "knn" / "transforms.csv")}
    assert sorted(rows) == sorted(TRANSFORMS)
    for t in TRANSFORMS:
        assert 0.0 <= q2[f"{t}_fraction_changed"] <= 1.0
        assert float(rows[t]["fraction_changed"]) == pytest.approx(
            q2[f"{t}_fraction_changed"], abs=1e-6
        )
    for t in INVARIANT:  # distances shift, scale or permute: the ordering is the same
        assert q2[f"{t}_unchanged_up_to_ties"], (t, q2)
    if kind == "real":  # per-pixel std weighs the pixels differently
        assert q2["pixel_mean_std_n_changed"] > 0
        assert "pixel_mean_std" in q2["changed_transforms"]

    q3 = _json(r / "questions" / "knn-3.json")
    assert q3["train_error_k1"] <= q3["train_error_k5"]
    for key in ["train_error_k1", "train_error_k5", "test_error_k1", "test_error_k5"]:
        _acc(q3[key])
    assert q3["train_error_k1"] == 0.0  # every training image is its own neighbour
    assert q3["linear_boundary"] is False and q3["statement_linear_boundary_holds"] is False
    assert q3["segments_nonconvex_k1"] > 0
    timing = _csv(r / "knn" / "timing.csv")
    sizes = [int(t["n_train"]) for t in timing]
    assert sizes == sorted(q["questions"]["timing_train_sizes"])
    assert all(float(t["predict_seconds"]) > 0 for t in timing)
    assert q3["predict_seconds_largest"] > q3["predict_seconds_smallest"]
    for name in ("knn-1", "knn-2", "knn-3"):  # question figures live with the others
        for fmt in ("png", "svg"):
            assert (r / "figures" / "questions" / f"{name}.{fmt}").stat().st_size > 1000


@pytest.mark.e2e
def test_second_run_has_nothing_to_do(knn_run):
    r, _, _, mirror = knn_run
    res = run_quick(r.parent, mirror, *KNN_TARGET_RULES, "-n")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "Nothing to be done" in res.stdout + res.stderr
