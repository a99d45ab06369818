"""The CNN questions' evidence on tiny hand-made tables and files (nplab_io.evidence.cnn):
cnn-1 .. cnn-7, and the table labels of nplab_io.cnn_figures. Accuracies are binary
fractions (0.75, 0.625, ...) so that differences are exact."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixture_files import public_evidence, question_data, run_params, run_question_into, write_csv

from nplab.cnn import ConvNet
from nplab_io.cnn_figures import FIGURES, cnn_frame
from nplab_io.cnn_runs import build_cnn, pixel_permutation
from nplab_io.evidence import cnn as ev_cnn
from nplab_io.evidence import load_registry, render_answer
from nplab_io.figures import save_figure
from nplab_io.runs import canonical_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY = {
    q["id"]: q for q in load_registry(REPO_ROOT / "report" / "questions") if q["family"] == "cnn"
}
NUM_VAL = 128  # the fixtures' validation split
NUM_TEST = 1000


# --------------------------------------------------------------------------- fixtures
def _spec(**kw):
    return canonical_spec("cnn", {"blocks": [{"widths": [4]}], **kw})


def _row(variant, spec, train_acc, val_acc, test_acc="", **cols):
    """One runs.csv row (a few flattened spec columns, as the table writer keeps them)."""
    run = f"cnn-{variant.replace(' ', '').replace(',', '-').replace('+', 'p')}"
    return {
        "table": "t",
        "variant": variant,
        "run": run,
        "kind": "cnn",
        "arch": spec["arch"],
        "augment": json.dumps(spec["augment"]),
        "batch_size": spec["batch_size"],
        "train_acc": train_acc,
        "val_acc": val_acc,
        "test_acc": test_acc,
        "final_loss": 1.0,
        "diverged": False,
        **cols,
    }


def _table(tmp_path, name, rows_specs):
    """runs.csv of a table and its run records (variant, run, spec)."""
    rows = [r for r, _ in rows_specs]
    path = write_csv(tmp_path / "experiments" / name / "runs.csv", rows)
    records = [{"variant": r["variant"], "run": r["run"], "spec": s} for r, s in rows_specs]
    return path, records


def _pixels(tmp_path):
    """A pixels.npz whose first validation image has distinct values (no tied maximum)
    and the second is constant (every 2x2 window tied)."""
    a = np.arange(32 * 32 * 3, dtype=np.float32).reshape(1, -1) % 251
    b = np.full((1, 32 * 32 * 3), 7.0, dtype=np.float32)
    path = tmp_path / "prep" / "pixels.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, X_val=np.concatenate([a, b]), image_shape=np.array([32, 32, 3]))
    return path


def _data(qid, inputs, runs):
    """The question's QuestionData, with the input names its registry entry gives its rule."""
    return question_data(REGISTRY[qid], inputs, runs=runs)


def _settings(qid, **extra):
    q = REGISTRY[qid]
    config = {"num_val": NUM_VAL, "num_test": NUM_TEST}
    return {
        **q.get("settings", {}),
        **{k: config[k] for k in q.get("config_settings", {})},
        **extra,
    }


# --------------------------------------------------------------------------- labels
def test_cnn_frame_labels_runs_from_their_specs():
    specs = [
        _spec(arch="fc", hidden_dims=[8], pixel_shuffle=0),
        _spec(blocks=[{"widths": [4], "norm": "group", "groups": 2, "pool": "avg"}]),
        _spec(augment=[{"name": "hflip"}, {"name": "crop", "pad": 4}]),
        _spec(classes=[5, 6, 7], per_class=100, init_run="cnn-src", freeze="features"),
        _spec(classes=[1, 8, 9], init_run="cnn-src"),
    ]
    rows = [_row(f"v{i}", s, 0.5, 0.25) for i, s in enumerate(specs)]
    records = [{"variant": r["variant"], "run": r["run"], "spec": s} for r, s in zip(rows, specs)]
    f = cnn_frame(pd.DataFrame(rows), records)
    assert list(f["net"]) == ["fc", "cnn", "cnn", "cnn", "cnn"]
    assert list(f["shuffled"]) == [True, False, False, False, False]  # seed 0 is a seed
    assert list(f["norm"])[1:3] == ["group", "none"] and f["pool"][1] == "avg"
    assert list(f["augmentation"])[:3] == ["none", "none", "hflip+crop"]
    assert list(f["strategy"]) == ["scratch"] * 3 + ["frozen", "finetune"]
    assert list(f["task"])[3:] == ["similar", "different"]
    assert list(f["size"])[3:] == ["small", "large"]
    assert "augment" in f.columns and f["augment"][2].startswith("[")  # the raw column stays
    with pytest.raises(ValueError, match="no runs"):
        cnn_frame(pd.DataFrame(columns=["run", "variant"]), [])


