"""Smoke test of the search benchmark: ``python -m bench.search --quick`` on our methods.

Only our own methods run (random, grid, bayes and the W&B-style baseline), so the test needs
nothing from the ``bench`` extra; peers that are not installed would be skipped anyway. Nothing
about speed or quality is asserted: the figures vary with the machine.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_quick_writes_tables_with_rows(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.search",
            "--quick",
            "--methods",
            "random,grid,bayes,wandb-bayes",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    with (tmp_path / "per_problem.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["method"] for r in rows} >= {"random", "grid", "wandb-bayes"}
    assert {r["problem"] for r in rows} == {"branin", "mixed", "lasso_diabetes", "knn_digits"}
    assert all(int(r["n_seeds"]) == 2 for r in rows)
    with (tmp_path / "overall.csv").open() as f:
        overall = list(csv.DictReader(f))
    random_rows = [r for r in overall if r["method"] == "random"]
    # Random search is the scale's 1 by definition, on every problem.
    assert random_rows and all(abs(float(r["score_all"]) - 1.0) < 1e-9 for r in random_rows)
    assert (tmp_path / "latency.csv").read_text().count("\n") >= 2
    assert "## Per problem" in (tmp_path / "results.md").read_text()
