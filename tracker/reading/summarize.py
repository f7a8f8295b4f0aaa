"""Per-metric statistics computed from metric columns, for layouts that keep no summary of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..model import MetricSummary

if TYPE_CHECKING:
    from ..layouts.base import MetricColumns


def summarize(data: MetricColumns) -> dict[str, MetricSummary]:
    """first, last, min, max, mean, count and steps of min/max per metric, over the rows that logged it.

    A logged NaN or infinity counts and can be the first or last value; min, max and mean are of the finite
    values only (None when there are none). A metric logged only as NaN is still a metric, with its count.
    """
    out: dict[str, MetricSummary] = {}
    for name, values in data.values.items():
        logged = data.logged[name]
        steps = data.step if logged is None else data.step[logged]
        points = values if logged is None else values[logged]
        if points.size == 0:
            continue
        s = MetricSummary(first=float(points[0]), last=float(points[-1]), count=int(points.size),
                          last_step=int(steps[-1]))
        finite = np.isfinite(points)
        if not finite.all():
            points, steps = points[finite], steps[finite]
        if points.size:
            lo, hi = int(np.argmin(points)), int(np.argmax(points))
            s.min, s.max = float(points[lo]), float(points[hi])
            s.min_step, s.max_step = int(steps[lo]), int(steps[hi])
            s.mean = float(points.mean())
        out[name] = s
    return out