def test_noise_and_evaluation_sizes():
    assert ev_cnn.diff_noise(0.5, 200) == pytest.approx(0.1)
    assert ev_cnn.diff_noise(0.0, 10) == 0.0
    recs = [{"spec": _spec(classes=[1, 2, 3])}, {"spec": _spec(num_val=50)}]
    assert ev_cnn.eval_size(recs, 1000) == 50
    assert ev_cnn.eval_size(recs[:1], 1000) == 300
    assert ev_cnn.eval_size(recs, 1000, None) == 300
    # the runs' own counts win over the estimate when runs.csv has them
    assert ev_cnn._n_eval(pd.DataFrame({"num_val_used": [90, 100]}), recs, 1000) == 90
    assert ev_cnn._n_eval(pd.DataFrame({"num_test_used": [299]}), recs, 1000, "test") == 299
    assert ev_cnn._n_eval(pd.DataFrame({"x": [1]}), recs, 1000) == 50


# --------------------------------------------------------------------------- cnn-1
def _cnn_1_data(tmp_path, fc_shuffled_val=0.375, cnn_val=0.5):
    cnn, fc = _spec(), _spec(arch="fc", hidden_dims=[8])
    table, records = _table(
        tmp_path,
        "cnn_vs_fc",
        [
            (_row("cnn, normal", cnn, 0.75, cnn_val), cnn),
            (
                _row("cnn, shuffled", dict(cnn, pixel_shuffle=3), 0.625, 0.375),
                dict(cnn, pixel_shuffle=3),
            ),
            (_row("fc, normal", fc, 0.5, 0.375), fc),
            (
                _row("fc, shuffled", dict(fc, pixel_shuffle=3), 0.5, fc_shuffled_val),
                dict(fc, pixel_shuffle=3),
            ),
        ],
    )
    params = []
    for r in records:
        if r["spec"]["arch"] == "fc":
            params.append(
                run_params(
                    tmp_path,
                    r["run"],
                    W1=np.zeros((3072, 8)),
                    b1=np.zeros(8),
                    W2=np.zeros((8, 10)),
                    b2=np.zeros(10),
                )
            )
        else:
            params.append(
                run_params(
                    tmp_path,
                    r["run"],
                    W1=np.zeros((3, 3, 3, 4)),
                    b1=np.zeros(4),
                    W2=np.zeros((1024, 10)),
                    b2=np.zeros(10),
                    **{"bn1.running_mean": np.zeros(4)},
                )
            )
    inputs = {"tables": [table], "params": params, "images": _pixels(tmp_path)}
    return _data("cnn-1", inputs, {"cnn_vs_fc": records})


