"""Live state of the runs the app follows: metric series that grow as rows are appended.

Nothing here imports Textual. A `LiveRun` loads a run's metrics once (the reading layer's fast, cached path; a
big run in parts, each drawn as it comes), then reads only appended rows (`MetricsTail`; other layouts are read
whole again and only their new rows handed on); resume markers cut the superseded tail of every series. Reading
happens on a read lane's thread and yields a `Snapshot` or a `RowBatch`, which the app's thread folds in, so the
series a screen draws never change under it. Smoothed values are kept alongside and extended incrementally, so a
redraw never re-smooths a long series.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runyard import MetricsTail, NotRegularFile, RunView, direction, ema_debiased, unreadable_reason


class Growable:
    """A float64 (or int64) array with amortised O(1) append: capacity grows by an eighth, at least 1024."""

    __slots__ = ("_data", "size")

    def __init__(self, values: np.ndarray | None = None, dtype: type = np.float64) -> None:
        values = np.empty(0, dtype) if values is None else np.asarray(values, dtype=dtype)
        self._data = np.empty(values.size + max(1024, values.size // 8), dtype)
        self._data[: values.size] = values
        self.size = values.size

    @classmethod
    def adopt(cls, values: np.ndarray) -> Growable:
        """One holding `values` themselves, not a copy (the first append moves them to room to grow)."""
        grown = cls.__new__(cls)
        grown._data, grown.size = values, values.size
        return grown

    def extend(self, values: list | np.ndarray) -> None:
        n = len(values)
        if self.size + n > self._data.size:
            grown = np.empty(self.size + n + max(1024, (self.size + n) // 8), self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : self.size + n] = values
        self.size += n

    @property
    def view(self) -> np.ndarray:
        """The filled part, without copying."""
        return self._data[: self.size]


class Rows:
    """A run's step and wallclock per logged row, stored once and shared by all its metrics.

    Steps stay int64, as logged: a step beyond 2**53 would change in float64 (9,223,372,036,854,775,807 would
    print as ...808). Curves convert to float64 only to place points.
    """

    def __init__(self, steps: np.ndarray | None = None, times: np.ndarray | None = None) -> None:
        self.step = Growable(steps, np.int64)
        self.time = Growable(times)

    def __len__(self) -> int:
        return self.step.size


class Series:
    """One metric: its values and which of the run's rows logged them, plus a cached smoothing.

    A metric logged on every row (the usual case) keeps no index and shares the run's step and time arrays
    outright; others keep row indices. A million-row run thus costs one step and one time array in all.
    """

    def __init__(self, rows: Rows, index: np.ndarray | None, values: np.ndarray) -> None:
        self._rows = rows
        self._index = None if index is None else Growable(index, np.int64)
        self.value = Growable(values)
        self._ordered: dict[str, tuple[int, bool]] = {}  # axis -> (points checked, x sorted and NaN-free)
        self._smooth_weight = -1.0
        self._smoothed: Growable | None = None
        self._ema_state: tuple[float, int] | None = (0.0, 0)  # None: not worked out since the last full smoothing

    def __len__(self) -> int:
        return self.value.size

    def _pick(self, column: Growable) -> np.ndarray:
        if self._index is None:
            return column.view[: self.value.size]
        return column.view[self._index.view]

    @property
    def steps(self) -> np.ndarray:
        return self._pick(self._rows.step)

    @property
    def times(self) -> np.ndarray:
        return self._pick(self._rows.time)

    def ordered(self, axis: str) -> bool:
        """True if this axis's x values (step or time) are sorted and NaN-free; new points checked only once."""
        xs = self.steps if axis == "step" else self.times
        checked, ok = self._ordered.get(axis, (0, True))
        if ok and checked < xs.size:
            tail = xs[max(0, checked - 1):]
            ok = bool(not np.isnan(tail).any() and np.all(tail[1:] >= tail[:-1]))
            self._ordered[axis] = (xs.size, ok)
        return ok

    def append(self, row_ids: list[int], values: list[float]) -> None:
        """Add values logged on the given rows of the run."""
        on_every_row = list(row_ids) == list(range(self.value.size, self.value.size + len(row_ids)))
        if self._index is None and not on_every_row:
            self._index = Growable(np.arange(self.value.size), np.int64)  # a row went by without this metric
        if self._index is not None:
            self._index.extend(row_ids)
        self.value.extend(values)

    def smoothed(self, weight: float) -> np.ndarray:
        """Debiased EMA (TensorBoard's) of the values, extended incrementally as points arrive."""
        if weight != self._smooth_weight or self._smoothed is None or self._smoothed.size > self.value.size:
            # A new weight (a key press) redraws at once: the state to continue from is worked out only when
            # points arrive, and the result is kept as it is, not copied.
            self._smoothed = Growable.adopt(ema_debiased(self.value.view, weight))
            self._ema_state = None
            self._smooth_weight = weight
            return self._smoothed.view
        start = self._smoothed.size
        if start < self.value.size:
            if self._ema_state is None:
                done = self.value.view[:start]
                self._ema_state = _ema_state_of(int(np.count_nonzero(np.isfinite(done))), weight,
                                                self._smoothed.view)
            new, self._ema_state = _ema_extend(self.value.view[start:], weight, self._ema_state)
            self._smoothed.extend(new)
        return self._smoothed.view


