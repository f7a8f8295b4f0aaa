"""Per-metric statistics computed from a metrics frame, for layouts that keep no summary of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..model import MetricSummary

if TYPE_CHECKING:
    import pandas as pd


def summarize(df: pd.DataFrame, present: dict[str, np.ndarray] | None = None) -> dict[str, MetricSummary]:
    """first, last, min, max, mean, count and steps of min/max per metric column (NaN rows = not logged).

    `present` may give, per metric, a mask of the rows where it was really logged (so that a logged NaN
    counts and is shown as the last value); without it NaN is taken as absent.
    """
    steps = df["step"].to_numpy()
    out: dict[str, MetricSummary] = {}
    for name in df.columns:
        if name in ("step", "time", "elapsed"):
            continue
        values = df[name].to_numpy(dtype="float64", na_value=np.nan)
        mask = present[name] if present and name in present else ~np.isnan(values)
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        logged = values[idx]
        finite = np.isfinite(logged)
        s = MetricSummary(first=float(logged[0]), last=float(logged[-1]), count=int(idx.size),
                          last_step=int(steps[idx[-1]]))
        if finite.any():
            fin_vals, fin_idx = logged[finite], idx[finite]
            lo, hi = int(np.argmin(fin_vals)), int(np.argmax(fin_vals))
            s.min, s.max = float(fin_vals[lo]), float(fin_vals[hi])
            s.min_step, s.max_step = int(steps[fin_idx[lo]]), int(steps[fin_idx[hi]])
            s.mean = float(fin_vals.mean())
        out[name] = s
    return out