def test_cnn_1_edge_counts_and_the_shuffled_image(tmp_path):
    data = _cnn_1_data(tmp_path)
    ev = ev_cnn.compute_cnn_1(data, _settings("cnn-1"))
    assert ev["cnn_edge_normal"] == 0.125 and ev["cnn_edge_shuffled"] == 0.0
    assert ev["cnn_shuffle_change"] == -0.125 and ev["fc_shuffle_change"] == 0.0
    assert ev["cnn_params"] == 108 + 4 + 10240 + 10  # running statistics are not parameters
    assert ev["fc_params"] == 3072 * 8 + 8 + 80 + 10
    assert ev["cnn_macs"] == 32 * 32 * 27 * 4 + 1024 * 10 and ev["fc_macs"] == 3072 * 8 + 80
    assert ev["shuffle_seed"] == 3 and ev["num_val"] == NUM_VAL
    p = np.mean([0.5, 0.375, 0.375, 0.375])
    assert ev["noise"] == pytest.approx(2 * math.sqrt(2 * p * (1 - p) / NUM_VAL))
    assert ev["edge_outcome"] == "vanishes" and ev["fc_unchanged"] is True
    assert ev["cnn_better_normal"] is True  # 0.125 > noise (0.123) on 128 images
    fewer = ev_cnn.compute_cnn_1(data, _settings("cnn-1", num_val=64))
    assert fewer["cnn_better_normal"] is False  # noise 0.174 on 64
    normal, shuffled = ev["_images"]
    perm = pixel_permutation(3, (32, 32, 3))
    assert np.array_equal(shuffled.reshape(-1, 3), normal.reshape(-1, 3)[perm])


def test_cnn_1_when_the_fc_net_wins(tmp_path):
    data = _cnn_1_data(tmp_path, cnn_val=0.0625)
    ev = public_evidence(ev_cnn.compute_cnn_1(data, _settings("cnn-1")))
    assert ev["cnn_worse_normal"] is True and ev["cnn_edge_normal"] == -0.3125
    text = " ".join(render_answer(REGISTRY["cnn-1"], ev).split())
    assert text.startswith(
        "Not in this run: on normal images the FC net beats the CNN by 31.2 points"
    )


def test_cnn_1_edge_outcome_labels():
    assert ev_cnn._edge_outcome(0.2, -0.1, 0.05) == "reverses"
    assert ev_cnn._edge_outcome(0.2, 0.04, 0.05) == "vanishes"
    assert ev_cnn._edge_outcome(0.2, 0.1, 0.05) == "shrinks"
    assert ev_cnn._edge_outcome(0.2, 0.18, 0.05) == "persists"


def test_cnn_1_needs_all_four_runs(tmp_path):
    data = _cnn_1_data(tmp_path)
    data.runs["cnn_vs_fc"] = [dict(r, spec=_spec()) for r in data.runs["cnn_vs_fc"]]
    with pytest.raises(ValueError, match="expected one run"):
        ev_cnn.compute_cnn_1(data, _settings("cnn-1"))


# --------------------------------------------------------------------------- cnn-2
def _cnn_2_data(tmp_path):
    specs = {p: _spec(blocks=[{"widths": [4], "pool": p}]) for p in ("max", "avg", "conv")}
    accs = {"max": (0.75, 0.5), "avg": (0.625, 0.375), "conv": (0.875, 0.4375)}
    table, records = _table(
        tmp_path, "cnn_pooling", [(_row(p, s, *accs[p]), s) for p, s in specs.items()]
    )
    params = [
        run_params(tmp_path, r["run"], W1=np.zeros((3, 3, 3, 4)), b1=np.zeros(4))
        if r["variant"] != "conv"
        else run_params(
            tmp_path,
            r["run"],
            W1=np.zeros((3, 3, 3, 4)),
            b1=np.zeros(4),
            W2=np.zeros((3, 3, 4, 4)),
            b2=np.zeros(4),
        )
        for r in records
    ]
    inputs = {"tables": [table], "params": params, "images": _pixels(tmp_path)}
    return _data("cnn-2", inputs, {"cnn_pooling": records})


def test_cnn_2_pooling_winner_and_where_the_gradient_goes(tmp_path):
    ev = ev_cnn.compute_cnn_2(_cnn_2_data(tmp_path), _settings("cnn-2"))
    assert ev["winner"] == "max" and ev["margin"] == 0.0625 and ev["max_minus_avg"] == 0.125
    assert ev["conv_extra_params"] == 148
    # image 1: one position per window; image 2 (constant): all four tie
    assert ev["max_frac_receive"] == 0.625 and ev["max_frac_windows_tied"] == 0.5
    assert ev["avg_frac_receive"] == 1.0 and ev["avg_share_per_position"] == 0.25
    assert ev["max_share_per_window"] == 0.25 and ev["num_images"] == 2


