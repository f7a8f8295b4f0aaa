"""Live state of the runs the app follows: metric series that grow as rows are appended.

Nothing here imports Textual. A `LiveRun` loads a run's metrics once (the reading layer's fast, cached path),
then reads only appended rows (`MetricsTail`); resume markers cut the superseded tail of every series.
Smoothed values are kept alongside and extended incrementally, so a redraw never re-smooths a long series.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from runyard import MetricsTail, RunView, direction, ema_debiased


class Growable:
    """A float64 (or int64) array with amortised O(1) append: capacity grows by an eighth, at least 1024."""

    __slots__ = ("_data", "size")

    def __init__(self, values: np.ndarray | None = None, dtype: type = np.float64) -> None:
        values = np.empty(0, dtype) if values is None else np.asarray(values, dtype=dtype)
        self._data = np.empty(values.size + max(1024, values.size // 8), dtype)
        self._data[: values.size] = values
        self.size = values.size

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
    """A run's step and wallclock per logged row, stored once and shared by all its metrics."""

    def __init__(self, steps: np.ndarray | None = None, times: np.ndarray | None = None) -> None:
        self.step = Growable(steps)
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
        self._ema_state: tuple[float, int] = (0.0, 0)

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
            full = ema_debiased(self.value.view, weight)
            self._smoothed = Growable(full)
            finite = self.value.view[np.isfinite(self.value.view)]
            self._ema_state = _ema_state_of(finite, weight, full)
            self._smooth_weight = weight
            return self._smoothed.view
        start = self._smoothed.size
        if start < self.value.size:
            new, self._ema_state = _ema_extend(self.value.view[start:], weight, self._ema_state)
            self._smoothed.extend(new)
        return self._smoothed.view


def _ema_state_of(finite: np.ndarray, weight: float, smoothed: np.ndarray) -> tuple[float, int]:
    """Recover (running EMA, count) from a debiased result, to continue it point by point."""
    n = finite.size
    if n == 0 or weight <= 0:
        return 0.0, n
    # smoothed = ema / (1 - w**n), so the running EMA is smoothed * (1 - w**n); a constant series (left as is)
    # has exactly that state too.
    last_smoothed = smoothed[np.isfinite(smoothed)][-1]
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


class LiveRun:
    """An open run: every metric's series, kept current by reading only what is appended."""

    def __init__(self, view: RunView) -> None:
        self.view = view
        self.series: dict[str, Series] = {}
        self.rows = Rows()
        self.tail: MetricsTail | None = None
        self.nonfinite: dict[str, int] = {}
        self.loaded = False

    @property
    def path(self) -> Path:
        return self.view.path

    def load(self) -> None:
        """Read every metric once; runyard runs then follow their metrics.jsonl from where the read stopped."""
        data = self.view.source.metrics_data()
        frame, present = data.frame(), data.present()
        if self.tail is not None:
            self.tail.close()
        self.tail = self.view.source.metrics_tail(offset=data.end)
        del data
        _release_arrow_memory()
        self.rows = Rows(frame["step"].to_numpy(dtype=np.float64), frame["time"].to_numpy(dtype=np.float64))
        self.series = {}
        self.nonfinite = {}
        for name in frame.columns:
            if name in ("step", "time"):
                continue
            values = frame[name].to_numpy(dtype=np.float64)
            mask = present[name] if present is not None else ~np.isnan(values)
            every = bool(mask.all())
            self.series[name] = Series(self.rows, None if every else np.flatnonzero(mask),
                                       values if every else values[mask])
            self.nonfinite[name] = int(np.count_nonzero(~np.isfinite(values[mask])))
        self.loaded = True

    def poll(self) -> int:
        """Fold in rows appended since the last call; returns how many rows arrived."""
        if self.tail is None:
            return 0
        chunk = self.tail.read()
        if chunk.reset or chunk.resumes:
            self.load()  # truncated, replaced or resumed: read afresh (the cache makes it cheap)
            return max(1, len(chunk.rows))
        if not chunk.rows:
            return 0
        base = len(self.rows)
        steps, times = [], []
        batch: dict[str, tuple[list[int], list[float]]] = {}
        for i, row in enumerate(chunk.rows):
            steps.append(float(row["step"]))
            times.append(float(row.get("time") or math.nan))
            for name, value in row.items():
                if name in ("step", "time") or not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                ids, vals = batch.setdefault(name, ([], []))
                ids.append(base + i)
                vals.append(float(value))
                if not math.isfinite(value):
                    self.nonfinite[name] = self.nonfinite.get(name, 0) + 1
        self.rows.step.extend(steps)
        self.rows.time.extend(times)
        for name, (ids, vals) in batch.items():
            series = self.series.get(name)
            if series is None:
                self.series[name] = Series(self.rows, np.asarray(ids), np.asarray(vals))
            else:
                series.append(ids, vals)
        return len(chunk.rows)

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
        return float((steps[-1] - steps[0]) / span) if span > 0 else None

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

    def close(self) -> None:
        if self.tail is not None:
            self.tail.close()


def _release_arrow_memory() -> None:
    """Give pyarrow's pool back the buffers of a finished load (it keeps them otherwise)."""
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except (ImportError, AttributeError):
        pass


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
