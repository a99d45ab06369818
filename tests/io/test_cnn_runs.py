"""kind: cnn runs: spec validation and ids (nplab_io.runs), data pipeline, models,
transfer and saved state (nplab_io.cnn_runs) on tiny arrays."""

import numpy as np
import pytest

from nplab.augment import Augmented
from nplab.cnn import BLOCK_DEFAULTS, ConvNet, ThreeLayerConvNet
from nplab.nets import FullyConnectedNet
from nplab_io.cnn_runs import (
    build_cnn,
    build_cnn_solver,
    cnn_cost,
    cnn_state,
    cnn_test_predictions,
    evaluation_note,
    first_per_class,
    init_from_source,
    load_cnn_state,
    pixel_permutation,
    plain_accuracies,
    prepare_cnn_data,
    select_classes,
    shuffle_pixels,
    wrap_cnn,
)
from nplab_io.config import ConfigError
from nplab_io.runs import CNN_BLOCK_DEFAULTS, canonical_spec, expand_experiments, expand_table

SHAPE = (8, 8, 3)
SMALL = [{"widths": [4]}, {"widths": [6], "pool": "avg"}]


def _spec(**kw):
    return expand_table("t", {"kind": "cnn", "base": kw})[0]["spec"]


def _arrays(n=(60, 30, 30), seed=0, shape=SHAPE):
    """Split arrays of random 0..255 images, labels cycling 0..9 (every class present)."""
    rng = np.random.default_rng(seed)
    out = {}
    for split, k in zip(("train", "val", "test"), n):
        out[f"X_{split}"] = rng.uniform(0, 255, (k, int(np.prod(shape)))).astype(np.float32)
        out[f"y_{split}"] = np.arange(k, dtype=np.int64) % 10
    return out


# --------------------------------------------------------------------------- specs, ids
def test_block_defaults_mirror_the_core():
    assert CNN_BLOCK_DEFAULTS == BLOCK_DEFAULTS


def test_defaults_and_irrelevant_keys_do_not_change_the_id():
    a = expand_table("t", {"kind": "cnn"})[0]
    b = expand_table(
        "t",
        {
            "kind": "cnn",
            "base": {
                "blocks": [{"widths": [32], "kernel": 3, "pad": 1}, {"widths": 64, "groups": 4}],
                "augment": [],
                "weight_scale": 0.5,  # he init: unused
                "num_filters": 7,  # three_layer only
                "bn_momentum": 0.5,  # no batch norm
                "momentum": 0.3,  # not Adam's
            },
        },
    )[0]
    assert a["run"] == b["run"] and a["run"].startswith("cnn-")
    c = expand_table("t", {"kind": "cnn", "base": {"augment": [{"name": "hflip"}]}})[0]
    d = expand_table("t", {"kind": "cnn", "base": {"augment": [{"name": "hflip", "p": 0.5}]}})[0]
    assert c["run"] == d["run"] != a["run"]
    assert c["spec"]["augment"] == [{"name": "hflip", "p": 0.5}]
    three = canonical_spec("cnn", {"arch": "three_layer"})
    assert "blocks" not in three and three["filter_size"] == 7 and "init" not in three


def test_a_cnn_run_is_never_a_net_run():
    net = expand_table("t", {"kind": "net"})[0]["run"]
    assert net.startswith("net-") and not net.endswith(
        expand_table("t", {"kind": "cnn"})[0]["run"][4:]
    )


def _transfer_tables(source_lr=1e-3):
    return {
        "src": {"kind": "cnn", "base": {"classes": [2, 3, 4], "lr": source_lr}},
        "tgt": {
            "kind": "cnn",
            "base": {"classes": [5, 6, 7]},
            "variants": [
                {"name": "scratch"},
                {"name": "frozen", "init_from": "src", "freeze": "features"},
                {"name": "finetune", "init_from": "src/src", "lr": 1e-4},
            ],
        },
    }


