"""How much time the sweep loop spends per trial when it is not training.

Runs a sweep of N trials whose trainer returns at once, on Prefect's local API and a local
store, after a warm-up sweep (so Prefect's start-up is measured apart), and prints:

* the start-up time of Prefect's temporary API with the first, 1-trial sweep;
* the wall time per trial of the loop with a no-op trainer, sequentially (1 slot) and with 4
  slots: suggest, claim, task submission, the trial's store writes, progress and leaderboard.

Run: ``python -m bench.loop_overhead [--trials N]``. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

from bench.prefectenv import quiet_prefect


def noop(config: dict[str, Any], run: Any) -> None:
    """Logs one value and returns."""
    run.log({"loss": config["x"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()
    quiet_prefect()

    from flows.sweep import sweep

    config = {
        "method": "random",
        "metric": {"name": "loss"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
    with tempfile.TemporaryDirectory() as store:
        start = time.perf_counter()
        sweep(config={**config, "run_cap": 1}, function=noop, store=store)
        print(
            f"first 1-trial sweep, Prefect start-up included: {time.perf_counter() - start:.1f} s"
        )

        for parallel in (1, 4):
            start = time.perf_counter()
            sweep(
                config={**config, "run_cap": args.trials},
                function=noop,
                store=store,
                parallel=parallel,
            )
            wall = time.perf_counter() - start
            print(
                f"{args.trials} no-op trials, {parallel} slot(s): {wall:.1f} s, "
                f"{1000 * wall / args.trials:.0f} ms per trial"
            )


if __name__ == "__main__":
    main()
