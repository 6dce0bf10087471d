"""W&B conformance cases of ``kind: command``: the exact argv and files for a command."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from sweepcore.command import build_launch
from tests.cases.caselib import case_ids, load_cases

CASES = load_cases("command")


def test_command_cases_are_present() -> None:
    assert len(CASES) >= 7


@pytest.mark.parametrize("case", CASES, ids=case_ids(CASES))
def test_command_case_matches_wandb(case: dict[str, Any]) -> None:
    inputs = case["inputs"]

    # Some cases drop unknown macros on purpose; the warning that explains it is not under test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        launch = build_launch(
            inputs["params"],
            program=inputs.get("program"),
            command=inputs.get("command"),
            sweep_id=inputs["sweep_id"],
            run_id=inputs["run_id"],
            work_dir=inputs["wandb_dir"],
            environ=inputs.get("env") or {},
            os_name=inputs["os"],
        )

    assert launch.argv == case["expect"]["argv"]
    assert all(isinstance(element, str) for element in launch.argv)
    for path, text in case["expect"].get("files", {}).items():
        assert launch.files[path] == text
