"""Tests for nplab.augment (transforms, pipeline, wrappers) and per-channel normalisation."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from nplab import augment as aug
from nplab import preprocess as pp

SHAPE = (8, 8, 3)  # small images keep the file fast

# One non-trivial configuration per transform (every one draws something).
CONFIGS = {
    "hflip": {"name": "hflip", "p": 0.5},
    "vflip": {"name": "vflip", "p": 0.5},
    "crop": {"name": "crop", "pad": 2},
    "rotate": {"name": "rotate", "degrees": 20},
    "affine": {"name": "affine", "degrees": 10, "translate": 0.1, "scale": (0.9, 1.1), "shear": 5},
    "rescale": {"name": "rescale", "scale": (0.7, 1.3)},
    "color_jitter": {
        "name": "color_jitter",
        "brightness": 0.4,
        "contrast": 0.4,
        "saturation": 0.4,
        "hue": 0.1,
    },
    "noise": {"name": "noise", "sigma": 0.1},
    "cutout": {"name": "cutout", "size": 3},
    "crop_p": {"name": "crop", "pad": 2, "p": 0.5},
}


def images(n=6, shape=SHAPE, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).random((n,) + shape).astype(dtype)


def run(cfg, x, seed=0):
    return aug.build_pipeline([cfg])(x, np.random.default_rng(seed))


class Recorder:
    """A model stand-in that records what its loss/predict receive."""

    def __init__(self):
        self.params = {"W": np.zeros(1)}
        self.rng = np.random.default_rng(123)
        self.calls = []

    def loss(self, X, y=None, reduction="mean"):
        self.calls.append((X, y, reduction))
        return 0.0 if y is None else (0.0, {})

    def predict(self, X, batch_size=1000):
        self.calls.append((X, None, batch_size))
        return np.zeros(len(X), dtype=np.int64)


# --------------------------------------------------------------------------- all transforms
def test_registry_covers_every_config():
    assert {c["name"] for c in CONFIGS.values()} == set(aug.TRANSFORMS)


@pytest.mark.parametrize("key", CONFIGS)
def test_transform_keeps_shape_dtype_and_labels(key):
    rows = images().reshape(6, -1)
    y = np.arange(6)
    model = Recorder()
    wrapped = aug.Augmented(model, [CONFIGS[key]], SHAPE, seed=1)
    wrapped.loss(rows, y)
    X_seen, y_seen, _ = model.calls[-1]
    assert X_seen.shape == rows.shape and X_seen.dtype == np.float32
    assert y_seen is y
    np.testing.assert_array_equal(y, np.arange(6))
    out4 = run(CONFIGS[key], images())  # NHWC in, NHWC out
    assert out4.shape == (6,) + SHAPE and out4.dtype == np.float32


@pytest.mark.parametrize("key", CONFIGS)
def test_same_seed_same_batch_other_seed_other_batch_input_kept(key):
    x = images()
    x0 = x.copy()
    a, b, c = run(CONFIGS[key], x, 7), run(CONFIGS[key], x, 7), run(CONFIGS[key], x, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("key", ["rotate", "affine", "rescale", "color_jitter", "noise"])
def test_float64_stays_float64(key):
    assert run(CONFIGS[key], images(dtype=np.float64)).dtype == np.float64


# --------------------------------------------------------------------------- flips, crop
@pytest.mark.parametrize("name, axis", [("hflip", 2), ("vflip", 1)])
def test_flip_all_is_mirror_and_twice_is_identity(name, axis):
    x = images()
    pipe = aug.build_pipeline([{"name": name, "p": 1.0}])
    once = pipe(x, np.random.default_rng(0))
    np.testing.assert_array_equal(once, np.flip(x, axis=axis))
    np.testing.assert_array_equal(pipe(once, np.random.default_rng(1)), x)


def test_crop_pad_zero_is_identity():
    x = images()
    np.testing.assert_array_equal(run({"name": "crop", "pad": 0}, x), x)


def test_crop_is_a_window_of_the_zero_padded_image():
    x = images(n=4)
    out = run({"name": "crop", "pad": 2}, x, seed=3)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    offsets = set()
    for img, pad_img in zip(out, padded):
        hits = [
            (r, c)
            for r in range(5)
            for c in range(5)
            if np.array_equal(img, pad_img[r : r + 8, c : c + 8])
        ]
        assert len(hits) == 1
        offsets.add(hits[0])
    assert len(offsets) > 1  # offsets are random per image


# --------------------------------------------------------------------------- geometry
@pytest.mark.parametrize(
    "cfg",
    [
        {"name": "rotate", "degrees": 0},
        {"name": "affine"},
        {"name": "affine", "degrees": (0, 0), "translate": 0, "scale": (1, 1), "shear": 0},
        {"name": "rescale", "scale": (1, 1)},
    ],
)
def test_identity_geometry(cfg):
    x = images()
    np.testing.assert_allclose(run(cfg, x), x, rtol=0, atol=1e-6)


@pytest.mark.parametrize("deg, k", [(90, 1), (-90, -1), (180, 2)])
def test_rotation_by_right_angles_matches_rot90(deg, k):
    x = images()  # positive angles turn counter-clockwise on screen, like np.rot90
    out = run({"name": "rotate", "degrees": (deg, deg)}, x)
    np.testing.assert_allclose(out, np.rot90(x, k, axes=(1, 2)), atol=1e-5)


def test_rotation_fills_corners_and_keeps_centre():
    x = np.ones((2, 9, 9, 3), np.float32)
    out = run({"name": "rotate", "degrees": (45, 45), "fill": -1.0}, x)
    assert (out[:, 0, 0] == -1).all() and (out[:, 4, 4] == 1).all()


@pytest.mark.parametrize("s, covered", [(0.5, 16), (2.0, 64)])
def test_rescale_shrinks_or_zooms(s, covered):
    # ones on 8x8: shrinking by 1/2 leaves a 4x4 patch (bilinear edges conserve the mass);
    # zooming by 2 still covers the whole image, wherever its window sits.
    out = run({"name": "rescale", "scale": (s, s)}, np.ones((20, 8, 8, 3), np.float32))
    np.testing.assert_allclose(out.sum(axis=(1, 2)), covered, atol=1e-4)


def test_affine_scale_about_centre_keeps_centre_pixel():
    x = np.zeros((1, 9, 9, 1), np.float32)
    x[0, 4, 4] = 1.0
    out = run({"name": "affine", "scale": (3, 3)}, x)
    assert out[0, 4, 4, 0] == pytest.approx(1.0)
    assert out[0, 3:6, 3:6].min() > 0.3  # the dot grows around the centre


# --------------------------------------------------------------------------- cutout, noise
def test_cutout_inside_zeroes_exactly_its_area():
    x = np.ones((5,) + SHAPE, np.float32)
    out = run({"name": "cutout", "size": 3, "inside": True}, x)
    np.testing.assert_array_equal((out == 0).sum(axis=(1, 2, 3)), 3 * 3 * 3)
    zero_pixels = (out == 0).all(axis=-1)
    for img in zero_pixels:  # one contiguous 3x3 square per image
        r, c = np.nonzero(img)
        assert r.max() - r.min() == 2 and c.max() - c.min() == 2


def test_cutout_at_border_is_clipped_and_uses_fill():
    x = images(n=40)
    out = run({"name": "cutout", "size": 3, "fill": 7.0}, x, seed=2)
    filled = (out == 7).all(axis=-1).sum(axis=(1, 2))
    assert filled.max() == 9 and filled.min() < 9 and filled.min() >= 4
    np.testing.assert_array_equal(out[out != 7], x[out != 7])


def test_noise_sigma_zero_is_identity_and_sigma_sets_scale():
    x = images(n=20)
    np.testing.assert_array_equal(run({"name": "noise", "sigma": 0.0}, x), x)
    d = run({"name": "noise", "sigma": 0.5}, x) - x
    assert abs(d.std() - 0.5) < 0.03 and abs(d.mean()) < 0.03
    clipped = run({"name": "noise", "sigma": 0.5, "clip": (0, 1)}, x)
    assert clipped.min() == 0.0 and clipped.max() == 1.0


# --------------------------------------------------------------------------- colour
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"brightness": 0, "contrast": 0, "saturation": 0, "hue": 0},
        {"hue": 0.0},
        {"hue": (0, 0)},
    ],
)
def test_colour_jitter_zero_strength_is_identity(params):
    x = images()
    np.testing.assert_allclose(run({"name": "color_jitter"} | params, x), x, atol=1e-6)


def luma(x):
    return x @ np.array([0.299, 0.587, 0.114], np.float32)


def test_hue_shift_keeps_luma_and_greys_and_full_turn_is_identity():
    x = images()
    out = run({"name": "color_jitter", "hue": 0.5}, x)
    assert np.abs(out - x).max() > 0.05
    np.testing.assert_allclose(luma(out), luma(x), atol=1e-5)
    grey = np.repeat(x[..., :1], 3, axis=-1)
    np.testing.assert_allclose(run({"name": "color_jitter", "hue": 0.5}, grey), grey, atol=1e-5)
    half = aug.build_pipeline([{"name": "color_jitter", "hue": (0.5, 0.5)}] * 2)
    np.testing.assert_allclose(half(x, np.random.default_rng(0)), x, atol=1e-5)


def test_colour_jitter_factors_by_hand():
    x = images(n=2)
    bright = run({"name": "color_jitter", "brightness": (2, 2)}, x)
    np.testing.assert_allclose(bright, 2 * x, rtol=1e-6)
    grey = run({"name": "color_jitter", "saturation": (0, 0)}, x)
    np.testing.assert_allclose(grey, np.repeat(luma(x)[..., None], 3, -1), atol=1e-6)
    flat = run({"name": "color_jitter", "contrast": (0, 0)}, x)
    mean_luma = luma(x).mean(axis=(1, 2))
    np.testing.assert_allclose(flat, np.broadcast_to(mean_luma[:, None, None, None], x.shape), 1e-5)
    clipped = run({"name": "color_jitter", "brightness": (3, 3), "clip": (0, 1)}, x)
    assert clipped.max() == 1.0


def test_colour_jitter_greyscale_and_channel_errors():
    x1 = images(shape=(8, 8, 1))
    np.testing.assert_allclose(run({"name": "color_jitter", "brightness": (2, 2)}, x1), 2 * x1)
    with pytest.raises(ValueError, match="saturation and hue need RGB"):
        run({"name": "color_jitter", "hue": 0.1}, x1)


def test_interpolating_transforms_reject_integer_images():
    with pytest.raises(ValueError, match="rotate needs float32 or float64"):
        run({"name": "rotate"}, np.zeros((2,) + SHAPE, np.int64))


# --------------------------------------------------------------------------- probability p
def test_p_zero_draws_nothing_and_p_selects_images():
    x = images(n=50)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert aug.build_pipeline([{"name": "noise", "p": 0.0}])(x, rng) is x
    assert rng.bit_generator.state == state
    out = run({"name": "noise", "sigma": 1.0, "p": 0.5}, x)
    changed = (out != x).any(axis=(1, 2, 3))
    assert 10 < changed.sum() < 40


# --------------------------------------------------------------------------- config errors
@pytest.mark.parametrize(
    "config, match",
    [
        ([{"name": "flip"}], r"augmentation 0: unknown transform 'flip' \(known: hflip, "),
        ([{"p": 0.5}], r"augmentation 0: missing 'name'"),
        ([{"name": "hflip"}, {"name": "crop", "padding": 4}], r"1 \('crop'\).*'padding'.*pad"),
        ([{"name": "crop", "pad": -1}], r"augmentation 0 \('crop'\): pad must be an int >= 0"),
        ([{"name": "crop", "pad": 2.5}], r"'crop'\): pad must be an int"),
        ([{"name": "hflip", "p": 1.5}], r"'hflip'\): p must be in \[0, 1\]"),
        ([{"name": "rescale", "scale": (1.2, 0.8)}], r"'rescale'\): scale must have low <= high"),
        ([{"name": "rescale", "scale": 0.9}], r"'rescale'\): scale must be a pair"),
        ([{"name": "color_jitter", "hue": 0.7}], r"'color_jitter'\): hue must be in \[0, 0.5\]"),
        ([{"name": "noise", "sigma": "big"}], r"'noise'\): sigma must be a number"),
        ([{"name": "rotate", "order": 2}], r"'rotate'\): order must be 1 .* or 3"),
        (["hflip"], r"augmentation 0: expected a dict"),
        ([{"name": 3}], r"augmentation 0: 'name' must be a string"),
        ({"name": "hflip"}, r"must be a list of dicts"),
    ],
)
def test_pipeline_config_errors_name_the_culprit(config, match):
    with pytest.raises(ValueError, match=match):
        aug.build_pipeline(config)


def test_config_round_trip_and_alias():
    cfg = [CONFIGS[k] for k in CONFIGS] + [{"name": "colour_jitter", "hue": 0.2}]
    pipe = aug.build_pipeline(cfg)
    again = aug.build_pipeline(pipe.config())
    x = images()
    np.testing.assert_array_equal(
        pipe(x, np.random.default_rng(4)), again(x, np.random.default_rng(4))
    )
    assert pipe.config()[-1]["name"] == "color_jitter"
    assert aug.build_pipeline(None)(x, np.random.default_rng(0)) is x


def test_pipeline_shape_errors():
    pipe = aug.build_pipeline([{"name": "hflip"}])
    with pytest.raises(ValueError, match="NHWC batch"):
        pipe(np.zeros((2, 192), np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="does not match rows"):
        pipe(np.zeros((2, 191), np.float32), np.random.default_rng(0), SHAPE)
    with pytest.raises(ValueError, match="np.random.Generator"):
        pipe(images(), 0)


# --------------------------------------------------------------------------- wrappers
def test_augmented_leaves_x_untouched_at_test_time():
    model = Recorder()
    wrapped = aug.Augmented(model, [CONFIGS["noise"], CONFIGS["crop"]], SHAPE)
    rows = images().reshape(6, -1)
    wrapped.loss(rows)
    assert model.calls[-1][0] is rows
    wrapped.predict(rows, batch_size=7)
    assert model.calls[-1][0] is rows and model.calls[-1][2] == 7
    wrapped.loss(rows, np.zeros(6, int), reduction="sum")
    assert not np.array_equal(model.calls[-1][0], rows) and model.calls[-1][2] == "sum"


def test_augmented_normalises_after_augmenting_in_both_modes():
    model = Recorder()
    mean, std = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 0.5])
    wrapped = aug.Augmented(model, [{"name": "hflip", "p": 1.0}], normalize=(mean, std))
    x = images()
    wrapped.loss(x, np.zeros(6, int))
    expect = pp.normalize_channels(x[:, :, ::-1], mean, std)
    np.testing.assert_array_equal(model.calls[-1][0], expect)
    wrapped.predict(x)
    np.testing.assert_array_equal(model.calls[-1][0], pp.normalize_channels(x, mean, std))
    assert model.calls[-1][0].dtype == np.float32


def test_augmented_rng_plumbing():
    model = Recorder()
    wrapped = aug.Augmented(model, [CONFIGS["hflip"]], SHAPE)
    assert wrapped.params is model.params
    wrapped.rng = np.random.default_rng(5)
    expect = np.random.default_rng(np.random.default_rng(5).integers(0, 2**63)).random()
    assert model.rng.random() == expect
    with pytest.raises(ValueError, match="np.random.Generator"):
        wrapped.rng = 5
    with pytest.raises(ValueError, match="loss"):
        aug.Augmented(object(), [])


class _Linear:
    """Class scores ``rows @ W``: a model whose scores see the image's orientation."""

    def __init__(self, W):
        self.W = np.asarray(W, dtype=np.float64)
        self.params = {}

    def loss(self, X, y=None, reduction="mean"):
        scores = np.asarray(X, dtype=np.float64).reshape(len(X), -1) @ self.W
        return scores if y is None else (float(scores.sum()), {})

    def predict(self, X, batch_size=1000):
        return np.argmax(self.loss(X), axis=1)


