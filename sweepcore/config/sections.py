"""The ``metric`` and ``early_terminate`` sections of a sweep config (WANDB-COMPAT.md 2.1, 9).

Both are checked completely and every problem is reported; the hyperband bands are computed here
so that a config with no band at all is refused when it is loaded rather than when the first
stop decision is due (W&B only fails then).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any

from sweepcore.config._report import Report, describe, is_finite_number, is_int
from sweepcore.config.model import HyperbandSpec, MetricSpec

__all__ = ["N_MIN_ITER_BANDS", "check_early_terminate", "check_metric", "hyperband_bands"]

_Bad = Callable[..., None]

_GOALS = ("minimize", "maximize")
_IMPUTE = ("latest", "best", "worst")
_IMPUTE_WHILE_RUNNING = ("latest", "best", "worst", "false")
_HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
#: W&B lists this many bands when they come from ``min_iter``.
N_MIN_ITER_BANDS = 100


def hyperband_bands(spec: HyperbandSpec) -> list[int]:
    """The iteration counts at which hyperband judges runs, ascending (WANDB-COMPAT.md section 9).

    With ``max_iter`` and ``s``, ``max_iter`` is divided by ``eta`` up to ``s`` times, stopping
    once below 1, and each quotient is truncated (``min_iter`` is then ignored, as in W&B).
    Otherwise the bands are ``int(min_iter * eta**k)`` for ``k`` below 100.

    Args:
        spec: A validated hyperband section.

    Returns:
        The bands; empty when ``max_iter / eta < 1`` (the config check refuses that).

    Note:
        W&B's ``min_iter`` list can grow past the float range for a large ``eta`` and then
        crash on ``int(inf)``; here the list ends at the last finite band instead.
    """
    bands: list[int] = []
    if spec.max_iter is not None and spec.s is not None:
        band = float(spec.max_iter)
        for _ in range(spec.s):
            band /= spec.eta
            if band < 1:
                break
            bands.append(int(band))
        return sorted(bands)
    assert spec.min_iter is not None
    band = float(spec.min_iter)
    for _ in range(N_MIN_ITER_BANDS):
        if not math.isfinite(band):
            break
        bands.append(int(band))
        band *= spec.eta
    return bands


def check_metric(value: Any, report: Report) -> MetricSpec | None:
    """Check the ``metric`` section and fill W&B's defaults.

    An unquoted YAML ``false`` for ``impute_while_running`` is read as the string ``"false"``
    that W&B's schema expects; ``true`` is refused (choose latest, best or worst).

    Args:
        value: The section as written.
        report: Receives every problem (kind ``invalid_metric``).

    Returns:
        The metric, or ``None`` when it has a problem.
    """

    def bad(path: str, text: str, wandb: str | None = None) -> None:
        report.problem(path, "invalid_metric", text, wandb=wandb)

    if not isinstance(value, Mapping):
        bad(
            "metric",
            "must be a mapping such as {name: val_loss, goal: minimize}; "
            f"got {describe(value)}.",
        )
        return None
    n_before = len(report.problems)
    allowed = ("name", "goal", "target", "impute", "impute_while_running")
    for key in value:
        if key not in allowed:
            text = f"{key!r} is not a metric key; the keys are {', '.join(allowed)}."
            bad(
                f"metric.{key}",
                text,
                f"Additional properties are not allowed ({key!r} was unexpected)",
            )
    name = value.get("name")
    if "name" not in value:
        bad(
            "metric.name",
            "the metric needs the name of the value the trainer logs.",
            "'name' is a required property",
        )
    elif not isinstance(name, str) or not name:
        bad(
            "metric.name",
            f"must be a non-empty string; got {describe(name)}.",
            f"{name!r} is not of type 'string'",
        )

    fields: dict[str, Any] = {}
    for key, options in (("goal", _GOALS), ("impute", _IMPUTE)):
        if key in value:
            fields[key] = _check_enum(f"metric.{key}", value[key], options, bad)
    if "impute_while_running" in value:
        raw_iwr = value["impute_while_running"]
        # YAML reads an unquoted `false` as a boolean; W&B's enum holds the string "false".
        raw_iwr = "false" if raw_iwr is False else raw_iwr
        fields["impute_while_running"] = _check_enum(
            "metric.impute_while_running", raw_iwr, _IMPUTE_WHILE_RUNNING, bad
        )
    if "target" in value:
        target = value["target"]
        if is_finite_number(target):
            fields["target"] = target
        else:
            bad(
                "metric.target",
                f"must be a finite number; got {describe(target)}.",
                f"{target!r} is not of type 'number'",
            )

    if len(report.problems) > n_before:
        return None
    assert isinstance(name, str)
    return MetricSpec(name=name, **fields)


def _check_enum(path: str, value: Any, options: tuple[str, ...], bad: _Bad) -> Any:
    if value in options and isinstance(value, str):
        return value
    close = difflib.get_close_matches(str(value), options, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    bad(
        path,
        f"{value!r} is not allowed; choose one of {', '.join(options)}.{hint}",
        f"{value!r} is not one of {list(options)!r}",
    )
    return None


def check_early_terminate(value: Any, report: Report, has_metric: bool) -> HyperbandSpec | None:
    """Check the ``early_terminate`` section, including that it yields at least one band.

    Args:
        value: The section as written.
        report: Receives every problem (kind ``invalid_early_terminate``) and the warning that
            ``min_iter`` is ignored beside ``max_iter`` and ``s``.
        has_metric: Whether the config has a ``metric``, which hyperband needs.

    Returns:
        The section with ``eta`` and ``strict`` defaulted, or ``None`` when it has a problem.
    """

    def bad(path: str, text: str, wandb: str | None = None) -> None:
        report.problem(path, "invalid_early_terminate", text, wandb=wandb)

    if not isinstance(value, Mapping):
        bad(
            "early_terminate",
            f"must be a mapping such as {{type: hyperband, min_iter: 3}}; got {describe(value)}.",
        )
        return None
    n_before = len(report.problems)
    for key in value:
        if key not in _HYPERBAND_KEYS:
            text = f"{key!r} is not a hyperband key; the keys are {', '.join(_HYPERBAND_KEYS)}."
            bad(
                f"early_terminate.{key}",
                text,
                f"Additional properties are not allowed ({key!r} was unexpected)",
            )
    if value.get("type") != "hyperband":
        got = describe(value["type"]) if "type" in value else "nothing"
        bad(
            "early_terminate.type",
            f"must be hyperband, the only early-termination method; got {got}.",
        )

    fields = _check_hyperband_fields(value, bad)
    has_max = "max_iter" in value and "s" in value
    half = [k for k in ("max_iter", "s") if k in value]
    if len(half) == 1:
        # W&B's schema passes {max_iter, min_iter} without s, then its stopper fails on the
        # missing s; refuse it here instead.
        other = "s" if half[0] == "max_iter" else "max_iter"
        bad(
            "early_terminate",
            f"max_iter and s go together; found only {half[0]}. Add {other}, or remove "
            f"{half[0]} and give min_iter.",
        )
    elif not has_max and "min_iter" not in value:
        bad("early_terminate", "needs min_iter, or both max_iter and s; found neither.")
    if not has_metric:
        bad(
            "early_terminate",
            "hyperband compares runs by their metric; add metric: {name: ..., goal: ...}.",
            'early terminate requires "metric" section',
        )
    if len(report.problems) > n_before:
        return None

    spec = HyperbandSpec(**fields)
    bands = hyperband_bands(spec)
    if not bands:
        assert spec.max_iter is not None  # bands from min_iter >= 1 are never empty
        bad(
            "early_terminate",
            f"max_iter {spec.max_iter} / eta {spec.eta} = {spec.max_iter / spec.eta:.3g} is below "
            "1 iteration, so there is no band at which hyperband could stop a run. Increase "
            "max_iter or s, decrease eta, or give min_iter instead.",
            "Bands must be an array of length at least 1",
        )
        return None
    if has_max and "min_iter" in value:
        report.warn(
            "early_terminate.min_iter",
            f"ignored because max_iter and s are given (as in W&B); the bands are {bands}.",
        )
    return spec


def _check_hyperband_fields(value: Mapping[str, Any], bad: _Bad) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, floor in (("min_iter", 1), ("max_iter", 1), ("s", 1)):
        if key not in value:
            continue
        got = value[key]
        if not is_int(got):
            bad(
                f"early_terminate.{key}",
                f"must be an integer; got {describe(got)}.",
                f"{got!r} is not of type 'integer'",
            )
        elif got < floor:
            bad(
                f"early_terminate.{key}",
                f"must be at least {floor}; got {got}.",
                f"{got!r} is less than the minimum of {floor}",
            )
        else:
            fields[key] = got
    if "eta" in value:
        eta = value["eta"]
        if not is_finite_number(eta) or eta <= 1:
            bad(
                "early_terminate.eta",
                "must be a number above 1 (each band keeps the best 1/eta of runs); "
                f"got {describe(eta)}.",
                f"{eta!r} is less than or equal to the minimum of 1"
                if is_finite_number(eta)
                else None,
            )
        else:
            fields["eta"] = eta
    if "strict" in value:
        strict = value["strict"]
        if isinstance(strict, bool):
            fields["strict"] = strict
        else:
            bad(
                "early_terminate.strict",
                f"must be true or false; got {describe(strict)}.",
                f"{strict!r} is not of type 'boolean'",
            )
    return fields
