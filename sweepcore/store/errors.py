"""Errors of the results store; each message names the store URL and what failed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sweepcore.store.lease import Lease

__all__ = ["LeaseHeldError", "StoreError", "SweepNotFoundError"]


class StoreError(RuntimeError):
    """The store cannot be used; the message names the store URL and what failed."""


class SweepNotFoundError(StoreError):
    """No sweep with the asked id exists in the store."""


class LeaseHeldError(StoreError):
    """Another live controller holds the sweep's lease (or took ours over).

    Attributes:
        holder: The lease that was found, when one was.
    """

    holder: Lease | None = None
