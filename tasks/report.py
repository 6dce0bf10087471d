"""The report task: the leaderboard in the store and the sweep's artifacts in Prefect's UI."""

from __future__ import annotations

import json
from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from sweepcore.controller import SweepController
from sweepcore.leaderboard import build_leaderboard, to_csv_bytes, to_parquet_bytes
from sweepcore.store import ResultStore

__all__ = ["publish_results"]

#: Rows of the leaderboard shown in the Prefect UI table.
TABLE_ROWS = 50


@task(name="publish-results", retries=2, retry_delay_seconds=[1, 5], cache_policy=NO_CACHE)
def publish_results(
    store: ResultStore, sweep_id: str, controller: SweepController, final: bool = False
) -> None:
    """Write ``results.csv`` and ``results.parquet``; at the end, also the UI artifacts."""
    frame = build_leaderboard(controller.config, controller.history)
    store.write_results(sweep_id, to_csv_bytes(frame), to_parquet_bytes(frame))
    if not final:
        return

    key = _artifact_key(sweep_id)
    rows = json.loads(frame.head(TABLE_ROWS).to_json(orient="records"))
    create_table_artifact(
        key=f"{key}-leaderboard", table=rows, description=f"Leaderboard of sweep {sweep_id}"
    )
    create_markdown_artifact(key=f"{key}-best", markdown=_best_markdown(controller, sweep_id))
    get_run_logger().info("leaderboard written to %s/%s/results.csv", store.url, sweep_id)


def _best_markdown(controller: SweepController, sweep_id: str) -> str:
    progress = controller.progress()
    if progress.best_trial_id is None:
        return f"# Sweep {sweep_id}\n\nNo trial has completed with a metric value yet."
    best = controller.trials[progress.best_trial_id]
    metric = controller.config.metric
    assert metric is not None
    params = json.dumps(dict(best.params), indent=2, default=str)
    return (
        f"# Sweep {sweep_id}: best trial {best.trial_id}\n\n"
        f"{metric.name} ({metric.goal}) = **{progress.best_value}**\n\n"
        f"```json\n{params}\n```\n"
    )


def _artifact_key(sweep_id: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only."""
    cleaned: list[Any] = [c if c.isalnum() else "-" for c in sweep_id.lower()]
    return "sweep-" + "".join(cleaned).strip("-")