def test_test_time_hflip_averages_the_scores_of_image_and_mirror():
    # one 1x2 image [1, 3]: plain scores [3, 3, 5.5] (class 2); its mirror [3, 1] scores
    # [9, 1, 4.5]; the mean [6, 2, 5] picks class 0
    W = [[3.0, 0.0, 1.0], [0.0, 1.0, 1.5]]
    x = np.array([[1.0, 3.0]], np.float32)
    plain = aug.Augmented(_Linear(W), [], (1, 2, 1))
    tta = aug.Augmented(_Linear(W), [], (1, 2, 1), test_hflip=True)
    np.testing.assert_array_equal(plain.loss(x), [[3.0, 3.0, 5.5]])
    np.testing.assert_array_equal(tta.loss(x), [[6.0, 2.0, 5.0]])
    assert plain.predict(x).tolist() == [2] and tta.predict(x).tolist() == [0]
    # batched: the same labels whatever the batch size; the input is left untouched
    X = np.array([[1.0, 3.0], [3.0, 1.0], [0.0, 4.0]], np.float32)
    before = X.copy()
    expect = np.argmax(0.5 * (X @ np.asarray(W) + X[:, ::-1] @ np.asarray(W)), axis=1)
    for batch_size in (1, 2, 1000):
        np.testing.assert_array_equal(tta.predict(X, batch_size=batch_size), expect)
    np.testing.assert_array_equal(X, before)
    # training mode never averages: the labels' loss sees the batch as given
    assert tta.loss(x, np.zeros(1, int))[0] == plain.loss(x, np.zeros(1, int))[0] == 11.5
    with pytest.raises(ValueError, match="test_hflip must be True or False"):
        aug.Augmented(_Linear(W), [], (1, 2, 1), test_hflip="yes")


