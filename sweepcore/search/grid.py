"""Grid search: every combination of the parameters' values, each handed out once.

The rules are W&B's (WANDB-COMPAT.md section 4):

* Order: the leaves in canonical order (names sorted by codepoint at each level, depth first)
  form a Cartesian product in which the first leaf varies slowest and the last fastest; each
  leaf's values keep their written order. Constants ride along in every point.
* Identity: two values are the same grid value when their :func:`~sweepcore.space.canonical_key`
  is equal (``2.0`` is ``2``, ``True`` is not ``1``, dict key order is irrelevant).
* Coverage: a point is done when any trial of the sweep, in any state, holds exactly that
  combination (failed points are not retried). A trial lacking a grid leaf covers nothing; extra
  keys are fine; keys a program injected into a dict-valued choice are ignored.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sweepcore.config.model import Parameter, SweepConfig
from sweepcore.search.base import Suggestions
from sweepcore.space import MISSING, canonical_key, get_path, grid_values, nest
from sweepcore.trial import Trial

__all__ = ["GridSearcher", "grid_size"]

logger = logging.getLogger(__name__)

_Combo = tuple[Hashable, ...]


@dataclass(frozen=True)
class _Axis:
    """One varying leaf of the grid.

    Attributes:
        param: The leaf.
        by_key: Its de-duplicated grid values by canonical key, in grid order.
        dict_keys: Union of the keys of its dict-valued choices, or ``None`` when it has none.
    """

    param: Parameter
    by_key: dict[Hashable, Any]
    dict_keys: frozenset[Any] | None


def grid_size(config: SweepConfig) -> int:
    """Number of points in the grid of ``config`` (1 for a grid of constants only).

    Raises:
        ValueError: A parameter cannot be used with grid search (named in the message).
    """
    return math.prod(len(grid_values(p)) for p in config.parameters)


class GridSearcher:
    """Suggests the first grid points that no trial covers yet, in grid order.

    Example:
        >>> from sweepcore.config.model import Parameter, SweepConfig
        >>> config = SweepConfig(
        ...     method="grid", parameters=(Parameter(("x",), "categorical", values=(1, 2)),)
        ... )
        >>> GridSearcher().suggest(config, [], n=5, seed=0)
        Suggestions(points=[{'x': 1}, {'x': 2}], is_exhausted=True, info=[])

    Note:
        Coverage is computed from ``history`` alone, so two callers holding the same history
        get the same points. The caller must record each suggestion as a trial (or claim it in
        the store) before asking again; the grid cannot tell a point that is about to run from
        one that was never handed out.
    """

    def suggest(
        self, config: SweepConfig, history: Sequence[Trial], n: int, seed: int
    ) -> Suggestions:
        """Suggest up to ``n`` uncovered grid points.

        Args:
            config: A validated config whose parameters are all constant, categorical (without
                probabilities), int_uniform or q_uniform.
            history: Every trial of the sweep in any state; each one covers its point.
            n: How many points are wanted, at least 1.
            seed: Unused: the grid order is fixed.

        Returns:
            The next uncovered points in grid order, none repeated within the batch, as nested
            dicts. ``is_exhausted`` is ``True`` when no uncovered point remains after them, so
            a request on a fully covered grid returns no points and ``is_exhausted=True``.

        Raises:
            ValueError: ``n < 1``, or a parameter cannot be used with grid search.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1; got {n}")
        axes = _axes(config)
        covered = _covered(axes, history)
        uncovered = (combo for combo in _combos(axes) if combo not in covered)

        points = []
        for combo in itertools.islice(uncovered, n):
            point = _point(config, axes, combo)
            logger.info("grid: suggesting %s", point)
            points.append(point)
        is_exhausted = next(uncovered, None) is None

        if is_exhausted:
            logger.info(
                "grid: all %d points are covered once these %d are taken; grid exhausted",
                math.prod(len(a.by_key) for a in axes),
                len(points),
            )
        return Suggestions(points=points, is_exhausted=is_exhausted)


def _axes(config: SweepConfig) -> list[_Axis]:
    """The varying leaves, in grid order; checks every leaf (constants too) is grid-able."""
    axes = []
    for param in config.parameters:
        values = grid_values(param)
        if param.is_constant:
            continue
        by_key: dict[Hashable, Any] = {canonical_key(v): v for v in values}
        dict_keys = frozenset(k for v in values if isinstance(v, Mapping) for k in v)
        axes.append(_Axis(param, by_key, dict_keys or None))
    return axes


def _combos(axes: list[_Axis]) -> Iterator[_Combo]:
    """Every combination of canonical keys, first axis slowest."""
    return itertools.product(*(list(a.by_key) for a in axes))


def _covered(axes: list[_Axis], history: Sequence[Trial]) -> set[_Combo]:
    """The combinations held by trials of ``history`` (a set, so lookups stay O(1))."""
    covered: set[_Combo] = set()
    n_incomplete = 0
    for trial in history:
        combo = _trial_combo(axes, trial.params)
        if combo is None:
            n_incomplete += 1
            logger.debug(
                "grid: trial %s lacks a grid parameter; it covers no point", trial.trial_id
            )
        else:
            covered.add(combo)

    if n_incomplete:
        logger.info("grid: %d trial(s) lack a grid parameter and cover no point", n_incomplete)
    return covered


def _trial_combo(axes: list[_Axis], params: Mapping[str, Any]) -> _Combo | None:
    """The combination a trial's params hold, or ``None`` when a grid leaf is absent."""
    keys = []
    for axis in axes:
        value = get_path(params, axis.param.path)
        if value is MISSING:
            return None
        if axis.dict_keys is not None and isinstance(value, Mapping):
            # Programs may add keys to a dict they received (wandb/sweeps#121); only keys some
            # grid choice has take part in the comparison.
            value = {k: v for k, v in value.items() if k in axis.dict_keys}
        keys.append(canonical_key(value))
    return tuple(keys)


def _point(config: SweepConfig, axes: list[_Axis], combo: _Combo) -> dict[str, Any]:
    """The nested parameter dict of one combination, constants included."""
    chosen = {axis.param.path: axis.by_key[key] for axis, key in zip(axes, combo, strict=True)}
    return nest((p.path, copy.deepcopy(chosen.get(p.path, p.value))) for p in config.parameters)
