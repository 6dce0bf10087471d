"""Prefect's temporary local API, started where a terminal's Ctrl-C does not reach it.

Without a configured ``PREFECT_API_URL``, Prefect starts a temporary API server as a child
process the first time a flow needs one. A Ctrl-C typed in a terminal goes to every process of
the terminal's foreground process group, that child included, so the server shut down at the
very moment the sweep needed it most: to cancel its running trials and record them. The
command then spent minutes retrying a dead API and printing its tracebacks.

:func:`start_local_api` starts the same server, the same way, before the flow does, but in a
process group of its own. Prefect has no option for that, so while the server starts, the
``subprocess`` name in Prefect's server module refers to a stand-in whose ``Popen`` adds
``process_group=0``; everything else is the standard module. Prefect's exit hook still stops
the server when the command exits. A ``kill -9`` of the command, as before, leaves it running.
"""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["start_local_api"]


def start_local_api() -> str | None:
    """Start the temporary API server if this process will need one.

    Returns:
        Its API URL, or ``None`` when a server is configured (``PREFECT_API_URL``) or the
        temporary server is disabled.
    """
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None
    # Imported only when needed: the server module is large, and every call of the flow
    # comes here, with a configured API too.
    from prefect.server.api import server as server_module

    server = server_module.SubprocessASGIServer()
    if not server.running:
        server_module.subprocess = _OwnProcessGroup()  # type: ignore[attr-defined,assignment]
        try:
            server.start()
        finally:
            server_module.subprocess = subprocess  # type: ignore[attr-defined]
    return str(server.api_url)


class _OwnProcessGroup:
    """The ``subprocess`` module, except that ``Popen`` starts a new process group."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def Popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:  # named as in the module
        kwargs.setdefault("process_group", 0)
        return subprocess.Popen(*args, **kwargs)
