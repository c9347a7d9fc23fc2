"""The store's JSON columns as text: orjson, and the standard library for what orjson refuses."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def json_dumps(value: Any) -> str:
    """JSON text for the store's JSON columns (orjson; the standard library for what it refuses,
    such as integers beyond 64 bits).

    NaN and infinities, which JSON has no form for, are written as ``null`` on either path
    (orjson does that; PostgreSQL's JSONB could not hold them anyway).
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(_finite(value), allow_nan=False)


def json_loads(text: str | bytes) -> Any:
    """Read the store's JSON columns (orjson; the standard library for integers beyond 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
