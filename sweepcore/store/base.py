"""The results store: a sweep's memory, on a local folder or an S3 bucket.

The store is two layers. A :class:`BlobStore` moves whole objects (bytes) under string keys;
``local.py`` and ``s3.py`` implement it. :class:`ResultStore` gives those objects their meaning
(configs, trials, metric histories, leases, the leaderboard) and is the same code for every
backend, so the key layout below holds on disk and on S3 alike::

    <sweep_id>/sweep.yaml                          the config as given
    <sweep_id>/state.json                          status, seed, counters, created/updated
    <sweep_id>/lease.json                          the live controller: holder, heartbeat, expiry
    <sweep_id>/trials/<trial_id>.json              params, state, summary, error, attempts
                                                   (and, once ended, a short history's rows)
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
* Listing follows every page, and :meth:`ResultStore.load_trials` does not trust a listing
  alone: trial ids are dense (``t00000``, ``t00001``, ...), so ids missing below the highest
  listed one, and the id just above it, are read directly, for stores whose listings lag
  behind writes (BR-33).

History parts: the rows of one attempt are written to part files of at most ``part_rows`` rows.
A part is rewritten while it fills and never again once full, so a long history costs linear
upload volume (each row is uploaded at most once per flush of its part, and flushes are time
bound: see :mod:`sweepcore.run`). Each attempt has its own parts; readers take the latest
attempt's rows only, so rows logged by an attempt that was lost never mix with its re-run.
"""

from __future__ import annotations

import difflib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import yaml

from sweepcore import serialize
from sweepcore.store.errors import LeaseHeldError, StoreError, SweepNotFoundError
from sweepcore.store.history import HistoryWriter
from sweepcore.store.lease import Lease
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

#: Rows in one history part; see the module docstring.
PART_ROWS = 200
#: Objects read at once when a sweep is loaded (resume, export).
READ_THREADS = 16
#: Seconds between looks at a lease held by a controller that may be gone.
LEASE_POLL_S = 1.0
#: An ended trial's record embeds its history when it has at most this many rows.
EMBED_ROWS = 100
_EMBEDDED = "history_rows"


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


