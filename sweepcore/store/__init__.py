"""Result stores: a local folder (default) or an S3 bucket, behind one interface."""

from __future__ import annotations

import os

from sweepcore.store.base import (
    BlobStore,
    HistoryWriter,
    Lease,
    LeaseHeldError,
    ResultStore,
    StoreError,
    SweepNotFoundError,
)
from sweepcore.store.local import LocalBlobStore

__all__ = [
    "DEFAULT_STORE",
    "BlobStore",
    "HistoryWriter",
    "Lease",
    "LeaseHeldError",
    "LocalBlobStore",
    "ResultStore",
    "StoreError",
    "SweepNotFoundError",
    "default_store_url",
    "open_store",
]

#: Where results go when neither ``--store`` nor ``SWEEP_STORE`` says otherwise.
DEFAULT_STORE = "./sweeps"


def default_store_url() -> str:
    """``SWEEP_STORE`` from the environment, else :data:`DEFAULT_STORE`."""
    return os.environ.get("SWEEP_STORE") or DEFAULT_STORE


def open_store(url: str | None = None) -> ResultStore:
    """Open the store at ``url`` (a folder, or ``s3://bucket/prefix``).

    Args:
        url: Location; ``None`` means :func:`default_store_url`.

    Returns:
        The store. Nothing is checked yet; call ``store.blobs.check()`` to fail early.

    Raises:
        ValueError: ``url`` looks like an S3 URL but is malformed (``s3:/bucket``).
    """
    url = url or default_store_url()
    if url.lower().startswith("s3:") and not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an S3 store URL; expected s3://bucket/prefix")
    if url.startswith("s3://"):
        from sweepcore.store.s3 import S3BlobStore

        return ResultStore(S3BlobStore.from_url(url))
    return ResultStore(LocalBlobStore(url))
