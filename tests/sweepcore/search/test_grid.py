"""Tests of grid search (WANDB-COMPAT.md section 4, BR-01, BR-11)."""

from __future__ import annotations

import collections
import itertools
import random
from collections.abc import Iterable
from typing import Any

import pytest

from sweepcore.config.model import Parameter, SweepConfig
from sweepcore.search.grid import GridSearcher, grid_size
from sweepcore.trial import Trial, TrialState


def leaf(name: str, distribution: str, **spec: Any) -> Parameter:
    """A filled parameter leaf; ``name`` may be dotted to nest it."""
    return Parameter(path=tuple(name.split(".")), distribution=distribution, **spec)


def values(name: str, *choices: Any) -> Parameter:
    return leaf(name, "categorical", values=choices)


def grid(*parameters: Parameter) -> SweepConfig:
    """A grid config with its leaves in canonical (sorted, depth-first) order."""
    return SweepConfig(method="grid", parameters=tuple(sorted(parameters, key=lambda p: p.path)))


def trials(
    params: Iterable[dict[str, Any]], state: TrialState = TrialState.FINISHED
) -> list[Trial]:
    return [
        Trial(trial_id=Trial.id_for(i), index=i, params=p, state=state)
        for i, p in enumerate(params)
    ]


def run_to_exhaustion(config: SweepConfig, n: int, limit: int = 10_000) -> list[dict[str, Any]]:
    """Ask ``n`` at a time, recording each point as a finished trial, until exhausted."""
    history: list[Trial] = []
    for _ in range(limit):
        result = GridSearcher().suggest(config, history, n=n, seed=0)
        for point in result.points:
            index = len(history)
            history.append(Trial(trial_id=Trial.id_for(index), index=index, params=point))
        if result.is_exhausted:
            return [dict(t.params) for t in history]
    raise AssertionError("grid never reported exhaustion")


BR01 = grid(
    values("optim.batch_size", 256, 512, 1024),
    values("optim.lr", 0.0003, 0.001),
    leaf("optim.momentum", "constant", value=0.9),
    values("env.reward.weight", 0.25, 0.5, 0.75),
    values("seed", 1, 2),
)


@pytest.mark.parametrize("n", [1, 4])
def test_nested_grid_yields_each_of_36_combinations_once(n: int) -> None:
    """BR-01: nested groups must not pin the first nested parameter or repeat combinations."""
    points = run_to_exhaustion(BR01, n=n)

    combos = [
        (p["optim"]["batch_size"], p["optim"]["lr"], p["env"]["reward"]["weight"], p["seed"])
        for p in points
    ]
    assert len(points) == 36
    assert len(set(combos)) == 36
    assert collections.Counter(c[0] for c in combos) == {256: 12, 512: 12, 1024: 12}
    assert collections.Counter(c[1] for c in combos) == {0.0003: 18, 0.001: 18}
    assert collections.Counter(c[2] for c in combos) == {0.25: 12, 0.5: 12, 0.75: 12}
    assert collections.Counter(c[3] for c in combos) == {1: 18, 2: 18}
    assert all(p["optim"]["momentum"] == 0.9 for p in points)
    assert all(set(p) == {"env", "optim", "seed"} for p in points)


def test_nested_grid_reports_exhaustion_on_the_37th_request() -> None:
    history: list[Trial] = []
    for i in range(36):
        result = GridSearcher().suggest(BR01, history, n=1, seed=0)
        assert len(result.points) == 1
        assert result.is_exhausted == (i == 35)
        history.append(Trial(trial_id=Trial.id_for(i), index=i, params=result.points[0]))
    last = GridSearcher().suggest(BR01, history, n=1, seed=0)
    assert last.points == []
    assert last.is_exhausted


def test_grid_orders_sorted_names_with_last_varying_fastest() -> None:
    config = grid(values("b", 1, 2), values("a", "x", "y"), values("Z", True))
    points = GridSearcher().suggest(config, [], n=10, seed=0).points
    assert points == [
        {"Z": True, "a": "x", "b": 1},
        {"Z": True, "a": "x", "b": 2},
        {"Z": True, "a": "y", "b": 1},
        {"Z": True, "a": "y", "b": 2},
    ]


def test_grid_of_constants_only_yields_one_point() -> None:
    config = grid(leaf("c", "constant", value=7), leaf("d.e", "constant", value=[1]))
    first = GridSearcher().suggest(config, [], n=3, seed=0)
    again = GridSearcher().suggest(config, trials(first.points), n=1, seed=0)
    assert first.points == [{"c": 7, "d": {"e": [1]}}]
    assert first.is_exhausted
    assert again.points == []
    assert again.is_exhausted


@pytest.mark.parametrize("state", list(TrialState))
def test_grid_trial_in_any_state_covers_its_point(state: TrialState) -> None:
    config = grid(values("a", 1, 2))
    result = GridSearcher().suggest(config, trials([{"a": 1}], state=state), n=5, seed=0)
    assert result.points == [{"a": 2}]


def test_grid_trial_lacking_a_parameter_covers_nothing_and_extras_are_fine() -> None:
    config = grid(values("a", 1, 2), values("b", 3))
    history = trials([{"a": 1}, {"a": 2, "b": 3, "legacy": "x"}])
    assert GridSearcher().suggest(config, history, n=5, seed=0).points == [{"a": 1, "b": 3}]


