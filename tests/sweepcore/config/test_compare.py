"""What :func:`search_space_changes` counts as a change of the search space (BR-20)."""

from __future__ import annotations

from typing import Any

from sweepcore.config import load_config, search_space_changes

OLD: dict[str, Any] = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "minimize"},
    "run_cap": 10,
    "parameters": {
        "bs": {"values": [2, True]},
        "lr": {"distribution": "uniform", "min": 1, "max": 2},
        "opt": {"parameters": {"q": {"distribution": "q_uniform", "min": 0, "max": 8, "q": 2}}},
    },
}


def _changes(**edits: Any) -> list[str]:
    new = {**OLD, **edits}
    return search_space_changes(load_config(OLD), load_config(new))


def _with_parameter(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {**OLD["parameters"], name: spec}


def test_equivalent_configs_have_no_changes_even_with_new_run_cap_and_numeric_twins() -> None:
    parameters = _with_parameter("lr", {"distribution": "uniform", "min": 1.0, "max": 2.0})
    assert _changes(run_cap=50, parameters=parameters, name="renamed") == []


def test_method_and_metric_changes_are_listed() -> None:
    assert _changes(method="random", metric={"name": "acc", "goal": "maximize"}) == [
        "method: bayes -> random",
        "metric.name: loss -> acc",
        "metric.goal: minimize -> maximize",
    ]


def test_added_and_removed_parameters_are_listed_by_dotted_name() -> None:
    parameters = {k: v for k, v in OLD["parameters"].items() if k != "opt"}
    parameters["wd"] = {"value": 0.1}
    assert _changes(parameters=parameters) == [
        "parameters.opt.q: removed (was distribution 'q_uniform', min 0, max 8, q 2)",
        "parameters.wd: added (distribution 'constant', value 0.1)",
    ]


def test_value_types_count_where_trials_would_see_them() -> None:
    parameters = _with_parameter("bs", {"values": [2.0, 1]})
    parameters["opt"] = {
        "parameters": {"q": {"distribution": "q_uniform", "min": 0, "max": 8, "q": 2.0}}
    }
    assert _changes(parameters=parameters) == [
        "parameters.bs: values [2, True] -> [2.0, 1]",
        "parameters.opt.q.q: 2 -> 2.0",
    ]


def test_distribution_change_lists_distribution_and_new_fields() -> None:
    parameters = _with_parameter("lr", {"distribution": "q_uniform", "min": 1, "max": 2})
    assert _changes(parameters=parameters) == [
        "parameters.lr.distribution: uniform -> q_uniform",
        "parameters.lr.q: unset -> 1.0",
    ]
