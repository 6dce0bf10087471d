"""Validating a whole sweep config (already parsed into a mapping) into a :class:`SweepConfig`.

Checks follow WANDB-COMPAT.md sections 2, 2.1, 3.4 and 9, gathered into one list rather than
raised one by one. Where W&B only fails at search or stop time (bayes without a metric, grid with
a continuous parameter, hyperband with no bands, probabilities under bayes), we refuse at load
time, before any trial could start. Keys W&B offers for features we do not have (``method:
custom``, ``scheduler``, ``metrics``, ``job``, ``image_uri``) are refused with the alternative.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sweepcore.config._report import Report, describe, is_finite_number, is_int
from sweepcore.config.errors import ConfigProblem
from sweepcore.config.model import Method, SweepConfig
from sweepcore.config.params import check_parameters
from sweepcore.config.sections import check_early_terminate, check_metric

__all__ = ["METHODS", "Validation", "validate_config"]

METHODS = ("bayes", "random", "grid")
_OWN_KEYS = (
    "method",
    "parameters",
    "metric",
    "early_terminate",
    "run_cap",
    "program",
    "command",
    "name",
    "description",
)
_IGNORED_WITH_WARNING = ("project", "entity")
_IGNORED = ("controller", "apiVersion", "kind")
_W_AND_B_ONLY = (*_IGNORED_WITH_WARNING, *_IGNORED)
_UNSUPPORTED = {
    "scheduler": "prefect-sweeps does not support `scheduler` (W&B's hook for Optuna or Ax "
    "engines); remove it and use method: bayes, random or grid, which run natively.",
    "metrics": "prefect-sweeps does not support multi-objective `metrics`; optimise one "
    "`metric: {name, goal}` (log a combined objective if you need several).",
    "job": "prefect-sweeps does not run W&B Launch jobs; say what to run with `program` and "
    "`command`, and pick the infrastructure in the Prefect deployment.",
    "image_uri": "prefect-sweeps does not run W&B Launch images; say what to run with `program` "
    "and `command`, and set the image in the Prefect deployment's work pool.",
}


@dataclass(frozen=True)
class Validation:
    """What :func:`validate_config` found.

    Attributes:
        config: The validated config, or ``None`` when there are problems.
        problems: Every problem, in the order found.
        warnings: Texts of fixable issues that do not block the sweep.
    """

    config: SweepConfig | None
    problems: tuple[ConfigProblem, ...]
    warnings: tuple[str, ...]


def validate_config(raw: Mapping[str, Any]) -> Validation:
    """Check every part of ``raw`` and build the :class:`SweepConfig` when nothing is wrong.

    Args:
        raw: The config as parsed from YAML or JSON, or given as a dict.

    Returns:
        The config (or ``None``), all problems and all warnings.
    """
    report = Report()
    _check_top_keys(raw, report)

    method = _check_method(raw, report)
    parameters: tuple[Any, ...] = ()
    n_before = len(report.problems)
    if "parameters" in raw:
        parameters = check_parameters(raw["parameters"], report, method=method)
    else:
        text = "`parameters` is required: add a mapping of names to specs, e.g. "
        text += "{lr: {values: [0.1, 0.01]}}."
        report.problem("parameters", "missing_parameters", text)
    is_space_valid = "parameters" in raw and len(report.problems) == n_before
    metric = check_metric(raw["metric"], report) if "metric" in raw else None
    hyperband = None
    if "early_terminate" in raw:
        hyperband = check_early_terminate(raw["early_terminate"], report, "metric" in raw)
        # Validated so that a W&B config loads unchanged, but the stopping rule that would act
        # on it is not built yet; saying so keeps users from counting on trials being ended.
        report.warn(
            "early_terminate",
            "accepted and checked, but not acted on yet: hyperband ends no trial early; each "
            "runs until its trainer returns or --trial-timeout ends it.",
        )
    run_cap = _check_run_cap(raw["run_cap"], report) if "run_cap" in raw else None
    _check_scalars(raw, report)
    _check_method_needs(raw, report, method, parameters if is_space_valid else None)

    config = None
    if not report.problems:
        assert method in METHODS
        command = raw.get("command")
        config = SweepConfig(
            method=cast(Method, method),
            parameters=parameters,
            metric=metric,
            early_terminate=hyperband,
            run_cap=run_cap,
            program=raw.get("program"),
            command=tuple(command) if command is not None else None,
            name=raw.get("name"),
            description=raw.get("description"),
            raw=raw,
        )
    return Validation(config, tuple(report.problems), tuple(report.warnings))


def _check_top_keys(raw: Mapping[str, Any], report: Report) -> None:
    known = (*_OWN_KEYS, *_IGNORED_WITH_WARNING, *_IGNORED)
    for key in raw:
        if key in _UNSUPPORTED:
            report.problem(str(key), "unknown_top_level_key", _UNSUPPORTED[key])
        elif key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            report.problem(
                str(key),
                "unknown_top_level_key",
                f"{key!r} is not a sweep config key; the keys are {', '.join(_OWN_KEYS)} "
                f"(and, accepted for W&B compatibility, {', '.join(_W_AND_B_ONLY)}).{hint}",
                wandb=f"Additional properties are not allowed ({key!r} was unexpected)",
            )
    ignored = [k for k in _IGNORED_WITH_WARNING if k in raw]
    if ignored:
        report.warn(
            ", ".join(ignored),
            "accepted for W&B compatibility and ignored: prefect-sweeps has no W&B project or "
            "entity; trials and results go to the store the sweep is deployed with.",
        )


def _check_method(raw: Mapping[str, Any], report: Report) -> str | None:
    if "method" not in raw:
        report.problem(
            "method",
            "missing_method",
            "`method` is required; choose one of bayes, grid, random.",
            wandb="'method' is a required property",
        )
        return None
    method = raw["method"]
    if method == "custom":
        report.problem(
            "method",
            "invalid_method",
            "prefect-sweeps does not support method: custom (W&B runs it through an external "
            "Optuna or Ax scheduler); use method: bayes, random or grid.",
        )
        return None
    if method not in METHODS:
        close = difflib.get_close_matches(str(method), METHODS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        report.problem(
            "method",
            "invalid_method",
            f"{method!r} is not a known method; choose one of bayes, grid, random.{hint}",
            wandb=f"{method!r} is not one of {list(METHODS)!r}",
        )
        return None
    return str(method)


def _check_run_cap(value: Any, report: Report) -> int | None:
    if is_int(value) and value > 0:
        return int(value)
    if is_int(value):
        wandb, fix = f"{value} is less than or equal to the minimum of 0", " Remove it for no cap."
    else:
        wandb = f"{value!r} is not of type 'integer'"
        quoted_int = isinstance(value, str) and value.strip().lstrip("+-").isdigit()
        fix = " Remove the quotes." if quoted_int else ""
        if is_finite_number(value):
            fix = f" Write a whole number such as {max(1, int(value))}."
    report.problem(
        "run_cap",
        "invalid_run_cap",
        "must be a positive integer (the most trials the sweep may count); "
        f"got {describe(value)}.{fix}",
        wandb=wandb,
    )
    return None


def _check_scalars(raw: Mapping[str, Any], report: Report) -> None:
    for key in ("program", "name", "description", "project", "entity", "apiVersion"):
        if key in raw and not isinstance(raw[key], str):
            got = raw[key]
            report.problem(
                key,
                "invalid_type",
                f"must be a string; got {describe(got)}.",
                wandb=f"{got!r} is not of type 'string'",
            )
    if "command" in raw:
        command = raw["command"]
        if not isinstance(command, list | tuple) or not command:
            report.problem(
                "command",
                "invalid_type",
                "must be a non-empty list of arguments, e.g. "
                f"[${{env}}, ${{interpreter}}, ${{program}}, ${{args}}]; got {describe(command)}.",
            )
        elif any(not isinstance(a, str | int | float) or isinstance(a, bool) for a in command):
            report.problem(
                "command",
                "invalid_type",
                f"each argument must be a string or a number; got {describe(command)}.",
            )
    if "kind" in raw and raw["kind"] != "sweep":
        report.problem(
            "kind",
            "invalid_type",
            f"must be sweep when given; got {describe(raw['kind'])}.",
            wandb=f"{raw['kind']!r} is not one of ['sweep']",
        )
    if "controller" in raw:
        controller = raw["controller"]
        if not isinstance(controller, Mapping) or controller.get("type") not in ("local", "cloud"):
            report.problem(
                "controller",
                "invalid_type",
                "must be {type: local} or {type: cloud} when given (it is ignored: the Prefect "
                f"flow is always the controller); got {describe(controller)}.",
            )


def _check_method_needs(
    raw: Mapping[str, Any], report: Report, method: str | None, parameters: tuple[Any, ...] | None
) -> None:
    """Refuse now what W&B only refuses when searching; ``parameters`` is ``None`` if invalid."""
    if method != "bayes":
        return
    if "metric" not in raw:
        report.problem(
            "metric",
            "bayes_requires_metric",
            "bayes search models the metric, so it needs metric: {name: ..., goal: ...}.",
            wandb='Bayesian search requires "metric" section',
        )
    if parameters and not any(p.varies for p in parameters):
        # A one-item values list is searchable in form only: bayes would repeat that one
        # point forever (it never exhausts), so it is refused like a constant.
        names = ", ".join(".".join(p.path) for p in parameters)
        report.problem(
            "parameters",
            "invalid_parameter_spec",
            f"bayes search needs at least one parameter that varies, but each of {names} holds "
            "one value: a constant, a values list whose items are all one value (2 and 2.0 "
            "are one value), or a normal-family distribution with sigma: 0. Give one several "
            "values, min/max or a distribution with a spread, or use "
            "method: grid to run the single point.",
            wandb="Need at least one searchable parameter for bayes search.",
        )
