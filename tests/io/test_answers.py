"""The answers of the knn, linear, nets, mnist and extras questions read well (issue 15).

Every answer is rendered against the evidence of a quick-config run (fixtures/answers/<qid>.json,
copied from results/questions/) and checked: its first sentence is the verdict (one of the
question's verdict phrasings, at most FIRST_SENTENCE_WORDS words); no sentence is said twice; no
number is stated in two sentences; no more words than the entry's ``max_words``; no template
syntax left; the HTML is escaped exactly once. Each verdict must follow the evidence both ways:
FLIPS changes the evidence so that the other branch is taken and checks the answer says so.
The checks themselves are shown to fail on bad text (test_the_checks_catch_*).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from answer_checks import answer_problems, plain, repeated_numbers, sentences, typed_numbers

from nplab_io.evidence import load_registry, render_answer

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "answers"
FAMILIES = ("knn", "linear", "nets", "mnist", "extras")
REGISTRY = {
    q["id"]: q for q in load_registry(ROOT / "report" / "questions") if q["family"] in FAMILIES
}
# two different quantities that happen to print alike in the fixture evidence
SAME_VALUE_BY_CHANCE = {
    "svm-1": {"0.5"},  # the margin Δ = 0.5 and the 1-D example's numerical gradient 0.5
}

# the verdict phrasings of each question's first sentence (every branch's)
VERDICTS = {
    "knn-1": r"^Bright rows .* (pictures unlike the average one|contrast or brightness tracks)",
    "knn-2": r"(left all \d+ test predictions of L1 1-NN unchanged|^Every step changed)",
    "knn-3": r"^True for every k: .*; not true for every k: ",
    "svm-1": r"^(Not a concern|A concern here):",
    "svm-2": r"^(They look like blurred class templates|Not like class templates in this run):",
    "softmax-1": r"probability ≈ 1/\d+ and the loss is about −log\(1/\d+\)",
    "softmax-2": r"^(True: .* adds exactly \S+ to the total SVM loss but|Not shown in this run:)",
    "softmax-3": r"^(They look like blurred class templates|Not like class templates in this run):",
    "features-1": r"^(Mostly yes|Not clearly): ",
    "twolayer-1": r"^(.+ can pass back a \(near-\)zero gradient|None of them can)",
    "twolayer-2": r"^(Here the train–val gap narrows with|None of the three narrows)",
    "fcnet-1": r"^(Yes to both|Harder to train, yes|More sensitive to the initialisation scale, yes"
    r"|Not in this run)",
    "fcnet-2": r"its steps can only shrink; (Adam's decaying average does not|in this run Adam's"
    r" shrank as much)",
    "bn-1": r"^(Batch norm makes the net far less sensitive|Not in this run:)",
    "bn-2": r"^(Batch norm needs large enough batches|Not in this run:)",
    "bn-3": r"^Like batch norm: .+; like layer norm: .+; neither: ",
    "bn-4": r"^(When the feature dimension is very small|Not shown in this run):",
    "dropout-1": r"^The training-time activations come out p times too small",
    "dropout-2": r"^(Dropout acts as a regulariser|Not measurably in this run):",
    "mnist-1": r"^(Reproduced|Not reproduced): ",
    "mnist-2": r"^(Because its gradient does not vanish where the net is wrong|Not in this run):",
    "mnist-3": r"^Sigmoid (lags here too, and saturation is (not )?the main reason|does not lag here)",
    "mnist-4": r"^(\w+ gets furthest|No method gets clearly furthest) for the time spent",
    "mnist-5": r"^At the write-up's settings .+ plain minibatch descent; .+ not"
    r"(, as in the write-up|, unlike the write-up)",
    "mnist-6": r"^(Both penalties narrow|The penalties narrow|Neither penalty narrows) the",
    "uat-1": r"^With enough threshold units one hidden layer approximates any decision region",
}

# evidence changed so that the other branch is taken: {qid: (new values, what the answer says)}
FLIPS = {
    "knn-1": (
        {"corr_rows_distance_vs_rms_from_mean_image": 0.1},
        r"^Bright rows .* contrast or brightness tracks them more closely",
    ),
    "knn-2": (
        {
            "unchanged_transforms": "global_mean,pixel_mean,global_mean_std,pixel_mean_std,rot90",
            "changed_transforms": "",
            "pixel_mean_std_n_changed": 0,
        },
        r"rotation left all \d+ test predictions of L1 1-NN unchanged\. .*\(not on these images\)",
    ),
    "knn-3": (
        {
            "statement_linear_boundary_holds": True,
            "statement_time_grows_with_train_size_holds": False,
            "segments_nonconvex_k1": 0,
            "segments_nonconvex_k5": 0,
        },
        r"^True for every k: 1-NN training error ≤ 5-NN training error; .*"
        r"a linear boundary is not ruled out by this run\..*within timing noise",
    ),
    "svm-1": (
        {"all_mismatches_explained_by_kinks": False, "mismatches_without_kink_crossing": [3]},
        r"^A concern here: 3 of the \d+ mismatches",
    ),
    "svm-2": ({"mean_other_class_corr": 0.9}, r"^Not like class templates in this run"),
    "softmax-1": ({"measured_loss": 2.2}, r"\(\S+% below\)"),
    "softmax-2": (
        {
            "svm_sum_unchanged": False,
            "svm_max_hinge_argument": 0.5,
            "svm_sum_dev_plus_point": 580.0,
        },
        r"^Not shown in this run: .*changes the SVM loss.*does not beat every other.* goes from",
    ),
    "softmax-3": ({"mean_other_class_corr": 0.9}, r"^Not like class templates in this run"),
    "features-1": ({"twolayer_within_group_error_fraction": 0.2}, r"^Not clearly: only 20%"),
    "twolayer-1": (
        {"sigmoid_frac_near_zero": 0.0, "sigmoid_saturates_beyond_abs_x": None},
        r"^ReLU can pass back a \(near-\)zero gradient; sigmoid and leaky ReLU cannot",
    ),
    "twolayer-2": (
        {
            "reduces_gap": ["more hidden units"],
            "more_hidden_gap_change": -0.05,
            "hidden_mean_gap": [0.11, 0.06],
        },
        r"^Here the train–val gap narrows with more hidden units\..*units \(\S+ → \S+, mean"
        r" over the search\) narrows the gap",
    ),
    "fcnet-1": (
        {"deeper_is_more_sensitive": False, "depth5_best_train_acc": 0.9},
        r"^Not in this run: the 5-layer net is neither harder to train nor more sensitive",
    ),
    "fcnet-2": ({"adam_eff_lr_ratio": 0.1}, r"in this run Adam's shrank as much"),
    "bn-1": (
        {
            "batchnorm_wider_range": True,
            "batchnorm_num_trains": 12,
            "batchnorm_trains_min_scale": 0.001,
            "batchnorm_trains_max_scale": 0.616,
        },
        r"^Batch norm makes the net far less sensitive .* trains at 12 of \d+ scales \(0.001–0.616\)",
    ),
    "bn-2": (
        {
            "batchnorm_train_advantage_shrinks": True,
            "batchnorm_hurt_more_by_small_batches": True,
        },
        r"^Batch norm needs large enough batches.* batch norm is hurt more by small batches",
    ),
    "bn-3": (
        {"batchnorm_like": [], "neither": ["binarize", "subtract_mean_image"]},
        r"^Like batch norm: none; .*neither: thresholding every value to 0 or 1 and subtracting",
    ),
    "bn-4": (
        {"layernorm_worst_at_small_width": True},
        r"^When the feature dimension is very small: at width 4 layer norm is the worst",
    ),
    "dropout-1": (
        {"val_acc_mismatched": [0.2, 0.2, 0.1]},
        r"Validation accuracy at the lowest keep goes from \S+ to 10\.0%",
    ),
    "dropout-2": (
        {"dropout_reduces_gap": False, "val_change": -0.01, "gap_lowest_keep": 0.4},
        r"^Not measurably in this run: .* does not raise val accuracy",
    ),
    "mnist-1": (
        {
            "two_worse_faithful": False,
            "init_explains_gap": False,
            "faithful_two_init_activation_std": [0.05, 0.04],
        },
        r"^Not reproduced: .*The initialisation alone does not explain it",
    ),
    "mnist-2": ({"ce_ahead_tuned": False}, r"^Not in this run: .* reaches only"),
    "mnist-3": (
        {"sigmoid_last_faithful": False, "sigmoid_saturation_minor": False},
        r"^Sigmoid does not lag here, though its outputs saturate\.",
    ),
    "mnist-4": (
        {"faithful_furthest_at_budget": None, "tuned_furthest_at_budget": "BGD"},
        r"^No method gets clearly furthest for the time spent.*BGD gets furthest in time",
    ),
    "mnist-5": (
        {"faithful_Momentum_beats_plain": True},
        r"^At the write-up's settings momentum, RMSProp and Adam beat .*; Adagrad does not,"
        r" unlike the write-up \(where RMSProp and Adam did\)",
    ),
    "mnist-6": ({"gap_shrinks_count": 0}, r"^Neither penalty narrows the train–test gap here;"),
    "uat-1": (
        {"narrowest_good_width_depth2": None},
        r"at no width up to 64 with two: here one layer gets there at a smaller width",
    ),
}


def evidence(qid) -> dict:
    return json.loads((FIXTURES / f"{qid}.json").read_text(encoding="utf-8"))


def first_sentence(markup) -> str:
    return sentences(plain(markup))[0]


# --------------------------------------------------------------------------- the answers
def test_every_question_has_evidence_a_verdict_and_a_flip():
    assert sorted(REGISTRY) == sorted(VERDICTS) == sorted(FLIPS)
    assert sorted(REGISTRY) == sorted(p.stem for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("qid", sorted(REGISTRY))
def test_answer_reads_well_on_quick_evidence(qid):
    q = REGISTRY[qid]
    assert "finding" not in q, "the answer says everything once: no separate finding"
    assert "max_words" in q
    text = render_answer(q, evidence(qid))
    allowed = SAME_VALUE_BY_CHANCE.get(qid, frozenset())
    assert answer_problems(q, text, allowed=allowed) == [], plain(text)
    assert re.search(VERDICTS[qid], first_sentence(text)), first_sentence(text)


@pytest.mark.parametrize("qid", sorted(REGISTRY))
def test_the_verdict_follows_the_evidence_both_ways(qid):
    q, ev = REGISTRY[qid], evidence(qid)
    changes, says = FLIPS[qid]
    before = plain(render_answer(q, ev))
    flipped = render_answer(q, {**ev, **changes})
    after = plain(flipped)
    assert not re.search(says, before), before
    assert re.search(says, after), after
    assert re.search(VERDICTS[qid], first_sentence(flipped)), first_sentence(flipped)
    # the other branch reads as well (its numbers were made up, so they may collide)
    assert answer_problems(q, flipped, numbers=False) == [], after


@pytest.mark.parametrize("qid", sorted(REGISTRY))
def test_no_number_is_typed_into_the_prose(qid):
    assert typed_numbers(REGISTRY[qid]["answer"]) == []


# --------------------------------------------------------------------------- the checks fail
def _q(**kw):
    return {"id": "x", "max_words": 60, **kw}


GOOD = "True: A wins by 3.5 points. The reason is that 12.5% of B's steps fail."


def test_the_checks_pass_a_good_answer():
    assert answer_problems(_q(), GOOD) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD + " The reason is that 12.5% of B's steps fail.", "sentence said twice"),
        (GOOD + " So A is ahead by 3.5 points.", "numbers stated in several sentences"),
        (GOOD + " Read {{ ev.x }} here.", "template syntax left"),
        (GOOD + " It holds when x < 1.", "raw < or >"),
        (GOOD + " It holds when x &amp;lt; 1.", "escaped twice"),
        ("Because " + "of this " * 20 + "A wins. " + GOOD, "first sentence has"),
        (GOOD + " Many more words." * 20, "words, more than 60"),
    ],
)
def test_the_checks_catch_a_bad_answer(text, problem):
    assert any(problem in p for p in answer_problems(_q(), text)), problem


def test_the_checks_allow_small_integers_list_repeats_and_known_coincidences():
    text = "A wins: 1-NN 40.0%, 5-NN 40.0%. In 3 of 5 runs B loses. Margin 0.5 here. Ratio 0.5."
    assert repeated_numbers(text) == {"0.5": 2}
    assert repeated_numbers(text, {"0.5"}) == {}


def test_the_typed_number_check_catches_a_setting_in_the_text():
    assert typed_numbers("at k = {{ ev.k }} over L1 1-NN with N(0,1) weights, 0 or 1") == []
    assert typed_numbers("a rotation by 90° of {{ ev.n }} images") == ["90°"]
    assert typed_numbers("{% if ev.x > 0.5 %}lr 1e-5{% endif %}") == ["1e-5"]


def test_a_flip_that_changes_nothing_is_caught():
    """The both-ways test fails when the template ignores the flipped evidence."""
    q = _q(answer="{{ 'True' if ev.ok else 'True' }}: it holds.")
    before = plain(render_answer(q, {"ok": True}))
    after = plain(render_answer(q, {"ok": False}))
    assert not re.search(r"^False", after) and before == after
