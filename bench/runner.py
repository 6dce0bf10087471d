"""Runs the benchmark's (problem, method, budget, seed) tasks in a pool of processes.

Every worker has the same thread settings (one thread for BLAS, OpenMP and PyTorch), so no
method gets more cores than another. A failure of one task is recorded in its result and never
stops the others; a worker that dies takes only its task down (the pool is rebuilt for the
rest).
"""

from __future__ import annotations

import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["THREAD_VARS", "Task", "pin_threads", "run_tasks"]

#: Environment variables that set the thread count of numerical libraries.
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass(frozen=True)
class Task:
    """One run to make.

    Attributes:
        problem: Problem name.
        method: Method name.
        budget: Budget name.
        n_batches: Ask rounds.
        batch_size: Points per round.
        seed: The seed every method gets.
    """

    problem: str
    method: str
    budget: str
    n_batches: int
    batch_size: int
    seed: int


def pin_threads() -> None:
    """One thread for every numerical library, in this process and its children."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def run_task(task: Task) -> dict[str, Any]:
    """Run one task; the result dict holds ``ys`` and timings, or ``error``."""
    from bench.methods import METHODS, Budget
    from bench.problems import PROBLEMS

    result: dict[str, Any] = {**asdict(task), "ys": [], "error": None}
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        budget = Budget(task.budget, task.n_batches, task.batch_size)
        record = METHODS[task.method].run(PROBLEMS[task.problem], budget, task.seed)
        result.update(ys=record.ys, suggest_s=record.suggest_s, eval_s=record.eval_s)
    except Exception as exc:  # one broken method or seed is a finding, not a crash
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
    result["wall_s"] = time.perf_counter() - start
    # CPU seconds do not grow when other work shares the machine; estimates use them.
    result["cpu_s"] = time.process_time() - cpu_start
    return result


def run_tasks(
    tasks: Iterable[Task],
    n_workers: int,
    on_result: Callable[[dict[str, Any]], None],
) -> list[dict[str, Any]]:
    """Run ``tasks`` on ``n_workers`` processes (in this process when ``n_workers`` is 1).

    Args:
        tasks: The runs, longest first for a better balance.
        n_workers: Pool size.
        on_result: Called with each result as it arrives (progress, saving).

    Returns:
        One result per task, in completion order.
    """
    pending = list(tasks)
    results: list[dict[str, Any]] = []
    if n_workers <= 1:
        for task in pending:
            results.append(run_task(task))
            on_result(results[-1])
        return results

    context = multiprocessing.get_context("spawn")
    while pending:
        with ProcessPoolExecutor(n_workers, mp_context=context, initializer=pin_threads) as pool:
            futures: dict[Future[dict[str, Any]], Task] = {
                pool.submit(run_task, t): t for t in pending
            }
            done: set[Task] = set()
            broken = False
            for future in as_completed(futures):
                task = futures[future]
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    broken = True
                    result = {**asdict(task), "ys": [], "wall_s": 0.0}
                    result["error"] = f"worker process died: {exc}"
                done.add(task)
                results.append(result)
                on_result(result)
                if broken:
                    break
        pending = [t for t in pending if t not in done]
    return results
