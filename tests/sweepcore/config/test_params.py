"""Per-parameter checks and filling, at every nesting level (WANDB-COMPAT.md sections 3.1-3.4)."""

from __future__ import annotations

from typing import Any

import pytest

from sweepcore.config import SweepConfigError, check_config, parse_yaml


def _space(parameters: dict[str, Any], method: str = "random") -> dict[str, Any]:
    return {"method": method, "parameters": parameters}


def _refused(config: dict[str, Any]) -> SweepConfigError:
    with pytest.raises(SweepConfigError) as info:
        check_config(config)
    return info.value


def test_leaves_come_sorted_by_codepoint_depth_first() -> None:
    config, _ = check_config(
        _space(
            {
                "b": {"parameters": {"c": {"value": 1}, "a": {"value": 2}}},
                "a": {"value": 3},
                "Z": {"value": 4},
                "a.b": {"value": 5},
            }
        )
    )
    assert [p.path for p in config.parameters] == [
        ("Z",),
        ("a",),
        ("a.b",),
        ("b", "a"),
        ("b", "c"),
    ]


def test_defaults_filled_as_wandb_fill_step_keeping_int_q() -> None:
    config, _ = check_config(
        _space(
            {
                "qu": {"distribution": "q_uniform", "min": 0, "max": 10},
                "qi": {"distribution": "q_log_uniform_values", "min": 8, "max": 256, "q": 8},
                "n": {"distribution": "normal"},
                "qn": {"distribution": "q_normal"},
                "be": {"distribution": "beta"},
                "qb": {"distribution": "q_beta", "a": 2.0},
            }
        )
    )
    specs = {p.name: p.to_spec() for p in config.parameters}
    assert specs["qu"] == {"distribution": "q_uniform", "min": 0, "max": 10, "q": 1.0}
    assert type(specs["qu"]["q"]) is float
    assert type(specs["qi"]["q"]) is int
    assert specs["n"] == {"distribution": "normal", "mu": 0.0, "sigma": 1.0}
    assert specs["qn"] == {"distribution": "q_normal", "mu": 0, "sigma": 1, "q": 1.0}
    assert specs["be"] == {"distribution": "beta", "a": 1, "b": 1}
    assert specs["qb"] == {"distribution": "q_beta", "a": 2.0, "b": 1, "q": 1.0}


def test_null_constant_and_nested_values_are_kept_as_written() -> None:
    config, _ = check_config(
        _space({"c": {"value": None}, "v": {"values": [[64, 64], {"name": "adam"}]}})
    )
    c, v = config.parameters
    assert (c.distribution, c.value) == ("constant", None)
    assert v.values == ([64, 64], {"name": "adam"})


def test_config_rejects_top_level_mixed_int_float_bounds_as_ambiguous() -> None:
    error = _refused(_space({"m": {"min": 0, "max": 2.5}}))
    assert [p.kind for p in error.problems] == ["ambiguous_bounds"]
    assert "Write both as floats (e.g. 0.0 and 2.5)" in str(error)
    assert "Parameter m is ambiguous" in str(error)


def test_nested_mixed_bounds_become_uniform_and_explicit_uniform_takes_ints() -> None:
    config, _ = check_config(
        _space(
            {
                "opt": {"parameters": {"m": {"min": 0, "max": 2.5}}},
                "u": {"distribution": "uniform", "min": 0, "max": 3},
            }
        )
    )
    assert [(p.name, p.distribution) for p in config.parameters] == [
        ("opt.m", "uniform"),
        ("u", "uniform"),
    ]


def test_config_rejects_probabilities_not_summing_to_one_under_isclose() -> None:
    error = _refused(_space({"x": {"values": [1, 2, 3], "probabilities": [0.333] * 3}}))
    assert [p.kind for p in error.problems] == ["probabilities_not_normalized"]
    assert "Parameter x: Probabilities [0.333, 0.333, 0.333] do not sum to 1" in str(error)

    close_enough = [0.3333333, 0.3333333, 0.3333334]
    config, _ = check_config(_space({"x": {"values": [1, 2, 3], "probabilities": close_enough}}))
    assert config.parameters[0].probabilities == tuple(close_enough)