# --------------------------------------------------------------------------- cnn-3
def _cnn_3_data(tmp_path, trained="smooth"):
    spec = _spec(blocks=[{"widths": [4]}], seed=3)
    three = canonical_spec(
        "cnn",
        {"arch": "three_layer", "num_filters": 2, "filter_size": 5, "hidden_dim": 3, "seed": 2},
    )
    init = build_cnn(spec, (32, 32, 3), 10).params["W1"]
    init3 = build_cnn(three, (32, 32, 3), 10).params["W1"]
    if trained == "smooth":  # grey vertical ramps: neighbours correlate
        w = np.ones((3, 3, 3, 4)) * np.arange(1, 5)
        w[0] -= 0.5
        w[2] += 0.5
        w3 = np.linspace(-1, 1, 5)[:, None, None, None] * np.ones((5, 5, 3, 2))
    else:
        w, w3 = init, init3
    cnn_table, cnn_records = _table(tmp_path, "cnn_best", [(_row("best", spec, 0.75, 0.5), spec)])
    best = {"run": cnn_records[0]["run"], "variant": "best", "val_acc": 0.5, "spec": spec}
    three_table, three_records = _table(
        tmp_path, "cnn_three_layer", [(_row("three", three, 0.5, 0.4375), three)]
    )
    net = canonical_spec("net", {"hidden_dims": [5], "seed": 1})
    fc_table, fc_records = _table(
        tmp_path, "twolayer_search", [(_row("h5", _spec(), 0.5, 0.375), net)]
    )
    fc_best = {"run": fc_records[0]["run"], "variant": "h5", "val_acc": 0.375, "spec": net}
    ramp = np.linspace(-1, 1, 32)
    templates = (ramp[:, None, None, None] * np.ones((32, 32, 3, 5))).reshape(3072, 5)
    params = [
        run_params(tmp_path, cnn_records[0]["run"], W1=w.astype(np.float32)),
        run_params(tmp_path, three_records[0]["run"], W1=w3.astype(np.float32)),
        run_params(tmp_path, fc_records[0]["run"], W1=templates),
    ]
    jsons = {"cnn_best": best, "fc_best": fc_best}
    for name, value in jsons.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(value))
    inputs = {
        "tables": [cnn_table, three_table, fc_table],
        "params": params,
        **{name: tmp_path / f"{name}.json" for name in jsons},
    }
    runs = {
        "cnn_best": cnn_records,
        "cnn_three_layer": three_records,
        "twolayer_search": fc_records,
    }
    return _data("cnn-3", inputs, runs), (init, init3)


def test_cnn_3_filter_statistics_against_init(tmp_path):
    data, (init, init3) = _cnn_3_data(tmp_path)
    ev = ev_cnn.compute_cnn_3(data, _settings("cnn-3"))
    # rebuilt from the seeds
    assert np.array_equal(ev["_filters"]["cnn"][1], init.astype(np.float64))
    assert np.array_equal(ev["_filters"]["three_layer"][1], init3.astype(np.float64))
    assert ev["cnn_num_filters"] == 4 and ev["cnn_filter_size"] == 3
    assert ev["three_layer_num_filters"] == 2 and ev["three_layer_filter_size"] == 5
    assert ev["fc_num_filters"] == 5 and ev["three_layer_val_acc"] == 0.4375
    assert ev["random_colour_fraction"] == pytest.approx(2 / 3)
    assert ev["cnn_colour_fraction"] == pytest.approx(0.0, abs=1e-12)
    assert ev["cnn_channel_corr"] == pytest.approx(1.0)
    assert ev["cnn_smoothness"] == pytest.approx(1 / 1.75)  # rows: 1; columns: 0
    assert abs(ev["cnn_init_smoothness"]) < 0.4
    assert ev["cnn_init_colour_fraction"] == pytest.approx(2 / 3, abs=0.15)
    assert ev["cnn_smoother_than_init"] is True and ev["any_conv_smoother_than_init"] is True
    assert ev["three_layer_smoothness"] > 0.8 and ev["three_layer_smoother_than_init"] is True
    assert ev["fc_smoothness"] == pytest.approx(1.0, abs=0.01)
    assert ev["fc_colour_fraction"] == pytest.approx(0.0, abs=1e-12)
    assert ev["fc_init_smoothness"] == pytest.approx(0.0, abs=0.05)


