"""JSON shared by writer and readers: encoding numbers, and reading JSONL files that may hold damaged lines.

JSON has no NaN or Infinity, so the contract writes them as the strings "nan", "inf" and "-inf" and
readers turn those back into floats, in metric values only (where a string cannot be meant as text).
Every JSONL file of a run (metrics, samples, the checkpoint index) and every foreign one is read through
`iter_records`, so a garbage, cut-short or glued line means the same thing everywhere: passed over and
counted, with whatever whole record it still holds recovered.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from .contract import EVENT
from .files import read_bytes

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


def decode_metrics(obj: Any) -> Any:
    """Metric values as the contract writes them (a metric's statistics, a checkpoint's metrics), with the
    non-finite strings turned back into floats throughout.

    Only for trees that hold nothing but metric values: in a config, a tag or a name, "nan" is text and stays so.
    """
    if isinstance(obj, str):
        return NONFINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: decode_metrics(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_metrics(v) for v in obj]
    return obj


def to_jsonable(obj: Any) -> Any:
    """A run's values ready for JSON output (`--json`): non-finite floats as "nan"/"inf"/"-inf", like the files."""
    return encode_tree(obj)


# ----- reading JSONL ---------------------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_LINE_START = ("step", EVENT)  # the first key of every line a runyard writer appends
_SALVAGE_TRIES = 64  # restarts within one bad line before the rest of it is given up (bounds the work)


class Skipped:
    """How many lines (or stretches of one line) a reader passed over: garbage, cut short, or not an object."""

    __slots__ = ("lines",)

    def __init__(self) -> None:
        self.lines = 0


def iter_records(data: bytes | str | Iterable[bytes | str], skipped: Skipped | None = None
                 ) -> Iterator[dict[str, Any]]:
    """The JSON objects of JSONL `data` (the whole text, or its lines) in order, values as written.

    Blank lines are passed over; any other line that is not one JSON object is counted in `skipped`. A line
    holding a record cut short with a whole one glued after it (a writer killed mid-line, then another
    appending) yields the whole one and counts the cut one, so a resume marker written there is not lost.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        lines: Iterable[bytes | str] = bytes(data).split(b"\n")
    elif isinstance(data, str):
        lines = data.split("\n")
    else:
        lines = data
    for line in lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            if not line.strip():
                continue
            found, bad = _salvage(line)
            if skipped is not None:
                skipped.lines += bad
            yield from found
            continue
        if isinstance(record, dict):
            yield record
        elif skipped is not None:
            skipped.lines += 1


def _salvage(line: bytes | str) -> tuple[list[dict[str, Any]], int]:
    """The whole records in a line that does not parse as one, and how many bad stretches lie between them.

    An object counts only where it ends the line or another object follows it straight away. Where it could be
    a value (after `:`, `,` or `[`) it counts only if it begins as a run's lines do, with `step` or `_event`:
    the inner dict of a record cut short is not a record, but a row glued after a cut that fell between two
    values (a disk that took part of a line) is.
    """
    text = line.decode("utf-8", "replace") if isinstance(line, (bytes, bytearray)) else line
    found: list[dict[str, Any]] = []
    bad, pos, size, tries = 0, 0, len(text), 0
    in_garbage = False
    while pos < size and text[pos].isspace():
        pos += 1
    while pos < size and tries < _SALVAGE_TRIES:
        back = pos - 1
        while back >= 0 and text[back].isspace():
            back -= 1
        before = text[back] if back >= 0 else ""
        obj, end = None, pos
        with contextlib.suppress(ValueError, RecursionError):
            obj, end = _DECODER.raw_decode(text, pos)
        if before in (":", ",", "[") and not (isinstance(obj, dict) and next(iter(obj), None) in _LINE_START):
            obj, end = None, pos
        after = end
        while after < size and text[after].isspace():
            after += 1
        if isinstance(obj, dict) and (after == size or text[after] == "{"):
            bad += in_garbage
            in_garbage = False
            found.append(obj)
            pos = after
            continue
        in_garbage, tries = True, tries + 1
        pos = text.find('{"', pos + 1)
        if pos < 0:
            break
    return found, bad + in_garbage


def read_records(path: Path, skipped: Skipped | None = None) -> list[dict[str, Any]]:
    """Every record of a small JSONL file (see `iter_records`); a missing file has none."""
    try:
        data = read_bytes(path)
    except FileNotFoundError:
        return []
    return list(iter_records(data, skipped))


def as_float(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (booleans and numeric text too) and ints beyond float range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def as_int(value: Any) -> int | None:
    """A JSON number as an int (a float is truncated); None for anything else, booleans, NaN and infinities."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return int(value)
    except (OverflowError, ValueError):
        return None