def test_init_from_resolves_to_the_source_id_and_follows_it():
    one = expand_experiments(_transfer_tables())
    two = expand_experiments(_transfer_tables(source_lr=2e-3))
    src = one["src"][0]["run"]
    frozen, finetune = one["tgt"][1]["spec"], one["tgt"][2]["spec"]
    assert frozen["init_run"] == finetune["init_run"] == src
    assert "init_from" not in frozen and one["tgt"][0]["spec"]["init_run"] is None
    # the source changed: so do the targets that start from it, not the scratch run
    assert two["src"][0]["run"] != src
    assert two["tgt"][0]["run"] == one["tgt"][0]["run"]
    assert two["tgt"][1]["run"] != one["tgt"][1]["run"]
    assert two["tgt"][1]["spec"]["init_run"] == two["src"][0]["run"]


def test_a_disabled_source_table_is_still_resolved():
    tables = _transfer_tables()
    tables["src"]["enabled"] = False
    out = expand_experiments(tables)
    assert "src" not in out and out["tgt"][1]["spec"]["init_run"].startswith("cnn-")


def test_transfer_source_and_target_classes_are_disjoint_in_the_config(repo_root):
    from nplab_io.config import load_yaml

    exp = load_yaml(repo_root / "config" / "config.yaml")["experiments"]
    src = set(exp["cnn_transfer_source"]["base"]["classes"])
    targets = {tuple(v["classes"]) for v in exp["cnn_transfer"]["variants"]}
    assert targets == {(5, 6, 7), (1, 8, 9)}
    assert all(not src & set(t) for t in targets) and not set(targets.pop()) & set(targets.pop())


@pytest.mark.parametrize(
    "tables, message",
    [
        (
            {"t": {"kind": "cnn", "base": {"blocks": [{"widths": [0]}]}}},
            "experiments.t.base.blocks[0].widths: expected a non-empty list of integers >= 1",
        ),
        (
            {"t": {"kind": "cnn", "base": {"blocks": [{"widths": [6], "norm": "group"}]}}},
            "experiments.t.base.blocks[0].groups: expected a divisor of every width",
        ),
        (
            {"t": {"kind": "cnn", "base": {"blocks": [{"widths": [4], "colour": 1}]}}},
            "experiments.t.base.blocks[0]: unknown key 'colour' for a block",
        ),
        (
            {"t": {"kind": "cnn", "base": {"blocks": [{"widths": [4], "kernel": 40, "pad": 0}]}}},
            "experiments.t.base.blocks[0]: expected a block that leaves",
        ),
        (
            {"t": {"kind": "cnn", "variants": [{"augment": [{"name": "spin"}]}]}},
            "experiments.t.variants[0].augment: augmentation 0: unknown transform 'spin'",
        ),
        (
            {"t": {"kind": "cnn", "base": {"augment": [{"name": "crop", "pad": -1}]}}},
            "experiments.t.base.augment: augmentation 0 ('crop')",
        ),
        (
            {"t": {"kind": "cnn", "grid": {"classes": [[1, 1]]}}},
            "experiments.t.grid.classes: expected null or a list of at least 2 distinct labels",
        ),
        (
            {"t": {"kind": "cnn", "base": {"classes": [3, 10]}}},
            "expected null or a list of at least 2 distinct labels in 0..9",
        ),
        ({"t": {"kind": "cnn", "base": {"pixel_shuffle": -2}}}, "base.pixel_shuffle: expected"),
        ({"t": {"kind": "cnn", "base": {"per_class": 0}}}, "base.per_class: expected"),
        ({"t": {"kind": "cnn", "base": {"data": "cifar10/centered"}}}, "'cifar10/pixels'"),
        ({"t": {"kind": "cnn", "base": {"arch": "resnet"}}}, "base.arch: expected one of"),
        ({"t": {"kind": "cnn", "base": {"input_norm": "zca"}}}, "base.input_norm: expected"),
        ({"t": {"kind": "cnn", "base": {"batch_size": "full"}}}, "expected an integer >= 1"),
        ({"t": {"kind": "cnn", "base": {"init_run": "cnn-0"}}}, "set from init_from"),
        ({"t": {"kind": "cnn", "base": {"freeze": "features"}}}, "needs init_from"),
        (
            {"t": {"kind": "cnn", "base": {"num_train": 50, "batch_size": 64}}},
            "experiments.t.batch_size: expected at most the run's 50 training images",
        ),
        (
            {"t": {"kind": "cnn", "base": {"schedule": "cosine"}}},
            "missing required parameter(s) ['total_steps']",
        ),
        (
            {"t": {"kind": "cnn", "base": {"init_from": "nowhere/x"}}},
            "experiments.t.base.init_from: expected '<table>/<variant>' naming a table",
        ),
        (
            {
                "s": {"kind": "cnn", "grid": {"lr": [1e-3, 1e-2]}},
                "t": {"kind": "cnn", "base": {"init_from": "s"}},
            },
            "with a variant of s ('lr=0.001', 'lr=0.01')",
        ),
        (
            {
                "s": {"kind": "cnn", "base": {"blocks": [{"widths": [8]}]}},
                "t": {"kind": "cnn", "base": {"init_from": "s"}},
            },
            "'s' has other blocks than this run",
        ),
        (
            {
                "s": {"kind": "cnn", "base": {"init_from": "t"}},
                "t": {"kind": "cnn", "base": {"init_from": "s"}},
            },
            "init_from leads back to this table",
        ),
        (
            {
                "s": {"kind": "cnn", "base": {"arch": "fc"}},
                "t": {"kind": "cnn", "base": {"init_from": "s"}},
            },
            "expected a run of a kind: cnn table with arch 'convnet'",
        ),
    ],
)
def test_bad_cnn_tables_give_one_line_naming_the_key(tables, message):
    with pytest.raises(ConfigError) as exc:
        expand_experiments(tables)
    text = str(exc.value)
    assert message in text and "\n" not in text and text.startswith("config error: experiments.")