def test_cnn_3_untrained_filters_did_not_move(tmp_path):
    data, _ = _cnn_3_data(tmp_path, trained="init")
    ev = ev_cnn.compute_cnn_3(data, _settings("cnn-3"))
    assert ev["cnn_change_from_init"] == 0.0 and ev["three_layer_change_from_init"] == 0.0
    assert ev["any_conv_smoother_than_init"] is False


def test_filter_statistics_by_hand():
    w = np.zeros((2, 2, 3, 1))
    w[..., 0, 0], w[..., 1, 0], w[..., 2, 0] = [[1, -1], [1, -1]], [[-1, 1], [-1, 1]], 0
    stats = ev_cnn.colour_stats(w)
    # red and green opposite (corr -1), blue flat (corr 0 by nan_to_num)
    assert stats["opponent_fraction"] == 1.0 and stats["channel_corr"] == pytest.approx(-1 / 3)
    assert stats["colour_fraction"] == 1.0  # the channel mean is zero everywhere
    assert ev_cnn.neighbour_corr(w) == pytest.approx(0.0)  # +1 vertically, -1 horizontally


# --------------------------------------------------------------------------- cnn-4
AUGMENTS = [
    ("none", [], 0.875, 0.5),
    ("hflip", [{"name": "hflip"}], 0.75, 0.5625),
    ("crop", [{"name": "crop", "pad": 4}], 0.75, 0.625),
    ("hflip+crop", [{"name": "hflip"}, {"name": "crop", "pad": 4}], 0.6875, 0.6875),
    ("vflip", [{"name": "vflip"}], 0.75, 0.25),
]


def _cnn_4_data(tmp_path):
    rows = []
    for name, aug, train, val in AUGMENTS:
        s = _spec(augment=aug)
        rows.append((_row(name, s, train, val), s))
    table, records = _table(tmp_path, "cnn_augment", rows)
    return _data("cnn-4", {"tables": [table]}, {"cnn_augment": records})


def test_cnn_4_augmentation_deltas_and_flips(tmp_path):
    ev = ev_cnn.compute_cnn_4(_cnn_4_data(tmp_path), _settings("cnn-4", num_val=2048))
    assert ev["augmentations"] == ["none", "hflip", "crop", "hflip+crop", "vflip"]
    assert ev["delta_vs_none"] == [0.0, 0.0625, 0.125, 0.1875, -0.25]
    assert ev["gap"] == [0.375, 0.1875, 0.125, 0.0, 0.5]
    assert ev["best_variant"] == "hflip+crop" and ev["best_delta"] == 0.1875
    assert ev["best_val_acc"] == 0.6875 and ev["best_gap"] == 0.0
    assert ev["vflip_minus_hflip"] == -0.3125 and ev["hflip_delta"] == 0.0625
    assert ev["vflip_worse_than_hflip"] is True
    # noise on 2,048 images: about 0.04
    assert ev["helped"] == ["hflip", "crop", "hflip+crop"] and ev["hurt"] == ["vflip"]


# --------------------------------------------------------------------------- cnn-5
def _cnn_5_data(tmp_path, source_classes=(2, 3, 4)):
    src = _spec(classes=list(source_classes))
    source_table, source_records = _table(
        tmp_path, "cnn_transfer_source", [(_row("source", src, 0.75, 0.625), src)]
    )
    acc = {
        ("similar", "small"): (0.5, 0.625, 0.5625),
        ("similar", "large"): (0.75, 0.6875, 0.8125),
        ("different", "small"): (0.5, 0.4375, 0.46875),
        ("different", "large"): (0.8125, 0.625, 0.8125),
    }
    classes = {"similar": [5, 6, 7], "different": [1, 8, 9]}
    rows = []
    for (task, size), values in acc.items():
        for strategy, test in zip(("scratch", "frozen", "finetune"), values):
            kw = {"classes": classes[task], "per_class": 100 if size == "small" else None}
            if strategy != "scratch":
                kw.update(init_run="cnn-src", freeze="features" if strategy == "frozen" else "none")
            s = _spec(**kw)
            rows.append((_row(f"{task}, {size}, {strategy}", s, 0.75, 0.5, test), s))
    table, records = _table(tmp_path, "cnn_transfer", rows)
    runs = {"cnn_transfer_source": source_records, "cnn_transfer": records}
    return _data("cnn-5", {"tables": [source_table, table]}, runs)


