"""Prefect flows of prefect-sweeps: ``from flows.sweep import sweep`` (the flow named "sweep")."""

import os

#: Quiet, offline settings for Prefect's temporary local API, applied by the ``sweep`` command
#: and by a call of the flow from Python just before that API starts, each only where the
#: environment does not set it. Without them every offline run logs an error about telemetry.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "sweepcore",
}


def apply_prefect_defaults() -> None:
    """Set each of :data:`PREFECT_DEFAULTS` the environment does not set (never on import)."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
