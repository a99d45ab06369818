"""The CNN stage (workflow/rules/cnn.smk): dry run of the quick config, and the outputs of
the shared quick-config run (tables, checks, timings, figures, question evidence, report)."""

from __future__ import annotations

import html as html_lib
import json
import math
import re
from html.parser import HTMLParser

import pandas as pd
import pytest
from conftest import ROOT, run_snakemake
from stage_checks import assert_evidence, assert_figures_exist, read_evidence

from nplab_io.config import load_yaml
from nplab_io.evidence import load_registry, render_answer
from nplab_io.runs import expand_experiments

TABLES = [
    "cnn_overfit",
    "cnn_three_layer",
    "cnn_vs_fc",
    "cnn_pooling",
    "cnn_norm",
    "cnn_input_norm",
    "cnn_schedules",
    "cnn_augment",
    "cnn_transfer_source",
    "cnn_transfer",
    "cnn_best",
]
FIGURES = [f"{t}_curves" for t in TABLES] + [
    "cnn_norm_batch_size",
    "cnn_augment_bars",
    "cnn_transfer_grid",
    "cnn_best_confusion",
]
REGISTRY = {
    q["id"]: q for q in load_registry(ROOT / "report" / "questions") if q["family"] == "cnn"
}
# question id -> keys its evidence must hold (besides question and figures)
QUESTIONS = {
    "cnn-1": [
        "cnn_normal_val_acc",
        "cnn_shuffled_val_acc",
        "fc_normal_val_acc",
        "fc_shuffled_val_acc",
        "cnn_params",
        "fc_params",
        "cnn_edge_normal",
        "cnn_edge_shuffled",
        "edge_outcome",
        "noise",
    ],
    "cnn-2": [
        "max_val_acc",
        "avg_val_acc",
        "conv_val_acc",
        "winner",
        "margin",
        "max_frac_receive",
        "avg_frac_receive",
        "max_frac_windows_tied",
    ],
    "cnn-3": [
        "cnn_num_filters",
        "three_layer_num_filters",
        "three_layer_smoothness",
        "three_layer_init_smoothness",
        "cnn_smoothness",
        "cnn_init_smoothness",
        "cnn_colour_fraction",
        "cnn_init_colour_fraction",
        "cnn_change_from_init",
        "fc_smoothness",
        "fc_colour_fraction",
    ],
    "cnn-4": [
        "variants",
        "val_acc",
        "gap",
        "delta_vs_none",
        "best_variant",
        "hflip_delta",
        "vflip_delta",
        "vflip_minus_hflip",
    ],
    "cnn-5": [
        "cases",
        *[
            f"{t}_{s}_{k}"
            for t in ("similar", "different")
            for s in ("small", "large")
            for k in ("scratch", "frozen", "finetune", "winner", "margin", "gain")
        ],
        "classes_disjoint",
    ],
    "cnn-6": [
        "batch_sizes",
        "none_val_acc",
        "batch_val_acc",
        "group_val_acc",
        "batch_minus_none",
        "group_minus_none",
    ],
    "cnn-7": [
        "naive_fast_max_abs_diff",
        "timing_conv_forward_speedup",
        "timing_conv_backward_speedup",
        "timing_pool_forward_speedup",
        "timing_lab_conv_gflops",
        "timing_lab_matmul_gflops",
        "timing_lab_fraction_of_matmul",
    ],
}


def _expected_runs() -> dict:
    """table -> its runs in the quick config (the full tables under quick's limits)."""
    full = load_yaml(ROOT / "config" / "config.yaml")
    quick = load_yaml(ROOT / "config" / "quick.yaml")
    exp = {t: full["experiments"][t] for t in full["experiments"] if t.startswith("cnn_")}
    return expand_experiments(exp, seed=full.get("seed", 0), limits=quick["limits"])


# --------------------------------------------------------------------------- without running
def test_the_registry_has_the_cnn_questions():
    assert set(REGISTRY) == set(QUESTIONS)


def test_dry_run_includes_the_cnn_jobs(workdir):
    res = run_snakemake(workdir, "cnn", "-n", "--cores", "2", "--configfile", "config/quick.yaml")
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    rules = ["cnn_checks", "cnn_timing", "cnn_figure", "train_cnn"]
    for rule in rules + [f"question_{q.replace('-', '_')}" for q in QUESTIONS]:
        assert f"rule {rule}:" in out, rule
    for fig in FIGURES:
        assert f"results/figures/cnn/{fig}.png" in out, fig


def test_every_cnn_table_is_in_the_config():
    exp = _expected_runs()
    assert set(TABLES) <= set(exp)
    assert all(r["kind"] == "cnn" for t in TABLES for r in exp[t])


