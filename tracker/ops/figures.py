"""Figures of runs as PNG files, for a write-up: drawn with matplotlib (the optional extra `runyard[png]`), headless.

`export_figures` writes the two figures a training report shows: the loss against step and against time since
start (`loss_curves.png`) and the learning-rate schedule (`lr_schedule.png`). `plot_figure` draws curves a caller
prepared (what `runyard plot --png` draws, with the terminal plot's preparation). What a figure cannot show — a
NaN or infinite value, a value a log axis cannot place, a point outside the y-range — is marked on the frame's
edge as the terminal plot marks it, counted in a note under the figure and returned.

matplotlib is imported inside the functions, with its Agg canvas and the object API only (no pyplot, no global
state, no display): `import runyard` stays cheap and a figure can be drawn on a machine without a screen.
"""

from __future__ import annotations

import io
import math
import os
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import write_atomic
from ..errors import TrackerError
from ..reading.curves import Prepared, on_axis, prepare, robust_range
from ..reading.metricnames import is_held_out, main_metrics
from ..reading.textsafe import clean_field
from .compare import short_names

MISSING_MATPLOTLIB = "PNG export needs matplotlib: pip install 'runyard[png]'"
DPI = 100
LOSS_SIZE = (12.0, 4.5)   # inches at DPI: 1200 x 450 pixels, two axes side by side
LR_SIZE = (7.0, 4.5)      # 700 x 450
PLOT_SIZE = (9.0, 5.0)    # 900 x 500
BUCKETS = 2000            # points kept per curve (each bucket's min and max): more than the figure has pixels
OUTLIER_SPAN = 3.0        # see `_limits`
LOG_Y_DECADES = 1.0       # the bulk of the loss values spanning this many decades or more puts the loss on log-y
NONFINITE_COLOUR = (255, 60, 60)  # the terminal plot's red crosses
RGB = tuple[int, int, int]
LINESTYLES = ("-", "--", ":", "-.")
_LR = re.compile(r"(?:^|[/_.\-\s])(?:lr|learning[_\-\s]?rate)(?:$|[/_.\-\s])", re.IGNORECASE)


class PngUnavailable(TrackerError):
    """matplotlib is not installed: PNG figures need the `runyard[png]` extra."""


def require_matplotlib() -> None:
    """Raise `PngUnavailable` unless matplotlib can be imported (to fail before any run is read)."""
    _matplotlib()


@dataclass
class FigureCurve:
    """One line of a figure: its finite points as drawn, the faint raw points behind a smoothed line, and the x
    of the values it cannot draw (NaN and +inf marked on the top edge, -inf on the bottom one)."""

    label: str
    colour: RGB
    x: np.ndarray
    y: np.ndarray
    faint_x: np.ndarray | None = None
    faint_y: np.ndarray | None = None
    nan_x: np.ndarray = field(default_factory=lambda: np.empty(0))
    posinf_x: np.ndarray = field(default_factory=lambda: np.empty(0))
    neginf_x: np.ndarray = field(default_factory=lambda: np.empty(0))
    edges: Sequence[float] = ()   # x where a restarted run's next life begins: the line breaks there
    linestyle: str = "-"
    in_legend: bool = True

    @classmethod
    def from_prepared(cls, label: str, colour: RGB, raw: Prepared, smoothed: Prepared | None = None,
                      edges: Sequence[float] = (), linestyle: str = "-", in_legend: bool = True) -> FigureCurve:
        """A curve of `prepare`'s output: the smoothed line over its faint raw points, or the raw line alone."""
        line = smoothed if smoothed is not None else raw
        return cls(label, colour, line.x, line.y,
                   faint_x=raw.x if smoothed is not None else None, faint_y=raw.y if smoothed is not None else None,
                   nan_x=raw.nan_x, posinf_x=raw.posinf_x, neginf_x=raw.neginf_x, edges=edges,
                   linestyle=linestyle, in_legend=in_legend)


@dataclass
class FigureExport:
    """What `export_figures` did: the files it wrote, and notes on what it could not draw or left out."""

    written: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plot_figure(curves: Sequence[FigureCurve], path: str | os.PathLike[str], *, x_axis: str = "step",
                log_y: bool = False, limits: tuple[float, float] | None = None, notes: Sequence[str] = (),
                y_label: str = "") -> Path:
    """Draw `curves` on one axis and write them to `path` as a PNG (PLOT_SIZE); the path written.

    `x_axis` is "step", "time" (wallclock) or "relative" (seconds since start); `limits` the y-range in data
    units (None: every finite point); `notes` are printed small under the axes.
    """
    figure, canvas = _figure(PLOT_SIZE)
    ax = figure.add_subplot()
    _draw(ax, curves, x_axis=x_axis, log_y=log_y, limits=limits)
    ax.set_ylabel(_text(y_label))
    if any(c.in_legend and c.x.size for c in curves):
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    _footnote(figure, notes)
    return _save(canvas, path)


