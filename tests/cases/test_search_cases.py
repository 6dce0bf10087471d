"""The W&B conformance cases of kind ``grid`` and ``random`` (format: wandb/README.md)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from sweepcore.config import SweepConfig, load_config
from sweepcore.search.grid import GridSearcher
from sweepcore.search.random import RandomSearcher
from sweepcore.space import flatten
from sweepcore.trial import Trial, TrialState
from tests.cases.caselib import case_ids, load_cases

GRID_CASES = load_cases("grid")
RANDOM_CASES = load_cases("random")
SEED = 20240601

#: W&B run states as our trial states: a crash or kill is a failure; waiting or preempted
#: runs still hold their point, like a running trial.
_STATES = {
    "finished": TrialState.FINISHED,
    "failed": TrialState.FAILED,
    "crashed": TrialState.FAILED,
    "killed": TrialState.FAILED,
    "running": TrialState.RUNNING,
    "pending": TrialState.RUNNING,
    "preempting": TrialState.RUNNING,
    "preempted": TrialState.RUNNING,
}


def load(case: dict[str, Any]) -> SweepConfig:
    with warnings.catch_warnings():
        # Deprecation warnings of a case config are the loader's business, tested elsewhere.
        warnings.simplefilter("ignore")
        return load_config(case["config"])


def history_of(case: dict[str, Any]) -> list[Trial]:
    return [
        Trial(
            trial_id=Trial.id_for(i),
            index=i,
            params=run.get("params") or {},
            state=_STATES[run.get("state", "finished")],
            history=tuple(run.get("history") or ()),
            summary=run.get("summary") or {},
        )
        for i, run in enumerate(case.get("history") or [])
    ]


def assert_same(got: Any, want: Any, compare: str, where: str = "") -> None:
    """Recursive equality: exact and type-sensitive, or ``numeric`` / ``abs_tol_1e-12``."""
    if isinstance(want, Mapping):
        assert isinstance(got, Mapping) and set(got) == set(want), f"{where}: {got!r} != {want!r}"
        for key in want:
            assert_same(got[key], want[key], compare, f"{where}.{key}")
    elif isinstance(want, list):
        assert type(got) is list and len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, compare, f"{where}[{i}]")
    elif compare != "exact" and is_number(want) and is_number(got):
        tol = 1e-12 if compare == "abs_tol_1e-12" else 0.0
        assert math.isclose(got, want, rel_tol=0.0, abs_tol=tol), f"{where}: {got!r} != {want!r}"
    else:
        assert type(got) is type(want) and got == want, f"{where}: {got!r} != {want!r}"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.mark.parametrize("case", GRID_CASES, ids=case_ids(GRID_CASES))
def test_grid_case(case: dict[str, Any]) -> None:
    config, history, expect = load(case), history_of(case), case["expect"]
    compare = expect.get("compare", "exact")
    searcher = GridSearcher()

    if "request_n" in case:
        result = searcher.suggest(config, history, n=case["request_n"], seed=SEED)
        points = [p for p in expect["batch"] if p != "EXHAUSTED"]
        assert_same(result.points, points, compare, "batch")
        assert result.is_exhausted == ("EXHAUSTED" in expect["batch"])
        return

    got: list[dict[str, Any]] = []
    result = searcher.suggest(config, history, n=1, seed=SEED)
    while result.points and len(got) <= expect["count"]:
        got += result.points
        index = len(history)
        history.append(Trial(Trial.id_for(index), index, result.points[0], TrialState.FINISHED))
        result = searcher.suggest(config, history, n=1, seed=SEED)

    assert len(got) == expect["count"]
    assert_same(got, expect["sequence"], compare, "sequence")
    if expect.get("exhausted_after"):
        assert result.points == []
        assert result.is_exhausted


@pytest.mark.parametrize("case", RANDOM_CASES, ids=case_ids(RANDOM_CASES))
def test_random_case(case: dict[str, Any]) -> None:
    expect = case["expect"]
    if expect.get("error"):
        with pytest.raises(ValueError, match=expect.get("message_contains", "")):
            RandomSearcher().suggest(load(case), [], n=1, seed=SEED)
        return

    config = load(case)
    points = RandomSearcher().suggest(config, [], n=expect["samples"], seed=SEED).points
    columns = {
        p.name: [flatten(pt, config.parameters)[p.name] for pt in points]
        for p in config.parameters
    }

    assert len(points) == expect["samples"]
    check_statistics(columns, expect)
    if "shape" in expect:
        for point in points:
            check_shape(point, expect["shape"], "shape")


def check_statistics(columns: dict[str, list[Any]], expect: dict[str, Any]) -> None:
    """The statistical expectations of a random or bayes case (format: wandb/README.md):
    ``support``, ``frequencies``, ``mean``, ``std``, ``prob_below``, ``distinct_at_least``."""
    n = len(next(iter(columns.values())))
    for name, support in (expect.get("support") or {}).items():
        check_support(columns[name], support, name)
    for name, spec in (expect.get("frequencies") or {}).items():
        for value, p in spec["p"].items():
            share = sum(is_number(v) and math.isclose(v, value) for v in columns[name])
            assert abs(share / n - p) <= spec["tol"], (name, value, share)
    for name, spec in (expect.get("mean") or {}).items():
        assert abs(float(np.mean(columns[name])) - spec["value"]) <= spec["tol"], name
    for name, spec in (expect.get("std") or {}).items():
        assert abs(float(np.std(columns[name])) - spec["value"]) <= spec["tol"], name
    for name, rows in (expect.get("prob_below") or {}).items():
        for threshold, p, tol in rows:
            share = sum(v <= threshold for v in columns[name]) / n
            assert abs(share - p) <= tol, (name, threshold, share)
    for name, k in (expect.get("distinct_at_least") or {}).items():
        assert len(set(columns[name])) >= k, name


def check_support(values: list[Any], support: dict[str, Any], name: str) -> None:
    kinds = {"int": int, "float": float, "str": str}
    if "type" in support:
        assert all(type(v) is kinds[support["type"]] for v in values), name
    rel_tol = support.get("rel_tol", 0.0)
    if "min" in support:
        low = support["min"]
        assert min(values) >= low - rel_tol * abs(low), (name, min(values))
    if "max" in support:
        high = support["max"]
        assert max(values) <= high + rel_tol * abs(high), (name, max(values))
    if "allowed" in support:
        allowed = support["allowed"]
        for v in values:
            if is_number(v):
                assert any(is_number(a) and math.isclose(v, a) for a in allowed), (name, v)
            else:
                assert v in allowed, (name, v)
    if "multiple_of" in support:
        q = support["multiple_of"]
        assert all(abs(v / q - round(v / q)) <= 1e-6 for v in values), name


def check_shape(got: Any, shape: Any, where: str) -> None:
    placeholders = {"<float>": float, "<int>": int, "<str>": str}
    if isinstance(shape, Mapping):
        assert isinstance(got, Mapping) and set(got) == set(shape), where
        for key in shape:
            check_shape(got[key], shape[key], f"{where}.{key}")
    elif isinstance(shape, str) and shape in placeholders:
        assert type(got) is placeholders[shape], (where, got)
    else:
        assert type(got) is type(shape) and got == shape, (where, got)
