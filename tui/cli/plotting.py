"""`runyard plot`: metric curves of several runs drawn with plotext, against step, wallclock or elapsed time.

Drawn as the app draws them, with the same preparation (`prepare`, `robust_range`, `on_axis` for a log axis)
and marks: non-finite values as red crosses at the frame's edge, points a log axis cannot show left out and
counted, points the y-range cuts off as ▲/▼ on the frame. Whatever the data, a frame is drawn and what could
not be drawn is said below it.

Colours follow the terminal as Rich decides for `runyard ls` (`formatting.colour_system`): none at all when piped,
under NO_COLOR or TERM=dumb, 16 distinct basic ones, 256 or 24-bit. Where colours run out (or there are none)
each curve also gets its own marker, shown beside its name in the legend.
"""

from __future__ import annotations

import difflib
import shutil
from typing import Any

import numpy as np

from runyard import Prepared, clean_block, clean_field, main_metrics, on_axis, robust_range, x_span

from ..formatting import (
    PALETTE,
    Colour,
    EdgeMark,
    basic_sgr,
    curve_styles,
    draw_curve,
    edge_marks,
    frame_columns,
    pinned_span,
    set_y_range,
    sgr,
    step_ticks,
    time_ticks,
)
from ..live.restarts import broken, prepare_lives

X_COLUMN = {"step": "step", "time": "time", "relative": "elapsed"}
PNG_BUCKETS = 2000  # points kept per curve in a PNG (each column's min and max): more than its width in pixels
PNG_LINESTYLES = ("-", "--", ":", "-.")


def resolve_metric(names: Any, wanted: str) -> str | None:
    """The metric `wanted` names: itself, or the one whose name shows as `wanted` once escape sequences are
    taken out (a name holding escapes is listed cleaned, and can be plotted by what was listed)."""
    if wanted in names:
        return wanted
    shown = [n for n in names if clean_field(n) == wanted]
    return shown[0] if len(shown) == 1 else None


def plot_runs(views: list[Any], metrics: list[str], x_axis: str, smooth: float, log_y: bool,
              width: int | None, height: int | None, outliers: bool = False,
              colours: str | None = None) -> tuple[str, dict[str, Any]]:
    """The plot as terminal text (notes on what could not be drawn below it), and the plotted points as data.

    The y-range leaves outliers out (as the app does by default) unless `outliers`; what it leaves out is counted
    in the notes. `colours` is the terminal's colour system (see `formatting.colour_system`); None: no colour.
    """
    import plotext as plt

    metrics = _chosen_metrics(views, metrics)
    cols, rows = shutil.get_terminal_size((100, 30))
    width = width or cols
    plt.clear_figure()
    plt.limitsize(False, False)  # a width asked for is a width drawn, even wider than the terminal
    plt.plotsize(width, height or min(rows - 2, 24))
    plt.theme("clear")
    data: dict[str, Any] = {"x": x_axis, "series": []}
    drawn: list[np.ndarray] = []
    raws: list[Prepared] = []
    notes: list[str] = []
    followed: list[tuple[Prepared, Colour]] = []  # the curves drawn, for off-scale marks
    styles = curve_styles(len(views) * len(metrics), colours)
    values_on_axis: list[tuple[str, np.ndarray]] = []  # every finite value as placed on the y-axis, to count
    buckets = max(10, width * 2)
    for i, view in enumerate(views):
        for j, wanted in enumerate(metrics):
            metric = resolve_metric(view.summary, wanted)
            if metric is None:
                continue
            series = view.series(metric)
            style = styles[i * len(metrics) + j]
            raw, smoothed, edges = prepare_lives(series[X_COLUMN[x_axis]].to_numpy(), series["value"].to_numpy(),
                                                 buckets, steps=series["step"].to_numpy(), restarts=_restarts(view),
                                                 smoothing=smooth)
            label = clean_field(metric if len(views) == 1 else f"{view.info.name}:{metric}")
            rx, ry = on_axis(raw.x, raw.y, log_y)
            bright = Prepared(rx, ry)
            if smoothed is not None:
                bright = Prepared(*on_axis(smoothed.x, smoothed.y, log_y))
                if rx.size:  # without colour the raw points are told from the smoothed curve by a lighter marker
                    plt.plot(*_segments(rx, ry, edges), color=style.faint, marker=style.marker if colours else ".")
                    drawn.append(ry)  # the raw curve is drawn too: the y-range covers its extremes (as TensorBoard)
                    followed.append((Prepared(rx, ry), style.faint))
            draw_curve(plt, *broken(bright.x, bright.y, edges), style.color, label, style.marker)
            drawn.append(bright.y)
            raws.append(raw)
            followed.append((bright, style.color))
            values = series["value"].to_numpy(dtype=np.float64)
            values_on_axis.append((label, on_axis(values, values, log_y)[1]))
            notes += _notes(label, series["value"].to_numpy(), log_y, drawable=bool(bright.x.size))
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
    if not raws:
        raise ValueError(_missing(views, metrics))
    limits = robust_range(drawn, ignore_outliers=not outliers)
    marked = [x for raw in raws for x in (*raw.nan_x.tolist(), *raw.posinf_x.tolist(), *raw.neginf_x.tolist())]
    set_y_range(plt, limits, log_y, marked)
    if limits is not None:
        notes += _left_off(values_on_axis, limits, log_y)
    span = pinned_span(x_span([x for raw in raws for x in (raw.x, raw.nan_x, raw.posinf_x, raw.neginf_x)]))
    if span is not None:
        plt.xlim(*span)  # pinned, so marks drawn over the figure land on the curves' columns
        plt.xticks(*(step_ticks(*span) if x_axis == "step" else time_ticks(*span, x_axis)))
    plt.xlabel({"step": "step", "time": "wallclock", "relative": "time since start"}[x_axis])
    text = plt.build()
    if span is not None:
        text = _mark_edges(text, edge_marks(followed, raws, limits), span, colours)
    if colours is None:
        text = clean_block(text)  # plotext ends lines with a colour reset even when nothing is coloured
    elif colours == "standard":
        text = basic_sgr(text)
    return text + ("\n" + "\n".join(notes) if notes else ""), data


