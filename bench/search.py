"""Search quality and suggestion latency of our searchers against Optuna, skopt and hyperopt.

Run ``python -m bench.search`` for the full benchmark (52 min on 2 cores) or
``python -m bench.search --quick`` for a smoke run (under 3 minutes). Tables (Markdown and
CSV), the raw runs and the best-so-far plots go to ``bench/results/`` (``bench/results/quick/``
for ``--quick``). Methods whose library is not installed are skipped with a message; see
bench/README.md for what every problem, method and score means.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.runner import THREAD_VARS, Task, pin_threads, run_tasks

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Plan:
    """What a mode runs.

    Attributes:
        problems: Problem names.
        seeds_synthetic: Seeds on synthetic functions.
        seeds_model: Seeds on model problems.
        budgets: ``(name, n_batches, batch_size)``.
        skip: ``(method, budget)`` pairs left out (too slow for the time limit).
        latency_sizes: History sizes of the latency table.
        latency_reps: Most repetitions per latency cell.
        latency_cell_s: Seconds after which a latency cell stops repeating.
    """

    problems: tuple[str, ...]
    seeds_synthetic: int
    seeds_model: int
    budgets: tuple[tuple[str, int, int], ...]
    skip: tuple[tuple[str, str], ...]
    latency_sizes: tuple[int, ...]
    latency_reps: int
    latency_cell_s: float


FULL = Plan(
    problems=(
        "branin",
        "hartmann6",
        "rosenbrock4",
        "ackley5",
        "mixed",
        "svm_breast_cancer",
        "rf_wine",
        "mlp_digits",
        "knn_digits",
        "gb_diabetes",
        "lasso_diabetes",
    ),
    seeds_synthetic=10,
    seeds_model=5,
    budgets=(("seq50", 50, 1), ("batch8x8", 8, 8)),
    # skopt's constant-liar batches refit the GP per point and take about 70 s a run on
    # Hartmann6, which would add about 80 CPU-minutes; its sequential runs are kept.
    skip=(("skopt-gp", "batch8x8"),),
    latency_sizes=(100, 300, 1000),
    latency_reps=10,
    latency_cell_s=45.0,
)

QUICK = Plan(
    problems=("branin", "mixed", "lasso_diabetes", "knn_digits"),
    seeds_synthetic=2,
    seeds_model=2,
    budgets=(("seq12", 12, 1), ("batch3x4", 3, 4)),
    skip=(),
    latency_sizes=(30, 100),
    latency_reps=3,
    latency_cell_s=4.0,
)

# Rough seconds per evaluation spent in each optimiser, to start the longest runs first.
_COST = {"skopt-gp": 0.5, "optuna-gp": 0.1, "bayes": 0.15, "wandb-bayes": 0.03}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; returns the exit code (0 even when some runs failed)."""
    args = _parse(argv)
    pin_threads()
    plan = QUICK if args.quick else FULL
    out = Path(args.out) if args.out else (RESULTS / "quick" if args.quick else RESULTS)
    out.mkdir(parents=True, exist_ok=True)

    from bench.methods import METHODS, available_methods
    from bench.problems import PROBLEMS

    wanted = args.methods.split(",") if args.methods else list(METHODS)
    unknown = [m for m in wanted if m not in METHODS]
    if unknown:
        sys.exit(f"--methods: unknown {unknown}; choose from {', '.join(METHODS)}")
    methods, missing = available_methods(wanted)
    for name, reason in missing.items():
        print(f"skipping {name}: {reason}", flush=True)
    problems = args.problems.split(",") if args.problems else list(plan.problems)
    for p in problems:
        if p not in PROBLEMS:
            sys.exit(f"--problems: unknown {p!r}; choose from {', '.join(PROBLEMS)}")

    started = time.time()
    raw_path = out / "raw.jsonl"
    if args.report_only:
        results = [json.loads(line) for line in raw_path.read_text().splitlines() if line]
        latency = _read_json(out / "latency.json", [])
        meta = _read_json(out / "run.json", {})
    else:
        tasks = _tasks(plan, args, problems, methods)
        results = _run(tasks, args, raw_path, plan, methods)
        latency = []
        if not args.no_latency:
            from bench.latency import LATENCY_METHODS

            timed = [m for m in LATENCY_METHODS if m in methods]
            latency = _latency(plan, timed)
            (out / "latency.json").write_text(json.dumps(latency, indent=1))
        meta = {
            "command": " ".join(["python -m bench.search", *(argv or sys.argv[1:])]),
            "workers": args.workers,
            "methods": methods,
            "missing": missing,
            "skipped_pairs": [] if args.no_skip else [list(pair) for pair in plan.skip],
            "elapsed_s": time.time() - started,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(),
        }
        (out / "run.json").write_text(json.dumps(meta, indent=1))

    _report(results, latency, out, meta)
    return 0


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: < 3 minutes")
    parser.add_argument("--out", help="results folder (default bench/results[/quick])")
    parser.add_argument("--methods", help="comma-separated methods (default: all installed)")
    parser.add_argument("--problems", help="comma-separated problems (default: the mode's)")
    parser.add_argument("--seeds-synthetic", type=int, help="override the mode's seed count")
    parser.add_argument("--seeds-model", type=int, help="override the mode's seed count")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds start here (default 0; tuning: 100)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency table")
    parser.add_argument(
        "--no-skip", action="store_true", help="also run the mode's skipped method/budget pairs"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild tables from raw.jsonl in --out"
    )
    return parser.parse_args(argv)


