"""Fault injection for the S3 store tests: moto as the server, botocore hooks as the faults.

moto serves only here, where a test needs behaviour a real server does not show on demand:
a 409 on a create-only PUT (BR-34), or keys that show up in listings and reads late (BR-33).
The faults are botocore event hooks on every client the store makes (``make_client`` is
wrapped), so the product code runs unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from botocore.awsrequest import AWSResponse

from sweepcore.store import s3 as s3_module


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.data


def error_response(url: str, status: int, code: str, message: str) -> AWSResponse:
    """A fake S3 error answer, as botocore would have received it."""
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        f"<Message>{message}</Message></Error>"
    ).encode()
    return AWSResponse(url, status, {"Content-Type": "application/xml"}, _Body(body))


def _key_of(url: str) -> str:
    """``bucket/key`` of a path-style request URL."""
    return unquote(urlsplit(url).path.lstrip("/"))


class S3Faults:
    """Hooks every store client; tests switch faults on.

    Attributes:
        conflicts: ``bucket/key`` suffixes whose next create-only PUT gets a 409, mapped to a
            function run first (e.g. the rival writer whose write was in flight).
        lag_s: When set, a key PUT less than ``lag_s`` ago is left out of listings, and the
            first GET/HEAD of it answers 404.
        lag_only: Only keys containing this text lag.
        n_conflicts: 409s sent.
        n_hidden_reads: 404s sent for keys that existed.
        n_hidden_listed: Keys left out of listings.
    """

    def __init__(self) -> None:
        self.conflicts: dict[str, Callable[[], None]] = {}
        self.lag_s: float | None = None
        self.lag_only = ""
        self.n_conflicts = 0
        self.n_hidden_reads = 0
        self.n_hidden_listed = 0
        self._written: dict[str, float] = {}
        self._read_once: set[str] = set()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> Any:
        """Register the hooks on ``client``; returns it."""
        events = client.meta.events
        events.register("before-send.s3.PutObject", self._before_put)
        events.register("before-send.s3.GetObject", self._before_read)
        events.register("before-send.s3.HeadObject", self._before_read)
        events.register("after-call.s3.PutObject", self._after_put)
        events.register("after-call.s3.ListObjectsV2", self._after_list)
        return client

    def note_written(self, bucket_key: str) -> None:
        """Treat ``bucket/key`` as written now (by a writer outside the hooked clients)."""
        with self._lock:
            self._written[bucket_key] = time.monotonic()
            self._read_once.discard(bucket_key)

    def _is_fresh(self, bucket_key: str) -> bool:
        written = self._written.get(bucket_key)
        if self.lag_s is None or written is None or self.lag_only not in bucket_key:
            return False
        return time.monotonic() - written < self.lag_s

    def _before_put(self, request: Any, **_: Any) -> AWSResponse | None:
        if "If-None-Match" not in request.headers:
            return None
        key = _key_of(request.url)
        with self._lock:
            match = next((s for s in self.conflicts if key.endswith(s)), None)
            rival = self.conflicts.pop(match) if match is not None else None
        if rival is None:
            return None
        rival()
        self.n_conflicts += 1
        return error_response(
            request.url,
            409,
            "ConditionalRequestConflict",
            "A conflicting conditional operation is currently in progress against this resource.",
        )

    def _after_put(self, http_response: Any, **_: Any) -> None:
        if http_response.status_code == 200:
            self.note_written(_key_of(http_response.url))

    def _before_read(self, request: Any, **_: Any) -> AWSResponse | None:
        key = _key_of(request.url)
        with self._lock:
            if not self._is_fresh(key) or key in self._read_once:
                return None
            self._read_once.add(key)
            self.n_hidden_reads += 1
        return error_response(request.url, 404, "NoSuchKey", "The specified key does not exist.")

    def _after_list(self, parsed: dict[str, Any], http_response: Any, **_: Any) -> None:
        bucket = _key_of(http_response.url).split("/", 1)[0].split("?", 1)[0]
        contents = parsed.get("Contents") or []
        with self._lock:
            kept = [c for c in contents if not self._is_fresh(f"{bucket}/{c['Key']}")]
            self.n_hidden_listed += len(contents) - len(kept)
        parsed["Contents"] = kept
        parsed["KeyCount"] = len(kept)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An in-process moto S3 server on a free loopback port (fault tests only)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def faulty_s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> S3Faults:
    """moto behind fault hooks, with the AWS environment pointing at it and a fresh bucket
    (``faults``); a store URL is ``s3://faults/<prefix>``."""
    import boto3

    from tests.s3fixtures import isolate_aws_env

    isolate_aws_env(monkeypatch, str(tmp_path))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "moto")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "moto")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    raw = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    if "faults" not in [b["Name"] for b in raw.list_buckets()["Buckets"]]:
        raw.create_bucket(Bucket="faults")

    faults = S3Faults()
    make_client = s3_module.make_client
    monkeypatch.setattr(
        s3_module, "make_client", lambda *a, **k: faults.attach(make_client(*a, **k))
    )
    monkeypatch.setattr(s3_module, "_RECENT_WRITES", s3_module.RecentWrites())
    faults.raw = raw  # type: ignore[attr-defined]
    return faults
