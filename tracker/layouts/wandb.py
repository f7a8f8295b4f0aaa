"""Weights & Biases offline runs: `wandb/offline-run-<stamp>-<id>/run-<id>.wandb`, read from the transaction log.

The `.wandb` file is W&B's LevelDB-style log: a 7-byte header, then 32 KiB blocks of checksummed chunks that
join into serialized `wandb_internal_pb2.Record` messages. wandb 0.31 ships no Python reader for that framing
any more (its Go core reads the log), so the chunks are joined here. As in LevelDB, a damaged chunk costs the
rest of its block; reading goes on after it.

The log is followed as `reading.follow` does for every foreign layout (`_Reader`): a log that grew is read
from where the last read stopped (a record cut short waits for its rest), a big one in pieces, and what it was
decoded into (the history as columns, the folded config, summary, identity and goals) is kept on disk outside
the runs tree. History and summary records of the shapes wandb writes are decoded with numpy (`wandbrec`) and
cross-checked against wandb's protobuf classes; every other record is parsed by those classes, one by one, and
folded in file order exactly as a record-by-record read of the whole log folds it (the tests keep that
reader, `tests/wandblog.py`, and compare the two).
"""

from __future__ import annotations

import copy
import fnmatch
import json
import math
import os
import struct
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial, wraps
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import TrackerError
from ..files import open_binary, read_bytes
from ..jsonl import as_float
from ..liveness import interval_median
from ..model import CRASHED, FAILED, FINISHED, RUNNING, WANDB, Goal, RunInfo
from ..reading.follow import FollowedFile, Grow, follow
from .base import Detection, MetricColumns, RunSource, metric_column

MISSING_WANDB = "reading W&B offline runs needs the wandb package: pip install 'runyard[wandb]'"
CRASH_EXIT_CODE = 254  # the exit code W&B records for a crashed run

_RUN_DIRS = ("offline-run-*", "run-*")
_HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
_BLOCK = 32768
_GOALS = {1: "min", 2: "max"}  # MetricRecord.GOAL_MINIMIZE, GOAL_MAXIMIZE
CACHE_KIND = "wandb"  # the disk cache's folder for decoded `.wandb` logs (see `reading.filecache`)