def test_cnn_5_winner_per_case(tmp_path):
    ev = ev_cnn.compute_cnn_5(_cnn_5_data(tmp_path), _settings("cnn-5"))
    assert ev["cases"] == ["different_large", "different_small", "similar_large", "similar_small"]
    assert ev["similar_small_winner"] == "frozen" and ev["similar_small_margin"] == 0.0625
    assert ev["similar_small_gain"] == 0.125 and ev["small_similar_goal_met"] is True
    assert ev["similar_large_winner"] == "finetune" and ev["similar_large_gain"] == 0.0625
    assert ev["different_small_winner"] == "scratch" and ev["different_small_gain"] == -0.03125
    # a tie is broken by name, with a zero margin
    assert ev["different_large_winner"] == "finetune" and ev["different_large_margin"] == 0.0
    assert ev["num_test"] == 300 and ev["classes_disjoint"] is True


def test_cnn_5_flags_overlapping_source_classes(tmp_path):
    ev = ev_cnn.compute_cnn_5(_cnn_5_data(tmp_path, (2, 3, 5)), _settings("cnn-5"))
    assert ev["classes_disjoint"] is False


# --------------------------------------------------------------------------- cnn-6
def _cnn_6_data(tmp_path):
    acc = {"none": (0.5, 0.5, 0.5), "batch": (0.25, 0.5, 0.625), "group": (0.5625, 0.5625, 0.5)}
    rows = []
    for norm, values in acc.items():
        for b, val in zip((2, 8, 64), values):
            block = {"widths": [4], "norm": None if norm == "none" else norm, "groups": 2}
            s = _spec(blocks=[block], batch_size=b)
            rows.append((_row(f"{norm}, batch_size={b}", s, 0.75, val), s))
    table, records = _table(tmp_path, "cnn_norm", rows)
    return _data("cnn-6", {"tables": [table]}, {"cnn_norm": records})


def test_cnn_6_batch_norm_depends_on_the_batch_size(tmp_path):
    ev = ev_cnn.compute_cnn_6(_cnn_6_data(tmp_path), _settings("cnn-6", num_val=4096))
    assert ev["batch_sizes"] == [2, 8, 64] and ev["norms"] == ["none", "batch", "group"]
    assert ev["batch_val_acc"] == [0.25, 0.5, 0.625] and ev["batch_range"] == 0.375
    assert ev["group_range"] == 0.0625 and ev["none_range"] == 0.0
    assert ev["batch_smallest_minus_largest"] == -0.375
    assert ev["batch_minus_none"] == [-0.25, 0.0, 0.125] and ev["batch_shift"] == 0.375
    assert ev["group_minus_none"] == [0.0625, 0.0625, 0.0] and ev["group_shift"] == -0.0625
    assert ev["batch_more_sensitive"] is True and ev["group_more_sensitive"] is False