def plot_png(views: list[Any], metrics: list[str], x_axis: str, smooth: float, log_y: bool, outliers: bool,
             path: Any) -> list[str]:
    """`plot_runs`' curves written to `path` as a PNG with matplotlib: the same series, preparation, colours,
    y-range and marks; the notes on what could not be drawn (also printed under the figure)."""
    from runyard import FigureCurve, plot_figure

    metrics = _chosen_metrics(views, metrics)
    curves: list[Any] = []
    drawn: list[np.ndarray] = []
    notes: list[str] = []
    values_on_axis: list[tuple[str, np.ndarray]] = []
    for i, view in enumerate(views):
        for j, wanted in enumerate(metrics):
            metric = resolve_metric(view.summary, wanted)
            if metric is None:
                continue
            series = view.series(metric)
            at = i * len(metrics) + j  # the terminal's colour order; past the palette, another line style
            raw, smoothed, edges = prepare_lives(series[X_COLUMN[x_axis]].to_numpy(), series["value"].to_numpy(),
                                                 PNG_BUCKETS, steps=series["step"].to_numpy(),
                                                 restarts=_restarts(view), smoothing=smooth)
            label = clean_field(metric if len(views) == 1 else f"{view.info.name}:{metric}")
            curves.append(FigureCurve.from_prepared(label, PALETTE[at % len(PALETTE)], raw, smoothed, edges,
                                                    linestyle=PNG_LINESTYLES[(at // len(PALETTE)) % 4]))
            bright = on_axis(raw.x, raw.y, log_y)[1]
            if smoothed is not None:
                drawn.append(bright)  # the raw curve is drawn faint behind: the y-range covers it (as above)
                bright = on_axis(smoothed.x, smoothed.y, log_y)[1]
            drawn.append(bright)
            values = series["value"].to_numpy(dtype=np.float64)
            values_on_axis.append((label, on_axis(values, values, log_y)[1]))
            notes += _notes(label, values, log_y, drawable=bool(bright.size))
    if not curves:
        raise ValueError(_missing(views, metrics))
    limits = robust_range(drawn, ignore_outliers=not outliers)
    if limits is not None:
        notes += _left_off(values_on_axis, limits, log_y)
        if log_y:  # the range is judged in decades, as the terminal's log axis places the points
            limits = (10 ** limits[0], 10 ** limits[1])
    plot_figure(curves, path, x_axis=x_axis, log_y=log_y, limits=limits, notes=notes,
                y_label=clean_field(metrics[0]) if len(metrics) == 1 else "")
    return notes


def _chosen_metrics(views: list[Any], metrics: list[str]) -> list[str]:
    """The metrics asked for, else the runs' main one (by the most points any run has: one-point figures last)."""
    if not metrics:
        counts: dict[str, int] = {}
        for view in views:
            for name, stats in view.summary.items():
                counts[name] = max(counts.get(name, 0), stats.count)
        metrics = main_metrics(counts, limit=1) or sorted(counts)[:1]
    if not metrics:
        raise ValueError("these runs hold no metrics to plot")
    return metrics


def _restarts(view: Any) -> list[int]:
    """Steps where a restarted run's next life began (resume markers, TensorBoard purges): the curve breaks there."""
    try:
        return list(view.source.metrics_data().restarts) or list(view.info.restarts_at)
    except Exception:  # the series were read already; a run that cannot say is drawn in one piece
        return list(getattr(view.info, "restarts_at", []) or [])


def _segments(x: np.ndarray, y: np.ndarray, edges: list[float]) -> tuple[list[float], list[float]]:
    """Points for plotext, with a gap (a NaN point) at each restart."""
    bx, by = broken(x, y, edges)
    return bx.tolist(), by.tolist()


def _notes(label: str, values: np.ndarray, log_y: bool, drawable: bool) -> list[str]:
    """What the figure cannot show of one series: its non-finite values, and the values a log axis leaves out."""
    values = np.asarray(values, dtype=np.float64)
    kinds = [(int(np.isnan(values).sum()), "NaN"), (int((values == np.inf).sum()), "+inf"),
             (int((values == -np.inf).sum()), "-inf")]
    bad = sum(n for n, _ in kinds)
    notes = []
    if bad:
        which = ", ".join(f"{n} {kind}" for n, kind in kinds if n)
        notes.append(f"{label} has {bad} non-finite value{'s' if bad > 1 else ''} ({which}), "
                     f"marked x on the frame's edge")
    if log_y:
        left_out = int((np.isfinite(values) & (values <= 0)).sum())
        if left_out:
            notes.append(f"{label}: {left_out} of {values.size} values are zero or negative, "
                         f"left out of the log scale")
    if not drawable:
        notes.append(f"{label}: nothing {'positive' if log_y and bad < values.size else 'finite'} to draw"
                     + (" on a log scale" if log_y and bad < values.size else ""))
    return notes


def _missing(views: list[Any], metrics: list[str]) -> str:
    """`no run here has the metric val_los; did you mean 'val_loss'?`"""
    message = f"no run here has the metric {', '.join(metrics)}"
    names = sorted({clean_field(n) for v in views for n in v.summary})
    close = [m for w in metrics for m in difflib.get_close_matches(w, names, n=1, cutoff=0.6)]
    if close:
        return f"{message}; did you mean {', '.join(repr(c) for c in dict.fromkeys(close))}?"
    return message


def _left_off(values_on_axis: list[tuple[str, np.ndarray]], limits: tuple[float, float], log_y: bool) -> list[str]:
    """A note for each series with points outside the y-range (marked ▲/▼ on the frame)."""
    notes = []
    for label, y in values_on_axis:
        y = y[np.isfinite(y)]
        out = int(((y < limits[0]) | (y > limits[1])).sum())
        if out:
            notes.append(f"{label}: {out} of {y.size} points outside the y-range, marked ▲/▼ on the frame's edge"
                         f" (--outliers draws them all)")
    return notes


def _mark_edges(text: str, marks: tuple[list[EdgeMark], list[EdgeMark]], span: tuple[float, float],
                colours: str | None) -> str:
    """The `edge_marks` drawn on the frame's top and bottom edges: as the app marks them."""
    lines = text.split("\n")
    top = next((i for i, line in enumerate(lines) if "┌" in line), None)
    bottom = next((i for i, line in enumerate(lines) if "└" in line), None)
    for row, edge in ((top, marks[0]), (bottom, marks[1])):
        if row is None or "\x1b" in lines[row].removesuffix("\x1b[0m"):
            continue  # colour codes inside the edge: its characters would not be its columns
        marked: dict[int, str] = {}
        for xs, glyph, color in edge:
            start = sgr(color, colours, bold=True)
            for column in frame_columns(lines[row], *span, list(xs)):
                marked[column] = f"{start}{glyph}\x1b[0m" if start else glyph
        line = lines[row]
        for column in sorted(marked, reverse=True):  # from the right: the columns to the left stay where they were
            line = line[:column] + marked[column] + line[column + 1:]
        lines[row] = line
    return "\n".join(lines)


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
