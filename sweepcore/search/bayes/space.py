"""The search space as the unit cube the surrogate model works in, and back.

Every searchable leaf of the config owns one or more columns of the encoded matrix ``X`` (shape
``(n_points, n_columns)``, values in ``[0, 1]``):

* a numeric leaf (uniform, log, normal and beta families, integers, ``q_*``) owns one column,
  its :func:`sweepcore.space.to_unit` position: linear in the modelling space (so log-scaled
  parameters are modelled in log space), the CDF for normal and beta families, the centre of the
  integer's slice for ``int_uniform``. Positions of unbounded families are clipped to
  ``[0.001, 0.999]``, so the model searches within 3.09 sigma of ``mu``;
* a categorical leaf with ``k`` distinct values owns ``k`` one-hot columns (an ordinal code
  would invent an order and a distance between the choices); a candidate decodes to its
  largest column; values that are the same for grid (``2`` and ``2.0``) share one column;
* constants own no column and are copied into every point.

Decoding rounds integers and ``q_*`` values, so every suggestion has the type and support
:func:`sweepcore.space.sample` gives (a Python ``int`` where W&B gives one). :meth:`EncodedSpace.
snap` maps a candidate onto the position of its decoded value, so a candidate and the point it
stands for get the same model prediction.

Trial values that do not fit (a categorical value not in ``values``, a number outside the
bounds after a config edit) never raise: an unknown choice encodes as all-zero columns and a
number is clipped to the nearest end. A missing leaf, a non-number or NaN for a numeric leaf
makes the trial unplaceable (:meth:`EncodedSpace.encode` returns ``None``) and the model leaves
it out.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sweepcore.config.model import Parameter
from sweepcore.space import (
    MISSING,
    canonical_key,
    from_unit,
    get_path,
    grid_values,
    nest,
    to_unit,
)

__all__ = ["EncodedSpace"]

#: How far unbounded families stay from the ends of the unit interval. Early on, expected
#: improvement often peaks on the edge of the box, and a normal leaf's edge at 1e-6 was 4.75
#: sigma out, a value its distribution gives once in a million draws; 0.001 keeps its edge
#: where a random draw lands once in 500 (a trial beyond is still placed, on the edge).
_U_EPS = 1e-3
_UNBOUNDED = frozenset({"normal", "q_normal", "log_normal", "q_log_normal"})
#: Most points a finite space may hold for :meth:`EncodedSpace.enumerate` to list them.
MAX_ENUMERATED = 20_000


@dataclass(frozen=True)
class _Block:
    """The columns ``start:stop`` of one searchable leaf."""

    param: Parameter
    start: int
    stop: int
    keys: tuple[Hashable, ...] = ()
    choices: tuple[Any, ...] = ()

    @property
    def is_categorical(self) -> bool:
        return self.param.distribution == "categorical"


class EncodedSpace:
    """Maps parameter dicts to rows of the unit cube and candidates back to parameter dicts.

    Args:
        parameters: Every leaf of a validated config, constants included, canonical order.
    """

    def __init__(self, parameters: Sequence[Parameter]) -> None:
        self.parameters = tuple(parameters)
        blocks: list[_Block] = []
        start = 0
        for param in self.parameters:
            if param.is_constant or _is_fixed(param):
                continue
            if param.distribution == "categorical":
                # One column per distinct value, as grid lists them: a value listed twice
                # (``[2, 2.0, 3]``) is one choice, or its second column would never be marked
                # tried. (bayes refuses ``probabilities``, the one case grid_values refuses.)
                choices = tuple(grid_values(param))
                keys = tuple(canonical_key(v) for v in choices)
                blocks.append(_Block(param, start, start + len(keys), keys, choices))
                start += len(keys)
            else:
                blocks.append(_Block(param, start, start + 1))
                start += 1
        self._blocks = tuple(blocks)
        self.n_columns = start
        numeric = [b.start for b in blocks if not b.is_categorical]
        #: Column index of every numeric leaf, in block order.
        self.numeric_columns = np.asarray(numeric, dtype=int)
        #: ``(start, stop)`` of every categorical leaf's one-hot columns.
        self.categorical_blocks = tuple((b.start, b.stop) for b in blocks if b.is_categorical)
        self._int_blocks = tuple(b for b in blocks if b.param.distribution == "int_uniform")
        self._q_blocks = tuple(b for b in blocks if b.param.distribution.startswith("q_"))

    def value_name(self, column: int) -> str:
        """``name=value`` of the categorical value that owns one-hot ``column``."""
        for block in self._blocks:
            if block.is_categorical and block.start <= column < block.stop:
                return f"{block.param.name}={block.choices[column - block.start]!r}"
        raise ValueError(f"column {column} is not a categorical value's")

    # -- encoding -------------------------------------------------------------------------

    def encode(self, params: Mapping[str, Any]) -> np.ndarray | None:
        """The row of one parameter dict (shape ``(n_columns,)``), or ``None`` if unplaceable."""
        row = np.zeros(self.n_columns)
        for block in self._blocks:
            value = get_path(params, block.param.path)
            if value is MISSING:
                return None
            if block.is_categorical:
                key = canonical_key(value)
                if key in block.keys:
                    row[block.start + block.keys.index(key)] = 1.0
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            if math.isnan(value):
                return None
            row[block.start] = self._clip(block, to_unit(block.param, value))
        return row

    def decode(self, row: np.ndarray) -> dict[str, Any]:
        """The nested parameter dict of one row (constants copied in)."""
        values: dict[tuple[str, ...], Any] = {}
        for block in self._blocks:
            if block.is_categorical:
                index = int(np.argmax(row[block.start : block.stop]))
                values[block.param.path] = copy.deepcopy(block.choices[index])
            else:
                u = self._clip(block, float(row[block.start]))
                values[block.param.path] = from_unit(block.param, u)
        items = []
        for param in self.parameters:
            if param.is_constant:
                items.append((param.path, copy.deepcopy(param.value)))
            elif _is_fixed(param):
                items.append((param.path, from_unit(param, 0.5)))
            else:
                items.append((param.path, values[param.path]))
        return nest(items)

    def snap(self, X: np.ndarray, exact_q: bool = True) -> np.ndarray:
        """Each row moved to the position of the value it decodes to (shape kept).

        Args:
            X: Encoded rows, shape ``(m, n_columns)``.
            exact_q: Also snap ``q_*`` leaves. They go through a decode and encode per value,
                so pass ``False`` for thousands of candidates and snap the finalists only.

        Returns:
            A new array; categoricals one-hot, integers at the centre of their slice.
        """
        X = np.array(X, dtype=float, copy=True)
        X[:, self.numeric_columns] = np.clip(X[:, self.numeric_columns], 0.0, 1.0)
        for start, stop in self.categorical_blocks:
            hot = np.argmax(X[:, start:stop], axis=1)
            X[:, start:stop] = 0.0
            X[np.arange(len(X)), start + hot] = 1.0
        for block in self._int_blocks:
            n = self._cardinality(block)
            assert n is not None
            X[:, block.start] = (np.minimum(np.floor(X[:, block.start] * n), n - 1) + 0.5) / n
        for block in self._q_blocks if exact_q else ():
            for i in range(len(X)):
                value = from_unit(block.param, self._clip(block, float(X[i, block.start])))
                X[i, block.start] = self._clip(block, to_unit(block.param, value))
        return X

    # -- finite spaces ----------------------------------------------------------------------

    def size(self) -> int | None:
        """Number of distinct points when every leaf is categorical or an integer, else None."""
        total = 1
        for block in self._blocks:
            count = self._cardinality(block)
            if count is None:
                return None
            total *= count
        return total

    def enumerate(self) -> np.ndarray:
        """Every point of a finite space (shape ``(size, n_columns)``).

        Raises:
            ValueError: The space is not finite or holds more than ``MAX_ENUMERATED`` points.
        """
        size = self.size()
        if size is None or size > MAX_ENUMERATED:
            raise ValueError(f"the space cannot be enumerated (size {size})")
        columns: list[np.ndarray] = []
        for block in self._blocks:
            count = self._cardinality(block)
            assert count is not None
            if block.is_categorical:
                columns.append(np.eye(count))
            else:
                columns.append(((np.arange(count) + 0.5) / count)[:, None])
        grids = np.meshgrid(*[np.arange(len(c)) for c in columns], indexing="ij")
        parts = [c[g.ravel()] for c, g in zip(columns, grids, strict=True)]
        return np.hstack(parts) if parts else np.zeros((1, 0))

    # -- internals --------------------------------------------------------------------------

    def _cardinality(self, block: _Block) -> int | None:
        dist = block.param.distribution
        if block.is_categorical:
            return block.stop - block.start
        if dist == "int_uniform":
            assert block.param.min is not None and block.param.max is not None
            return int(block.param.max) - int(block.param.min) + 1
        return None

    @staticmethod
    def _clip(block: _Block, u: float) -> float:
        if block.param.distribution in _UNBOUNDED:
            return min(max(u, _U_EPS), 1.0 - _U_EPS)
        return u


def _is_fixed(param: Parameter) -> bool:
    """Whether a numeric leaf has one value only (``sigma: 0``); it gets no column.

    With a column, every position would decode to the same value, so a point could be
    suggested again and again without ever counting as taken.
    """
    return param.values is None and not param.varies
