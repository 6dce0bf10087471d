"""The leaderboard: columns, ranking and the per-fold values of a k-fold trainer."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from sweepcore.config import load_config
from sweepcore.leaderboard import build_leaderboard, to_csv_bytes, to_parquet_bytes
from sweepcore.trial import Trial, TrialState

CONFIG = load_config(
    {
        "method": "grid",
        "metric": {"name": "acc", "goal": "maximize"},
        "parameters": {
            "optim": {"parameters": {"lr": {"values": [0.1, 0.01]}}},
            "clip": {"values": [None, 0, False]},
        },
    }
)


def _trial(index: int, lr: float, clip: object, rows: list[dict], state: str) -> Trial:
    return Trial(
        Trial.id_for(index),
        index,
        {"optim": {"lr": lr}, "clip": clip},
        state=TrialState(state),
        history=tuple(rows),
        summary={k: v for row in rows for k, v in row.items()},
    )


TRIALS = [
    _trial(0, 0.1, None, [{"fold": 0, "fold_acc": 0.8}, {"fold": 1, "fold_acc": 0.9}], "finished"),
    _trial(1, 0.01, 0, [{"fold": 0, "fold_acc": 0.7}, {"acc": 0.75}], "finished"),
    _trial(2, 0.1, False, [{"acc": 0.95}, {"acc": 0.85}], "finished"),
    _trial(3, 0.01, None, [], "failed"),
]


def test_leaderboard_ranks_best_first_and_trials_without_metric_last():
    frame = build_leaderboard(CONFIG, TRIALS)
    assert list(frame["trial_id"]) == ["t00002", "t00001", "t00000", "t00003"]
    assert list(frame["acc"].iloc[:2]) == [0.95, 0.75]  # the best value, not the last
    assert list(frame.columns[:4]) == ["trial_id", "state", "clip", "optim.lr"]  # sorted


def test_trials_a_resume_runs_again_are_listed_but_not_ranked():
    # A cancelled or running trial's values come from an attempt cut short; the state record's
    # best trial ignores them, so the leaderboard must not put them first either.
    trials = [
        *TRIALS,
        _trial(4, 0.1, 0, [{"acc": 0.99}], "cancelled"),
        _trial(5, 0.01, 0, [{"acc": 0.98}], "running"),
    ]
    frame = build_leaderboard(CONFIG, trials)
    assert list(frame["trial_id"]) == ["t00002", "t00001", "t00000", "t00003", "t00004", "t00005"]
    assert frame.set_index("trial_id").loc["t00004", "acc"] == 0.99


def test_leaderboard_has_a_column_per_fold_value():
    frame = build_leaderboard(CONFIG, TRIALS).set_index("trial_id")
    assert frame.loc["t00000", "fold0.fold_acc"] == 0.8
    assert frame.loc["t00000", "fold1.fold_acc"] == 0.9
    assert frame.loc["t00001", "fold0.fold_acc"] == 0.7
    assert pd.isna(frame.loc["t00001", "fold1.fold_acc"])


def test_leaderboard_csv_and_parquet_keep_every_row_and_mixed_types():
    frame = build_leaderboard(CONFIG, TRIALS)
    csv = pd.read_csv(io.BytesIO(to_csv_bytes(frame)))
    parquet = pd.read_parquet(io.BytesIO(to_parquet_bytes(frame)))
    assert list(csv["trial_id"]) == list(parquet["trial_id"]) == list(frame["trial_id"])
    assert len(set(parquet["clip"])) == 3  # null, 0 and false stay distinct


@pytest.mark.parametrize("failure", ["failed", "timed_out"])
def test_a_failed_trial_that_logged_a_value_ranks_after_completed_ones(failure):
    # Its trainer crashed after logging: the value is kept, but the config is not a result.
    trials = [*TRIALS, _trial(4, 0.1, 0, [{"acc": 0.99}], failure)]
    frame = build_leaderboard(CONFIG, trials)
    assert list(frame["trial_id"]) == ["t00002", "t00001", "t00004", "t00000", "t00003"]
    assert frame["acc"].iloc[2] == 0.99