def _ema_state_of(n: int, weight: float, smoothed: np.ndarray) -> tuple[float, int]:
    """Recover (running EMA, count) from a debiased result of `n` finite values, to continue it point by point."""
    if n == 0 or weight <= 0:
        return 0.0, n
    # smoothed = ema / (1 - w**n), so the running EMA is smoothed * (1 - w**n); a constant series (left as is)
    # has exactly that state too. The last finite value is near the end: look there first.
    tail = smoothed[-64:]
    found = tail[np.isfinite(tail)]
    last_smoothed = found[-1] if found.size else smoothed[np.isfinite(smoothed)][-1]
    return float(last_smoothed * (1 - weight**n)), n


def _ema_extend(values: np.ndarray, weight: float, state: tuple[float, int]) -> tuple[np.ndarray, tuple[float, int]]:
    """Continue a debiased EMA over a few new points."""
    last, n = state
    out = np.empty(values.size)
    for i, v in enumerate(values):
        if not math.isfinite(v) or weight <= 0:
            out[i] = v
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out[i] = last / (1 - weight**n)
    return out, (last, n)


@dataclass
class Snapshot:
    """Every metric series of a run, read afresh on a reading thread; `LiveRun.apply` swaps them in."""

    rows: Rows
    series: dict[str, Series]
    nonfinite: dict[str, int]
    tailed: str | None = None   # the file followed row by row from here on (None: any change means a full read)
    waiting: str | None = None  # the metrics file is not a regular file (a FIFO): nothing was read from it
    problem: str | None = None  # why the metrics could not be read ("cannot read metrics.jsonl: permission denied")
    error: str | None = None
    restarts: list[int] = field(default_factory=list)  # steps where a restarted run's next life began
    loading: float | None = None  # a first part of a big run: the share of its files read so far (0..1)


@dataclass
class RowBatch:
    """Rows appended since the last read, prepared on the reading thread; row ids count from the batch's first."""

    steps: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    nonfinite: dict[str, int] = field(default_factory=dict)
    waiting: str | None = None
    problem: str | None = None

    def __len__(self) -> int:
        return len(self.steps)


