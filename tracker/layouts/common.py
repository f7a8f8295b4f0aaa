"""Small readers shared by the layouts: JSON and YAML files, timestamps in log lines, file ages."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..files import read_bytes, read_text
from ..jsonl import loads

# "2024-12-16 14:50:30,000 - INFO - ..." (logging), "[2024-07-16 14:35:52] ..." (nanoGPT TrainingLogger) and
# ISO 8601 with a zone ("2026-06-01T12:00:00.5Z", "...12:00:00+02:00", "...12:00:00 +0200"). Groups: the stamp to
# the second, its fraction, its zone; a stamp without a zone is local time.
LOG_STAMP = re.compile(r"^\[?(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,9}))?"
                       r"(Z|[+-]\d\d(?::?\d\d)?(?!\d)| [+-]\d\d:?\d\d(?!\d)| ?UTC\b)?\]?")


def read_json_file(path: Path) -> Any:
    """A JSON file's content (orjson); raises OSError or ValueError."""
    return loads(read_bytes(path))


def read_yaml_file(path: Path) -> Any:
    """A YAML file read with the safe loader only (C-accelerated where available); None when absent."""
    import yaml

    try:
        text = read_text(path)
    except OSError:
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # a safe loader, never the full one
    except yaml.YAMLError as exc:
        raise ValueError(f"{path.name}: {str(exc).splitlines()[0]}") from exc


def line_time(line: str) -> float | None:
    """Unix time of a log line's leading timestamp (in its own zone when it names one, else local time), or None."""
    m = LOG_STAMP.match(line)
    if not m:
        return None
    whole = stamp_seconds(m[1], m[3])
    frac = m[2]
    return whole + int(frac) / 10 ** len(frac) if whole is not None and frac else whole


def stamp_seconds(stamp: str, zone: str | None = None) -> float | None:
    """Unix time of a `YYYY-MM-DD HH:MM:SS` stamp in `zone` (`Z`, `UTC`, `+02:00`, `-0500`; None: local time)."""
    return _seconds(stamp, zone.strip() if zone else None, None if zone else time.tzname)


@lru_cache(maxsize=1024)
def _seconds(stamp: str, zone: str | None, local: tuple[str, str] | None) -> float | None:
    # Memoised per distinct second (strptime dominates reading a big log); `local` keys a local stamp to the zone
    # the process was in, so a changed TZ is not answered from the cache.
    try:
        moment = datetime.strptime(stamp.replace("T", " "), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    if zone:
        moment = moment.replace(tzinfo=_zone(zone))
    return moment.timestamp()


def _zone(text: str) -> timezone:
    if text in ("Z", "UTC"):
        return timezone.utc
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(-offset if text[0] == "-" else offset)


def mtime(path: Path) -> float | None:
    """The file's last write (Unix seconds), or None when it is gone: a liveness fact, judged by `liveness`."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def last_line_time(lines: list[str]) -> float | None:
    """The timestamp of the last line that has one (looking back at most 200 lines)."""
    for line in reversed(lines[-200:]):
        stamp = line_time(line)
        if stamp is not None:
            return stamp
    return None
