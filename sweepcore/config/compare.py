"""Listing how two configs' search spaces differ, so a sweep is not resumed on a changed space.

A sweep id's search space is immutable (BR-20): trials stored under the old space would be read
by a search method against the new one (a bayes model whose categorical encoding shifted, a grid
whose points moved). The flow compares the stored config with the new one before it launches
anything and refuses with these lines.

What counts as the search space: the method, the metric's name and goal, and every parameter
leaf with all its filled fields. ``run_cap``, ``metric.target``, ``early_terminate``, the command
and the display fields are not part of it, so raising a ``run_cap`` to continue a sweep is
allowed.
"""

from __future__ import annotations

import math
from typing import Any

from sweepcore.config.errors import ConfigProblem, SweepConfigError
from sweepcore.config.model import Parameter, SweepConfig

__all__ = ["require_same_search_space", "search_space_changes"]

#: Fields where only the numeric value matters (a uniform bound of 1 samples like 1.0). ``q`` is
#: not among them: an int ``q`` gives int output, so ``1`` -> ``1.0`` changes what trials get.
_NUMERIC_FIELDS = ("min", "max", "mu", "sigma", "a", "b")


def require_same_search_space(stored: SweepConfig, given: SweepConfig, sweep_id: str) -> None:
    """Refuse to resume ``sweep_id`` with a config whose search space differs from ``stored``.

    Raises:
        SweepConfigError: One problem listing every difference (:func:`search_space_changes`)
            and the two ways on.
    """
    changes = search_space_changes(stored, given)
    if not changes:
        return
    message = (
        f"sweep {sweep_id}: the config's search space differs from the stored one, and a "
        "sweep's search space cannot change:\n      "
        + "\n      ".join(changes)
        + "\n    Start a new sweep (another --sweep-id) to search the new space, or leave "
        "CONFIG out to resume with the stored one."
    )
    raise SweepConfigError([ConfigProblem("", message, "search_space_changed")])


def search_space_changes(old: SweepConfig, new: SweepConfig) -> list[str]:
    """Human-readable lines listing how ``new``'s search space differs from ``old``'s.

    Args:
        old: The config the sweep was created with.
        new: The config it is about to be resumed with.

    Returns:
        One line per difference, e.g. ``parameters.batch_size: values [64, 128] -> [64, 128,
        256, 512]`` or ``parameters.lr.min: 0.001 -> 0.0001``; an empty list when the spaces
        are equivalent. Values are compared type-sensitively (``True`` is not ``1``, ``2`` is
        not ``2.0``) except numeric bounds and shape parameters, where ``1 == 1.0``.
    """
    lines: list[str] = []
    if old.method != new.method:
        lines.append(f"method: {old.method} -> {new.method}")
    lines += _metric_changes(old, new)

    old_leaves = {p.name: p for p in old.parameters}
    new_leaves = {p.name: p for p in new.parameters}
    for name in sorted(old_leaves.keys() | new_leaves.keys()):
        before, after = old_leaves.get(name), new_leaves.get(name)
        if after is None:
            lines.append(f"parameters.{name}: removed (was {_summary(before)})")
        elif before is None:
            lines.append(f"parameters.{name}: added ({_summary(after)})")
        else:
            lines += _leaf_changes(before, after)
    return lines


def _metric_changes(old: SweepConfig, new: SweepConfig) -> list[str]:
    if old.metric is None and new.metric is None:
        return []
    if old.metric is None or new.metric is None:
        said = [f"{m.name} ({m.goal})" if m else "none" for m in (old.metric, new.metric)]
        return [f"metric: {said[0]} -> {said[1]}"]
    lines = []
    if old.metric.name != new.metric.name:
        lines.append(f"metric.name: {old.metric.name} -> {new.metric.name}")
    if old.metric.goal != new.metric.goal:
        lines.append(f"metric.goal: {old.metric.goal} -> {new.metric.goal}")
    return lines


def _leaf_changes(old: Parameter, new: Parameter) -> list[str]:
    key = f"parameters.{old.name}"
    lines = []
    if old.distribution != new.distribution:
        lines.append(f"{key}.distribution: {old.distribution} -> {new.distribution}")
    for field in ("value", "values", "probabilities"):
        before, after = getattr(old, field), getattr(new, field)
        if not _same(before, after):
            lines.append(f"{key}: {field} {_show(before)} -> {_show(after)}")
    for field in ("min", "max", "q", "mu", "sigma", "a", "b"):
        before, after = getattr(old, field), getattr(new, field)
        same = _same_number(before, after) if field in _NUMERIC_FIELDS else _same(before, after)
        if not same:
            lines.append(f"{key}.{field}: {_show(before)} -> {_show(after)}")
    return lines


def _same(a: Any, b: Any) -> bool:
    """Equality that tells ``True`` from ``1`` and ``2`` from ``2.0``, and equates NaN to NaN."""
    if type(a) is not type(b):
        # Tuples (stored) and lists (inside values) hold the same sequence.
        return isinstance(a, list | tuple) and isinstance(b, list | tuple) and _same_seq(a, b)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list | tuple):
        return _same_seq(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _same_seq(a: list[Any] | tuple[Any, ...], b: list[Any] | tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, tuple):
        return repr(list(value))
    return repr(value)


def _summary(param: Parameter | None) -> str:
    assert param is not None
    spec = param.to_spec()
    return ", ".join(f"{k} {_show(v)}" for k, v in spec.items())