class LiveRun:
    """An open run: every metric's series, kept current by reading only what is appended.

    Reading and folding in happen on different threads. `read` runs on the run's read lane (one read at a time)
    and touches only the reading side, the source and its tail; `apply` runs on the app's thread and touches
    only the series the screens draw. So no screen ever sees a half-appended series, and no file is read on the
    app's thread.
    """

    def __init__(self, view: RunView) -> None:
        self.view = view
        self.series: dict[str, Series] = {}
        self.rows = Rows()
        self.nonfinite: dict[str, int] = {}
        self.restarts: list[int] = []  # steps where a restarted run's next life began: its curves break there
        self.loaded = False          # a first read has been folded in
        self.loading: float | None = None  # while only a first part is in: the share of the run read (0..1)
        self.tailed: str | None = None
        self.waiting: str | None = None
        self.problem: str | None = None  # why its metrics cannot be read, shown where the curves would be
        self.error: str | None = None
        self._tail: MetricsTail | None = None  # the reading side's: only `read` and `close` touch it
        self.started = False  # the reading side's: a first read began (only that one is read in parts)
        self._seen: _Seen | None = None  # the reading side's: the rows last read of a layout read whole

    @property
    def path(self) -> Path:
        return self.view.path

    def moved_to(self, view: RunView) -> LiveRun:
        """The same run read from where its folder went: the series shown so far carry over (so a screen keeps
        drawing them), and its first read is a full one from the new place. This one is left to be closed."""
        moved = LiveRun(view)
        moved.rows, moved.series, moved.nonfinite = self.rows, self.series, self.nonfinite
        moved.restarts = self.restarts
        moved.loaded, moved.tailed, moved.waiting, moved.error = self.loaded, self.tailed, self.waiting, self.error
        moved.problem, moved.loading = self.problem, self.loading
        moved.started = self.loaded  # curves already shown are not replaced by a first part of them
        return moved

    # ----- the reading side (a read lane's thread) ------------------------------------------------------------

    def read(self, full: bool = False, part: Callable[[Snapshot], object] | None = None) -> Snapshot | RowBatch:
        """What changed since the last read: rows appended to a followed metrics file, else every series afresh
        (first read, layouts without an incremental reader, a truncated, replaced or resumed file).

        A first read of a big run is done in parts (`RunSource.metrics_upto`) when `part` is given: it gets a
        Snapshot of the rows read so far after each part but the last (`loading` says how far), so a screen
        draws them while the rest loads; the returned Snapshot holds them all."""
        if full or (self._tail is None and self._seen is None):
            return self._read_all(part if not self.started else None)
        if self._tail is None:
            return self._read_all(grown=True)  # a layout read whole on each change: only its new rows go out
        chunk = self._tail.read()
        if chunk.reset or chunk.resumes:
            return self._read_all()  # read afresh (the cache makes it cheap)
        batch = RowBatch(waiting=self._tail.reader.path.name if chunk.not_regular else None, problem=chunk.problem)
        steps, times, values = batch.steps, batch.times, batch.values
        for i, row in enumerate(chunk.rows):
            steps.append(int(row["step"]))
            times.append(float(row.get("time") or math.nan))
            for name, value in row.items():
                if name in ("step", "time") or not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                ids, vals = values.setdefault(name, ([], []))
                ids.append(i)
                vals.append(float(value))
                if not math.isfinite(value):
                    batch.nonfinite[name] = batch.nonfinite.get(name, 0) + 1
        return batch

    def _read_all(self, part: Callable[[Snapshot], object] | None = None, grown: bool = False) -> Snapshot | RowBatch:
        """Read every metric once; runyard runs then follow their metrics.jsonl from where the read stopped.

        Other layouts are read whole again on each change (their sources read only the new bytes); when the
        rows read are those already known plus new ones (`grown`), only the new ones are returned, as a
        RowBatch, so that the series, their smoothing and what screens drew of them are extended, not rebuilt.

        Full reads take turns (see `_FULL_READS`): a million-row load holds its file's parse and its columns at
        once, and several on separate threads at the same moment multiply the peak and leave each thread's
        allocator arena holding freed pages. A read in parts takes the turn for each part and gives it back
        between them, so that another run's first part is drawn without waiting for this whole run.
        """
        self.started = True
        if self._tail is not None:
            self._tail.close()
            self._tail = None
        parts = _Parts(self.view.source) if part is not None else None
        seen, self._seen = self._seen if grown else None, None
        update: Snapshot | RowBatch = RowBatch()
        try:
            while True:
                turn = _FULL_READS.acquire(timeout=FULL_READ_PATIENCE)  # a stuck read delays others, never holds them
                try:
                    update = self._load_snapshot(parts, seen)
                finally:
                    if turn:
                        _FULL_READS.release()
                if not isinstance(update, Snapshot) or update.loading is None:
                    return update
                part(update)
        finally:
            if isinstance(update, Snapshot):
                _release_arrow_memory()  # after the frame is gone: its buffers are free to give back now

    def _load_snapshot(self, parts: _Parts | None = None, seen: _Seen | None = None) -> Snapshot | RowBatch:
        try:
            data = self.view.source.metrics_data() if parts is None else parts.next()
            if not data.complete:
                return _snapshot_of(data, loading=parts.share())
            self._tail = self.view.source.metrics_tail(offset=data.end)
            if self._tail is None:
                self._seen = _Seen.of(data)
                if seen is not None and seen.extended_by(data):
                    return _batch_of(data, seen.rows)
        except NotRegularFile as exc:
            return Snapshot(Rows(), {}, {}, waiting=Path(exc.filename or self.path).name)
        except OSError as exc:  # out of reach (another user's folder) or failing: say which file, and why
            return Snapshot(Rows(), {}, {}, problem=unreadable_reason(exc, self.path))
        except Exception as exc:  # a run that cannot be read shows its error in place
            return Snapshot(Rows(), {}, {}, error=_one_line(exc))
        return _snapshot_of(data, tailed=self._tail.reader.path.name if self._tail is not None else None)

    def close(self) -> None:
        """Let go of the followed file (on the read lane: never while a read uses it)."""
        if self._tail is not None:
            self._tail.close()
            self._tail = None

    # ----- the app's side ---------------------------------------------------------------------------------

    def apply(self, update: Snapshot | RowBatch) -> int:
        """Fold in what `read` returned (on the app's thread); returns how many rows arrived."""
        self.loaded = True
        self.waiting, self.problem = update.waiting, update.problem
        if isinstance(update, Snapshot):
            self.rows, self.series, self.nonfinite = update.rows, update.series, update.nonfinite
            self.tailed, self.error, self.restarts = update.tailed, update.error, update.restarts
            self.loading = update.loading
            return len(self.rows)
        if not len(update):
            return 0
        base = len(self.rows)
        self.rows.step.extend(update.steps)
        self.rows.time.extend(update.times)
        for name, (ids, vals) in update.values.items():
            rows = [base + i for i in ids]
            series = self.series.get(name)
            if series is None:
                self.series[name] = Series(self.rows, np.asarray(rows), np.asarray(vals))
            else:
                series.append(rows, vals)
        for name, count in update.nonfinite.items():
            self.nonfinite[name] = self.nonfinite.get(name, 0) + count
        return len(update)

    def placeholder(self) -> str | None:
        """What to show instead of curves while there is nothing to draw yet, or None."""
        if self.problem:
            return self.problem
        if self.waiting:
            return f"waiting for {self.waiting}"
        if self.loading is not None and not self.series:
            return f"loading {self.loading_text()}"
        return None if self.loaded else "loading…"

    def loading_text(self) -> str | None:
        """How far a run read in parts is ("38%"), None once it is read whole."""
        return None if self.loading is None else f"{min(99, int(self.loading * 100))}%"

    # ----- what the screens show --------------------------------------------------------------------------

    def last_step(self) -> int | None:
        steps = self.rows.step.view
        return int(steps.max()) if steps.size else None

    def first_time(self) -> float | None:
        times = self.rows.time.view
        return float(times[0]) if times.size and math.isfinite(times[0]) else None

    def step_rate(self, window: int = 50) -> float | None:
        """Steps per second over the recent rows of the most frequently logged metric."""
        if len(self.rows) < 3:
            return None
        steps, times = self.rows.step.view[-window:], self.rows.time.view[-window:]
        span = times[-1] - times[0]
        return (int(steps[-1]) - int(steps[0])) / span if span > 0 else None  # Python ints: no int64 overflow

    def eta(self, target_step: int | None) -> float | None:
        """Seconds until `target_step` at the recent step rate."""
        rate, last = self.step_rate(), self.last_step()
        if not target_step or rate is None or rate <= 0 or last is None or last >= target_step:
            return None
        return (target_step - last) / rate

    def latest(self, name: str) -> float | None:
        s = self.series.get(name)
        return float(s.value.view[-1]) if s is not None and len(s) else None

    def best(self, name: str) -> float | None:
        s = self.series.get(name)
        if s is None or not len(s):
            return None
        finite = s.value.view[np.isfinite(s.value.view)]
        if not finite.size:
            return None
        return float(finite.max() if direction(name, self.view) == "max" else finite.min())


