"""Parameter distributions: sampling, grid expansion, a unit-cube map, and nested-dict helpers.

Every function takes one validated :class:`~sweepcore.config.model.Parameter` and trusts it (the
config loader has checked bounds, ``q > 0`` and the rest). The behaviour of each distribution is
W&B's, described in WANDB-COMPAT.md section 3.2.

Notation used below:

* ``q-round(x)`` is ``round(x / q) * q`` with numpy's round-half-to-even. It gives a Python
  ``int`` when the config wrote ``q`` as an integer literal and a ``float`` otherwise (the
  default ``q`` is ``1.0``, so a defaulted ``q`` gives integral floats).
* The *modelling space* of a parameter is where its distribution is simple: the value itself
  for ``uniform`` and ``normal``, its natural log for the log families. The deprecated
  ``log_uniform`` family writes its bounds as natural-log exponents already.
* ``u`` is a position in ``[0, 1]`` (see :func:`to_unit`).

Values handed out (samples, grid values) are always plain Python objects, never numpy scalars,
so they serialise to JSON and compare as users expect.
"""

from __future__ import annotations

import copy
import enum
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal

import numpy as np
from scipy import special

from sweepcore.config.model import Parameter

__all__ = [
    "MISSING",
    "canonical_key",
    "flatten",
    "from_unit",
    "get_path",
    "grid_values",
    "is_log_scaled",
    "is_numeric",
    "nest",
    "sample",
    "to_unit",
]

#: Families drawn uniformly in their modelling space between two bounds.
_UNIFORM_FAMILY: Final = frozenset(
    {
        "uniform",
        "q_uniform",
        "log_uniform",
        "q_log_uniform",
        "log_uniform_values",
        "q_log_uniform_values",
        "inv_log_uniform",
        "inv_log_uniform_values",
    }
)
_NORMAL_FAMILY: Final = frozenset({"normal", "q_normal", "log_normal", "q_log_normal"})
_BETA_FAMILY: Final = frozenset({"beta", "q_beta"})
_LOG_SCALED: Final = frozenset(
    {
        "log_uniform",
        "q_log_uniform",
        "log_uniform_values",
        "q_log_uniform_values",
        "inv_log_uniform",
        "inv_log_uniform_values",
        "log_normal",
        "q_log_normal",
    }
)
_GRID_DISTRIBUTIONS: Final = ("categorical", "constant", "int_uniform", "q_uniform")

# The open ends of (0, 1) that still give finite normal quantiles (about -38 and +8 sigma).
_U_LOW: Final = float(np.nextafter(0.0, 1.0))
_U_HIGH: Final = float(np.nextafter(1.0, 0.0))


class _Missing(enum.Enum):
    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


#: Returned by :func:`get_path` when a key path is absent (``None`` is a present value).
MISSING: Final = _Missing.MISSING


# --- sampling -----------------------------------------------------------------------------


def sample(param: Parameter, rng: np.random.Generator) -> Any:
    """Draw one value of ``param``.

    Args:
        param: A validated parameter leaf.
        rng: The generator to draw from; nothing else is consumed.

    Returns:
        A plain Python value: the constant's value (a copy) for ``constant``; an element of
        ``values`` (a copy; weighted by ``probabilities`` when given) for ``categorical``; an
        ``int`` in ``[min, max]`` inclusive for ``int_uniform``; otherwise a float, or an int for
        a ``q_*`` distribution whose ``q`` was written as an integer. A ``q_uniform`` value can
        fall outside ``[min, max]`` when the bounds are not multiples of ``q`` (W&B behaviour).
    """
    dist = param.distribution
    if dist == "constant":
        return copy.deepcopy(param.value)
    if dist == "categorical":
        values = _values(param)
        if param.probabilities is None:
            index = int(rng.integers(len(values)))
        else:
            weights = np.asarray(param.probabilities, dtype=float)
            index = int(rng.choice(len(values), p=weights / weights.sum()))
        return copy.deepcopy(values[index])
    if dist == "int_uniform" or dist in _UNIFORM_FAMILY:
        # Uniform in the modelling space is exactly the inverse map of a uniform u.
        return from_unit(param, float(rng.random()))
    if dist in _NORMAL_FAMILY:
        z = float(rng.normal(_num(param, "mu"), _num(param, "sigma")))
        return _finish(param, math.exp(z) if dist in _LOG_SCALED else z)
    if dist in _BETA_FAMILY:
        a, b = _num(param, "a"), _num(param, "b")
        if a > 0 and b > 0:
            return _finish(param, float(rng.beta(a, b)))
        # numpy refuses a zero shape; the limit is a point mass (or two), as _beta_ppf gives.
        return _finish(param, _beta_ppf(a, b, float(rng.random())))
    raise ValueError(f"parameters.{param.name}: unknown distribution {dist!r}")


