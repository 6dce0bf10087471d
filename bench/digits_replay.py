"""Bayes against random on the digits example, replayed offline: no Prefect, same searchers.

The flow (``bench.digits_flow``) takes 15 s a seed and is not repeatable trial for trial. This
replay calls the searchers the way the flow's loop does, with 4 slots that finish in the order
they started: 4 points first, then one new point each time the oldest running trial ends, the
other 3 still running. Every trial is a real 5-fold CV score of ``examples.digits:train``,
memoised: a ``poly`` model depends on ``log10(C gamma^3)`` alone (see bench/README.md), so it
is scored once per value of that rounded to 0.001, the others once per rounded
``(log10 C, log10 gamma)``. Printed, for random and bayes with the same seeds:

* the mean trials to reach random's own best in each seed and random's typical best (as
  ``bench.digits_flow`` counts them, at 16 trials and at ``--run-cap``);
* where each method's ``poly`` trials went: on the plateau (``t > -4``), on the strip just
  below it (``-4.67 < t < -4.32``, the one image better), and where ``poly`` fails
  (``t < -6``), with ``t = log10(C gamma^3)``.

Run: ``python -m bench.digits_replay [--seeds 40] [--first-seed 100] [--run-cap 24]``
(about 7 minutes for 40 seeds on one core). Figures only; nothing is asserted.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.digits_flow import seeds_parser, trials_to_reach

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits-svc.yaml"
METRIC = "cv_accuracy"
SLOTS = 4


def replay(
    method: str, seed: int, run_cap: int, score: Callable[[dict[str, Any]], float]
) -> list[tuple[dict[str, Any], float]]:
    """One sweep's trials in suggestion order, each with its accuracy."""
    from sweepcore.config import load_config
    from sweepcore.search import get_searcher
    from sweepcore.trial import Trial, TrialState

    config = load_config({**yaml.safe_load(EXAMPLE.read_text()), "method": method})
    searcher = get_searcher(method)
    points = list(searcher.suggest(config, [], n=SLOTS, seed=seed).points)
    accuracies: list[float] = []
    while len(accuracies) < run_cap:
        # The oldest running trial ends; the others are still running when the next is asked.
        accuracies.append(score(points[len(accuracies)]))
        if len(points) < run_cap:
            history = [
                Trial(Trial.id_for(i), i, p, TrialState.RUNNING)
                if i >= len(accuracies)
                else Trial(
                    Trial.id_for(i),
                    i,
                    p,
                    TrialState.FINISHED,
                    history=({METRIC: accuracies[i]},),
                    summary={METRIC: accuracies[i]},
                )
                for i, p in enumerate(points)
            ]
            points.append(searcher.suggest(config, history, n=1, seed=seed).points[0])
    return list(zip(points, accuracies, strict=True))


class MemoisedScore:
    """The example's CV accuracy, computed once per point of the rounded grid above."""

    def __init__(self) -> None:
        self._known: dict[tuple[Any, ...], float] = {}

    def __call__(self, point: dict[str, Any]) -> float:
        from examples.digits import train

        key = _key(point)
        if key not in self._known:
            logged: dict[str, Any] = {}

            class _Run:
                def log(self, row: dict[str, Any], step: int | None = None) -> None:
                    logged.update(row)

            train(point, _Run())  # type: ignore[arg-type]
            self._known[key] = float(logged[METRIC])
        return self._known[key]


def main() -> None:
    args = seeds_parser(__doc__.splitlines()[0], seeds=40, first_seed=100).parse_args()

    score = MemoisedScore()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    runs = {
        method: [replay(method, seed, args.run_cap, score) for seed in seeds]
        for method in ("random", "bayes")
    }
    accuracies = {m: [[a for _, a in run] for run in rs] for m, rs in runs.items()}

    print(f"digits replay, seeds {seeds.start}-{seeds.stop - 1}, {SLOTS} slots")
    for cap in sorted({16, args.run_cap}):
        print(_reach_line(accuracies["random"], accuracies["bayes"], cap))
    for method, rs in runs.items():
        print(_poly_line(method, rs))


def _reach_line(random: list[list[float]], bayes: list[list[float]], cap: int) -> str:
    """Mean trials to random's own best and to its typical best, a miss counted as cap + 1."""

    def mean_trials(accs: list[list[float]], targets: list[float]) -> str:
        counts = [trials_to_reach(list(a[:cap]), t) for a, t in zip(accs, targets, strict=True)]
        reached = sum(n is not None for n in counts)
        mean = statistics.mean(cap + 1 if n is None else n for n in counts)
        return f"{mean:.2f} ({reached} reached)"

    own = [max(a[:cap]) for a in random]
    typical = [statistics.median(own)] * len(own)
    return (
        f"first {cap} trials: to random's own best, random {mean_trials(random, own)}, "
        f"bayes {mean_trials(bayes, own)}; to its typical best ({typical[0]:.5f}), "
        f"random {mean_trials(random, typical)}, bayes {mean_trials(bayes, typical)}"
    )


def _poly_line(method: str, runs: list[list[tuple[dict[str, Any], float]]]) -> str:
    """How many poly trials a method made and where along t = log10(C gamma^3) they went."""
    ts = [_t(p) for run in runs for p, _ in run if p["kernel"] == "poly"]
    if not ts:
        return f"{method}: no poly trials"

    def share(test: Callable[[float], bool]) -> str:
        return f"{100 * sum(map(test, ts)) / len(ts):.1f}%"

    def on_strip(t: float) -> bool:
        return -4.67 < t < -4.32

    found = sum(any(p["kernel"] == "poly" and on_strip(_t(p)) for p, _ in run) for run in runs)
    return (
        f"{method}: {len(ts) / len(runs):.1f} poly trials a sweep; plateau (t > -4) "
        f"{share(lambda t: t > -4)}, strip (-4.67 < t < -4.32) {share(on_strip)}, "
        f"failing (t < -6) {share(lambda t: t < -6)}; strip found in {found} of {len(runs)} "
        "sweeps"
    )


def _t(point: dict[str, Any]) -> float:
    return math.log10(point["C"]) + 3 * math.log10(point["gamma"])


def _key(point: dict[str, Any]) -> tuple[Any, ...]:
    if point["kernel"] == "poly":
        return ("poly", round(_t(point), 3))
    c, gamma = math.log10(point["C"]), math.log10(point["gamma"])
    return (point["kernel"], round(c, 3), round(gamma, 3))


if __name__ == "__main__":
    main()
