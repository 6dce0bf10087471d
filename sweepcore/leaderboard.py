"""The leaderboard: one row per trial, best first, as a pandas DataFrame, CSV and Parquet.

Columns, in order:

==================  ==========================================================================
``trial_id``        the trial's id (one row per trial, whatever its attempts)
``state``           ``finished``, ``failed``, ``stopped``, ``timed_out``, ``cancelled``,
                    ``running``
one per parameter   dotted names for nested ones (``optim.lr``)
``<metric name>``   the best finite value the trial logged (min or max by ``metric.goal``);
                    empty when it logged none
``attempts``        how many times the trainer ran (more than 1 after a lost attempt)
``started_at``      UTC start of the first attempt (ISO 8601)
``finished_at``     UTC end of the last attempt
``duration_s``      seconds the last attempt ran
``note``            e.g. ``metric missing``
``error``           why it failed, the tail of stderr for a command
``summary.<key>``   last logged value of every other metric the trial logged
``fold<i>.<key>``   per-fold values of a k-fold trainer: each logged row that carries an
                    integer ``fold`` gives its other numeric keys for that fold
==================  ==========================================================================

Ranking: ended trials with a metric value come first, best first (ties keep index order), then
``failed`` and ``timed_out`` trials that logged a value before they ended, best first (never the
sweep's best: their trainer did not complete); the rest follow in index order. ``running`` and
``cancelled`` trials are not ranked, whatever they logged: a resume runs them again, and the state
record's best trial is chosen among ended trials alone. Without a ``metric`` section the order is
the index order.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from sweepcore.config.model import SweepConfig
from sweepcore.space import MISSING, get_path
from sweepcore.trial import Trial, best_metric_value

__all__ = ["build_leaderboard", "to_csv_bytes", "to_json_bytes", "to_parquet_bytes"]


def build_leaderboard(config: SweepConfig, trials: Sequence[Trial]) -> pd.DataFrame:
    """One row per trial, best first; see the module docstring for the columns."""
    metric = config.metric
    rows = [_row(config, t) for t in trials]

    frame = pd.DataFrame(rows, columns=_columns(config, rows))
    if metric is not None and len(frame):
        values = pd.to_numeric(frame[metric.name], errors="coerce")
        ended = pd.Series([t.state.is_terminal for t in trials], index=frame.index)
        values = values.where(ended)
        failed = pd.Series([t.state.is_failure for t in trials], index=frame.index)
        tier = values.isna() * 2 + (values.notna() & failed)  # 0 ranked, 1 failed, 2 rest
        ranked = frame.assign(_tier=tier, _v=values)
        ranked = ranked.sort_values(
            ["_tier", "_v"],
            ascending=[True, metric.goal == "minimize"],
            kind="stable",
            na_position="last",
        )
        frame = ranked.drop(columns=["_tier", "_v"])
    return frame.reset_index(drop=True)


def _columns(config: SweepConfig, rows: list[dict[str, Any]]) -> list[str]:
    columns = ["trial_id", "state", *(p.name for p in config.parameters)]
    if config.metric is not None:
        columns.append(config.metric.name)
    columns += ["attempts", "started_at", "finished_at", "duration_s", "note", "error"]
    summary = sorted({k for row in rows for k in row if k.startswith("summary.")})
    folds = sorted(
        {k for row in rows for k in row if k.startswith("fold") and "." in k},
        key=lambda k: (int(k[4 : k.index(".")]), k),
    )
    return columns + summary + folds


def _row(config: SweepConfig, trial: Trial) -> dict[str, Any]:
    row: dict[str, Any] = {"trial_id": trial.trial_id, "state": str(trial.state)}
    for param in config.parameters:
        value = get_path(trial.params, param.path)
        row[param.name] = None if value is MISSING else value
    if config.metric is not None:
        row[config.metric.name] = best_metric_value(trial, config.metric.name, config.metric.goal)
    row["attempts"] = len(trial.attempts)
    row["started_at"] = _iso(trial.started_at)
    row["finished_at"] = _iso(trial.finished_at)
    row["duration_s"] = None if trial.duration_s is None else round(trial.duration_s, 3)
    row["note"] = trial.note
    row["error"] = _first_line(trial.error)
    metric_name = config.metric.name if config.metric else None
    for key, value in trial.summary.items():
        if key != metric_name and not key.startswith("_"):
            row[f"summary.{key}"] = value
    row.update(_fold_values(trial))
    return row


def _fold_values(trial: Trial) -> dict[str, Any]:
    """``fold<i>.<key>`` for every row logged with an integer ``fold`` (a k-fold trainer)."""
    values: dict[str, Any] = {}
    for logged in trial.history:
        fold = logged.get("fold")
        if isinstance(fold, bool) or not isinstance(fold, int):
            continue
        for key, value in logged.items():
            if key != "fold" and not key.startswith("_") and isinstance(value, int | float):
                values[f"fold{fold}.{key}"] = value
    return values


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _first_line(text: str | None) -> str | None:
    return None if not text else text.strip().splitlines()[0][:300]


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """The leaderboard as UTF-8 CSV."""
    text: str = frame.to_csv(index=False)
    return text.encode("utf-8")


def to_json_bytes(frame: pd.DataFrame) -> bytes:
    """The leaderboard as a JSON list of row objects; empty cells are ``null``.

    Floats keep their shortest exact form (as in the CSV), which pandas' own ``to_json`` does
    not: it rounds to a number of decimal places.
    """
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return json.dumps(records, indent=1, default=str).encode("utf-8") + b"\n"


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The leaderboard as Parquet.

    A parameter column may mix types (``values: [null, 0, false, "a"]``) or hold lists and
    dicts, which Parquet cannot store in one column; such columns are written as JSON text.
    """
    frame = frame.copy()
    for column in frame.columns:
        kinds = {type(v) for v in frame[column] if v is not None and not _is_nan(v)}
        if kinds <= {int, float}:
            continue
        if len(kinds) > 1 or kinds & {list, dict, tuple}:
            frame[column] = [None if v is None else json.dumps(v) for v in frame[column]]
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value
