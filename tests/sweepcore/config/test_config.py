"""Loading sweep configs: the reported failures BR-03, BR-04, BR-14 and BR-20, and the basics
every user meets (several problems at once, ``1e-5`` in YAML, a missing file)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from sweepcore.config import (
    SweepConfigError,
    SweepConfigWarning,
    check_config,
    load_config,
    parse_yaml,
    search_space_changes,
)

BR03_YAML = """
method: random
metric: {name: val_loss, goal: minimize}
run_cap: 1000
parameters:
  lr_a: {distribution: log_uniform, min: -9.21034, max: -2.302585}
  lr_b: {distribution: log_uniform_values, min: 0.0001, max: 0.1}
  lr_c: {distribution: log_uniform, min: 0.0001, max: 0.1}
"""

# BR-14 writes `command` in flow style, `[${env}, ...]`, which no YAML parser accepts (`{` is a
# flow indicator); the block style below is the same config.
BR14_YAML = """
method: {method}
metric: {{name: val_auc, goal: maximize}}
command:
  - ${{env}}
  - ${{interpreter}}
  - ${{program}}
  - ${{args}}
program: train.py
run_cap: 1000
parameters:
  rnn_type: {{values: [null, lstm, gru]}}
  model:
    parameters:
      loss:
        parameters:
          weight: {{values: [null, 0.5, 1.0], probabilities: [0.4, 0.3, 0.3]}}
  use_bn: {{values: [true, false]}}
  clip: {{values: [0, false]}}
"""

BR20_V1 = """
method: bayes
metric: {name: val_loss, goal: minimize}
parameters:
  batch_size: {values: [64, 128]}
  lr: {min: 0.001, max: 0.1}
