"""Plain text logs: metrics taken from log lines by the pattern table (see `tracker.reading.patterns`).

Used on its own for any `.log`/`.txt` file whose first lines hold metrics, and by the nanoGPT and FPN
layouts for their log files. Times come from each line's leading timestamp when it has one. Files are decoded
by `reading.textcodec` (UTF-8, or UTF-16 by its byte-order mark); lines end at `\n` (a `\r\n` ending too), and
a line redrawn with `\r` reads as its last drawing, as the log view shows it. A log rotated by logrotate or Python's
rotating handlers is read with its predecessors (`train.log.2`, `train.log.1`, then `train.log`) as one log, so a
run's curve does not start over at a rotation; the predecessors are never runs of their own (their names do not
end in `.log`/`.txt`).
"""

from __future__ import annotations

import math
import os
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from ..files import open_binary
from ..model import FINISHED, INTERRUPTED, RUNNING, RunInfo
from ..reading.patterns import (
    PatternTable,
    ProgressBar,
    config_files,
    final_state,
    match_line,
    patterns_for,
    read_rows,
)
from ..reading.textcodec import decode_text, read_text
from .base import Detection, MetricColumns, RunSource
from .common import last_line_time, line_time

_SNIFF = 64 * 1024
_SUFFIXES = (".log", ".txt")
# Names no training log has: a project's documents and a tokenizer's word lists sit beside runs and checkpoints
# (some of them large), and are never read to find out.
_NEVER_LOGS = frozenset({"readme", "license", "licence", "notice", "authors", "contributors", "copying",
                         "changelog", "cmakelists", "robots", "vocab", "merges", "requirements", "constraints"})
# Every line a built-in pattern reads holds one of these words and, in lower case, matches this: a head that does
# not holds no metric line, which a few substring searches of the whole head tell far sooner than the patterns.
_HINT_WORDS = ("step", "iter", "epoch", "%|", "it [")
_BUILTIN_HINT = re.compile(r"\b(?:step|iter(?:ation)?|epoch)[ :=]+\d|%\||\dit \[")
# Letters that match `s` or `i` when case is ignored but do not lower to them: a head holding one goes to the patterns.
_CASE_ODD = re.compile("[\u0130\u0131\u017f]")


def parse_log(path: Path, root: Path | None = None) -> tuple[list[dict[str, float]], list[str]]:
    """(metric rows, all lines as shown) of a text log and its rotated predecessors (see `rotated_logs`), read
    oldest first as one log; read-only results, shared while the files are unchanged.

    A listing needs a log twice (its info, then its metrics for the summary): it is parsed once. The patterns
    are those of the runyard.toml files beside the log and above it up to `root` (see `patterns.config_files`).
    """
    files = _with_stats(rotated_logs(path))
    try:
        st = path.stat()
    except FileNotFoundError:  # renamed away and not created again yet: what it held is in its predecessors
        if not files:
            raise
    else:
        files.append((path, st.st_size, st.st_mtime_ns))
    return _parse_logs(tuple(files), patterns_for(root, path.parent))


def rotated_logs(path: Path) -> list[Path]:
    """The rotated predecessors of the log at `path`, oldest first: they are part of the run, whose curve goes on
    across a rotation.

    Names as logrotate and Python's handlers give them: `<name>.1`, `<name>.2`, ... (RotatingFileHandler and
    logrotate; a higher number is older), TimedRotatingFileHandler's `<name>.2026-11-30` (`_14`, `_14-00`,
    `_14-00-00` finer) and logrotate's `dateext` `<name>-20261130`, any of them compressed (`.gz`). Dated ones
    come before numbered ones; a file both compressed and not (compression under way) is read once, uncompressed.
    """
    folder = str(path.parent)
    try:
        st = os.stat(folder)
    except OSError:
        return []
    now = time.time()
    cached = _listings.get(folder)
    if cached is None or cached[0] != (st.st_ino, st.st_mtime_ns) or cached[1] - st.st_mtime_ns / 1e9 < _RACY:
        if len(_listings) >= _MAX_LISTINGS:
            _listings.clear()
        cached = _listings[folder] = ((st.st_ino, st.st_mtime_ns), now, _list_rotations(folder))
    return [path.parent / name for name in cached[2].get(path.name, ())]


# A rotated log's name: its log's name, then a number, a date of TimedRotatingFileHandler or one of logrotate's
# dateext, and maybe `.gz`. The base is matched shortest first, so `a.log.1.2` is `a.log.1` rotated once more.
_ROTATED = re.compile(r"(?P<base>.+?)(?:\.(?P<n>\d{1,6})|\.(?P<date>\d{4}-\d\d-\d\d(?:_\d\d(?:-\d\d){0,2})?)"
                      r"|-(?P<dateext>\d{8}(?:\d\d)?))(?P<gz>\.gz)?")
