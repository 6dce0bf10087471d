"""Tests of sweepcore.space: distributions, grid values, the unit map and nested-dict helpers."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from sweepcore.config.model import Parameter
from sweepcore.space import (
    MISSING,
    canonical_key,
    flatten,
    from_unit,
    get_path,
    grid_values,
    is_log_scaled,
    is_numeric,
    nest,
    sample,
    to_unit,
)


def leaf(name: str, distribution: str, **spec: Any) -> Parameter:
    """A filled parameter leaf; ``name`` may be dotted to nest it."""
    return Parameter(path=tuple(name.split(".")), distribution=distribution, **spec)


def draws(param: Parameter, n: int, seed: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    return [sample(param, rng) for _ in range(n)]


#: One leaf of every numeric distribution with the type a draw has and its support.
NUMERIC: dict[str, tuple[Parameter, type, float, float]] = {
    "int_uniform": (leaf("p", "int_uniform", min=-2, max=3), int, -2, 3),
    "uniform": (leaf("p", "uniform", min=1, max=3), float, 1.0, 3.0),
    "q_uniform": (leaf("p", "q_uniform", min=0, max=10, q=5), int, 0, 10),
    "log_uniform": (leaf("p", "log_uniform", min=-2.0, max=1.0), float, math.e**-2, math.e),
    "log_uniform_values": (leaf("p", "log_uniform_values", min=1e-4, max=0.1), float, 1e-4, 0.1),
    "q_log_uniform": (leaf("p", "q_log_uniform", min=0.0, max=3.0, q=1.0), float, 1.0, 20.0),
    "q_log_uniform_values": (
        leaf("p", "q_log_uniform_values", min=32, max=256, q=8),
        int,
        32,
        256,
    ),
    "inv_log_uniform": (leaf("p", "inv_log_uniform", min=0.0, max=2.0), float, math.e**-2, 1.0),
    "inv_log_uniform_values": (
        leaf("p", "inv_log_uniform_values", min=0.1, max=10.0),
        float,
        0.1,
        10.0,
    ),
    "normal": (leaf("p", "normal", mu=5.0, sigma=0.5), float, -math.inf, math.inf),
    "q_normal": (leaf("p", "q_normal", mu=0.0, sigma=3.0, q=2), int, -math.inf, math.inf),
    "log_normal": (leaf("p", "log_normal", mu=0.0, sigma=1.0), float, 0.0, math.inf),
    "q_log_normal": (leaf("p", "q_log_normal", mu=1.0, sigma=1.0, q=0.5), float, 0.0, math.inf),
    "beta": (leaf("p", "beta", a=2.0, b=5.0), float, 0.0, 1.0),
    "q_beta": (leaf("p", "q_beta", a=1.0, b=1.0, q=0.1), float, 0.0, 1.0),
}


# --- sample -------------------------------------------------------------------------------


@pytest.mark.parametrize("dist", list(NUMERIC))
def test_sample_gives_plain_python_type_within_support(dist: str) -> None:
    param, kind, low, high = NUMERIC[dist]
    values = draws(param, 300)
    assert all(type(v) is kind for v in values)
    assert all(low - 1e-12 <= v <= high + 1e-12 for v in values)


def test_int_uniform_reaches_both_ends_uniformly() -> None:
    values = draws(leaf("k", "int_uniform", min=1, max=4), 4000)
    counts = {k: values.count(k) / 4000 for k in (1, 2, 3, 4)}
    assert set(values) == {1, 2, 3, 4}
    assert all(abs(p - 0.25) < 0.03 for p in counts.values())


def test_uniform_with_int_bounds_gives_floats() -> None:
    values = draws(leaf("x", "uniform", min=0, max=2), 50)
    assert all(type(v) is float and 0 <= v <= 2 for v in values)


def test_q_uniform_rounds_to_multiples_of_q_that_may_leave_the_bounds() -> None:
    """{min 1, max 10, q 4}: 1..10 rounds to 0, 4 or 8; 12 never appears (2.5 rounds to 2)."""
    values = draws(leaf("x", "q_uniform", min=1, max=10, q=4), 2000)
    assert set(values) == {0, 4, 8}
    assert all(type(v) is int for v in values)


def test_q_uniform_rounds_half_to_even() -> None:
    param = leaf("x", "q_uniform", min=0.0, max=8.0, q=1)
    # u = 0.3125 is x = 2.5 exactly; half-to-even rounding gives 2, not 3; 3.5 gives 4.
    assert from_unit(param, 0.3125) == 2
    assert from_unit(param, 0.4375) == 4


def test_defaulted_float_q_gives_integral_floats() -> None:
    values = draws(leaf("h", "q_log_uniform_values", min=1, max=100, q=1.0), 200)
    assert all(type(v) is float and v.is_integer() and 1 <= v <= 100 for v in values)


def test_deprecated_log_uniform_uses_natural_log_exponents() -> None:
    values = draws(leaf("lr", "log_uniform", min=0.0001, max=0.1), 500)
    assert all(math.exp(0.0001) <= v <= math.exp(0.1) for v in values)


def test_inv_log_uniform_is_exp_of_minus_uniform_exponent() -> None:
    values = draws(leaf("t", "inv_log_uniform", min=1.0, max=3.0), 2000)
    assert all(math.exp(-3) <= v <= math.exp(-1) for v in values)
    # -log(x) is uniform on [1, 3], so half the draws have -log(x) below 2.
    below = sum(-math.log(v) < 2 for v in values) / len(values)
    assert abs(below - 0.5) < 0.04


def test_categorical_uses_probabilities() -> None:
    param = leaf("w", "categorical", values=(None, 0.5, 1.0), probabilities=(0.4, 0.3, 0.3))
    values = draws(param, 3000)
    share_none = sum(v is None for v in values) / len(values)
    assert abs(share_none - 0.4) < 0.03
    assert {v for v in values if v is not None} == {0.5, 1.0}


def test_categorical_without_probabilities_is_uniform_and_keeps_types() -> None:
    param = leaf("clip", "categorical", values=(0, False))
    values = draws(param, 1000)
    zeros = [v for v in values if type(v) is int]
    falses = [v for v in values if type(v) is bool]
    assert len(zeros) + len(falses) == 1000
    assert abs(len(zeros) / 1000 - 0.5) < 0.05


def test_constant_and_categorical_samples_are_copies() -> None:
    const = leaf("layers", "constant", value=[64, 64])
    first = sample(const, np.random.default_rng(0))
    first.append(1)
    assert sample(const, np.random.default_rng(0)) == [64, 64]
    cat = leaf("opt", "categorical", values=({"name": "adam"},))
    drawn = sample(cat, np.random.default_rng(0))
    drawn["name"] = "sgd"
    assert cat.values == ({"name": "adam"},)


def test_beta_with_zero_shape_is_a_point_mass() -> None:
    assert set(draws(leaf("b", "beta", a=0.0, b=1.0), 20)) == {0.0}
    assert set(draws(leaf("b", "beta", a=1.0, b=0.0), 20)) == {1.0}


# --- grid values --------------------------------------------------------------------------


def test_grid_values_of_constant_is_its_value() -> None:
    assert grid_values(leaf("c", "constant", value={"a": 1})) == [{"a": 1}]


def test_grid_values_collapse_duplicates_at_first_position_with_last_object() -> None:
    values = grid_values(leaf("v", "categorical", values=(2, 0.5, 2.0)))
    assert values == [2.0, 0.5]
    assert type(values[0]) is float


def test_grid_values_keep_true_apart_from_one_and_list_apart_from_tuple() -> None:
    values = grid_values(leaf("v", "categorical", values=(1, True, "1", [1], (1,))))
    assert [type(v) for v in values] == [int, bool, str, list, tuple]


def test_grid_values_treat_nan_as_equal_and_dict_order_as_irrelevant() -> None:
    values = grid_values(
        leaf("v", "categorical", values=(math.nan, {"a": 1, "b": 2}, math.nan, {"b": 2, "a": 1}))
    )
    assert len(values) == 2
    assert math.isnan(values[0])
    assert list(values[1]) == ["b", "a"]  # the last duplicate's object


def test_grid_values_of_int_uniform_include_both_ends() -> None:
    assert grid_values(leaf("k", "int_uniform", min=-1, max=2)) == [-1, 0, 1, 2]


def test_grid_values_of_q_uniform_exclude_max_like_arange() -> None:
    ints = grid_values(leaf("n", "q_uniform", min=0, max=10, q=5))
    floats = grid_values(leaf("p", "q_uniform", min=0.0, max=0.4, q=0.1))
    assert ints == [0, 5]
    assert all(type(v) is int for v in ints)
    assert floats == [0.0, 0.1, 0.2, 0.30000000000000004]


def test_grid_values_of_q_uniform_with_int_bounds_and_default_q_are_floats() -> None:
    values = grid_values(leaf("n", "q_uniform", min=0, max=3, q=1.0))
    assert values == [0.0, 1.0, 2.0]
    assert all(type(v) is float for v in values)


def test_grid_values_reject_continuous_distribution_naming_parameter() -> None:
    with pytest.raises(ValueError, match=r"parameters\.optim\.lr: distribution 'uniform'"):
        grid_values(leaf("optim.lr", "uniform", min=0.0, max=1.0))


def test_grid_values_reject_categorical_with_probabilities() -> None:
    param = leaf("w", "categorical", values=(1, 2), probabilities=(0.5, 0.5))
    with pytest.raises(ValueError, match=r"parameters\.w: .* with probabilities cannot be used"):
        grid_values(param)


def test_canonical_key_identities() -> None:
    assert canonical_key(3000000.0) == canonical_key(3000000)
    assert canonical_key({"x": [1.0, {"b": 2, "a": None}]}) == canonical_key(
        {"x": [1, {"a": None, "b": 2.0}]}
    )
    assert canonical_key(True) != canonical_key(1)
    assert canonical_key(False) != canonical_key(0)
    assert canonical_key(None) != canonical_key(0)
    assert canonical_key("1") != canonical_key(1)
    assert canonical_key(0.5) != canonical_key(0.25)


# --- classification and the unit map ------------------------------------------------------


def test_is_numeric_and_is_log_scaled() -> None:
    assert not is_numeric(leaf("c", "constant", value=1))
    assert not is_numeric(leaf("c", "categorical", values=(1, 2)))
    assert all(is_numeric(param) for param, *_ in NUMERIC.values())
    log_scaled = {name for name, (param, *_) in NUMERIC.items() if is_log_scaled(param)}
    assert log_scaled == {
        "log_uniform",
        "log_uniform_values",
        "q_log_uniform",
        "q_log_uniform_values",
        "inv_log_uniform",
        "inv_log_uniform_values",
        "log_normal",
        "q_log_normal",
    }


@pytest.mark.parametrize("dist", list(NUMERIC))
def test_from_unit_inverts_to_unit_with_sample_types(dist: str) -> None:
    param, kind, *_ = NUMERIC[dist]
    for value in draws(param, 200, seed=3):
        u = to_unit(param, value)
        back = from_unit(param, u)
        assert 0.0 <= u <= 1.0
        assert type(back) is kind
        assert back == pytest.approx(value, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("dist", list(NUMERIC))
def test_unit_map_is_monotone_and_stays_in_support(dist: str) -> None:
    param, kind, low, high = NUMERIC[dist]
    grid = np.linspace(0.0, 1.0, 101)
    values = [from_unit(param, float(u)) for u in grid]
    assert all(type(v) is kind and math.isfinite(v) for v in values)
    assert all(a <= b for a, b in itertools.pairwise(values))
    assert all(low - 1e-12 <= v <= high + 1e-12 for v in values)
    positions = [to_unit(param, v) for v in sorted(draws(param, 100))]
    assert all(a <= b for a, b in itertools.pairwise(positions))


def test_to_unit_is_linear_in_modelling_space() -> None:
    assert to_unit(leaf("x", "uniform", min=2.0, max=4.0), 3.0) == pytest.approx(0.5)
    log_values = leaf("lr", "log_uniform_values", min=1e-4, max=1e-2)
    assert to_unit(log_values, 1e-3) == pytest.approx(0.5)
    assert to_unit(leaf("lr", "log_uniform", min=-4.0, max=0.0), math.exp(-1)) == 0.75
    assert to_unit(leaf("n", "normal", mu=1.0, sigma=2.0), 1.0) == 0.5


def test_int_uniform_gives_each_integer_an_equal_share_of_unit_interval() -> None:
    param = leaf("k", "int_uniform", min=1, max=4)
    assert [to_unit(param, k) for k in (1, 2, 3, 4)] == [0.125, 0.375, 0.625, 0.875]
    assert [from_unit(param, u) for u in (0.0, 0.2499, 0.25, 0.74, 0.76, 1.0)] == [
        1,
        1,
        2,
        3,
        4,
        4,
    ]


def test_to_unit_clips_values_outside_the_support() -> None:
    param = leaf("x", "log_uniform_values", min=1.0, max=10.0)
    assert to_unit(param, 100.0) == 1.0
    assert to_unit(param, 0.0) == 0.0
    assert from_unit(param, 2.0) == 10.0
    assert from_unit(param, -1.0) == 1.0


def test_normal_from_unit_ends_are_finite() -> None:
    param = leaf("x", "normal", mu=0.0, sigma=1.0)
    assert -40 < from_unit(param, 0.0) < -30
    assert 5 < from_unit(param, 1.0) < 10


def test_unit_map_refuses_categorical_booleans_and_nan() -> None:
    with pytest.raises(ValueError, match=r"parameters\.c: categorical is not a numeric"):
        to_unit(leaf("c", "categorical", values=(1, 2)), 1)
    with pytest.raises(ValueError, match=r"parameters\.x: True is not a number"):
        to_unit(leaf("x", "uniform", min=0.0, max=1.0), True)
    with pytest.raises(ValueError, match=r"parameters\.x: NaN has no position"):
        to_unit(leaf("x", "uniform", min=0.0, max=1.0), math.nan)
    with pytest.raises(ValueError, match=r"parameters\.x: position u is NaN"):
        from_unit(leaf("x", "uniform", min=0.0, max=1.0), math.nan)


# --- nested dicts -------------------------------------------------------------------------


def test_get_path_treats_none_as_present_and_absent_keys_as_missing() -> None:
    params = {"optim": {"lr": None, "beta": 0}, "seed": False}
    assert get_path(params, ("optim", "lr")) is None
    assert get_path(params, ("optim", "beta")) == 0
    assert get_path(params, ("seed",)) is False
    assert get_path(params, ("optim", "momentum")) is MISSING
    assert get_path(params, ("seed", "x")) is MISSING


def test_nest_builds_nested_dicts_and_rejects_a_value_used_as_group() -> None:
    assert nest([(("a", "b", "c"), 1), (("a", "d"), None), (("e",), [2])]) == {
        "a": {"b": {"c": 1}, "d": None},
        "e": [2],
    }
    with pytest.raises(ValueError, match=r"a\.b: 'a' holds a value, not a group"):
        nest([(("a",), 1), (("a", "b"), 2)])


def test_flatten_uses_dotted_names_and_skips_missing_leaves() -> None:
    parameters = [
        leaf("env.reward.weight", "constant", value=1),
        leaf("seed", "constant", value=1),
    ]
    params = {"env": {"reward": {"weight": None}}, "extra": 3}
    assert flatten(params, parameters) == {"env.reward.weight": None}
