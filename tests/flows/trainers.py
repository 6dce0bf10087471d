"""Small scripted trainers for the flow tests (importable as ``tests.flows.trainers:NAME``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sweepcore.run import Run


def constant_loss(config: dict[str, Any], run: Run) -> None:
    """Logs val_loss = 1.0 once (BR-01's stub)."""
    run.log({"val_loss": 1.0})


def quadratic(config: dict[str, Any], run: Run) -> None:
    """loss = (x - 0.3)^2, logged over 3 steps."""
    for step in range(3):
        run.log({"loss": (config["x"] - 0.3) ** 2 + 0.1 * (2 - step)}, step=step)


def sum_of_params(config: dict[str, Any], run: Run) -> None:
    """loss = the sum of the numeric parameters (any config)."""
    run.log({"loss": float(sum(v for v in config.values() if isinstance(v, int | float)))})


def slow_quadratic(config: dict[str, Any], run: Run) -> None:
    """Like :func:`quadratic` but takes about half a second."""
    time.sleep(0.5)
    quadratic(config, run)


def always_crashes(config: dict[str, Any], run: Run) -> None:
    """Dies at start-up before logging anything."""
    raise RuntimeError("CUDA out of memory (simulated)")


def wrong_metric_key(config: dict[str, Any], run: Run) -> None:
    """Logs under 'test_acc_avg ' (trailing space) instead of 'test_acc_avg' (BR-09)."""
    for step in range(10):
        run.log({"test_acc_avg ": 0.5 + 0.01 * step}, step=step)


def fails_until_fixed(config: dict[str, Any], run: Run) -> None:
    """Fails (simulated CUDA OOM) while the file ``config['broken']`` exists, and fails its
    first attempt when ``config['flaky']`` names a file not yet there (it creates it)."""
    flaky = Path(config["flaky"])
    if not flaky.exists():
        flaky.write_text("seen")
        raise RuntimeError("CUDA out of memory (attempt 1)")
    if Path(config["broken"]).exists():
        raise RuntimeError("CUDA out of memory (broken GPU)")
    run.log({"val_loss": 0.27})


def br27_config(folder: Path, name: str, broken: bool) -> dict[str, Any]:
    """A one-point grid for :func:`fails_until_fixed` (BR-27): its marker files live in
    ``folder``; ``broken`` creates the file that makes every attempt fail."""
    broken_file = folder / f"{name}-broken"
    if broken:
        broken_file.write_text("x")
    return {
        "method": "grid",
        "metric": {"name": "val_loss"},
        "parameters": {
            "flaky": {"value": str(folder / f"{name}-flaky")},
            "broken": {"value": str(broken_file)},
        },
    }
