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

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..files import open_binary
from ..model import FINISHED, INTERRUPTED, RUNNING, RunInfo
from ..reading.follow import FollowedFile, Grow, follow
from ..reading.lines import DenseColumns, KeptLines, complete_end, pack_columns, unpack_columns
from ..reading.patterns import (
    BarRow,
    PatternTable,
    ProgressBar,
    config_files,
    drawings,
    final_state,
    match_line,
    patterns_for,
)
from ..reading.textcodec import SNIFF_BYTES, decode_text, sniff_encoding
from .base import Detection, MetricColumns, RunSource
from .common import LOG_STAMP, last_line_time, line_time, stamp_seconds

if TYPE_CHECKING:
    import numpy as np

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


def parse_log(path: Path, root: Path | None = None) -> tuple[list[dict[str, float]], KeptLines]:
    """(metric rows, lines as shown) of a text log and its rotated predecessors (see `rotated_logs`), read oldest
    first as one log: each row a dict of `step`, `time` and the metrics its line logged (a metric the log named
    `time` under `LOGGED_TIME`); of the lines the first and last are kept (`KeptLines`).

    A dict per row is for small logs and scripts; layouts use `read_log`, whose columns stay cheap at millions
    of rows. The patterns are those of the runyard.toml files beside the log and above it up to `root` (see
    `patterns.config_files`).
    """
    read = read_log(path, root)
    return read.rows(), read.lines


def read_log(path: Path, root: Path | None = None) -> LogRead:
    """A text log and its rotated predecessors read as one (see `LogFollower.read`) by the follower of this log
    shared in this process, so that a listing that reads a log twice (its info, then its metrics) parses it
    once; raises OSError (FileNotFoundError when neither the log nor a predecessor is there)."""
    return follower_for(path, root).read(path, root)


def follower_for(path: Path, root: Path | None) -> LogFollower:
    """The follower of the log at `path` shared in this process (the last few used are kept)."""
    key = (str(path.absolute()), str(root))
    with _followers_lock:
        follower = _followers.pop(key, None) or LogFollower()
        _followers[key] = follower  # most recent last
        while len(_followers) > _MAX_FOLLOWERS:
            del _followers[next(iter(_followers))]
    return follower


class LogReading:
    """What a run source keeps of the log it reads: that log's follower, read again on each call from where it
    stopped (TextLogSource, and the nanoGPT and FPN layouts, whose runs are a log)."""

    __slots__ = ("follower", "path")

    def __init__(self) -> None:
        self.follower: LogFollower | None = None
        self.path: Path | None = None

    def read(self, path: Path, root: Path | None) -> LogRead:
        """The log at `path` as it is now (its follower taken afresh when the run's log is another file)."""
        if self.follower is None or self.path != path:
            self.follower, self.path = follower_for(path, root), path
        return self.follower.read(path, root)


_followers: dict[tuple[str, str], LogFollower] = {}
_followers_lock = threading.Lock()
_MAX_FOLLOWERS = 8


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


CACHE_KIND = "textlog"
_BLOCK = 4 << 20  # bytes of lines decoded and split at a time: a huge piece is not held as one list of lines
_MAX_STEP = 2 ** 63


