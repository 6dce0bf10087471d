"""Quiet, offline Prefect settings for the benchmarks that run the sweep flow."""

from __future__ import annotations

import os

from flows import PREFECT_DEFAULTS

__all__ = ["quiet_prefect"]

#: The ``sweep`` command's defaults, with Prefect's own logging cut to warnings so the
#: benchmarks' tables stand out. Defaults only: a variable the user set wins.
QUIET_PREFECT = {**PREFECT_DEFAULTS, "PREFECT_LOGGING_LEVEL": "WARNING"}


def quiet_prefect() -> None:
    """Set :data:`QUIET_PREFECT` in the environment; call it before Prefect is imported.

    A benchmark's ``main`` calls this, never its module body: tests import benchmark modules
    at collection, and a ``PREFECT_LOGGING_LEVEL`` set then silenced the run logs that other
    tests of the same session assert on.
    """
    for name, value in QUIET_PREFECT.items():
        os.environ.setdefault(name, value)
