"""Live state of the runs the app follows: metric series that grow as rows are appended.

Nothing here imports Textual. A `LiveRun` loads a run's metrics once (the reading layer's fast, cached path),
then reads only appended rows (`MetricsTail`); resume markers cut the superseded tail of every series.
Smoothed values are kept alongside and extended incrementally, so a redraw never re-smooths a long series.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tracker.api import RunView
from tracker.layout import METRICS_JSONL
from tracker.metricnames import direction
from tracker.series import ema_debiased
from tracker.tail import MetricsTail


class Growable:
    """A float64 array with amortised O(1) append (capacity doubles)."""

    __slots__ = ("_data", "size")

    def __init__(self, values: np.ndarray | None = None) -> None:
        values = np.empty(0) if values is None else np.asarray(values, dtype=np.float64)
        self._data = np.empty(max(16, values.size * 2))
        self._data[: values.size] = values
        self.size = values.size

    def extend(self, values: list[float] | np.ndarray) -> None:
        n = len(values)
        if self.size + n > self._data.size:
            grown = np.empty(max(self._data.size * 2, self.size + n))
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : self.size + n] = values
        self.size += n

    def truncate(self, size: int) -> None:
        self.size = min(self.size, size)

    @property
    def view(self) -> np.ndarray:
        """The filled part, without copying."""
        return self._data[: self.size]


@dataclass
class Series:
    """One metric of one run: x candidates (step, wallclock) and values, plus a cached smoothing."""

    step: Growable = field(default_factory=Growable)
    time: Growable = field(default_factory=Growable)
    value: Growable = field(default_factory=Growable)
    _smooth_weight: float = -1.0
    _smoothed: Growable | None = None
    _ema_state: tuple[float, int] = (0.0, 0)  # (running EMA, finite points folded in)

    def __len__(self) -> int:
        return self.value.size

    def append(self, steps: list[float], times: list[float], values: list[float]) -> None:
        self.step.extend(steps)
        self.time.extend(times)
        self.value.extend(values)

    def cut_from_step(self, step: float) -> None:
        """Drop points with step >= `step` (a resume supersedes them); smoothing restarts."""
        keep = int(np.searchsorted(self.step.view, step, side="left")) if self._sorted() else \
            int(np.sum(self.step.view < step))
        for g in (self.step, self.time, self.value):
            g.truncate(keep)
        self._smooth_weight = -1.0

    def _sorted(self) -> bool:
        s = self.step.view
        return s.size < 2 or bool(np.all(s[1:] >= s[:-1]))

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
        self.tail: MetricsTail | None = None
        self.nonfinite: dict[str, int] = {}
        self.loaded = False

    @property
    def path(self) -> Path:
        return self.view.path

    def load(self) -> None:
        """Read every metric once; runyard runs then follow their metrics.jsonl from where the read stopped."""
        data_of = getattr(self.view.source, "metrics_data", None)
        if callable(data_of):
            data = data_of()
            frame, present = data.frame(), data.present()
            self.tail = MetricsTail(self.view.path / METRICS_JSONL, offset=data.end)
        else:
            frame, present = self.view.source.metrics(), None
        steps = frame["step"].to_numpy(dtype=np.float64)
        times = frame["time"].to_numpy(dtype=np.float64)
        self.series = {}
        for name in frame.columns:
            if name in ("step", "time"):
                continue
            values = frame[name].to_numpy(dtype=np.float64)
            mask = present[name] if present is not None else ~np.isnan(values)
            s = Series()
            s.append(steps[mask], times[mask], values[mask])
            self.series[name] = s
            self.nonfinite[name] = int(np.count_nonzero(~np.isfinite(values[mask])))
        self.loaded = True

    def poll(self) -> int:
        """Fold in rows appended since the last call; returns how many rows arrived."""
        if self.tail is None:
            return 0
        chunk = self.tail.read()
        if chunk.reset:
            self.load()
            return 1
        batch: dict[str, tuple[list[float], list[float], list[float]]] = {}
        rows = 0
        for row in chunk.rows:
            if row.get("_event") == "resume":
                self._flush(batch)
                batch = {}
                for s in self.series.values():
                    s.cut_from_step(row["step"])
                continue
            rows += 1
            step, when = float(row["step"]), float(row.get("time") or math.nan)
            for name, value in row.items():
                if name in ("step", "time") or not isinstance(value, (int, float)) or isinstance(value, bool):
                    continue
                cols = batch.setdefault(name, ([], [], []))
                cols[0].append(step)
                cols[1].append(when)
                cols[2].append(float(value))
                if not math.isfinite(value):
                    self.nonfinite[name] = self.nonfinite.get(name, 0) + 1
        self._flush(batch)
        return rows

    def _flush(self, batch: dict[str, tuple[list[float], list[float], list[float]]]) -> None:
        for name, (steps, times, values) in batch.items():
            self.series.setdefault(name, Series()).append(steps, times, values)

    # ----- what the screens show --------------------------------------------------------------------------

    def last_step(self) -> int | None:
        ends = [int(s.step.view[-1]) for s in self.series.values() if len(s)]
        return max(ends) if ends else None

    def first_time(self) -> float | None:
        starts = [s.time.view[0] for s in self.series.values() if len(s) and math.isfinite(s.time.view[0])]
        return min(starts) if starts else None

    def step_rate(self, window: int = 50) -> float | None:
        """Steps per second over the recent rows of the most frequently logged metric."""
        busiest = max(self.series.values(), key=len, default=None)
        if busiest is None or len(busiest) < 3:
            return None
        steps, times = busiest.step.view[-window:], busiest.time.view[-window:]
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
        return float(finite.max() if direction(name) == "max" else finite.min())

    def close(self) -> None:
        if self.tail is not None:
            self.tail.close()


def configured_last_step(config: dict[str, Any]) -> int | None:
    """The last step a run is configured to reach, from the usual config names (for an ETA)."""
    from tracker.filters import flatten

    names = ("max_steps", "max_iters", "total_steps", "num_steps", "train_steps", "max_step", "num_iterations",
             "iterations", "steps")
    flat = flatten(config)
    for name in names:
        for key, value in flat.items():
            if key.rsplit(".", 1)[-1] == name and isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None
