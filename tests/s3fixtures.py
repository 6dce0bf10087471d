"""A real S3-compatible server for the tests: one SeaweedFS ``weed mini`` per session.

Only tests that ask for one of these fixtures pay for the server (about 1 s to start, 2 s to
stop), so the rest of the suite never starts it. The server binds 127.0.0.1 only and enforces
the test keys. Fixtures:

* ``s3_server``: the :class:`~tests.s3server.SeaweedServer` itself (session); a test may
  ``stop()`` and ``start()`` it to simulate an outage (data survives), and must leave it
  running (``s3_server`` restarts it after each test that stopped it).
* ``s3``: :class:`S3Settings` of that server with the session's bucket (session).
* ``s3_env``: sets the standard AWS variables for this test (keys, ``AWS_ENDPOINT_URL_S3``)
  and isolates boto3 from the user's ``~/.aws``; returns the settings.
* ``s3_url``: a fresh ``s3://bucket/<unique prefix>`` store URL per test, with ``s3_env``
  applied, so tests never see each other's objects.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.s3server import SeaweedServer

BUCKET = "sweep-results"

#: AWS variables that would point boto3 somewhere else than the test server.
_FOREIGN_AWS_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "SWEEP_STORE",
    "SWEEP_S3_RETRY_MODE",
    "SWEEP_S3_MAX_ATTEMPTS",
    "SWEEP_S3_CONDITIONAL_WRITES",
    "SWEEP_S3_OUTAGE_S",
)


@dataclass(frozen=True)
class S3Settings:
    """Where the test S3 server is and how to sign in.

    Attributes:
        endpoint_url: ``http://127.0.0.1:8333``.
        access_key: The only access key the server accepts.
        secret_key: Its secret.
        bucket: A bucket created for the session.
    """

    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for the server (path-style, us-east-1)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, **config),
        )


def isolate_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_dir: str) -> None:
    """Drop every AWS/SWEEP_S3 variable and hide ``~/.aws`` for this test."""
    for name in _FOREIGN_AWS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.path.join(tmp_dir, "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.path.join(tmp_dir, "no-aws-creds"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no 169.254.169.254 lookups


@pytest.fixture(scope="session")
def _seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    server = SeaweedServer(tmp_path_factory.mktemp("seaweedfs"))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def s3(_seaweed: SeaweedServer) -> S3Settings:
    """The session's S3 server and bucket."""
    settings = S3Settings(_seaweed.endpoint_url, _seaweed.access_key, _seaweed.secret_key, BUCKET)
    settings.client().create_bucket(Bucket=BUCKET)
    return settings


@pytest.fixture
def s3_server(_seaweed: SeaweedServer, s3: S3Settings) -> Iterator[SeaweedServer]:
    """The server process, for tests that stop and start it; restarted after the test."""
    yield _seaweed
    if not _seaweed.is_running:
        _seaweed.start()


@pytest.fixture
def s3_env(
    s3: S3Settings, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> S3Settings:
    """The standard AWS variables set for the test server (subprocesses inherit them)."""
    isolate_aws_env(monkeypatch, str(tmp_path_factory.getbasetemp()))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
    return s3


@pytest.fixture
def s3_prefix() -> str:
    """A key prefix no other test uses."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def s3_url(s3_env: S3Settings, s3_prefix: str) -> str:
    """``s3://<bucket>/<unique prefix>`` with the environment pointing at the test server."""
    return f"s3://{s3_env.bucket}/{s3_prefix}"
