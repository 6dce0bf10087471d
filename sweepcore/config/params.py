"""Checking the ``parameters`` tree and turning it into :class:`Parameter` leaves.

Each entry of ``parameters`` is one of W&B's spec forms (WANDB-COMPAT.md section 3): a constant
``{value}``, a choice ``{values[, probabilities]}``, bounds ``{min, max}`` (``int_uniform`` when
both are int literals, else ``uniform``), an explicit ``distribution`` with the keys it takes, or
a nested group ``{parameters: {...}}``. Every check runs at every nesting level, unlike W&B, which
checks min/max and deprecations on top-level entries only (section 13, items 1-3).

The leaves come out in W&B's canonical order: the names of each level sorted by codepoint and
visited depth first. Defaults are filled exactly as W&B's fill step does: ``q`` is ``1.0`` (a
float), ``mu``/``sigma`` are ``0.0``/``1.0`` for ``normal`` and ``log_normal`` and ``0``/``1`` for
their ``q_`` forms, ``a``/``b`` are ``1``. Values keep the type they were written with, because an
int ``q`` means int output.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from sweepcore.config._report import ParamSite, Report, describe, is_finite_number, is_int
from sweepcore.config.bounds import check_bounds, warn_deprecated
from sweepcore.config.model import DISTRIBUTIONS, Parameter

__all__ = ["NAME_PATTERN", "check_parameters"]

#: What every parameter name must match, at every nesting level.
NAME_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]*"

_BOUNDS = frozenset({"min", "max"})
_ALLOWED: dict[str, frozenset[str]] = {
    "constant": frozenset({"value"}),
    "categorical": frozenset({"values", "probabilities"}),
    "int_uniform": _BOUNDS,
    "uniform": _BOUNDS,
    "q_uniform": _BOUNDS | {"q"},
    "log_uniform": _BOUNDS,
    "log_uniform_values": _BOUNDS,
    "q_log_uniform": _BOUNDS | {"q"},
    "q_log_uniform_values": _BOUNDS | {"q"},
    "inv_log_uniform": _BOUNDS,
    "inv_log_uniform_values": _BOUNDS,
    "normal": frozenset({"mu", "sigma"}),
    "q_normal": frozenset({"mu", "sigma", "q"}),
    "log_normal": frozenset({"mu", "sigma"}),
    "q_log_normal": frozenset({"mu", "sigma", "q"}),
    "beta": frozenset({"a", "b"}),
    "q_beta": frozenset({"a", "b", "q"}),
}
_DEFAULTS: dict[str, dict[str, int | float]] = {
    "q_uniform": {"q": 1.0},
    "q_log_uniform": {"q": 1.0},
    "q_log_uniform_values": {"q": 1.0},
    "normal": {"mu": 0.0, "sigma": 1.0},
    "log_normal": {"mu": 0.0, "sigma": 1.0},
    "q_normal": {"mu": 0, "sigma": 1, "q": 1.0},
    "q_log_normal": {"mu": 0, "sigma": 1, "q": 1.0},
    "beta": {"a": 1, "b": 1},
    "q_beta": {"a": 1, "b": 1, "q": 1.0},
}
_NUMERIC = ("min", "max", "q", "mu", "sigma", "a", "b")
_SPEC_KEYS = frozenset(
    {"distribution", "parameters", "value", "values", "probabilities", *_NUMERIC}
)
_GRID_ALLOWED = ("constant", "categorical", "int_uniform", "q_uniform")
#: Names users reach for that W&B does not know, mapped to the one they mean.
_ALIASES = {
    "gaussian": "normal",
    "lognormal": "log_normal",
    "loguniform": "log_uniform_values",
    "choice": "categorical (write values: [...])",
    "randint": "int_uniform",
    "int": "int_uniform",
    "float": "uniform",
    "quniform": "q_uniform",
    "discrete": "categorical (write values: [...])",
}
_INT64 = (-(2**63), 2**63 - 1)


def check_parameters(tree: Any, report: Report, *, method: str | None) -> tuple[Parameter, ...]:
    """Check the whole ``parameters`` tree and return its leaves in canonical order.

    Args:
        tree: The value of the top-level ``parameters`` key.
        report: Receives every problem and warning.
        method: The config's method when it is valid, for the bayes and grid restrictions.

    Returns:
        The leaves that passed every check; complete only when ``report`` gained no problem.
    """
    leaves = _check_level(tree, (), report, method)
    seen: set[str] = set()
    for leaf in leaves:
        if leaf.name in seen:
            report.problem(
                f"parameters.{leaf.name}",
                "invalid_parameter_name",
                f"two parameters share the dotted name {leaf.name!r} (a top-level name with a "
                "dot and a nested leaf); results are stored per dotted name, so rename one.",
            )
        seen.add(leaf.name)
    return tuple(leaves)


def _check_level(
    level: Any, prefix: tuple[str, ...], report: Report, method: str | None
) -> list[Parameter]:
    key = ".".join(("parameters", *prefix))
    if not isinstance(level, Mapping):
        kind = "invalid_type" if not prefix else "invalid_parameter_spec"
        text = f"must be a mapping of parameter names to specs; got {describe(level)}."
        report.problem(key, kind, text)
        return []
    if not level:
        text = "needs at least one parameter; got an empty mapping."
        report.problem(key, "empty_parameters", text, wandb="{} should be non-empty")
        return []

    valid = sorted(name for name in level if _check_name(name, prefix, report))
    invalid = [name for name in level if name not in valid]

    leaves: list[Parameter] = []
    for name in [*valid, *invalid]:
        spec, path = level[name], (*prefix, str(name))
        if isinstance(spec, Mapping) and "parameters" in spec:
            nested = _check_group(ParamSite(path, spec, report), method)
            leaves += nested if name in valid else []
            continue
        leaf = _check_leaf(ParamSite(path, spec, report), method)
        if leaf is not None and name in valid:
            leaves.append(leaf)
    return leaves


def _check_name(name: Any, prefix: tuple[str, ...], report: Report) -> bool:
    if isinstance(name, str) and re.fullmatch(NAME_PATTERN, name):
        return True
    fix = " Quote it in the YAML." if not isinstance(name, str) else ""
    report.problem(
        ".".join(("parameters", *prefix, str(name))),
        "invalid_parameter_name",
        "a parameter name must start with a letter or _ and hold only letters, digits, _, . "
        f"and -; got {describe(name)}.{fix}",
        wandb=f"{name!r} does not match '^{NAME_PATTERN}$'",
    )
    return False


def _check_group(site: ParamSite, method: str | None) -> list[Parameter]:
    extra = [k for k in site.spec if k != "parameters"]
    if extra:
        site.invalid(
            f"a nested group takes only `parameters`; got also {', '.join(map(repr, extra))}. "
            "Move them into a leaf inside `parameters`."
        )
    return _check_level(site.spec["parameters"], site.path, site.report, method)


def _check_leaf(site: ParamSite, method: str | None) -> Parameter | None:
    if not isinstance(site.spec, Mapping):
        site.invalid(
            "a parameter spec must be a mapping such as {values: [...]} or {min: 0.0, max: 1.0}; "
            f"got {describe(site.spec)}. For a fixed value write {{value: {site.spec!r}}}."
        )
        return None
    n_before = len(site.report.problems)

    dist = _distribution_of(site)
    if dist is None:
        return None
    _check_keys(site, dist)
    nums = _check_fields(site, dist)
    check_bounds(site, dist, nums)
    _check_method(site, dist, method)

    if len(site.report.problems) > n_before:
        return None
    warn_deprecated(site, dist, nums)
    return _build(site, dist, nums)


def _distribution_of(site: ParamSite) -> str | None:
    spec = site.spec
    if "distribution" in spec:
        dist = spec["distribution"]
        if dist == "categorical_w_probabilities":  # W&B's internal name, accepted by its schema
            return "categorical"
        if isinstance(dist, str) and dist in DISTRIBUTIONS:
            return dist
        hint = _ALIASES.get(str(dist).lower()) or next(
            iter(difflib.get_close_matches(str(dist), DISTRIBUTIONS, n=1)), None
        )
        site.invalid(
            f"distribution {dist!r} is not one of {', '.join(DISTRIBUTIONS)}."
            + (f" Did you mean {hint}?" if hint else "")
        )
        return None
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical"
    if "min" in spec or "max" in spec:
        return _infer_bounded(site)
    if any(k in spec for k in _SPEC_KEYS):
        site.invalid(
            f"keys {sorted(k for k in spec if k in _SPEC_KEYS)} need a `distribution` "
            "(e.g. normal for mu/sigma, beta for a/b; probabilities go with values)."
        )
        return None
    if not spec:
        site.invalid("the spec is empty; give value, values, min/max or a distribution.")
        return None
    typos = _typos(list(spec), sorted(_SPEC_KEYS))
    if typos:
        # A misspelt spec key (``valuse``) reads as a run config too; the typo is likelier.
        site.invalid(typos + " Each parameter needs value, values, min/max or distribution.")
        return None
    key, value = next(iter(spec.items()))
    example = f"{{value: {value!r}}}" if not isinstance(value, Mapping) else "{parameters: ...}"
    site.invalid(
        f"this looks like a run config (keys {', '.join(map(str, spec))}), not a parameter "
        "spec: each parameter needs value, values, min/max or distribution, and a nested group "
        f"goes under `parameters`, e.g. {site.path[-1]}: {{parameters: {{{key}: {example}}}}}."
    )
    return None


def _typos(keys: list[Any], known: list[str]) -> str:
    """``unknown key 'mni': did you mean 'min'?`` for each of ``keys`` close to a known key."""
    hints = []
    for key in map(str, keys):
        close = difflib.get_close_matches(key, known, n=2, cutoff=0.6)
        if close:
            hints.append(f"unknown key {key!r}: did you mean {' or '.join(map(repr, close))}?")
    return " ".join(hints)


def _infer_bounded(site: ParamSite) -> str | None:
    low, high = site.spec.get("min"), site.spec.get("max")
    if is_int(low) and is_int(high):
        return "int_uniform"
    mixed = {type(low), type(high)} == {int, float}
    if mixed and len(site.path) == 1:
        # W&B's SDK refuses a top-level mix before upload; its engine would infer uniform, which
        # is what nested specs get (WANDB-COMPAT.md section 3.1).
        site.report.problem(
            site.key,
            "ambiguous_bounds",
            f"min {low!r} and max {high!r} mix an int and a float, so it is unclear whether "
            f"{site.name} is an integer or a real number. Write both as floats "
            f"(e.g. {_float_text(low)} and {_float_text(high)}) for uniform, or both as ints for "
            "int_uniform, or set distribution: uniform.",
            wandb=f"Parameter {site.name} is ambiguous, please specify bounds as both floats "
            "(for a float_uniform distribution) or ints (for an int_uniform distribution).",
        )
        return None
    return "uniform"


def _check_keys(site: ParamSite, dist: str) -> None:
    spec, allowed = site.spec, _ALLOWED[dist]
    extra = [k for k in spec if k != "distribution" and k not in allowed]
    if dist == "constant" and "values" in extra:
        site.invalid("give either value (a constant) or values (a choice), not both.")
        extra.remove("values")
    if extra:
        hint = ""
        if {"min", "max"} & set(extra) and "mu" in allowed:
            hint = f" {dist} is unbounded; for bounded values use uniform or a *_values form."
        elif "probabilities" in extra:
            hint = " probabilities go only with values."
        # A key of another distribution (``min`` under normal) is not a typo of anything.
        typos = _typos(
            [k for k in extra if k not in _SPEC_KEYS], sorted(allowed | {"distribution"})
        )
        if typos:
            hint += " " + typos
        site.invalid(
            f"{dist} does not take {', '.join(map(repr, extra))}; it takes "
            f"{', '.join(sorted(allowed | {'distribution'}))}.{hint}"
        )
    defaults = _DEFAULTS.get(dist, {})
    required = [k for k in ("value", "values", *_NUMERIC) if k in allowed and k not in defaults]
    missing = [k for k in required if k not in spec]
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        site.invalid(
            f"{dist} requires {' and '.join(required)}; {' and '.join(missing)} {verb} missing."
        )


def _check_fields(site: ParamSite, dist: str) -> dict[str, Any]:
    """Type- and sign-check each field; return the good numeric ones, defaults filled."""
    spec = site.spec
    nums: dict[str, Any] = dict(_DEFAULTS.get(dist, {}))
    for key in _NUMERIC:
        if key not in spec or key not in _ALLOWED[dist]:
            continue
        value = spec[key]
        if not is_finite_number(value):
            site.invalid(
                f"{key} must be a finite number; got {describe(value)}.{_quote_hint(value)}"
            )
            nums.pop(key, None)
        elif dist == "int_uniform" and not is_int(value):
            site.invalid(
                f"int_uniform bounds must be integers; got {key} {value!r}. Use "
                "distribution: uniform for real numbers."
            )
        elif dist == "int_uniform" and not _INT64[0] <= value <= _INT64[1]:
            site.invalid(f"int_uniform bounds must fit in 64 bits; got {key} {value}.")
        else:
            nums[key] = value

    _check_signs(site, dist, nums)
    if dist == "constant" and "value" in spec:
        _check_jsonable(site, "value", spec["value"])
    if dist == "categorical" and "values" in spec:
        _check_values(site, spec["values"])
    return nums


def _check_signs(site: ParamSite, dist: str, nums: dict[str, Any]) -> None:
    """Apply the per-field minimums, dropping a failed field from ``nums``."""
    rules = [("q", 0.0, True, "the rounding step must be positive")]
    rules.append(("sigma", 0.0, False, "a standard deviation cannot be negative"))
    # W&B's schema allows a or b = 0, but Beta(0, b) is undefined and numpy refuses to sample it.
    rules += [(k, 0.0, True, "Beta shape parameters must be positive") for k in ("a", "b")]
    if dist.endswith("_values"):
        rules.append(("min", 0.0, True, "values on a log scale must be positive: log 0 is -inf"))
    for key, floor, exclusive, why in rules:
        value = nums.get(key)
        if key not in site.spec or value is None:
            continue
        if value < floor or (exclusive and value == floor):
            relation = "less than or equal to" if exclusive else "less than"
            site.invalid(
                f"{key} must be {'>' if exclusive else '>='} {floor:g} for {dist} ({why}); "
                f"got {value!r}.",
                wandb_detail=f"{value!r} is {relation} the minimum of {floor:g}",
            )
            nums.pop(key)


def _check_values(site: ParamSite, values: Any) -> None:
    if not isinstance(values, list | tuple) or not values:
        site.invalid(f"values must be a non-empty list of choices; got {describe(values)}.")
        return
    _check_jsonable(site, "values", values)
    if "probabilities" not in site.spec:
        return
    probabilities = site.spec["probabilities"]
    if not isinstance(probabilities, list | tuple) or not probabilities:
        site.invalid(f"probabilities must be a list of numbers; got {describe(probabilities)}.")
        return
    bad = [p for p in probabilities if not is_finite_number(p) or p < 0]
    if bad:
        site.invalid(f"probabilities must be finite numbers >= 0; got {describe(bad[0])}.")
        return

    values_text, probs_text = repr(list(values)), repr(list(probabilities))
    if len(values) != len(probabilities):
        site.report.problem(
            site.key,
            "probabilities_length_mismatch",
            f"needs one probability per value; got {len(values)} values and "
            f"{len(probabilities)} probabilities.",
            wandb=f"Parameter {site.name}: values {values_text} and probabilities {probs_text} "
            "are not the same length",
        )
    elif not np.isclose(sum(probabilities), 1.0):
        site.report.problem(
            site.key,
            "probabilities_not_normalized",
            f"probabilities must sum to 1; got {probs_text}, which sums to "
            f"{sum(probabilities):.6g}.",
            wandb=f"Parameter {site.name}: Probabilities {probs_text} do not sum to 1",
        )


def _check_jsonable(site: ParamSite, key: str, value: Any) -> None:
    """Values reach the trainer and the store as JSON, so only JSON types may appear."""
    if value is None or isinstance(value, bool | int | float | str):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_jsonable(site, key, item)
        return
    if isinstance(value, Mapping):
        for k, item in value.items():
            if not isinstance(k, str):
                site.invalid(f"{key} holds a mapping key {describe(k)}; keys must be strings.")
                return
            _check_jsonable(site, key, item)
        return
    site.invalid(
        f"{key} holds {value!r} of type {type(value).__name__}, which JSON cannot store "
        "(YAML reads unquoted dates and times as such); quote it to keep it a string."
    )


def _check_method(site: ParamSite, dist: str, method: str | None) -> None:
    has_probabilities = "probabilities" in site.spec
    if method == "bayes" and dist == "categorical" and has_probabilities:
        site.report.problem(
            site.key,
            "invalid_parameter_spec",
            "bayes does not support probabilities (it picks among the values by its own model); "
            "probabilities are for method: random only. Remove them, or use method: random.",
        )
    if method == "grid" and (dist not in _GRID_ALLOWED or has_probabilities):
        what = "categorical with probabilities" if has_probabilities else dist
        site.report.problem(
            site.key,
            "grid_disallowed_distribution",
            f"grid search cannot enumerate {what}; grid accepts constant, categorical (values "
            "without probabilities), int_uniform and q_uniform. List the points with values: "
            "[...], or use method: random or bayes.",
            wandb=f"Parameter {site.name} is a disallowed type with grid search",
        )


def _build(site: ParamSite, dist: str, nums: dict[str, Any]) -> Parameter:
    spec = site.spec
    fields: dict[str, Any] = {k: nums[k] for k in _NUMERIC if k in _ALLOWED[dist]}
    if dist == "constant":
        fields["value"] = copy.deepcopy(spec["value"])
    if dist == "categorical":
        fields["values"] = tuple(copy.deepcopy(list(spec["values"])))
        if "probabilities" in spec:
            fields["probabilities"] = tuple(float(p) for p in spec["probabilities"])
    return Parameter(path=site.path, distribution=dist, **fields)


def _quote_hint(value: Any) -> str:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return " Remove the quotes so it is read as a number."
    return ""


def _float_text(value: Any) -> str:
    try:
        return repr(float(value))
    except OverflowError:
        return repr(value)