def test_config_rejects_negative_probability() -> None:
    error = _refused(_space({"x": {"values": [1, 2], "probabilities": [1.5, -0.5]}}))
    assert "parameters.x: probabilities must be finite numbers >= 0; got -0.5." in str(error)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"distribution": "uniform", "min": 0.0, "max": 1.0, "q": 0.1},
            "uniform does not take 'q'",
        ),
        ({"distribution": "int_uniform", "min": 0.0, "max": 3.0}, "bounds must be integers"),
        ({"min": True, "max": 3}, "min must be a finite number; got True (a boolean)"),
        ({"min": "1e-5", "max": 1.0}, "Remove the quotes so it is read as a number."),
        ({"min": 0.0, "max": float("inf")}, "max must be a finite number; got inf"),
        ({"values": []}, "values must be a non-empty list"),
        ({"distribution": "beta", "a": 0}, "a must be > 0 for beta"),
        ({"distribution": "choice", "values": [1]}, "Did you mean categorical (write values"),
        ({"mu": 0, "sigma": 1}, "need a `distribution`"),
        ({"probabilities": [1.0], "value": 1}, "constant does not take 'probabilities'"),
        (0.01, "For a fixed value write {value: 0.01}"),
        ({"parameters": {"a": {"value": 1}}, "value": 2}, "a nested group takes only"),
    ],
)
def test_config_rejects_malformed_spec_naming_parameter(spec: Any, expected: str) -> None:
    error = _refused(_space({"s": spec}))
    assert expected in str(error)
    assert all(p.path == "parameters.s" for p in error.problems)
    assert "invalid hyperparameter configuration: s" in str(error)


def test_checks_apply_inside_nested_groups() -> None:
    error = _refused(
        _space(
            {
                "opt": {
                    "parameters": {
                        "2nd": {"value": 1},
                        "lr": {"min": 0.1, "max": 0.1},
                        "w": {"values": [1, 2], "probabilities": [1.0]},
                        "deep": {"parameters": {}},
                    }
                }
            }
        )
    )
    assert {(p.path, p.kind) for p in error.problems} == {
        ("parameters.opt.2nd", "invalid_parameter_name"),
        ("parameters.opt.lr", "min_not_less_than_max"),
        ("parameters.opt.w", "probabilities_length_mismatch"),
        ("parameters.opt.deep", "empty_parameters"),
    }
    assert "parameters.opt.lr: min 0.1 is not less than max 0.1" in str(error)


def test_nested_deprecated_distribution_warns_with_its_sample_range() -> None:
    _, texts = check_config(
        _space(
            {
                "opt": {
                    "parameters": {
                        "d": {"distribution": "inv_log_uniform", "min": 0.0001, "max": 0.1}
                    }
                }
            }
        )
    )
    assert len(texts) == 1
    assert texts[0].startswith("parameters.opt.d: inv_log_uniform is deprecated")
    assert "[e^-max, e^-min] = [0.90484, 0.9999]" in texts[0]
    assert "opt.d will be sampled from [0.90484, 0.9999], not from [0.0001, 0.1]" in texts[0]


def test_deprecated_distribution_with_wide_exponents_warns_without_check_this() -> None:
    _, texts = check_config(_space({"d": {"distribution": "q_log_uniform", "min": 0, "max": 5}}))
    assert len(texts) == 1
    assert "q_log_uniform_values, min: 1, max: 148.41" in texts[0]
    assert "CHECK THIS" not in texts[0]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"distribution": "inv_log_uniform", "min": -710, "max": 0}, "e^-min = e^710 is not"),
        (
            {"distribution": "inv_log_uniform", "min": 0, "max": 746},
            "e^-max = e^-746 rounds to 0.0",
        ),
        ({"distribution": "q_log_uniform", "min": 0, "max": 710}, "e^max = e^710 is not"),
        ({"distribution": "log_normal", "mu": 700, "sigma": 10}, "e^(mu + 8·sigma) = e^780"),
        ({"distribution": "normal", "mu": 1e308, "sigma": 1e308}, "mu ± 8·sigma overflows"),
        ({"distribution": "uniform", "min": -1e308, "max": 1e308}, "max - min overflows"),
        ({"distribution": "q_uniform", "min": 0.0, "max": 1e300, "q": 1e-300}, "x / q overflows"),
        ({"distribution": "inv_log_uniform_values", "min": 1e-320, "max": 1.0}, "1/min"),
        ({"distribution": "int_uniform", "min": 0, "max": 2**64}, "must fit in 64 bits"),
        # Every sample would round to 0: outside [0.1, 0.4], and not positive on a log scale.
        (
            {"distribution": "q_log_uniform_values", "min": 0.1, "max": 0.4, "q": 1},
            "no multiple of q 1 lies in the range [0.1, 0.4]",
        ),
        ({"distribution": "q_uniform", "min": 0.2, "max": 0.7, "q": 1}, "q of at most 0.5"),
        ({"distribution": "q_log_uniform", "min": 0, "max": 0.5, "q": 2}, "[1, 1.6487]"),
    ],
)
def test_config_rejects_bounds_that_would_give_non_finite_samples(
    spec: dict[str, Any], expected: str
) -> None:
    assert expected in str(_refused(_space({"p": spec})))


@pytest.mark.parametrize(
    "spec",
    [
        {"distribution": "q_uniform", "min": -0.5, "max": 0.5, "q": 1},
        {"distribution": "q_uniform", "min": 0.0, "max": 1.0, "q": 0.3},
        {"distribution": "q_log_uniform_values", "min": 1, "max": 64, "q": 4},
        {"distribution": "q_log_uniform_values", "min": 0.1, "max": 0.3, "q": 0.1},
    ],
)
def test_a_q_with_a_multiple_in_range_is_accepted(spec: dict[str, Any]) -> None:
    check_config(_space({"p": spec}))


