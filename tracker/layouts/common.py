"""Small readers shared by the layouts: JSON and YAML files, timestamps in log lines, file ages."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from ..jsonl import loads

# "2024-12-16 14:50:30,000 - INFO - ..." (logging) and "[2024-07-16 14:35:52] ..." (nanoGPT TrainingLogger)
LOG_STAMP = re.compile(r"^\[?(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[,.](\d{1,6}))?\]?")


def read_json_file(path: Path) -> Any:
    """A JSON file's content (orjson); raises OSError or ValueError."""
    return loads(path.read_bytes())


def read_yaml_file(path: Path) -> Any:
    """A YAML file read with the safe loader only (C-accelerated where available); None when absent."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8", errors="replace")
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
