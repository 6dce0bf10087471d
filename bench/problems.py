"""The benchmark's problems by name: synthetic functions and Bayesmark-style model tuning.

Every problem is minimised. ``optimum`` is the known minimum of a synthetic function, ``None``
for model problems (their best known value is the best any method reached in the run).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bench import synthetic
from bench.models import MODEL_PROBLEMS
from bench.spaces import Dim, wandb_parameters

__all__ = ["PROBLEMS", "Problem", "sweep_config"]

#: Name of the metric our searchers read from each trial.
METRIC = "loss"


@dataclass(frozen=True)
class Problem:
    """A benchmark problem.

    Attributes:
        name: Unique name.
        kind: ``synthetic`` (known optimum) or ``model`` (Bayesmark-style CV loss).
        dims: The search space.
        evaluate: The objective, from a flat point to the loss.
        optimum: The known minimum, or ``None``.
    """

    name: str
    kind: Literal["synthetic", "model"]
    dims: tuple[Dim, ...]
    evaluate: Callable[[Mapping[str, Any]], float]
    optimum: float | None = None


def sweep_config(problem: Problem, method: str) -> dict[str, Any]:
    """The W&B-format sweep config of ``problem`` for one of our methods."""
    return {
        "method": method,
        "metric": {"name": METRIC, "goal": "minimize"},
        "parameters": wandb_parameters(problem.dims),
    }


_SYNTHETIC = (
    Problem("branin", "synthetic", synthetic.BRANIN_DIMS, synthetic.branin, synthetic.BRANIN_MIN),
    Problem(
        "hartmann6",
        "synthetic",
        synthetic.HARTMANN6_DIMS,
        synthetic.hartmann6_neg,
        -synthetic.HARTMANN6_MAX,
    ),
    Problem("rosenbrock4", "synthetic", synthetic.ROSENBROCK4_DIMS, synthetic.rosenbrock4, 0.0),
    Problem("ackley5", "synthetic", synthetic.ACKLEY5_DIMS, synthetic.ackley5, 0.0),
    Problem("mixed", "synthetic", synthetic.MIXED_DIMS, synthetic.mixed, 0.0),
)

PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in (
        *_SYNTHETIC,
        *(Problem(m.name, "model", m.dims, m.evaluate) for m in MODEL_PROBLEMS),
    )
}
