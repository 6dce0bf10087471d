"""BR-33 and BR-34 through the sweep flow, on moto with injected faults (see
tests/sweepcore/store/faults.py): what the controller treats as done comes from the training
tasks' own results and from create-only claims, never from a listing alone."""

from __future__ import annotations

import json

import pytest

from sweepcore.store import open_store
from sweepcore.trial import Trial, TrialState
from tests.sweepcore.store import faults

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

# Fixtures shared with the store tests.
moto_endpoint = faults.moto_endpoint
faulty_s3 = faults.faulty_s3


def _calls(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lagging_listings_and_reads_never_relaunch_a_config(faulty_s3, tmp_path):
    """BR-33: keys show up in listings 2 s late and their first read is a 404. Random sweep,
    4 slots, 20 runs of 0.5 s: exactly 20 runs, none re-launched; and a resume that sees no
    record at all in the listing re-launches none either (its claims find the ids taken)."""
    from flows.sweep import sweep
    from sweepcore.store import s3 as s3_module

    faulty_s3.lag_s = 2.0
    calls = tmp_path / "calls.jsonl"
    config = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "run_cap": 20,
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "calls": {"value": str(calls)}},
    }
    url = "s3://faults/br33"
    fn = "tests.flows.s3_trainers:recorded"
    summary = sweep(config=config, function=fn, store=url, sweep_id="s", parallel=4, seed=5)
    assert summary["states"] == {"finished": 20}
    assert len(_calls(calls)) == 20 and len({c["x"] for c in _calls(calls)}) == 20

    # A resume in a new process (nothing is "recently written" there) while the store lags
    # even more on trial records: none shows in the listing, and the first read of each is a
    # 404.
    s3_module._RECENT_WRITES = s3_module.RecentWrites()
    faulty_s3.lag_s, faulty_s3.lag_only = 60.0, "/trials/"
    summary = sweep(store=url, sweep_id="s", parallel=4)
    assert summary["states"] == {"finished": 20}
    assert len(_calls(calls)) == 20
    trials = open_store(url).load_trials("s")
    assert [t.index for t in trials] == list(range(20))
    assert faulty_s3.n_hidden_listed >= 20 and faulty_s3.n_hidden_reads >= 20


def test_claim_conflict_moves_on_to_the_next_free_grid_point(faulty_s3, tmp_path, caplog):
    """BR-34: controller A's create-only claim of t00002 (grid point x=2) gets 409 while
    controller B's claim of the same point lands; A's retry gets 412, A takes it as 'already
    claimed', claims the next free point, and no point is trained twice."""
    from flows.sweep import sweep

    calls = tmp_path / "calls.jsonl"
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [0, 1, 2, 3, 4, 5]}, "calls": {"value": str(calls)}},
    }
    url = "s3://faults/br34"
    theirs = Trial(
        "t00002",
        2,
        {"x": 2, "calls": str(calls)},
        state=TrialState.FINISHED,
        summary={"loss": 2.0},
    )
    faulty_s3.conflicts["br34/g/trials/t00002.json"] = lambda: open_store(url).claim_trial(
        "g", theirs
    )
    with caplog.at_level("INFO"):
        summary = sweep(
            config=config,
            function="tests.flows.s3_trainers:recorded",
            store=url,
            sweep_id="g",
            parallel=2,
        )

    assert faulty_s3.n_conflicts == 1
    trials = open_store(url).load_trials("g")
    assert sorted(t.params["x"] for t in trials) == [0, 1, 2, 3, 4, 5]
    assert sorted(c["x"] for c in _calls(calls)) == [0, 1, 3, 4, 5]  # B trains x=2
    assert trials[2].summary == {"loss": 2.0} and not trials[2].attempts
    assert summary["states"] == {"finished": 6}
    assert "trial id t00002 was already claimed" in caplog.text
    assert "ClientError" not in caplog.text
