"""What a training program sees: its config, ``run.log`` and ``run.should_stop``.

A Python trainer is a function ``train(config, run)``. ``config`` holds the trial's parameter
values, nested as in the sweep config; ``run`` is a :class:`Run`::

    def train(config, run):
        for epoch in range(10):
            loss = fit_one_epoch(config["optim"]["lr"])
            run.log({"loss": loss}, step=epoch)
            if run.should_stop:       # a stopping rule ended this trial early
                return

A command-line trainer reports by printing one JSON object per line on standard output
(``print(json.dumps({"loss": 0.3}))``); the controller turns each line into a ``run.log`` call.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sweepcore.store.base import HistoryWriter

__all__ = ["TIME_LIMIT", "Run"]

#: Seconds between flushes of logged rows to the store while a trainer runs.
FLUSH_INTERVAL_S = 2.0
#: Seconds between reads of the store's stop marker.
STOP_POLL_S = 1.0
#: The stop reason once a trial's time limit has passed.
TIME_LIMIT = "time limit reached"


class Run:
    """The handle a trainer logs through.

    Args:
        trial_id: The trial's id.
        sweep_id: The sweep's id.
        config: The trial's parameters (nested dicts).
        writer: Where rows go; ``None`` keeps them in memory only (handy in notebooks).
        stop_check: Returns a reason when the trial should stop, else ``None``.
        deadline: Unix time after which :attr:`should_stop` turns true (the time limit).
        time_limit_reason: The stop reason once ``deadline`` has passed; say there where the
            limit was set, so that a user who finds the trial ``timed_out`` knows what to raise.

    Attributes:
        history: Every logged row, in order.
        summary: Last logged value of every key.
    """

    def __init__(
        self,
        trial_id: str,
        sweep_id: str,
        config: Mapping[str, Any],
        writer: HistoryWriter | None = None,
        stop_check: Callable[[], str | None] | None = None,
        deadline: float | None = None,
        time_limit_reason: str = TIME_LIMIT,
    ) -> None:
        self.trial_id = trial_id
        self.sweep_id = sweep_id
        self.config = dict(config)
        self.history: list[dict[str, Any]] = []
        self.summary: dict[str, Any] = {}
        self._writer = writer
        self._stop_check = stop_check
        self._deadline = deadline
        self._time_limit_reason = time_limit_reason
        self._timed_out = False
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self._last_stop_poll = 0.0
        self._stop_reason: str | None = None
        self._cancelled = False
        self._closed = False

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Record one row of metrics.

        Args:
            metrics: Metric name to value. Numbers (NaN and infinities included) are kept as
                floats or ints; strings, booleans, ``None``, lists and dicts of those are kept
                as given.
            step: Optional step number, stored as ``_step``. When omitted the row's position
                is the step.

        Raises:
            TypeError: A value cannot be stored as JSON (a model, an array); the message names
                its key. The row is not recorded, so a trainer that lets it escape fails its
                trial with that message instead of losing it later in the store.
        """
        row = {str(k): _plain(v) for k, v in metrics.items()}
        for key, value in row.items():
            _check_storable(key, value)
        if step is not None:
            row["_step"] = int(step)
        with self._lock:
            if self._closed:
                raise RuntimeError(
                    f"run.log: trial {self.trial_id}'s attempt has ended; the row is dropped"
                )
            self.history.append(row)
            self.summary.update({k: v for k, v in row.items() if not k.startswith("_")})
            if self._writer is not None:
                self._writer.append(row)
                if time.monotonic() - self._last_flush >= FLUSH_INTERVAL_S:
                    self._flush_locked()

    def flush(self) -> None:
        """Write buffered rows to the store now."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._writer is not None:
            self._writer.flush()
        self._last_flush = time.monotonic()

    @property
    def should_stop(self) -> bool:
        """Whether the trainer should return now: a stop was requested or time is up.

        Cheap to call every step: the store is read at most once a second.
        """
        if self._stop_reason is not None:
            return True
        if self._deadline is not None and time.time() >= self._deadline:
            self._stop_reason = self._time_limit_reason
            self._timed_out = True
            return True
        now = time.monotonic()
        if self._stop_check is not None and now - self._last_stop_poll >= STOP_POLL_S:
            self._last_stop_poll = now
            reason = self._stop_check()
            # A cancel may land while the store is read (another thread); never undo it.
            if reason is not None and self._stop_reason is None:
                self._stop_reason = reason
        return self._stop_reason is not None

    @property
    def stop_reason(self) -> str | None:
        """Why :attr:`should_stop` turned true, if it did."""
        return self._stop_reason

    @property
    def timed_out(self) -> bool:
        """Whether :attr:`should_stop` turned true because the time limit passed."""
        return self._timed_out and not self._cancelled

    @property
    def is_cancelled(self) -> bool:
        """Whether the sweep was cancelled while this trial ran (see :meth:`cancel`)."""
        return self._cancelled

    def cancel(self, reason: str) -> None:
        """End the trial because the user cancelled the sweep: :attr:`should_stop` turns true.

        The trial then ends ``cancelled``, and a resume runs it again.
        """
        self._cancelled = True
        self._stop_reason = reason

    def close(self) -> None:
        """Refuse further rows: the attempt is over (a trainer left running past its end)."""
        with self._lock:
            self._closed = True


def _check_storable(key: str, value: Any) -> None:
    """Raise :class:`TypeError` naming ``key`` unless ``value`` is plain JSON data."""
    if value is None or isinstance(value, bool | int | float | str):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_storable(key, item)
        return
    if isinstance(value, dict):
        for name, item in value.items():
            if not isinstance(name, str):
                break
            _check_storable(f"{key}.{name}", item)
        else:
            return
    raise TypeError(
        f"run.log: the value of {key!r} (of type {type(value).__name__}) cannot be stored; "
        "log numbers, strings, booleans, None, or lists and dicts of them"
    )


def _plain(value: Any) -> Any:
    """Numpy scalars become Python numbers so rows stay JSON-ready."""
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, list | dict):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return float(value)
    return value