def test_horizontal_flip_pinned_small_case():
    # default_rng(0).random(4) = [0.637, 0.270, 0.041, 0.017]: p = 0.5 flips rows 1, 2, 3.
    model = Recorder()
    X = np.arange(12, dtype=np.float32).reshape(4, 3)  # four 1x3 single-channel images
    hf = aug.HorizontalFlip(model, (1, 3, 1), p=0.5, seed=0)
    hf.loss(X, np.zeros(4, int))
    expect = [[0, 1, 2], [5, 4, 3], [8, 7, 6], [11, 10, 9]]
    np.testing.assert_array_equal(model.calls[-1][0], expect)
    np.testing.assert_array_equal(X, np.arange(12).reshape(4, 3))
    hf.loss(X)
    assert model.calls[-1][0] is X


def test_horizontal_flip_draws_match_random_hflip():
    X = images(n=30).reshape(30, -1)
    model = Recorder()
    hf = aug.HorizontalFlip(model, SHAPE, p=0.3, seed=11)
    ref = np.random.default_rng(11)
    for _ in range(3):
        hf.loss(X, np.zeros(30, int))
        np.testing.assert_array_equal(model.calls[-1][0], aug.random_hflip(X, SHAPE, ref, 0.3))
    state = hf.rng.bit_generator.state
    aug.HorizontalFlip(model, SHAPE, p=0.0).loss(X, np.zeros(30, int))
    assert model.calls[-1][0] is X and hf.rng.bit_generator.state == state
    assert hf.p == 0.3 and hf.image_shape == SHAPE
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        aug.HorizontalFlip(model, SHAPE, p=2.0)


