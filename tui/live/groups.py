"""Runs grouped by a config key's value, and a group's curves folded into one: their mean and min-max band.

Grouping by a key that differs among compared runs (`lr`) colours the runs by its value; seeds of one setting
then read as one colour, and `aggregate` draws each group as the mean of its runs with the range they span, as
Aim and W&B do. Runs log at different steps (and a validation metric only now and then), so each run is first
averaged onto the points of a common x grid, its empty columns inside its own span filled in linearly, and the
group's mean, min and max are taken per column over the runs that reach it. No Textual here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Group:
    """Runs (indexes into the compared runs) that share one value of the grouping key."""

    value: Any
    label: str  # the value as shown ("1e-3", "—" for runs without the key)
    runs: tuple[int, ...]


def group_runs(values: Sequence[Any], text: Callable[[Any], str]) -> list[Group]:
    """The runs grouped by their value of the key (`values`, one per run), in the order values first appear;
    values are told apart by `text` (so 3 and 3.0, shown alike, are one group)."""
    groups: dict[str, list[int]] = {}
    first: dict[str, Any] = {}
    for i, value in enumerate(values):
        label = text(value)
        groups.setdefault(label, []).append(i)
        first.setdefault(label, value)
    return [Group(first[label], label, tuple(runs)) for label, runs in groups.items()]


@dataclass
class Aggregate:
    """A group's curve: per column of the grid, the mean of its runs' values and the least and greatest of them;
    `runs` counts the runs that reach each column."""

    x: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    runs: np.ndarray


def aggregate(curves: Sequence[tuple[np.ndarray, np.ndarray]], columns: int,
              clean: Sequence[bool] | None = None) -> Aggregate | None:
    """Fold (x, y) curves into their mean and min-max band over `columns` columns spanning all of them.

    Non-finite points are left out (a NaN is never averaged into a mean); a run counts only inside its own x
    span (nothing is extrapolated). `clean[i]` promises curve i's x sorted and NaN-free and its y finite (as live
    series can tell without looking), which spares a pass or two over it. None when no curve has a finite point.
    """
    cleaned = []
    for i, (x, y) in enumerate(curves):
        if clean is not None and clean[i]:
            if len(x):
                cleaned.append((np.asarray(x), np.asarray(y, dtype=np.float64), True))
            continue
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.any():
            cleaned.append((x[keep], y[keep], False))
    if not cleaned:
        return None
    lo = min(float(x[0]) if ordered else float(x.min()) for x, _, ordered in cleaned)
    hi = max(float(x[-1]) if ordered else float(x.max()) for x, _, ordered in cleaned)
    columns = max(2, columns)
    if hi <= lo:
        columns, hi = 2, lo + 1.0
    grid = np.linspace(lo, hi, columns)  # from the first x to the last: the axis spans what the runs span
    scale = (columns - 1) / (hi - lo)
    rows = np.full((len(cleaned), columns), np.nan)
    bounds = lo + (np.arange(1, columns) - 0.5) / scale  # between grid points: each point to its nearest one
    for row, (x, y, ordered) in zip(rows, cleaned, strict=True):
        if ordered:  # sorted: each grid point's share of the points is a slice, summed in one pass
            starts = np.searchsorted(x, bounds, side="left")
            starts = np.concatenate(([0], starts))
            counts = np.diff(np.append(starts, x.size))
            filled = counts > 0
            sums = np.zeros(columns)
            sums[filled] = np.add.reduceat(y, starts[filled])
            first, last = int(np.argmax(filled)), columns - 1 - int(np.argmax(filled[::-1]))
        else:
            at = np.rint((x - lo) * scale).astype(np.int64)
            counts = np.bincount(at, minlength=columns)
            sums = np.bincount(at, weights=y, minlength=columns)
            filled = counts > 0
            first, last = int(at.min()), int(at.max())
        row[filled] = sums[filled] / counts[filled]
        inside = np.zeros(columns, dtype=bool)
        inside[first: last + 1] = True
        gaps = inside & ~filled
        if gaps.any():  # a metric logged every few columns: joined up inside the run's own span
            row[gaps] = np.interp(grid[gaps], grid[filled], row[filled])
    reached = np.isfinite(rows)
    runs = reached.sum(axis=0)
    shown = runs > 0
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(rows[:, shown], axis=0)
        low = np.nanmin(rows[:, shown], axis=0)
        high = np.nanmax(rows[:, shown], axis=0)
    return Aggregate(grid[shown], mean, low, high, runs[shown])