def test_grid_looks_up_nested_parameters_by_path() -> None:
    config = grid(values("opt.lr", 0.1, 0.2))
    history = trials([{"opt.lr": 0.1}, {"opt": {"lr": 0.2, "beta": 1}}])
    assert GridSearcher().suggest(config, history, n=5, seed=0).points == [{"opt": {"lr": 0.1}}]


def test_grid_ignores_keys_a_program_injected_into_a_dict_choice() -> None:
    config = grid(values("env", {"id": "A", "steps": 1000}, {"id": "B", "steps": 2000}))
    history = trials([{"env": {"steps": 1000, "id": "A", "name": "injected"}}])
    assert GridSearcher().suggest(config, history, n=5, seed=0).points == [
        {"env": {"id": "B", "steps": 2000}}
    ]


def test_grid_dict_choice_missing_a_key_is_not_covered() -> None:
    config = grid(values("env", {"id": "A", "steps": 1000}))
    history = trials([{"env": {"id": "A"}}])
    assert GridSearcher().suggest(config, history, n=1, seed=0).points == [
        {"env": {"id": "A", "steps": 1000}}
    ]


def test_grid_coverage_uses_value_identity() -> None:
    """A whole-number float covers the int; True does not cover 1; None covers None."""
    config = grid(values("x", 1, 2, None, False))
    history = trials([{"x": 2.0}, {"x": True}, {"x": None}])
    assert GridSearcher().suggest(config, history, n=5, seed=0).points == [
        {"x": 1},
        {"x": False},
    ]


def test_grid_batch_skips_points_handed_out_in_the_same_batch() -> None:
    config = grid(values("x", 1, 2, 3))
    result = GridSearcher().suggest(config, [], n=5, seed=0)
    assert result.points == [{"x": 1}, {"x": 2}, {"x": 3}]
    assert result.is_exhausted


def test_grid_is_exhausted_when_the_batch_takes_the_last_points() -> None:
    config = grid(values("x", 1, 2, 3))
    assert GridSearcher().suggest(config, [], n=3, seed=0).is_exhausted
    assert not GridSearcher().suggest(config, [], n=2, seed=0).is_exhausted


def test_grid_points_are_independent_copies() -> None:
    config = grid(values("layers", [64, 64]), leaf("opt", "constant", value={"name": "adam"}))
    first = GridSearcher().suggest(config, [], n=1, seed=0).points[0]
    first["layers"].append(1)
    first["opt"]["name"] = "sgd"
    assert GridSearcher().suggest(config, [], n=1, seed=0).points[0] == {
        "layers": [64, 64],
        "opt": {"name": "adam"},
    }


def test_grid_expands_int_uniform_and_q_uniform() -> None:
    config = grid(
        leaf("k", "int_uniform", min=1, max=3), leaf("p", "q_uniform", min=0, max=4, q=2)
    )
    points = GridSearcher().suggest(config, [], n=10, seed=0).points
    assert [(p["k"], p["p"]) for p in points] == [(1, 0), (1, 2), (2, 0), (2, 2), (3, 0), (3, 2)]


def test_grid_rejects_a_continuous_parameter() -> None:
    config = grid(values("a", 1), leaf("lr", "log_uniform_values", min=1e-4, max=1e-1))
    with pytest.raises(ValueError, match=r"parameters\.lr: distribution 'log_uniform_values'"):
        GridSearcher().suggest(config, [], n=1, seed=0)
    with pytest.raises(ValueError, match=r"parameters\.lr: "):
        grid_size(config)


def test_grid_rejects_n_below_one() -> None:
    with pytest.raises(ValueError, match="n must be at least 1; got 0"):
        GridSearcher().suggest(grid(values("a", 1)), [], n=0, seed=0)


def test_grid_size_counts_deduplicated_combinations() -> None:
    assert grid_size(BR01) == 36
    assert grid_size(grid(values("v", 2, 2.0, 0.5), leaf("k", "int_uniform", min=0, max=9))) == 20
    assert grid_size(grid(leaf("c", "constant", value=1))) == 1


def test_large_grid_with_thousands_of_trials_suggests_exactly_the_rest() -> None:
    """BR-11's 4500-point grid with 4000 points already taken, in shuffled history order."""
    config = grid(
        values("n", *range(1, 31)),
        values("sigma", *[round(0.1 * i, 1) for i in range(1, 16)]),
        values("seed", *range(10)),
    )
    every = [
        {"n": n, "seed": seed, "sigma": sigma}
        for n, seed, sigma in itertools.product(
            range(1, 31), range(10), [round(0.1 * i, 1) for i in range(1, 16)]
        )
    ]
    taken = random.Random(11).sample(every, 4000)

    result = GridSearcher().suggest(config, trials(taken), n=600, seed=0)

    assert grid_size(config) == 4500
    assert len(result.points) == 500
    assert result.is_exhausted
    remaining = {tuple(sorted(p.items())) for p in every} - {
        tuple(sorted(p.items())) for p in taken
    }
    assert {tuple(sorted(p.items())) for p in result.points} == remaining