def export_figures(views: Sequence[Any], folder: str | os.PathLike[str], *, labels: Sequence[str] | None = None,
                   palette: Sequence[RGB] | None = None) -> FigureExport:
    """Write `loss_curves.png` and `lr_schedule.png` for `views` (RunViews) into `folder` (made if missing).

    Run k keeps `palette[k]` in both figures (the app's and `runyard plot`'s order: pass the same palette; by
    default matplotlib's) and is named in the legend by `labels[k]` (default: `run_labels`). A figure no run
    has data for is left out with a note. The loss is a run's main loss metrics: its training loss (solid) and
    its held-out loss (dashed), whichever it has.
    """
    _matplotlib()  # before anything is read: without matplotlib nothing can be written
    views = list(views)
    if not views:
        raise ValueError("no runs to export")
    labels = [clean_field(n) for n in labels] if labels else run_labels(views)
    colours = _palette(palette, len(views))
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot make the folder {folder}: {(exc.strerror or str(exc)).lower()}") from exc
    result = FigureExport()
    loss = _loss_figure(views, labels, colours, folder / "loss_curves.png", result.notes)
    if loss is not None:
        result.written.append(loss)
    lr = _lr_figure(views, labels, colours, folder / "lr_schedule.png", result.notes)
    if lr is not None:
        result.written.append(lr)
    return result


def run_labels(views: Sequence[Any]) -> list[str]:
    """The runs' names as a legend shows them: the shortest part that still tells them apart (`short_names`)."""
    return short_names([clean_field(v.info.name) for v in views])


def loss_metrics(view: Any) -> list[str]:
    """A run's main loss metrics, training loss first: at most one training and one held-out loss curve."""
    summary = view.summary
    losses = {n: s for n, s in summary.items() if "loss" in n.lower()}
    ranked = main_metrics(losses, limit=len(losses), fill=False)  # curves only, where a run has any
    train = [n for n in ranked if not is_held_out(n)][:1]
    held = [n for n in ranked if is_held_out(n)][:1]
    return train + held


def lr_metric(view: Any) -> str | None:
    """A run's learning-rate metric, found by name: `lr`, `learning_rate`, `train/lr`, `LR`, `lr-AdamW`..."""
    def rank(name: str) -> tuple[int, str]:
        low = name.lower()
        last = low.rsplit("/", 1)[-1]
        exact = 0 if low in ("lr", "learning_rate") else 1 if last in ("lr", "learning_rate", "learning-rate") else 2
        return exact, name

    found = [n for n in view.summary if _LR.search(n) and not n.lower().startswith(("sys/", "hparam/"))]
    return min(found, key=rank) if found else None


# --- the two export figures ---------------------------------------------------------------------------------


def _loss_figure(views: list[Any], labels: list[str], colours: list[RGB], path: Path, notes: list[str]) -> Path | None:
    """Loss against step (left) and against time since start (right), one colour per run."""
    by_step: list[FigureCurve] = []
    by_time: list[FigureCurve] = []
    values: list[np.ndarray] = []
    names: dict[str, set[str]] = {"-": set(), "--": set()}
    figure_notes: list[str] = []
    for k, view in enumerate(views):
        metrics = loss_metrics(view)
        if not metrics:
            figure_notes.append(f"{labels[k]}: no loss metric")
            continue
        for metric in metrics:
            style = "--" if is_held_out(metric) else "-"
            names[style].add(clean_field(metric))
            series = view.series(metric)
            y = series["value"].to_numpy(dtype=np.float64)
            values.append(y)
            edges = _restart_edges(view, series)
            figure_notes += _nonfinite_note(f"{labels[k]} {clean_field(metric)}", y)
            first = not any(c.label == labels[k] for c in by_step)
            for x_col, into in (("step", by_step), ("elapsed", by_time)):
                x = series[x_col].to_numpy(dtype=np.float64)
                raw, _ = prepare(x, y, BUCKETS)
                into.append(FigureCurve.from_prepared(labels[k], colours[k], raw, edges=edges.get(x_col, ()),
                                                      linestyle=style, in_legend=first))
    if not by_step:
        notes.append(f"{path.name} not written: no run has a loss metric")
        return None
    log_y, why = _loss_log_y(values)
    limits = _limits(values, log_y)
    figure, canvas = _figure(LOSS_SIZE)
    left, right = figure.subplots(1, 2, sharey=True)
    _draw(left, by_step, x_axis="step", log_y=log_y, limits=limits)
    _draw(right, by_time, x_axis="relative", log_y=log_y, limits=limits)
    left.set_ylabel("loss" + (" (log scale)" if log_y else ""))
    left.set_title("against step", fontsize="medium")
    right.set_title("against time since start", fontsize="medium")
    if not any(c.x.size for c in by_time):
        right.text(0.5, 0.5, "no wallclock time recorded", transform=right.transAxes, ha="center", color="0.4")
    handles = _run_handles(by_step) + _style_handles(names)
    left.legend(handles=handles, loc="best", fontsize="small", framealpha=0.8)
    if why:
        figure_notes.append(why)
    figure_notes += _off_range_notes(by_step, limits, labels)
    _footnote(figure, figure_notes)
    notes += [f"{path.name}: {n}" for n in figure_notes]
    return _save(canvas, path)