# --------------------------------------------------------------------------- quick run
@pytest.mark.e2e
@pytest.mark.parametrize("table", TABLES)
def test_tables_have_their_rows(results, table):
    runs = pd.read_csv(results / "experiments" / table / "runs.csv")
    expected = _expected_runs()[table]
    assert sorted(runs["run"]) == sorted(r["run"] for r in expected)
    for col in ("train_acc", "val_acc"):
        assert runs[col].notna().all() and runs[col].between(0, 1).all(), col
    assert runs["final_loss"].map(math.isfinite).all()
    # above chance: 1 / the run's class count (ten, or the three of a transfer task)
    chance = {r["run"]: 1 / len(r["spec"]["classes"] or range(10)) for r in expected}
    assert (runs["val_acc"] > runs["run"].map(chance)).all(), table
    for name in ("curves.csv", "loss.csv"):
        df = pd.read_csv(results / "experiments" / table / name)
        assert len(df) and not df.select_dtypes("number").isna().all(axis=None), name


@pytest.mark.e2e
def test_best_cnn_is_tested_once(results):
    best = json.loads((results / "experiments" / "cnn_best" / "best.json").read_text())
    assert best["selected_by"] == "val_acc" and 0.1 < best["test_acc"] <= 1
    confusion = best["confusion"]
    assert len(confusion) == 10 and sum(map(sum, confusion)) == best["num_test"]


@pytest.mark.e2e
def test_checks_are_within_tolerance(results):
    c = json.loads((results / "cnn" / "checks.json").read_text())
    assert c["dtype"] == "float64" and c["all_passed"] is True
    assert c["initial_loss"]["reg_0"] == pytest.approx(math.log(10), abs=0.01)
    assert c["initial_loss"]["reg_0.5"] == pytest.approx(2.5, abs=0.1)
    for name, layer in c["layers"].items():
        assert layer["rel_error"] < layer["tolerance"], name
    assert c["layers"]["conv_backward"]["tolerance"] <= 1e-8
    assert c["layers"]["spatial_batchnorm_backward"]["tolerance"] <= 1e-6
    assert c["layers"]["spatial_groupnorm_backward"]["tolerance"] <= 1e-7
    for name, net in c["nets"].items():
        assert net["max_rel_error_overall"] < net["tolerance"], name
    assert max(c["naive_vs_fast_max_abs_diff"].values()) < 1e-10


@pytest.mark.e2e
def test_timing(results):
    t = json.loads((results / "cnn" / "timing.json").read_text())
    assert t["conv"]["x_shape"] == [100, 31, 31, 3] and t["conv"]["w_shape"] == [3, 3, 3, 25]
    assert t["pool"]["x_shape"] == [100, 32, 32, 3]
    assert t["conv"]["forward_speedup"] > 1 and t["pool"]["forward_speedup"] > 1
    assert len(t["lab"]["layers"]) == 6 and t["lab"]["matmul_gflops_per_s"] > 0


@pytest.mark.e2e
def test_figures_exist(results):
    assert_figures_exist(results / "figures" / "cnn", FIGURES)


@pytest.mark.e2e
@pytest.mark.parametrize("qid", sorted(QUESTIONS))
def test_question_evidence(results, qid):
    ev = read_evidence(results, qid)
    assert ev["figures"] and all((results / f).is_file() for f in ev["figures"])
    assert_evidence(ev, qid, QUESTIONS[qid])
    assert len(render_answer(REGISTRY[qid], ev)) > 300


class _ArticleText(HTMLParser):
    """The text of every <article id=...> of the report."""

    def __init__(self):
        super().__init__()
        self.text, self._stack = {}, []

    def handle_starttag(self, tag, attrs):
        if tag == "article":
            self._stack.append(dict(attrs).get("id"))
            self.text.setdefault(self._stack[-1], "")

    def handle_endtag(self, tag):
        if tag == "article" and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if self._stack:
            self.text[self._stack[-1]] += data


@pytest.mark.e2e
def test_report_has_the_section_and_its_answers(results):
    html = (results / "report" / "lab_report.html").read_text(encoding="utf-8")
    assert re.search(r'<section[^>]*id="cnn"', html)
    p = _ArticleText()
    p.feed(html)
    for qid in QUESTIONS:
        ev = json.loads((results / "questions" / f"{qid}.json").read_text())
        answer = " ".join(html_lib.unescape(str(render_answer(REGISTRY[qid], ev))).split())
        text = " ".join(p.text.get(qid, "").split())
        assert answer[:80] in text, qid
