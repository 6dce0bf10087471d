"""W&B conformance cases about config validation, driven by tests/cases/wandb/*.yaml.

Covered: every ``kind: validate`` case (each ``variants`` entry applied as the README says), the
config-level errors of other kinds (bayes-11, bayes-13, hb-13), and every other case's config,
which must load. ``stage: search`` cases are refused at load time, which the README allows.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sweepcore.config import SweepConfigError, check_config, load_config
from tests.cases.caselib import case_ids, load_cases

CONFIG_ERROR_IDS = (
    "bayes-11-no-searchable-parameter",
    "bayes-13-probabilities-unsupported",
    "hb-13-no-bands-is-an-error",
)
#: What our message must also say where the case file lists no reference wording.
EXTRA_MESSAGE = {
    "bayes-13-probabilities-unsupported": [
        "parameters.opt:",
        "probabilities are for method: random",
    ],
}
OTHER_KINDS = ("grid", "random", "bayes", "hyperband", "run_cap", "target")


def _apply_variant(config: dict[str, Any], variant: dict[str, Any]) -> dict[str, Any]:
    """Apply one ``variants`` entry to a copy of ``config`` (README: validate, variants)."""
    edited = copy.deepcopy(config)
    for key in ("run_cap", "early_terminate"):
        if key in variant:
            edited[key] = variant[key]
    if "add_parameter" in variant:
        edited["parameters"].update(copy.deepcopy(variant["add_parameter"]))
    if "set" in variant:
        edited.update(copy.deepcopy(variant["set"]))
    return edited


def _expand(cases: list[dict[str, Any]]) -> list[Any]:
    """One pytest param per case, or per variant; a variant's expectations win over the case's."""
    params = []
    for case in cases:
        if "variants" not in case:
            params.append(pytest.param(case["config"], case["expect"], id=case["id"]))
            continue
        for i, variant in enumerate(case["variants"]):
            expect = {**case["expect"], **variant}
            config = _apply_variant(case["config"], variant)
            params.append(pytest.param(config, expect, id=f"{case['id']}[{i}]"))
    return params


def _numeq(actual: Any, expected: Any) -> bool:
    """Equal, comparing numbers numerically (0 == 0.0) but never a bool with a number."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return actual == expected
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(
            _numeq(actual[k], expected[k]) for k in actual
        )
    if isinstance(actual, list | tuple) and isinstance(expected, list | tuple):
        return len(actual) == len(expected) and all(
            _numeq(a, e) for a, e in zip(actual, expected, strict=True)
        )
    return bool(actual == expected)


@pytest.mark.parametrize(("config", "expect"), _expand(load_cases("validate")))
def test_validate_case(config: dict[str, Any], expect: dict[str, Any]) -> None:
    if expect["valid"]:
        loaded, _ = check_config(config)
        if "filled_parameters" in expect:
            assert _numeq(loaded.filled_parameters(), expect["filled_parameters"])
        if "filled_nested_leaves" in expect:
            leaves = {p.name: p.to_spec() for p in loaded.parameters}
            assert _numeq(leaves, expect["filled_nested_leaves"])
        return

    with pytest.raises(SweepConfigError) as info:
        check_config(config)
    message = str(info.value)
    for text in expect.get("message_contains", []):
        assert text in message
    for text in expect.get("message_not_contains", []):
        assert text not in message
    if "error_kind" in expect:
        assert expect["error_kind"] in {p.kind for p in info.value.problems}


CONFIG_ERROR_CASES = [
    c for kind in ("bayes", "hyperband") for c in load_cases(kind) if c["id"] in CONFIG_ERROR_IDS
]


def test_every_config_error_case_is_present() -> None:
    assert sorted(case_ids(CONFIG_ERROR_CASES)) == sorted(CONFIG_ERROR_IDS)


@pytest.mark.parametrize("case", CONFIG_ERROR_CASES, ids=case_ids(CONFIG_ERROR_CASES))
def test_config_error_case_is_refused_at_load(case: dict[str, Any]) -> None:
    with pytest.raises(SweepConfigError) as info:
        load_config(case["config"])
    message = str(info.value)
    for text in case["expect"].get("message_contains", []) + EXTRA_MESSAGE.get(case["id"], []):
        assert text in message


ACCEPTED_CASES = [
    c
    for kind in OTHER_KINDS
    for c in load_cases(kind)
    if "config" in c and c["id"] not in CONFIG_ERROR_IDS and not c["expect"].get("error")
]


@pytest.mark.parametrize("case", ACCEPTED_CASES, ids=case_ids(ACCEPTED_CASES))
def test_engine_case_config_loads(case: dict[str, Any]) -> None:
    loaded, _ = check_config(case["config"])
    assert loaded.method == case["config"]["method"]
    assert loaded.parameters
