"""Trials: one suggested point of the search space and everything that happened to it.

A trial id is one row of the leaderboard, whatever its attempts. An *attempt* is one execution of
the trainer; an attempt whose process was lost (the controller or its worker died) does not end
the trial: the trial runs again under the same id, and the lost attempt stays in ``attempts``.

States (the one set used by the store, the CLI, the export and the README):

=============  ===========================================================================
``running``    an attempt is under way (or was, when a controller died: see ``lost``)
``finished``   the trainer returned (or exited 0)
``failed``     the trainer raised or exited non-zero
``stopped``    ended early by a stopping rule
``timed_out``  ran past its time limit
``cancelled``  the user cancelled the sweep while it ran; a resume runs it again
=============  ===========================================================================
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "Attempt",
    "Trial",
    "TrialState",
    "best_metric_value",
    "finite_metric_values",
    "has_logged_metric",
    "last_metric_value",
]


class TrialState(StrEnum):
    """Where a trial stands; see the module docstring."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether the trial is over (``cancelled`` is not: a resume runs it again)."""
        return self in (
            TrialState.FINISHED,
            TrialState.FAILED,
            TrialState.STOPPED,
            TrialState.TIMED_OUT,
        )

    @property
    def is_failure(self) -> bool:
        """Whether the trial ended without completing: ``failed`` or ``timed_out``.

        What such a trial logged is not a result, since its trainer did not get to the end: it
        is never the sweep's best, does not reach ``metric.target``, and bayes imputes it (as
        W&B does for crashed and killed runs).
        """
        return self in (TrialState.FAILED, TrialState.TIMED_OUT)


@dataclass(frozen=True)
class Attempt:
    """One execution of a trial's trainer.

    Attributes:
        number: 1 for the first attempt.
        started_at: Unix time the attempt started.
        ended_at: Unix time it ended, ``None`` while it runs.
        outcome: A :class:`TrialState` value, or ``lost`` when its process died with the
            controller or worker (it is then re-run under the same trial id).
        error: Error text (the tail of stderr for a command trainer), if any.
    """

    number: int
    started_at: float
    ended_at: float | None = None
    outcome: str = "running"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "number": self.number,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "outcome": self.outcome,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attempt:
        """Inverse of :meth:`to_dict`."""
        return cls(
            number=int(data["number"]),
            started_at=float(data["started_at"]),
            ended_at=None if data.get("ended_at") is None else float(data["ended_at"]),
            outcome=str(data.get("outcome", "running")),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class Trial:
    """One point of the search space and its results.

    Attributes:
        trial_id: Stable id, unique within the sweep (``t00007`` for index 7).
        index: Position in suggestion order, from 0; seeds random draws per index.
        params: The values the trainer receives, nested as in the config.
        state: See :class:`TrialState`.
        history: Logged rows in order; each a dict of metric name to value (may include
            ``_step``).
        summary: Last logged value of every key.
        error: Why it failed, timed out or was cancelled.
        note: A remark for people, e.g. ``metric missing``.
        attempts: Every execution, the current one last.
        created_at: Unix time the trial was claimed.
    """

    trial_id: str
    index: int
    params: Mapping[str, Any]
    state: TrialState = TrialState.RUNNING
    history: tuple[Mapping[str, Any], ...] = ()
    summary: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    note: str | None = None
    attempts: tuple[Attempt, ...] = ()
    created_at: float = field(default_factory=time.time)

    @staticmethod
    def id_for(index: int) -> str:
        """The trial id of suggestion ``index``."""
        return f"t{index:05d}"

    @property
    def started_at(self) -> float | None:
        """Start of the first attempt."""
        return self.attempts[0].started_at if self.attempts else None

    @property
    def finished_at(self) -> float | None:
        """End of the last attempt, if it has ended."""
        return self.attempts[-1].ended_at if self.attempts else None

    @property
    def duration_s(self) -> float | None:
        """Seconds the last attempt ran, if it has ended."""
        if not self.attempts or self.attempts[-1].ended_at is None:
            return None
        last = self.attempts[-1]
        assert last.ended_at is not None
        return last.ended_at - last.started_at

    def evolve(self, **changes: Any) -> Trial:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready trial record, without ``history`` (stored in parts of its own)."""
        return {
            "trial_id": self.trial_id,
            "index": self.index,
            "params": dict(self.params),
            "state": str(self.state),
            "summary": dict(self.summary),
            "error": self.error,
            "note": self.note,
            "attempts": [a.to_dict() for a in self.attempts],
            "created_at": self.created_at,
        }

    @classmethod
    def from_record(
        cls, data: Mapping[str, Any], history: Iterable[Mapping[str, Any]] = ()
    ) -> Trial:
        """Inverse of :meth:`to_record`, joined with the trial's ``history`` rows."""
        return cls(
            trial_id=str(data["trial_id"]),
            index=int(data["index"]),
            params=dict(data.get("params") or {}),
            state=TrialState(data.get("state", "running")),
            history=tuple(history),
            summary=dict(data.get("summary") or {}),
            error=data.get("error"),
            note=data.get("note"),
            attempts=tuple(Attempt.from_dict(a) for a in data.get("attempts") or ()),
            created_at=float(data.get("created_at") or 0.0),
        )


def _as_number(value: Any) -> float | None:
    """``value`` as a float if it is a real number (booleans and strings are not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def finite_metric_values(trial: Trial, metric: str) -> list[float]:
    """Finite numeric values of ``metric`` in the trial's history, then its summary.

    NaN, infinities, strings and booleans are left out.
    """
    rows = [*trial.history, trial.summary]
    found = [_as_number(row.get(metric)) for row in rows if metric in row]
    return [v for v in found if v is not None and math.isfinite(v)]


def has_logged_metric(trial: Trial, metric: str | None) -> bool:
    """Whether the trial logged any numeric value of ``metric`` (or any metric at all when
    ``metric`` is ``None``); NaN counts as logged, it is still a report."""
    rows = [*trial.history, trial.summary]
    if metric is None:
        return any(any(not k.startswith("_") for k in row) for row in rows)
    return any(_as_number(row.get(metric)) is not None for row in rows if metric in row)


def best_metric_value(trial: Trial, metric: str, goal: str) -> float | None:
    """Best finite value of ``metric`` logged by the trial (W&B's ``metric_extremum``).

    Returns:
        The minimum (``goal='minimize'``) or maximum, or ``None`` when nothing finite was
        logged.
    """
    values = finite_metric_values(trial, metric)
    if not values:
        return None
    return max(values) if goal == "maximize" else min(values)


def last_metric_value(trial: Trial, metric: str) -> float | None:
    """Last finite value of ``metric`` in the history rows (the summary is not used)."""
    for row in reversed(trial.history):
        value = _as_number(row.get(metric))
        if value is not None and math.isfinite(value):
            return value
    return None
