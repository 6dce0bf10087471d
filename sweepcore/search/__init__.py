"""Search methods: grid, random and bayes, behind one stateless interface."""

from sweepcore.search.base import SearchMethod, Suggestions, rng_for_index
from sweepcore.search.grid import GridSearcher
from sweepcore.search.random import RandomSearcher

__all__ = [
    "GridSearcher",
    "RandomSearcher",
    "SearchMethod",
    "Suggestions",
    "get_searcher",
    "rng_for_index",
]


def get_searcher(method: str) -> SearchMethod:
    """The search method named by a config's ``method``."""
    if method == "grid":
        return GridSearcher()
    if method == "random":
        return RandomSearcher()
    if method == "bayes":
        from sweepcore.search.bayes import BayesSearcher

        searcher: SearchMethod = BayesSearcher()
        return searcher
    raise ValueError(f"method: {method!r} is not a known method; choose bayes, grid or random")