# --- grid ---------------------------------------------------------------------------------


def grid_values(param: Parameter) -> list[Any]:
    """The values ``param`` takes in a grid, in grid order (WANDB-COMPAT.md section 4).

    * ``constant``: ``[value]``.
    * ``categorical``: ``values`` with duplicates (same :func:`canonical_key`) collapsed. A
      duplicate keeps the position of its first occurrence but the object of its last one, so
      ``[2, 2.0]`` gives ``[2.0]``.
    * ``int_uniform``: ``min, min + 1, ..., max``.
    * ``q_uniform``: numpy ``arange(min, max, q)``: ``max`` is excluded and float artefacts stay
      (``0.30000000000000004``). Python ints when ``min``, ``max`` and ``q`` are all ints.

    Args:
        param: A validated parameter leaf.

    Returns:
        A new list of plain Python values; values are copies, safe to mutate.

    Raises:
        ValueError: The distribution cannot be enumerated, or it is a categorical with
            ``probabilities``; the message names the parameter.
    """
    dist = param.distribution
    if dist not in _GRID_DISTRIBUTIONS or param.probabilities is not None:
        raise ValueError(
            f"parameters.{param.name}: distribution {dist!r}"
            f"{' with probabilities' if param.probabilities is not None else ''} cannot be"
            f" used with grid search; grid allows {', '.join(_GRID_DISTRIBUTIONS)} (without"
            " probabilities). Use method: random or bayes, or list the values to try."
        )

    if dist == "constant":
        return [copy.deepcopy(param.value)]
    if dist == "int_uniform":
        return list(range(int(_num(param, "min")), int(_num(param, "max")) + 1))
    if dist == "q_uniform":
        assert param.min is not None and param.max is not None and param.q is not None
        # arange keeps ints when min, max and q are all ints, as W&B's expansion does.
        values: list[Any] = np.arange(param.min, param.max, param.q).tolist()
        return values

    slots: dict[Hashable, Any] = {}
    for value in _values(param):
        # Assigning to an existing key keeps its position and replaces the object.
        slots[canonical_key(value)] = value
    return [copy.deepcopy(v) for v in slots.values()]


def canonical_key(value: Any) -> Hashable:
    """A hashable identity of ``value`` for grid coverage and de-duplication.

    Two values get the same key exactly when W&B's grid treats them as the same point: dict key
    order does not matter, a whole-number float equals the int (``2.0`` is ``2``, at any depth),
    ``True`` is not ``1`` and ``"1"`` is not ``1``, a list is not a tuple, and NaN equals NaN.

    Args:
        value: Any value a parameter can take (scalars, lists, dicts, ``None``).

    Returns:
        A hashable key.
    """
    if isinstance(value, float):
        if math.isnan(value):
            return ("float", "nan")
        if value.is_integer():
            return ("int", int(value))
        return ("float", value)
    if isinstance(value, bool | np.bool_):
        return ("bool", bool(value))
    if isinstance(value, int | np.integer):
        return ("int", int(value))
    if isinstance(value, Mapping):
        items = ((canonical_key(k), canonical_key(v)) for k, v in value.items())
        return ("dict", tuple(sorted(items, key=lambda kv: repr(kv[0]))))
    if isinstance(value, list):
        return ("list", tuple(canonical_key(v) for v in value))
    if isinstance(value, tuple):
        return ("tuple", tuple(canonical_key(v) for v in value))
    try:
        hash(value)
    except TypeError:
        return ("repr", type(value).__name__, repr(value))
    return (type(value).__name__, value)


# --- the unit map used by bayes -----------------------------------------------------------


