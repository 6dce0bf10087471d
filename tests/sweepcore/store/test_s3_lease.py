"""The sweep lease on S3: one live controller; a dead one is replaced at once on its host and
after its expiry elsewhere."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from sweepcore import serialize
from sweepcore.store import Lease, LeaseHeldError, open_store


def _put_lease(store, sweep_id: str, lease: Lease) -> None:
    store.blobs.write(f"{sweep_id}/lease.json", serialize.dumps(lease.__dict__))


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_second_live_controller_is_refused_at_once(s3_url):
    store = open_store(s3_url)
    first = store.acquire_lease("s1", ttl_s=30)
    started = time.monotonic()
    with pytest.raises(
        LeaseHeldError,
        match=rf"sweep 's1' in {s3_url} is being run by another controller \(pid \d+ on "
        rf"{socket.gethostname()}, heartbeat (\d+) s ago; the lease expires in (\d+) s\)",
    ) as refused:
        open_store(s3_url).acquire_lease("s1", ttl_s=30, max_wait_s=30)
    waited = time.monotonic() - started
    assert waited < 3, "a live holder on this host is never waited for"
    # The ages are whole seconds measured on a busy machine: bound them by the time it took.
    age, left = re.search(
        r"heartbeat (\d+) s ago.*expires in (\d+) s", str(refused.value)
    ).groups()
    assert int(age) <= waited + 1 and 30 - waited - 1 <= int(left) <= 30
    assert store.read_lease("s1").holder == first.holder


def test_dead_holder_on_this_host_is_taken_over_at_once(s3_url):
    store = open_store(s3_url)
    now = time.time()
    dead = Lease("killed", socket.gethostname(), _dead_pid(), now, now + 30)
    _put_lease(store, "s1", dead)
    waits: list[str] = []
    lease = store.acquire_lease("s1", ttl_s=30, max_wait_s=30, on_wait=waits.append)
    assert lease.holder != "killed" and store.read_lease("s1").holder == lease.holder
    assert waits == []


def test_holder_on_another_host_is_waited_out_until_its_lease_expires(s3_url):
    store = open_store(s3_url)
    now = time.time()
    _put_lease(store, "s1", Lease("remote", "gpu-node-7", 4242, now - 28, now + 2))
    with pytest.raises(LeaseHeldError, match=r"pid 4242 on gpu-node-7.*expires in [0-2] s"):
        store.acquire_lease("s1", ttl_s=30)  # no waiting asked for

    waits: list[str] = []
    lease = store.acquire_lease("s1", ttl_s=30, max_wait_s=35, on_wait=waits.append)
    assert time.time() >= now + 2
    assert store.read_lease("s1").holder == lease.holder
    assert len(waits) == 1
    assert "gpu-node-7" in waits[0] and "waiting up to" in waits[0]


def test_holder_on_another_host_that_keeps_beating_is_refused(s3_url):
    """While waiting, a heartbeat that moves proves the holder alive: refuse, don't wait."""
    store = open_store(s3_url)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(0.3):
            now = time.time()
            _put_lease(store, "s1", Lease("remote", "gpu-node-7", 4242, now, now + 3))

    now = time.time()
    _put_lease(store, "s1", Lease("remote", "gpu-node-7", 4242, now, now + 3))
    beater = threading.Thread(target=beat)
    beater.start()
    try:
        with pytest.raises(LeaseHeldError, match="being run by another controller"):
            open_store(s3_url).acquire_lease("s1", ttl_s=30, max_wait_s=35)
    finally:
        stop.set()
        beater.join()
    assert store.read_lease("s1").holder == "remote"


def test_heartbeat_after_a_takeover_says_the_lease_was_lost(s3_url):
    store = open_store(s3_url)
    mine = store.acquire_lease("s1", ttl_s=30)
    now = time.time()
    _put_lease(store, "s1", Lease("successor", "gpu-node-7", 7, now, now + 30))
    with pytest.raises(
        LeaseHeldError, match=r"lost its lease \(now held by pid 7 on gpu-node-7\)"
    ):
        store.renew_lease("s1", mine)
    store.release_lease("s1", mine)  # not ours any more: left alone
    assert store.read_lease("s1").holder == "successor"
