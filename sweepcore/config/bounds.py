"""Numeric feasibility of a parameter's bounds, and the deprecated log-distribution warnings.

A config is refused up front when a distribution could produce a number that is not finite (or,
on a log scale, not positive): a sampler must never hand ``inf`` to a trainer or ``Infinity`` to
the store (BR-04). The checks, per distribution, on the range the samples can reach:

* ``log_uniform`` / ``q_log_uniform``: samples are ``e^x`` for ``x`` in ``[min, max]``, so
  ``e^max`` must be finite (``max`` at most about 709.78) and ``e^min`` must not round to 0.0
  (``min`` at least about -745.13).
* ``inv_log_uniform``: samples are ``e^-x``, so the same limits apply to ``-min`` and ``-max``.
* ``*_values``: ``min > 0`` (checked with the other signs); ``1/min`` must be finite for
  ``inv_log_uniform_values``, which samples through ``1/x``.
* ``normal`` / ``log_normal`` and their ``q_`` forms are unbounded; we require that samples up to
  ``TAIL_SIGMAS`` standard deviations from ``mu`` stay finite (and, for ``log_normal``, that
  ``e^x`` neither overflows nor rounds to 0 there). A draw beyond 8 sigma has probability about
  1e-15, so larger draws are the sampler's to clip.
* ``uniform``: ``max - min`` must be finite. ``q_*``: the largest reachable magnitude divided by
  ``q`` must be finite, since rounding computes ``round(x / q) * q``; and a bounded ``q_*``
  needs a multiple of ``q`` inside its range, or every sample rounds to one value outside it.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from sweepcore.config._report import ParamSite

__all__ = ["BOUNDED_DISTRIBUTIONS", "TAIL_SIGMAS", "check_bounds", "warn_deprecated"]

#: Distributions with a ``min`` and ``max`` that must satisfy ``min < max``.
BOUNDED_DISTRIBUTIONS = frozenset(
    {
        "int_uniform",
        "uniform",
        "q_uniform",
        "log_uniform",
        "log_uniform_values",
        "q_log_uniform",
        "q_log_uniform_values",
        "inv_log_uniform",
        "inv_log_uniform_values",
    }
)
#: How many standard deviations of an unbounded distribution must stay representable.
TAIL_SIGMAS = 8.0

_DEPRECATED = ("log_uniform", "q_log_uniform", "inv_log_uniform")
_LN_MAX = math.log(sys.float_info.max)
#: Below this exponent, e^x rounds to 0.0 (half the smallest subnormal, 2^-1075).
_LN_ZERO = -1075 * math.log(2)


def check_bounds(site: ParamSite, dist: str, nums: dict[str, Any]) -> None:
    """Check ``min < max`` and that every reachable value is finite (and positive on log scales).

    Args:
        site: The parameter, for messages.
        dist: Its distribution.
        nums: Its numeric fields that passed the type checks, defaults filled. A check whose
            fields are missing here is skipped: their problem is reported already.
    """
    low, high = nums.get("min"), nums.get("max")
    if dist in BOUNDED_DISTRIBUTIONS:
        if low is None or high is None:
            return
        if not low < high:
            fix = "swap them" if low > high else f"for a fixed value write {{value: {low!r}}}"
            site.report.problem(
                site.key,
                "min_not_less_than_max",
                f"min {low!r} is not less than max {high!r}; min must be strictly below max "
                f"({fix}).",
            )
            return

    try:
        reason = _range_problem(dist, nums)
    except KeyError:  # a needed field failed its type check and was reported already
        return
    if reason:
        site.invalid(reason)


def warn_deprecated(site: ParamSite, dist: str, nums: dict[str, Any]) -> None:
    """Warn about the deprecated exponent-bounded distributions, louder when misuse is likely.

    W&B's semantics are kept: ``min``/``max`` of ``log_uniform`` are natural-log exponents. When
    both are in ``(0, 1]`` they were almost surely meant as values (BR-03), so the warning then
    also states the range the samples will really fall in.
    """
    if dist not in _DEPRECATED:
        return
    low, high = float(nums["min"]), float(nums["max"])
    if dist == "inv_log_uniform":
        first, last, form = math.exp(-high), math.exp(-low), "[e^-max, e^-min]"
    else:
        first, last, form = math.exp(low), math.exp(high), "[e^min, e^max]"
    reach = f"[{_fmt(first)}, {_fmt(last)}]"

    text = (
        f"{dist} is deprecated: its min and max are natural-log exponents, so samples fall in "
        f"{form} = {reach}. To give the limits as values write distribution: {dist}_values, "
        f"min: {_fmt(first)}, max: {_fmt(last)}."
    )
    if 0 < low < high <= 1:
        text += (
            f" CHECK THIS: min {low:g} and max {high:g} look like values, not exponents: "
            f"{site.name} will be sampled from {reach}, not from [{low:g}, {high:g}]. If you "
            f"meant values, write distribution: {dist}_values."
        )
    site.report.warn(
        site.key,
        f"{text} [W&B: {site.name} uses {dist}, where min/max specify base-e exponents. Use "
        f"{dist}_values to specify limit values.]",
    )


def _range_problem(dist: str, nums: dict[str, Any]) -> str | None:
    if dist in ("log_uniform", "q_log_uniform"):
        fix = f" min and max of {dist} are exponents; to give values use {dist}_values."
        reason = _exp_problem("e^max", nums["max"]) or _exp_problem("e^min", nums["min"])
        return reason + fix if reason else _q_problem(dist, nums)
    if dist == "inv_log_uniform":
        fix = " min and max of inv_log_uniform are exponents; to give values use "
        fix += "inv_log_uniform_values."
        reason = _exp_problem("e^-min", -nums["min"]) or _exp_problem("e^-max", -nums["max"])
        return reason + fix if reason else None
    if dist == "inv_log_uniform_values" and not math.isfinite(1.0 / nums["min"]):
        return f"1/min = 1/{nums['min']!r} overflows to inf; raise min."
    if dist in ("uniform", "q_uniform") and not math.isfinite(nums["max"] - nums["min"]):
        return "max - min overflows the float range, so samples would be inf; narrow [min, max]."
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        mu, sigma = float(nums["mu"]), float(nums["sigma"])
        ends = (mu - TAIL_SIGMAS * sigma, mu + TAIL_SIGMAS * sigma)
        if not all(math.isfinite(x) for x in ends):
            return "mu ± 8·sigma overflows the float range, so samples would be inf."
        if dist.endswith("log_normal"):
            labels = ("e^(mu + 8·sigma)", "e^(mu - 8·sigma)")
            reason = _exp_problem(labels[0], ends[1]) or _exp_problem(labels[1], ends[0])
            if reason:
                return f"{reason}; {dist} samples are e^x with x ~ N(mu, sigma). Shrink mu/sigma."
    return _q_problem(dist, nums)


def _q_problem(dist: str, nums: dict[str, Any]) -> str | None:
    """Rounding computes ``x / q``: refuse a ``q`` so small that it overflows."""
    if "q" not in nums or not dist.startswith("q_"):
        return None
    q = float(nums["q"])
    if dist == "q_uniform":
        top = max(abs(float(nums["min"])), abs(float(nums["max"])))
    elif dist == "q_log_uniform":
        top = math.exp(float(nums["max"]))
    elif dist == "q_log_uniform_values":
        top = float(nums["max"])
    elif dist == "q_beta":
        top = 1.0
    else:
        mu, sigma = float(nums["mu"]), float(nums["sigma"])
        top = abs(mu) + TAIL_SIGMAS * sigma
        top = _exp(top) if dist == "q_log_normal" else top
    if not math.isfinite(top / q):
        return f"q {q!r} is so small that x / q overflows when rounding; use a larger q."
    return _no_multiple_problem(dist, nums, q)


def _no_multiple_problem(dist: str, nums: dict[str, Any], q: float) -> str | None:
    """Refuse a bounded ``q_*`` whose range holds no multiple of ``q``.

    Every sample would then round to one value outside ``[min, max]`` (``min: 0.1, max: 0.4,
    q: 1`` gives 0 every time, not even positive on a log scale): a constant nobody meant.
    W&B accepts such configs.
    """
    if dist == "q_uniform" or dist == "q_log_uniform_values":
        low, high = float(nums["min"]), float(nums["max"])
    elif dist == "q_log_uniform":
        low, high = math.exp(float(nums["min"])), math.exp(float(nums["max"]))
    else:
        return None
    first = math.ceil(low / q - 1e-9) * q
    if first <= high * (1 + 1e-12) + 1e-300:
        return None
    return (
        f"no multiple of q {_fmt(q)} lies in the range [{_fmt(low)}, {_fmt(high)}], so every "
        f"sample would round to the same value outside it; use a q of at most {_fmt(high - low)} "
        "or widen the range."
    )


def _exp_problem(label: str, exponent: float) -> str | None:
    """Why ``e^exponent`` is no usable log-scale value, or ``None`` when it is."""
    exponent = float(exponent)
    if exponent > _LN_MAX:
        return (
            f"{label} = e^{exponent:g} is not representable as a float (the limit is about "
            f"e^{_LN_MAX:.2f}), so samples would be inf."
        )
    if exponent < _LN_ZERO or math.exp(exponent) == 0.0:
        return (
            f"{label} = e^{exponent:g} rounds to 0.0 (the smallest positive float is about "
            f"e^{_LN_ZERO:.2f}), which is not a valid log-scale value."
        )
    return None


def _exp(exponent: float) -> float:
    try:
        return math.exp(exponent)
    except OverflowError:
        return math.inf


def _fmt(value: float) -> str:
    return f"{value:.5g}"
