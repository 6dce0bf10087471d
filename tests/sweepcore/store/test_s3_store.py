"""The S3 store against a real S3-compatible server (SeaweedFS on 127.0.0.1)."""

from __future__ import annotations

import itertools
import json
import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from sweepcore.store import ResultStore, SweepNotFoundError, open_store
from sweepcore.store.s3 import S3BlobStore
from sweepcore.trial import Attempt, Trial, TrialState
from tests.s3server import RequestLog


def _store(url: str, **kwargs) -> ResultStore:
    return ResultStore(S3BlobStore.from_url(url), **kwargs)


def _refuse(token: str) -> None:
    raise AssertionError(f"non-standard JSON token {token}")


def test_every_result_store_operation_round_trips(s3_url):
    store = open_store(s3_url)
    store.blobs.check()
    config = {"method": "grid", "parameters": {"x": {"values": [1, 2]}}}

    assert not store.sweep_exists("s1")
    with pytest.raises(SweepNotFoundError, match=r"s3://sweep-results/.*no sweep with id 's1'"):
        store.read_config("s1")
    assert store.create_sweep("s1", config, {"seed": 7})
    assert not store.create_sweep("s1", config, {"seed": 8})
    assert store.sweep_exists("s1") and store.list_sweeps() == ["s1"]
    assert store.read_config("s1") == config
    with pytest.raises(SweepNotFoundError, match=r"id 's1x' \(did you mean 's1'\?\)"):
        store.read_config("s1x")
    assert store.read_state("s1")["seed"] == 7
    store.write_state("s1", {"seed": 7, "status": "completed"})
    assert store.read_state("s1")["status"] == "completed"

    trial = Trial("t00000", 0, {"x": 1}, attempts=(Attempt(1, 100.0),))
    assert store.claim_trial("s1", trial)
    assert store.claim_trial("s1", trial), "a repeated claim of the same record is ours"
    assert not store.claim_trial("s1", Trial("t00000", 0, {"x": 2}))
    writer = store.history_writer("s1", "t00000", 1)
    for step in range(3):
        writer.append({"loss": 1.0 / (step + 1), "_step": step})
    writer.close()
    done = trial.evolve(
        state=TrialState.FINISHED,
        summary={"loss": 1 / 3},
        attempts=(Attempt(1, 100.0, 101.0, "finished"),),
    )
    store.write_trial("s1", done)
    loaded = store.load_trial("s1", "t00000")
    assert loaded.state == "finished" and loaded.summary == {"loss": 1 / 3}
    assert [r["_step"] for r in loaded.history] == [0, 1, 2]
    assert store.load_history("s1", "t00000") == list(loaded.history)
    assert [t.trial_id for t in store.load_trials("s1")] == ["t00000"]

    assert store.stop_requested("s1", "t00000") is None
    store.request_stop("s1", "t00000", "hyperband: below rung 1")
    assert store.stop_requested("s1", "t00000") == "hyperband: below rung 1"
    store.clear_stop("s1", "t00000")
    assert store.stop_requested("s1", "t00000") is None

    store.write_results("s1", b"trial_id\nt00000\n", b"PAR1")
    assert store.blobs.read("s1/results.csv") == b"trial_id\nt00000\n"
    assert store.blobs.read("s1/results.parquet") == b"PAR1"

    lease = store.acquire_lease("s1", ttl_s=30)
    renewed = store.renew_lease("s1", lease, ttl_s=30)
    assert store.read_lease("s1").holder == lease.holder
    assert renewed.expires_at >= lease.expires_at
    store.release_lease("s1", renewed)
    assert store.read_lease("s1") is None


def test_keys_follow_the_documented_layout_under_the_prefix(s3_url, s3_prefix, s3):
    store = open_store(s3_url)
    store.create_sweep("s1", {"method": "random"}, {})
    store.claim_trial("s1", Trial("t00000", 0, {}))
    writer = store.history_writer("s1", "t00000", 1)
    writer.append({"loss": 1.0})
    writer.close()
    listed = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=f"{s3_prefix}/")
    keys = sorted(item["Key"] for item in listed["Contents"])
    assert keys == [
        f"{s3_prefix}/s1/state.json",
        f"{s3_prefix}/s1/sweep.yaml",
        f"{s3_prefix}/s1/trials/t00000.history/a001-p00000.jsonl",
        f"{s3_prefix}/s1/trials/t00000.json",
    ]


def test_concurrent_creators_of_one_key_have_exactly_one_winner(s3_url):
    """8 threads over 2 clients (so over several connections) create the same key at once;
    3 keys in a row. (SeaweedFS serialises such writes with waits of about 1 s.)"""
    clients = [S3BlobStore.from_url(s3_url) for _ in range(2)]
    clients[0].check()
    assert clients[0].conditional_writes is True
    stores = clients * 4
    for round_ in range(3):
        barrier = threading.Barrier(len(stores))

        def create(n: int, key: str = f"claims/g{round_:02d}", barrier=barrier) -> bool:
            barrier.wait()
            return stores[n].create(key, f"writer {n}".encode())

        with ThreadPoolExecutor(len(stores)) as pool:
            wins = list(pool.map(create, range(len(stores))))
        assert sum(wins) == 1
        winner = wins.index(True)
        assert stores[1].read(f"claims/g{round_:02d}") == f"writer {winner}".encode()


def test_concurrent_claims_of_one_trial_id_have_one_winner(s3_url):
    stores = [open_store(s3_url) for _ in range(2)] * 4
    barrier = threading.Barrier(len(stores))

    def claim(n: int) -> bool:
        barrier.wait()
        return stores[n].claim_trial("s1", Trial("t00017", 17, {"writer": n}))

    with ThreadPoolExecutor(len(stores)) as pool:
        wins = list(pool.map(claim, range(len(stores))))
    assert sum(wins) == 1
    assert stores[0].load_trial("s1", "t00017").params == {"writer": wins.index(True)}