class LogRead:
    """A text log as read: per row its step (int64) and time (float64 Unix seconds, NaN when no line before it
    had a stamp), per metric (rows that logged it, values), and the lines as shown (`KeptLines`). Read-only;
    a new object whenever the log changed."""

    __slots__ = ("_columns", "lines", "points", "step", "time")

    def __init__(self, step: np.ndarray, time: np.ndarray, points: dict[str, tuple[np.ndarray, np.ndarray]],
                 lines: KeptLines) -> None:
        self.step, self.time, self.points, self.lines = step, time, points, lines
        self._columns: MetricColumns | None = None

    def __len__(self) -> int:
        return len(self.step)

    def columns(self) -> MetricColumns:
        """The rows as metric columns (a metric the log named `time` is the column `time_`)."""
        if self._columns is None:
            self._columns = MetricColumns.from_points(self.step, self.time, self.points)
        return self._columns

    def last_time(self) -> float | None:
        """The last row's time, None when unknown (or 0)."""
        if not len(self.time) or math.isnan(self.time[-1]) or not self.time[-1]:
            return None
        return float(self.time[-1])

    def rows(self) -> list[dict[str, float]]:
        """One dict per row: `step` (a float), `time` (None when unknown), the metrics the row logged."""
        out: list[dict[str, float]] = [
            {"step": float(step), "time": None if math.isnan(time) else float(time)}  # type: ignore[dict-item]
            for step, time in zip(self.step.tolist(), self.time.tolist(), strict=True)]
        for name, (where, values) in self.points.items():
            key = LOGGED_TIME if name == "time" else name
            for i, value in zip(where.tolist(), values.tolist(), strict=True):
                out[i][key] = value
        return out

    def kept(self, keep: np.ndarray) -> LogRead:
        """Only the rows where `keep` is true (the lines stay)."""
        return LogRead(self.step[keep], self.time[keep], _kept_points(self.points, keep), self.lines)

    @classmethod
    def joined(cls, parts: list[LogRead]) -> LogRead:
        """Logs read one after another as one."""
        import numpy as np

        if len(parts) == 1:
            return parts[0]
        points: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        base = 0
        for part in parts:
            for name, (where, values) in part.points.items():
                rows, vals = points.setdefault(name, ([], []))
                rows.append(where + base)
                vals.append(values)
            base += len(part.step)
        return cls(np.concatenate([p.step for p in parts]), np.concatenate([p.time for p in parts]),
                   {name: (np.concatenate(rows), np.concatenate(vals)) for name, (rows, vals) in points.items()},
                   KeptLines.joined(p.lines for p in parts))