def _lr_figure(views: list[Any], labels: list[str], colours: list[RGB], path: Path, notes: list[str]) -> Path | None:
    """The learning rate against step, one colour per run; left out when no run logs one."""
    curves: list[FigureCurve] = []
    figure_notes: list[str] = []
    missing: list[str] = []
    metrics: set[str] = set()
    for k, view in enumerate(views):
        metric = lr_metric(view)
        if metric is None:
            missing.append(labels[k])
            continue
        metrics.add(clean_field(metric))
        series = view.series(metric)
        y = series["value"].to_numpy(dtype=np.float64)
        figure_notes += _nonfinite_note(f"{labels[k]} {clean_field(metric)}", y)
        raw, _ = prepare(series["step"].to_numpy(dtype=np.float64), y, BUCKETS)
        curves.append(FigureCurve.from_prepared(labels[k], colours[k], raw,
                                                edges=_restart_edges(view, series).get("step", ())))
    if not curves:
        notes.append(f"{path.name} not written: no run logs a learning rate (lr, learning_rate, ...)")
        return None
    if missing:
        figure_notes.append(f"no learning rate logged by {', '.join(missing)}")
    figure, canvas = _figure(LR_SIZE)
    ax = figure.add_subplot()
    _draw(ax, curves, x_axis="step", log_y=False, limits=None)
    ax.set_ylabel(_text(" / ".join(sorted(metrics)) if len(metrics) <= 2 else "learning rate"))
    ax.set_title("learning rate", fontsize="medium")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    if any(c.x.size for c in curves):
        ax.legend(loc="best", fontsize="small", framealpha=0.8)
    _footnote(figure, figure_notes)
    notes += [f"{path.name}: {n}" for n in figure_notes]
    return _save(canvas, path)


def _loss_log_y(values: list[np.ndarray]) -> tuple[bool, str]:
    """Whether the loss goes on a log axis, and a note saying why when it does.

    Log-y when the bulk of the values (5th to 95th percentile, so one early spike does not decide) spans a decade
    or more: on a linear axis the late part of training, where runs differ, would then fill a tenth of the
    height. Never when a value is zero or negative (a log axis would leave it out).
    """
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.empty(0)
    if finite.size < 2 or (finite <= 0).any():
        return False, ""
    lo, hi = np.percentile(finite, [5, 95])
    decades = math.log10(hi / lo) if lo > 0 else 0.0
    if decades < LOG_Y_DECADES:
        return False, ""
    return True, f"log-scale y: the loss spans {decades:.1f} decades"


def _limits(values: list[np.ndarray], log_y: bool) -> tuple[float, float] | None:
    """The y-range of a write-up figure: every finite point, unless a few outliers would flatten the rest (the
    full span over OUTLIER_SPAN times the bulk's, as a divergence spike does): then the bulk, as the app shows
    it by default. On a log axis both are judged in decades."""
    placed = [on_axis(v, v, log_y)[1] for v in values]
    full = robust_range(placed, ignore_outliers=False)
    bulk = robust_range(placed, ignore_outliers=True)
    limits = full
    if full is not None and bulk is not None and full[1] - full[0] > OUTLIER_SPAN * (bulk[1] - bulk[0]):
        limits = bulk
    elif full is not None:  # a little room, so the first and lowest points are not drawn on the frame
        pad = (full[1] - full[0]) * 0.03
        limits = (full[0] - pad, full[1] + pad)
    if limits is None or not log_y:
        return limits
    return 10 ** limits[0], 10 ** limits[1]


