"""Tests of random search (WANDB-COMPAT.md section 5, BR-03, BR-14)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sweepcore.config.model import Parameter, SweepConfig
from sweepcore.search.random import RandomSearcher
from sweepcore.trial import Trial, TrialState


def leaf(name: str, distribution: str, **spec: Any) -> Parameter:
    """A filled parameter leaf; ``name`` may be dotted to nest it."""
    return Parameter(path=tuple(name.split(".")), distribution=distribution, **spec)


def random_config(*parameters: Parameter) -> SweepConfig:
    """A random config with its leaves in canonical (sorted, depth-first) order."""
    return SweepConfig(method="random", parameters=tuple(sorted(parameters, key=lambda p: p.path)))


def trial(index: int, params: dict[str, Any]) -> Trial:
    return Trial(trial_id=Trial.id_for(index), index=index, params=params)


MIXED = random_config(
    leaf("optim.lr", "log_uniform_values", min=1e-4, max=1e-1),
    leaf("optim.batch_size", "q_log_uniform_values", min=32, max=256, q=8),
    leaf("optim.momentum", "constant", value=0.9),
    leaf("env.reward.weight", "categorical", values=(0.25, 0.5)),
    leaf("seed", "int_uniform", min=0, max=10**6),
)


def test_random_decades_share_draws_evenly_for_log_uniform_forms() -> None:
    """BR-03: exponent bounds (lr_a) and value bounds (lr_b) describe the same distribution;
    lr_c keeps W&B's exponent meaning, so it lands in [e^0.0001, e^0.1].

    ==== ================== ================ ===============
    name distribution       min              max
    ==== ================== ================ ===============
    lr_a log_uniform        -9.21034         -2.302585
    lr_b log_uniform_values 0.0001           0.1
    lr_c log_uniform        0.0001           0.1
    ==== ================== ================ ===============
    """
    config = random_config(
        leaf("lr_a", "log_uniform", min=-9.21034, max=-2.302585),
        leaf("lr_b", "log_uniform_values", min=0.0001, max=0.1),
        leaf("lr_c", "log_uniform", min=0.0001, max=0.1),
    )
    points = RandomSearcher().suggest(config, [], n=1000, seed=3).points

    for name in ("lr_a", "lr_b"):
        drawn = [p[name] for p in points]
        assert all(1e-4 * (1 - 1e-5) <= v <= 0.1 * (1 + 1e-5) for v in drawn)
        for low, high in ((1e-4, 1e-3), (1e-3, 1e-2), (1e-2, 1e-1 * (1 + 1e-5))):
            share = sum(low <= v < high for v in drawn) / len(drawn)
            assert abs(share - 1 / 3) <= 0.05, (name, low, share)
    lr_c = [p["lr_c"] for p in points]
    assert all(math.exp(0.0001) <= v <= math.exp(0.1) for v in lr_c)


def test_random_null_and_falsy_choices_are_real_values() -> None:
    """BR-14: null is drawn like any other choice and keeps its key; 0 and false stay apart."""
    config = random_config(
        leaf("rnn_type", "categorical", values=(None, "lstm", "gru")),
        leaf(
            "model.loss.weight",
            "categorical",
            values=(None, 0.5, 1.0),
            probabilities=(0.4, 0.3, 0.3),
        ),
        leaf("use_bn", "categorical", values=(True, False)),
        leaf("clip", "categorical", values=(0, False)),
    )
    points = RandomSearcher().suggest(config, [], n=1000, seed=5).points

    weights = [p["model"]["loss"]["weight"] for p in points]
    assert abs(sum(w is None for w in weights) / 1000 - 0.4) <= 0.03
    assert all("rnn_type" in p for p in points)
    assert any(p["rnn_type"] is None for p in points)
    clip_types = {type(p["clip"]) for p in points}
    assert clip_types == {int, bool}
    assert {p["clip"] for p in points if type(p["clip"]) is bool} == {False}
    assert {p["clip"] for p in points if type(p["clip"]) is int} == {0}
    assert {p["use_bn"] for p in points} == {True, False}


def test_random_points_do_not_depend_on_batch_size() -> None:
    searcher = RandomSearcher()
    at_once = searcher.suggest(MIXED, [], n=8, seed=42).points
    one_by_one: list[dict[str, Any]] = []
    for i in range(8):
        history = [trial(j, p) for j, p in enumerate(one_by_one)]
        one_by_one += searcher.suggest(MIXED, history, n=1, seed=42).points
        assert len(one_by_one) == i + 1
    assert one_by_one == at_once


def test_random_same_seed_repeats_and_different_seeds_differ() -> None:
    searcher = RandomSearcher()
    first = searcher.suggest(MIXED, [], n=5, seed=1).points
    assert searcher.suggest(MIXED, [], n=5, seed=1).points == first
    assert searcher.suggest(MIXED, [], n=5, seed=2).points != first


def test_random_ignores_what_the_history_holds() -> None:
    """Only the number of earlier trials matters: it fixes the index that seeds each draw."""
    searcher = RandomSearcher()
    history_a = [trial(0, {"seed": 1}), trial(1, {})]
    history_b = [
        trial(0, {"x": 2}).evolve(state=TrialState.FAILED),
        trial(1, {"y": 3}).evolve(state=TrialState.RUNNING),
    ]
    points_a = searcher.suggest(MIXED, history_a, n=3, seed=9).points
    assert searcher.suggest(MIXED, history_b, n=3, seed=9).points == points_a
    assert searcher.suggest(MIXED, [], n=5, seed=9).points[2:] == points_a


def test_random_points_are_nested_dicts_with_constants() -> None:
    result = RandomSearcher().suggest(MIXED, [], n=20, seed=0)
    assert not result.is_exhausted
    for point in result.points:
        assert set(point) == {"env", "optim", "seed"}
        assert set(point["optim"]) == {"batch_size", "lr", "momentum"}
        assert point["optim"]["momentum"] == 0.9
        assert point["env"]["reward"]["weight"] in (0.25, 0.5)
        assert type(point["optim"]["batch_size"]) is int
        assert point["optim"]["batch_size"] % 8 == 0
        assert type(point["seed"]) is int


def test_random_rejects_n_below_one() -> None:
    with pytest.raises(ValueError, match="n must be at least 1; got 0"):
        RandomSearcher().suggest(MIXED, [], n=0, seed=0)
