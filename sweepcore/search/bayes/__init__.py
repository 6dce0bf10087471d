"""Bayesian search: a Gaussian-process surrogate with log expected improvement.

The numerics (:mod:`~sweepcore.search.bayes.gp`, :mod:`~sweepcore.search.bayes.acquisition`)
are kept apart from the adaptor that turns a sweep's history into suggestions
(:mod:`~sweepcore.search.bayes.space`, :mod:`~sweepcore.search.bayes.observations`,
:mod:`~sweepcore.search.bayes.searcher`).
"""

from sweepcore.search.bayes.observations import Observation, ObservationTable, observation_table
from sweepcore.search.bayes.searcher import BayesSearcher
from sweepcore.search.bayes.space import EncodedSpace

__all__ = ["BayesSearcher", "EncodedSpace", "Observation", "ObservationTable", "observation_table"]
