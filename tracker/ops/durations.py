"""Durations as people type them: `30d`, `12h`, `90m`, `2w`, `45s`, or several at once (`1d12h`)."""

from __future__ import annotations

import re

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_duration(text: str) -> float:
    """Seconds in `text`: numbers each followed by a unit, s (seconds), m (minutes), h, d or w (weeks); `1d12h`
    is 36 hours. Raises ValueError with one line naming what it takes."""
    spec = text.strip().lower().replace(" ", "")
    parts = _PART.findall(spec)
    if not spec or "".join(number + unit for number, unit in parts) != spec:
        raise ValueError(f"{text!r} is not a duration: write it as 30d, 12h, 90m, 2w or 45s (or 1d12h)")
    return sum(float(number) * UNITS[unit] for number, unit in parts)
