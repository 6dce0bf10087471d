"""What the S3 store costs: requests and bytes per trial, and the resume time of a big sweep.

Starts its own SeaweedFS ``weed mini`` on 127.0.0.1 (tests/s3server.py; its ports are fixed, so
no other instance may run), then:

1. runs a 100-trial random sweep whose trainer logs 20 steps, driving the store the way the
   flow does (claim, :func:`sweepcore.execute.run_attempt`, the leaderboard every 5 trials and
   at the end), and prints S3 requests and bytes per trial, by operation. Twice: a trainer
   whose 20 steps fit in one flush, and the worst case of a slow trainer whose every step is
   flushed on its own (``FLUSH_INTERVAL_S = 0``);
2. writes a 2000-trial sweep (each with a 20-row history) and times what a resume does before
   its first new trial: open and check the store, take the lease, load every trial with its
   history, and build the controller (goal: under 10 s).

Run: ``python -m bench.store_cost [--trials N] [--resume-trials N]``. Figures only; nothing
is asserted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sweepcore import run as run_module
from sweepcore.config import load_config
from sweepcore.controller import SweepController
from sweepcore.execute import Trainer, run_attempt
from sweepcore.leaderboard import build_leaderboard, to_csv_bytes, to_parquet_bytes
from sweepcore.search import get_searcher
from sweepcore.store import open_store
from sweepcore.trial import Attempt, Trial, TrialState
from tests.s3server import RequestLog, SeaweedServer

BUCKET = "bench"
N_STEPS = 20
CONFIG = {
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "depth": {"values": [2, 4, 8]},
    },
}


def twenty_steps(config: dict[str, Any], run: Any) -> None:
    """Logs loss and accuracy for 20 steps."""
    for step in range(N_STEPS):
        run.log({"loss": config["lr"] / (step + 1), "acc": step / N_STEPS}, step=step)


def measure_sweep(url: str, sweep_id: str, n_trials: int) -> dict[str, Any]:
    """Run ``n_trials`` through the store as the flow does; return what S3 saw."""
    store = open_store(url)
    log = RequestLog(store.blobs.client)
    store.blobs.check()
    config = load_config(CONFIG)
    store.create_sweep(sweep_id, CONFIG, {"seed": 1})
    lease = store.acquire_lease(sweep_id)
    controller = SweepController(config, store.load_trials(sweep_id), parallel=1)
    trainer = Trainer(function=twenty_steps)
    started = time.perf_counter()
    for n in range(n_trials):
        (trial,) = controller.suggest(get_searcher("random"), 1, seed=1)
        store.claim_trial(sweep_id, trial)
        controller.record(run_attempt(store, sweep_id, config, trial, trainer))
        if (n + 1) % 5 == 0 or n + 1 == n_trials:
            frame = build_leaderboard(config, controller.history)
            store.write_results(sweep_id, to_csv_bytes(frame), to_parquet_bytes(frame))
    elapsed = time.perf_counter() - started
    store.release_lease(sweep_id, lease)
    return {
        "requests": len(log.requests),
        "by_operation": Counter(r.operation for r in log.requests),
        "bytes_sent": log.bytes_sent,
        "bytes_received": log.bytes_received,
        "seconds": elapsed,
    }


def write_big_sweep(url: str, sweep_id: str, n_trials: int) -> None:
    """A finished sweep of ``n_trials`` trials, each with a 20-row history, written fast."""
    store = open_store(url)
    store.create_sweep(sweep_id, CONFIG, {"seed": 1})

    def write(i: int) -> None:
        # As run_attempt leaves a finished trial: history parts, then the final record.
        rows = [{"loss": 1.0 / (i + step + 1), "_step": step} for step in range(N_STEPS)]
        writer = store.history_writer(sweep_id, Trial.id_for(i), 1)
        for row in rows:
            writer.append(row)
        writer.close()
        trial = Trial(
            Trial.id_for(i),
            i,
            {"lr": 0.01, "depth": 4},
            state=TrialState.FINISHED,
            history=tuple(rows),
            summary={"loss": rows[-1]["loss"]},
            attempts=(Attempt(1, 1.0, 2.0, "finished"),),
        )
        store.write_trial(sweep_id, trial)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(n_trials)))


def time_resume(url: str, sweep_id: str) -> dict[str, Any]:
    """Seconds from opening the store to a controller ready to suggest."""
    started = time.perf_counter()
    store = open_store(url)
    store.blobs.check()
    config = load_config(store.read_config(sweep_id))
    lease = store.acquire_lease(sweep_id)
    log = RequestLog(store.blobs.client)
    loaded_at = time.perf_counter()
    trials = store.load_trials(sweep_id)
    load_s = time.perf_counter() - loaded_at
    controller = SweepController(config, trials, parallel=4)
    total = time.perf_counter() - started
    store.release_lease(sweep_id, lease)
    return {
        "n_trials": len(controller.trials),
        "n_rows": sum(len(t.history) for t in trials),
        "load_s": load_s,
        "total_s": total,
        "requests": len(log.requests),
    }


def _print_cost(title: str, n_trials: int, cost: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(
        f"  {cost['requests'] / n_trials:.2f} requests/trial, "
        f"{cost['bytes_sent'] / n_trials / 1024:.2f} KiB sent/trial, "
        f"{cost['bytes_received'] / n_trials / 1024:.2f} KiB received/trial "
        f"({cost['seconds']:.1f} s for {n_trials} trials)"
    )
    for operation, count in sorted(cost["by_operation"].items()):
        print(f"    {operation:<14} {count / n_trials:6.2f}/trial")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--resume-trials", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="store-cost-") as work:
        server = SeaweedServer(Path(work))
        server.start()
        try:
            os.environ.update(
                AWS_ACCESS_KEY_ID=server.access_key,
                AWS_SECRET_ACCESS_KEY=server.secret_key,
                AWS_ENDPOINT_URL_S3=server.endpoint_url,
            )
            open_store(f"s3://{BUCKET}").blobs.client.create_bucket(Bucket=BUCKET)
            url = f"s3://{BUCKET}/bench"
            print(f"SeaweedFS at {server.endpoint_url}; {args.trials} trials x {N_STEPS} steps")

            cost = measure_sweep(url, "one-flush", args.trials)
            _print_cost("trainer logging 20 steps within one flush:", args.trials, cost)
            run_module.FLUSH_INTERVAL_S = 0.0
            cost = measure_sweep(url, "every-step", args.trials)
            _print_cost("worst case, every step flushed on its own:", args.trials, cost)
            run_module.FLUSH_INTERVAL_S = 2.0

            print(f"\nwriting a {args.resume_trials}-trial sweep ...")
            write_big_sweep(url, "big", args.resume_trials)
            resume = time_resume(url, "big")
            print(
                f"resume of {resume['n_trials']} trials ({resume['n_rows']} history rows): "
                f"{resume['total_s']:.2f} s to a ready controller, of which load_trials "
                f"{resume['load_s']:.2f} s ({resume['requests']} requests; goal < 10 s)"
            )
        finally:
            server.close()


if __name__ == "__main__":
    main()
