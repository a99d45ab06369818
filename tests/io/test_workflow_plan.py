"""What the workflow plans for a job (nplab_io.workflow_plan): resources and priorities of
the training runs, the run records rules pass on, the config the report shows, captions."""

import copy

import pytest

from nplab_io import workflow_plan as plan
from nplab_io.runs import expand_table

CIFAR10 = {"num_training": 49000, "num_validation": 1000, "num_test": 1000, "num_dev": 500}


def _spec(kind, **base):
    return expand_table("t", {"kind": kind, "base": base})[0]["spec"]


def test_run_size_takes_the_split_and_the_input_width_of_the_data():
    assert plan.run_size({"data": "cifar10/centered"}) == (49000, 3073)
    assert plan.run_size({"data": "cifar10/features", "num_train": 500}) == (500, 335)
    assert plan.run_size({"data": "mnist/scaled"}) == (48000, 784)


def test_flops_count_six_per_weight_per_example():
    linear = {"data": "cifar10/centered_bias", "model": "svm", "iterations": 100, "batch_size": 200}
    assert plan.run_flops(linear) == 6 * 100 * 200 * 3073 * 10
    net = {"data": "mnist/scaled", "num_train": 1000, "hidden_dims": [100], "epochs": 2}
    assert plan.run_flops(net) == 6 * 1000 * (784 * 100 + 100 * 10) * 2


def test_priority_orders_runs_longest_first_below_the_two_thread_jobs():
    small = _spec("net", num_train=50, hidden_dims=[10], epochs=1)
    large = _spec("net", hidden_dims=[1024, 512], epochs=40)
    larger = dict(large, epochs=80)
    assert plan.run_priority(small) == 0
    assert 0 < plan.run_priority(large) < plan.run_priority(larger) == 90
    assert plan.run_priority(dict(larger, epochs=800)) == 90  # capped (data preparation: 100)
    # single-example SGD counts 10x for its per-step overhead
    one = _spec("net", num_train=4000, hidden_dims=[100], epochs=10, batch_size=1)
    batched = dict(one, batch_size=100)
    assert plan.run_priority(one) > plan.run_priority(batched)


def test_memory_and_runtime_of_a_run():
    spec = _spec("net", hidden_dims=[100], epochs=1)
    assert plan.run_mem_mb(spec) >= 400 + 2 * 61000 * 3073 * 4 // 2**20
    full_batch = dict(spec, data="mnist/scaled", num_train=1000, batch_size="full")
    assert plan.run_mem_mb(full_batch) > plan.run_mem_mb(dict(full_batch, batch_size=10))
    assert plan.run_runtime_min(_spec("net", num_train=50, hidden_dims=[10], epochs=1)) == 10
    long = dict(spec, hidden_dims=[1024, 512], epochs=40)
    assert plan.run_runtime_min(long) == int(3 * plan.run_flops(long) / 5e9 / 60) + 10 > 400


def test_cnn_estimates():
    spec = _spec("cnn", num_train=5000, epochs=4, blocks=[{"widths": [32]}, {"widths": [64]}])
    frozen = dict(spec, freeze="features")
    assert plan.cnn_flops(frozen, CIFAR10) < plan.cnn_flops(spec, CIFAR10)
    assert plan.cnn_priority(spec, 2, CIFAR10) == 100  # two threads: beside the other such jobs
    assert 0 <= plan.cnn_priority(spec, 1, CIFAR10) <= 90
    assert plan.cnn_runtime_min(spec, CIFAR10) >= 10
    small, large = dict(spec, batch_size=8), dict(spec, batch_size=128)
    assert 400 < plan.cnn_mem_mb(small, CIFAR10) < plan.cnn_mem_mb(large, CIFAR10)


def test_run_records_keep_variant_run_spec_of_the_enabled_tables():
    recs = [{"variant": "a", "run": "net-1", "kind": "net", "spec": {"lr": 1}, "extra": 0}]
    out = plan.run_records({"t": recs, "u": []}, ["t", "disabled"])
    assert out == {"t": [{"variant": "a", "run": "net-1", "spec": {"lr": 1}}]}
    assert list(plan.run_records({"t": recs, "u": []}, ["u", "t"])) == ["u", "t"]


def test_report_config_leaves_out_where_the_data_came_from():
    cfg = {"seed": 0, "mirror": None, "data": {"mirror": "../m", "timeout": 60}, "knn": {}}
    before = copy.deepcopy(cfg)
    assert plan.report_config(cfg) == {"seed": 0, "data": {"timeout": 60}, "knn": {}}
    assert cfg == before


@pytest.mark.parametrize("kind", sorted(plan.CNN_FIGURE_TEXT))
def test_every_cnn_figure_kind_has_a_caption(kind):
    text = plan.cnn_caption(kind, "cnn_t", "a table.")
    assert text.startswith("cnn_t: ") and text.endswith(". a table.")
    assert plan.cnn_caption(kind, "cnn_t", "").endswith(".")
