"""Strict JSON for everything the store writes.

Metrics may be NaN or infinite (a diverging loss). Plain ``json.dumps`` would write the
non-standard tokens ``NaN`` and ``Infinity``, which strict parsers (and other languages) refuse.
Non-finite floats are therefore written as a tagged object ``{"$float": "nan"}`` (or ``"inf"``,
``"-inf"``) and read back as real floats, never as strings mixed into numeric comparisons.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["dumps", "loads", "to_jsonable"]

_TAG = "$float"


def to_jsonable(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by its tagged form (recursively).

    Tuples become lists; numpy scalars become Python numbers.
    """
    if isinstance(obj, float):
        if math.isnan(obj):
            return {_TAG: "nan"}
        if math.isinf(obj):
            return {_TAG: "inf" if obj > 0 else "-inf"}
        return obj
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return to_jsonable(obj.item())
    return obj


def _decode_object(data: dict[str, Any]) -> Any:
    if len(data) == 1 and _TAG in data:
        return float(data[_TAG])
    return data


def dumps(obj: Any, *, indent: int | None = None) -> bytes:
    """Encode ``obj`` as strict UTF-8 JSON (no ``NaN``/``Infinity`` tokens)."""
    text = json.dumps(to_jsonable(obj), allow_nan=False, indent=indent, sort_keys=False)
    return text.encode("utf-8")


def loads(data: bytes | str) -> Any:
    """Decode what :func:`dumps` wrote, turning tagged floats back into floats."""
    return json.loads(data, object_hook=_decode_object)
