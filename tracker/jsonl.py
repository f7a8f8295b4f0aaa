"""JSON encoding shared by writer and readers: plain numbers in, non-finite values as strings.

JSON has no NaN or Infinity, so the contract writes them as the strings "nan", "inf" and "-inf" and
readers turn those back into floats.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode_float(value: float) -> float | str:
    """A finite float as is; NaN and infinities as their contract strings."""
    if value - value == 0:
        return value
    if value != value:
        return "nan"
    return "inf" if value > 0 else "-inf"


def decode_value(value: Any) -> Any:
    """Undo `encode_float` for one value; anything else passes through."""
    if isinstance(value, str):
        return NONFINITE.get(value, value)
    return value


def dumps_line(obj: Any) -> bytes:
    """One JSON object as a newline-terminated line; non-finite floats must already be encoded."""
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def loads(data: bytes | str) -> Any:
    """Parse one JSON document (orjson: several times faster than the standard library)."""
    return orjson.loads(data)


def encode_tree(obj: Any) -> Any:
    """Encode every non-finite float in a nested structure of dicts and lists."""
    if isinstance(obj, float):
        return encode_float(obj)
    if isinstance(obj, dict):
        return {k: encode_tree(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [encode_tree(v) for v in obj]
    return obj


def decode_tree(obj: Any) -> Any:
    """Turn the contract's non-finite strings back into floats, throughout a nested structure."""
    if isinstance(obj, str):
        return NONFINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: decode_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_tree(v) for v in obj]
    return obj


def to_jsonable(obj: Any) -> Any:
    """A run's values ready for JSON output (`--json`): non-finite floats as "nan"/"inf"/"-inf", like the files."""
    return encode_tree(obj)