class ResultStore:
    """Sweeps, trials and metric histories on top of a :class:`BlobStore`.

    Args:
        blobs: The backend.
        part_rows: Most rows in one history part.
    """

    def __init__(self, blobs: BlobStore, part_rows: int = PART_ROWS) -> None:
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

    def replace_config(self, sweep_id: str, raw_config: Mapping[str, Any]) -> None:
        """Overwrite an existing sweep's config (a resume that raised ``run_cap``, say).

        The caller checks first that the search space is unchanged
        (:func:`sweepcore.config.require_same_search_space`).
        """
        text = yaml.safe_dump(dict(raw_config), sort_keys=False).encode("utf-8")
        self.blobs.write(f"{sweep_id}/sweep.yaml", text)

    def read_config(self, sweep_id: str) -> dict[str, Any]:
        """The config the sweep was created with, as given.

        Raises:
            SweepNotFoundError: No such sweep in this store.
        """
        data = self.blobs.read(f"{sweep_id}/sweep.yaml")
        if data is None:
            raise SweepNotFoundError(
                f"{self.url}: no sweep with id {sweep_id!r}{self.closest_hint(sweep_id)}"
            )
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

    def closest_sweep(self, sweep_id: str) -> str | None:
        """The stored sweep id ``sweep_id`` is most likely a typo of, if one is close."""
        close = difflib.get_close_matches(sweep_id, self.list_sweeps(), n=1, cutoff=0.8)
        return close[0] if close and close[0] != sweep_id else None

    def closest_hint(self, sweep_id: str) -> str:
        """`` (did you mean 'ID'?)`` for the closest stored id, or ``""``."""
        closest = self.closest_sweep(sweep_id)
        return f" (did you mean {closest!r}?)" if closest else ""

    # -- trials -------------------------------------------------------------------------

    def claim_trial(self, sweep_id: str, trial: Trial) -> bool:
        """Create the trial's record only if its id is free; ``False`` if it is taken.

        A claim repeated after a lost answer (a task retry) finds its own record, byte for
        byte, and counts as claimed.
        """
        key = f"{sweep_id}/trials/{trial.trial_id}.json"
        data = serialize.dumps(trial.to_record(), indent=1)
        if self.blobs.create(key, data):
            return True
        return self.blobs.read(key) == data

    def write_trial(self, sweep_id: str, trial: Trial) -> None:
        """Replace the trial's record (its history is written by :class:`HistoryWriter`).

        The record of an ended trial with a short history (at most :data:`EMBED_ROWS` rows)
        also carries a copy of those rows, so loading a sweep reads one object per trial
        instead of two; the parts stay the history of record.
        """
        key = f"{sweep_id}/trials/{trial.trial_id}.json"
        record = trial.to_record()
        if trial.state.is_terminal and len(trial.history) <= EMBED_ROWS:
            record[_EMBEDDED] = [dict(row) for row in trial.history]
        self.blobs.write(key, serialize.dumps(record, indent=1))

    def load_trial(self, sweep_id: str, trial_id: str, with_history: bool = True) -> Trial:
        """One trial, with the rows of its latest attempt."""
        data = self.blobs.read(f"{sweep_id}/trials/{trial_id}.json")
        if data is None:
            raise StoreError(f"{self.url}: sweep {sweep_id!r} has no trial {trial_id!r}")
        record = serialize.loads(data)
        history = self.load_history(sweep_id, trial_id) if with_history else []
        return Trial.from_record(record, history)

    def load_trials(self, sweep_id: str, with_history: bool = True) -> list[Trial]:
        """Every trial of the sweep in index order, with their latest attempt's rows.

        Objects are read in parallel (:data:`READ_THREADS` at once), so a sweep of thousands
        of trials loads in seconds from S3.

        Note:
            A listing that lags behind writes (BR-33) is made up for on trial records (see the
            module docstring), not on history parts: a part written in the last moments before
            a load may be missed, and that trial then shows fewer rows (its record's summary
            is complete). A record written by another process moments ago whose first read
            also answers 404 is missed too; a resumed controller that then suggests under that
            id finds it taken when claiming, and adopts the record instead of re-running it.
        """
        prefix = f"{sweep_id}/trials/"
        keys = self.blobs.list(prefix)
        records = {k for k in keys if k.endswith(".json") and ".history/" not in k}
        parts: dict[str, list[str]] = {}
        for key in keys:
            if ".history/" in key:
                trial_id = key.rsplit("/", 2)[-2].removesuffix(".history")
                parts.setdefault(trial_id, []).append(key)
        listed = [_record_index(k) for k in records]
        top = max((i for i in listed if i is not None), default=-1)
        unlisted = [
            f"{prefix}{Trial.id_for(i)}.json"
            for i in range(top + 1)
            if f"{prefix}{Trial.id_for(i)}.json" not in records
        ]

        found = self._read_many([*sorted(records), *unlisted])
        while True:  # ids just above the listing, written moments ago
            data = self.blobs.read(f"{prefix}{Trial.id_for(top + 1)}.json")
            if data is None:
                break
            found.append(data)
            top += 1
        loaded = [serialize.loads(data) for data in found]
        to_read = [
            [] if _EMBEDDED in r or not with_history else parts.get(r["trial_id"], [])
            for r in loaded
        ]
        histories = self._read_histories(to_read)
        trials = [
            Trial.from_record(
                record, record.get(_EMBEDDED) or histories[n] if with_history else []
            )
            for n, record in enumerate(loaded)
        ]
        return sorted(trials, key=lambda t: t.index)

    def _read_many(self, keys: list[str]) -> list[bytes]:
        """The bytes of every key that exists, in ``keys`` order, read in parallel."""
        if len(keys) <= 1:
            datas = [self.blobs.read(k) for k in keys]
        else:
            with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
                datas = list(pool.map(self.blobs.read, keys))
        return [d for d in datas if d is not None]  # None: deleted between list and read

    def _read_histories(self, part_lists: list[list[str]]) -> list[list[dict[str, Any]]]:
        if sum(1 for p in part_lists if p) <= 1:
            return [self._read_parts(p) for p in part_lists]
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            return list(pool.map(self._read_parts, part_lists))

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

    def acquire_lease(
        self,
        sweep_id: str,
        ttl_s: float = 30.0,
        max_wait_s: float = 0.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> Lease:
        """Become the sweep's controller.

        A lease whose holder is gone is taken over at once when that can be told for sure (it
        ran on this host and its process is dead, e.g. after a SIGKILL); a lease held from
        another host is presumed alive until it expires. With ``max_wait_s``, such a lease is
        waited for, up to its expiry: ``on_wait`` is told so once, and if the holder's
        heartbeat moves meanwhile it is alive and the lease is refused at once.

        Args:
            sweep_id: The sweep.
            ttl_s: Lifetime of the new lease without a heartbeat.
            max_wait_s: Longest wait for a lease that may be dead; 0 refuses at once.
            on_wait: Told, in one line, what is waited for and for how long.

        Raises:
            LeaseHeldError: Another controller holds a live lease; the message says whose and
                until when.
        """
        give_up_at = time.monotonic() + max_wait_s
        first_seen: Lease | None = None
        while True:
            try:
                return self._try_lease(sweep_id, ttl_s)
            except LeaseHeldError as exc:
                current = exc.holder
                waited = time.monotonic()
                if (
                    current is None
                    or current.is_local_and_alive()
                    or waited >= give_up_at
                    or (first_seen is not None and current.heartbeat_at != first_seen.heartbeat_at)
                ):
                    raise
                if first_seen is None:
                    first_seen = current
                    if on_wait is not None:
                        wait_s = min(max(0.0, current.expires_at - time.time()), max_wait_s)
                        on_wait(f"{exc}; waiting up to {wait_s:.0f} s for it to expire")
                until_expiry = current.expires_at - time.time()
                time.sleep(max(0.05, min(LEASE_POLL_S, until_expiry, give_up_at - waited)))

    def _try_lease(self, sweep_id: str, ttl_s: float) -> Lease:
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
                error = LeaseHeldError(
                    f"sweep {sweep_id!r} in {self.url} is being run by another controller "
                    f"(pid {current.pid} on {current.host}, heartbeat "
                    f"{now - current.heartbeat_at:.0f} s ago; the lease expires in "
                    f"{current.expires_at - now:.0f} s)"
                )
                error.holder = current
                raise error
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
        """Heartbeat: push the lease's expiry ``ttl_s`` seconds ahead.

        Raises:
            LeaseHeldError: The lease is no longer ours (another controller took it over,
                presuming us dead); this controller should stop.
        """
        key = f"{sweep_id}/lease.json"
        raw = self.blobs.read(key)
        current = Lease(**serialize.loads(raw)) if raw else None
        if current is None or current.holder != lease.holder:
            taker = f"pid {current.pid} on {current.host}" if current else "nobody"
            raise LeaseHeldError(
                f"sweep {sweep_id!r} in {self.url}: this controller lost its lease (now held "
                f"by {taker})"
            )
        assert raw is not None
        now = time.time()
        renewed = Lease(lease.holder, lease.host, lease.pid, now, now + ttl_s)
        if not self._compare_and_swap(key, raw, serialize.dumps(renewed.__dict__)):
            raise LeaseHeldError(
                f"sweep {sweep_id!r} in {self.url}: this controller lost its lease"
            )
        return renewed

    def release_lease(self, sweep_id: str, lease: Lease) -> None:
        """Give the lease up, if it is still ours."""
        current = self.read_lease(sweep_id)
        if current is not None and current.holder == lease.holder:
            self.blobs.delete(f"{sweep_id}/lease.json")


def _record_index(key: str) -> int | None:
    """The index in a trial record key (``.../t00012.json`` -> 12), if it has one."""
    name = key.rsplit("/", 1)[-1].removesuffix(".json")
    return int(name[1:]) if name[:1] == "t" and name[1:].isdigit() else None
