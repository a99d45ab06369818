"""Threshold networks built by hand on 2-D toy problems (nplab.toy), exact cases."""

import numpy as np
import pytest

from nplab.toy import polygon_net_predict, polygon_units, ring_dataset, ring_net_predict


def test_polygon_units_fire_on_the_centre_side_of_each_tangent():
    W, b = polygon_units(4, 0.5)
    assert W.shape == (2, 4) and b.shape == (4,)
    assert np.all(np.zeros(2) @ W + b > 0)  # the centre is inside every half-plane
    # the tangent point of unit 0 is at (0.5, 0): just inside fires, just outside not
    assert np.array([0.49, 0.0]) @ W[:, 0] + b[0] > 0
    assert np.array([0.51, 0.0]) @ W[:, 0] + b[0] < 0


def test_one_hidden_layer_is_the_circumscribed_polygon():
    r, k = 0.5, 4  # a square of half-side 0.5: corners at distance 0.5 * sqrt(2)
    pts = np.array([[0.0, 0.0], [0.49, 0.49], [0.51, 0.0], [0.0, -0.6], [0.7, 0.7]])
    assert polygon_net_predict(pts, k, r).tolist() == [1, 1, 0, 0, 0]


def test_two_hidden_layers_carve_the_ring():
    pts = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, -0.55], [0.95, 0.0], [0.2, 0.1]])
    assert ring_net_predict(pts, 64, 0.35, 0.8).tolist() == [0, 1, 1, 0, 0]


def test_ring_dataset_labels_follow_the_radius_and_the_seed():
    X, y = ring_dataset(500, np.random.default_rng(3), 0.35, 0.8)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.array_equal(y, ((r > 0.35) & (r < 0.8)).astype(np.int64))
    X2, _ = ring_dataset(500, np.random.default_rng(3), 0.35, 0.8)
    assert np.array_equal(X, X2)
    with pytest.raises(ValueError, match="r_inner must be < r_outer"):
        ring_dataset(10, np.random.default_rng(0), 0.9, 0.5)
