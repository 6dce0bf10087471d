"""Top-level keys, ``metric``, ``early_terminate`` and ``run_cap`` (WANDB-COMPAT.md 2, 2.1, 9)."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest

from sweepcore.config import (
    HyperbandSpec,
    MetricSpec,
    SweepConfigError,
    SweepConfigWarning,
    check_config,
    hyperband_bands,
    load_config,
)

BASE: dict[str, Any] = {
    "method": "random",
    "metric": {"name": "loss"},
    "parameters": {"x": {"min": 0.0, "max": 1.0}},
}


def _with(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_metric_defaults_and_yaml_false_impute_while_running() -> None:
    config, _ = check_config(_with(metric={"name": "acc", "impute_while_running": False}))
    assert config.metric == MetricSpec(
        name="acc", goal="minimize", impute="worst", impute_while_running="false"
    )


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ({"goal": "minimize"}, "'name' is a required property"),
        ({"name": 3}, "metric.name: must be a non-empty string; got 3."),
        ({"name": "l", "impute": "mean"}, "'mean' is not one of ['latest', 'best', 'worst']"),
        ({"name": "l", "impute_while_running": True}, "True is not one of"),
        ({"name": "l", "target": "0.9"}, "metric.target: must be a finite number"),
        (
            {"name": "l", "stop": 1},
            "Additional properties are not allowed ('stop' was unexpected)",
        ),
        ("loss", "must be a mapping such as {name: val_loss, goal: minimize}"),
    ],
)
def test_config_rejects_bad_metric(metric: Any, expected: str) -> None:
    with pytest.raises(SweepConfigError) as info:
        check_config(_with(metric=metric))
    assert expected in str(info.value)
    assert {p.kind for p in info.value.problems} == {"invalid_metric"}


def test_hyperband_defaults_and_bands() -> None:
    config, _ = check_config(_with(early_terminate={"type": "hyperband", "min_iter": 3}))
    assert config.early_terminate == HyperbandSpec(min_iter=3, eta=3, strict=True)
    assert hyperband_bands(config.early_terminate)[:4] == [3, 9, 27, 81]
    assert len(hyperband_bands(config.early_terminate)) == 100


@pytest.mark.parametrize(
    ("max_iter", "s", "eta", "bands"),
    [
        (27, 2, 3, [3, 9]),
        (81, 3, 3, [3, 9, 27]),
        (10, 5, 3, [1, 3]),
        (5, 2, 2, [1, 2]),
        (19, 2, 3, [2, 6]),
    ],
)
def test_hyperband_bands_from_max_iter_truncate_and_stop_below_one(
    max_iter: int, s: int, eta: float, bands: list[int]
) -> None:
    assert hyperband_bands(HyperbandSpec(max_iter=max_iter, s=s, eta=eta)) == bands


def test_hyperband_bands_from_min_iter_stop_before_float_overflow() -> None:
    bands = hyperband_bands(HyperbandSpec(min_iter=1, eta=1e100))
    assert bands[:2] == [1, int(1e100)]
    assert len(bands) == 4  # 1e300 is the last finite band; W&B would crash on int(inf)


def test_min_iter_beside_max_iter_and_s_warns_that_it_is_ignored() -> None:
    hyperband = {"type": "hyperband", "min_iter": 1, "max_iter": 27, "s": 2}
    with pytest.warns(SweepConfigWarning) as record:
        load_config(_with(early_terminate=hyperband))
    messages = [str(w.message) for w in record]
    assert any(re.search(r"ignored because max_iter and s .* \[3, 9\]", m) for m in messages)


@pytest.mark.parametrize(
    ("hyperband", "expected"),
    [
        ({"type": "hyperband", "min_iter": 0}, "0 is less than the minimum of 1"),
        (
            {"type": "hyperband", "min_iter": 2, "eta": 1},
            "1 is less than or equal to the minimum of 1",
        ),
        ({"type": "hyperband", "min_iter": 2, "strict": "yes"}, "must be true or false"),
        ({"type": "hyperband", "min_iter": 2, "bands": [1]}, "('bands' was unexpected)"),
        ({"type": "median", "min_iter": 2}, "must be hyperband"),
        ({"type": "hyperband"}, "needs min_iter, or both max_iter and s; found neither."),
        ({"type": "hyperband", "max_iter": 9, "min_iter": 1}, "found only max_iter. Add s"),
        ({"type": "hyperband", "max_iter": 2, "s": 1, "eta": 3}, "max_iter 2 / eta 3 = 0.667"),
        ({"type": "hyperband", "max_iter": 2.5, "s": 1}, "must be an integer; got 2.5"),
    ],
)
def test_config_rejects_bad_early_terminate(hyperband: dict[str, Any], expected: str) -> None:
    with pytest.raises(SweepConfigError) as info:
        check_config(_with(early_terminate=hyperband))
    assert expected in str(info.value)
    assert {p.kind for p in info.value.problems} == {"invalid_early_terminate"}


def test_config_rejects_early_terminate_without_metric() -> None:
    raw = {**_with(early_terminate={"type": "hyperband", "min_iter": 1})}
    del raw["metric"]
    with pytest.raises(SweepConfigError, match='early terminate requires "metric" section'):
        check_config(raw)


@pytest.mark.parametrize("run_cap", [True, 0, -1, 2.5, "10", None])
def test_config_rejects_run_cap_that_is_not_a_positive_int(run_cap: Any) -> None:
    with pytest.raises(SweepConfigError, match=r"run_cap: must be a positive integer"):
        check_config(_with(run_cap=run_cap))


def test_project_and_entity_are_ignored_with_one_warning_naming_both() -> None:
    with pytest.warns(SweepConfigWarning) as record:
        config = load_config(_with(project="p", entity="e", name="n", description="d"))
    assert [str(w.message).split(":")[0] for w in record] == ["project, entity"]
    assert (config.name, config.description) == ("n", "d")


def test_controller_api_version_and_kind_are_accepted_silently() -> None:
    raw = _with(controller={"type": "local"}, apiVersion="v1", kind="sweep")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load_config(raw)
    assert config.raw["controller"] == {"type": "local"}


@pytest.mark.parametrize(
    ("changes", "expected", "alternative"),
    [
        ({"method": "custom"}, "does not support method: custom", "method: bayes, random or grid"),
        ({"scheduler": {"engine": "ax"}}, "does not support `scheduler`", "use method: bayes"),
        ({"metrics": [{"name": "a"}]}, "does not support multi-objective", "one `metric: {name"),
        ({"job": "e/p/job:v0"}, "does not run W&B Launch jobs", "`program` and `command`"),
        ({"image_uri": "repo/image:tag"}, "does not run W&B Launch images", "work pool"),
    ],
)
def test_config_refuses_unsupported_wandb_features_naming_alternative(
    changes: dict[str, Any], expected: str, alternative: str
) -> None:
    with pytest.raises(SweepConfigError) as info:
        check_config(_with(**changes))
    message = str(info.value)
    assert f"prefect-sweeps {expected}" in message
    assert alternative in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"program": ["train.py"]}, "program: must be a string"),
        ({"command": "python train.py"}, "command: must be a non-empty list"),
        ({"command": []}, "command: must be a non-empty list"),
        ({"command": ["python", None]}, "command: each argument must be a string or a number"),
        ({"kind": "job"}, "kind: must be sweep"),
        ({"controller": {"type": "remote"}}, "controller: must be {type: local} or {type: cloud}"),
    ],
)
def test_config_rejects_wrongly_typed_top_level_values(
    changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(SweepConfigError, match=expected):
        check_config(_with(**changes))


def test_command_keeps_non_string_elements() -> None:
    config, _ = check_config(_with(command=["python", "train.py", 3]))
    assert config.command == ("python", "train.py", 3)


def test_bayes_refusals_are_reported_together_with_other_problems() -> None:
    raw = {"method": "bayes", "parameters": {"x": {"value": 1}}, "run_cap": 0}
    with pytest.raises(SweepConfigError) as info:
        check_config(raw)
    assert [p.kind for p in info.value.problems] == [
        "invalid_run_cap",
        "bayes_requires_metric",
        "invalid_parameter_spec",
    ]
    assert "Need at least one searchable parameter for bayes search." in str(info.value)


def test_bayes_refuses_one_item_values_lists_like_constants() -> None:
    # A one-item list is searchable in form only: bayes would repeat that point forever.
    raw = {
        "method": "bayes",
        "metric": {"name": "loss"},
        "parameters": {"x": {"value": 1}, "y": {"values": [3]}, "z": {"values": ["a", "a"]}},
    }
    with pytest.raises(SweepConfigError, match="each of x, y, z holds one value") as info:
        check_config(raw)
    assert [p.path for p in info.value.problems] == ["parameters"]

    check_config({**raw, "parameters": {**raw["parameters"], "y": {"values": [3, 4]}}})


def test_early_terminate_warns_that_no_trial_is_ended_early_yet() -> None:
    _, warnings = check_config(_with(early_terminate={"type": "hyperband", "min_iter": 3}))
    assert [w.split(":")[0] for w in warnings] == ["early_terminate"]
    assert "hyperband ends no trial early" in warnings[0]


@pytest.mark.parametrize(("run_cap", "quotes"), [("10", True), ("ten", False), ("1.5", False)])
def test_remove_the_quotes_is_said_only_of_a_quoted_whole_number(run_cap, quotes) -> None:
    with pytest.raises(SweepConfigError) as error:
        check_config(_with(run_cap=run_cap))
    assert ("Remove the quotes" in str(error.value)) == quotes