_MAX_UNZIPPED = 256 << 20  # a compressed predecessor is read up to this much text; a larger one is cut there
# Per folder: its (inode, mtime) when listed, when it was listed, and the rotated logs in it. A listing stands while
# the folder's mtime does, if it was made long enough after that mtime to have seen every change within the
# mtime's resolution (`_RACY`, as the scanner's folder cache); a folder changed more recently is listed again.
_listings: dict[str, tuple[tuple[int, int], float, dict[str, tuple[str, ...]]]] = {}
_MAX_LISTINGS = 256
_RACY = 2.0


def _list_rotations(folder: str) -> dict[str, tuple[str, ...]]:
    """Per log name in `folder`, the names of its rotated predecessors, oldest first (see `rotated_logs`)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    found: dict[str, dict[tuple, str]] = {}
    for name in names:
        m = _ROTATED.fullmatch(name)
        if m is None or name.startswith("."):
            continue
        if m["n"] is not None:
            order: tuple = (1, -int(m["n"]))
        else:
            order = (0, re.sub(r"\D", "", m["date"] or m["dateext"]))
        kept = found.setdefault(m["base"], {})
        if order not in kept or kept[order].endswith(".gz"):  # the uncompressed one, where both are there
            kept[order] = name
    return {base: tuple(kept[k] for k in sorted(kept)) for base, kept in found.items()}


def _with_stats(paths: list[Path]) -> list[tuple[Path, int, int]]:
    """(path, size, mtime_ns) of each file that is there (one rotated away meanwhile is left out)."""
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path, st.st_size, st.st_mtime_ns))
    return out


@lru_cache(maxsize=8)
def _parse_logs(files: tuple[tuple[Path, int, int], ...],
                table: tuple) -> tuple[list[dict[str, float]], list[str]]:
    """A log read with its predecessors (oldest first) as one: rows and lines follow on from file to file.

    Where a later file's first step is not past an earlier file's rows, the later file's rows supersede those
    at or after it (a training resumed from an earlier checkpoint, as a resume marker does for runyard runs);
    an earlier file left with none of its rows is not this run's: a copy `copytruncate` made that the log has
    not been truncated after yet, or a previous run's log rotated away when this one started. It is left out,
    with everything older.
    """
    *rotated, (path, size, mtime_ns) = files
    last = _parse_file(path, size, mtime_ns, table)
    if not rotated:
        return last
    kept = [last]
    floor = last[0][0]["step"] if last[0] else math.inf  # rows of earlier files from this step on are superseded
    for path, size, mtime_ns in reversed(rotated):
        try:
            rows, lines = _parse_file(path, size, mtime_ns, table)
        except OSError:  # a predecessor that cannot be read (a FIFO, closed to us) leaves a gap, not an error
            continue
        if rows and rows[-1]["step"] >= floor:
            standing = [row for row in rows if row["step"] < floor]
            if not standing:  # no row of it stands: it is not this run's
                break
            rows = standing
        kept.append((rows, lines))
        if rows:
            floor = min(floor, rows[0]["step"])
    kept.reverse()
    return [row for rows, _ in kept for row in rows], [line for _, lines in kept for line in lines]


@lru_cache(maxsize=16)
def _parse_file(path: Path, size: int, mtime_ns: int, table: tuple) -> tuple[list[dict[str, float]], list[str]]:
    patterns, _ = table
    raw = split_lines(_read_gzip(path) if path.name.endswith(".gz") else read_text(path))
    lines = [final_state(line) for line in raw] if any("\r" in x or "\x1b" in x for x in raw) else raw
    stamps = [line_time(line) for line in lines]
    rows = []
    last_time = None
    at = 0
    for i, row in read_rows(raw, patterns):
        while at <= i:  # a line without a stamp is as old as the last stamped line before it
            if stamps[at] is not None:
                last_time = stamps[at]
            at += 1
        if "time" in row:  # a metric the line logged as `time`: the row's own `time` is the line's stamp
            row[LOGGED_TIME] = row.pop("time")
        row["time"] = stamps[i] if stamps[i] is not None else last_time
        rows.append(row)
    return rows, lines


def _read_gzip(path: Path) -> str:
    """A compressed rotated log as text (up to `_MAX_UNZIPPED` of it)."""
    with open_binary(path) as fh:
        return decode_text(_unzipped_head(fh, _MAX_UNZIPPED))


def _unzipped_head(fh: BinaryIO, limit: int = _SNIFF) -> bytes:
    """Up to `limit` bytes of a gzip file's content; a damaged or half-written one reads as far as it goes."""
    import gzip
    import zlib

    data = bytearray()
    with gzip.GzipFile(fileobj=fh) as unzipped:
        try:
            while len(data) < limit:
                block = unzipped.read(min(1 << 20, limit - len(data)))
                if not block:
                    break
                data += block
        except (EOFError, zlib.error, gzip.BadGzipFile):
            pass
    return bytes(data)


