"""The lease record: which controller runs a sweep, and whether it may be presumed alive."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

__all__ = ["Lease"]


@dataclass(frozen=True)
class Lease:
    """Who runs a sweep's controller right now.

    Attributes:
        holder: Random id of the controller.
        host: Host name it runs on.
        pid: Its process id.
        heartbeat_at: Unix time of its last heartbeat.
        expires_at: Unix time after which the lease may be taken over.
    """

    holder: str
    host: str
    pid: int
    heartbeat_at: float
    expires_at: float

    def is_local_and_alive(self) -> bool:
        """Whether the holder is a live process on this host (then it surely holds on)."""
        return self.host == socket.gethostname() and _pid_alive(self.pid)

    def is_alive(self, now: float) -> bool:
        """Whether the holder should be presumed alive at ``now``.

        A holder on this host whose process is gone is dead at once; otherwise the lease
        lives until it expires.
        """
        if self.host == socket.gethostname() and not _pid_alive(self.pid):
            return False
        return now < self.expires_at


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