# --------------------------------------------------------------------------- cnn-7
def _cnn_7_data(tmp_path, speedup=100.0):
    conv = {
        "x_shape": [100, 31, 31, 3],
        "w_shape": [3, 3, 3, 25],
        "stride": 2,
        "pad": 1,
        "positions": 25600,
        "forward_speedup": speedup,
        "backward_speedup": 20.0,
        "naive_forward_seconds_per_position": 8e-6,
        "naive_forward_gflops_per_s": 0.25,
        "fast_forward_gflops_per_s": 16.0,
    }
    pool = {"x_shape": [100, 32, 32, 3], "forward_speedup": 64.0, "backward_speedup": 128.0}
    layer = {
        "c_in": 3,
        "c_out": 32,
        "hw": 32,
        "batch": 128,
        "conv_gflops_per_s": 20.0,
        "matmul_gflops_per_s": 40.0,
    }
    lab = {
        "layers": [layer, layer],
        "conv_gflops_per_s": 24.0,
        "matmul_gflops_per_s": 48.0,
        "ratio_to_baseline": 0.5,
    }
    timing = tmp_path / "cnn" / "timing.json"
    timing.parent.mkdir(parents=True, exist_ok=True)
    timing.write_text(json.dumps({"threads": 2, "conv": conv, "pool": pool, "lab": lab}))
    checks = tmp_path / "cnn" / "checks.json"
    diffs = {"conv_forward": 2.0**-50, "max_pool_reshape_backward": 0.0}
    checks.write_text(json.dumps({"naive_vs_fast_max_abs_diff": diffs, "naive_equals_fast": True}))
    return _data("cnn-7", {"timing": timing, "checks": checks}, {})


def test_cnn_7_speedups_and_gflops(tmp_path):
    ev = ev_cnn.compute_cnn_7(_cnn_7_data(tmp_path), _settings("cnn-7"))
    assert (
        ev["timing_conv_forward_speedup"] == 100.0 and ev["timing_pool_backward_speedup"] == 128.0
    )
    assert ev["timing_naive_us_per_position"] == pytest.approx(8.0)
    assert ev["timing_lab_fraction_of_matmul"] == 0.5 and ev["lab_layers"] == 2
    assert ev["patch_size"] == 27 and ev["num_filters"] == 25 and ev["conv_positions"] == 25600
    assert ev["naive_fast_max_abs_diff"] == 2.0**-50 and ev["timing_speedups_beyond_noise"] is True
    slow = ev_cnn.compute_cnn_7(_cnn_7_data(tmp_path, speedup=5.0), _settings("cnn-7"))
    assert slow["timing_speedups_beyond_noise"] is False


def test_cnn_7_every_timing_key_is_volatile(tmp_path):
    """Timings differ between runs: the determinism test ignores exactly the keys that
    match its volatile pattern, so every timing-derived key must match it."""
    import re

    volatile = re.compile(
        r"(^|_)(time|times|timing|timings|seconds|speedup|ratio_to_baseline|s|ms)($|_)", re.I
    )
    ev = ev_cnn.compute_cnn_7(_cnn_7_data(tmp_path), _settings("cnn-7"))
    derived = {k for k in ev if "gflops" in k or "speedup" in k or "per_position" in k}
    assert derived and all(volatile.search(k) for k in derived)


# --------------------------------------------------------------------------- the registry
def _all_evidence(tmp_path):
    def sub(name):
        (tmp_path / name).mkdir()
        return tmp_path / name

    return {
        "cnn-1": _cnn_1_data(sub("c1")),
        "cnn-2": _cnn_2_data(sub("c2")),
        "cnn-3": _cnn_3_data(sub("c3"))[0],
        "cnn-4": _cnn_4_data(sub("c4")),
        "cnn-5": _cnn_5_data(sub("c5")),
        "cnn-6": _cnn_6_data(sub("c6")),
        "cnn-7": _cnn_7_data(sub("c7")),
    }


def test_every_cnn_answer_renders_against_its_evidence(tmp_path):
    inputs = _all_evidence(tmp_path)
    assert set(inputs) == set(REGISTRY) == {f"cnn-{i}" for i in range(1, 8)}
    for qid, q in REGISTRY.items():
        compute = getattr(ev_cnn, f"compute_{qid.replace('-', '_')}")
        ev = public_evidence(compute(inputs[qid], _settings(qid)))
        text = " ".join(render_answer(q, ev).split())
        assert "{" not in text and " ." not in text and "( " not in text, (qid, text)
        assert 300 < len(text) < 2000, (qid, len(text))
        assert "<" not in text.replace("&lt;", ""), qid  # no raw markup


