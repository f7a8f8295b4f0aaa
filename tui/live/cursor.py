"""The curve cursor's maths: where a wallclock time falls on step, wallclock or time-since-start axes, and back.

Plain functions over live series (`runstate.Series`) and a run's start time, with no Textual, so the run screen
and a compare screen place a cursor the same way and tests check it without an app. The cursor links a point
on the curves to the log lines written at that moment, so everything here converts through wallclock time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .runstate import Series

X_AXES = ("step", "time", "relative")


def start_time(created: float | None, first_time: float | None) -> float:
    """When a run started: its recorded creation, else its first row's time (0 when neither is known)."""
    if created is not None:
        return created
    return first_time or 0.0


def x_values(series: Series, axis: str, start: float) -> np.ndarray:
    """A series' x values on `axis`: steps, wallclock times, or seconds since `start`."""
    if axis == "step":
        return series.steps
    if axis == "time":
        return series.times
    return series.times - start


def time_at_x(series: Series, axis: str, x: float, start: float) -> float | None:
    """Wallclock time at cursor position `x`; on the step axis, the time of the first point at or after `x`."""
    if not len(series):
        return None
    if axis == "time":
        return x
    if axis == "relative":
        return x + start
    steps, times = series.steps, series.times
    i = min(int(np.searchsorted(steps, x, side="left")), steps.size - 1)
    return float(times[i])


def x_at_time(series: Series, axis: str, ts: float, start: float) -> float | None:
    """Cursor position for wallclock time `ts` (a log line's); on the step axis, the last step logged by then."""
    if not len(series):
        return None
    if axis == "time":
        return ts
    if axis == "relative":
        return ts - start
    times = series.times
    i = max(0, int(np.searchsorted(times, ts, side="right")) - 1)
    return float(series.steps[i])


def step_at_x(series: Series, x: float) -> int | None:
    """The logged step a cursor at step position `x` sits on, exact as an integer (float64 cannot hold steps
    beyond 2**53); None when `x` is between the series' steps."""
    steps = series.steps
    if not steps.size:
        return None
    i = min(int(np.searchsorted(steps, x, side="left")), steps.size - 1)
    return int(steps[i]) if float(steps[i]) == x else None


def value_at_x(series: Series, axis: str, x: float, start: float) -> float | None:
    """The series' value at cursor position `x`: its first point at or after `x` (its last, past the end)."""
    if not len(series):
        return None
    xs = x_values(series, axis, start)
    i = min(int(np.searchsorted(xs, x, side="left")), xs.size - 1)
    return float(series.value.view[i])


def values_at_x(series: Mapping[str, Series], metrics: Sequence[str], axis: str, x: float,
                start: float) -> list[tuple[str, float]]:
    """(metric, value at `x`) for each of `metrics` the run has points of, in their order."""
    out = []
    for name in metrics:
        s = series.get(name)
        value = value_at_x(s, axis, x, start) if s is not None else None
        if value is not None:
            out.append((name, value))
    return out


def primary(series: Mapping[str, Series], metrics: Sequence[str]) -> Series | None:
    """The series a run's cursor follows: its first drawn metric that has points, else its busiest one."""
    for name in metrics:
        s = series.get(name)
        if s is not None and len(s):
            return s
    busiest = max(series.values(), key=len, default=None)
    return busiest if busiest is not None and len(busiest) else None


def moved(xs: np.ndarray, cursor: float | None, columns: int, width: int) -> float | None:
    """The cursor moved by `columns` plot columns of `width` over the data's x span (it starts at the end)."""
    xs = xs[np.isfinite(xs)]
    if not xs.size:
        return None
    lo, hi = float(xs.min()), float(xs.max())
    step = (hi - lo) / max(1, width) if hi > lo else 1.0
    start = cursor if cursor is not None and math.isfinite(cursor) else hi
    return min(hi, max(lo, start + columns * step))


def converted(series: Series | None, cursor: float | None, old_axis: str, new_axis: str, start: float) -> float | None:
    """The same moment on another x axis (through its wallclock time), or None when it has none."""
    if series is None or cursor is None:
        return None
    ts = time_at_x(series, old_axis, cursor, start)
    if ts is None or not math.isfinite(ts):
        return None
    return x_at_time(series, new_axis, ts, start)
