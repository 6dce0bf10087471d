"""BR-31 and clear errors: every request goes to the configured endpoint, and a store that
cannot be used fails in seconds with one line naming the store URL and what failed."""

from __future__ import annotations

import socket
import time

import pytest

from sweepcore.store import StoreError, open_store
from sweepcore.store import s3 as s3_module
from sweepcore.trial import Trial
from tests.s3server import RequestLog


@pytest.fixture
def requests_seen(monkeypatch):
    """Every request of every client the store makes, and every host name looked up."""
    logs: list[RequestLog] = []
    lookups: list[str] = []
    make_client = s3_module.make_client

    def logged_client(*args, **kwargs):
        client = make_client(*args, **kwargs)
        logs.append(RequestLog(client))
        return client

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        lookups.append(str(host))
        if str(host) not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"test forbids looking up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(s3_module, "make_client", logged_client)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    class Seen:
        @property
        def requests(self):
            return [r for log in logs for r in log.requests]

        hosts = property(lambda self: {r.host for r in self.requests})
        looked_up = lookups

    return Seen()


def _use_every_operation(url: str, **kwargs) -> None:
    from sweepcore.store import ResultStore
    from sweepcore.store.s3 import S3BlobStore

    store = ResultStore(S3BlobStore.from_url(url, **kwargs))
    store.blobs.check()
    assert store.create_sweep("s1", {"method": "random"}, {"seed": 1})
    assert store.claim_trial("s1", Trial("t00000", 0, {"x": 1}))
    writer = store.history_writer("s1", "t00000", 1)
    writer.append({"loss": 0.5})
    writer.close()
    lease = store.acquire_lease("s1")
    store.renew_lease("s1", lease)
    store.release_lease("s1", lease)
    store.write_results("s1", b"csv", b"parquet")
    assert [t.history[0]["loss"] for t in store.load_trials("s1")] == [0.5]
    assert store.list_sweeps() == ["s1"]


@pytest.mark.parametrize("region", [None, "eu-west-3"])
def test_explicit_endpoint_gets_every_request_and_nothing_goes_to_aws(
    s3_env, s3_prefix, requests_seen, monkeypatch, region
):
    """BR-31 case 1: endpoint passed in code, no region (or an AWS region), default
    addressing: put/get/list all succeed, and every request and lookup is loopback."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    if region:
        monkeypatch.setenv("AWS_REGION", region)
    _use_every_operation(f"s3://{s3_env.bucket}/{s3_prefix}", endpoint_url=s3_env.endpoint_url)
    assert len(requests_seen.requests) >= 15
    assert requests_seen.hosts == {"127.0.0.1:8333"}
    assert not [h for h in requests_seen.looked_up if "amazonaws" in h]


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "config file"])
def test_endpoint_from_the_environment_alone_gets_every_request(
    s3_env, s3_prefix, requests_seen, monkeypatch, tmp_path, variable
):
    """BR-31 case 2 and its kind: the endpoint comes only from AWS_ENDPOINT_URL_S3, the
    generic AWS_ENDPOINT_URL, or the AWS config file; the code passes none."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3")
    if variable == "config file":
        config = tmp_path / "aws-config"
        config.write_text(f"[default]\nendpoint_url = {s3_env.endpoint_url}\n")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    else:
        monkeypatch.setenv(variable, s3_env.endpoint_url)
    _use_every_operation(f"s3://{s3_env.bucket}/{s3_prefix}")
    assert requests_seen.hosts == {"127.0.0.1:8333"}
    assert not [h for h in requests_seen.looked_up if "amazonaws" in h]


def test_wrong_secret_fails_fast_saying_invalid_credentials(s3_url, requests_seen, monkeypatch):
    """BR-31 case 3: one line with the endpoint actually used; no endless retries."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    store = open_store(s3_url)
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        store.blobs.check()
    message = str(caught.value)
    assert message.startswith(f"{s3_url} (endpoint http://127.0.0.1:8333): invalid credentials")
    assert "signature mismatch" in message and "\n" not in message
    assert "not-the-secret" not in message
    assert len(requests_seen.requests) == 1 and time.monotonic() - started < 5


def test_unknown_access_key_is_invalid_credentials(s3_url, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOBODY")
    with pytest.raises(StoreError, match=r"invalid credentials \(unknown access key\)"):
        open_store(s3_url).blobs.check()


def test_missing_bucket_is_named_in_one_line(s3_env):
    with pytest.raises(
        StoreError,
        match=r"^s3://no-such-bucket/p \(endpoint http://127\.0\.0\.1:8333\): bucket does not "
        r"exist while listing the bucket$",
    ):
        open_store("s3://no-such-bucket/p").blobs.check()


def test_missing_credentials_say_how_to_set_them(s3_url, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(StoreError, match=r"no credentials found \(set AWS_ACCESS_KEY_ID"):
        open_store(s3_url).blobs.check()


def test_unreachable_endpoint_fails_in_seconds(s3_url, monkeypatch):
    with socket.socket() as sock:  # a free port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(
        StoreError,
        match=rf"^{s3_url} \(endpoint http://127\.0\.0\.1:{port}\): endpoint unreachable while "
        "listing the bucket$",
    ):
        open_store(s3_url).blobs.check()
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SWEEP_S3_RETRY_MODE",
            "legacy-ish",
            r"must be 'standard' or 'adaptive'; got 'legacy-ish'",
        ),
        ("SWEEP_S3_MAX_ATTEMPTS", "0", r"SWEEP_S3_MAX_ATTEMPTS\) must be a whole number >= 1"),
        ("SWEEP_S3_CONDITIONAL_WRITES", "maybe", r"must be true, false or auto; got 'maybe'"),
        ("SWEEP_S3_OUTAGE_S", "-1", r"SWEEP_S3_OUTAGE_S must be a number of seconds >= 0"),
    ],
)
def test_bad_s3_settings_are_rejected_by_name(s3_url, monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=message):
        open_store(s3_url)


def test_retry_settings_reach_botocore(s3_url, monkeypatch):
    """SWEEP_S3_MAX_ATTEMPTS counts every attempt, the first one included."""
    monkeypatch.setenv("SWEEP_S3_RETRY_MODE", "adaptive")
    monkeypatch.setenv("SWEEP_S3_MAX_ATTEMPTS", "7")
    retries = open_store(s3_url).blobs.client.meta.config.retries
    assert retries == {"mode": "adaptive", "total_max_attempts": 7}


def test_a_read_timeout_is_described_without_a_timeout_it_may_not_have_used():
    from botocore.exceptions import ReadTimeoutError

    from sweepcore.store.s3client import describe_error

    text = describe_error(ReadTimeoutError(endpoint_url="http://127.0.0.1:9"))
    assert text == "endpoint accepted the connection but did not answer (read timed out)"
