"""The one error a bad sweep config raises, listing every problem found."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConfigProblem", "SweepConfigError"]


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a config.

    Attributes:
        path: Dotted key path, e.g. ``parameters.optim.lr`` (empty for the whole config).
        message: What is wrong, what is allowed and the value received, plus a fix when one is
            obvious. It starts with the key path so it reads well on its own.
        kind: A short machine-readable category, e.g. ``min_not_less_than_max``.
    """

    path: str
    message: str
    kind: str = "invalid"

    def __str__(self) -> str:
        return self.message


class SweepConfigError(ValueError):
    """Raised by :func:`sweepcore.config.load_config` with every problem of a config at once.

    Attributes:
        problems: The problems, in the order they were found.
    """

    def __init__(self, problems: list[ConfigProblem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"{len(self.problems)} problem(s) with the sweep config{where}:"]
        lines += [f"  - {p.message}" for p in self.problems]
        super().__init__("\n".join(lines))