def test_limits_cap_cnn_sizes_epochs_and_schedules():
    spec = expand_table(
        "t",
        {
            "kind": "cnn",
            "base": {
                "epochs": 10,
                "batch_size": 64,
                "per_class": 100,
                "schedule": "cosine",
                "schedule_params": {"total_steps": 10},
            },
        },
        limits={"max_train": 40, "max_epochs": 2, "max_iterations": 5},
    )[0]["spec"]
    assert (spec["num_train"], spec["epochs"], spec["batch_size"]) == (40, 2, 40)
    assert spec["schedule_params"]["total_steps"] == 2 and spec["iterations"] is None
    assert spec["per_class"] == 100
    # a per_class run keeps its per_class x classes images when they are under the cap
    small = {"kind": "cnn", "base": {"classes": [5, 6, 7], "per_class": 100}}
    assert expand_table("t", small, limits={"max_train": 400})[0]["spec"]["num_train"] == 300


# --------------------------------------------------------------------------- data
def test_classes_are_kept_and_relabelled_in_the_given_order():
    X = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(10)
    Xs, ys = select_classes(X, y, [7, 2])
    assert ys.tolist() == [1, 0] and Xs[:, 0].tolist() == [2.0, 7.0]
    assert select_classes(X, y, None)[1] is y


def test_per_class_takes_the_first_images_of_each_class():
    y = np.array([0, 1, 0, 2, 1, 0, 2, 2, 1])
    assert first_per_class(y, 2, 3).tolist() == [0, 1, 2, 3, 4, 6]
    with pytest.raises(ValueError, match="class 0 has only 3"):
        first_per_class(y, 4, 3)


def test_pixel_shuffle_is_fixed_by_its_seed_and_applied_to_every_split():
    p = pixel_permutation(3, SHAPE)
    assert np.array_equal(p, pixel_permutation(3, SHAPE))
    assert not np.array_equal(p, pixel_permutation(4, SHAPE))
    assert sorted(p.tolist()) == list(range(64))
    arrays = _arrays()
    plain = prepare_cnn_data(arrays, _spec(input_norm="none"), SHAPE)
    shuf = prepare_cnn_data(arrays, _spec(input_norm="none", pixel_shuffle=3), SHAPE)
    for s in ("train", "val", "test"):
        a = plain.data[f"X_{s}"].reshape(-1, 64, 3)
        b = shuf.data[f"X_{s}"].reshape(-1, 64, 3)
        assert np.array_equal(b, a[:, p])  # the same permutation, channels together
        assert np.array_equal(shuffle_pixels(plain.data[f"X_{s}"], p, SHAPE), shuf.data[f"X_{s}"])