def test_grid_refuses_continuous_and_weighted_parameters_naming_them() -> None:
    error = _refused(
        _space(
            {
                "opt": {"parameters": {"lr": {"min": 0.0, "max": 1.0}}},
                "w": {"values": [1, 2], "probabilities": [0.5, 0.5]},
                "n": {"min": 1, "max": 3},
                "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.5},
            },
            method="grid",
        )
    )
    assert [(p.path, p.kind) for p in error.problems] == [
        ("parameters.opt.lr", "grid_disallowed_distribution"),
        ("parameters.w", "grid_disallowed_distribution"),
    ]
    message = str(error)
    assert "Parameter opt.lr is a disallowed type with grid search" in message
    assert "grid search cannot enumerate categorical with probabilities" in message
    assert (
        "grid accepts constant, categorical (values without probabilities), int_uniform" in message
    )


def test_config_rejects_dotted_name_clashing_with_nested_leaf() -> None:
    error = _refused(_space({"opt.lr": {"value": 1}, "opt": {"parameters": {"lr": {"value": 2}}}}))
    assert "two parameters share the dotted name 'opt.lr'" in str(error)


def test_config_rejects_unquoted_yaml_date_as_value() -> None:
    raw = parse_yaml("method: grid\nparameters:\n  day: {values: [2020-01-01]}")
    error = _refused(raw)
    assert "of type date, which JSON cannot store" in str(error)
    assert "quote it to keep it a string" in str(error)


def test_config_rejects_run_config_shaped_nested_dict_with_fix() -> None:
    error = _refused(_space({"nested": {"learning_rate": 0.01}}))
    assert "this looks like a run config (keys learning_rate)" in str(error)
    assert "nested: {parameters: {learning_rate: {value: 0.01}}}" in str(error)


def test_a_misspelt_spec_key_is_named_with_the_key_it_resembles() -> None:
    error = _refused(_space({"a": {"valuse": [1, 2]}, "g": {"parameters": {"b": {"mni": 0}}}}))
    assert "parameters.a: unknown key 'valuse': did you mean 'value' or 'values'?" in str(error)
    assert "unknown key 'mni': did you mean 'min'" in str(error)
    assert "looks like a run config" not in str(error)


def test_a_misspelt_key_beside_correct_ones_gets_a_did_you_mean() -> None:
    error = _refused(_space({"a": {"mni": 0, "max": 1}, "b": {"min": 0.0, "maxx": 1.0}}))
    assert "does not take 'mni'" in str(error) and "did you mean 'min'" in str(error)
    assert "unknown key 'maxx': did you mean 'max'" in str(error)


def test_a_misspelt_distribution_key_gets_a_did_you_mean() -> None:
    error = _refused(_space({"a": {"distibution": "int_uniform", "min": 1, "max": 3}}))
    assert "unknown key 'distibution': did you mean 'distribution'?" in str(error)


def test_a_key_of_another_distribution_is_not_called_a_typo_of_itself() -> None:
    error = _refused(_space({"y": {"distribution": "normal", "min": 0, "max": 1}}))
    assert "normal does not take 'min', 'max'" in str(error)
    assert "normal is unbounded" in str(error)
    assert "did you mean" not in str(error)


def test_values_that_wandb_counts_as_one_value_do_not_vary() -> None:
    """WANDB-COMPAT.md section 4.4: values are the same when their canonical YAML dumps are.

    ======================  ======  =====================================
    values                  varies  why
    ======================  ======  =====================================
    [2, 2.0]                no      a whole-number float dumps as the int
    [{a: 1, b: 2}, {b: 2,   no      dict keys are sorted
    a: 1}]
    [nan, nan]              no      NaN equals NaN
    [1, true]               yes     True is not 1
    [1, "1"]                yes     "1" is not 1
    [2, 2.5]                yes     two numbers
    ======================  ======  =====================================
    """
    nan = float("nan")
    config, _ = check_config(
        _space(
            {
                "a": {"values": [2, 2.0]},
                "b": {"values": [{"a": 1, "b": 2}, {"b": 2, "a": 1}]},
                "c": {"values": [nan, nan]},
                "d": {"values": [1, True]},
                "e": {"values": [1, "1"]},
                "f": {"values": [2, 2.5]},
            }
        )
    )
    assert {p.name: p.varies for p in config.parameters} == {
        "a": False,
        "b": False,
        "c": False,
        "d": True,
        "e": True,
        "f": True,
    }


def test_bayes_refuses_values_lists_of_one_value_written_twice() -> None:
    config = _space({"x": {"values": [2, 2.0]}, "y": {"value": 1}}, method="bayes")
    with pytest.raises(SweepConfigError, match="at least one parameter that varies"):
        check_config({**config, "metric": {"name": "loss"}})
