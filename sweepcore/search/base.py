"""The one interface every search method implements.

Search is stateless: the config, the full trial history and the sweep's seed go in; new points
come out. Persisted history is therefore enough to resume a sweep, and the same history and seed
always give the same suggestions.

Seeding is per trial index, not per call: the ``j``-th point of a request is the trial with index
``len(history) + j`` and methods that draw at random use ``numpy.random.default_rng([seed,
index])`` for it. A sweep thus suggests the same points whether it asks for one point at a time
or eight, so results do not depend on the parallelism.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sweepcore.config.model import SweepConfig
from sweepcore.trial import Trial

__all__ = ["SearchMethod", "Suggestions", "rng_for_index"]


@dataclass(frozen=True)
class Suggestions:
    """What a search method returns.

    Attributes:
        points: New parameter dicts, nested as in the config; at most the number asked for.
        is_exhausted: ``True`` when the method has nothing more to suggest after ``points``
            (a grid whose every point is taken). Random and bayes never exhaust.
        info: Optional per-point diagnostics (e.g. bayes' predicted value), same length as
            ``points`` or empty.
    """

    points: list[dict[str, Any]]
    is_exhausted: bool = False
    info: list[dict[str, Any]] = field(default_factory=list)


class SearchMethod(Protocol):
    """A search algorithm: history in, suggestions out."""

    def suggest(
        self, config: SweepConfig, history: Sequence[Trial], n: int, seed: int
    ) -> Suggestions:
        """Suggest up to ``n`` new points.

        Args:
            config: The validated sweep config.
            history: Every trial of the sweep in any state, in index order, in-flight ones
                included.
            n: How many points are wanted (free parallel slots), ``n >= 1``.
            seed: The sweep's seed.

        Returns:
            The points and whether the method is exhausted.
        """
        ...


def rng_for_index(seed: int, index: int) -> Any:
    """The generator for the draws of trial ``index`` in a sweep seeded with ``seed``."""
    import numpy as np

    return np.random.default_rng([seed, index])