def test_prepare_applies_classes_per_class_and_sizes():
    arrays = _arrays(n=(100, 40, 40))
    cd = prepare_cnn_data(
        arrays, _spec(classes=[5, 6, 7], per_class=4, num_val=7, batch_size=4), SHAPE
    )
    assert cd.num_classes == 3
    assert np.bincount(cd.data["y_train"]).tolist() == [4, 4, 4]
    assert len(cd.data["y_val"]) == 7 and set(cd.data["y_test"]) == {0, 1, 2}
    # the first 4 training images of class 5 (rows 5, 15, 25, 35), in order
    rows = cd.data["X_train"][cd.data["y_train"] == 0]
    assert np.array_equal(rows, arrays["X_train"][[5, 15, 25, 35]])
    with pytest.raises(ValueError, match="num_train=20 but only 12"):
        prepare_cnn_data(
            arrays, _spec(classes=[5, 6, 7], per_class=4, num_train=20, batch_size=4), SHAPE
        )


@pytest.mark.parametrize("kind", ["channel", "mean_image"])
def test_input_normalisation_uses_train_statistics_only(kind):
    arrays = _arrays()
    arrays["X_val"] = arrays["X_val"] + 1000.0  # a shifted val split must not move the stats
    cd = prepare_cnn_data(arrays, _spec(input_norm=kind, num_train=20, batch_size=4), SHAPE)
    imgs = arrays["X_train"][:20].reshape(20, *SHAPE).astype(np.float64)
    if kind == "channel":
        np.testing.assert_allclose(cd.stats["mean"], imgs.mean(axis=(0, 1, 2)), rtol=1e-5)
        np.testing.assert_allclose(cd.stats["std"], imgs.std(axis=(0, 1, 2)), rtol=1e-4)
    else:
        np.testing.assert_allclose(cd.stats["mean_image"], imgs.mean(axis=0), rtol=1e-5)
    # rows stay raw; the wrapper normalises a batch (train: after augmenting)
    assert np.array_equal(cd.data["X_train"], arrays["X_train"][:20])
    net = wrap_cnn(_spec(blocks=SMALL), build_cnn(_spec(blocks=SMALL), SHAPE, 10), SHAPE, cd.stats)
    z = net._normalized(cd.data["X_train"]).reshape(20, *SHAPE)
    axes = (0, 1, 2) if kind == "channel" else 0
    np.testing.assert_allclose(z.mean(axis=axes), 0, atol=1e-3)
    assert prepare_cnn_data(arrays, _spec(input_norm="none"), SHAPE).stats == {}


# --------------------------------------------------------------------------- models
def test_build_cnn_builds_each_architecture():
    conv = build_cnn(_spec(blocks=SMALL, hidden_dims=[5], global_pool=True), SHAPE, 3)
    assert isinstance(conv, ConvNet) and conv.feature_layers == [1, 2] and conv.num_classes == 3
    assert conv.hidden_dims == [5] and conv.global_pool and conv.params["W1"].dtype == np.float32
    three = build_cnn(_spec(arch="three_layer", num_filters=4, hidden_dim=9), SHAPE, 10)
    assert isinstance(three, ThreeLayerConvNet) and three.params["W1"].shape == (7, 7, 3, 4)
    fc = build_cnn(_spec(arch="fc", hidden_dims=[11]), SHAPE, 10)
    assert isinstance(fc, FullyConnectedNet) and fc.params["W1"].shape == (192, 11)
    cost = cnn_cost(_spec(blocks=SMALL, hidden_dims=[5]), SHAPE)
    weights = sum(
        v.size for k, v in build_cnn(_spec(blocks=SMALL, hidden_dims=[5]), SHAPE, 10).params.items()
    )
    assert cost["weights"] == weights
    # 8x8x3 -> conv 4 (8x8) -> pool 4x4 -> conv 6 (4x4) -> avg 2x2 -> 24 -> 5 -> 10
    assert cost["macs"] == 64 * 27 * 4 + 16 * 36 * 6 + 24 * 5 + 5 * 10


def _train(spec, cd, model, epochs=2):
    net = wrap_cnn(spec, model, SHAPE, cd.stats)
    return build_cnn_solver(spec, net, cd.data, num_epochs=epochs).train(), net