def _kept_points(points: dict[str, tuple[np.ndarray, np.ndarray]], keep: np.ndarray,
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`points` of the rows where `keep` is true, renumbered; a metric left with no row is left out."""
    import numpy as np

    index = np.cumsum(keep) - 1
    out = {}
    for name, (where, values) in points.items():
        mine = keep[where]
        if mine.any():
            out[name] = (index[where[mine]], values[mine])
    return out


class _LogReader:
    """One text log read in pieces as it grows (see `reading.follow`), into growable columns.

    `feed` consumes whole lines; the line not ended yet is kept as `pending` and read provisionally by `read()`,
    as a fresh read of the file reads it. What reading a line depends on is kept: the last stamp (a row's time
    when its line has none), the last row (a progress bar drawn on after a line break replaces it), and per
    progress-bar field its value while it has not changed (labels, left out when reading; see `patterns`).
    """

    def __init__(self, table: PatternTable) -> None:
        import numpy as np

        self.patterns, self.fingerprint = table[0], _fingerprint(table)
        self._match = _matcher(self.patterns)
        self.offset = 0
        self.codec: str | None = None
        self.last_time: float | None = None
        self.lines = KeptLines()
        self.steps, self.times = Grow(np.int64), Grow(np.float64)
        self.bar, self.nkeys = Grow(np.bool_), Grow(np.int32)  # per row: a bar's? how many metrics?
        self.columns_: dict[str, tuple[Grow, Grow]] = {}
        self.last: tuple[bool, list, float, list[str]] | None = None  # (a bar?, its (desc, total), step, keys)
        self.bar_values: dict[str, list] = {}  # progress-bar field -> [its value, changed since?]
        self.pending: bytes | None = None  # the line not ended yet, if any
        self._buffer: tuple[list[int], list[float], list[bool], list[int], dict[str, tuple[list, list]]] | None = None
        self._provisional = False  # reading the pending line: rows taken back are put back after
        self._dense = DenseColumns()  # the columns as handed out, grown as rows are read
        self._read: LogRead | None = None

    # ----- reading lines ---------------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Read the whole lines of `data` (the file's bytes from `offset` on)."""
        self._read = None
        start = 0
        if self.codec is None:
            sniffed = sniff_encoding(data[:SNIFF_BYTES])
            if sniffed is None:  # an empty file, or a byte-order mark being written
                self.pending = data or None
                return
            self.codec, start = sniffed  # the byte-order mark is consumed with the first lines
        codec = self.codec
        end = data.rfind(b"\n", start) + 1 if codec == "utf-8" else start + complete_end(data[start:], codec)
        end = max(end, start)
        self._start()
        at = start
        while at < end:  # in blocks of whole lines
            cut = end if end - at <= _BLOCK else (data.rfind(b"\n", at, at + _BLOCK) + 1 or end)
            if codec != "utf-8" and cut != end:
                whole = complete_end(data[at:at + _BLOCK], codec)
                cut = at + whole if whole else end  # a line longer than a block is read whole
            text = data[at:cut].decode(codec, errors="replace")
            line = self._line
            for raw in text.split("\n")[:-1]:
                line(raw[:-1] if raw.endswith("\r") else raw)
            at = cut
        self._flush()
        self.offset += end
        self.pending = data[end:] or None

    def _line(self, raw: str) -> None:
        """Read one line (its `\\n` and a `\\r` before it taken off) into the buffer."""
        if "\r" in raw or "\x1b" in raw or "\x9b" in raw:
            states = drawings(raw)
            shown = states[-1]
        else:
            states, shown = None, raw
        self.lines.add(shown)
        stamp = _stamp(shown) if shown[:1] in _STAMP_STARTS else None
        if stamp is not None:
            self.last_time = stamp
        row = self._match(shown)
        if row is None:
            return
        step = row.pop("step")
        if not -_MAX_STEP <= step < _MAX_STEP:
            return  # beyond int64: no step a curve can hold
        is_bar = type(row) is BarRow
        last = self.last
        if is_bar and last is not None and last[0] and last[1] == list(row.bar) and step >= last[2]:
            self._pop()  # the same bar drawn on again after a line break: its last drawing counts
        steps, times, bars, nkeys, cols = self._buffer  # type: ignore[misc]
        i = self.steps.size + len(steps)
        steps.append(int(step))
        times.append(math.nan if self.last_time is None else self.last_time)
        bars.append(is_bar)
        nkeys.append(len(row))
        for key, value in row.items():
            col = cols.get(key)
            if col is None:
                col = cols[key] = ([], [])
            col[0].append(i)
            col[1].append(value)
        self.last = (is_bar, list(row.bar) if is_bar else [], step, list(row))
        if is_bar:
            values = self.bar_values
            for k, state in enumerate(states or (shown,)):
                drawn = row if k == len(states or (shown,)) - 1 else _BAR.match(state)
                for key, value in (drawn or {}).items():
                    if key == "step":
                        continue
                    seen = values.get(key)
                    if seen is None:
                        values[key] = [value, False]
                    elif not seen[1] and seen[0] != value:
                        seen[1] = True

    def _pop(self) -> None:
        """Take back the last row read."""
        steps, times, bars, nkeys, cols = self._buffer  # type: ignore[misc]
        keys = self.last[3]  # type: ignore[index]
        if steps:
            for buffer in (steps, times, bars, nkeys):
                buffer.pop()
            for key in keys:
                col = cols[key]
                col[0].pop()
                col[1].pop()
                if not col[0]:
                    del cols[key]
            return
        grows = [self.steps, self.times, self.bar, self.nkeys]
        for key in keys:
            grows += self.columns_[key]
        if not self._provisional:
            self._dense = DenseColumns()  # its columns hold the row taken back
        for grow in grows:
            if not self._provisional:
                grow.data = grow.data.copy()  # views handed out hold the row taken back: its slot is written again
            grow.size -= 1
        for key in keys:
            if not self.columns_[key][0].size:
                del self.columns_[key]

    def _start(self) -> None:
        self._buffer = ([], [], [], [], {})

    def _flush(self) -> None:
        steps, times, bars, nkeys, cols = self._buffer  # type: ignore[misc]
        import numpy as np

        self.steps.extend(steps)
        self.times.extend(times)
        self.bar.extend(bars)
        self.nkeys.extend(nkeys)
        for key, (rows, values) in cols.items():
            column = self.columns_.get(key)
            if column is None:
                column = self.columns_[key] = (Grow(np.int64), Grow(np.float64))
            column[0].extend(rows)
            column[1].extend(values)
        self._buffer = None

    # ----- what was read ---------------------------------------------------------------------------------------

    def read(self) -> LogRead:
        """The rows and lines read so far, the line not ended yet included (read provisionally, not kept)."""
        if self._read is not None:
            return self._read
        if self.pending is None:
            self._read = self._result(self.lines.copy())
            return self._read
        # Read the pending line as if it ended, then put everything back as it was.
        saved = (self.last_time, self.last, {k: list(v) for k, v in self.bar_values.items()}, self.lines,
                 dict(self.columns_), [(g, g.size) for g in self._grows()])
        self.lines = self.lines.copy()
        self._start()
        self._provisional = True
        try:
            self._line(_decoded(self.pending, self.codec))
            read = self._result(self.lines, self._buffer if self._buffer[0] else None)  # type: ignore[index]
        finally:
            self.last_time, self.last, self.bar_values, self.lines, self.columns_, sizes = saved
            for grow, size in sizes:
                grow.size = size
            self._buffer, self._provisional = None, False
        self._read = read
        return read

    def _grows(self) -> list[Grow]:
        return [self.steps, self.times, self.bar, self.nkeys, *(g for col in self.columns_.values() for g in col)]

    def _result(self, lines: KeptLines, buffer: Any = None) -> LogRead:
        import numpy as np

        steps, times, bars, nkeys = (g.view() for g in (self.steps, self.times, self.bar, self.nkeys))
        points = {key: (rows.view(), values.view()) for key, (rows, values) in self.columns_.items()}
        if buffer is not None and buffer[0]:
            b_steps, b_times, b_bars, b_nkeys, b_cols = buffer
            steps = np.concatenate([steps, np.asarray(b_steps, dtype=np.int64)])
            times = np.concatenate([times, np.asarray(b_times, dtype=np.float64)])
            bars = np.concatenate([bars, np.asarray(b_bars, dtype=bool)])
            nkeys = np.concatenate([nkeys, np.asarray(b_nkeys, dtype=np.int32)])
            for key, (rows, values) in b_cols.items():
                old = points.get(key, (np.empty(0, np.int64), np.empty(0)))
                points[key] = (np.concatenate([old[0], np.asarray(rows, dtype=np.int64)]),
                               np.concatenate([old[1], np.asarray(values, dtype=np.float64)]))
        labels = [key for key, (value, changed) in self.bar_values.items()
                  if not changed and float(value).is_integer() and key in points]
        if labels and bars.any():
            # Fields of progress bars that never changed are labels, not metrics: left out of the bars' rows, and
            # a bar row that logged nothing else is no row.
            labelled = np.zeros(len(steps), dtype=np.int32)
            for key in labels:
                rows, values = points[key]
                on_bar = bars[rows]
                labelled[rows[on_bar]] += 1
                points[key] = (rows[~on_bar], values[~on_bar])
            points = {key: column for key, column in points.items() if len(column[0])}
            drop = bars & (nkeys == labelled)
            if drop.any():
                keep = ~drop
                return LogRead(steps[keep], times[keep], _kept_points(points, keep), lines)
            return LogRead(steps, times, points, lines)
        read = LogRead(steps, times, points, lines)
        if buffer is None:  # the rows as kept: their columns grow in place
            read._columns = MetricColumns(steps, times, self._dense.update(len(steps), points))
        return read

    # ----- the disk cache --------------------------------------------------------------------------------------

    def state(self) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
        """What `restore` needs to go on from `offset` (the line not ended yet is read again)."""
        names, packed = pack_columns(self.columns_, self.steps.size)
        state = {"offset": self.offset, "codec": self.codec, "last_time": self.last_time, "last": self.last,
                 "bar_values": self.bar_values, "head": self.lines.head, "tail": list(self.lines.tail),
                 "count": self.lines.count, "names": names, "patterns": self.fingerprint}
        arrays = [("steps", self.steps.view()), ("times", self.times.view()), ("bar", self.bar.view()),
                  ("nkeys", self.nkeys.view())]
        arrays += packed
        return state, arrays

    @classmethod
    def restore(cls, table: PatternTable, state: dict[str, Any], arrays: dict[str, Any]) -> _LogReader:
        """A reader as `state()` left it; ValueError for an entry read with other patterns or whose columns do
        not line up."""

        reader = cls(table)
        if state["patterns"] != reader.fingerprint:
            raise ValueError("read with other patterns")
        reader.offset, reader.codec = int(state["offset"]), state["codec"]
        reader.last_time = None if state["last_time"] is None else float(state["last_time"])
        last = state["last"]
        reader.last = None if last is None else (bool(last[0]), list(last[1]), float(last[2]), list(last[3]))
        reader.bar_values = {str(k): [float(v[0]), bool(v[1])] for k, v in state["bar_values"].items()}
        reader.lines = KeptLines(list(state["head"]), state["tail"], int(state["count"]))
        reader.steps, reader.times = Grow.of(arrays["steps"]), Grow.of(arrays["times"])
        reader.bar, reader.nkeys = Grow.of(arrays["bar"]), Grow.of(arrays["nkeys"])
        n = reader.steps.size
        if not reader.times.size == reader.bar.size == reader.nkeys.size == n:
            raise ValueError("columns differ in length")
        reader.columns_ = unpack_columns(state["names"], arrays, n)
        return reader


_STAMP_STARTS = frozenset("[0123456789")


def _stamp(line: str) -> float | None:
    """`common.line_time` of a line, its calendar arithmetic done once per minute rather than per line (strptime
    costs more than reading the rest of the line): a zone's offset only changes on a whole minute."""
    m = LOG_STAMP.match(line)
    if m is None:
        return None
    stamp, frac = m[1], m[2]
    second = int(stamp[17:19])
    if second > 59:
        return line_time(line)  # a leap second, or no time at all: as `line_time` has it
    minute = _minute(stamp[:16], m[3].strip() if m[3] else None, None if m[3] else time.tzname)
    if minute is None:
        return None
    whole = minute + second
    return whole + int(frac) / 10 ** len(frac) if frac else whole


@lru_cache(maxsize=4096)
def _minute(stamp: str, zone: str | None, local: tuple[str, str] | None) -> float | None:
    # `local` keys a stamp without a zone to the zone the process was in (as `common._seconds` does)
    return stamp_seconds(stamp + ":00", zone)


def _matcher(patterns: tuple) -> Callable[[str], dict[str, float] | None]:
    """`match_line` over `patterns`; for the built-in table alone, a pattern whose word is not in the line is
    not tried (most lines match one pattern of four, and a regex search costs more than a word's)."""
    if not (type(patterns[0]) is ProgressBar and len(patterns) == len(_BUILTIN_WORDS) + 1
            and all(getattr(p, "name", "") == name for p, name in zip(patterns[1:], _BUILTIN_WORDS, strict=True))):
        return partial(match_line, patterns=patterns)
    bar, by_step, by_iter, by_epoch, by_either = patterns

    def match(line: str) -> dict[str, float] | None:
        row = bar.match(line)
        if row is not None:
            return row
        if not line.isascii() and _CASE_ODD.search(line):  # letters that match `s` or `i` without being them
            return match_line(line, patterns)
        low = line.lower()
        step, it = "step" in low, "iter" in low
        if step and "train loss" in low and (row := by_step.match(line)) is not None:
            return row
        if it and ": loss" in low and (row := by_iter.match(line)) is not None:
            return row
        if "epoch" in low and (row := by_epoch.match(line)) is not None:
            return row
        return by_either.match(line) if step or it else None

    return match


# The built-in patterns in order; a line each can match holds, in lower case, `step` and `train loss`, `iter` and
# `: loss`, `epoch`, `step` or `iter`.
_BUILTIN_WORDS = ("nanogpt_eval", "nanogpt_iter", "epoch_kv", "step_kv")
_BAR = ProgressBar()


def _decoded(data: bytes, codec: str | None) -> str:
    """A line not ended yet as text (a `\\r` before where its `\\n` will be taken off)."""
    text = decode_text(data) if codec is None else data.decode(codec, errors="replace")
    return text[:-1] if text.endswith("\r") else text


def _fingerprint(table: PatternTable) -> str:
    """What tells one pattern table from another, for the disk cache."""
    import hashlib

    described = [[type(p).__name__, p.name, getattr(getattr(p, "regex", None), "pattern", ""),
                  bool(getattr(p, "kv", False))] for p in table[0]]
    return hashlib.sha256(json.dumps(described).encode()).hexdigest()


class LogFollower:
    """A log and its rotated predecessors followed (see `reading.follow`): a file that grew is read from where
    the last read stopped; a predecessor that stopped growing is not read again; a file renamed by a rotation
    (the log becoming `.1`) goes on being followed under its new name."""

    def __init__(self) -> None:
        self._files: dict[Path, FollowedFile] = {}
        self._zipped: dict[Path, tuple[tuple[int, int], LogRead]] = {}
        self._table: PatternTable | None = None
        self._last: tuple[list[LogRead | None], LogRead] | None = None
        self._lock = threading.Lock()

    def read(self, path: Path, root: Path | None = None) -> LogRead:
        """The log at `path` with its predecessors, oldest first, as one (see `_joined`); raises OSError
        (FileNotFoundError when neither the log nor a predecessor is there)."""
        table = patterns_for(root, path.parent)
        with self._lock:
            if table is not self._table:
                self._files, self._zipped, self._table, self._last = {}, {}, table, None
            paths = rotated_logs(path)
            try:
                path.stat()
            except FileNotFoundError:  # renamed away and not created again yet: what it held is in its predecessors
                if not paths:
                    raise
            else:
                paths.append(path)
            old, files, reads = self._files, {}, []
            inodes = {(f.stat.st_dev, f.stat.st_ino): f for f in old.values()}
            for i, one in enumerate(paths):
                try:
                    reads.append(self._read_one(one, table, old, inodes, files))
                except OSError:
                    if i == len(paths) - 1 and one == path:
                        raise
                    reads.append(None)  # a predecessor that cannot be read (a FIFO, closed to us) leaves a gap
            self._files = files
            last = self._last
            if last is not None and len(last[0]) == len(reads) and all(
                    a is b for a, b in zip(last[0], reads, strict=True)):
                return last[1]
            readable = [r for r in reads if r is not None]
            if not readable:
                raise FileNotFoundError(f"{path}: neither the log nor a predecessor can be read")
            joined = _joined(readable)
            self._last = (reads, joined)
            return joined

    def _read_one(self, path: Path, table: PatternTable, old: dict[Path, FollowedFile],
                  inodes: dict[tuple[int, int], FollowedFile], files: dict[Path, FollowedFile]) -> LogRead:
        if path.name.endswith(".gz"):
            st = path.stat()
            stamp = (st.st_size, st.st_mtime_ns)
            zipped = self._zipped.get(path)
            if zipped is None or zipped[0] != stamp:
                reader = _LogReader(table)
                with open_binary(path) as fh:
                    reader.feed(_unzipped_head(fh, _MAX_UNZIPPED))
                zipped = self._zipped[path] = (stamp, reader.read())
            return zipped[1]
        followed = old.get(path)
        if followed is None:  # maybe the file followed under another name before a rotation renamed it
            try:
                st = path.stat()
            except OSError:
                st = None
            if st is not None:
                followed = inodes.get((st.st_dev, st.st_ino))
        followed = follow(followed, path, partial(_LogReader, table), kind=CACHE_KIND,
                          restore=partial(_LogReader.restore, table))
        files[path] = followed
        return followed.reader.read()


def _joined(reads: list[LogRead]) -> LogRead:
    """A log read with its predecessors (oldest first) as one: rows and lines follow on from file to file.

    Where a later file's first step is not past an earlier file's rows, the later file's rows supersede those
    at or after it (a training resumed from an earlier checkpoint, as a resume marker does for runyard runs);
    an earlier file left with none of its rows is not this run's: a copy `copytruncate` made that the log has
    not been truncated after yet, or a previous run's log rotated away when this one started. It is left out,
    with everything older.
    """
    *rotated, last = reads
    if not rotated:
        return last
    kept = [last]
    floor = float(last.step[0]) if len(last) else math.inf  # rows of earlier files from this step on are superseded
    for read in reversed(rotated):
        if len(read) and read.step[-1] >= floor:
            standing = read.step < floor
            if not standing.any():  # no row of it stands: it is not this run's
                break
            read = read.kept(standing)
        kept.append(read)
        if len(read):
            floor = min(floor, float(read.step[0]))
    kept.reverse()
    return LogRead.joined(kept)


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
        self._log = LogReading()  # the log as read so far, kept for the next change

    def key_files(self) -> list[Path]:
        """The log, its rotated predecessors, and the runyard.toml files whose patterns read it."""
        return [*rotated_logs(self.path), self.path, *config_files(self.root, self.path.parent)]

    def _read(self) -> LogRead:
        return self._log.read(self.path, self.root)

    def read_info(self) -> RunInfo:
        read = self._read()
        lines = read.lines
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
                       last_logged=last_line_time(lines), created=created, last_write=last_write, rows=len(read),
                       last_step=int(read.step[-1]) if len(read) else None)

    def metrics_data(self) -> MetricColumns:
        """The log's metric rows; a log that grew is read from where the last read stopped (`LogFollower`)."""
        return self._read().columns()

    def log_path(self) -> Path | None:
        return self.path
