"""One search-space description, translated for every method the benchmark runs.

A problem's space is a tuple of :class:`Dim`. From it come the W&B ``parameters`` section our
searchers read, Optuna distributions, scikit-optimize dimensions, a hyperopt space and the unit
cube the W&B-style baseline models in. Every translation keeps the same support and scale, so
the methods search the same space: log-scaled dimensions are log-uniform everywhere, integers
are integers, categoricals are unordered choices (except in the W&B-style baseline, which uses
W&B's ordinal encoding on purpose).

Peer libraries are imported inside the functions that need them, so the module (and the
benchmark with only our methods) works without the ``bench`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "Dim",
    "from_unit_cube",
    "hyperopt_space",
    "is_finite",
    "optuna_distributions",
    "skopt_dimensions",
    "wandb_parameters",
]


@dataclass(frozen=True)
class Dim:
    """One dimension of a benchmark space.

    Attributes:
        name: Parameter name (flat: benchmark spaces have no nested groups).
        kind: ``float``, ``int`` or ``cat``.
        low: Lower bound (inclusive) of a numeric dimension.
        high: Upper bound (inclusive) of a numeric dimension.
        log: Whether the dimension is log-uniform (numeric only).
        choices: The values of a ``cat`` dimension.
    """

    name: str
    kind: Literal["float", "int", "cat"]
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[Any, ...] = ()


def wandb_parameters(dims: Sequence[Dim]) -> dict[str, Any]:
    """The W&B ``parameters`` section of the space.

    Float: ``uniform`` or ``log_uniform_values``; int: ``int_uniform``, or
    ``q_log_uniform_values`` with an integer ``q`` of 1 when log-scaled (which gives integers);
    categorical: ``values``.
    """
    params: dict[str, Any] = {}
    for d in dims:
        if d.kind == "cat":
            params[d.name] = {"values": list(d.choices)}
        elif d.kind == "int" and d.log:
            params[d.name] = {
                "distribution": "q_log_uniform_values",
                "min": int(d.low),
                "max": int(d.high),
                "q": 1,
            }
        elif d.kind == "int":
            params[d.name] = {"distribution": "int_uniform", "min": int(d.low), "max": int(d.high)}
        else:
            dist = "log_uniform_values" if d.log else "uniform"
            params[d.name] = {"distribution": dist, "min": float(d.low), "max": float(d.high)}
    return params


def is_finite(dims: Sequence[Dim]) -> bool:
    """Whether grid search applies: every dimension is categorical or a linear integer."""
    return all(d.kind == "cat" or (d.kind == "int" and not d.log) for d in dims)


def optuna_distributions(dims: Sequence[Dim]) -> dict[str, Any]:
    """Optuna distributions by name, for ``study.ask(fixed_distributions=...)``."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for d in dims:
        if d.kind == "cat":
            out[d.name] = CategoricalDistribution(list(d.choices))
        elif d.kind == "int":
            out[d.name] = IntDistribution(int(d.low), int(d.high), log=d.log)
        else:
            out[d.name] = FloatDistribution(float(d.low), float(d.high), log=d.log)
    return out


def skopt_dimensions(dims: Sequence[Dim]) -> list[Any]:
    """scikit-optimize dimensions in the order of ``dims``."""
    from skopt.space import Categorical, Integer, Real

    prior = {True: "log-uniform", False: "uniform"}
    out: list[Any] = []
    for d in dims:
        if d.kind == "cat":
            out.append(Categorical(list(d.choices), name=d.name))
        elif d.kind == "int":
            out.append(Integer(int(d.low), int(d.high), prior=prior[d.log], name=d.name))
        else:
            out.append(Real(float(d.low), float(d.high), prior=prior[d.log], name=d.name))
    return out


def hyperopt_space(dims: Sequence[Dim]) -> dict[str, Any]:
    """A hyperopt space by name; integers come back as floats (see :func:`clean_point`)."""
    from hyperopt import hp

    out: dict[str, Any] = {}
    for d in dims:
        if d.kind == "cat":
            out[d.name] = hp.choice(d.name, list(d.choices))
        elif d.kind == "int" and d.log:
            out[d.name] = hp.qloguniform(d.name, math.log(d.low), math.log(d.high), 1)
        elif d.kind == "int":
            out[d.name] = hp.quniform(d.name, d.low, d.high, 1)
        elif d.log:
            out[d.name] = hp.loguniform(d.name, math.log(d.low), math.log(d.high))
        else:
            out[d.name] = hp.uniform(d.name, d.low, d.high)
    return out


def clean_point(dims: Sequence[Dim], point: Mapping[str, Any]) -> dict[str, Any]:
    """``point`` with plain Python values: ints rounded and clipped, numpy scalars unwrapped."""
    out: dict[str, Any] = {}
    for d in dims:
        value = point[d.name]
        if d.kind == "int":
            value = int(min(max(round(float(value)), d.low), d.high))
        elif d.kind == "float":
            value = float(value)
        elif isinstance(value, np.generic):
            value = value.item()
        out[d.name] = value
    return out


def to_unit_cube(dims: Sequence[Dim], point: Mapping[str, Any]) -> np.ndarray:
    """The position of ``point`` in ``[0, 1]^d`` (shape ``(d,)``), W&B-style.

    Numeric dimensions map linearly in their modelling space (log for log-scaled ones); an
    integer or a categorical owns one of ``n`` equal slices and maps to its centre (W&B maps to
    the slice's right edge, which its own inverse map does not undo). Categoricals use W&B's
    ordinal encoding: choice ``i`` is slice ``i``.
    """
    u = np.empty(len(dims))
    for j, d in enumerate(dims):
        value = point[d.name]
        if d.kind == "cat":
            u[j] = (list(d.choices).index(value) + 0.5) / len(d.choices)
        elif d.kind == "int":
            low, high = _bounds(d)
            n = int(d.high) - int(d.low) + 1
            if d.log:
                u[j] = (math.log(value) - low) / (high - low)
            else:
                u[j] = (int(value) - int(d.low) + 0.5) / n
        else:
            low, high = _bounds(d)
            x = math.log(value) if d.log else float(value)
            u[j] = (x - low) / (high - low)
    return np.clip(u, 0.0, 1.0)


def from_unit_cube(dims: Sequence[Dim], u: np.ndarray) -> dict[str, Any]:
    """Inverse of :func:`to_unit_cube`: the point at position ``u`` (shape ``(d,)``)."""
    point: dict[str, Any] = {}
    for j, d in enumerate(dims):
        uj = float(min(max(u[j], 0.0), 1.0))
        if d.kind == "cat":
            point[d.name] = d.choices[min(int(uj * len(d.choices)), len(d.choices) - 1)]
        elif d.kind == "int" and not d.log:
            n = int(d.high) - int(d.low) + 1
            point[d.name] = int(d.low) + min(int(uj * n), n - 1)
        else:
            low, high = _bounds(d)
            x = low + uj * (high - low)
            x = math.exp(x) if d.log else x
            if d.kind == "int":
                x = min(max(round(x), d.low), d.high)
                point[d.name] = int(x)
            else:
                point[d.name] = float(min(max(x, d.low), d.high))
    return point


def _bounds(d: Dim) -> tuple[float, float]:
    """Bounds of ``d`` in its modelling space."""
    if d.log:
        return math.log(d.low), math.log(d.high)
    return float(d.low), float(d.high)
