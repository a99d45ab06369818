"""uat-1's evidence (nplab_io.evidence.extras) on a small, fast setting."""

from pathlib import Path

import pytest
from answer_checks import answer_problems

from nplab_io.evidence import check_evidence, extras, load_registry, render_answer

REGISTRY = {
    q["id"]: q for q in load_registry(Path(__file__).resolve().parents[2] / "report/questions")
}
SMALL = dict(
    REGISTRY["uat-1"]["settings"],
    seed=0,
    n_train=400,
    n_test=400,
    widths=[1, 32],
    polygon_sides=[3, 64],
    epochs=30,
)


@pytest.fixture(scope="module")
def evidence():
    return extras.compute_uat_1(None, SMALL)


def test_hand_built_threshold_nets_improve_with_more_sides(evidence):
    disk, ring = evidence["disk_acc_one_layer"], evidence["ring_acc_two_layers"]
    assert disk[0] < disk[1] and disk[1] > 0.98  # the 64-gon is nearly the disk
    assert ring[0] < ring[1] and ring[1] > 0.98
    # no convex region beats the majority label on the ring
    assert evidence["ring_acc_best_convex"] == max(
        evidence["ring_fraction"], 1 - evidence["ring_fraction"]
    )


def test_a_width_one_net_cannot_draw_the_ring_a_wide_one_can(evidence):
    for depth in (1, 2):
        narrow, wide = evidence[f"trained_acc_depth{depth}"]
        assert narrow <= evidence["ring_acc_best_convex"] + 0.02 < wide
    assert evidence["trained_params_depth1"] == [2 * 1 + 1 + 1 * 2 + 2, 2 * 32 + 32 + 32 * 2 + 2]


def test_uat_1_answer_renders(evidence):
    public = {k: v for k, v in evidence.items() if not k.startswith("_")}
    check_evidence(public)
    text = render_answer(REGISTRY["uat-1"], public)
    assert text.startswith("With enough threshold units one hidden layer approximates any")
    assert answer_problems(REGISTRY["uat-1"], text, numbers=False) == [], text
    fig = extras.plot_uat_1(evidence, None)
    assert len(fig.axes) == 2 * (len(SMALL["widths"]) + 1)  # regions per width + a curve
