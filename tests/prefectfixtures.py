"""A real Prefect API for the flow tests, started once per test session.

Only tests that ask for ``prefect_api`` pay for it (10-30 s on 2 cores), so running the
``sweepcore`` tests alone never starts Prefect. Subprocesses started by tests (the ``sweep``
CLI) reach the same server through ``PREFECT_API_URL`` in the environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

QUIET = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "sweepcore",
    # sweepcore tests log outside any flow run; those lines belong in pytest's capture only.
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
}
for _key, _value in QUIET.items():
    os.environ.setdefault(_key, _value)


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """The URL of a temporary Prefect server (also exported as ``PREFECT_API_URL``)."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        url = str(PREFECT_API_URL.value())
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous
