"""The runyard/1 run-directory contract: file names, folder naming and atomic writes.

Everything that writes or reads a run folder takes its names from here, so the contract lives in one place.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
EVENT = "_event"     # a line of metrics.jsonl holding this key is an event, never a metric row
RESUME = "resume"    # {"_event": "resume", "step": S, "time": T}: a resumed run's first step
DELETE = "delete"    # {"_event": "delete", "file": F, "time": T} in checkpoints/index.jsonl: F was removed
RESERVED_KEYS = frozenset({"step", "time", EVENT})
DROPPED = "dropped"  # run.json: {file: lines lost}, what a disk refused for longer than the writer could hold it
GOALS = ("min", "max")  # a metric's direction, as summary.json `goals` and `best_checkpoint.mode` hold it
_GOAL_WORDS = {"min": "min", "max": "max", "minimize": "min", "maximize": "max"}

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._+-]+")
_NAME_JUNK = re.compile(r"[^\w.+-]+")  # \w: letters, digits and `_` of any script
# The name part of a run folder, in bytes. With the hash of a cut name (9), the stamp (16) and a same-second
# suffix (up to 5) a folder name stays under 150 bytes: below NAME_MAX (255) everywhere, and below the 143 of
# encrypted home folders (eCryptfs), where file names grow when encrypted.
NAME_BYTES = 120


def goal_direction(value: Any) -> str | None:
    """"min" or "max" from a direction as a person writes it (`min`, `max`, `minimize`, `maximize`); else None."""
    return _GOAL_WORDS.get(value.strip().lower()) if isinstance(value, str) else None


def line_step(record: dict[str, Any]) -> int | None:
    """The integer step of a metrics.jsonl line (a row or an event); None when it has none."""
    step = record.get("step")
    return step if type(step) is int else None


def resume_step(record: dict[str, Any]) -> int | None:
    """The step a resume marker cuts at; None for any other line."""
    return line_step(record) if record.get(EVENT) == RESUME else None


def resume_cuts(markers: Sequence[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The resume rule: rows of step >= S written before a marker of step S are superseded.

    `markers` are (position, step) of the resume markers in file order; the answer is (start, stop, cut)
    triples saying that the rows at positions start..stop-1 stand only if their step is below `cut`. Rows
    after the last marker stand. Both `standing_rows` and the columnar reader apply exactly this.
    """
    cuts: list[tuple[int, int, int]] = []
    lowest: int | None = None
    for i in range(len(markers) - 1, -1, -1):
        position, step = markers[i]
        lowest = step if lowest is None else min(lowest, step)
        start = markers[i - 1][0] + 1 if i else 0
        cuts.append((start, position, lowest))
    cuts.reverse()
    return cuts


def standing_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The metric rows of a run's lines (in file order) that the resume rule leaves standing; events dropped."""
    markers = [(i, step) for i, rec in enumerate(records) if (step := resume_step(rec)) is not None]
    keep = [EVENT not in rec and line_step(rec) is not None for rec in records]
    for start, stop, cut in resume_cuts(markers):
        for i in range(start, stop):
            keep[i] = keep[i] and records[i]["step"] < cut
    return [rec for rec, kept in zip(records, keep, strict=True) if kept]


def safe_name(name: str) -> str:
    """A run name as the name part of its folder: readable, and safe on every filesystem whatever the name.

    Letters and digits of any script stay, with `_ . + -`; anything else (a slash, a newline, NUL, a control
    character, an emoji) becomes `-`, and a leading dot or dash goes, so `..` or `-rf` cannot be taken for
    anything but a name. A name longer than `NAME_BYTES` bytes is cut on a character boundary and ends in a
    short hash of the whole name, so long names alike up to the cut still get folders of their own. The name
    itself is kept whole in run.json, which is what every reader shows.
    """
    text = unicodedata.normalize("NFC", name).strip()
    slug = _NAME_JUNK.sub("-", text).strip("-.")
    if sys.getfilesystemencoding().lower().replace("-", "") != "utf8":
        slug = _UNSAFE_NAME.sub("-", slug).strip("-.")  # only ASCII is sure to be a valid file name there
    data = slug.encode("utf-8")
    if len(data) > NAME_BYTES:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cut = data[:NAME_BYTES - len(digest) - 1].decode("utf-8", "ignore").rstrip("-.")
        slug = f"{cut}-{digest}"
    return slug or "run"


def utf8_text(text: str) -> str:
    """`text` as JSON can hold it: the undecodable bytes of a file name or an argument (lone surrogates) as U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")  # the bytes the operating system gave
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        return raw.decode("utf-8", "replace")
    return text


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
    """Replace `path` with `data` via a temp file and rename, so readers never see a half-written file.

    A write that fails (a full disk) removes its temp file and raises; `path` keeps its previous content.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    replace_via_temp(data, fsync, open_tmp=lambda: os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
                     commit=lambda: os.replace(tmp, path), discard=lambda: os.unlink(tmp))
    if fsync:
        fsync_dir(path.parent)


def replace_via_temp(data: bytes, fsync: bool, *, open_tmp: Callable[[], int], commit: Callable[[], None],
                     discard: Callable[[], None]) -> None:
    """The one temp-file-and-rename: write `data` whole to the fd `open_tmp` gives (fsynced if asked), then
    `commit` (the rename); on any failure `discard` the temp file and raise. Callers name the files, by path
    (`write_atomic`) or relative to a run folder's fd (`RunFolder.write_atomic`)."""
    fd = open_tmp()
    try:
        try:
            write_all(fd, data)
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        commit()
    except BaseException:
        with contextlib.suppress(OSError):
            discard()
        raise


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


def end_partial_line(path: Path) -> None:
    """Finish a JSONL file's cut-short last line (a writer killed mid-write) before appending to it again,
    so that the next record starts a line of its own rather than being glued to the broken one."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            write_all(fd, b"\n")
    finally:
        os.close(fd)
