"""Bayes against random on the digits example, through the real Prefect flow with 4 trainers.

For each seed, the same SVM search (``examples/digits-svc.yaml``: C and gamma log-uniform,
kernel categorical, 5-fold CV accuracy) runs twice with the same ``run_cap`` and 4 parallel
slots: once with ``method: random`` and once with ``method: bayes``. Trials are counted in
suggestion order (trial index), so a bayes trial suggested while others were still running
counts where it was suggested. Printed per seed and on average:

* random's best accuracy, and how many trials random needed to reach it;
* bayes' best accuracy, and how many trials bayes needed to reach random's best (``-`` if it
  never did);
* then, across seeds, how many trials each method needed to reach random's typical best (the
  median over the seeds of random's best), and each method's mean best accuracy.

Random's own best is a demanding target for a single seed: it is the maximum of random's run,
so random reaches it by construction, and a lucky draw moves it. The typical best is the same
target for both methods in every seed.

Both are printed for the first 16 trials (the example's own ``run_cap``) and for all
``--run-cap`` trials.

Run: ``python -m bench.digits_flow [--seeds 3] [--first-seed 0] [--run-cap 24] [--out F]``.
Figures only; nothing is asserted. Prefect runs on its temporary local API, as in the README's
quick start.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import yaml

from bench.prefectenv import quiet_prefect

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits-svc.yaml"
METRIC = "cv_accuracy"


def trials_to_reach(accuracies: list[float | None], target: float) -> int | None:
    """1-based count of trials (in suggestion order) until one reaches ``target``."""
    for i, value in enumerate(accuracies):
        if value is not None and value >= target:
            return i + 1
    return None


def run_one(method: str, seed: int, run_cap: int, store: str) -> list[float | None]:
    """One sweep; returns each trial's best accuracy in suggestion order."""
    from flows.sweep import sweep
    from sweepcore.store import open_store
    from sweepcore.trial import best_metric_value

    config = yaml.safe_load(EXAMPLE.read_text())
    config.update(method=method, run_cap=run_cap)
    summary = sweep(
        config=config, function="examples.digits:train", store=store, parallel=4, seed=seed
    )
    trials = open_store(store).load_trials(summary["sweep_id"])
    return [best_metric_value(t, METRIC, "maximize") for t in trials]


def seeds_parser(description: str, seeds: int, first_seed: int) -> argparse.ArgumentParser:
    """The options the digits benchmarks share: how many seeds, from where, trials per sweep."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=seeds, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=first_seed, help="seeds start here")
    parser.add_argument("--run-cap", type=int, default=24, help="trials per sweep")
    return parser


def main() -> None:
    parser = seeds_parser(__doc__.splitlines()[0], seeds=3, first_seed=0)
    parser.add_argument("--out", help="also write every trial's accuracy to this JSON file")
    args = parser.parse_args()
    quiet_prefect()

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    runs: list[tuple[list[float | None], list[float | None]]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as store:
        for seed in seeds:
            runs.append(
                (
                    run_one("random", seed, args.run_cap, store),
                    run_one("bayes", seed, args.run_cap, store),
                )
            )
    wall = time.perf_counter() - started
    if args.out:
        record = {str(s): {"random": r, "bayes": b} for s, (r, b) in zip(seeds, runs, strict=True)}
        Path(args.out).write_text(json.dumps(record, indent=1))

    # The example's own budget is reported too: the first trials of a longer sweep are the
    # trials a shorter one would run, since a suggestion depends only on the trials before it.
    example_cap = int(yaml.safe_load(EXAMPLE.read_text())["run_cap"])
    for cap in sorted({min(example_cap, args.run_cap), args.run_cap}):
        cut = [(r[:cap], b[:cap]) for r, b in runs]
        rows = _rows(seeds, cut)
        print(
            f"\ndigits SVM, first {cap} trials of {args.run_cap}, 4 parallel trainers, "
            "Prefect flow"
        )
        print(
            "| seed | random best | trials (random) | bayes best "
            "| trials (bayes) to random's best |"
        )
        print("|---|---|---|---|---|")
        for seed, best_r, n_r, best_b, n_b in rows:
            shown = "-" if n_b is None else str(n_b)
            print(f"| {seed} | {best_r:.4f} | {n_r} | {best_b:.4f} | {shown} |")
        print(_summary(rows, cap))
        print(_typical(cut, cap))
    print(f"wall {wall:.0f} s")


def _rows(
    seeds: range, runs: list[tuple[list[float | None], list[float | None]]]
) -> list[tuple[int, float, int, float, int | None]]:
    """Per seed: random's best, its trials to it, bayes' best, bayes' trials to random's best."""
    rows = []
    for seed, (random_acc, bayes_acc) in zip(seeds, runs, strict=True):
        best_random = max(v for v in random_acc if v is not None)
        n_random = trials_to_reach(random_acc, best_random)
        assert n_random is not None  # random's best is one of its own trials
        best_bayes = max(v for v in bayes_acc if v is not None)
        rows.append(
            (seed, best_random, n_random, best_bayes, trials_to_reach(bayes_acc, best_random))
        )
    return rows


def _summary(rows: list[tuple[int, float, int, float, int | None]], run_cap: int) -> str:
    """How often bayes needed fewer, as many or more trials than random, or never got there.

    The means count a seed where bayes never reached random's best as ``run_cap + 1`` trials;
    leaving such seeds out would make bayes look faster the more often it fails.
    """
    counts = {"fewer": 0, "as many": 0, "more": 0, "never": 0}
    for _, _, n_r, _, n_b in rows:
        counts[_outcome(n_r, n_b)] += 1
    mean_r = sum(n_r for _, _, n_r, _, _ in rows) / len(rows)
    mean_b = sum(run_cap + 1 if n_b is None else n_b for *_, n_b in rows) / len(rows)
    return (
        "bayes needed "
        + ", ".join(
            f"{k} trials in {v}" if k != "never" else f"never got there in {v}"
            for k, v in counts.items()
        )
        + f" of {len(rows)} seeds; mean trials to random's best: random {mean_r:.1f}, "
        f"bayes {mean_b:.1f} (a miss counted as {run_cap + 1})"
    )


def _typical(runs: list[tuple[list[float | None], list[float | None]]], run_cap: int) -> str:
    """Trials to reach the median of random's best over the seeds, and the mean bests."""
    bests = [[max(v for v in acc if v is not None) for acc in run] for run in runs]
    target = float(statistics.median(best_random for best_random, _ in bests))
    parts = []
    for i, method in enumerate(("random", "bayes")):
        counts = [trials_to_reach(run[i], target) for run in runs]
        reached = sum(n is not None for n in counts)
        mean = sum(run_cap + 1 if n is None else n for n in counts) / len(counts)
        best = sum(b[i] for b in bests) / len(bests)
        parts.append(f"{method} {mean:.1f} (reached in {reached}, mean best {best:.5f})")
    return (
        f"random's typical best (median over {len(runs)} seeds) {target:.4f}; mean trials to "
        f"reach it (a miss counted as {run_cap + 1}): " + ", ".join(parts)
    )


def _outcome(n_random: int, n_bayes: int | None) -> str:
    if n_bayes is None:
        return "never"
    if n_bayes < n_random:
        return "fewer"
    return "more" if n_bayes > n_random else "as many"


if __name__ == "__main__":
    main()
