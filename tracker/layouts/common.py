"""Small readers shared by the layouts: JSON and YAML files, timestamps in log lines, file ages."""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ..jsonl import loads
from ..reading.files import read_bytes, read_text

STALE_AFTER = 600.0  # a log not written for 10 minutes belongs to a process that is gone (LEET's rule)

# "2024-12-16 14:50:30,000 - INFO - ..." (logging) and "[2024-07-16 14:35:52] ..." (nanoGPT TrainingLogger)
LOG_STAMP = re.compile(r"^\[?(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))?\]?")


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
    """Unix time of a log line's leading timestamp (local time), or None."""
    m = LOG_STAMP.match(line)
    if not m:
        return None
    try:
        moment = datetime.strptime(m.group(1).replace("T", " "), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    frac = m.group(2)
    return moment.timestamp() + (int(frac) / 10 ** len(frac) if frac else 0.0)


def is_stale(path: Path, last_logged: float | None = None) -> bool:
    """True if `path` was not written for STALE_AFTER seconds.

    A log's own last timestamp counts too (the older of the two wins), so a copied or freshly cloned old
    log, whose mtime is new, is not taken for a live one.
    """
    try:
        last = path.stat().st_mtime
    except OSError:
        return True
    if last_logged is not None:
        last = min(last, last_logged)
    return time.time() - last > STALE_AFTER


def last_line_time(lines: list[str]) -> float | None:
    """The timestamp of the last line that has one (looking back at most 200 lines)."""
    for line in reversed(lines[-200:]):
        stamp = line_time(line)
        if stamp is not None:
            return stamp
    return None