def _snapshot_of(data: Any, tailed: str | None = None, loading: float | None = None) -> Snapshot:
    """Series of `MetricColumns`: one Rows shared by all, an index only for metrics not logged on every row."""
    rows = Rows(data.step, data.time)
    series: dict[str, Series] = {}
    nonfinite: dict[str, int] = {}
    for name, values in data.values.items():
        mask = data.mask(name)
        every = bool(mask.all())
        series[name] = Series(rows, None if every else np.flatnonzero(mask), values if every else values[mask])
        nonfinite[name] = int(np.count_nonzero(~np.isfinite(values[mask])))
    return Snapshot(rows, series, nonfinite, tailed, restarts=list(data.restarts), loading=loading)


@dataclass
class _Seen:
    """A whole read of a run, kept to tell whether the next one only added rows after it.

    Every row seen is compared with the next read's (steps, times, each metric's values and which rows logged
    it; a NaN equals a NaN): a file replaced by another run's of the same length and steps, one rewritten in
    place, or a last row still being written when it was read (a CSV line without its end yet) then ends
    differently, all read as a new snapshot rather than as rows added to stale ones. Numpy compares a
    million rows in a few milliseconds, well under what reading the change cost.
    """

    def __init__(self, data: Any) -> None:
        self.data = data

    @classmethod
    def of(cls, data: Any) -> _Seen:
        return cls(data)

    @property
    def rows(self) -> int:
        return len(self.data)

    def extended_by(self, data: Any) -> bool:
        """True if `data` holds the rows seen, unchanged, then new ones."""
        seen = self.data
        n = len(seen)
        if len(data) < n or list(data.restarts) != list(seen.restarts):
            return False
        if not (np.array_equal(data.step[:n], seen.step) and _equal(data.time[:n], seen.time)):
            return False
        for name, values in data.values.items():
            mask = data.mask(name)[:n]
            if name not in seen.values:
                if mask.any():  # a metric that now has values in rows seen without it
                    return False
                continue
            if not (np.array_equal(mask, seen.mask(name)) and _equal(values[:n][mask], seen.values[name][mask])):
                return False
        return all(name in data.values for name in seen.values)


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal float arrays, a NaN equal to a NaN (a logged NaN, or a layout without wall times)."""
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def _batch_of(data: Any, start: int) -> RowBatch:
    """The rows of `data` from `start` on, as `read` hands appended rows over."""
    batch = RowBatch(steps=data.step[start:].tolist(), times=data.time[start:].tolist())
    for name, values in data.values.items():
        logged = data.logged[name]
        ids = np.arange(len(batch)) if logged is None else np.flatnonzero(logged[start:])
        if not ids.size:
            continue
        new = values[start:][ids]
        batch.values[name] = (ids.tolist(), new.tolist())
        bad = int(np.count_nonzero(~np.isfinite(new)))
        if bad:
            batch.nonfinite[name] = bad
    return batch


# A first read in parts: this many bytes first (a first curve soon), then each part `PART_GROWTH` times the last,
# up to `LAST_PART` (fewer, bigger parts cost less: each one rebuilds the series read so far).
FIRST_PART = 1 << 20
PART_GROWTH = 4
LAST_PART = 256 << 20


class _Parts:
    """The parts of one first read: `next()` reads one more (`metrics_upto`), `share()` says how far it got."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.budget = FIRST_PART
        self.asked = 0
        self.total = _files_size(source)

    def next(self) -> Any:
        if self.total and self.asked > 2 * self.total + LAST_PART:
            return self.source.metrics_data()  # a reader that never says it is done: read it in one go
        data = self.source.metrics_upto(self.budget)
        self.asked += self.budget
        self.budget = min(self.budget * PART_GROWTH, LAST_PART)
        return data

    def share(self) -> float:
        """The share of the run's files read so far, as near as the budgets tell (never 1 while parts remain)."""
        return min(0.99, self.asked / self.total) if self.total else 0.0


