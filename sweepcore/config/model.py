"""Typed records of a validated sweep config.

A :class:`SweepConfig` is built only by :func:`sweepcore.config.load_config`, which validates the
W&B-format YAML or dict first; algorithms trust these records and never re-check them.

Parameters are kept as a flat tuple of :class:`Parameter` leaves in W&B's canonical order: the
names of each nesting level are sorted by codepoint and visited depth first. A leaf's ``path`` is
its key path, so a nested leaf ``optim: {parameters: {lr: ...}}`` has path ``("optim", "lr")``
and the trainer receives ``{"optim": {"lr": ...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "DISTRIBUTIONS",
    "Goal",
    "HyperbandSpec",
    "Method",
    "MetricSpec",
    "Parameter",
    "SweepConfig",
]

Method = Literal["grid", "random", "bayes"]
Goal = Literal["minimize", "maximize"]

#: Every distribution name W&B accepts, in the order of WANDB-COMPAT.md section 3.2.
DISTRIBUTIONS: tuple[str, ...] = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
    "q_log_uniform",
    "q_log_uniform_values",
    "inv_log_uniform",
    "inv_log_uniform_values",
    "normal",
    "q_normal",
    "log_normal",
    "q_log_normal",
    "beta",
    "q_beta",
)


@dataclass(frozen=True)
class Parameter:
    """One searchable (or constant) leaf of the parameter tree, with its defaults filled.

    Attributes:
        path: Key path from the top of ``parameters``; ``("optim", "lr")`` for a nested leaf.
        distribution: One of :data:`DISTRIBUTIONS`.
        value: The value of a ``constant``.
        values: The choices of a ``categorical``, in written order.
        probabilities: Optional weights of the ``values`` (random search only).
        min: Lower bound (natural-log exponent for the deprecated ``log_uniform`` family).
        max: Upper bound, same units as ``min``.
        q: Quantisation step of the ``q_*`` distributions; an ``int`` literal gives int output.
        mu: Mean of the normal family.
        sigma: Standard deviation of the normal family.
        a: First shape parameter of the beta family.
        b: Second shape parameter of the beta family.
    """

    path: tuple[str, ...]
    distribution: str
    value: Any = None
    values: tuple[Any, ...] | None = None
    probabilities: tuple[float, ...] | None = None
    min: float | None = None
    max: float | None = None
    q: float | None = None
    mu: float | None = None
    sigma: float | None = None
    a: float | None = None
    b: float | None = None

    @property
    def name(self) -> str:
        """Dotted name used in result columns, e.g. ``optim.lr``."""
        return ".".join(self.path)

    @property
    def is_constant(self) -> bool:
        """Whether the leaf never varies (a ``constant``)."""
        return self.distribution == "constant"

    @property
    def varies(self) -> bool:
        """Whether the leaf can take two or more distinct values.

        A constant cannot, nor can a ``values`` list whose items are all the same value as W&B's
        grid sees it (:func:`sweepcore.space.canonical_key`): ``[3]``, ``["a", "a"]`` and
        ``[2, 2.0]`` each hold one value, while ``[1, True]`` and ``[1, "1"]`` hold two. Nor
        can a normal-family leaf with ``sigma: 0`` (W&B accepts it; every draw is ``mu``).
        """
        # Imported here: sweepcore.space imports this module for Parameter, so a module-level
        # import would be circular.
        from sweepcore.space import canonical_key

        if self.is_constant or self.sigma == 0:
            return False
        return self.values is None or len({canonical_key(v) for v in self.values}) > 1

    def to_spec(self) -> dict[str, Any]:
        """The filled W&B spec of this leaf, as W&B's fill step would write it."""
        spec: dict[str, Any] = {"distribution": self.distribution}
        if self.distribution == "constant":
            spec["value"] = self.value
        if self.values is not None:
            spec["values"] = list(self.values)
        if self.probabilities is not None:
            spec["probabilities"] = list(self.probabilities)
        for key in ("min", "max", "q", "mu", "sigma", "a", "b"):
            val = getattr(self, key)
            if val is not None:
                spec[key] = val
        return spec


@dataclass(frozen=True)
class MetricSpec:
    """The ``metric`` section.

    Attributes:
        name: Key the trainer logs.
        goal: ``minimize`` (W&B's default) or ``maximize``.
        target: Once any trial logs a value reaching it, no new trial starts.
        impute: Value bayes gives failed trials: ``worst``, ``best`` or ``latest``.
        impute_while_running: ``false`` (W&B's string default), ``latest``, ``best`` or
            ``worst``.
    """

    name: str
    goal: Goal = "minimize"
    target: float | None = None
    impute: str = "worst"
    impute_while_running: str = "false"

    def is_better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b`` for this goal."""
        return a > b if self.goal == "maximize" else a < b

    def reaches_target(self, value: float) -> bool:
        """Whether ``value`` reaches ``target`` (``<=`` to minimize, ``>=`` to maximize)."""
        if self.target is None:
            return False
        return value >= self.target if self.goal == "maximize" else value <= self.target


@dataclass(frozen=True)
class HyperbandSpec:
    """The ``early_terminate`` section (``type: hyperband``), defaults filled.

    Attributes:
        min_iter: First band, when ``max_iter`` is not given.
        max_iter: Largest band; with ``s`` it defines the bands and wins over ``min_iter``.
        s: Number of times ``max_iter`` is divided by ``eta``.
        eta: Reduction factor (> 1), default 3.
        strict: Compare the value at the band (``True``, W&B's schema default) or the best
            value so far.
    """

    min_iter: int | None = None
    max_iter: int | None = None
    s: int | None = None
    eta: float = 3
    strict: bool = True
    type: str = "hyperband"


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config.

    Attributes:
        method: ``grid``, ``random`` or ``bayes``.
        parameters: Leaves in canonical order (sorted names, depth first).
        metric: The metric section, or ``None`` when the config has none.
        early_terminate: The hyperband section, or ``None``.
        run_cap: Most trials the sweep may count (see ``sweepcore.budget``).
        program: Script run by the default ``command``.
        command: The command template; ``None`` means W&B's default.
        name: Display name.
        description: Free text.
        raw: The config exactly as given, kept so the store can save what the user wrote.
    """

    method: Method
    parameters: tuple[Parameter, ...]
    metric: MetricSpec | None = None
    early_terminate: HyperbandSpec | None = None
    run_cap: int | None = None
    program: str | None = None
    command: tuple[Any, ...] | None = None
    name: str | None = None
    description: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def searchable(self) -> tuple[Parameter, ...]:
        """The leaves that vary (every distribution but ``constant``)."""
        return tuple(p for p in self.parameters if not p.is_constant)

    def filled_parameters(self) -> dict[str, Any]:
        """The parameter tree with every leaf's defaults filled, nested as written."""
        tree: dict[str, Any] = {}
        for param in self.parameters:
            node = tree
            for key in param.path[:-1]:
                node = node.setdefault(key, {"parameters": {}})["parameters"]
            node[param.path[-1]] = param.to_spec()
        return tree
