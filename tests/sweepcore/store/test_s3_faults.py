"""Faults a real server does not show on demand, injected over moto: BR-33, BR-34, outages.

BR-34: a create-only PUT answered 409 (a conflicting conditional write in flight) is retried;
a 412 then means "already claimed", never an error. BR-33: a key written moments ago may be
missing from listings and 404 on its first read; the store retries such reads and does not
trust listings alone.
"""

from __future__ import annotations

import logging

import pytest

from sweepcore.store import StoreError, open_store
from sweepcore.store import s3 as s3_module
from sweepcore.store.s3 import S3BlobStore
from sweepcore.trial import Trial


def _rival_creates(faults, key: str, data: bytes):
    """The other caller's write that the 409 was about; it lands first."""
    return lambda: faults.raw.put_object(Bucket="faults", Key=key, Body=data)


def test_create_retries_a_409_then_reads_412_as_already_claimed(faulty_s3, caplog):
    """BR-34: caller A gets 409 then 412 and is told 'taken'; B's claim stands."""
    store = S3BlobStore.from_url("s3://faults/br34", conditional_writes=True)
    faulty_s3.conflicts["br34/claims/g17"] = _rival_creates(faulty_s3, "br34/claims/g17", b"B")
    with caplog.at_level(logging.INFO, logger="sweepcore.store.s3"):
        assert store.create("claims/g17", b"A") is False
    assert faulty_s3.n_conflicts == 1
    assert store.read("claims/g17") == b"B"
    assert "conflicted with a concurrent one (409); retrying" in caplog.text
    assert store.create("claims/g18", b"A") is True


def test_claim_conflict_on_a_trial_id_is_not_an_error(faulty_s3):
    """The kind of BR-34 on every create-only write: trial ids, sweep ids and leases."""
    store = open_store("s3://faults/kinds")
    store.blobs.conditional_writes = True
    theirs = Trial("t00003", 3, {"g": 17})
    faulty_s3.conflicts["kinds/s1/trials/t00003.json"] = lambda: open_store(
        "s3://faults/kinds"
    ).claim_trial("s1", theirs)
    assert store.claim_trial("s1", Trial("t00003", 3, {"g": 17})) is False
    assert store.load_trial("s1", "t00003").params == {"g": 17}

    faulty_s3.conflicts["kinds/s2/sweep.yaml"] = lambda: open_store(
        "s3://faults/kinds"
    ).create_sweep("s2", {"method": "grid"}, {})
    assert store.create_sweep("s2", {"method": "random"}, {}) is False

    faulty_s3.conflicts["kinds/s3/lease.json"] = lambda: open_store(
        "s3://faults/kinds"
    ).acquire_lease("s3")
    with pytest.raises(StoreError, match="being run by another controller"):
        store.acquire_lease("s3")
    assert faulty_s3.n_conflicts == 3


def test_a_409_that_never_resolves_is_a_clear_error(faulty_s3, monkeypatch):
    store = S3BlobStore.from_url("s3://faults/stuck", conditional_writes=True)
    store.consistency_timeout_s = 0.3

    def conflict_forever(request, **_):
        from tests.sweepcore.store.faults import error_response

        return error_response(request.url, 409, "ConditionalRequestConflict", "in progress")

    store.client.meta.events.register("before-send.s3.PutObject", conflict_forever)
    with pytest.raises(
        StoreError,
        match=r"^s3://faults/stuck \(endpoint http://127\.0\.0\.1:\d+\): "
        r"ConditionalRequestConflict \(in progress\) while creating k \(conflict persisted\)$",
    ):
        store.create("k", b"x")


def test_read_of_a_key_just_written_retries_the_404(faulty_s3):
    """BR-33: the first GET after our own PUT answers 404; the store retries it."""
    faulty_s3.lag_s = 2.0
    store = S3BlobStore.from_url("s3://faults/lag")
    store.write("fresh.json", b"{}")
    assert store.read("fresh.json") == b"{}"
    assert faulty_s3.n_hidden_reads == 1
    assert store.read("never-written.json") is None  # a plain 404 is not retried


