"""The runyard/1 run-directory contract: file names, folder naming and atomic writes.

Everything that writes or reads a run folder takes its names from here, so the contract lives in one place.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path

FORMAT = "runyard/1"

RUN_JSON = "run.json"
CONFIG_YAML = "config.yaml"
METRICS_JSONL = "metrics.jsonl"
TRAINING_LOG = "training.log"
SAMPLES_JSONL = "samples.jsonl"
SUMMARY_JSON = "summary.json"
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_INDEX = "index.jsonl"

STATUSES = ("running", "finished", "failed", "interrupted")
RESERVED_KEYS = frozenset({"step", "time", "_event"})

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(name: str) -> str:
    """A run name usable as a folder name: path separators and odd characters become `-`."""
    cleaned = _UNSAFE_NAME.sub("-", name.strip()).strip("-.")
    return cleaned or "run"


def make_run_dir(root: Path, name: str, when: float | None = None) -> Path:
    """Create `<root>/<name>_<YYYYMMDD_HHMMSS>[_N]` and return it.

    `os.mkdir` either creates the folder or fails, so concurrent starters in the same second each get
    their own suffix and no run ever shares or overwrites another's folder.
    """
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(when))
    base = f"{safe_name(name)}_{stamp}"
    for n in range(1, 10_000):
        path = root / (base if n == 1 else f"{base}_{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"could not create a run folder under {root}: 10,000 runs named {base!r} exist")


def iso_now(ts: float | None = None) -> str:
    """Local time as ISO 8601 with its UTC offset, to the millisecond."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, timezone.utc).astimezone()
    return moment.isoformat(timespec="milliseconds")


def parse_iso(text: str | None) -> float | None:
    """Unix seconds from an ISO 8601 string (as `iso_now` writes it); None when absent or malformed."""
    if not text or not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.timestamp()


def write_atomic(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Replace `path` with `data` via a temp file and rename, so readers never see a half-written file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if fsync:
        fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def open_append(path: Path) -> int:
    """An O_APPEND file descriptor: each `os.write` of a whole line lands at the end, in one piece."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to `fd` (regular files rarely write short, but never assume)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
