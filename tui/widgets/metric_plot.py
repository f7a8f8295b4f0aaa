"""The curves widgets: plotext drawing of prepared, downsampled traces, with a cursor for log <-> curve.

Series are smoothed on their full length (cached by `Series.smoothed`) and downsampled to about two points
per column here, so drawing costs the same for a thousand points or a million. Prepared points are cached per
(data version, width), so moving the cursor or resizing redraws without recomputing.

`MetricPlot` draws curves on one y-axis; `MetricPanels` holds one or several of them, one per metric when a
shared axis would flatten a metric (small multiples, each panel with its own y-range).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any

import numpy as np
from rich.style import Style
from rich.text import Span, Text
from textual.app import ComposeResult
from textual.events import Resize
from textual.widget import Widget
from textual_plotext import PlotextPlot

from runyard import Prepared, clean_field, on_axis, robust_range, x_span

from ..formatting import (
    PALETTE,
    EdgeMark,
    curve_marker,
    curve_markers,
    draw_curve,
    edge_marks,
    frame_columns,
    pinned_span,
    set_y_range,
)
from ..live.braille import braille_cells
from ..live.restarts import broken, prepare_lives

X_LABEL = {"step": "step", "time": "wallclock", "relative": "time since start"}


@dataclass
class Trace:
    """One curve: its label, colour, x values, raw values and (optionally) smoothed values."""

    label: str
    color: tuple[int, int, int]
    x: np.ndarray
    y: np.ndarray
    smooth_y: np.ndarray | None = None
    nonfinite: int = 0
    clean: bool = False  # x sorted and NaN-free, y finite: preparation may skip checking
    metric: str = ""  # which metric and which run (index) it draws: panels group by the one, colour by the other
    run: int = 0
    steps: np.ndarray | None = None  # each point's logged step, to tell which life of a restarted run it is in
    restarts: Sequence[int] = ()     # steps where the run's next life began: the curve has a gap there
    edges: list[float] = field(default_factory=list)  # x where a life after the first begins (set when prepared)
    marker: str | None = None  # plotext's marker; None: the output's curve marker (see `curve_marker`)
    hue: int | None = None  # the run's (or group's) colour as a palette index, the same on every screen
    band: bool = False      # an edge of a group's min-max band: drawn faint, without a legend entry
    legend: bool = True     # named in the plot's own legend (a screen with a legend line of its own says no)
    _cache: dict[int, tuple[Prepared, Prepared | None]] = field(default_factory=dict, repr=False)
    _raw: dict[int, tuple[Prepared, list[float]]] = field(default_factory=dict, repr=False)  # kept by `smoothed`

    def __post_init__(self) -> None:
        # The label is a metric (and run) name from a run's files: plotext writes it into its ANSI output as is.
        self.label = clean_field(self.label)

    def prepared(self, buckets: int) -> tuple[Prepared, Prepared | None]:
        """Raw (with non-finite markers) and smoothed points, min and max of each of `buckets` columns (each life
        of a restarted run on its own, so no column joins two)."""
        if buckets not in self._cache:
            if buckets in self._raw:  # the same points smoothed otherwise: only the smoothing is prepared again
                raw, self.edges = self._raw[buckets]
                smooth = None
                if self.smooth_y is not None:
                    smooth = prepare_lives(self.x, self.smooth_y, buckets, steps=self.steps, restarts=self.restarts,
                                           clean=self.clean)[0]
            else:
                raw, smooth, self.edges = prepare_lives(self.x, self.y, buckets, steps=self.steps,
                                                        restarts=self.restarts, smooth_y=self.smooth_y,
                                                        clean=self.clean)
            if len(self._cache) > 1:  # two widths: the panels' choice of layout, then the panel drawn
                self._cache.pop(next(iter(self._cache)))
            self._cache[buckets] = (raw, smooth)
        return self._cache[buckets]

    def smoothed(self, smooth_y: np.ndarray | None) -> Trace:
        """The same curve with other smoothed values: its raw points, prepared already, are not prepared again
        (a smoothing change redraws many long curves)."""
        other = replace(self, smooth_y=smooth_y, edges=list(self.edges), _cache={}, _raw=self._raw)
        for buckets, (raw, _) in self._cache.items():
            self._raw[buckets] = (raw, list(self.edges))
        return other

    def segments(self, x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
        """Points to hand plotext, with a break at each restart (see `broken`)."""
        bx, by = broken(x, y, self.edges)
        return bx.tolist(), by.tolist()

    def drawn(self, buckets: int, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
        """The points of the curve a reader follows (smoothed when smoothing is on), as placed on the y-axis."""
        raw, smooth = self.prepared(buckets)
        points = smooth if smooth is not None else raw
        return on_axis(points.x, points.y, log_y)


class MetricPlot(PlotextPlot):
    """Curves of one or more metrics of one or more runs against step, wallclock or elapsed time."""

    DEFAULT_CSS = """
    MetricPlot { height: 1fr; min-height: 6; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.traces: list[Trace] = []
        self.x_axis = "step"
        self.log_y = False
        self.ignore_outliers = True
        self.cursor_x: float | None = None
        self.message = "no metrics yet"
        self.title = ""  # drawn above the frame (a panel of small multiples names its metric)
        self._figure: tuple[tuple[int, int], Text] | None = None  # (size, figure) of the last plotext build
        self._x_range: tuple[float, float] | None = None
        self._shared_x: tuple[float, float] | None = None  # x span given by the panels, so cursors line up
        # marks on the frame's top and bottom edges: off-scale points and non-finite values (see `edge_marks`)
        self._edges: tuple[list[EdgeMark], list[EdgeMark]] = ([], [])
        # curves laid into the frame as braille cells after plotext drew the rest (see `_with_curves`): (x, y on
        # the axis, colour) in drawing order, and the y-range they are drawn in; None when plotext draws them
        self._raster: list[tuple[np.ndarray, np.ndarray, tuple[int, int, int], str | None]] | None = None
        self._y_range: tuple[float, float] | None = None
        self._empty: tuple[tuple, Text] | None = None  # the empty frame last built, by what shapes it

    def on_mount(self) -> None:
        super().on_mount()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._forget_figure())

    def _forget_figure(self) -> None:
        self._figure = None
        self._empty = None
        self.refresh()

    def _built(self) -> Text:
        """plotext's figure. With the curves laid in afterwards (see `_fast`) it is an empty frame, which is built
        again only when the frame would change (size, ranges, axis, title): a smoothing change keeps it."""
        if self._raster is None:
            return super().render()
        key = (self.size.width, self.size.height, self._x_range, self._y_range, self.log_y, self.x_axis, self.title)
        if self._empty is None or self._empty[0] != key:
            self._empty = (key, super().render())
        return self._empty[1]  # never changed in place: the curves go into new lines

    def show(self, traces: list[Trace], *, x_axis: str, log_y: bool, ignore_outliers: bool,
             cursor_x: float | None = None, message: str = "no metrics yet",
             x_range: tuple[float, float] | None = None, title: str = "") -> None:
        """Replace what is drawn and refresh (the drawing itself happens in `render`); `x_range` pins the x span."""
        self.traces, self.x_axis, self.log_y, self.title = traces, x_axis, log_y, clean_field(title)
        self.ignore_outliers, self.cursor_x, self.message = ignore_outliers, cursor_x, clean_field(message)
        self._shared_x = x_range
        self._figure = None
        self.refresh()

    def set_cursor(self, x: float | None) -> None:
        """Move the cursor: drawn over the figure already built, so plotext does not run again."""
        self.cursor_x = x
        self.refresh()

    def render(self) -> Any:
        try:
            size = (self.size.width, self.size.height)
            if self._figure is None or self._figure[0] != size:
                self._x_range = None
                self._edges = ([], [])
                self._draw()
                self._figure = (size, self._with_off_scale_marks(self._with_curves(self._built())))
            return self._with_cursor(self._figure[1])
        except Exception as exc:  # plotext can fail on odd data or sizes; the app must not, so say so instead
            return Text(f"cannot draw this plot ({type(exc).__name__}: {exc})", style="dim")

    def _frame(self, figure: Text) -> tuple[list[Text], int, int] | None:
        """The figure's lines and the rows of its frame's top and bottom edges (None without a frame)."""
        if self._x_range is None:
            return None
        lines = figure.split("\n", allow_blank=True)
        plain = [line.plain for line in lines]
        top = next((i for i, text in enumerate(plain) if "┌" in text), None)
        bottom = next((i for i, text in enumerate(plain) if "└" in text), None)
        if top is None or bottom is None:
            return None
        return lines, top, bottom

    def _with_cursor(self, figure: Text) -> Text:
        """The figure with a vertical cursor line at `cursor_x`, placed from the frame plotext drew."""
        frame = self._frame(figure) if self.cursor_x is not None else None
        if frame is None or self._x_range is None:
            return figure
        lines, top, bottom = frame
        columns = frame_columns(lines[top].plain, *self._x_range, [self.cursor_x])
        if not columns:
            return figure
        column = columns[0]
        for row in range(top + 1, bottom):
            line = lines[row]
            if column < len(line):
                lines[row] = Text.assemble(line[:column], ("│", "bold #f0f0f0"), line[column + 1:])
        return Text("\n").join(lines)

    def _with_curves(self, figure: Text) -> Text:
        """The figure with the curves laid into its frame as braille cells, each in its curve's colour, over
        plotext's empty canvas (its background kept): the fast way to draw many curves (see `_fast`)."""
        frame = self._frame(figure) if self._raster else None
        if frame is None or self._x_range is None or self._y_range is None:
            return figure
        lines, top, bottom = frame
        edge = lines[top].plain
        left, right = edge.find("┌"), edge.rfind("┐")
        width, height = right - left - 1, bottom - top - 1
        glyphs, owner = braille_cells([(x, y, marker) for x, y, _, marker in self._raster], width, height,
                                      self._x_range, self._y_range)
        styles = [Style(color=f"rgb{color}") for _, _, color, _ in self._raster]
        for row in range(height):
            owners = owner[row]
            drawn = np.flatnonzero(owners >= 0)
            if not drawn.size:
                continue
            line = lines[top + 1 + row]
            plain = line.plain
            if len(plain) < right:
                continue
            # One glyph per cell, so every span plotext gave the line keeps its place (the canvas background
            # among them); each run of cells of one curve gets that curve's colour on top.
            cells = list(plain[left + 1: right])
            for at in drawn.tolist():
                cells[at] = chr(int(glyphs[row, at]))
            cuts = [0, *(np.flatnonzero(np.diff(owners)) + 1).tolist(), width]
            spans = list(line.spans)
            for start, end in pairwise(cuts):
                who = int(owners[start])
                if who >= 0:
                    spans.append(Span(left + 1 + start, left + 1 + end, styles[who]))
            lines[top + 1 + row] = Text(plain[: left + 1] + "".join(cells) + plain[right:], style=line.style,
                                        spans=spans, end="")
        return Text("\n").join(lines)

    def _with_off_scale_marks(self, figure: Text) -> Text:
        """The figure with ▲ on its frame's top edge above points the y-range cuts off, ▼ on the bottom edge, and
        an x at each non-finite value (see `edge_marks`).

        The outlier-robust range cuts, say, the first steps of a decaying loss: without a mark the curve would
        look as if it started inside the frame. On the frame itself a mark hides neither a curve nor the legend.
        """
        frame = self._frame(figure) if any(self._edges) else None
        if frame is None or self._x_range is None:
            return figure
        lines, top, bottom = frame
        lo, hi = self._x_range
        for row, marks in ((top, self._edges[0]), (bottom, self._edges[1])):
            line = lines[row]
            cells, spans = list(line.plain), list(line.spans)
            inner = max(1, line.plain.rfind("┐" if row == top else "┘") - max(line.plain.find("┌"),
                                                                                line.plain.find("└")) - 2)
            for xs, glyph, color in marks:
                style = Style(color=f"rgb{color}", bold=True)
                xs = np.asarray(xs, dtype=np.float64)
                if xs.size > 2 * inner and hi > lo:  # one x per column is all a mark needs
                    _, first = np.unique(np.round((xs - lo) / (hi - lo) * inner), return_index=True)
                    xs = xs[first]
                for column in frame_columns(line.plain, lo, hi, xs.tolist()):
                    cells[column] = glyph
                    spans.append(Span(column, column + 1, style))
            lines[row] = Text("".join(cells), style=line.style, spans=spans, end="")
        return Text("\n").join(lines)

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        buckets = max(10, self.size.width or 80)  # one min/max pair per column: all that braille can show
        drawn: list[np.ndarray] = []
        xs_all: list[np.ndarray] = []
        raws: list[Prepared] = []
        followed: list[tuple[Prepared, tuple[int, int, int]]] = []  # the bright curve of each trace
        # Faint curves (raw ones behind their smoothing, band edges) go down first and every bright one over them,
        # so with many runs overlaid no run's faint curve hides another's bright one.
        faint_lines: list[tuple[np.ndarray, np.ndarray, tuple[int, int, int]]] = []
        bright_lines: list[tuple[Trace, np.ndarray, np.ndarray, str]] = []
        for trace in self.traces:
            raw, smooth = trace.prepared(buckets)
            if raw.x.size == 0 and not (raw.nan_x.size or raw.posinf_x.size or raw.neginf_x.size):
                continue
            label = trace.label + (f" ({trace.nonfinite} non-finite)" if trace.nonfinite else "")
            rx, ry = on_axis(raw.x, raw.y, self.log_y)
            if trace.band:  # a group's min or max: faint, behind the mean, and counted in the y-range
                if rx.size:
                    faint_lines.append((*broken(rx, ry, trace.edges), faint_of(trace.color)))
                drawn.append(ry)
                followed.append((Prepared(rx, ry), faint_of(trace.color)))
            elif smooth is not None:
                faint = faint_of(trace.color)
                sx, sy = on_axis(smooth.x, smooth.y, self.log_y)
                if rx.size:
                    faint_lines.append((*broken(rx, ry, trace.edges), faint))
                bright_lines.append((trace, *broken(sx, sy, trace.edges), label))
                drawn += [ry, sy]  # the raw curve is drawn too: the y-range covers its extremes (as TensorBoard)
                followed += [(Prepared(rx, ry), faint), (Prepared(sx, sy), trace.color)]
            else:
                bright_lines.append((trace, *broken(rx, ry, trace.edges), label))
                drawn.append(ry)
                followed.append((Prepared(rx, ry), trace.color))
            xs_all += [raw.x, raw.nan_x, raw.posinf_x, raw.neginf_x]
            raws.append(raw)
        self._raster = None
        if self._fast():  # laid into the frame after plotext built it (see `_with_curves`), faint ones first
            self._raster = [*((fx, fy, faint, None) for fx, fy, faint in faint_lines),
                            *((bx, by, trace.color, None if trace.marker in (None, "braille") else trace.marker)
                              for trace, bx, by, _ in bright_lines)]
        else:
            for fx, fy, faint in faint_lines:
                plt.plot(fx.tolist(), fy.tolist(), color=faint, marker=curve_marker())
            for trace, bx, by, label in bright_lines:
                if not trace.legend:  # named by the screen's own legend line
                    if len(bx):
                        plt.plot(bx.tolist(), by.tolist(), color=trace.color, marker=trace.marker or curve_marker())
                else:
                    draw_curve(plt, bx, by, trace.color, label, trace.marker)
        if not raws:
            plt.title(f"{self.title}: {self.message}" if self.title else self.message)
            return
        if self.title:
            plt.title(self.title)
        limits = robust_range(drawn, self.ignore_outliers)
        marked = [x for raw in raws for x in (*raw.nan_x.tolist(), *raw.posinf_x.tolist(), *raw.neginf_x.tolist())]
        set_y_range(plt, limits, self.log_y, marked)
        self._y_range = limits
        if limits is None:  # nothing finite (or positive): a frame with the non-finite marks, and why it is empty
            plt.title(f"nothing {'positive to draw on a log scale' if self.log_y else 'finite to draw'}"
                      + (f" ({len(marked)} non-finite values, marked x on the frame)" if marked else ""))
        self._edges = edge_marks(followed, raws, limits)
        self._x_ticks(xs_all)
        self._pin_x_range(xs_all)
        if self._raster is not None and self._x_range is not None and limits is not None:
            plt.scatter(list(self._x_range), [limits[0]] * 2, marker=" ")  # blank: plotext ticks what is drawn
        plt.xlabel(X_LABEL[self.x_axis])

    def _fast(self) -> bool:
        """Whether the curves are laid in as braille cells after plotext drew the rest (see `_with_curves`).

        So they are where a screen names the curves in a legend of its own (a compare screen, the preview's
        overlay) and the output draws braille: plotext walks each line point by point in Python, which twenty
        runs at once cannot afford. Elsewhere plotext draws them, with its legend.
        """
        return bool(self.traces) and curve_marker() == "braille" and not any(t.legend for t in self.traces)

    def _pin_x_range(self, xs_all: list[np.ndarray]) -> None:
        """Fix the x range to the data's (or the panels' shared one), so a cursor's column is known without plotext."""
        span = pinned_span(self._shared_x or x_span(xs_all))
        if span is not None:
            self.plt.xlim(*span)
            self._x_range = span

    def _x_ticks(self, xs_all: list[np.ndarray]) -> None:
        from ..formatting import step_ticks, time_ticks

        span = self._shared_x or x_span(xs_all)
        if span is not None and span[1] > span[0]:
            width = self.size.width or 60
            if self.x_axis == "step":  # short labels ("150", "200k"): room for more of them
                self.plt.xticks(*step_ticks(*span, count=max(3, min(8, width // 9))))
            else:
                self.plt.xticks(*time_ticks(*span, self.x_axis, count=max(2, min(6, width // 14))))


# A metric whose curve would fill less than this share of a shared y-axis reads as a flat line: the panels then
# split, one per metric. They join again only above the second share, so a live run near the edge does not flap.
SPLIT_BELOW = 0.08
JOIN_ABOVE = 0.12
PANEL_MIN_WIDTH = 32  # columns a panel needs for its y labels and a readable curve


class MetricPanels(Widget):
    """Curves of several metrics: on one shared y-axis, or one panel per metric, each with its own y-range.

    `show(..., split=None)` decides by itself: metrics share an axis while each still fills a fair share of it
    (train and validation loss read best together: their gap is the point), and split as soon as one would be
    flattened (adding `lr` to two losses). Panels share the x span, so one cursor runs through all of them.
    """

    DEFAULT_CSS = """
    MetricPanels { layout: grid; grid-size: 1; grid-gutter: 0 1; height: 1fr; min-height: 6; }
    MetricPanels > MetricPlot { height: 1fr; min-height: 6; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.split = False
        self._auto_split = False  # the last automatic choice, kept while the evidence is in between
        self._plots: list[MetricPlot] = [MetricPlot()]

    def compose(self) -> ComposeResult:
        yield from self._plots

    @property
    def plots(self) -> list[MetricPlot]:
        """The panels shown, in order (one when the metrics share an axis)."""
        return list(self._plots)

    def show(self, traces: list[Trace], metrics: list[str], *, split: bool | None, runs: int, x_axis: str,
             log_y: bool, ignore_outliers: bool, cursor_x: float | None = None,
             message: str = "no metrics yet", titled: bool = False) -> None:
        """Draw `traces` (grouped by their `metric`, in the order of `metrics`); `split` None decides by itself;
        `titled` names each panel's metric above it (where the curves' legend does not).

        Colours each trace (see `curve_colour`) once the layout is known; with colour off (NO_COLOR) each also
        gets a marker of its own, as `runyard plot` does.
        """
        groups = [[t for t in traces if t.metric == name] for name in metrics]
        groups = [g for g in groups if g]
        if split is None:
            split = self._decide(groups, log_y, ignore_outliers)
        self.split = split and len(groups) > 1
        index = {name: j for j, name in enumerate(metrics)}
        markers = curve_markers()
        for t in traces:
            if t.hue is None:
                at = curve_index(t.run, index.get(t.metric, 0), runs, len(metrics), self.split)
                t.color = colour(at)
            else:  # the run's own colour; on a shared axis its other metrics in lighter shades of it
                at = t.hue if self.split else t.hue * max(1, len(metrics)) + index.get(t.metric, 0)
                t.color = tint(colour(t.hue), 0 if self.split else index.get(t.metric, 0))
            t.marker = marker_of(at, markers, self.app.no_color)
        panels = groups if self.split else [traces]
        plots = self._ensure(len(panels))
        span = _span(traces)
        for plot, panel in zip(plots, panels, strict=True):
            title = " · ".join(dict.fromkeys(t.metric for t in panel)) if titled else ""
            plot.show(panel, x_axis=x_axis, log_y=log_y, ignore_outliers=ignore_outliers, cursor_x=cursor_x,
                      message=message, x_range=span, title=title)
        self._arrange()

    def set_cursor(self, x: float | None) -> None:
        """Move the cursor on every panel."""
        for plot in self._plots:
            plot.set_cursor(x)

    def _decide(self, groups: list[list[Trace]], log_y: bool, ignore_outliers: bool) -> bool:
        """Whether a shared y-axis would flatten one of the metrics (with hysteresis, see SPLIT_BELOW)."""
        if len(groups) < 2:  # nothing to flatten: the next pair of metrics is judged afresh
            self._auto_split = False
            return False
        buckets = max(10, self.size.width or 80)  # what a single shared panel draws: its preparation is reused
        ys = [[t.drawn(buckets, log_y)[1] for t in group] for group in groups]
        whole = robust_range([y for group in ys for y in group], ignore_outliers)
        if whole is None or whole[1] <= whole[0]:
            return self._auto_split
        shares = []
        for group in ys:
            own = robust_range(group, ignore_outliers)
            if own is not None and own[1] > own[0]:  # a constant metric cannot be flattened
                shares.append((own[1] - own[0]) / (whole[1] - whole[0]))
        least = min(shares, default=1.0)
        if least < SPLIT_BELOW:
            self._auto_split = True
        elif least > JOIN_ABOVE:
            self._auto_split = False
        return self._auto_split

    def _ensure(self, count: int) -> list[MetricPlot]:
        """Exactly `count` panels (at least one), reusing the ones there are."""
        count = max(1, count)
        if len(self._plots) < count:
            new = [MetricPlot() for _ in range(count - len(self._plots))]
            self._plots.extend(new)
            if self.is_mounted:
                self.mount_all(new)
        elif len(self._plots) > count:
            surplus, self._plots = self._plots[count:], self._plots[:count]
            for plot in surplus:
                plot.remove()
        return self._plots

    def _arrange(self) -> None:
        """Panels side by side while each keeps PANEL_MIN_WIDTH columns, then in rows."""
        count = len(self._plots)
        columns = max(1, min(count, (self.size.width or 80) // PANEL_MIN_WIDTH))
        if self.styles.grid_size_columns != columns:
            self.styles.grid_size_columns = columns

    def on_resize(self, event: Resize) -> None:
        """A new width may fit more or fewer panels side by side."""
        self._arrange()


def _span(traces: list[Trace]) -> tuple[float, float] | None:
    """The x span of the traces; a clean trace's (sorted, NaN-free) is its ends, without a pass over its points."""
    ends = [(float(t.x[0]), float(t.x[-1])) for t in traces if t.clean and t.x.size]
    other = x_span([t.x for t in traces if not t.clean])
    if other is not None:
        ends.append(other)
    if not ends:
        return None
    return min(lo for lo, _ in ends), max(hi for _, hi in ends)


def colour(index: int) -> tuple[int, int, int]:
    """The `index`-th curve colour of the palette (the CLI uses the same order)."""
    return PALETTE[index % len(PALETTE)]


def faint_of(color: tuple[int, int, int]) -> tuple[int, int, int]:
    """The faint shade of a curve's colour: its raw curve behind the smoothed one, a group's min-max band."""
    return (int(color[0] * 0.45), int(color[1] * 0.45), int(color[2] * 0.45))


def tint(color: tuple[int, int, int], step: int) -> tuple[int, int, int]:
    """A lighter shade of `color` for a run's `step`-th metric on a shared axis (0: the colour itself)."""
    mix = min(0.6, 0.3 * step)
    return (round(color[0] + (255 - color[0]) * mix), round(color[1] + (255 - color[1]) * mix),
            round(color[2] + (255 - color[2]) * mix))


def marker_of(index: int, markers: tuple[str, ...], no_color: bool) -> str | None:
    """The marker of the `index`-th curve: one each without colour; with colour, a second one once the palette's
    colours run out (a ninth run is told from the first by its marker, as `runyard plot` does)."""
    if no_color:
        return markers[index % len(markers)]
    if index >= len(PALETTE):
        return markers[(index // len(PALETTE)) % len(markers)]
    return None


def curve_colour(run: int, metric: int, runs: int, metrics: int, split: bool) -> tuple[int, int, int]:
    """A curve's colour: by metric for one run; by run when each panel holds one metric; else by both.

    In panels a run keeps one colour everywhere, as W&B draws runs, so its name can be shown in that colour.
    """
    return colour(curve_index(run, metric, runs, metrics, split))


def curve_index(run: int, metric: int, runs: int, metrics: int, split: bool) -> int:
    """Which colour (and marker) of the sequence a curve takes (see `curve_colour`)."""
    if runs <= 1:
        return metric
    if split:
        return run
    return run * metrics + metric