# --------------------------------------------------------------------------- normalisation
def test_channel_stats_by_hand():
    # channel 0: 1, 3, 5, 7 -> mean 4, var (9 + 1 + 1 + 9) / 4 = 5; channel 1: all 2.
    x = np.array([[[[1, 2], [3, 2]]], [[[5, 2], [7, 2]]]], dtype=np.float32)  # (2, 1, 2, 2)
    mean, std = pp.channel_stats(x)
    assert mean.dtype == np.float32 and std.dtype == np.float32
    np.testing.assert_allclose(mean, [4, 2])
    np.testing.assert_allclose(std, [np.sqrt(5), 0])
    m8, s8 = pp.channel_stats(x.astype(np.uint8))
    assert m8.dtype == np.float64
    np.testing.assert_allclose(s8, [np.sqrt(5), 0])


def test_channel_stats_chunks_match_numpy(monkeypatch):
    monkeypatch.setattr(pp, "_STATS_CHUNK", 7)
    x = images(n=5, seed=3) * 100 + 1000
    mean, std = pp.channel_stats(x, dtype=np.float64)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(std, x.astype(np.float64).std(axis=(0, 1, 2)), rtol=1e-10)


def test_normalize_channels_by_hand():
    x = np.array([[[[1, 2], [3, 2]]], [[[5, 2], [7, 2]]]], dtype=np.float32)
    out = pp.normalize_channels(x, np.array([4.0, 2.0]), np.array([2.0, 0.0]), eps=1.0)
    assert out.dtype == np.float32
    # channel 0: (v - 4) / (2 + 1); channel 1: (2 - 2) / (0 + 1) = 0
    np.testing.assert_allclose(out[..., 0].ravel(), [-1, -1 / 3, 1 / 3, 1], rtol=1e-6)
    np.testing.assert_array_equal(out[..., 1], 0)
    z = pp.normalize_channels(
        x.astype(np.float64), *pp.channel_stats(x.astype(np.float64)), eps=0.5
    )
    assert z.dtype == np.float64


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mean=np.zeros(3), std=np.ones(2)), r"mean must have shape \(2,\)"),
        (dict(mean=np.zeros(2), std=np.ones((1, 2))), r"std must have shape \(2,\)"),
        (dict(mean=np.zeros(2), std=np.zeros(2), eps=0.0), "std \\+ eps must be > 0"),
        (dict(mean=np.zeros(2), std=np.ones(2), eps=-1.0), "eps must be >= 0"),
    ],
)
def test_normalize_channels_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pp.normalize_channels(np.zeros((3, 2), np.float32), **kwargs)


def test_channel_stats_errors():
    with pytest.raises(ValueError, match="x_train must be"):
        pp.channel_stats(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="numeric"):
        pp.channel_stats(np.zeros((2, 3), dtype=bool))


def test_training_imports_leave_scikit_image_unloaded():
    """Every training job imports these modules; scikit-image (and SciPy under it) adds
    ~0.4 s to each job's start, so only the interpolating transforms may load it."""
    code = (
        "import sys\n"
        "import nplab.augment, nplab_io.models, nplab_io.cnn_runs, nplab_io.training\n"
        "print(sorted(m for m in ('skimage', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