def test_create_without_conditional_writes_falls_back_to_head_then_put(s3_url):
    store = S3BlobStore.from_url(s3_url, conditional_writes=False)
    log = RequestLog(store.client)
    assert store.create("k", b"first")
    assert not store.create("k", b"second")
    assert store.read("k") == b"first"
    assert [r.operation for r in log.requests] == [
        "HeadObject",
        "PutObject",
        "HeadObject",
        "GetObject",
    ]
    assert not any("If-None-Match" in str(r) for r in log.requests)


def test_compare_and_swap_replaces_only_the_expected_object(s3_url):
    store = S3BlobStore.from_url(s3_url)
    store.write("lease.json", b"old")
    assert not store.compare_and_swap("lease.json", b"other", b"new")
    assert store.compare_and_swap("lease.json", b"old", b"new")
    assert not store.compare_and_swap("lease.json", b"old", b"newer")
    assert not store.compare_and_swap("missing.json", b"old", b"new")
    assert store.read("lease.json") == b"new"


def test_more_than_a_thousand_trials_load_across_listing_pages(s3_url):
    """2100 trial records: listing takes 3 pages of at most 1000 keys, and every trial loads."""
    store = open_store(s3_url)
    n = 2100
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda i: store.write_trial("big", Trial(Trial.id_for(i), i, {"i": i})), range(n)
            )
        )

    reader = _store(s3_url)
    log = RequestLog(reader.blobs.client)
    trials = reader.load_trials("big", with_history=False)
    assert [t.index for t in trials] == list(range(n))
    assert log.count("ListObjectsV2") == 3
    assert log.count("GetObject") == n + 1  # every record, then one probe past the last


def test_trial_records_missing_from_a_listing_are_still_loaded(s3_url, s3, s3_prefix):
    """Ids are dense, so a record a lagging listing leaves out (here: deleted from the listing
    by writing it under the prefix only after the listing) is read directly. Simulated by
    listing a prefix where t00001 is written as the newest key."""
    store = open_store(s3_url)
    for i in range(3):
        store.write_trial("s1", Trial(Trial.id_for(i), i, {}))

    class LaggingList:
        def __init__(self, blobs):
            self.blobs = blobs

        def __getattr__(self, name):
            return getattr(self.blobs, name)

        def list(self, prefix):
            return [k for k in self.blobs.list(prefix) if "t00001" not in k and "t00002" not in k]

    lagging = ResultStore(LaggingList(store.blobs))
    assert [t.trial_id for t in lagging.load_trials("s1")] == ["t00000", "t00001", "t00002"]


def test_history_parts_are_bounded_and_never_rewritten_once_full(s3_url):
    """Flushing after every row: each part gets PUTs only while it fills, and the bytes
    uploaded grow linearly with the history's length."""

    def upload(n_rows: int) -> tuple[int, dict[str, int], list[str]]:
        store = _store(s3_url, part_rows=50)
        log = RequestLog(store.blobs.client)
        writer = store.history_writer(f"h{n_rows}", "t00000", 1)
        order = []
        for step in range(n_rows):
            writer.append({"loss": 1.0 / (step + 1), "_step": step})
            writer.flush()
        puts: dict[str, int] = {}
        for request in log.requests:
            if request.operation == "PutObject":
                key = request.url.rsplit("/", 1)[-1]
                puts[key] = puts.get(key, 0) + 1
                order.append(key)
        assert [r["_step"] for r in store.load_history(f"h{n_rows}", "t00000")] == list(
            range(n_rows)
        )
        return log.bytes_sent, puts, order

    bytes_400, puts_400, order = upload(400)
    bytes_800, _, _ = upload(800)
    assert len(puts_400) == 8 and set(puts_400.values()) == {50}
    # once the writer moves on to a part, the earlier one is never sent again
    first_seen = {key: order.index(key) for key in puts_400}
    last_seen = {key: len(order) - 1 - order[::-1].index(key) for key in puts_400}
    keys = sorted(puts_400)
    assert all(last_seen[a] < first_seen[b] for a, b in itertools.pairwise(keys))
    assert 1.9 < bytes_800 / bytes_400 < 2.1  # linear, not quadratic (which would be ~4)


def test_non_finite_metrics_are_stored_as_strict_json(s3_url, s3, s3_prefix):
    store = open_store(s3_url)
    trial = Trial(
        "t00000",
        0,
        {"lr": 0.1},
        state=TrialState.FINISHED,
        summary={"loss": math.nan, "grad": math.inf, "low": -math.inf},
    )
    store.write_trial("s1", trial)
    writer = store.history_writer("s1", "t00000", 1)
    writer.append({"loss": math.nan, "_step": 0})
    writer.append({"loss": math.inf, "_step": 1})
    writer.close()

    client = s3.client()
    for key in ("s1/trials/t00000.json", "s1/trials/t00000.history/a001-p00000.jsonl"):
        body = client.get_object(Bucket=s3.bucket, Key=f"{s3_prefix}/{key}")["Body"].read()
        for line in body.decode().splitlines():
            json.loads(line if key.endswith(".jsonl") else body, parse_constant=_refuse)
    loaded = store.load_trial("s1", "t00000")
    assert math.isnan(loaded.summary["loss"]) and loaded.summary["grad"] == math.inf
    assert loaded.summary["low"] == -math.inf
    assert math.isnan(loaded.history[0]["loss"]) and loaded.history[1]["loss"] == math.inf
