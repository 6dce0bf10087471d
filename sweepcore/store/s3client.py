"""boto3 clients for the S3 store: endpoint, addressing, retries, timeouts, error wording.

Kept apart from :mod:`sweepcore.store.s3` so the store reads as storage logic only.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

__all__ = [
    "CONNECT_TIMEOUT_S",
    "READ_TIMEOUT_S",
    "RECENT_WRITE_WINDOW_S",
    "RecentWrites",
    "describe_error",
    "env_flag",
    "env_seconds",
    "error_code",
    "error_status",
    "is_transient",
    "make_client",
    "retry_settings",
]

#: A refused or black-holed endpoint must fail in seconds, not after minutes of TCP retries.
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
#: Read timeout of the pre-flight check client: a server that accepts but never answers is
#: reported in seconds too.
CHECK_READ_TIMEOUT_S = 5.0
DEFAULT_RETRY_MODE = "standard"
DEFAULT_MAX_ATTEMPTS = 5
#: Connections per client: trial records are read in parallel on resume.
MAX_POOL_CONNECTIONS = 32
#: A key written by this process this recently is expected to exist (BR-33).
RECENT_WRITE_WINDOW_S = 5.0
#: HTTP statuses that say "try again later", whatever botocore's retry mode made of them.
_TRANSIENT_STATUSES = {500, 502, 503, 504}

_CREDENTIAL_CODES = {
    "SignatureDoesNotMatch": "signature mismatch",
    "InvalidAccessKeyId": "unknown access key",
    "InvalidToken": "invalid session token",
    "ExpiredToken": "expired session token",
    "AuthorizationHeaderMalformed": "malformed authorization header",
}


def retry_settings(retry_mode: str | None, max_attempts: int | None) -> tuple[str, int]:
    """The botocore retry mode and attempt count: arguments, else environment, else defaults.

    Raises:
        ValueError: ``SWEEP_S3_RETRY_MODE`` or ``SWEEP_S3_MAX_ATTEMPTS`` (or the arguments)
            hold a value botocore does not accept.
    """
    mode = retry_mode or os.environ.get("SWEEP_S3_RETRY_MODE") or DEFAULT_RETRY_MODE
    if mode not in ("standard", "adaptive"):
        raise ValueError(
            f"S3 retry mode (SWEEP_S3_RETRY_MODE) must be 'standard' or 'adaptive'; got {mode!r}"
        )
    if max_attempts is None:
        raw = os.environ.get("SWEEP_S3_MAX_ATTEMPTS") or str(DEFAULT_MAX_ATTEMPTS)
    else:
        raw = str(max_attempts)
    if not raw.strip().isdigit() or int(raw) < 1:
        raise ValueError(
            f"S3 max attempts (SWEEP_S3_MAX_ATTEMPTS) must be a whole number >= 1; got {raw!r}"
        )
    return mode, int(raw)


def env_flag(name: str) -> bool | None:
    """``True``/``False`` from a yes/no environment variable; ``None`` when unset or auto."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be true, false or auto; got {raw!r}")


