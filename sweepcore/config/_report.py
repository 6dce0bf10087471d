"""The collector that config checks write their problems and warnings into.

Every check appends to one :class:`Report` instead of raising, so the loader can raise a single
:class:`~sweepcore.config.errors.SweepConfigError` that lists everything wrong at once.

Message convention: a message starts with the dotted key path, then says in our words what is
wrong, what is allowed, the value received and the fix. When W&B words the same problem
differently, its wording follows at the end in ``[W&B: ...]`` so users who search for W&B's
message still find it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from sweepcore.config.errors import ConfigProblem

__all__ = [
    "ParamSite",
    "Report",
    "describe",
    "is_finite_number",
    "is_int",
    "is_number",
    "short_repr",
]

_MAX_REPR = 120


@dataclass
class Report:
    """Problems and warnings gathered while one config is checked.

    Attributes:
        problems: Problems in the order they were found.
        warnings: Warning texts, each starting with its key path.
    """

    problems: list[ConfigProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def problem(self, path: str, kind: str, text: str, *, wandb: str | None = None) -> None:
        """Record a problem at ``path`` (dotted) of category ``kind``.

        Args:
            path: Dotted key path, empty for the whole config.
            kind: Category from the conformance README's ``error_kind`` taxonomy.
            text: What is wrong, what is allowed, the value received and the fix.
            wandb: W&B's wording of the same problem, appended unless ``text`` holds it.
        """
        message = f"{path}: {text}" if path else text
        if wandb and wandb not in message:
            message += f" [W&B: {wandb}]"
        self.problems.append(ConfigProblem(path=path, message=message, kind=kind))

    def warn(self, path: str, text: str) -> None:
        """Record a warning about something the user can fix but that does not block the sweep."""
        self.warnings.append(f"{path}: {text}" if path else text)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a JSON number: an int or float, never a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_int(value: Any) -> bool:
    """Whether ``value`` is an int literal (a bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """Whether ``value`` is a number that converts to a finite float (huge ints do not)."""
    if not is_number(value):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def short_repr(value: Any) -> str:
    """``repr(value)``, cut to a readable length for long lists and dicts."""
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def describe(value: Any) -> str:
    """The value as received, with its type when the type is the likely mistake.

    Example:
        ``describe(True)`` gives ``True (a boolean)``; ``describe("1e-5")`` gives
        ``'1e-5' (a string)``.
    """
    if isinstance(value, bool):
        return f"{value!r} (a boolean)"
    if isinstance(value, str):
        return f"{short_repr(value)} (a string)"
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return f"{short_repr(value)} (a list)"
    if isinstance(value, dict):
        return f"{short_repr(value)} (a mapping)"
    return short_repr(value)


@dataclass(frozen=True)
class ParamSite:
    """One parameter spec being checked: where it sits and what was written there.

    Attributes:
        path: Key path from the top of ``parameters``, e.g. ``("optim", "lr")``.
        spec: The spec as written.
        report: Receives the problems and warnings about it.
    """

    path: tuple[str, ...]
    spec: Any
    report: Report

    @property
    def name(self) -> str:
        """Dotted name, e.g. ``optim.lr``."""
        return ".".join(self.path)

    @property
    def key(self) -> str:
        """Dotted key path used in messages, e.g. ``parameters.optim.lr``."""
        return f"parameters.{self.name}"

    def invalid(self, text: str, *, wandb_detail: str | None = None) -> None:
        """Report a spec that matches none of W&B's forms (``invalid_parameter_spec``).

        Args:
            text: Our message, without the key path.
            wandb_detail: W&B's specific wording of the failed rule, when it has one.
        """
        wandb = (
            f"{short_repr(self.spec)} is not valid under any of the given schemas; "
            f"invalid hyperparameter configuration: {self.name}"
        )
        if wandb_detail:
            wandb = f"{wandb_detail}; {wandb}"
        self.report.problem(self.key, "invalid_parameter_spec", text, wandb=wandb)
