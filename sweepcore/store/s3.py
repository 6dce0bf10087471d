"""A results store in an S3 bucket: AWS, or any S3-compatible server (MinIO, SeaweedFS, Ceph).

Objects live under ``<prefix>/<key>`` in the bucket of an ``s3://bucket/prefix`` URL. Credentials
and region come from boto3's standard chain (environment, profile, instance role); the endpoint
from the ``endpoint_url`` argument, else from boto3's own ``AWS_ENDPOINT_URL_S3`` and
``AWS_ENDPOINT_URL`` variables, else AWS. Against a custom endpoint the client uses path-style
addressing (``http://host/bucket/key``) and region ``us-east-1`` when none is configured, so no
request is ever rewritten to an ``amazonaws.com`` host.

Environment variables read here:

==============================  =============================================================
``SWEEP_S3_RETRY_MODE``         botocore retry mode, ``standard`` (default) or ``adaptive``
``SWEEP_S3_MAX_ATTEMPTS``       attempts per request, retries included (default 5)
``SWEEP_S3_CONDITIONAL_WRITES`` ``false`` for stores without ``If-None-Match`` puts; ``true``
                                skips the one-time probe; unset probes on first use
``SWEEP_S3_OUTAGE_S``           seconds an unreachable or failing (5xx) endpoint is retried
                                after botocore's own retries, before a call fails (default 60)
==============================  =============================================================
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from sweepcore.store.base import StoreError
from sweepcore.store.s3client import (
    CHECK_READ_TIMEOUT_S,
    RecentWrites,
    describe_error,
    env_flag,
    env_seconds,
    error_code,
    error_status,
    is_transient,
    make_client,
    retry_settings,
)

__all__ = ["S3BlobStore"]

logger = logging.getLogger(__name__)

#: How long a 404 on a key this process just wrote, or a 409 on a conditional put, is retried.
CONSISTENCY_TIMEOUT_S = 10.0
#: How long a call keeps retrying while the endpoint is down or answers 5xx (a restart, a
#: short outage), on top of botocore's own retries.
OUTAGE_TIMEOUT_S = 60.0

_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}


_RECENT_WRITES = RecentWrites()
#: Probe results per (endpoint, bucket), so each process probes a bucket once.
_CONDITIONAL_SUPPORT: dict[tuple[str, str], bool] = {}


class S3BlobStore:
    """Objects in an S3 bucket under a key prefix.

    Guarantees (see :mod:`sweepcore.store.base`): every write is a single PUT, so readers see
    the old or the new object. :meth:`create` is a conditional PUT (``If-None-Match: *``): the
    server answers 412 to all but one of several concurrent creators; a 409
    (``ConditionalRequestConflict``, another conditional write in flight) is retried with
    backoff until the server decides (BR-34). A 404 on a key this process wrote, or was told
    exists, in the last :data:`RECENT_WRITE_WINDOW_S` seconds is retried for up to
    ``consistency_timeout_s`` before the key is taken as missing, for stores and caches that
    are slow to show new keys (BR-33). While the endpoint is unreachable or answers 5xx, a call
    is retried until ``outage_timeout_s`` after the outage's first failure (after botocore's
    own retries), so a restart of the store does not fail a sweep; every call that runs into
    the same outage shares that budget, and any answer from the endpoint ends the outage. Every
    botocore error leaves as a one-line :class:`~sweepcore.store.base.StoreError` naming the
    store URL, the endpoint actually used and what failed.

    Note:
        Stores that do not support conditional writes answer 501 or silently ignore the header.
        ``conditional_writes=None`` probes once, on the first :meth:`create` or :meth:`check`,
        with two create-only PUTs of a scratch key (the second must get 412). Without support
        (or with ``SWEEP_S3_CONDITIONAL_WRITES=false``) :meth:`create` falls back to a HEAD then
        a PUT and logs a warning: two controllers creating the same key in the same instant
        could both succeed, so run one controller per sweep on such a store (the sweep's lease
        still refuses a second controller that starts later).

    Args:
        client: A boto3 S3 client.
        bucket: Bucket name.
        prefix: Key prefix without leading or trailing ``/``; empty for the bucket's root.
        url: The store's URL as the user wrote it (for messages).
        check_client: Client used by :meth:`check`, with few retries so it fails fast, or a
            function that makes it on first use; ``client`` when ``None``.
        conditional_writes: Whether the store honours ``If-None-Match``/``If-Match`` on PUT;
            ``None`` probes on first use.
        consistency_timeout_s: Retry budget for 404s on fresh keys and for 409 conflicts.
        outage_timeout_s: Retry budget of an outage (the endpoint down or answering 5xx).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        url: str | None = None,
        check_client: Any | Callable[[], Any] | None = None,
        conditional_writes: bool | None = None,
        consistency_timeout_s: float = CONSISTENCY_TIMEOUT_S,
        outage_timeout_s: float = OUTAGE_TIMEOUT_S,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = "/".join(part for part in prefix.split("/") if part)
        self.url = url or f"s3://{bucket}/{self.prefix}"
        self.conditional_writes = conditional_writes
        self.consistency_timeout_s = consistency_timeout_s
        self.outage_timeout_s = outage_timeout_s
        self._check_client = check_client or client
        self._check_lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._rng = random.Random()
        # When the endpoint first failed in the outage going on, shared by every call: each
        # call used to get a window of its own, so a trial that kept writing history rode out
        # window after window and a sweep with SWEEP_S3_OUTAGE_S=10 took 93 s to stop.
        # A failure long after the last one is a new outage (the last may have ended unseen).
        self._outage_start: float | None = None
        self._last_failure = 0.0

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        retry_mode: str | None = None,
        max_attempts: int | None = None,
        conditional_writes: bool | None = None,
        outage_timeout_s: float | None = None,
    ) -> S3BlobStore:
        """Open ``s3://bucket/prefix`` with boto3's standard credential chain.

        Args:
            url: ``s3://bucket`` or ``s3://bucket/some/prefix``.
            endpoint_url: S3-compatible endpoint; default from ``AWS_ENDPOINT_URL_S3`` or
                ``AWS_ENDPOINT_URL``, else AWS.
            retry_mode: ``standard`` or ``adaptive``; default ``SWEEP_S3_RETRY_MODE`` or
                ``standard``.
            max_attempts: Attempts per request; default ``SWEEP_S3_MAX_ATTEMPTS`` or 5.
            conditional_writes: See the class docstring; default from
                ``SWEEP_S3_CONDITIONAL_WRITES``, else probed.
            outage_timeout_s: See the class docstring; default ``SWEEP_S3_OUTAGE_S`` or
                :data:`OUTAGE_TIMEOUT_S`.

        Returns:
            The store. Nothing is contacted yet; call :meth:`check` to fail early.

        Raises:
            ValueError: A malformed URL or retry setting.
        """
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"{url!r} is not an S3 store URL; expected s3://bucket/prefix")
        mode, attempts = retry_settings(retry_mode, max_attempts)
        if conditional_writes is None:
            conditional_writes = env_flag("SWEEP_S3_CONDITIONAL_WRITES")
        if outage_timeout_s is None:
            outage_timeout_s = env_seconds("SWEEP_S3_OUTAGE_S", OUTAGE_TIMEOUT_S)

        client = make_client(endpoint_url, mode, attempts)

        def check_client() -> Any:
            # One retry at most and a short read timeout: check() runs before a sweep starts
            # and must answer in seconds. Built on first use: a client costs about 0.3 s.
            return make_client(
                client.meta.endpoint_url, mode, min(attempts, 2), CHECK_READ_TIMEOUT_S
            )

        return cls(
            client,
            parsed.netloc,
            parsed.path,
            url=url,
            check_client=check_client,
            conditional_writes=conditional_writes,
            outage_timeout_s=outage_timeout_s,
        )

    @property
    def endpoint_url(self) -> str:
        """The endpoint requests actually go to."""
        return str(self.client.meta.endpoint_url)

    # -- keys, errors and retries -------------------------------------------------------

    def _key(self, key: str) -> str:
        key = key.lstrip("/")
        return f"{self.prefix}/{key}" if self.prefix else key

    def _ident(self, key: str) -> tuple[str, str, str]:
        return (self.endpoint_url, self.bucket, self._key(key))

    def _error(self, exc: Exception, doing: str) -> StoreError:
        text = f"{self.url} (endpoint {self.endpoint_url}): {describe_error(exc)} while {doing}"
        return StoreError(" ".join(text.split()))

    def _backoff(self, attempt: int) -> float:
        return min(2.0, 0.05 * 2.0 ** min(attempt, 8)) * self._rng.uniform(0.5, 1.0)

    def _call(self, operation: str, doing: str, **params: Any) -> Any:
        """``client.<operation>(Bucket=..., **params)``, riding out a short outage.

        Transient failures (endpoint unreachable, 5xx) are retried until
        ``outage_timeout_s`` has passed since the first one; then, and for every other
        botocore error except a :class:`ClientError`, a :class:`StoreError` is raised. A
        non-transient :class:`ClientError` (404, 412, 403...) is raised as is, for the caller
        to interpret.
        """
        method = getattr(self.client, operation)
        deadline: float | None = None
        for attempt in itertools.count():
            try:
                response = method(Bucket=self.bucket, **params)
            except (ClientError, BotoCoreError) as exc:
                deadline = self._wait_out(exc, deadline, attempt, doing)
                continue
            self._outage_start = None  # the endpoint answered: any outage is over
            return response
        raise AssertionError("unreachable")

    def _wait_out(
        self, exc: ClientError | BotoCoreError, deadline: float | None, attempt: int, doing: str
    ) -> float:
        """Sleep before retrying a transient ``exc``; re-raise anything else.

        Returns:
            The deadline of the outage (set at its first failure).
        """
        if not is_transient(exc):
            if isinstance(exc, ClientError):
                self._outage_start = None  # the endpoint answered
                raise exc
            raise self._error(exc, doing) from exc
        now = time.monotonic()
        if deadline is None:
            new_outage = (
                self._outage_start is None or now - self._last_failure > self.outage_timeout_s
            )
            if new_outage:
                self._outage_start = now
            deadline = (self._outage_start or now) + self.outage_timeout_s
            # One warning per outage; other calls that run into it only wait out the rest.
            logger.log(
                logging.WARNING if new_outage else logging.DEBUG,
                "%s: %s while %s; retrying for up to %.0f s",
                self.url,
                describe_error(exc),
                doing,
                deadline - now,
            )
        self._last_failure = now
        if now >= deadline:
            raise self._error(
                exc, f"{doing} (the endpoint kept failing for {self.outage_timeout_s:g} s)"
            ) from exc
        time.sleep(min(deadline - now, 0.25 + self._backoff(attempt)))
        return deadline

    # -- BlobStore ----------------------------------------------------------------------

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or ``None`` when it does not exist.

        A 404 on a key this process wrote (or saw exist) moments ago is retried with backoff
        for up to ``consistency_timeout_s`` first.
        """
        deadline: float | None = None
        for attempt in itertools.count():
            try:
                response = self._call("get_object", f"reading {key}", Key=self._key(key))
                data: bytes = response["Body"].read()
                return data
            except ClientError as exc:
                if error_code(exc) not in _MISSING_KEY_CODES:
                    raise self._error(exc, f"reading {key}") from exc

            now = time.monotonic()
            if deadline is None:
                if not _RECENT_WRITES.is_recent(self._ident(key)):
                    return None
                deadline = now + self.consistency_timeout_s
            if now >= deadline:
                logger.warning(
                    "%s: %s was written moments ago but reads as missing", self.url, key
                )
                return None
            logger.debug("%s: 404 on freshly written %s; retrying", self.url, key)
            time.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def write(self, key: str, data: bytes) -> None:
        """Replace the object with one PUT."""
        try:
            self._call("put_object", f"writing {key}", Key=self._key(key), Body=data)
        except ClientError as exc:
            raise self._error(exc, f"writing {key}") from exc
        _RECENT_WRITES.add(self._ident(key))

    def create(self, key: str, data: bytes) -> bool:
        """Create the object only if absent; ``False`` when it already exists.

        Raises:
            StoreError: The store failed, or a 409 conflict outlasted the retry budget.
        """
        if not self._supports_conditional_writes():
            return self._create_unconditionally(key, data)
        created = self._conditional_put(key, data, f"creating {key}", IfNoneMatch="*")
        # Either way the key exists now: a 404 on it in the next seconds is lag, not absence.
        _RECENT_WRITES.add(self._ident(key))
        return created

    def compare_and_swap(self, key: str, expected: bytes, data: bytes) -> bool:
        """Replace the object with ``data`` only if it still holds ``expected``.

        Reads the object and its ETag, then PUTs with ``If-Match``; used to take over a dead
        controller's lease without two successors both winning.

        Returns:
            ``False`` when the object is gone or changed (someone else swapped first).
        """
        try:
            response = self._call("get_object", f"reading {key}", Key=self._key(key))
            current, etag = response["Body"].read(), response["ETag"]
        except ClientError as exc:
            if error_code(exc) in _MISSING_KEY_CODES:
                return False
            raise self._error(exc, f"reading {key}") from exc
        if current != expected:
            return False
        if not self._supports_conditional_writes():
            self.write(key, data)
            return True
        swapped = self._conditional_put(key, data, f"replacing {key}", IfMatch=etag)
        if swapped:
            _RECENT_WRITES.add(self._ident(key))
        return swapped

    def list(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted; every page of the listing is read."""
        full = self._key(prefix)  # "<prefix>/" for the whole store, never "<prefix>" alone
        strip = len(self.prefix) + 1 if self.prefix else 0
        doing = f"listing {prefix or '/'}"
        keys: list[str] = []
        token: str | None = None
        try:
            while True:
                # Pages are requested one by one (not with a paginator) so that a transient
                # failure retries the page, not the whole listing.
                params: dict[str, Any] = {"Prefix": full}
                if token:
                    params["ContinuationToken"] = token
                page = self._call("list_objects_v2", doing, **params)
                keys += [item["Key"][strip:] for item in page.get("Contents", ())]
                token = page.get("NextContinuationToken")
                if not page.get("IsTruncated") or not token:
                    break
        except ClientError as exc:
            raise self._error(exc, doing) from exc
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Remove the object if it exists."""
        try:
            self._call("delete_object", f"deleting {key}", Key=self._key(key))
        except ClientError as exc:
            raise self._error(exc, f"deleting {key}") from exc
        _RECENT_WRITES.discard(self._ident(key))

    def check(self) -> None:
        """Fail early, in seconds, when the store cannot be used.

        Lists the prefix (bucket exists, credentials valid, read allowed), then writes and
        deletes a scratch object (write allowed), probing conditional-write support on the way
        if it is not known yet. Nothing here rides out an outage, and credential errors are
        never retried.

        Raises:
            StoreError: One line naming the URL, the endpoint and what failed: "bucket does
                not exist", "invalid credentials (...)", "endpoint unreachable", "access
                denied", "no credentials found".
        """
        probe = self._key(f".sweep-check/{uuid.uuid4().hex}")
        with self._check_lock:
            if not hasattr(self._check_client, "meta"):  # a factory, not a client yet
                self._check_client = self._check_client()
            client: Any = self._check_client
        doing = "listing the bucket"
        try:
            client.list_objects_v2(Bucket=self.bucket, Prefix=self._key(""), MaxKeys=1)
            doing = "writing a probe object"
            client.put_object(Bucket=self.bucket, Key=probe, Body=b"")
            doing = "deleting the probe object"
            client.delete_object(Bucket=self.bucket, Key=probe)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc, doing) from exc
        self._supports_conditional_writes()

    # -- conditional writes -------------------------------------------------------------

    def _conditional_put(self, key: str, data: bytes, doing: str, **condition: str) -> bool:
        """PUT with ``condition``: ``True`` on success, ``False`` on 412; 409 is retried."""
        conflict_deadline = time.monotonic() + self.consistency_timeout_s
        outage_deadline: float | None = None
        n_sent = 0
        for attempt in itertools.count():
            try:
                n_sent += 1
                self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=data, **condition
                )
                self._outage_start = None  # the endpoint answered: any outage is over
                return True
            except ClientError as exc:
                status, code = error_status(exc), error_code(exc)
                if status == 412 or code == "PreconditionFailed":
                    self._outage_start = None  # the endpoint answered
                    return self._lost_own_write(key, data, exc, n_sent > 1)
                if status != 409 and code != "ConditionalRequestConflict":
                    try:
                        outage_deadline = self._wait_out(exc, outage_deadline, attempt, doing)
                    except ClientError:
                        raise self._error(exc, doing) from exc
                    continue
                if time.monotonic() >= conflict_deadline:
                    raise self._error(exc, f"{doing} (conflict persisted)") from exc
            except BotoCoreError as exc:
                outage_deadline = self._wait_out(exc, outage_deadline, attempt, doing)
                continue
            logger.info(
                "%s: conditional write of %s conflicted with a concurrent one (409); retrying",
                self.url,
                key,
            )
            time.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def _lost_own_write(self, key: str, data: bytes, exc: ClientError, resent: bool) -> bool:
        """Whether a 412 only says that our own earlier attempt landed.

        When the PUT was sent again (by botocore or by :meth:`_conditional_put`, after a
        timeout or a dropped connection once the server had stored it), the retry meets our
        own object. The object then holds our exact bytes; records carry timestamps and
        random ids, so another writer's identical bytes are not a practical concern.
        """
        if not resent and not exc.response.get("ResponseMetadata", {}).get("RetryAttempts"):
            return False
        try:
            response = self._call("get_object", f"reading {key}", Key=self._key(key))
        except ClientError:
            return False
        return bool(response["Body"].read() == data)

    def _supports_conditional_writes(self) -> bool:
        if self.conditional_writes is None:
            with self._probe_lock:
                if self.conditional_writes is None:
                    where = (self.endpoint_url, self.bucket)
                    known = _CONDITIONAL_SUPPORT.get(where)
                    if known is None:
                        known = _CONDITIONAL_SUPPORT[where] = self._probe_conditional_writes()
                    self.conditional_writes = known
        return self.conditional_writes

    def _probe_conditional_writes(self) -> bool:
        key = self._key(f".sweep-check/conditional-{uuid.uuid4().hex}")
        refused_with = 0
        try:
            for _ in range(2):
                try:
                    self._call(
                        "put_object",
                        "probing conditional writes",
                        Key=key,
                        Body=b"",
                        IfNoneMatch="*",
                    )
                except ClientError as exc:
                    if (
                        error_status(exc) not in (412, 501, 400)
                        and error_code(exc) != "NotImplemented"
                    ):
                        raise self._error(exc, "probing conditional writes") from exc
                    refused_with = error_status(exc)
                    break
        finally:
            try:
                self._call("delete_object", "removing the conditional-write probe", Key=key)
            except ClientError as exc:
                raise self._error(exc, "removing the conditional-write probe") from exc
        # Only a 412 on the second create-only PUT proves the header is honoured; a 501 (or 400)
        # refuses it outright, and a 200 means it was silently ignored.
        if refused_with == 412:
            logger.debug("%s: conditional writes supported", self.url)
            return True
        logger.warning(
            "%s (endpoint %s) does not honour conditional writes; creating a key falls back to "
            "HEAD then PUT, so two controllers creating the same key at once could both succeed",
            self.url,
            self.endpoint_url,
        )
        return False

    def _create_unconditionally(self, key: str, data: bytes) -> bool:
        doing = f"creating {key}"
        try:
            self._call("head_object", doing, Key=self._key(key))
            return False
        except ClientError as exc:
            if error_code(exc) not in _MISSING_KEY_CODES:
                raise self._error(exc, doing) from exc
        self.write(key, data)
        return True
