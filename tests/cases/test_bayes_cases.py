"""The W&B conformance cases of kind ``bayes`` (format: wandb/README.md)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from sweepcore.config import SweepConfigError
from sweepcore.search.bayes import BayesSearcher, observation_table
from sweepcore.space import flatten
from tests.cases.caselib import case_ids, load_cases
from tests.cases.test_search_cases import check_statistics, history_of, load

BAYES_CASES = load_cases("bayes")
SEED = 20240601


def suggestions(case: dict[str, Any], n_trials: int) -> list[dict[str, Any]]:
    """One suggestion per trial, each from the same history with its own seed."""
    config, history = load(case), history_of(case)
    return [
        flatten(
            BayesSearcher().suggest(config, history, n=1, seed=SEED + i).points[0],
            config.parameters,
        )
        for i in range(n_trials)
    ]


@pytest.mark.parametrize("case", BAYES_CASES, ids=case_ids(BAYES_CASES))
def test_bayes_case(case: dict[str, Any]) -> None:
    expect = case["expect"]
    if expect.get("error"):
        words = expect.get("message_contains") or []
        with pytest.raises((SweepConfigError, ValueError), match=words[0] if words else "bayes"):
            BayesSearcher().suggest(load(case), history_of(case), n=1, seed=SEED)
        return

    if "observations" in expect:
        table = observation_table(load(case), history_of(case))
        ids = {f"t{i:05d}": run["id"] for i, run in enumerate(case["history"])}
        got = {ids[k]: v for k, v in table.values.items()}
        assert got.keys() == expect["observations"].keys()
        for run_id, value in expect["observations"].items():
            assert math.isclose(got[run_id], value), (run_id, got[run_id], value)
        assert [ids[k] for k in table.in_flight_ids] == expect["in_flight"]

    if "trials" not in expect:
        return
    points = suggestions(case, expect["trials"])
    columns = {name: [p[name] for p in points] for name in points[0]}
    check_statistics(columns, expect)
    for name, spec in (expect.get("suggestion") or {}).items():
        near = sum(abs(v - spec["near"]) <= spec["atol"] for v in columns[name])
        assert near / len(points) >= expect.get("min_fraction", 1.0), (name, near)