def _restart_edges(view: Any, series: Any) -> dict[str, list[float]]:
    """For each x column, where a restarted run's later lives begin (its first point at or after each restart)."""
    restarts = sorted(getattr(view.info, "restarts_at", None) or [])
    if not restarts or series.empty:
        return {}
    steps = series["step"].to_numpy()
    edges: dict[str, list[float]] = {"step": [], "elapsed": []}
    for at in restarts:
        later = np.flatnonzero(steps >= at)
        if later.size and later[0] > 0:
            first = later[np.argmin(steps[later])]
            for column in edges:
                edges[column].append(float(series[column].iloc[first]))
    return edges


def _nonfinite_note(label: str, values: np.ndarray) -> list[str]:
    kinds = [(int(np.isnan(values).sum()), "NaN"), (int((values == np.inf).sum()), "+inf"),
             (int((values == -np.inf).sum()), "-inf")]
    bad = sum(n for n, _ in kinds)
    if not bad:
        return []
    which = ", ".join(f"{n} {kind}" for n, kind in kinds if n)
    return [f"{label}: {bad} non-finite value{'s' if bad > 1 else ''} ({which}) left out, marked x on the edge"]


def _off_range_notes(curves: Sequence[FigureCurve], limits: tuple[float, float] | None,
                     labels: Sequence[str]) -> list[str]:
    """How many drawn points of each run lie outside the y-range (marked ▲/▼ on the frame's edge)."""
    if limits is None:
        return []
    out: dict[str, int] = {}
    for c in curves:
        n = int(((c.y < limits[0]) | (c.y > limits[1])).sum())
        if n:
            out[c.label] = out.get(c.label, 0) + n
    return [f"{label}: {out[label]} points outside the y-range, marked ▲/▼ on the edge" for label in labels
            if label in out]


# --- drawing ------------------------------------------------------------------------------------------------


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise PngUnavailable(MISSING_MATPLOTLIB) from exc
    return matplotlib


def _figure(size: tuple[float, float]) -> tuple[Any, Any]:
    """A white figure of `size` inches at DPI on its own Agg canvas (no pyplot, nothing shared)."""
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=DPI, facecolor="white", layout="constrained")
    return figure, FigureCanvasAgg(figure)


def _palette(palette: Sequence[RGB] | None, count: int) -> list[RGB]:
    """`count` colours: `palette` repeated, else matplotlib's own ten (tab10)."""
    if not palette:
        from matplotlib import colormaps

        palette = [(round(r * 255), round(g * 255), round(b * 255)) for r, g, b in colormaps["tab10"].colors]
    chosen = [palette[k % len(palette)] for k in range(count)]
    return [(int(r), int(g), int(b)) for r, g, b in chosen]


def _rgb(colour: RGB, alpha: float = 1.0) -> tuple[float, float, float, float]:
    return (colour[0] / 255, colour[1] / 255, colour[2] / 255, alpha)


def _text(text: str) -> str:
    """Text shown as written: `$` would start matplotlib's mathtext."""
    return clean_field(text).replace("$", r"\$")


