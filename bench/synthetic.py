"""Synthetic test functions with known optima, all minimised.

Definitions follow the Virtual Library of Simulation Experiments (Surjanovic and Bingham,
https://www.sfu.ca/~ssurjano/optimization.html):

* Branin on ``x1 in [-5, 10], x2 in [0, 15]``; minimum 0.397887 at three points.
* Hartmann6 on ``[0, 1]^6``; its maximum is 3.32237, and we minimise ``-H`` (optimum
  -3.32237).
* Rosenbrock in 4-D on ``[-2.048, 2.048]^4``; minimum 0 at ``(1, 1, 1, 1)``.
* Ackley in 5-D on ``[-32.768, 32.768]^5`` (a=20, b=0.2, c=2 pi); minimum 0 at the origin.

The mixed space is ours: a log-scaled learning rate, an integer depth, a categorical activation
and a float dropout, shaped like a training loss (a quadratic in ``log10(lr)`` and ``dropout``
with an interaction, whose centre and floor depend on the activation). Its minimum is 0 at
``lr=1e-3, layers=3, activation=relu, dropout=0.2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from bench.spaces import Dim

__all__ = [
    "ACKLEY5_DIMS",
    "BRANIN_DIMS",
    "HARTMANN6_DIMS",
    "HARTMANN6_MAX",
    "MIXED_DIMS",
    "ROSENBROCK4_DIMS",
    "ackley5",
    "branin",
    "hartmann6_neg",
    "mixed",
    "rosenbrock4",
]

BRANIN_MIN = 0.397887357729739
#: Maximum of Hartmann6 (at x* = 0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).
HARTMANN6_MAX = 3.322368011415515

BRANIN_DIMS = (Dim("x1", "float", -5.0, 10.0), Dim("x2", "float", 0.0, 15.0))
HARTMANN6_DIMS = tuple(Dim(f"x{i}", "float", 0.0, 1.0) for i in range(1, 7))
ROSENBROCK4_DIMS = tuple(Dim(f"x{i}", "float", -2.048, 2.048) for i in range(1, 5))
ACKLEY5_DIMS = tuple(Dim(f"x{i}", "float", -32.768, 32.768) for i in range(1, 6))
MIXED_DIMS = (
    Dim("lr", "float", 1e-5, 1e-1, log=True),
    Dim("layers", "int", 1, 8),
    Dim("activation", "cat", choices=("relu", "tanh", "sigmoid", "gelu")),
    Dim("dropout", "float", 0.0, 0.8),
)

_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
# Where the best log10(lr) lies, and the loss floor, per activation.
_MIXED_SHIFT = {"relu": -3.0, "tanh": -2.5, "sigmoid": -2.0, "gelu": -3.5}
_MIXED_FLOOR = {"relu": 0.0, "tanh": 0.3, "sigmoid": 0.8, "gelu": 0.1}


def _vector(point: Mapping[str, Any], n: int) -> np.ndarray:
    return np.array([float(point[f"x{i}"]) for i in range(1, n + 1)])


def branin(point: Mapping[str, Any]) -> float:
    """Branin-Hoo at ``point`` (keys ``x1``, ``x2``)."""
    x1, x2 = float(point["x1"]), float(point["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6_neg(point: Mapping[str, Any]) -> float:
    """Minus Hartmann6 at ``point`` (keys ``x1`` to ``x6``)."""
    x = _vector(point, 6)
    inner = np.sum(_H_A * (x - _H_P) ** 2, axis=1)
    return -float(np.sum(_H_ALPHA * np.exp(-inner)))


def rosenbrock4(point: Mapping[str, Any]) -> float:
    """Rosenbrock in 4-D at ``point`` (keys ``x1`` to ``x4``)."""
    x = _vector(point, 4)
    return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def ackley5(point: Mapping[str, Any]) -> float:
    """Ackley in 5-D at ``point`` (keys ``x1`` to ``x5``)."""
    x = _vector(point, 5)
    a = -20 * math.exp(-0.2 * math.sqrt(float(np.mean(x**2))))
    return a - math.exp(float(np.mean(np.cos(2 * math.pi * x)))) + 20 + math.e


def mixed(point: Mapping[str, Any]) -> float:
    """The mixed-space loss at ``point`` (keys ``lr``, ``layers``, ``activation``, ``dropout``)."""
    act = str(point["activation"])
    a = math.log10(float(point["lr"])) - _MIXED_SHIFT[act]
    b = float(point["dropout"]) - 0.2
    depth = int(point["layers"]) - 3
    return a**2 + 4 * b**2 + 0.5 * a * b + 0.25 * depth**2 + _MIXED_FLOOR[act]
