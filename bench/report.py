"""Scores and tables from the benchmark's run results.

Definitions (also in bench/README.md):

* ``best``: the lowest objective value a run reached within its budget (best-so-far at the end).
* ``regret`` (synthetic functions): ``best - optimum``.
* ``best_known`` of a problem: the lowest value seen in this run by any method, seed or budget,
  and not above the known optimum when there is one (so on the synthetic functions it is the
  optimum).
* normalised score (Bayesmark): ``(best - best_known) / (random_mean_best - best_known)`` where
  ``random_mean_best`` is the mean over seeds of our random search's ``best`` at the same budget;
  0 is the best known, 1 is random search, lower is better. It is not clipped.
* Hartmann6 hits: seeds whose regret is at most 0.01.
* Bayesmark's clipped mean score, as its scoring documentation defines it: ``clip`` is the
  median loss of random search after one evaluation; per problem
  ``(mean over seeds of min(best, clip) - best_known) / (clip - best_known)`` (between 0 and 1);
  overall, the mean over problems divided by random search's, so random is 1. Less sensitive
  than the plain normalised score to problems where random search gets close to the best
  known value (a small denominator).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["summarise", "write_tables"]

HIT_TOLERANCE = 0.01
REFERENCES = ("optuna-tpe", "optuna-gp")


def summarise(
    results: Sequence[Mapping[str, Any]], optima: Mapping[str, float | None]
) -> dict[str, Any]:
    """Per-problem rows, overall rows and failures from the raw results.

    Args:
        results: Run results (see :func:`bench.runner.run_task`).
        optima: Known optimum of each problem, ``None`` for model problems.

    Returns:
        ``{"rows": [...], "overall": [...], "errors": [...], "best_known": {...}}``.
    """
    ok = [r for r in results if r.get("error") is None and r["ys"]]
    errors = [r for r in results if r.get("error") is not None]

    best_known: dict[str, float] = {}
    for r in ok:
        best_known[r["problem"]] = min(best_known.get(r["problem"], math.inf), min(r["ys"]))
    for problem, optimum in optima.items():
        if optimum is not None:
            best_known[problem] = min(best_known.get(problem, math.inf), optimum)

    groups: dict[tuple[str, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for r in ok:
        groups[(r["problem"], r["method"], r["budget"])].append(r)
    random_mean = {
        (p, b): float(np.mean([min(r["ys"]) for r in rs]))
        for (p, m, b), rs in groups.items()
        if m == "random"
    }
    # Bayesmark's clip: the median random-search loss after one evaluation. Random draws are
    # iid, so every evaluation of every random run of the problem is pooled.
    clip = {
        p: float(
            np.median(
                [y for r in ok if r["problem"] == p and r["method"] == "random" for y in r["ys"]]
            )
        )
        for p in {r["problem"] for r in ok if r["method"] == "random"}
    }

    rows = []
    for (problem, method, budget), rs in sorted(groups.items()):
        rows.append(
            _row(problem, method, budget, rs, optima.get(problem), best_known, random_mean, clip)
        )
    n_errors: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in errors:
        n_errors[(r["problem"], r["method"], r["budget"])] += 1
    for row in rows:
        row["n_failed"] = n_errors.get((row["problem"], row["method"], row["budget"]), 0)
    # A method that failed on every seed still gets its row, so the gap shows in the table.
    template = dict.fromkeys(rows[0], math.nan) if rows else {}
    for (problem, method, budget), n in sorted(n_errors.items()):
        if (problem, method, budget) not in groups and template:
            rows.append(
                {
                    **template,
                    "problem": problem,
                    "method": method,
                    "budget": budget,
                    "n_seeds": 0,
                    "n_evals": 0,
                    "hits": None,
                    "n_failed": n,
                }
            )

    return {
        "rows": rows,
        "overall": _overall(rows, optima),
        "errors": errors,
        "best_known": best_known,
    }


def _row(
    problem: str,
    method: str,
    budget: str,
    rs: Sequence[Mapping[str, Any]],
    optimum: float | None,
    best_known: Mapping[str, float],
    random_mean: Mapping[tuple[str, str], float],
    clip: Mapping[str, float],
) -> dict[str, Any]:
    """The table row of one problem x method x budget."""
    bests = np.array([min(r["ys"]) for r in rs])
    clip_p = clip.get(problem, math.nan)
    bk_p = best_known[problem]
    bayesmark = (
        (float(np.mean(np.minimum(bests, clip_p))) - bk_p) / (clip_p - bk_p)
        if clip_p > bk_p
        else math.nan
    )
    bk = best_known[problem]
    denominator = random_mean.get((problem, budget), math.nan) - bk
    # When random search reached the best known value (or did not run) the scale is undefined.
    scores = (bests - bk) / denominator if denominator > 0 else np.full(len(bests), math.nan)
    n_evals = [len(r["ys"]) for r in rs]
    row: dict[str, Any] = {
        "problem": problem,
        "method": method,
        "budget": budget,
        "n_seeds": len(rs),
        "n_evals": int(np.median(n_evals)),
        "mean_best": float(np.mean(bests)),
        "std_best": float(np.std(bests)),
        "score_mean": _nan_stat(np.mean, scores),
        "score_std": _nan_stat(np.std, scores),
        "score_median": _nan_stat(np.median, scores),
        "score_q25": _nan_stat(lambda a: np.quantile(a, 0.25), scores),
        "score_q75": _nan_stat(lambda a: np.quantile(a, 0.75), scores),
        "median_regret": math.nan,
        "regret_q25": math.nan,
        "regret_q75": math.nan,
        "hits": None,
        "suggest_ms_per_eval": 1000 * float(np.mean([r["suggest_s"] / len(r["ys"]) for r in rs])),
        "wall_s_per_run": float(np.mean([r["wall_s"] for r in rs])),
        "bayesmark_mean": bayesmark,
    }
    if optimum is not None:
        regrets = bests - optimum
        row["median_regret"] = float(np.median(regrets))
        row["regret_q25"] = float(np.quantile(regrets, 0.25))
        row["regret_q75"] = float(np.quantile(regrets, 0.75))
        row["hits"] = int(np.sum(regrets <= HIT_TOLERANCE))
    return row


def _nan_stat(fn: Any, a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(fn(a)) if len(a) else math.nan


def _overall(
    rows: Sequence[Mapping[str, Any]], optima: Mapping[str, float | None]
) -> list[dict[str, Any]]:
    """Mean normalised score per method and budget (all, synthetic, model) and ratios."""
    scores: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in rows:
        if math.isfinite(row["score_mean"]):
            scores[(row["method"], row["budget"])][row["problem"]] = row["score_mean"]
    bayesmark: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in rows:
        if math.isfinite(row["bayesmark_mean"]):
            bayesmark[(row["method"], row["budget"])][row["problem"]] = row["bayesmark_mean"]

    out = []
    for (method, budget), by_problem in sorted(scores.items()):
        entry: dict[str, Any] = {
            "method": method,
            "budget": budget,
            "n_problems": len(by_problem),
            "score_all": float(np.mean(list(by_problem.values()))),
            "score_synthetic": _mean_of(
                by_problem, [p for p, o in optima.items() if o is not None]
            ),
            "score_model": _mean_of(by_problem, [p for p, o in optima.items() if o is None]),
        }
        bm_own = bayesmark.get((method, budget), {})
        bm_random = bayesmark.get(("random", budget), {})
        common_bm = [p for p in bm_own if p in bm_random]
        entry["bayesmark_all"] = (
            float(np.mean([bm_own[p] for p in common_bm]))
            / float(np.mean([bm_random[p] for p in common_bm]))
            if common_bm
            else math.nan
        )
        for ref in REFERENCES:
            ref_scores = scores.get((ref, budget), {})
            common = [p for p in by_problem if p in ref_scores]
            ref_mean = float(np.mean([ref_scores[p] for p in common])) if common else math.nan
            own_mean = float(np.mean([by_problem[p] for p in common])) if common else math.nan
            entry[f"ratio_to_{ref}"] = own_mean / ref_mean if ref_mean > 0 else math.nan
        out.append(entry)
    return out


def _mean_of(by_problem: Mapping[str, float], problems: Sequence[str]) -> float:
    values = [by_problem[p] for p in problems if p in by_problem]
    return float(np.mean(values)) if values else math.nan


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write ``rows`` (dicts with the same keys) as CSV."""
    if not rows:
        path.write_text("")
        return
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.{digits}g}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def per_problem_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """The per problem x method x budget table."""
    headers = [
        "problem",
        "budget",
        "method",
        "seeds ok/failed",
        "mean best ± std",
        "median regret [IQR]",
        "norm. score mean ± std",
        "median [IQR]",
        "hits ≤0.01",
        "ms/suggest",
    ]
    body = []
    for r in sorted(rows, key=lambda r: (r["problem"], r["budget"], r["method"])):
        regret = ""
        if math.isfinite(r["median_regret"]):
            regret = (
                f"{fmt(r['median_regret'], 3)} [{fmt(r['regret_q25'], 2)}, "
                f"{fmt(r['regret_q75'], 2)}]"
            )
        body.append(
            [
                r["problem"],
                r["budget"],
                r["method"],
                f"{r['n_seeds']}/{r['n_failed']}",
                f"{fmt(r['mean_best'], 5)} ± {fmt(r['std_best'], 2)}",
                regret,
                f"{fmt(r['score_mean'], 3)} ± {fmt(r['score_std'], 2)}",
                f"{fmt(r['score_median'], 3)} [{fmt(r['score_q25'], 2)}, "
                f"{fmt(r['score_q75'], 2)}]",
                "" if r["hits"] is None else f"{r['hits']}/{r['n_seeds']}",
                fmt(r["suggest_ms_per_eval"], 3),
            ]
        )
    return markdown_table(headers, body)


def overall_markdown(overall: Sequence[Mapping[str, Any]]) -> str:
    """The overall table: mean normalised score and the ratios to Optuna's samplers."""
    headers = [
        "budget",
        "method",
        "problems",
        "mean norm. score",
        "synthetic",
        "model",
        "ratio to optuna-tpe",
        "ratio to optuna-gp",
        "Bayesmark mean (random = 1)",
    ]
    body = [
        [
            o["budget"],
            o["method"],
            o["n_problems"],
            o["score_all"],
            o["score_synthetic"],
            o["score_model"],
            o["ratio_to_optuna-tpe"],
            o["ratio_to_optuna-gp"],
            o["bayesmark_all"],
        ]
        for o in sorted(overall, key=lambda o: (o["budget"], o["score_all"]))
    ]
    return markdown_table(headers, body)


def write_tables(summary: Mapping[str, Any], out: Path) -> list[Path]:
    """Write the CSV files of ``summary`` under ``out``; returns their paths."""
    paths = [out / "per_problem.csv", out / "overall.csv"]
    write_csv(paths[0], summary["rows"])
    write_csv(paths[1], summary["overall"])
    return paths
