"""Which trials bayes learns from, and with what value (W&B's rules, WANDB-COMPAT.md 8.3).

The *observation table* is what the surrogate model is trained on: one value per trial, in the
metric's own units (not negated for ``maximize``), plus the trials that are still in flight and
only hold their point (the model fantasises a value there so parallel suggestions spread out).

Notation: for a trial ``t``, ``best(t)`` is the best finite numeric value of the metric over its
history rows and its summary (min to minimize, max to maximize); NaN, infinities, strings and
booleans are ignored. ``worst`` is the worst single finite value logged by any terminal trial
(``finished``, ``stopped``, ``failed``, ``timed_out``), or ``0.0`` when there is none.

=============================  ==================================================================
trial state (W&B state)        value in the table
=============================  ==================================================================
``finished``, ``stopped``      ``best(t)``; with none, imputed by ``metric.impute``: ``worst`` ->
                               worst, ``best`` -> ``0.0``, ``latest`` -> last finite history
                               value, else ``0.0``
``failed``, ``timed_out``      always imputed (even when it logged values): ``worst`` -> worst,
(failed, crashed, killed)      ``best`` -> ``best(t)`` or ``0.0``, ``latest`` -> last finite
                               history value (summary ignored) or ``0.0``
``running``                    in flight; when ``metric.impute_while_running`` is not ``false``
                               it is an observation instead: ``best(t)``, else imputed with that
                               strategy
``cancelled``                  in flight (a resume runs it again at the same point)
=============================  ==================================================================

A NaN or infinite objective (BR-06) is therefore never compared with anything: it is left out of
``best(t)``, and a trial with no finite value at all gets the imputed value (``worst`` by
default). A metric that was never logged (BR-09) is imputed the same way.

Note:
    The ``0.0`` fallback of ``best``/``latest`` is W&B's: for a loss it makes an empty crashed
    trial look perfect. It is kept because configs written for W&B rely on the same flag
    meaning the same thing; use ``impute: worst`` (the default) to avoid it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sweepcore.config.model import MetricSpec, SweepConfig
from sweepcore.trial import (
    Trial,
    TrialState,
    best_metric_value,
    finite_metric_values,
    last_metric_value,
)

__all__ = ["Observation", "ObservationTable", "observation_table"]

_OBSERVED_TERMINAL = (TrialState.FINISHED, TrialState.STOPPED)


@dataclass(frozen=True)
class Observation:
    """One trial the model learns from.

    Attributes:
        trial_id: The trial.
        params: Its parameter values, nested as in the config.
        value: The objective in metric units (higher is better under ``maximize``).
        source: How ``value`` was found: ``best`` (its best logged value) or ``imputed:<rule>``.
    """

    trial_id: str
    params: Mapping[str, Any]
    value: float
    source: str


@dataclass(frozen=True)
class ObservationTable:
    """What the surrogate model sees.

    Attributes:
        observations: Trials with a value, in history order.
        in_flight: Trials that only hold their point (no value), in history order.
        worst: The ``worst`` value used for imputation, in metric units.
        goal: ``minimize`` or ``maximize``.
    """

    observations: tuple[Observation, ...]
    in_flight: tuple[Trial, ...]
    worst: float
    goal: str

    @property
    def values(self) -> dict[str, float]:
        """Trial id to observed value, in metric units."""
        return {o.trial_id: o.value for o in self.observations}

    @property
    def in_flight_ids(self) -> list[str]:
        """Ids of the in-flight trials, in history order."""
        return [t.trial_id for t in self.in_flight]

    def minimisation_values(self) -> list[float]:
        """The observed values as a loss (negated under ``maximize``), observation order."""
        sign = -1.0 if self.goal == "maximize" else 1.0
        return [sign * o.value for o in self.observations]


def observation_table(config: SweepConfig, history: Sequence[Trial]) -> ObservationTable:
    """Sort a sweep's trials into observations and in-flight points (rules: module docstring).

    Args:
        config: A validated bayes config (it has a ``metric``).
        history: Every trial of the sweep, in index order.

    Returns:
        The table; a history with no usable trial gives empty observations.

    Raises:
        ValueError: The config has no ``metric``.
    """
    metric = config.metric
    if metric is None:
        raise ValueError("metric: bayes search needs metric: {name: ..., goal: ...}")

    worst = _worst_value(metric, history)
    observations: list[Observation] = []
    in_flight: list[Trial] = []
    for trial in history:
        entry = _observe(metric, trial, worst)
        if entry is None:
            in_flight.append(trial)
        else:
            value, source = entry
            if not math.isfinite(value):  # an imputation that found nothing usable
                value, source = worst, "imputed:worst"
            observations.append(Observation(trial.trial_id, trial.params, value, source))
    return ObservationTable(tuple(observations), tuple(in_flight), worst, metric.goal)


def _observe(metric: MetricSpec, trial: Trial, worst: float) -> tuple[float, str] | None:
    """The trial's value and its source, or ``None`` when it is in flight."""
    best = best_metric_value(trial, metric.name, metric.goal)
    if trial.state in _OBSERVED_TERMINAL:
        if best is not None:
            return best, "best"
        return _impute_missing(metric, metric.impute, trial, worst)
    if trial.state.is_failure:
        if metric.impute == "best":
            return (best, "imputed:best") if best is not None else (0.0, "imputed:best")
        return _impute_missing(metric, metric.impute, trial, worst)
    if trial.state == TrialState.RUNNING and metric.impute_while_running != "false":
        if best is not None:
            return best, "best"
        return _impute_missing(metric, metric.impute_while_running, trial, worst)
    return None


def _impute_missing(
    metric: MetricSpec, rule: str, trial: Trial, worst: float
) -> tuple[float, str]:
    """Impute by ``rule`` for a trial whose own best value is not used."""
    if rule == "worst":
        return worst, "imputed:worst"
    if rule == "latest":
        last = last_metric_value(trial, metric.name)
        return (last if last is not None else 0.0), "imputed:latest"
    # ``best`` with no finite value of its own: W&B's 0.0 fallback (see the module Note).
    return 0.0, f"imputed:{rule}"


def _worst_value(metric: MetricSpec, history: Sequence[Trial]) -> float:
    """Worst single finite value over terminal trials, or 0.0 (W&B's fallback)."""
    worst: float | None = None
    for trial in history:
        if not trial.state.is_terminal:
            continue
        values = finite_metric_values(trial, metric.name)
        if not values:
            continue
        own = min(values) if metric.goal == "maximize" else max(values)
        if worst is None or metric.is_better(worst, own):
            worst = own
    return 0.0 if worst is None else worst