def _tasks(
    plan: Plan, args: argparse.Namespace, problems: Sequence[str], methods: Sequence[str]
) -> list[Task]:
    from bench.methods import METHODS
    from bench.problems import PROBLEMS

    skip = set() if args.no_skip else set(plan.skip)
    tasks = []
    for name in problems:
        problem = PROBLEMS[name]
        n_seeds = _n_seeds(plan, args, problem.kind)
        for method in methods:
            if not METHODS[method].applies(problem):
                continue
            for budget, n_batches, batch_size in plan.budgets:
                if (method, budget) in skip:
                    continue
                # A method that ignores the seed runs once; its run stands for every seed.
                first = args.first_seed
                seeds = [first] if METHODS[method].ignores_seed else range(first, first + n_seeds)
                tasks += [Task(name, method, budget, n_batches, batch_size, s) for s in seeds]

    def cost(t: Task) -> float:
        per_eval = _COST.get(t.method, 0.01)
        if PROBLEMS[t.problem].kind == "model":
            per_eval += 0.15
        return per_eval * t.n_batches * t.batch_size

    return sorted(tasks, key=cost, reverse=True)


def _n_seeds(plan: Plan, args: argparse.Namespace, kind: str) -> int:
    """Seeds to run on a problem of ``kind`` (``synthetic`` or ``model``)."""
    if kind == "synthetic":
        return int(args.seeds_synthetic or plan.seeds_synthetic)
    return int(args.seeds_model or plan.seeds_model)


def _run(
    tasks: Sequence[Task],
    args: argparse.Namespace,
    raw_path: Path,
    plan: Plan,
    methods: Sequence[str],
) -> list[dict[str, Any]]:
    """Run every task, printing progress and appending each result to ``raw_path``."""
    from bench.methods import METHODS
    from bench.problems import PROBLEMS

    print(
        f"{len(tasks)} runs on {args.workers} worker(s): {', '.join(methods)}; "
        f"threads pinned to 1 ({', '.join(THREAD_VARS)}, torch)",
        flush=True,
    )
    raw_path.write_text("")
    start = time.time()
    n_done = 0

    def on_result(result: dict[str, Any]) -> None:
        nonlocal n_done
        n_done += 1
        with raw_path.open("a") as f:
            f.write(json.dumps(result) + "\n")
        elapsed = time.time() - start
        eta = elapsed / n_done * (len(tasks) - n_done)
        outcome = (
            f"ERROR {result['error']}"
            if result["error"]
            else f"best {min(result['ys']):.6g} in {result['wall_s']:.1f} s"
        )
        print(
            f"[{n_done}/{len(tasks)} {elapsed / 60:.1f} min, ~{eta / 60:.1f} left] "
            f"{result['problem']} {result['method']} {result['budget']} seed "
            f"{result['seed']}: {outcome}",
            flush=True,
        )

    results = run_tasks(tasks, args.workers, on_result)

    # Copy the single run of a seed-independent method (grid) to every seed.
    expanded = []
    for r in results:
        if not METHODS[r["method"]].ignores_seed:
            expanded.append(r)
            continue
        n_seeds = _n_seeds(plan, args, PROBLEMS[r["problem"]].kind)
        seeds = range(args.first_seed, args.first_seed + n_seeds)
        expanded += [{**r, "seed": s, "copied": s != r["seed"]} for s in seeds]
    raw_path.write_text("".join(json.dumps(r) + "\n" for r in expanded))
    return expanded


def _latency(plan: Plan, methods: Sequence[str]) -> list[dict[str, Any]]:
    from bench.latency import measure_latency

    print(f"latency on hartmann6 (6-D) at {plan.latency_sizes} observed trials", flush=True)
    return measure_latency(
        methods,
        plan.latency_sizes,
        plan.latency_reps,
        plan.latency_cell_s,
        log=lambda line: print(line, flush=True),
    )


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.exists() else default


