"""The digits comparison's summary: a seed where bayes never got there counts against it."""

from __future__ import annotations

import os
import subprocess
import sys

from bench.digits_flow import _rows, _summary, _typical, trials_to_reach


def test_trials_to_reach_counts_from_one_and_skips_failed_trials() -> None:
    assert trials_to_reach([0.5, None, 0.9, 0.95], 0.9) == 3
    assert trials_to_reach([0.5, None], 0.9) is None


def test_summary_counts_a_miss_as_one_trial_past_the_cap() -> None:
    rows = [(0, 0.99, 10, 0.99, 4), (1, 0.99, 5, 0.98, None), (2, 0.99, 3, 0.99, 3)]

    text = _summary(rows, run_cap=24)

    assert "fewer trials in 1, as many trials in 1, more trials in 0" in text
    assert "never got there in 1 of 3 seeds" in text
    # (4 + 25 + 3) / 3: the miss is not left out of the mean.
    assert "random 6.0, bayes 10.7" in text


def test_typical_best_is_one_target_for_every_seed() -> None:
    # Random's bests are 0.9, 0.95 and 0.98: the median, 0.95, is the target in all three.
    runs = [
        ([0.5, 0.9, None], [0.95, 0.5, 0.5]),
        ([0.95, 0.2, 0.2], [0.1, 0.2, 0.97]),
        ([0.2, 0.98, 0.1], [0.1, 0.1, 0.1]),
    ]

    text = _typical(runs, run_cap=3)

    assert "median over 3 seeds) 0.9500" in text
    # Random: miss (4), 1, 2; bayes: 1, 3, miss (4).
    assert "random 2.3 (reached in 2, mean best 0.94333)" in text
    assert "bayes 2.7 (reached in 2, mean best 0.67333)" in text


def test_rows_measure_bayes_against_random_best_of_the_same_seed() -> None:
    runs = [([0.5, None, 0.9], [0.9, 0.95, 0.1]), ([0.7, 0.7, 0.2], [0.1, 0.2, 0.6])]

    rows = _rows(range(7, 9), runs)

    # Seed 7: random's best 0.9 at its third trial, bayes' first trial reaches it.
    # Seed 8: random's best 0.7 at its first trial; bayes never reaches it.
    assert rows == [(7, 0.9, 3, 0.95, 1), (8, 0.7, 1, 0.6, None)]


def test_importing_the_flow_benchmarks_leaves_the_environment_alone() -> None:
    # Test modules are imported at collection, before any test runs: a Prefect logging level
    # set by a benchmark's import silenced the run logs later tests of the session read.
    code = (
        "import os, bench.digits_flow, bench.loop_overhead;"
        "print(sorted(k for k in os.environ if k.startswith('PREFECT_')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
