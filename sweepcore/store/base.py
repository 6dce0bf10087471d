"""The results store: a sweep's memory, on a local folder or an S3 bucket.

The store is two layers. A :class:`BlobStore` moves whole objects (bytes) under string keys;
``local.py`` and ``s3.py`` implement it. :class:`ResultStore` gives those objects their meaning
(configs, trials, metric histories, leases, the leaderboard) and is the same code for every
backend, so the key layout below holds on disk and on S3 alike::

    <sweep_id>/sweep.yaml                          the config as given
    <sweep_id>/state.json                          status, seed, counters, created/updated
    <sweep_id>/lease.json                          the live controller: holder, heartbeat, expiry
    <sweep_id>/trials/<trial_id>.json              params, state, summary, error, attempts
    <sweep_id>/trials/<trial_id>.history/a<attempt>-p<part>.jsonl   metric rows, in parts
    <sweep_id>/trials/<trial_id>.stop              stop request
    <sweep_id>/results.parquet, results.csv        leaderboard

Guarantees every backend gives:

* Writes are whole-object and atomic: a reader sees the old object or the new one, never a
  torn one (rename on disk, a single PUT on S3).
* :meth:`BlobStore.create` is a conditional create: of two concurrent creators of one key,
  exactly one succeeds. Trial ids are claimed with it, so two controllers never take the same
  trial.
* Every JSON object is strict JSON (see :mod:`sweepcore.serialize`): NaN and infinities
  round-trip as floats.

History parts: the rows of one attempt are written to part files of at most ``part_rows`` rows.
A part is rewritten while it fills and never again once full, so a long history costs linear
upload volume. Each attempt has its own parts; readers take the latest attempt's rows only, so
rows logged by an attempt that was lost never mix with its re-run.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import yaml

from sweepcore import serialize
from sweepcore.trial import Trial

__all__ = [
    "BlobStore",
    "HistoryWriter",
    "Lease",
    "LeaseHeldError",
    "ResultStore",
    "StoreError",
    "SweepNotFoundError",
]

logger = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The store cannot be used; the message names the store URL and what failed."""


class SweepNotFoundError(StoreError):
    """No sweep with the asked id exists in the store."""


class LeaseHeldError(StoreError):
    """Another live controller holds the sweep's lease."""


class BlobStore(Protocol):
    """Whole objects under string keys (``/``-separated). Implemented per backend."""

    #: Where the objects live, as the user wrote it (``./sweeps``, ``s3://bucket/prefix``).
    url: str

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or ``None`` when it does not exist."""
        ...

    def write(self, key: str, data: bytes) -> None:
        """Replace the object atomically."""
        ...

    def create(self, key: str, data: bytes) -> bool:
        """Create the object only if absent; ``False`` when it already exists."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted (all pages)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object if it exists."""
        ...

    def check(self) -> None:
        """Raise :class:`StoreError` with a one-line reason when the store is unusable."""
        ...

    # Optional: ``compare_and_swap(key, expected: bytes, data: bytes) -> bool`` replaces the
    # object only if it still holds ``expected`` (``False`` otherwise). A backend that has it
    # (S3, with If-Match) makes lease takeovers race-free; ResultStore falls back to a plain
    # read-compare-write when it is missing. It stays out of the protocol so that existing
    # backends keep satisfying it.


