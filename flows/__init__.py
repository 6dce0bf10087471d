"""Prefect flows of prefect-sweeps: ``from flows.sweep import sweep`` (the flow named "sweep").

Importing the package sets quiet, offline defaults for Prefect's temporary local API, unless the
user set them: before Prefect reads its settings, so a sweep run from Python gets them as the
``sweep`` command does (without them, every offline run logs an error about telemetry).
"""

import os

#: The defaults, each applied only where the environment does not set it.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "sweepcore",
}

for _key, _value in PREFECT_DEFAULTS.items():
    os.environ.setdefault(_key, _value)