def test_key_another_writer_created_is_read_despite_the_lag(faulty_s3):
    """A 412 proves the key exists, so the 404 that follows is retried too."""
    faulty_s3.lag_s = 2.0
    store = S3BlobStore.from_url("s3://faults/lag2", conditional_writes=True)
    other = S3BlobStore.from_url("s3://faults/lag2", conditional_writes=True)
    assert other.create("lease.json", b"theirs")
    s3_module._RECENT_WRITES.discard(store._ident("lease.json"))  # as if in another process
    assert store.create("lease.json", b"mine") is False
    assert store.read("lease.json") == b"theirs"


def test_trials_missing_from_a_lagging_listing_are_loaded(faulty_s3):
    """BR-33 on load: the three records written last are left out of the listing and 404 on
    their first read, yet every trial loads (ids are dense, so the store reads past the
    listing, and retries the 404 of a key this process wrote)."""
    writer = open_store("s3://faults/load")
    for i in range(6):
        writer.write_trial("s1", Trial(Trial.id_for(i), i, {"i": i}))
    faulty_s3.lag_s = 60.0
    faulty_s3._written.clear()  # the first three were written long ago
    for i in range(3, 6):
        faulty_s3.note_written(f"faults/load/s1/trials/{Trial.id_for(i)}.json")

    trials = open_store("s3://faults/load").load_trials("s1")
    assert [t.index for t in trials] == list(range(6))
    assert faulty_s3.n_hidden_listed == 3 and faulty_s3.n_hidden_reads == 3


def test_store_rides_out_a_short_outage_then_gives_up_clearly(faulty_s3):
    """While the endpoint answers 503 the call is retried; past the budget it fails in one
    line naming the endpoint."""
    store = S3BlobStore.from_url("s3://faults/outage", max_attempts=1)
    n_failures = {"left": 3}

    def unavailable(request, **_):
        from tests.sweepcore.store.faults import error_response

        if n_failures["left"] > 0:
            n_failures["left"] -= 1
            return error_response(request.url, 503, "ServiceUnavailable", "restarting")
        return None

    store.client.meta.events.register("before-send.s3.PutObject", unavailable)
    store.write("k", b"v")
    assert n_failures["left"] == 0 and store.read("k") == b"v"

    store.outage_timeout_s = 0.5
    n_failures["left"] = 10**6
    with pytest.raises(
        StoreError,
        match=r"ServiceUnavailable \(restarting\) while writing k \(the endpoint kept failing",
    ):
        store.write("k", b"v2")


def test_calls_during_one_outage_share_its_budget_and_a_success_ends_it(faulty_s3):
    """A call that runs into an outage already past its budget fails at once, instead of
    retrying for a budget of its own (a trial writing history kept a sweep waiting window
    after window); once the endpoint answers again, the next outage gets a fresh budget."""
    store = S3BlobStore.from_url("s3://faults/shared", max_attempts=1)
    store.outage_timeout_s = 2.0  # far longer than the moment between two calls
    down = {"on": True, "sent": 0}

    def unavailable(request, **_):
        from tests.sweepcore.store.faults import error_response

        down["sent"] += 1
        if down["on"]:
            return error_response(request.url, 503, "ServiceUnavailable", "restarting")
        return None

    store.client.meta.events.register("before-send.s3.PutObject", unavailable)
    with pytest.raises(StoreError, match="kept failing"):
        store.write("a", b"1")
    assert down["sent"] > 1  # the first call retried within the budget

    down["sent"] = 0
    with pytest.raises(StoreError, match="kept failing"):
        store.write("b", b"1")
    assert down["sent"] == 1  # the same outage: its budget is spent

    down["on"] = False
    store.write("c", b"1")
    down["on"], down["sent"] = True, 0
    with pytest.raises(StoreError, match="kept failing"):
        store.write("d", b"1")
    assert down["sent"] > 1  # a new outage, a new budget