@dataclass(frozen=True)
class Lease:
    """Who runs a sweep's controller right now.

    Attributes:
        holder: Random id of the controller.
        host: Host name it runs on.
        pid: Its process id.
        heartbeat_at: Unix time of its last heartbeat.
        expires_at: Unix time after which the lease may be taken over.
    """

    holder: str
    host: str
    pid: int
    heartbeat_at: float
    expires_at: float

    def is_local_and_alive(self) -> bool:
        """Whether the holder is a live process on this host (then it surely holds on)."""
        return self.host == socket.gethostname() and _pid_alive(self.pid)

    def is_alive(self, now: float) -> bool:
        """Whether the holder should be presumed alive at ``now``.

        A holder on this host whose process is gone is dead at once; otherwise the lease
        lives until it expires.
        """
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return False
        return now < self.expires_at


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultStore:
    """Sweeps, trials and metric histories on top of a :class:`BlobStore`.

    Args:
        blobs: The backend.
        part_rows: Most rows in one history part.
    """

    def __init__(self, blobs: BlobStore, part_rows: int = 1000) -> None:
        self.blobs = blobs
        self.part_rows = part_rows

    @property
    def url(self) -> str:
        """The store's location, as given."""
        return self.blobs.url

    # -- sweeps -------------------------------------------------------------------------

    def sweep_exists(self, sweep_id: str) -> bool:
        """Whether ``sweep_id`` has a config in this store."""
        return self.blobs.read(f"{sweep_id}/sweep.yaml") is not None

    def create_sweep(
        self, sweep_id: str, raw_config: Mapping[str, Any], state: Mapping[str, Any]
    ) -> bool:
        """Write a new sweep's config and state; ``False`` if the id is already taken."""
        text = yaml.safe_dump(dict(raw_config), sort_keys=False).encode("utf-8")
        if not self.blobs.create(f"{sweep_id}/sweep.yaml", text):
            return False
        self.write_state(sweep_id, state)
        return True

    def read_config(self, sweep_id: str) -> dict[str, Any]:
        """The config the sweep was created with, as given.

        Raises:
            SweepNotFoundError: No such sweep in this store.
        """
        data = self.blobs.read(f"{sweep_id}/sweep.yaml")
        if data is None:
            raise SweepNotFoundError(f"{self.url}: no sweep with id {sweep_id!r}")
        loaded = yaml.safe_load(data.decode("utf-8"))
        return dict(loaded or {})

    def read_state(self, sweep_id: str) -> dict[str, Any]:
        """The sweep's state record (``{}`` if none was written)."""
        data = self.blobs.read(f"{sweep_id}/state.json")
        return dict(serialize.loads(data)) if data else {}

    def write_state(self, sweep_id: str, state: Mapping[str, Any]) -> None:
        """Replace the sweep's state record, stamping ``updated_at``."""
        record = {**state, "updated_at": time.time()}
        self.blobs.write(f"{sweep_id}/state.json", serialize.dumps(record, indent=1))

    def list_sweeps(self) -> list[str]:
        """Ids of every sweep in the store."""
        ids = {key.split("/", 1)[0] for key in self.blobs.list("") if key.endswith("sweep.yaml")}
        return sorted(ids)

    # -- trials -------------------------------------------------------------------------

    def claim_trial(self, sweep_id: str, trial: Trial) -> bool:
        """Create the trial's record only if its id is free; ``False`` if it is taken."""
        key = f"{sweep_id}/trials/{trial.trial_id}.json"
        return self.blobs.create(key, serialize.dumps(trial.to_record(), indent=1))

    def write_trial(self, sweep_id: str, trial: Trial) -> None:
        """Replace the trial's record (its history is written by :class:`HistoryWriter`)."""
        key = f"{sweep_id}/trials/{trial.trial_id}.json"
        self.blobs.write(key, serialize.dumps(trial.to_record(), indent=1))

    def load_trial(self, sweep_id: str, trial_id: str, with_history: bool = True) -> Trial:
        """One trial, with the rows of its latest attempt."""
        data = self.blobs.read(f"{sweep_id}/trials/{trial_id}.json")
        if data is None:
            raise StoreError(f"{self.url}: sweep {sweep_id!r} has no trial {trial_id!r}")
        record = serialize.loads(data)
        history = self.load_history(sweep_id, trial_id) if with_history else []
        return Trial.from_record(record, history)

    def load_trials(self, sweep_id: str, with_history: bool = True) -> list[Trial]:
        """Every trial of the sweep in index order, with their latest attempt's rows."""
        keys = self.blobs.list(f"{sweep_id}/trials/")
        records = [k for k in keys if k.endswith(".json") and ".history/" not in k]
        parts: dict[str, list[str]] = {}
        for key in keys:
            if ".history/" in key:
                trial_id = key.rsplit("/", 2)[-2].removesuffix(".history")
                parts.setdefault(trial_id, []).append(key)

        trials = []
        for key in records:
            data = self.blobs.read(key)
            if data is None:  # deleted between list and read
                continue
            record = serialize.loads(data)
            rows = self._read_parts(parts.get(record["trial_id"], [])) if with_history else []
            trials.append(Trial.from_record(record, rows))
        return sorted(trials, key=lambda t: t.index)

    def load_history(self, sweep_id: str, trial_id: str) -> list[dict[str, Any]]:
        """The metric rows of the trial's latest attempt, in order."""
        return self._read_parts(self.blobs.list(f"{sweep_id}/trials/{trial_id}.history/"))

    def _read_parts(self, keys: Iterable[str]) -> list[dict[str, Any]]:
        keys = sorted(keys)
        if not keys:
            return []
        latest = max(k.rsplit("/", 1)[-1].split("-", 1)[0] for k in keys)
        rows: list[dict[str, Any]] = []
        for key in keys:
            if key.rsplit("/", 1)[-1].split("-", 1)[0] != latest:
                continue
            data = self.blobs.read(key)
            if data:
                rows += [serialize.loads(line) for line in data.splitlines() if line.strip()]
        return rows

    def history_writer(self, sweep_id: str, trial_id: str, attempt: int) -> HistoryWriter:
        """A writer for the rows of one attempt of a trial."""
        return HistoryWriter(self, sweep_id, trial_id, attempt)

    # -- stop requests ------------------------------------------------------------------

    def request_stop(self, sweep_id: str, trial_id: str, reason: str) -> None:
        """Ask a running trial to stop (its trainer sees ``run.should_stop``)."""
        record = {"reason": reason, "at": time.time()}
        self.blobs.write(f"{sweep_id}/trials/{trial_id}.stop", serialize.dumps(record))

    def stop_requested(self, sweep_id: str, trial_id: str) -> str | None:
        """The stop reason if a stop was requested, else ``None``."""
        data = self.blobs.read(f"{sweep_id}/trials/{trial_id}.stop")
        return str(serialize.loads(data).get("reason", "stop requested")) if data else None

    def clear_stop(self, sweep_id: str, trial_id: str) -> None:
        """Forget a stop request (before a trial is re-run)."""
        self.blobs.delete(f"{sweep_id}/trials/{trial_id}.stop")

    # -- leaderboard --------------------------------------------------------------------

    def write_results(self, sweep_id: str, csv: bytes, parquet: bytes) -> None:
        """Replace the leaderboard files."""
        self.blobs.write(f"{sweep_id}/results.csv", csv)
        self.blobs.write(f"{sweep_id}/results.parquet", parquet)

    # -- lease --------------------------------------------------------------------------

    def read_lease(self, sweep_id: str) -> Lease | None:
        """The current lease record, if any (it may be expired)."""
        data = self.blobs.read(f"{sweep_id}/lease.json")
        return Lease(**serialize.loads(data)) if data else None

    def acquire_lease(self, sweep_id: str, ttl_s: float = 30.0) -> Lease:
        """Become the sweep's controller.

        Raises:
            LeaseHeldError: Another controller holds a live lease; the message says whose and
                until when.
        """
        now = time.time()
        lease = Lease(uuid.uuid4().hex, socket.gethostname(), os.getpid(), now, now + ttl_s)
        key = f"{sweep_id}/lease.json"
        payload = serialize.dumps(lease.__dict__)
        for _ in range(3):  # the lease may be released or taken over while we look at it
            if self.blobs.create(key, payload):
                return lease
            raw = self.blobs.read(key)
            if raw is None:
                continue
            current = Lease(**serialize.loads(raw))
            if current.is_alive(now):
                raise LeaseHeldError(
                    f"sweep {sweep_id!r} in {self.url} is being run by another controller "
                    f"(pid {current.pid} on {current.host}, heartbeat "
                    f"{now - current.heartbeat_at:.0f} s ago; the lease expires in "
                    f"{current.expires_at - now:.0f} s)"
                )
            if self._compare_and_swap(key, raw, payload):
                logger.info(
                    "took over sweep %r from a dead controller (pid %s on %s)",
                    sweep_id,
                    current.pid,
                    current.host,
                )
                return lease
        raise LeaseHeldError(
            f"sweep {sweep_id!r} in {self.url}: another controller took the lease over first"
        )

    def _compare_and_swap(self, key: str, expected: bytes, data: bytes) -> bool:
        """Replace ``key`` only if it still holds ``expected`` (see :class:`BlobStore`)."""
        swap = getattr(self.blobs, "compare_and_swap", None)
        if swap is not None:
            return bool(swap(key, expected, data))
        # Backends without a compare-and-swap (the local folder) read, compare and write: two
        # controllers taking over the same dead lease in the same instant could both win. A
        # locked read-modify-write in the backend would close the gap.
        if self.blobs.read(key) != expected:
            return False
        self.blobs.write(key, data)
        return True

    def renew_lease(self, sweep_id: str, lease: Lease, ttl_s: float = 30.0) -> Lease:
        """Heartbeat: push the lease's expiry ``ttl_s`` seconds ahead."""
        now = time.time()
        renewed = Lease(lease.holder, lease.host, lease.pid, now, now + ttl_s)
        self.blobs.write(f"{sweep_id}/lease.json", serialize.dumps(renewed.__dict__))
        return renewed

    def release_lease(self, sweep_id: str, lease: Lease) -> None:
        """Give the lease up, if it is still ours."""
        current = self.read_lease(sweep_id)
        if current is not None and current.holder == lease.holder:
            self.blobs.delete(f"{sweep_id}/lease.json")


class HistoryWriter:
    """Appends metric rows of one attempt to the store in bounded parts.

    Rows are buffered; :meth:`flush` writes the open part (whole-object). Once a part holds
    ``part_rows`` rows it is closed for good and later rows go to the next part.
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
        """Write buffered rows; a full part is closed and a new one started."""
        if not self.n_pending:
            return
        key = f"{self.prefix}-p{self.part:05d}.jsonl"
        self.store.blobs.write(key, b"\n".join(self.open_rows) + b"\n")
        self.n_pending = 0
        if len(self.open_rows) >= self.store.part_rows:
            self.part += 1
            self.open_rows = []