def _broken(x: np.ndarray, y: np.ndarray, edges: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Points with a NaN before each restart edge: matplotlib draws no line across a NaN."""
    if not len(edges) or x.size < 2:
        return x, y
    at = np.unique(np.searchsorted(x, np.asarray(edges, dtype=np.float64), side="left"))
    at = at[(at > 0) & (at < x.size)]
    return np.insert(x.astype(np.float64), at, np.nan), np.insert(y.astype(np.float64), at, np.nan)


def _draw(ax: Any, curves: Sequence[FigureCurve], *, x_axis: str, log_y: bool,
          limits: tuple[float, float] | None) -> None:
    """Draw `curves` on `ax` with the terminal plot's marks: non-finite values as red crosses on the frame's edge
    (NaN and +inf on top, -inf below), points outside `limits` as ▲/▼ in their curve's colour."""
    from matplotlib.transforms import blended_transform_factory

    edge = blended_transform_factory(ax.transData, ax.transAxes)  # x in data, y in the axes' 0..1
    scale, unit = _x_scale(curves, x_axis)
    if log_y:
        ax.set_yscale("log")
    for c in curves:
        x, y = c.x, c.y
        if log_y:  # a log axis has no place for zero or negative values: the caller's notes count them
            x, y = x[y > 0], y[y > 0]
        if c.faint_x is not None and c.faint_y is not None and c.faint_x.size:
            fx, fy = c.faint_x, c.faint_y
            if log_y:
                fx, fy = fx[fy > 0], fy[fy > 0]
            ax.plot(*_broken(fx / scale, fy, [e / scale for e in c.edges]), color=_rgb(c.colour, 0.3), lw=0.8,
                    ls=c.linestyle)
        if x.size:
            ax.plot(*_broken(x / scale, y, [e / scale for e in c.edges]), color=_rgb(c.colour), lw=1.5,
                    ls=c.linestyle, label=_text(c.label) if c.in_legend else None,
                    marker="." if x.size == 1 else None)
        top = np.concatenate([c.nan_x, c.posinf_x]) / scale
        if top.size:
            ax.plot(top, np.ones(top.size), transform=edge, ls="none", marker="x", ms=6, mew=1.5,
                    color=_rgb(NONFINITE_COLOUR), clip_on=False, zorder=5)
        if c.neginf_x.size:
            ax.plot(c.neginf_x / scale, np.zeros(c.neginf_x.size), transform=edge, ls="none", marker="x", ms=6,
                    mew=1.5, color=_rgb(NONFINITE_COLOUR), clip_on=False, zorder=5)
        if limits is not None:
            for mask, at, marker in ((y > limits[1], 1.0, "^"), (y < limits[0], 0.0, "v")):
                if mask.any():
                    ax.plot(x[mask] / scale, np.full(int(mask.sum()), at), transform=edge, ls="none",
                            marker=marker, ms=5, color=_rgb(c.colour), clip_on=False, zorder=4)
    if limits is not None and limits[1] > limits[0]:
        ax.set_ylim(*limits)
    elif not any(c.x.size for c in curves):
        ax.set_yticks([])
    ax.set_xlabel({"step": "step", "time": "wallclock (local time)", "relative": f"time since start ({unit})"}
                  [x_axis])
    if x_axis == "time":
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        span = _x_span(curves)
        fmt = "%m-%d %H:%M" if span > 86400 else "%H:%M" if span > 120 else "%H:%M:%S"
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda t, _: time.strftime(fmt, time.localtime(t))
                                                   if math.isfinite(t) else ""))
    ax.grid(True, color="0.9", lw=0.6)
    ax.set_axisbelow(True)


def _x_span(curves: Sequence[FigureCurve]) -> float:
    xs = [a[np.isfinite(a)] for c in curves for a in (c.x, c.nan_x, c.posinf_x, c.neginf_x) if a.size]
    xs = [a for a in xs if a.size]
    if not xs:
        return 0.0
    return max(float(a.max()) for a in xs) - min(float(a.min()) for a in xs)


def _x_scale(curves: Sequence[FigureCurve], x_axis: str) -> tuple[float, str]:
    """For time since start: seconds, minutes or hours, whichever keeps the ticks readable."""
    if x_axis != "relative":
        return 1.0, ""
    span = _x_span(curves)
    if span >= 3 * 3600:
        return 3600.0, "h"
    if span >= 3 * 60:
        return 60.0, "min"
    return 1.0, "s"


def _run_handles(curves: Sequence[FigureCurve]) -> list[Any]:
    """One legend line per run, in its colour."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=_rgb(c.colour), lw=2, label=_text(c.label)) for c in curves if c.in_legend]


def _style_handles(names: dict[str, set[str]]) -> list[Any]:
    """What solid and dashed mean, with the metric names behind them (when there are both kinds)."""
    from matplotlib.lines import Line2D

    if not (names["-"] and names["--"]):
        return []

    def label(kind: str, found: set[str]) -> str:
        shown = sorted(found)
        return _text(f"{kind}: {', '.join(shown[:3])}{', ...' if len(shown) > 3 else ''}")

    return [Line2D([], [], color="0.3", ls="-", label=label("training", names["-"])),
            Line2D([], [], color="0.3", ls="--", label=label("held out", names["--"]))]


def _footnote(figure: Any, notes: Sequence[str], shown: int = 4) -> None:
    """Notes printed small under the axes (the first few, and how many more)."""
    if not notes:
        return
    lines = [_text(n) for n in notes[:shown]]
    if len(notes) > shown:
        lines.append(f"... and {len(notes) - shown} more")
    pixels = figure.get_figheight() * DPI
    share = min(0.4, (len(lines) * 14 + 8) / pixels)  # 8-point lines are about 14 pixels apart at DPI 100
    figure.get_layout_engine().set(rect=(0, share, 1, 1 - share))
    figure.text(0.01, share - 4 / pixels, "\n".join(lines), ha="left", va="top", fontsize=8, color="0.35")


def _save(canvas: Any, path: str | os.PathLike[str]) -> Path:
    """Render and write the PNG whole or not at all (`write_atomic`: a temporary file renamed over `path`)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"no such folder: {path.parent}")
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # a glyph the font lacks (a CJK name) is drawn as a box, and that is all the user needs to know
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        canvas.print_png(buffer)
    write_atomic(path, buffer.getvalue())
    return path