"""
BR20_V2 = BR20_V1.replace("[64, 128]", "[64, 128, 256, 512]").replace("0.001", "0.0001")


def test_br03_log_uniform_exponents_and_values_both_accepted_without_loud_warning() -> None:
    config, texts = check_config(parse_yaml(BR03_YAML))

    by_name = {p.name: p for p in config.parameters}
    assert by_name["lr_a"].distribution == "log_uniform"
    assert (by_name["lr_a"].min, by_name["lr_a"].max) == (-9.21034, -2.302585)
    assert by_name["lr_b"].distribution == "log_uniform_values"
    assert (by_name["lr_b"].min, by_name["lr_b"].max) == (0.0001, 0.1)
    lr_a_text = next(t for t in texts if t.startswith("parameters.lr_a:"))
    assert "[0.0001, 0.1]" in lr_a_text
    assert "CHECK THIS" not in lr_a_text
    assert not any(t.startswith("parameters.lr_b:") for t in texts)


def test_br03_log_uniform_with_value_like_bounds_warns_with_real_sample_range() -> None:
    with pytest.warns(SweepConfigWarning) as record:
        config = load_config(parse_yaml(BR03_YAML))

    lr_c = next(p for p in config.parameters if p.name == "lr_c")
    assert (lr_c.distribution, lr_c.min, lr_c.max) == ("log_uniform", 0.0001, 0.1)
    lr_c_texts = [str(w.message) for w in record if "parameters.lr_c" in str(w.message)]
    assert len(lr_c_texts) == 1
    text = lr_c_texts[0]
    assert "natural-log exponents" in text
    assert "CHECK THIS: min 0.0001 and max 0.1 look like values, not exponents" in text
    assert "lr_c will be sampled from [1.0001, 1.1052], not from [0.0001, 0.1]" in text
    assert "write distribution: log_uniform_values" in text
    assert record[0].filename == __file__  # stacklevel points at the caller of load_config


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        (
            "method: random\nparameters:\n"
            "  C: {distribution: log_uniform, min: 0.0001, max: 1000.0}",
            r"parameters\.C: e\^max = e\^1000 is not representable .*about e\^709\.78",
        ),
        (
            "method: random\nparameters:\n"
            "  eps: {distribution: log_uniform, min: -800, max: -700}",
            r"parameters\.eps: e\^min = e\^-800 rounds to 0\.0 .*about e\^-745\.13",
        ),
        (
            "method: bayes\nmetric: {name: val_loss, goal: minimize}\n"
            "parameters:\n  alpha: {distribution: log_uniform_values, min: 0, max: 7.39}",
            r"parameters\.alpha: min must be > 0 for log_uniform_values .*got 0\.",
        ),
        (
            "method: random\nparameters:\n"
            "  momentum: {distribution: inv_log_uniform_values, min: -0.1, max: 0.99}",
            r"parameters\.momentum: min must be > 0 for inv_log_uniform_values .*got -0\.1\.",
        ),
    ],
    ids=["a-overflow", "b-underflow", "c-zero-bound", "d-negative-bound"],
)
def test_br04_log_scale_bounds_without_finite_positive_values_are_refused(
    yaml_text: str, expected: str
) -> None:
    with pytest.raises(SweepConfigError, match=expected) as info:
        load_config(parse_yaml(yaml_text))
    assert len(info.value.problems) == 1
    assert info.value.problems[0].kind == "invalid_parameter_spec"


def test_br14_random_config_keeps_null_false_and_zero_distinct() -> None:
    config, _ = check_config(parse_yaml(BR14_YAML.format(method="random")))

    by_name = {p.name: p for p in config.parameters}
    assert [p.name for p in config.parameters] == [
        "clip",
        "model.loss.weight",
        "rnn_type",
        "use_bn",
    ]
    clip = by_name["clip"].values
    assert clip is not None and len(clip) == 2
    assert type(clip[0]) is int and clip[0] == 0
    assert clip[1] is False
    assert by_name["rnn_type"].values == (None, "lstm", "gru")
    assert by_name["rnn_type"].values[0] is None
    assert by_name["use_bn"].values == (True, False)
    weight = by_name["model.loss.weight"]
    assert weight.path == ("model", "loss", "weight")
    assert weight.values is not None and weight.values[0] is None
    assert weight.probabilities == (0.4, 0.3, 0.3)
    assert config.command == ("${env}", "${interpreter}", "${program}", "${args}")


def test_br14_same_parameters_under_bayes_refused_naming_weight_key_path() -> None:
    with pytest.raises(
        SweepConfigError,
        match=r"parameters\.model\.loss\.weight: bayes does not support probabilities .*"
        r"probabilities are for method: random",
    ) as info:
        load_config(parse_yaml(BR14_YAML.format(method="bayes")))
    assert [p.path for p in info.value.problems] == ["parameters.model.loss.weight"]


def test_config_reports_every_problem_in_one_error() -> None:
    raw = {
        "method": "gird",
        "metric": {"name": "loss", "goal": "minimise"},
        "parameters": {
            "lr": {"min": 0.1, "max": 0.01},
            "opt": {"parameters": {"beta": {"distribution": "normal", "sigma": -1}}},
        },
        "run_cap": 0,
        "early_stop": {"type": "hyperband"},
    }
    with pytest.raises(SweepConfigError) as info:
        load_config(raw, source_name="sweep.yaml")

    paths = [p.path for p in info.value.problems]
    assert paths == [
        "early_stop",
        "method",
        "parameters.lr",
        "parameters.opt.beta",
        "metric.goal",
        "run_cap",
    ]
    message = str(info.value)
    assert message.startswith("6 problem(s) with the sweep config in sweep.yaml:")
    assert "method: 'gird' is not a known method; choose one of bayes, grid, random." in message
    assert "Did you mean 'grid'?" in message
    assert "Did you mean 'early_terminate'?" in message
    assert "parameters.lr: min 0.1 is not less than max 0.01" in message
    assert "parameters.opt.beta: sigma must be >= 0 for normal" in message
    assert all(p.message.startswith(p.path + ": ") for p in info.value.problems)


@pytest.mark.parametrize("text", ["1e-5", "3e6", "1.0e5", "-2E-3", ".5e1"])
def test_yaml_scientific_notation_without_dot_or_sign_reads_as_float(text: str) -> None:
    assert parse_yaml(f"x: {text}") == {"x": float(text)}


def test_yaml_float_rule_lets_unquoted_1e_minus_5_bound_load() -> None:
    config = load_config(parse_yaml("method: random\nparameters:\n  lr: {min: 1e-5, max: 1e-1}"))
    lr = config.parameters[0]
    assert (lr.distribution, lr.min, lr.max) == ("uniform", 1e-5, 0.1)


def test_missing_file_gives_one_line_error_naming_file(tmp_path: Path) -> None:
    missing = tmp_path / "sweep.yaml"
    with pytest.raises(SweepConfigError, match=re.escape(f"{missing}: no such file")) as info:
        load_config(missing)
    assert len(info.value.problems) == 1
    assert "\n" not in info.value.problems[0].message
    assert info.value.__suppress_context__


def test_unreadable_yaml_file_gives_error_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yml"
    path.write_text("method: grid\nparameters:\n  lr: {values: [0.1, 0.01}\n")
    with pytest.raises(
        SweepConfigError, match=r"sweep\.yml: not valid YAML: .* at line 3"
    ) as info:
        load_config(str(path))
    assert "\n" not in info.value.problems[0].message


def test_search_space_changes_lists_br20_changed_choices_and_bound() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        old = load_config(parse_yaml(BR20_V1))
        new = load_config(parse_yaml(BR20_V2))

    assert search_space_changes(old, new) == [
        "parameters.batch_size: values [64, 128] -> [64, 128, 256, 512]",
        "parameters.lr.min: 0.001 -> 0.0001",
    ]
    assert search_space_changes(old, load_config(parse_yaml(BR20_V1))) == []