def is_numeric(param: Parameter) -> bool:
    """Whether ``param`` is a number line (every distribution but constant and categorical)."""
    return param.distribution not in ("constant", "categorical")


def is_log_scaled(param: Parameter) -> bool:
    """Whether ``param``'s modelling space is the natural log of its value.

    True for the ``log_uniform``, ``inv_log_uniform`` and ``log_normal`` families (with or
    without ``q_`` and ``_values``).
    """
    return param.distribution in _LOG_SCALED


def to_unit(param: Parameter, value: Any) -> float:
    """Map a value of a numeric parameter to ``[0, 1]``, increasing in ``value``.

    * uniform family: linear between the bounds in the modelling space, so
      ``log_uniform_values`` maps ``log(x)`` linearly from ``log(min)`` to ``log(max)``;
    * ``int_uniform``: each of the ``n = max - min + 1`` integers owns an equal slice of
      ``[0, 1]`` and maps to its centre, ``(v - min + 0.5) / n``. W&B maps to the slice's right
      edge; the centre makes :func:`from_unit` an exact inverse;
    * normal and log-normal families: their CDF; beta family: the beta CDF.

    Values outside the support (a trial from an earlier config) map to the nearest end.

    Args:
        param: A numeric parameter (see :func:`is_numeric`).
        value: A real number (``bool`` is refused).

    Returns:
        The position in ``[0, 1]``.

    Raises:
        ValueError: ``param`` is not numeric, or ``value`` is not a real number or is NaN.
    """
    _check_numeric(param)
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"parameters.{param.name}: {value!r} is not a number")
    x = float(value)
    if math.isnan(x):
        raise ValueError(f"parameters.{param.name}: NaN has no position in the search space")

    dist = param.distribution
    if dist == "int_uniform":
        low, high = _num(param, "min"), _num(param, "max")
        u = (math.floor(x + 0.5) - low + 0.5) / (high - low + 1)
    elif dist in _BETA_FAMILY:
        u = _beta_cdf(_num(param, "a"), _num(param, "b"), min(max(x, 0.0), 1.0))
    else:
        if dist in _LOG_SCALED:
            x = math.log(x) if x > 0 else -math.inf
        if dist in _UNIFORM_FAMILY:
            low, high = _modelling_bounds(param)
            u = (x - low) / (high - low)
        else:
            u = _normal_cdf(x, _num(param, "mu"), _num(param, "sigma"))
    return min(max(float(u), 0.0), 1.0)


def from_unit(param: Parameter, u: float) -> Any:
    """Inverse of :func:`to_unit`: the value at position ``u``, typed as :func:`sample`'s.

    ``u`` is clipped to ``[0, 1]``, the value to the support, and the ``q_*`` distributions are
    q-rounded, so every position gives a value :func:`sample` could return. A normal family
    never returns an infinity: the ends of ``[0, 1]`` give about ``mu - 38 sigma`` and
    ``mu + 8 sigma``.

    Args:
        param: A numeric parameter (see :func:`is_numeric`).
        u: A position, normally in ``[0, 1]``.

    Returns:
        An ``int`` (``int_uniform``, or ``q_*`` with an integer ``q``) or a ``float``.

    Raises:
        ValueError: ``param`` is not numeric, or ``u`` is NaN.
    """
    _check_numeric(param)
    if math.isnan(u):
        raise ValueError(f"parameters.{param.name}: position u is NaN")
    u = min(max(float(u), 0.0), 1.0)

    dist = param.distribution
    if dist == "int_uniform":
        first, last = int(_num(param, "min")), int(_num(param, "max"))
        return min(first + math.floor(u * (last - first + 1)), last)
    if dist in _BETA_FAMILY:
        return _finish(param, _beta_ppf(_num(param, "a"), _num(param, "b"), u))
    if dist in _UNIFORM_FAMILY:
        low, high = _modelling_bounds(param)
        z = min(max(low + u * (high - low), low), high)
    else:
        mu, sigma = _num(param, "mu"), _num(param, "sigma")
        z = mu + sigma * float(special.ndtri(min(max(u, _U_LOW), _U_HIGH)))
    if dist not in _LOG_SCALED:
        return _finish(param, z)

    x = math.exp(z)
    if dist.endswith("_values"):
        # exp(log(max)) can land one ulp outside the bounds the user wrote.
        x = min(max(x, _num(param, "min")), _num(param, "max"))
    return _finish(param, x)


