"""The W&B conformance cases of kind ``target``, driven through :class:`SweepController`.

Each case's history is loaded as the sweep's trials; the controller must name the trials that
reached ``metric.target``, start no new trial (``runs_created``) and stop none of the running
ones (``runs_stopped_because_of_target``).
"""

from __future__ import annotations

import pytest

from sweepcore import budget
from sweepcore.controller import SweepController
from tests.cases.caselib import case_ids, load_cases
from tests.cases.test_search_cases import history_of, load

TARGET_CASES = load_cases("target")


def test_target_cases_are_present():
    assert len(TARGET_CASES) >= 1


@pytest.mark.parametrize("case", TARGET_CASES, ids=case_ids(TARGET_CASES))
def test_target_cases(case):
    config = load(case)
    trials = history_of(case)
    names = {t.trial_id: run["id"] for t, run in zip(trials, case["history"], strict=True)}
    # Record the trials one by one, as a live controller sees them arrive: the running ones
    # are live (a fresh controller built from a store would take them as lost and re-run them).
    controller = SweepController(config, [], parallel=case["scenario"].get("requests", 1))
    for trial in trials:
        controller.record(trial)

    expect = case["expect"]
    reason = controller.stop_reason()
    reached = [names[i] for i in budget.target_reached_by(controller.history, config)]
    assert reached == expect["target_reached_by"]
    assert reason is not None and "metric target" in reason
    assert controller.n_new_wanted() == expect["runs_created"]
    still_running = [names[t.trial_id] for t in controller.history if t.state == "running"]
    live = [r["id"] for r in case["history"] if r["state"] == "running"]
    stopped = sorted(set(live) - set(still_running))
    assert stopped == expect["runs_stopped_because_of_target"]
