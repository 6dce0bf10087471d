"""Quick trainers for the S3 flow tests (importable as ``tests.flows.s3_trainers:NAME``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sweepcore.run import Run

#: Seconds one step of :func:`steady` takes; 3 steps make a trial last about 0.75 s, slow
#: enough for a test to see trials finish one by one, quick enough to run 30 in seconds.
STEP_S = 0.25


def steady(config: dict[str, Any], run: Run) -> None:
    """loss = (x - 2)^2 + (y - 1)^2 plus a decaying term, over 3 steps of :data:`STEP_S`."""
    for step in range(3):
        time.sleep(STEP_S)
        loss = (config["x"] - 2) ** 2 + (config["y"] - 1) ** 2 + 0.1 * (2 - step)
        run.log({"loss": float(loss)}, step=step)


def recorded(config: dict[str, Any], run: Run) -> None:
    """Appends its params to the file ``config['calls']``, then logs loss = x after 0.5 s."""
    with open(Path(config["calls"]), "a") as fh:
        fh.write(json.dumps({k: v for k, v in config.items() if k != "calls"}) + "\n")
    time.sleep(0.5)
    run.log({"loss": float(config["x"])})
