"""What the GP's subsample costs in search quality, and what it saves in time.

Past ``N_FIT`` observations our bayes fits its hyperparameters on a subset (the best
``N_KEEP_BEST`` plus a seeded random rest), and past ``N_MODEL`` it conditions the posterior on
such a subset too (:mod:`sweepcore.search.bayes.searcher`). This runs long sequential searches
twice on the same problems and seeds, once with those limits and once without (every
observation used for both), and prints, per variant, the mean best value after 150, 250 and
``--evals`` evaluations and the mean seconds per suggestion past 150 observations.

Run: ``python -m bench.subsample_cost [--evals 400] [--seeds 3] [--problems hartmann6,ackley5]``.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from bench.runner import pin_threads

VARIANTS = ("subsampled", "every observation")
CHECKPOINTS = (150, 200, 250)


def run_one(problem: str, seed: int, evals: int, variant: str) -> dict[str, Any]:
    """One sequential bayes run; returns its best-so-far curve and suggestion times."""
    from bench.methods import METHODS, Budget
    from bench.problems import PROBLEMS
    from sweepcore.search.bayes import searcher

    if variant == "every observation":
        searcher.N_FIT = searcher.N_MODEL = evals + 1
    started = time.perf_counter()
    record = METHODS["bayes"].run(PROBLEMS[problem], Budget("long", evals, 1), seed)
    return {
        "problem": problem,
        "variant": variant,
        "best_so_far": np.minimum.accumulate(record.ys).tolist(),
        "suggest_s": record.suggest_s,
        "wall_s": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=400)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--problems", default="hartmann6,ackley5")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    pin_threads()  # the pool's workers inherit it (our searcher also runs BLAS on one thread)

    jobs = [
        (problem, seed, args.evals, variant)
        for problem in args.problems.split(",")
        for seed in range(args.seeds)
        for variant in VARIANTS
    ]
    started = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(run_one, *zip(*jobs, strict=True)))

    marks = [*CHECKPOINTS, args.evals]
    print(f"bayes, sequential, {args.seeds} seeds, {args.evals} evaluations")
    print(
        "| problem | variant | "
        + " | ".join(f"mean best @{m}" for m in marks)
        + " | s per suggestion (all) |"
    )
    print("|---|---|" + "---|" * len(marks) + "---|")
    for problem in args.problems.split(","):
        for variant in VARIANTS:
            runs = [r for r in results if r["problem"] == problem and r["variant"] == variant]
            bests = [np.mean([r["best_so_far"][m - 1] for r in runs]) for m in marks]
            per_suggestion = np.mean([r["suggest_s"] for r in runs]) / args.evals
            print(
                f"| {problem} | {variant} | "
                + " | ".join(f"{b:.5g}" for b in bests)
                + f" | {per_suggestion:.3f} |"
            )
    print(f"wall {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
