"""Read a sweep's results back as a pandas DataFrame (notebooks, ``sweep show``/``export``)."""

from __future__ import annotations

import warnings

import pandas as pd

from sweepcore.config import SweepConfigWarning, load_config
from sweepcore.leaderboard import build_leaderboard
from sweepcore.store import open_store

__all__ = ["load_results"]


def load_results(store_url: str | None, sweep_id: str) -> pd.DataFrame:
    """The leaderboard of ``sweep_id``: one row per trial, best first.

    It is built from the trial records themselves, so it is current even while the sweep runs
    (``results.csv`` in the store is refreshed only every few trials).

    Args:
        store_url: A folder or ``s3://bucket/prefix``; ``None`` means the default store.
        sweep_id: The sweep.

    Raises:
        sweepcore.store.SweepNotFoundError: No such sweep in the store.
    """
    store = open_store(store_url)
    with warnings.catch_warnings():
        # The stored config's warnings (deprecated keys) were shown when the sweep was
        # created; reading its results is no time to repeat them.
        warnings.simplefilter("ignore", SweepConfigWarning)
        config = load_config(store.read_config(sweep_id))
    return build_leaderboard(config, store.load_trials(sweep_id))