# --- nested parameter dicts ---------------------------------------------------------------


def get_path(params: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at key ``path`` of a nested dict, or :data:`MISSING` when absent.

    A ``None`` value is present (a real choice), not missing. A path through a non-dict value
    is missing.
    """
    node: Any = params
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return MISSING
        node = node[key]
    return node


def nest(items: Iterable[tuple[tuple[str, ...], Any]]) -> dict[str, Any]:
    """Build a nested dict from ``(path, value)`` pairs, e.g. ``(("optim", "lr"), 0.1)``.

    Raises:
        ValueError: A path repeats, or one path is a prefix of another (a value and a group at
            the same key).
    """
    root: dict[str, Any] = {}
    for path, value in items:
        node = root
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ValueError(f"{'.'.join(path)}: {key!r} holds a value, not a group")
            node = child
        if path[-1] in node:
            raise ValueError(f"{'.'.join(path)}: given twice, or also a group of parameters")
        node[path[-1]] = value
    return root


def flatten(params: Mapping[str, Any], parameters: Sequence[Parameter]) -> dict[str, Any]:
    """The value of each of ``parameters`` in ``params``, keyed by dotted name.

    Leaves absent from ``params`` are left out (``None`` values are kept). If a top-level name
    contains a dot and equals a nested leaf's dotted name, the later leaf in ``parameters``
    wins.
    """
    flat: dict[str, Any] = {}
    for param in parameters:
        value = get_path(params, param.path)
        if value is not MISSING:
            flat[param.name] = value
    return flat


# --- internals ----------------------------------------------------------------------------


def _num(param: Parameter, attr: Literal["min", "max", "q", "mu", "sigma", "a", "b"]) -> float:
    value = getattr(param, attr)
    assert value is not None, f"{param.name}: validated parameter lacks {attr}"
    return float(value)


def _values(param: Parameter) -> tuple[Any, ...]:
    assert param.values is not None, f"{param.name}: validated categorical lacks values"
    return param.values


def _check_numeric(param: Parameter) -> None:
    if not is_numeric(param):
        raise ValueError(
            f"parameters.{param.name}: {param.distribution} is not a numeric distribution"
        )


def _modelling_bounds(param: Parameter) -> tuple[float, float]:
    """Bounds of a uniform-family parameter in its modelling space."""
    low, high = _num(param, "min"), _num(param, "max")
    if param.distribution.endswith("_values"):
        return math.log(low), math.log(high)
    if param.distribution == "inv_log_uniform":
        # x = exp(-y) with y uniform in [min, max], so log(x) is uniform in [-max, -min].
        return -high, -low
    return low, high


def _finish(param: Parameter, x: float) -> int | float:
    """q-round ``x`` for the ``q_*`` distributions, and give it its output type."""
    if not param.distribution.startswith("q_"):
        return float(x)
    q = param.q
    assert q is not None, f"{param.name}: validated parameter lacks q"
    steps = float(np.round(x / q))
    if isinstance(q, int) and not isinstance(q, bool):
        return int(steps) * q
    return float(steps * q)


def _normal_cdf(x: float, mu: float, sigma: float) -> float:
    if sigma == 0:
        # A point mass at mu: its own value sits in the middle.
        return 0.0 if x < mu else 1.0 if x > mu else 0.5
    return float(special.ndtr((x - mu) / sigma))


def _beta_cdf(a: float, b: float, x: float) -> float:
    if a == 0 and b == 0:
        return 0.5 if x < 1 else 1.0
    if a == 0:
        return 1.0
    if b == 0:
        return 0.0 if x < 1 else 1.0
    return float(special.betainc(a, b, x))


def _beta_ppf(a: float, b: float, u: float) -> float:
    # A zero shape is the limit of Beta(a, b): all mass at 0 (a = 0), at 1 (b = 0), or half
    # at each end (both); scipy returns NaN there.
    if a == 0 and b == 0:
        return 0.0 if u <= 0.5 else 1.0
    if a == 0:
        return 0.0
    if b == 0:
        return 1.0
    return float(special.betaincinv(a, b, u))