def env_seconds(name: str, default: float) -> float:
    """A non-negative number of seconds from the environment, else ``default``.

    Raises:
        ValueError: The variable is set to something else.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ValueError(f"{name} must be a number of seconds >= 0; got {raw!r}")
    return value


def make_client(
    endpoint_url: str | None,
    retry_mode: str,
    max_attempts: int,
    read_timeout_s: float = READ_TIMEOUT_S,
) -> Any:
    """A boto3 S3 client; path-style addressing and a default region off AWS.

    Args:
        endpoint_url: Endpoint; ``None`` lets boto3 resolve it (``AWS_ENDPOINT_URL_S3``,
            ``AWS_ENDPOINT_URL``, the profile's config, else AWS).
        retry_mode: botocore retry mode.
        max_attempts: Attempts per request, retries included.
        read_timeout_s: Seconds to wait for an answer once connected.
    """
    session = boto3.session.Session()
    endpoint = endpoint_url or _configured_endpoint()
    client = _client_for(session, endpoint, retry_mode, max_attempts, read_timeout_s)
    if endpoint is None and not _is_aws(client.meta.endpoint_url):
        # The endpoint came from a profile's config file; rebuild with path-style addressing.
        client = _client_for(
            session, client.meta.endpoint_url, retry_mode, max_attempts, read_timeout_s
        )
    return client


def _client_for(
    session: Any, endpoint: str | None, retry_mode: str, max_attempts: int, read_timeout_s: float
) -> Any:
    options: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_S,
        "read_timeout": read_timeout_s,
        "retries": {"mode": retry_mode, "total_max_attempts": max_attempts},
        "max_pool_connections": MAX_POOL_CONNECTIONS,
    }
    region = session.region_name
    if endpoint is not None:
        # Virtual-host addressing would send requests to <bucket>.<host>, which S3-compatible
        # stores rarely resolve; and boto3 >= 1.36 adds CRC checksums to every PUT, which some
        # of them reject. Neither is needed against a custom endpoint.
        options["s3"] = {"addressing_style": "path"}
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
        region = region or "us-east-1"
    return session.client(
        "s3", endpoint_url=endpoint, region_name=region, config=Config(**options)
    )


def _configured_endpoint() -> str | None:
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _is_aws(endpoint: str) -> bool:
    host = urlparse(endpoint).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def error_code(exc: ClientError) -> str:
    """The S3 error code (``NoSuchKey``, ``PreconditionFailed``, ...)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_status(exc: ClientError) -> int:
    """The HTTP status of a failed request."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_transient(exc: Exception) -> bool:
    """Whether ``exc`` may go away by itself: the endpoint is down, overloaded or restarting.

    Credential, permission, missing-bucket and precondition errors are not transient.
    """
    if isinstance(exc, ClientError):
        return error_status(exc) in _TRANSIENT_STATUSES or error_code(exc) in (
            "SlowDown",
            "ServiceUnavailable",
            "InternalError",
            "RequestTimeout",
        )
    return isinstance(exc, BotoConnectionError | ReadTimeoutError | ConnectionClosedError)


def describe_error(exc: Exception) -> str:
    """What failed, in words a user can act on; never includes credentials."""
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code == "NoSuchBucket":
            return "bucket does not exist"
        if code in _CREDENTIAL_CODES:
            return f"invalid credentials ({_CREDENTIAL_CODES[code]})"
        if code == "AccessDenied" or error_status(exc) == 403:
            return "access denied"
        message = exc.response.get("Error", {}).get("Message") or "no message"
        return f"{code or error_status(exc)} ({message})"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "AWS_PROFILE)"
        )
    if isinstance(exc, BotoConnectionError):
        return "endpoint unreachable"
    if isinstance(exc, ReadTimeoutError):
        # The read timeout depends on the client (the start-up check waits less), and the
        # exception does not carry it: say what happened without a number that may be wrong.
        return "endpoint accepted the connection but did not answer (read timed out)"
    if isinstance(exc, ConnectionClosedError):
        return "endpoint closed the connection"
    return f"{type(exc).__name__} ({exc})"


class RecentWrites:
    """Keys this process wrote (or saw exist) in the last few seconds, shared by every store.

    A 404 on such a key is the store lagging behind (BR-33), not a missing object.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._written: dict[tuple[str, str, str], float] = {}

    def add(self, ident: tuple[str, str, str]) -> None:
        """Note that ``ident`` (endpoint, bucket, key) exists as of now."""
        now = time.monotonic()
        with self._lock:
            self._written[ident] = now
            if len(self._written) > 4096:
                cutoff = now - RECENT_WRITE_WINDOW_S
                self._written = {k: t for k, t in self._written.items() if t >= cutoff}

    def discard(self, ident: tuple[str, str, str]) -> None:
        """Forget ``ident`` (it was deleted)."""
        with self._lock:
            self._written.pop(ident, None)

    def is_recent(self, ident: tuple[str, str, str]) -> bool:
        """Whether ``ident`` was noted in the last :data:`RECENT_WRITE_WINDOW_S` seconds."""
        with self._lock:
            written = self._written.get(ident)
        return written is not None and time.monotonic() - written < RECENT_WRITE_WINDOW_S