def _files_size(source: Any) -> int:
    """Bytes in the files a listing keys the run on (its metrics among them), 0 if they cannot be listed."""
    total = 0
    try:
        for path in source.key_paths():
            with contextlib.suppress(OSError):
                total += os.stat(path).st_size
    except Exception:  # a layout that cannot list its files: the parts are read all the same, without a share
        return 0
    return total


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# One full read at a time across read lanes; a read that takes longer than this lets the next one start anyway.
_FULL_READS = threading.Semaphore(1)
FULL_READ_PATIENCE = 2.0


def _release_arrow_memory() -> None:
    """Give back what a finished load no longer uses: pyarrow's pool keeps freed buffers, and glibc keeps the
    freed pages of each reading thread's arena (loads run on read lanes, not the main thread) until trimmed."""
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass
    _malloc_trim()


@functools.cache
def _libc_trim() -> Any:
    """glibc's `malloc_trim`, or None where the C library has none (musl, macOS)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


def _malloc_trim() -> None:
    trim = _libc_trim()
    if trim is not None:
        trim(0)


def configured_last_step(config: dict[str, Any]) -> int | None:
    """The last step a run is configured to reach, from the usual config names (for an ETA)."""
    from runyard import flatten

    names = ("max_steps", "max_iters", "total_steps", "num_steps", "train_steps", "max_step", "num_iterations",
             "iterations", "steps")
    flat = flatten(config)
    for name in names:
        for key, value in flat.items():
            if key.rsplit(".", 1)[-1] == name and isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None
