"""`runyard plot`: metric curves of several runs drawn with plotext, against step, wallclock or elapsed time."""

from __future__ import annotations

import shutil
import sys
from typing import Any

import numpy as np

from runyard import Prepared, clean_block, main_metrics, prepare, robust_range

from ..formatting import PALETTE, time_ticks

X_COLUMN = {"step": "step", "time": "time", "relative": "elapsed"}


def plot_runs(views: list[Any], metrics: list[str], x_axis: str, smooth: float, log_y: bool,
              width: int | None, height: int | None) -> tuple[str, dict[str, Any]]:
    """The plot as terminal text, and the plotted points as data."""
    import plotext as plt

    if not metrics:
        names = {name for v in views for name in v.summary}
        metrics = main_metrics(names, limit=1) or sorted(names)[:1]
    if not metrics:
        raise ValueError("these runs hold no metrics to plot")
    cols, rows = shutil.get_terminal_size((100, 30))
    plt.clear_figure()
    plt.plotsize(width or cols, height or min(rows - 2, 24))
    plt.theme("clear")
    data: dict[str, Any] = {"x": x_axis, "series": []}
    drawn: list[np.ndarray] = []
    crossed: list[Prepared] = []
    buckets = max(10, (width or cols) * 2)
    for i, view in enumerate(views):
        for j, metric in enumerate(metrics):
            if metric not in view.summary:
                continue
            series = view.series(metric)
            color = PALETTE[(i * len(metrics) + j) % len(PALETTE)]
            raw, smoothed = prepare(series[X_COLUMN[x_axis]].to_numpy(), series["value"].to_numpy(), buckets, smooth)
            label = metric if len(views) == 1 else f"{view.info.name}:{metric}"
            crossed.append(raw)  # a series of only NaN or infinities has nothing to draw but its markers
            if raw.x.size and smoothed is not None:
                plt.plot(raw.x.tolist(), raw.y.tolist(), color=tuple(c // 2 for c in color), marker="braille")
                plt.plot(smoothed.x.tolist(), smoothed.y.tolist(), color=color, marker="braille", label=label)
                drawn.append(smoothed.y)
            elif raw.x.size:
                plt.plot(raw.x.tolist(), raw.y.tolist(), color=color, marker="braille", label=label)
                drawn.append(raw.y)
            bad = raw.nan_x.size + raw.posinf_x.size + raw.neginf_x.size
            markers = np.concatenate([raw.nan_x, raw.posinf_x, raw.neginf_x])
            points_x, marker_xs = raw.x.tolist(), markers.tolist()
            if x_axis == "step":  # the points as logged: integer steps, exact beyond float64's 2**53
                steps, values = series["step"].to_numpy(), series["value"].to_numpy()
                points_x = _logged_steps(raw.x, steps[np.isfinite(values)])
                marker_xs = (_logged_steps(raw.nan_x, steps[np.isnan(values)])
                             + _logged_steps(raw.posinf_x, steps[values == np.inf])
                             + _logged_steps(raw.neginf_x, steps[values == -np.inf]))
            data["series"].append({"run": view.info.name, "metric": metric, "x": points_x, "y": raw.y.tolist(),
                                   "nonfinite_at": marker_xs, "nonfinite": bad})
    if not data["series"]:
        raise ValueError(f"no run here has the metric {', '.join(metrics)}")
    if log_y:
        plt.yscale("log")
    limits = robust_range(drawn, ignore_outliers=True, log=log_y) or (0.0, 1.0)
    plt.ylim(*limits)
    for raw in crossed:  # NaN and +inf at the top edge, -inf at the bottom, as red crosses (as the app shows them)
        for at, y in ((raw.nan_x, limits[1]), (raw.posinf_x, limits[1]), (raw.neginf_x, limits[0])):
            if at.size:
                plt.scatter(at.tolist(), [y] * at.size, marker="x", color=(255, 60, 60))
    xs = [s["x"] for s in data["series"] if s["x"]]
    if x_axis != "step" and xs:
        lo, hi = min(x[0] for x in xs), max(x[-1] for x in xs)
        if hi > lo:
            plt.xticks(*time_ticks(lo, hi, x_axis))
    plt.xlabel({"step": "step", "time": "wallclock", "relative": "time since start"}[x_axis])
    notes = [f"{s['run']}:{s['metric']} has {s['nonfinite']} non-finite values" for s in data["series"]
             if s["nonfinite"]]
    text = plt.build()
    if not sys.stdout.isatty():
        text = clean_block(text)
    return text + ("\n" + "\n".join(notes) if notes else ""), data


def _logged_steps(points: np.ndarray, steps: np.ndarray) -> list[int]:
    """The int64 steps behind plotted x positions, which the curve code holds as float64.

    Every plotted x is a logged step converted to float, so it maps back to the steps that convert to it; where
    several steps beyond 2**53 share one float, its k-th appearance takes the k-th of them, in order.
    """
    if not len(points):
        return []
    ordered = np.sort(steps)
    as_float = ordered.astype(np.float64)
    points = np.asarray(points, dtype=np.float64)
    first = np.searchsorted(as_float, points, side="left")
    last = np.searchsorted(as_float, points, side="right") - 1
    positions = np.arange(points.size)
    run_start = np.maximum.accumulate(np.where(np.r_[True, points[1:] != points[:-1]], positions, 0))
    return [int(step) for step in ordered[np.minimum(first + positions - run_start, last)]]
