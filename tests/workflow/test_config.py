"""The config schema: defaults, unknown keys, wrong values — each a one-line error."""

from __future__ import annotations

import copy
import csv

import pytest
import yaml
from conftest import run_snakemake, with_setting

from nplab_io.config import ConfigError, load_yaml, validate_config

# The lab's design: config.yaml states it (no schema defaults), quick.yaml inherits it.
DESIGN = ["nets", "linear", "mnist", "cnn"]


@pytest.fixture(scope="module")
def schema(repo_root):
    return load_yaml(repo_root / "workflow" / "schemas" / "config.schema.yaml")


@pytest.fixture(scope="module")
def full(repo_root):
    return load_yaml(repo_root / "config" / "config.yaml")


@pytest.mark.parametrize("name", ["config.yaml", "quick.yaml"])
def test_shipped_configs_are_valid(repo_root, schema, name):
    cfg = validate_config(load_yaml(repo_root / "config" / name), schema)
    assert cfg["data"]["cifar10"]["num_training"] > 0
    assert cfg["features"]["hog"]["orientations"] == 9


def test_quick_config_is_an_overlay_of_the_full_one(repo_root):
    """quick.yaml is merged over config.yaml (Snakemake's --configfile): it may only
    override keys the full config has, and it must shrink the run through `limits`
    while inheriting the experiment tables (same DAG)."""

    def keys(d, prefix=""):
        out = set()
        for k, v in d.items():
            out.add(prefix + k)
            if isinstance(v, dict):
                out |= keys(v, prefix + k + ".")
        return out

    full = load_yaml(repo_root / "config" / "config.yaml")
    quick = load_yaml(repo_root / "config" / "quick.yaml")
    assert keys(quick) - keys(full) == set()
    assert "experiments" not in quick and full["experiments"]
    assert quick["limits"]["max_train"] and not full["limits"]["max_train"]
    for section in DESIGN:
        assert section in full and section not in quick


def test_defaults_fill_an_empty_config(schema):
    cfg = validate_config({}, schema)
    assert cfg["seed"] == 0
    assert cfg["data"]["cifar10"] == {
        "num_training": 49000,
        "num_validation": 1000,
        "num_test": 1000,
        "num_dev": 500,
    }
    assert cfg["data"]["mnist"]["val_fraction"] == 0.2
    assert cfg["features"]["hue_bins"] == 10
    assert cfg["data"]["mirror"] is None


def test_mirror_shortcut_sets_data_mirror(schema):
    cfg = validate_config({"mirror": "../shared/datasets"}, schema)
    assert cfg["data"]["mirror"] == "../shared/datasets"


BAD = [
    # (key, value, words the message must contain)
    ("colour", 1, ["unknown key colour"]),
    ("data.cifar10.num_trainig", 5, ["unknown key data.cifar10.num_trainig", "num_training"]),
    ("seed", "zero", ["seed", "expected an integer", "'zero'"]),
    ("seed", -1, ["seed", ">= 0"]),
    ("data.timeout", 0, ["data.timeout", "> 0"]),
    ("data.retries", 1.5, ["data.retries", "integer"]),
    ("data.cifar10.num_training", 60000, ["data.cifar10.num_training", "<= 50000", "60000"]),
    ("data.cifar10.num_validation", 2000, ["num_training + data.cifar10.num_validation", "50000"]),
    ("data.cifar10.num_dev", 49001, ["data.cifar10.num_dev", "num_training"]),
    ("data.mnist.val_fraction", 1.5, ["data.mnist.val_fraction", "< 1"]),
    ("data.mnist.num_test", 0, ["data.mnist.num_test", ">= 1"]),
    ("features.hog.block_norm", "L3", ["features.hog.block_norm", "one of"]),
    ("features.hue_bins", 1, ["features.hue_bins", ">= 2"]),
    ("figures.formats", [], ["figures.formats", "at least 1"]),
    ("figures.formats", ["png", "gif"], ["figures.formats[1]", "one of"]),
    ("data.mirror", "", ["data.mirror", "at least 1 character"]),
    ("data", [1, 2], ["data", "expected a mapping"]),
    # the lab's design
    ("nets.gradcheck.tolerance", 0, ["nets.gradcheck.tolerance", "> 0"]),
    ("nets.gradcheck.cases", [], ["nets.gradcheck.cases", "at least 1"]),
    ("nets.gradcheck.cases", [{"name": "x"}], ["nets.gradcheck.cases[0]", "missing required"]),
    ("nets.gradcheck.seeds", 1, ["unknown key nets.gradcheck.seeds", "seed"]),
    ("nets.anchors.fc_best", 0.6, ["nets.anchors.fc_best", "expected a string"]),
    ("linear.goals.svm_wide", 0.39, ["linear.goals.svm_wide", "expected a string"]),
    ("linear.checks", {"seed": 0}, ["linear.checks", "missing required key(s)", "tolerance"]),
    ("mnist.perceptron.digits", [3], ["mnist.perceptron.digits", "at least 2"]),
    ("mnist.extra_rows.loss", [["mse"]], ["mnist.extra_rows.loss[0]", "at least 2"]),
    ("cnn.checks.tolerances.conv_forward", 2, ["cnn.checks.tolerances.conv_forward", "<= 1"]),
    ("cnn.timing.conv.K", 0, ["cnn.timing.conv.K", ">= 1"]),
]


@pytest.mark.parametrize("key,value,words", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_values_give_one_clear_line(schema, full, key, value, words):
    with pytest.raises(ConfigError) as info:
        validate_config(with_setting(full, key, value), schema, source="config/config.yaml")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("config error (config/config.yaml):")
    for w in words:
        assert w in msg, f"{w!r} not in {msg!r}"


def test_yaml_syntax_error_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  mirror: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml \(line \d+"):
        load_yaml(bad)


def test_validation_does_not_mutate_the_input(schema):
    cfg = {"data": {"cifar10": {"num_dev": 10}}}
    before = copy.deepcopy(cfg)
    validate_config(cfg, schema)
    assert cfg == before


def test_the_design_names_rows_of_the_reference_tables(repo_root, full):
    """linear.goals names rows of goals.csv (the one place a goal's accuracy is written);
    every anchors map names models of anchors.csv."""

    def column(name, key):
        with open(repo_root / "report" / "reference" / name, encoding="utf-8") as fh:
            return {row[key] for row in csv.DictReader(fh)}

    assert set(full["linear"]["goals"].values()) <= column("goals.csv", "goal")
    models = column("anchors.csv", "model")
    for section in ("nets", "linear"):
        assert set(full[section]["anchors"].values()) <= models, section
    tables = set(full["experiments"])
    for mapping in (full["nets"]["anchors"], full["linear"]["anchors"], full["linear"]["goals"]):
        assert set(mapping) <= tables


def test_a_missing_design_section_stops_the_workflow_with_one_line(workdir):
    cfg = load_yaml(workdir / "config" / "config.yaml")
    del cfg["cnn"]
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = run_snakemake(workdir, "-n", "--configfile", "config/quick.yaml")
    assert res.returncode != 0
    errors = [ln for ln in res.stderr.splitlines() if "config error" in ln]
    assert errors == ["config error: cnn: missing (the lab's design; see config/config.yaml)"]
    assert "Traceback" not in res.stderr