def test_transfer_loads_source_features_replaces_the_head_and_freezes():
    arrays = _arrays()
    src_spec = _spec(
        blocks=[{"widths": [4], "norm": "batch"}, {"widths": [6]}], classes=[2, 3, 4], batch_size=8
    )
    cd = prepare_cnn_data(arrays, src_spec, SHAPE)
    source = build_cnn(src_spec, SHAPE, 3)
    _train(src_spec, cd, source)
    state = cnn_state(source, cd.stats)

    tgt_spec = dict(src_spec, classes=[0, 1, 5, 6], seed=1)
    target = build_cnn(tgt_spec, SHAPE, 4)
    head = {k: target.params[k].copy() for k in ("W3", "b3")}
    init_from_source(target, state, "features")
    for name in ("W1", "b1", "gamma1", "beta1", "W2", "b2"):
        assert np.array_equal(target.params[name], source.params[name])
    assert np.array_equal(target.bn_params[0]["running_mean"], source.bn_params[0]["running_mean"])
    assert target.num_classes == 4 and np.array_equal(target.params["W3"], head["W3"])
    assert target.frozen == {"W1", "b1", "gamma1", "beta1", "W2", "b2"}

    # a short Solver run on tiny data changes the head only
    frozen = {k: target.params[k].copy() for k in target.frozen}
    cd_t = prepare_cnn_data(arrays, tgt_spec, SHAPE)
    hist, _ = _train(tgt_spec, cd_t, target)
    assert hist.iterations > 0 and not hist.diverged
    assert all(np.array_equal(target.params[k], v) for k, v in frozen.items())
    assert not np.array_equal(target.params["W3"], head["W3"])

    finetune = build_cnn(tgt_spec, SHAPE, 4)
    init_from_source(finetune, state)
    assert not finetune.frozen
    with pytest.raises(ValueError, match="missing feature parameter 'gamma1'"):
        init_from_source(build_cnn(tgt_spec, SHAPE, 4), {"W1": state["W1"], "b1": state["b1"]})


def test_saved_state_reproduces_the_test_predictions(tmp_path):
    arrays = _arrays()
    spec = _spec(
        blocks=SMALL, classes=[1, 2, 3], pixel_shuffle=5, input_norm="mean_image", batch_size=6
    )
    cd = prepare_cnn_data(arrays, spec, SHAPE)
    model = build_cnn(spec, SHAPE, 3)
    _, net = _train(spec, cd, model)
    path = tmp_path / "pixels.npz"
    np.savez(path, **arrays, image_shape=np.array(SHAPE))
    state = cnn_state(model, cd.stats)
    pred, y = cnn_test_predictions(spec, state, path)
    assert np.array_equal(y, cd.data["y_test"])
    assert np.array_equal(pred, net.predict(cd.data["X_test"]))
    again = build_cnn(spec, SHAPE, 3)
    assert load_cnn_state(again, state).keys() == {"mean_image"}
    assert isinstance(net, Augmented)


def test_test_time_flip_reaches_every_evaluation_and_reports_the_single_view(tmp_path):
    arrays = _arrays()
    spec = _spec(blocks=SMALL, batch_size=6, test_hflip=True, test=True)
    cd = prepare_cnn_data(arrays, spec, SHAPE)
    model = build_cnn(spec, SHAPE, 10)
    _, net = _train(spec, cd, model)
    X = cd.data["X_test"]
    mirrored = X.reshape((-1,) + SHAPE)[:, :, ::-1].reshape(X.shape)
    single = Augmented(model, [], SHAPE, normalize=net.normalize)
    mean_scores = 0.5 * (single.loss(X) + single.loss(mirrored))
    assert net.test_hflip and np.array_equal(net.predict(X), np.argmax(mean_scores, axis=1))
    path = tmp_path / "pixels.npz"
    np.savez(path, **arrays, image_shape=np.array(SHAPE))
    state = cnn_state(model, cd.stats)
    assert np.array_equal(cnn_test_predictions(spec, state, path)[0], net.predict(X))
    no_flip = spec | {"test_hflip": False}
    assert np.array_equal(cnn_test_predictions(no_flip, state, path)[0], single.predict(X))
    plain = plain_accuracies(spec, net, cd.data)
    assert plain == {
        f"{s}_acc_plain": float(np.mean(single.predict(cd.data[f"X_{s}"]) == cd.data[f"y_{s}"]))
        for s in ("val", "test")
    }
    assert plain_accuracies(no_flip, net, cd.data) == {}
    assert evaluation_note(spec, 0.5) == "test-time flip; 50.0% test without it"
    assert evaluation_note(no_flip) == "one view per image"
    assert canonical_spec("cnn", {})["test_hflip"] is False