def split_lines(text: str) -> list[str]:
    """A log's lines as the tail reader cuts them: at `\n` only, a `\r\n` ending taken off (a lone `\r` is a
    redraw, kept for `patterns.drawings`)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r\n" in text:
        lines = [line.removesuffix("\r") for line in lines]
    return lines


# Where a row keeps a metric the log itself named `time` (its column is then `time_`, see `metric_column`).
LOGGED_TIME = "\x00time"


def log_columns(rows: list[dict[str, float]]) -> MetricColumns:
    """Rows from `parse_log` as metric columns: each row logged the metrics its line named."""
    return MetricColumns.from_rows([int(row["step"]) for row in rows], [row.get("time") for row in rows],
                                   [{("time" if k == LOGGED_TIME else k): v for k, v in row.items()
                                     if k not in ("step", "time")} for row in rows])


def could_be_log(name: str) -> bool:
    """True for a file name a plain text log may have (`.log`/`.txt`, not hidden, not a README or a tokenizer's
    vocab.txt): decided from the name alone, so only such files are ever read to find out."""
    if not name.endswith(_SUFFIXES) or name.startswith("."):
        return False
    stem = name[:-4].lower()
    return stem not in _NEVER_LOGS and not stem.startswith(("requirements", "constraints"))


def sniff(path: Path | str, root: Path | None, table: PatternTable | None = None) -> bool:
    """True if the head of a text file holds at least one metric line (`table`: the patterns of its folder, when
    the caller has them already)."""
    return not_a_log(path, root, table) is None


def not_a_log(path: Path | str, root: Path | None = None, table: PatternTable | None = None) -> str | None:
    """Why a file is not a text log runyard reads (one line), or None when its head holds a metric line, or when
    it holds none yet but the log rotated away from it does (a log just started over by a rotation is still the
    run's log)."""
    table = table if table is not None else patterns_for(root, Path(path).parent)
    try:
        why = _head_says(path, table)
    except OSError as exc:
        return exc.strerror or str(exc)
    if why is not None and (rotated := rotated_logs(Path(path))):
        try:
            if _head_says(rotated[-1], table) is None:
                return None
        except OSError:
            pass
    return why


def _head_says(path: Path | str, table: PatternTable) -> str | None:
    """Why the head of one file holds no metric line, or None when it does; raises OSError."""
    with open_binary(path) as fh:
        head = _unzipped_head(fh) if str(path).endswith(".gz") else fh.read(_SNIFF)
    if not head:
        return "the file is empty"
    text = decode_text(head)
    patterns, _ = table
    if _may_hold_metrics(text, patterns) and any(match_line(final_state(line), patterns)
                                                 for line in split_lines(text)):
        return None
    if "\x00" in text:
        return "a binary file, not a text log"
    return f"no line in its first {_SNIFF // 1024} KiB reads as a step with metric values"


def _may_hold_metrics(text: str, patterns: tuple) -> bool:
    """False when no line of `text` can match: only the built-in patterns apply and their words are not there.
    Lines with escape sequences are read cleaned, so those always go to the patterns."""
    if type(patterns[0]) is not ProgressBar or "\x1b" in text or "\x9b" in text:  # a user pattern comes first
        return True
    if not text.isascii() and _CASE_ODD.search(text):
        return True
    low = text.lower()
    return any(word in low for word in _HINT_WORDS) and _BUILTIN_HINT.search(low) is not None


def detect_files(directory: Path, names: list[str], root: Path | None) -> Detection | None:
    """Every unclaimed `.log`/`.txt` file in a folder whose first lines hold metrics is a run."""
    candidates = [n for n in sorted(names) if could_be_log(n)]
    table = patterns_for(root, directory) if candidates else None  # once per folder, not per file
    runs = [TextLogSource(directory / n, root) for n in candidates if sniff(directory / n, root, table)]
    return Detection(runs, descend=True) if runs else None


class TextLogSource(RunSource):
    format = "textlog"

    def __init__(self, path: Path, root: Path | None = None) -> None:
        super().__init__(path)
        self.root = root

    def key_files(self) -> list[Path]:
        """The log, its rotated predecessors, and the runyard.toml files whose patterns read it."""
        return [*rotated_logs(self.path), self.path, *config_files(self.root, self.path.parent)]

    def read_info(self) -> RunInfo:
        rows, lines = parse_log(self.path, self.root)
        times = [line_time(x) for x in lines[:50]]
        created = next((t for t in times if t is not None), None)
        try:
            last_write = self.path.stat().st_mtime
        except FileNotFoundError:  # mid-rotation: its predecessors were written last
            last_write = max((m for _, _, m in _with_stats(rotated_logs(self.path))), default=0) / 1e9
        ended = lines and any(w in lines[-1].lower() for w in ("complete", "finished", "done", "ended"))
        # Without a closing line the run is live until the log goes quiet, then interrupted (see `liveness`).
        return RunInfo(id=self.path.stem, name=self.path.stem, path=self.path, format=self.format,
                       status=FINISHED if ended else RUNNING, quiet_status=INTERRUPTED,
                       last_logged=last_line_time(lines), created=created, last_write=last_write, rows=len(rows),
                       last_step=int(rows[-1]["step"]) if rows else None)

    def metrics_data(self) -> MetricColumns:
        return log_columns(parse_log(self.path, self.root)[0])

    def log_path(self) -> Path | None:
        return self.path