def detect(directory: Path, names: list[str]) -> Detection | None:
    """One run for a W&B run folder holding its `.wandb` log; None for any other folder (names only, no wandb)."""
    if not any(fnmatch.fnmatchcase(directory.name, pattern) for pattern in _RUN_DIRS):
        return None
    logs = sorted(name for name in names if name.startswith("run-") and name.endswith(".wandb"))
    if not logs:
        return None
    own = f"run-{directory.name.rsplit('-', 1)[-1]}.wandb"
    return Detection(runs=[WandbRun(directory, directory / (own if own in logs else logs[0]))], descend=False)


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` of a `WandbRun` run with the run's lock held: its reader is fed by one thread at a time."""
    @wraps(method)
    def run(self: WandbRun, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return run


class WandbRun(RunSource):
    """One W&B run folder; everything comes from its `.wandb` transaction log, parsed once per file version."""

    format = "wandb"

    def __init__(self, path: Path, wandb_file: Path) -> None:
        super().__init__(path)
        self.wandb_file = wandb_file
        self._followed: FollowedFile | None = None
        # The reader is brought up to date by whichever thread asks (a run's read lane, the app's thread for a
        # goal): one at a time. `goals()` and `log_path()` do not wait for a read under way (a big log's part
        # takes a second or two): they answer from what the last read left (`_seen`).
        self._lock = threading.RLock()
        self._seen: tuple[dict[str, Goal], int | None] | None = None  # goals, exit code as last read
        self._looked = False  # a first look read rows no `metrics_upto` has handed out yet

    def key_files(self) -> list[Path]:
        """The transaction log: every change to the run is appended to it."""
        return [self.wandb_file]

    @_locked
    def read_info(self) -> RunInfo:
        """Identity, status and history extent from the run, history and exit records."""
        return self._info(self._reader())

    @_locked
    def first_info(self) -> RunInfo:
        """What a first look tells, for a screen that opens on the run at once: identity and config from the
        log's first part (the part a first curve is drawn from), status and last step from its last blocks,
        which hold the latest history rows and, once the run ended, its exit record; `rows` stays unknown
        (None) until the log is read whole. A log small enough, or read already, gives `read_info()`."""
        st = _stat(self.wandb_file)
        if st is None or st.st_size <= FIRST_LOOK_BYTES:
            return self.read_info()
        reader = self._reader(FIRST_LOOK_BYTES)
        self._looked = True
        if self._followed is None or not self._followed.behind:
            return self._info(reader)
        return self._info(reader, _tail_reader(self.wandb_file, self._followed.stat.st_size, self._followed.end))

    @_locked
    def first_config(self) -> dict[str, Any]:
        """The config as the part of the log read so far left it (the run and config records come first; one
        changed later shows once the log is read whole), without reading more."""
        if self._followed is None or not self._followed.behind:
            return self.config()
        return _public(self._followed.reader.info.config)

    def _info(self, reader: _Reader, tail: _Reader | None = None) -> RunInfo:
        """The run's info from `reader`; with `tail` (the log's last blocks, past what `reader` read), the
        status, clock and last step from there and the row count left unknown."""
        state = reader.info
        st = _stat(self.wandb_file)
        mtime = st.st_mtime if st else None
        end = tail.info if tail is not None else state
        status = _status(end.exit_code)
        times = reader.times.view()
        known = times[~np.isnan(times)]
        steps = reader.steps.view()
        if tail is not None and len(tail.steps):
            steps, last_times = tail.steps.view(), tail.times.view()
            known = np.concatenate([known, last_times[~np.isnan(last_times)]])
        if tail is not None:
            state = copy.copy(state)
            state.exit_code, state.runtime = end.exit_code, end.runtime
        run_id = state.run_id or self.wandb_file.stem.removeprefix("run-")
        skipped = reader.skipped
        cut = reader.cut if tail is None else tail.cut
        return RunInfo(
            id=run_id, name=state.name or run_id, path=self.path, format=self.format, status=status,
            created=state.start if state.start is not None else (float(known[0]) if len(known) else None),
            ended=_ended(state, status, known), last_time=float(known.max()) if len(known) else None,
            last_write=mtime,
            # Without an exit record the log's mtime is the run's only sign of life: quiet for LEET's 10
            # minutes, it crashed (judged by `liveness`, so a cached listing ages as a fresh read would).
            quiet_status=CRASHED, host=state.host or None, tags=list(state.tags), notes=state.notes,
            last_step=int(steps[-1]) if len(steps) else None, rows=len(steps) if tail is None else None,
            interval_median=interval_median(times), error=reader.error,
            # A record cut short is still being written while the run lives; once it is given up, it is lost.
            skipped_lines=skipped + int(cut and status == CRASHED),
            pending_lines=int(cut and status == RUNNING),
            extra=_extra(state),
        )

    @_locked
    def metrics_data(self) -> MetricColumns:
        """One row per history record: step from `_step`, time from `_timestamp`, and the numeric user keys it
        holds (a logged NaN among them; W&B's own `_...` keys are not metrics)."""
        return self._reader().columns_now()

    @_locked
    def metrics_upto(self, budget: int) -> MetricColumns:
        """The rows read so far after reading at most about `budget` more bytes of the log; `complete` is
        False while more remain (a first look at a big run, drawn while the rest loads)."""
        if self._looked and self._followed is not None and self._followed.behind:
            reader = self._followed.reader  # the rows a first look read and nobody drew yet: at once
        else:
            reader = self._reader(budget)
        self._looked = False
        columns = reader.columns_now()
        columns.complete = self._followed is None or not self._followed.behind
        return columns

    @_locked
    def config(self) -> dict[str, Any]:
        """The run's config as the config and run records left it, without W&B's internal `_wandb` key."""
        return _public(self._reader().info.config)

    @_locked
    def wandb_summary(self) -> dict[str, Any]:
        """The run summary as the summary records left it, without W&B's internal `_wandb` key."""
        return _public(self._reader().info.summary)

    def goals(self) -> dict[str, Goal]:
        """Directions from the run's metric definitions (`define_metric(name, summary="max")`, or a goal where an
        older SDK wrote one); a definition by pattern (`"val/*"`) applies to the logged metrics it matches.
        While another thread reads the log, as far as the last read told (definitions come first in a log)."""
        return dict(self._seen_now()[0])

    def _seen_now(self) -> tuple[dict[str, Goal], int | None]:
        """(goals, exit code) as the log read so far tells, brought up to date when no read is under way: a
        first look if none was made yet, what was appended if the log was read whole, nothing more while a
        read in parts goes on (its next part is the reading thread's); else as the last look left them."""
        if self._lock.acquire(blocking=self._seen is None):
            try:
                followed = self._followed
                if followed is not None and followed.behind:
                    reader = followed.reader
                else:
                    reader = self._reader(FIRST_LOOK_BYTES if followed is None else None)
                self._seen = (_goals_of(reader), reader.info.exit_code)
            finally:
                self._lock.release()
        assert self._seen is not None
        return self._seen

    def origin(self) -> dict[str, Any]:
        """git commit, command line, Python, torch and host, from what W&B keeps beside its log: the run and
        environment records at the head of the `.wandb` file, `files/wandb-metadata.json` (older SDKs),
        `files/requirements.txt` (torch's version) and `files/diff.patch` (written when the tree was dirty)."""
        facts = _head_origin(self.wandb_file)
        files = self.path / "files"
        try:
            meta = orjson.loads(read_bytes(files / "wandb-metadata.json"))
        except (OSError, ValueError):
            meta = None
        if isinstance(meta, dict):
            git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
            program, args = meta.get("program"), meta.get("args")
            found = {"git.commit": git.get("commit"), "host": meta.get("host"),
                     "python": _version_in(meta.get("python")),
                     "argv": ([program] if isinstance(program, str) and program else [])
                     + [str(a) for a in args or [] if isinstance(args, list)] or None}
            facts.update({k: v for k, v in found.items() if v})
        try:
            requirements = read_bytes(files / "requirements.txt").decode("utf-8", "replace")
        except OSError:
            requirements = ""
        for line in requirements.splitlines():
            name, _, version = line.strip().partition("==")
            if name.lower() == "torch" and version:
                facts["torch"] = version
        if facts.get("git.commit"):
            try:  # W&B saves the uncommitted changes as diff.patch; no patch says nothing about a clean tree
                if (files / "diff.patch").stat().st_size > 0:
                    facts["git.dirty"] = True
            except OSError:
                pass
        return facts

    def log_path(self) -> Path | None:
        """The run's console output, which W&B saves as `files/output.log`: once it exists, or while the run is
        still written (W&B creates the file at its first flush), so a follower picks it up when it appears."""
        path = self.path / "files" / "output.log"
        if path.is_file() or self._seen_now()[1] is None:  # no exit record yet: it may still appear
            return path
        return None

    @_locked
    def _reader(self, budget: int | None = None) -> _Reader:
        """The log's reader, brought up to date with the file (only what was appended is read): all of it, or
        at most about `budget` more bytes. A log that cannot be read is a reader holding the error."""
        path = self.wandb_file
        new_reader = partial(_Reader, path.name)
        restore = partial(_Reader.restore, path.name)
        try:
            self._followed = follow(self._followed, path, new_reader, kind=CACHE_KIND, restore=restore,
                                    limit=None if budget is None else max(budget, 1))
        except OSError as exc:
            self._followed = None
            reader = _Reader(path.name)
            reader.error = f"cannot read {path.name}: {exc.strerror or exc}"
        else:
            reader = self._followed.reader
        return reader


@dataclass
class _State:
    """What the records of one `.wandb` file say, folded in file order."""

    run_id: str = ""
    name: str = ""
    project: str = ""
    entity: str = ""
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    host: str = ""
    start: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[dict[str, float]] = field(default_factory=list)
    goal_names: dict[str, str] = field(default_factory=dict)     # metric -> "min"/"max", from metric records
    goal_patterns: dict[str, str] = field(default_factory=dict)  # glob -> "min"/"max"
    exit_code: int | None = None
    runtime: int = 0
    records: int = 0
    skipped: int = 0
    cut: bool = False
    error: str | None = None


class _Reader:
    """One `.wandb` log read from its start in pieces, as it grows (see `reading.follow`): the records folded
    so far, the history as columns (`Grow` arrays per metric, never a dict per row).

    `feed` takes the log's bytes from `offset` on; `offset` stops at a record boundary (a record whose chunks
    are not all there yet waits for the next piece), so the 32 KiB block position is `offset % 32768`. History
    and summary records of the plain shapes are decoded by `wandbrec` with numpy; every other record, and any
    record those do not fit, by wandb's protobuf classes, in file order, folded as a record-by-record read folds it.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.offset = 0
        self.lost = False        # after damage: the orphaned rest of a record is not counted again
        self.bad_header = False
        self.damaged = 0         # damaged chunks, broken chains and records that do not parse, up to `offset`
        self.pending = 0         # damage seen after `offset`, in a block not all written yet
        self.cut = False         # the log ends inside a record
        self.error: str | None = None
        self.info = _State()     # identity, config, summary, goals and exit (its row lists stay empty)
        self.steps, self.times = Grow(np.int64), Grow(np.float64)
        self.columns: dict[str, tuple[Grow, Grow]] = {}  # metric -> (rows, values)

    @property
    def skipped(self) -> int:
        """Damaged chunks and records passed over, as a fresh read of the log counts them."""
        return self.damaged + self.pending

    def columns_now(self) -> MetricColumns:
        """The metric rows read so far."""
        return MetricColumns.from_points(self.steps.view(), self.times.view(), {
            name: (rows.view(), values.view()) for name, (rows, values) in self.columns.items()})

    def feed(self, data: bytes) -> None:
        """Read the records in `data`, the log's bytes from `offset` on; `offset` moves past the whole ones."""
        from . import wandbrec

        if self.bad_header:
            self.offset += len(data)
            return
        skip = 0
        if self.offset == 0:
            head = bytes(data[:len(_HEADER)])
            if head != _HEADER:
                if not _HEADER.startswith(head):
                    self.bad_header, self.offset = True, len(data)
                    self.error = f"{self.name} is not a W&B transaction log (bad header)"
                self.cut, self.pending = False, 0
                return
            skip = len(_HEADER)
        frames = wandbrec.frame(data, skip, self.offset, self.lost)
        if len(frames.starts):
            self._take(frames)
        self.offset += frames.consumed
        self.damaged += frames.damaged
        self.lost, self.pending, self.cut = frames.lost, frames.pending, frames.cut
        self._settle_error()

    def _settle_error(self) -> None:
        """The error a fresh read would report: a log of damage only (a bad header stays what it is)."""
        if not self.bad_header:
            damaged = not self.info.records and self.skipped
            self.error = f"no readable record in {self.name} ({self.skipped} damaged)" if damaged else None

    def _take(self, frames: Any) -> None:
        """Fold the complete records of one piece, in file order."""
        from . import wandbrec

        record_class, decode_error = _protobuf()
        SummaryItem = _pb2().SummaryItem

        buf, starts, lengths = frames.buf, frames.starts, frames.lengths
        u8 = np.frombuffer(buf, dtype=np.uint8)
        dec = wandbrec.decode(frames, SummaryItem, decode_error)
        kind = dec.kind
        fast_rows = self._fast_history(u8, dec)  # marks in `kind` the history records it leaves to protobuf
        self._check_summary_text(u8, dec)
        info = self.info
        summary_records = np.flatnonzero(kind == wandbrec.SUMMARY)
        others = np.flatnonzero((kind != wandbrec.SUMMARY) & (kind != wandbrec.HISTORY))
        slow_rows: dict[int, tuple[int, float, dict[str, float]]] = {}
        done = 0  # summary records folded so far
        for i in [*others.tolist(), len(kind)]:
            upto = int(np.searchsorted(summary_records, i))
            if upto > done:
                self._fold_summaries(u8, dec, int(summary_records[done]), int(summary_records[upto - 1]))
                info.records += upto - done
                done = upto
            if i == len(kind):
                break
            record = record_class()
            try:
                record.ParseFromString(buf[int(starts[i]):int(starts[i] + lengths[i])])
            except decode_error:
                self.damaged += 1
                continue
            info.records += 1
            if record.WhichOneof("record_type") == "history":
                slow_rows[i] = _history_row(record.history)
            else:
                _fold(info, record)
        self._add_rows(len(kind), fast_rows, slow_rows)

    def _fast_history(self, u8: np.ndarray, dec: Any) -> Any:
        """Rows of the history records decoded by numpy: (records, steps, times, points per metric); the records
        that hold anything but plain numbers, repeat a key or lack an integral `_step` are marked in `dec.kind`
        for the protobuf classes."""
        from . import wandbrec

        kind, items = dec.kind, dec.history
        count = len(kind)
        names: dict[str, int] = {}
        group_name = np.array([names.setdefault(".".join(key[0]) or key[1], len(names)) if key else -1
                               for key in dec.keys] or [-1], dtype=np.int64)
        name_list = list(names)
        nid = group_name[items.group] if len(items.group) else np.zeros(0, dtype=np.int64)
        numeric, values, objects = wandbrec.numbers(u8, items.value_start, items.value_end, orjson.loads)
        slow = np.zeros(count, dtype=bool)
        slow[items.record[~numeric]] = True
        slow[items.record[nid < 0]] = True
        if len(nid):
            slow[_repeated(items.record, nid, len(names), count)] = True
        step_id, time_id = names.get("_step", -1), names.get("_timestamp", -1)
        at = np.cumsum(numeric) - 1  # each numeric item's place among the converted values
        is_step = numeric & (nid == step_id)
        has_step = np.zeros(count, dtype=bool)
        has_step[items.record[is_step]] = True
        history = kind == wandbrec.HISTORY
        slow |= history & ~has_step
        step_rec = items.record[is_step]
        step_values = [objects[j] for j in at[is_step].tolist()]
        steps = np.zeros(count, dtype=np.int64)
        good, exact = _exact_steps(step_values)
        steps[step_rec[good]] = exact
        slow[step_rec[~good]] = True
        fast = history & ~slow
        times = np.full(count, np.nan)
        is_time = numeric & (nid == time_id)
        times[items.record[is_time]] = values[at[is_time]]
        metric = np.array([not name.startswith("_") for name in name_list] or [False], dtype=bool)
        take = numeric & fast[items.record] & (metric[nid] if len(nid) else np.zeros(0, dtype=bool))
        points: dict[str, tuple[np.ndarray, np.ndarray, int]] = {}
        if take.any():
            t_rec, t_nid, t_val = items.record[take], nid[take], values[at[take]]
            t_pos = items.position[take]
            for k in np.unique(t_nid).tolist():
                sel = np.flatnonzero(t_nid == k)
                points[name_list[k]] = (t_rec[sel], t_val[sel], (int(t_rec[sel[0]]), int(t_pos[sel[0]])))
        if fast.any() and not _cross_checked(u8, dec, fast, steps, times, points, name_list):
            fast[:] = False  # never expected: the protobuf classes read every history record of this piece
            points = {}
        kind[history & ~fast] = 0
        return fast, steps, times, points

    def _check_summary_text(self, u8: np.ndarray, dec: Any) -> None:
        """Leave to the protobuf classes the summary records whose value texts are not valid UTF-8 (they do not
        parse, and are counted as damaged there)."""
        from . import wandbrec

        items = dec.summary
        high = np.flatnonzero(u8 >= 0x80)
        if not len(high) or not len(items.record):
            return
        inside = np.searchsorted(high, items.value_start) < np.searchsorted(high, items.value_end)
        for i in np.flatnonzero(inside).tolist():
            try:
                u8[int(items.value_start[i]):int(items.value_end[i])].tobytes().decode()
            except UnicodeDecodeError:
                dec.kind[int(items.record[i])] = 0
        bad = dec.kind[items.record] != wandbrec.SUMMARY
        if bad.any():
            keep = ~bad
            dec.summary = type(items)(*(getattr(items, f)[keep] for f in (
                "record", "position", "group", "value_start", "value_end")))

    def _fold_summaries(self, u8: np.ndarray, dec: Any, first: int, last: int) -> None:
        """Apply the summary records `first`..`last` (plain ones, nothing else between them that touches the
        summary): each key path takes its last value, in the order the paths first appear, as applying them one
        by one would leave the tree; when one path lies inside another, they are applied one by one."""
        items = dec.summary
        lo, hi = np.searchsorted(items.record, [first, last + 1])
        if lo == hi:
            return
        paths: dict[tuple[str, ...], int] = {}
        group_path = np.array([paths.setdefault(tuple(key[0]) or (key[1],), len(paths)) if key else -1
                               for key in dec.keys], dtype=np.int64)
        pid = group_path[items.group[lo:hi]]
        start, end = items.value_start[lo:hi], items.value_end[lo:hi]
        tree = self.info.summary
        path_list = list(paths)
        present = np.flatnonzero(np.bincount(pid, minlength=len(paths)))
        used = {path_list[k] for k in present.tolist()}
        if any(path[:n] in used for path in used for n in range(1, len(path))):
            for k, s, e in zip(pid.tolist(), start.tolist(), end.tolist(), strict=True):
                _put(tree, list(path_list[k]), _loads(u8[s:e].tobytes().decode()))
            return
        index = np.arange(len(pid))
        first_at = np.full(len(paths), len(pid))
        last_at = np.full(len(paths), -1)
        np.minimum.at(first_at, pid, index)
        np.maximum.at(last_at, pid, index)
        for k in sorted(present.tolist(), key=lambda k: first_at[k]):
            j = int(last_at[k])
            _put(tree, list(path_list[k]), _loads(u8[int(start[j]):int(end[j])].tobytes().decode()))

    def _add_rows(self, count: int, fast: Any, slow_rows: dict[int, tuple[int, float, dict[str, float]]]) -> None:
        """Append this piece's rows in file order: the numpy-decoded ones and those the protobuf classes read."""
        is_fast, steps, times, points = fast
        has_row = is_fast.copy()
        for i, (step, time, _) in slow_rows.items():
            has_row[i] = True
            steps[i], times[i] = step, time
        base = len(self.steps)
        row_of = base + np.cumsum(has_row) - has_row
        self.steps.extend(steps[has_row])
        self.times.extend(times[has_row])
        slow_points: dict[str, tuple[list[int], list[float], tuple[int, int]]] = {}
        for i, (_, _, values) in slow_rows.items():
            for position, (name, value) in enumerate(values.items()):
                rows, vals, _ = slow_points.setdefault(name, ([], [], (i, position)))
                rows.append(int(row_of[i]))
                vals.append(value)
        firsts = {name: p[2] for name, p in points.items()}
        for name, p in slow_points.items():
            firsts[name] = min(firsts.get(name, p[2]), p[2])
        for name in sorted(firsts, key=firsts.__getitem__):  # new metrics in the order they first appear
            column = self.columns.get(name)
            if column is None:
                column = self.columns[name] = (Grow(np.int64), Grow(np.float64))
            rows_parts, value_parts = [], []
            if name in points:
                rows_parts.append(row_of[points[name][0]])
                value_parts.append(points[name][1])
            if name in slow_points:
                rows_parts.append(np.array(slow_points[name][0], dtype=np.int64))
                value_parts.append(np.array(slow_points[name][1], dtype=np.float64))
            rows = np.concatenate(rows_parts)
            values = np.concatenate(value_parts)
            if len(rows_parts) > 1:
                order = np.argsort(rows, kind="stable")
                rows, values = rows[order], values[order]
            column[0].extend(rows)
            column[1].extend(values)

    def state(self) -> tuple[dict[str, Any], list[tuple[str, np.ndarray]]]:
        """What `restore` needs to go on from `offset`: JSON-able state and the columns."""
        info = self.info
        names = list(self.columns)
        state = {
            "offset": self.offset, "lost": self.lost, "bad_header": self.bad_header, "damaged": self.damaged,
            "error": self.error if self.bad_header else None, "names": names,
            "info": {key: getattr(info, key) for key in _INFO_FIELDS},
        }
        arrays = [("steps", self.steps.view()), ("times", self.times.view())]
        for i, name in enumerate(names):
            rows, values = self.columns[name]
            arrays += [(f"r{i}", rows.view()), (f"v{i}", values.view())]
        return state, arrays

    @classmethod
    def restore(cls, name: str, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> _Reader:
        """A reader as `state()` left it (arrays writable, taken without copying); ValueError for an entry whose
        columns do not line up."""
        reader = cls(name)
        reader.offset, reader.lost = int(state["offset"]), bool(state["lost"])
        reader.bad_header, reader.damaged = bool(state["bad_header"]), int(state["damaged"])
        reader.error = state["error"]
        for key in _INFO_FIELDS:
            setattr(reader.info, key, state["info"][key])
        reader.steps, reader.times = Grow.of(arrays["steps"]), Grow.of(arrays["times"])
        reader.columns = {metric: (Grow.of(arrays[f"r{i}"]), Grow.of(arrays[f"v{i}"]))
                          for i, metric in enumerate(state["names"])}
        rows = len(reader.steps)
        if len(reader.times) != rows or any(len(r) != len(v) or (len(r) and int(r.data[r.size - 1]) >= rows)
                                            for r, v in reader.columns.values()):
            raise ValueError("columns do not line up")
        reader._settle_error()
        return reader


# the parts of `_State` a reader keeps in the disk cache (its row lists stay empty)
_INFO_FIELDS = ("run_id", "name", "project", "entity", "tags", "notes", "host", "start", "config", "summary",
                "goal_names", "goal_patterns", "exit_code", "runtime", "records")


def _repeated(record: np.ndarray, name: np.ndarray, names: int, count: int) -> np.ndarray:
    """The records (given per item, items in record order) in which a name appears more than once."""
    key = record * max(names, 1) + name
    ordered = np.sort(key)
    twice = ordered[1:][ordered[1:] == ordered[:-1]]
    return np.unique(twice // max(names, 1))


def _exact_steps(values: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Which `_step` values give a row's step as `_step` does (an int in int64's range, or an integral float),
    and those steps."""
    if all(type(v) is int for v in values):
        try:
            return np.ones(len(values), dtype=bool), np.array(values, dtype=np.int64)
        except OverflowError:
            pass
    good = np.zeros(len(values), dtype=bool)
    out = []
    for i, v in enumerate(values):
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, int):
            if -(2**63) <= v < 2**63:
                good[i] = True
                out.append(v)
        elif isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
            good[i] = True
            out.append(int(v))
    return good, np.array(out, dtype=np.int64)


def _cross_checked(u8: np.ndarray, dec: Any, fast: np.ndarray, steps: np.ndarray, times: np.ndarray,
                   points: dict[str, tuple[np.ndarray, np.ndarray, tuple[int, int]]], name_list: list[str]) -> bool:
    """True when the records that first hold each metric of the piece read by numpy read the same through
    wandb's protobuf classes (step, time and every value, bit for bit)."""
    record_class, decode_error = _protobuf()
    firsts = {int(np.flatnonzero(fast)[0])} | {p[2][0] for p in points.values()}
    starts, lengths = dec.starts, dec.lengths
    for i in sorted(firsts):
        try:
            record = record_class.FromString(u8[int(starts[i]):int(starts[i] + lengths[i])].tobytes())
        except decode_error:
            return False
        if record.WhichOneof("record_type") != "history":
            return False
        step, time, values = _history_row(record.history)
        mine = {name: float(p[1][j]) for name, p in points.items() for j in np.flatnonzero(p[0] == i)[:1].tolist()}
        if step != int(steps[i]) or not _same(time, float(times[i])) or mine.keys() != values.keys():
            return False
        if not all(_same(mine[name], value) for name, value in values.items()):
            return False
    return True


def _same(a: float, b: float) -> bool:
    """Bit-for-bit equal floats (a NaN equals a NaN)."""
    return struct.pack("<d", a) == struct.pack("<d", b)


def _stat(path: Path) -> os.stat_result | None:
    """The file's stat, or None when it is gone."""
    try:
        return path.stat()
    except OSError:
        return None


def _goals_of(reader: _Reader) -> dict[str, Goal]:
    """The metric directions the records read so far define (see `WandbRun.goals`)."""
    state = reader.info
    found: dict[str, Goal] = {}
    if state.goal_patterns:
        names = set(reader.columns)
        for pattern, direction in state.goal_patterns.items():
            found.update((metric_column(name), Goal(direction, WANDB))
                         for name in names if fnmatch.fnmatchcase(name, pattern))
    found.update((metric_column(name), Goal(direction, WANDB)) for name, direction in state.goal_names.items())
    return found


FIRST_LOOK_BYTES = 1 << 20  # the part of a big log a first look reads: identity and config are in its first records
_TAIL_BLOCKS = 4            # the last 32 KiB blocks a first look reads for the run's end


def _tail_reader(path: Path, size: int, start: int) -> _Reader:
    """A reader of the log's last blocks only (from a block boundary past `start`, where the main read
    stopped): the rows and records there, a record begun in an earlier block left out as orphaned."""
    first = max(start, (size // _BLOCK - _TAIL_BLOCKS + 1) * _BLOCK)
    first = -(-first // _BLOCK) * _BLOCK  # a block boundary: chunks start there
    reader = _Reader(path.name)
    reader.offset, reader.lost = first, True
    if first < size:
        try:
            with open(path, "rb") as fh:
                fh.seek(first)
                reader.feed(fh.read(size - first))
        except OSError:
            pass
    return reader


def _protobuf() -> tuple[type, type[Exception]]:
    """wandb's `Record` class and protobuf's `DecodeError`, imported on first use; a TrackerError without wandb."""
    from google.protobuf.message import DecodeError

    return _pb2().Record, DecodeError


_PB2: list[Any] = []  # wandb's record classes once loaded
_PB2_LOCK = threading.Lock()


def _pb2() -> Any:
    """wandb's generated `wandb_internal_pb2` module; a TrackerError where wandb is not installed."""
    if _PB2:
        return _PB2[0]
    with _PB2_LOCK:
        if not _PB2:
            _PB2.append(_load_pb2())
    return _PB2[0]


def _load_pb2() -> Any:
    """The record classes, loaded without running `wandb/__init__.py` when wandb is not imported yet.

    Importing the wandb package costs 0.6-1.2 s here (its whole SDK), ten times the record classes alone, and a
    run screen waits for them before its first curve. Its package and `wandb.proto` are stood in for by bare
    modules while the generated files load, then every `wandb` module is taken out of `sys.modules` again, so
    that a later `import wandb` in the process runs as it would have (protobuf's pool already holds the same
    descriptors, and hands out the same classes). Any failure falls back to the plain import.
    """
    import importlib
    import importlib.util
    import types

    try:
        if "wandb" not in sys.modules:
            spec = importlib.util.find_spec("wandb")
            if spec is None or not spec.submodule_search_locations:
                raise TrackerError(MISSING_WANDB)
            locations = list(spec.submodule_search_locations)
            stand_ins = {"wandb": locations, "wandb.proto": [os.path.join(locations[0], "proto")]}
            before = set(sys.modules)
            for name, path in stand_ins.items():
                module = types.ModuleType(name)
                module.__path__ = path
                sys.modules[name] = module
            try:
                return importlib.import_module("wandb.proto.wandb_internal_pb2")
            except ImportError:
                pass
            finally:
                for name in set(sys.modules) - before:
                    if name == "wandb" or name.startswith("wandb."):
                        del sys.modules[name]
        from wandb.proto import wandb_internal_pb2
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in ("wandb", "google"):
            raise TrackerError(MISSING_WANDB) from exc
        raise TrackerError(f"cannot load wandb's record classes: {exc}") from exc
    return wandb_internal_pb2


def _fold(state: _State, record: Any) -> None:
    """Applies one record to the state; record types a listing does not show are passed over."""
    kind = record.WhichOneof("record_type")
    if kind == "run":
        _fold_run(state, record.run)
    elif kind == "config":
        _apply_items(state.config, record.config)
    elif kind == "summary":
        _apply_items(state.summary, record.summary)
    elif kind == "history":
        _fold_history(state, record.history)
    elif kind == "metric":
        _fold_metric(state, record.metric)
    elif kind == "exit":
        state.exit_code, state.runtime = record.exit.exit_code, record.exit.runtime


def _fold_metric(state: _State, metric: Any) -> None:
    """A metric definition's direction: its goal where set, else a summary of `min` or of `max` (not both)."""
    direction = _GOALS.get(metric.goal)
    if direction is None and metric.HasField("summary") and metric.summary.min != metric.summary.max:
        direction = "min" if metric.summary.min else "max"
    if direction is None:
        return
    if metric.name:
        state.goal_names[metric.name] = direction
    elif metric.glob_name:
        state.goal_patterns[metric.glob_name] = direction


def _fold_run(state: _State, run: Any) -> None:
    """Identity from a run record (a later one, as on resume, overrides what it sets) plus its config."""
    state.run_id = run.run_id or state.run_id
    state.name = run.display_name or state.name
    state.project = run.project or state.project
    state.entity = run.entity or state.entity
    state.notes = run.notes or state.notes
    state.host = run.host or state.host
    state.tags = list(run.tags) or state.tags
    if run.HasField("start_time"):
        state.start = run.start_time.seconds + run.start_time.nanos / 1e9
    _apply_items(state.config, run.config)
    _apply_items(state.summary, run.summary)


def _apply_items(tree: dict[str, Any], update: Any) -> None:
    """Applies a config or summary record's updates and removals (JSON values at nested key paths) to `tree`."""
    for item in update.update:
        _put(tree, _item_path(item), _loads(item.value_json))
    for item in update.remove:
        _drop(tree, _item_path(item))


def _item_path(item: Any) -> list[str]:
    """The key path of a config, summary or history item: `nested_key` when set, else `[key]`."""
    return list(item.nested_key) or [item.key]


def _put(tree: dict[str, Any], path: list[str], value: Any) -> None:
    """Sets `value` at `path` in a nested dict, creating the dicts on the way."""
    for key in path[:-1]:
        if not isinstance(tree.get(key), dict):
            tree[key] = {}
        tree = tree[key]
    tree[path[-1]] = value


def _drop(tree: dict[str, Any], path: list[str]) -> None:
    """Removes the value at `path` from a nested dict, if it is there."""
    for key in path[:-1]:
        tree = tree.get(key)
        if not isinstance(tree, dict):
            return
    tree.pop(path[-1], None)


def _loads(text: str) -> Any:
    """A JSON value as W&B writes it (NaN and Infinity included); text that is not JSON is kept as text."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass  # NaN and Infinity are not JSON to orjson; the standard parser takes them
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _fold_history(state: _State, history: Any) -> None:
    """One metrics row appended to the lists of `state` (see `_history_row`)."""
    step, time, values = _history_row(history)
    state.steps.append(step)
    state.times.append(time)
    state.values.append(values)


def _history_row(history: Any) -> tuple[int, float, dict[str, float]]:
    """One metrics row: step from `_step`, time from `_timestamp`, the numeric user keys as floats."""
    raw = {".".join(item.nested_key) or item.key: _history_value(item) for item in history.item}
    stamp = as_float(raw.get("_timestamp"))
    # The row's step and time are W&B's own `_step`/`_timestamp`; a user key named `step` or `time` is a metric.
    return (_step(raw.get("_step"), history.step.num), math.nan if stamp is None else stamp,
            {name: value for key, v in raw.items() if not key.startswith("_") for name, value in _numbers(key, v)})


def _step(value: Any, fallback: int) -> int:
    """A history row's step: `_step` as logged (an int stays exact, up to int64's limit), else the record's."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(2**63) <= value < 2**63 else fallback
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() and abs(number) < 2**63 else fallback


def _history_value(item: Any) -> Any:
    """The value of a history item, from its JSON form or, when the SDK wrote only that, its typed form."""
    if item.value_json:
        return _loads(item.value_json)
    kind = item.WhichOneof("value")
    if kind == "json":
        return _loads(item.json)
    return None if kind in (None, "none") else getattr(item, kind)


def _numbers(key: str, value: Any) -> Iterator[tuple[str, float]]:
    """(name, value) for a number, or for each numeric leaf of a plain nested dict as `key.sub`; media are not."""
    if isinstance(value, dict) and "_type" not in value:
        for sub, inner in value.items():
            yield from _numbers(f"{key}.{sub}", inner)
    elif (number := as_float(value)) is not None:
        yield key, number


def _status(exit_code: int | None) -> str:
    """Finished, failed or crashed from the exit record; without one, running (until the log goes quiet)."""
    if exit_code is None:
        return RUNNING
    if exit_code == 0:
        return FINISHED
    return CRASHED if exit_code == CRASH_EXIT_CODE else FAILED


def _ended(state: _State, status: str, times: Any) -> float | None:
    """When a run that is over ended: start plus the exit record's runtime, or the last history time if later
    (`times`: the rows' known times)."""
    if status == RUNNING:
        return None
    ends = [float(max(times))] if len(times) else []
    if state.exit_code is not None and state.start is not None:
        ends.append(state.start + state.runtime)
    return max(ends, default=None)


_ORIGIN_HEAD = 4 * _BLOCK  # the run, environment and telemetry records are written before any history


def _head_origin(path: Path) -> dict[str, Any]:
    """git commit, argv, Python and host from the records at the head of a `.wandb` file (its first blocks)."""
    try:
        record_class, decode_error = _protobuf()
        with open_binary(path) as fh:
            data = fh.read(_ORIGIN_HEAD)
    except (OSError, TrackerError):
        return {}
    if not data.startswith(_HEADER):
        return {}
    from . import wandbrec

    frames = wandbrec.frame(data, len(_HEADER), 0, False)
    facts: dict[str, Any] = {}
    for start, length in zip(frames.starts.tolist(), frames.lengths.tolist(), strict=True):
        record = record_class()
        try:
            record.ParseFromString(frames.buf[start:start + length])
        except decode_error:
            continue
        kind = record.WhichOneof("record_type")
        if kind == "history":
            break
        if kind == "run":
            run = record.run
            found = {"git.commit": run.git.commit, "host": run.host, "python": run.telemetry.python_version}
        elif kind == "environment":
            env = record.environment
            found = {"git.commit": env.git.commit, "host": env.host, "python": _version_in(env.python),
                     "argv": [env.program, *env.args] if env.program else list(env.args)}
        elif kind == "telemetry":
            found = {"python": record.telemetry.python_version}
        else:
            continue
        facts.update({k: v for k, v in found.items() if v and k not in facts})
    return facts


def _version_in(text: Any) -> str | None:
    """"3.11.7" from "3.11.7" or "CPython 3.11.7" (how W&B's metadata names the interpreter)."""
    if not isinstance(text, str):
        return None
    for word in reversed(text.split()):
        if word[:1].isdigit():
            return word
    return text or None


def _public(tree: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config or summary tree without W&B's internal `_wandb` key, safe for callers to change."""
    return copy.deepcopy({k: v for k, v in tree.items() if k != "_wandb"})


def _extra(state: _State) -> dict[str, Any]:
    """W&B-specific facts a listing may show or filter on: project, entity, exit code and the summary."""
    extra: dict[str, Any] = {"wandb_summary": _public(state.summary)}
    extra.update({k: v for k, v in (("project", state.project), ("entity", state.entity)) if v})
    if state.exit_code is not None:
        extra["exit_code"] = state.exit_code
    return extra
