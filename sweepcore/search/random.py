"""Random search: every parameter drawn independently from its distribution.

W&B's rules (WANDB-COMPAT.md section 5): no de-duplication, no memory of earlier trials and no
end; the sweep stops only through ``run_cap``, ``metric.target`` or the user.

Trial ``i`` of a sweep seeded with ``seed`` draws from ``rng_for_index(seed, i)``, so the points
do not depend on how many are asked for at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sweepcore.config.model import SweepConfig
from sweepcore.search.base import Suggestions, rng_for_index
from sweepcore.space import nest, sample
from sweepcore.trial import Trial

__all__ = ["RandomSearcher"]

logger = logging.getLogger(__name__)


class RandomSearcher:
    """Suggests points drawn at random, each parameter independently.

    Example:
        >>> from sweepcore.config.model import Parameter, SweepConfig
        >>> config = SweepConfig(
        ...     method="random", parameters=(Parameter(("k",), "int_uniform", min=1, max=4),)
        ... )
        >>> points = RandomSearcher().suggest(config, [], n=3, seed=7).points
        >>> len(points), all(1 <= p["k"] <= 4 for p in points)
        (3, True)
    """

    def suggest(
        self, config: SweepConfig, history: Sequence[Trial], n: int, seed: int
    ) -> Suggestions:
        """Draw ``n`` new points.

        Args:
            config: A validated config.
            history: Every trial of the sweep; only its length is used (it gives the index of
                the next trial, which seeds its draws).
            n: How many points are wanted, at least 1.
            seed: The sweep's seed.

        Returns:
            ``n`` nested parameter dicts (constants copied in); never exhausted.

        Raises:
            ValueError: ``n < 1``.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1; got {n}")

        points = []
        for index in range(len(history), len(history) + n):
            rng = rng_for_index(seed, index)
            point = nest((p.path, sample(p, rng)) for p in config.parameters)
            logger.info("random: trial %d suggested %s", index, point)
            points.append(point)
        return Suggestions(points=points, is_exhausted=False)