def test_rendered_answers_read_the_numbers(tmp_path):
    inputs = _all_evidence(tmp_path)

    def answer(qid, **settings):
        compute = getattr(ev_cnn, f"compute_{qid.replace('-', '_')}")
        ev = public_evidence(compute(inputs[qid], _settings(qid, **settings)))
        return " ".join(render_answer(REGISTRY[qid], ev).split())

    assert answer("cnn-1").startswith("It helps: on normal images the CNN beats the FC net by 12.5")
    assert "that edge vanishes (0.0 points)" in answer("cnn-1")
    assert answer("cnn-1", num_val=64).startswith(
        "Not clearly in this run: on normal images the CNN's edge over the FC net, 12.5 points, is"
    )
    assert answer("cnn-2", num_val=4096).startswith(
        "Max pooling trains best here, 6.2 points ahead"
    )
    assert answer("cnn-2").startswith("No pooling clearly wins here: max pooling is ahead by 6.2")
    assert "62.5% of the input positions receive gradient" in answer("cnn-2")
    assert answer("cnn-3").startswith("Smooth, local detectors (edges, colour blobs), unlike their")
    assert "0.57 for the best CNN's 4 3×3 filters" in answer("cnn-3")
    assert answer("cnn-4", num_val=2048).startswith("hflip+crop helps most: +18.8 points")
    assert "hurt: vflip" in answer("cnn-4", num_val=2048)
    five = answer("cnn-5")
    assert (
        "Small data, similar task: frozen pretrained layers + new head wins by 6.2 points" in five
    )
    assert "Large data, different task: fine-tuning everything wins by 0.0 points, within" in five
    assert "is at least the lab's goal of 5.0 points ahead" in five and "are disjoint" in five
    six = answer("cnn-6", num_val=4096)
    assert six.startswith("Batch norm depends on the batch size more than group norm")
    assert "batch norm changes validation accuracy by -25.0 points at batch 2 and +12.5" in six
    assert "2, 8, 64, batch norm 25.0% → 50.0% → 62.5%, group norm" in six
    assert answer("cnn-7").startswith("The fast versions give the same numbers")
    assert "convolution 100× forward and 20× backward" in answer("cnn-7")


def test_every_cnn_question_runs_end_to_end(tmp_path):
    """run_question with each entry's own settings: evidence passes check_evidence, the
    JSON and the figure are written."""
    inputs = _all_evidence(tmp_path)
    for qid, q in REGISTRY.items():
        run_question_into(tmp_path / "results", "cnn", qid, q, inputs[qid], _settings(qid))


def test_every_stage_figure_draws(tmp_path):
    """The figures of rule cnn_figure on the fixture tables."""
    cases = {
        "curves": ("cnn_augment", _cnn_4_data),
        "augment_bars": ("cnn_augment", _cnn_4_data),
        "norm_batch_size": ("cnn_norm", _cnn_6_data),
        "transfer_grid": ("cnn_transfer", _cnn_5_data),
    }
    for kind, (table, make) in cases.items():
        data = make(tmp_path / kind)
        runs = data.table(table)["runs"]
        curves = pd.DataFrame(
            [
                {"run": r, "epoch": e, "train_acc": 0.5, "val_acc": 0.25}
                for r in runs["run"]
                for e in (1, 2)
            ]
        )
        loss = pd.DataFrame(
            [{"run": r, "iteration": i, "loss": 2.0} for r in runs["run"] for i in (1, 2)]
        )
        frame = cnn_frame(runs, data.runs[table])
        fig = FIGURES[kind](frame, {"runs": runs, "curves": curves, "loss": loss}, None, table)
        save_figure(fig, tmp_path / f"{kind}.png")
        assert (tmp_path / f"{kind}.png").stat().st_size > 1000
    best = {"confusion": np.eye(10, dtype=int).tolist()}
    save_figure(FIGURES["confusion"](None, {}, best, "cnn_best"), tmp_path / "confusion.png")
    assert (tmp_path / "confusion.png").stat().st_size > 1000


def test_the_models_the_fixtures_rebuild_are_convnets():
    assert isinstance(build_cnn(_spec(), (32, 32, 3), 10), ConvNet)
