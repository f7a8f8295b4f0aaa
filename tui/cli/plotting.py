"""`runyard plot`: metric curves of several runs drawn with plotext, against step, wallclock or elapsed time."""

from __future__ import annotations

import shutil
import sys
from typing import Any

import numpy as np

from runyard import Prepared, clean_block, main_metrics, prepare, robust_range

from ..formatting import OFF_SCALE_ABOVE, OFF_SCALE_BELOW, PALETTE, frame_columns, time_ticks

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
    followed: list[tuple[Prepared, tuple[int, int, int]]] = []  # the bright curve of each series, for off-scale marks
    buckets = max(10, (width or cols) * 2)
    for i, view in enumerate(views):
        for j, metric in enumerate(metrics):
            if metric not in view.summary:
                continue
            series = view.series(metric)
            color = PALETTE[(i * len(metrics) + j) % len(PALETTE)]
            raw, smoothed = prepare(series[X_COLUMN[x_axis]].to_numpy(), series["value"].to_numpy(), buckets, smooth)
            label = metric if len(views) == 1 else f"{view.info.name}:{metric}"
            if smoothed is not None:
                plt.plot(raw.x.tolist(), raw.y.tolist(), color=tuple(c // 2 for c in color), marker="braille")
                plt.plot(smoothed.x.tolist(), smoothed.y.tolist(), color=color, marker="braille", label=label)
                drawn.append(smoothed.y)
            else:
                plt.plot(raw.x.tolist(), raw.y.tolist(), color=color, marker="braille", label=label)
                drawn.append(raw.y)
            followed.append((smoothed if smoothed is not None else raw, color))
            bad = raw.nan_x.size + raw.posinf_x.size + raw.neginf_x.size
            data["series"].append({"run": view.info.name, "metric": metric, "x": raw.x.tolist(),
                                   "y": raw.y.tolist(), "nonfinite_at": np.concatenate(
                                       [raw.nan_x, raw.posinf_x, raw.neginf_x]).tolist(), "nonfinite": bad})
    if not drawn:
        raise ValueError(f"no run here has the metric {', '.join(metrics)}")
    if log_y:
        plt.yscale("log")
    limits = robust_range(drawn, ignore_outliers=True, log=log_y)
    if limits:
        plt.ylim(*limits)
    xs = [s["x"] for s in data["series"] if s["x"]]
    span = (min(x[0] for x in xs), max(x[-1] for x in xs)) if xs else None
    if span is not None and span[1] > span[0]:
        plt.xlim(*span)  # pinned, so marks drawn over the figure land on the curves' columns
        if x_axis != "step":
            plt.xticks(*time_ticks(*span, x_axis))
    plt.xlabel({"step": "step", "time": "wallclock", "relative": "time since start"}[x_axis])
    notes = [f"{s['run']}:{s['metric']} has {s['nonfinite']} non-finite values" for s in data["series"]
             if s["nonfinite"]]
    text = plt.build()
    if limits and span is not None:
        text = _mark_off_scale(text, followed, limits, span)
    if not sys.stdout.isatty():
        text = clean_block(text)
    return text + ("\n" + "\n".join(notes) if notes else ""), data


def _mark_off_scale(text: str, followed: list[tuple[Prepared, tuple[int, int, int]]], limits: tuple[float, float],
                    span: tuple[float, float]) -> str:
    """▲ on the frame's top edge above points the y-range cuts off, ▼ on its bottom edge: as the app marks them."""
    lines = text.split("\n")
    top = next((i for i, line in enumerate(lines) if "┌" in line), None)
    bottom = next((i for i, line in enumerate(lines) if "└" in line), None)
    for row, glyph, side in ((top, OFF_SCALE_ABOVE, 0), (bottom, OFF_SCALE_BELOW, 1)):
        if row is None or "\x1b" in lines[row].removesuffix("\x1b[0m"):
            continue  # colour codes inside the edge: its characters would not be its columns
        marks: dict[int, str] = {}
        for points, (r, g, b) in followed:
            for column in frame_columns(lines[row], *span, points.off_scale(*limits)[side].tolist()):
                marks[column] = f"\x1b[1;38;2;{r};{g};{b}m{glyph}\x1b[0m"
        line = lines[row]
        for column in sorted(marks, reverse=True):  # from the right: the columns to the left stay where they were
            line = line[:column] + marks[column] + line[column + 1:]
        lines[row] = line
    return "\n".join(lines)
