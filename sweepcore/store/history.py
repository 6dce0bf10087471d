"""Metric histories written in bounded parts (see :mod:`sweepcore.store.base`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sweepcore import serialize
from sweepcore.store.errors import StoreError

if TYPE_CHECKING:
    from sweepcore.store.base import ResultStore

__all__ = ["HistoryWriter"]

logger = logging.getLogger(__name__)


class HistoryWriter:
    """Appends metric rows of one attempt to the store in bounded parts.

    Rows are buffered; :meth:`flush` writes the open part (whole-object). Once a part holds
    ``part_rows`` rows it is closed for good and later rows go to the next part.

    A flush that fails (the store is down) keeps its rows and is retried by the next flush,
    so a store hiccup never fails the trainer that logs; :meth:`close` raises instead, so the
    end of an attempt is never recorded with rows missing.
    """

    def __init__(self, store: ResultStore, sweep_id: str, trial_id: str, attempt: int) -> None:
        self.store = store
        self.prefix = f"{sweep_id}/trials/{trial_id}.history/a{attempt:03d}"
        self.part = 0
        self.open_rows: list[bytes] = []
        self.n_pending = 0

    def append(self, row: Mapping[str, Any]) -> None:
        """Buffer one row; it reaches the store at the next :meth:`flush`."""
        self.open_rows.append(serialize.dumps(dict(row)))
        self.n_pending += 1
        if len(self.open_rows) >= self.store.part_rows:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows; a full part is closed and a new one started.

        A :class:`StoreError` is logged and the rows stay buffered for the next flush.
        """
        try:
            self._write_open_part()
        except StoreError as exc:
            logger.warning("history of %s not written yet (retried later): %s", self.prefix, exc)

    def close(self) -> None:
        """Write every buffered row.

        Raises:
            StoreError: The store failed; the rows are still buffered.
        """
        self._write_open_part()

    def _write_open_part(self) -> None:
        # Rows pile up past part_rows only while writes fail; they still go out in parts of
        # at most part_rows rows.
        while self.n_pending and len(self.open_rows) >= self.store.part_rows:
            self._put(self.open_rows[: self.store.part_rows])
            self.open_rows = self.open_rows[self.store.part_rows :]
            self.n_pending = min(self.n_pending, len(self.open_rows))
            self.part += 1
        if self.n_pending:
            self._put(self.open_rows)
            self.n_pending = 0

    def _put(self, rows: list[bytes]) -> None:
        key = f"{self.prefix}-p{self.part:05d}.jsonl"
        self.store.blobs.write(key, b"\n".join(rows) + b"\n")