def _report(
    results: list[dict[str, Any]],
    latency: list[dict[str, Any]],
    out: Path,
    meta: dict[str, Any],
) -> None:
    """Write every table and plot, and print the main figures."""
    from bench.plot import plot_curves
    from bench.problems import PROBLEMS
    from bench.report import (
        fmt,
        markdown_table,
        overall_markdown,
        per_problem_markdown,
        summarise,
        write_csv,
        write_tables,
    )

    optima = {
        p.name: p.optimum
        for p in PROBLEMS.values()
        if any(r["problem"] == p.name for r in results)
    }
    summary = summarise(results, optima)
    paths = write_tables(summary, out)
    latency_rows = [
        [
            r["method"],
            r["n_trials"],
            r["batch"],
            r["reps"],
            r["median_ms"],
            r["p95_ms"],
            r["error"] or "",
        ]
        for r in latency
    ]
    latency_md = markdown_table(
        ["method", "observed trials", "batch", "reps", "median ms", "p95 ms", "error"],
        latency_rows,
    )
    if latency:
        write_csv(out / "latency.csv", latency)
        paths.append(out / "latency.csv")
    budgets = sorted({r["budget"] for r in results})
    for budget in budgets:
        png = plot_curves(results, summary["best_known"], budget, out / f"curves_{budget}.png")
        if png is None:
            print(f"no plot for {budget}: matplotlib is not installed or nothing ran")
        else:
            paths.append(png)

    timing_md = _timing_markdown(results)
    errors_md = (
        "\n".join(
            f"- {r['problem']} {r['method']} {r['budget']} seed {r['seed']}: {r['error']}"
            for r in summary["errors"]
        )
        or "none"
    )
    best_known_md = markdown_table(
        ["problem", "best known", "known optimum"],
        [[p, v, optima.get(p)] for p, v in sorted(summary["best_known"].items())],
    )
    missing = meta.get("missing", {})
    pairs = meta.get("skipped_pairs", [])
    text = "\n\n".join(
        [
            "# Search benchmark results",
            f"Command: `{meta.get('command', '?')}`; wall time "
            f"{meta.get('elapsed_s', math.nan) / 60:.1f} min on {meta.get('machine', '?')} with "
            f"{meta.get('workers', '?')} worker process(es), every numerical library pinned to "
            f"one thread; Python {meta.get('python', '?')}. Methods run: "
            f"{', '.join(meta.get('methods', []))}.",
            "Skipped methods: "
            + (", ".join(f"{m} ({why})" for m, why in missing.items()) or "none")
            + ". Skipped method/budget pairs: "
            + (", ".join(f"{m} {b}" for m, b in pairs) or "none")
            + ".",
            "## Overall: mean normalised score (0 = best known, 1 = random search; lower is "
            "better)\n\nThe mean over problems of each problem's mean score; the ratios "
            "compare a method with Optuna's sampler over the problems both ran. The last column "
            "is Bayesmark's clipped mean score (see bench/README.md).\n\n"
            + overall_markdown(summary["overall"]),
            "## Per problem\n\n" + per_problem_markdown(summary["rows"]),
            "## Suggestion latency (Hartmann6, 6-D)\n\n" + (latency_md if latency else "not run"),
            "## Time per method (seconds, summed over runs)\n\n" + timing_md,
            "## Best known values\n\n" + best_known_md,
            "## Failed runs\n\n" + errors_md,
        ]
    )
    (out / "results.md").write_text(text + "\n")
    paths.append(out / "results.md")

    print("\n" + overall_markdown(summary["overall"]))
    hart = [r for r in summary["rows"] if r["problem"] == "hartmann6"]
    for r in hart:
        print(
            f"hartmann6 {r['budget']} {r['method']}: median regret {fmt(r['median_regret'])}, "
            f"{r['hits']}/{r['n_seeds']} within {0.01}"
        )
    if latency:
        print("\n" + latency_md)
    minutes = meta.get("elapsed_s", math.nan) / 60
    print(f"\n{len(summary['errors'])} failed run(s); wall time {minutes:.1f} min")
    print("wrote " + ", ".join(str(p) for p in paths))


def _timing_markdown(results: Sequence[dict[str, Any]]) -> str:
    """Optimiser and objective seconds per method and budget, summed over every run."""
    from collections import defaultdict

    from bench.report import markdown_table

    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0] * 5)
    for r in results:
        if r.get("error") is None and not r.get("copied"):
            cell = sums[(r["method"], r["budget"])]
            cell[0] += 1
            cell[1] += r["suggest_s"]
            cell[2] += r["eval_s"]
            cell[3] += r["wall_s"]
            cell[4] += r.get("cpu_s", math.nan)
    rows = [[m, b, int(c[0]), *c[1:]] for (m, b), c in sorted(sums.items())]
    headers = ["method", "budget", "runs", "optimiser s", "objective s", "wall s", "CPU s"]
    return markdown_table(headers, rows)


if __name__ == "__main__":
    raise SystemExit(main())
