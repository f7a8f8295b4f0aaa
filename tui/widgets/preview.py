"""The runs screen's preview of the highlighted run: a small curve of its main metric and its last log lines.

The log's tail is read on a read lane's thread and arrives as `LogTailRead`; a log that is not a regular file
(a FIFO), or whose read does not come back, shows "waiting for <file>" in its place; one that cannot be read says
why ("cannot read training.log: permission denied").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Static

from runyard import LOG_STAMP, NotRegularFile, clean_line, main_metrics, read_last_lines, unreadable_reason

from ..formatting import STATUS_STYLE, curve_markers
from ..live.lanes import STUCK_AFTER, Lanes
from ..messages import LogTailRead
from .metric_plot import MetricPlot, Trace, colour, marker_of
from .runs_table import PIN_MARK

LogLocation = Path | Callable[[], Path | None] | None  # a log, or a function that finds it (on the reading thread)


_INFO = re.compile(r"^[\s\-|:]*(?:\[?INFO\]?)?[\s\-|:]*")


def compact_line(line: str) -> str:
    """A log line for a narrow glance: its stamp as the time of day only, and `- INFO -` dropped (other levels
    stay, they are what a glance is for), so the message itself fits the preview's half of the screen."""
    match = LOG_STAMP.match(line)
    if match is None:
        return line
    rest = line[match.end():]
    return f"{match[1][-8:]} {_INFO.sub('', rest, count=1)}"


def last_lines(path: Path | None, count: int, max_bytes: int = 64 * 1024) -> list[str]:
    """The last `count` lines of a log, reading only its tail (in its own encoding), cleaned for display.

    Only a regular file is read: anything else raises NotRegularFile, so that the caller can say so.
    """
    return [clean_line(x) for x in read_last_lines(path, count, max_bytes)]


def _read_tail(log: LogLocation, count: int, request: int, post: Callable[[object], object]) -> None:
    """On a read lane's thread: find the log, read its last lines, post them."""
    try:
        path = log() if callable(log) else log
        post(LogTailRead(request, last_lines(path, count)))
    except NotRegularFile as exc:
        post(LogTailRead(request, [], waiting=Path(exc.filename or "").name or "the log"))
    except OSError as exc:  # out of reach (another user's folder): say why in its place
        post(LogTailRead(request, [], problem=unreadable_reason(exc)))
    except Exception:  # the log could not be found or read: show none
        post(LogTailRead(request, []))


@dataclass
class Overlaid:
    """A run the preview overlays: its name, colour (palette index), series (None or not loaded yet: not drawn)
    and its own name for the metric drawn (None: it has none)."""

    name: str
    hue: int
    live: object
    metric: str | None
    pinned: bool = False


class Preview(Horizontal):
    """A compact curve and log tail of one run, refreshed when the run changes."""

    DEFAULT_CSS = """
    Preview { height: 9; border-top: solid $primary-darken-2; }
    Preview > MetricPlot { width: 1fr; min-width: 30; }
    Preview > Vertical { width: 1fr; height: 100%; }
    Preview #preview-legend { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    Preview #preview-log { height: 1fr; padding: 0 1; color: $text-muted;
                           text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lanes = Lanes(limit=2, name="runyard-preview")
        self._request = 0
        self._answered = 0
        self._status = ""
        self._log: LogLocation = None
        self._waiting_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield MetricPlot(id="preview-plot")
        with Vertical():
            yield Static(id="preview-legend", markup=False)
            yield Static(id="preview-log", markup=False)

    def show(self, live, log: LogLocation, status: str, message: str = "", overlay: list[Overlaid] | None = None
             ) -> None:
        """Draw `live`'s main metric (a LiveRun, or None while loading) and ask for the tail of `log`; with an
        `overlay` (the highlighted run among them, last), that metric of every run in it, each in its colour."""
        plot = self.query_one(MetricPlot)
        traces = self._overlay_traces(overlay) if overlay else []
        if live is not None and not overlay:
            names = main_metrics(live.series, limit=1)  # by series: a one-point figure is not the curve
            for i, name in enumerate(names):
                s = live.series[name]
                traces.append(Trace(name, colour(i), s.steps, s.value.view, nonfinite=live.nonfinite.get(name, 0),
                                    steps=s.steps, restarts=live.restarts))
        self._show_legend(overlay or [])
        plot.show(traces, x_axis="step", log_y=False, ignore_outliers=True, message=message or "no metrics")
        self._request += 1
        self._status, self._log = status, log
        if log is None:
            self._answered = self._request
            self._show_lines([])
            return
        height = max(1, self.size.height - 1)
        self._lanes.submit(log, partial(_read_tail, log, height, self._request, self.post_message), tag="tail",
                           file=log.name if isinstance(log, Path) else None)
        if self._waiting_timer is None:
            self._waiting_timer = self.set_timer(STUCK_AFTER, self._check_waiting)

    def _overlay_traces(self, overlay: list[Overlaid]) -> list[Trace]:
        markers = curve_markers()
        traces = []
        for i, run in enumerate(overlay):
            series = run.live.series.get(run.metric) if run.live is not None and run.metric else None
            if series is None or not len(series):
                continue
            traces.append(Trace(run.name, colour(run.hue), series.steps, series.value.view,
                                nonfinite=run.live.nonfinite.get(run.metric, 0), run=i, steps=series.steps,
                                restarts=run.live.restarts, hue=run.hue, legend=False,
                                marker=marker_of(run.hue, markers, self.app.no_color)))
        return traces

    def _show_legend(self, overlay: list[Overlaid]) -> None:
        """One line naming the overlaid runs in their colours (the plot is too small for a legend of its own)."""
        legend = self.query_one("#preview-legend", Static)
        legend.display = bool(overlay)
        if not overlay:
            return
        text = Text(no_wrap=True, overflow="ellipsis")
        highlighted = overlay[-1]
        if highlighted.metric:
            text.append(f"{highlighted.metric} ", style="bold")
        for run in reversed(overlay):  # the highlighted run first, as the log below is its
            r, g, b = colour(run.hue)
            marker = marker_of(run.hue, curve_markers(), self.app.no_color)
            mark = PIN_MARK if run.pinned else "●" if marker in (None, "braille") else marker
            text.append(f"{mark} {run.name}", style=f"rgb({r},{g},{b})")
            if run.metric is None and run.live is not None and getattr(run.live, "loaded", False):
                text.append(" (no such metric)", style="dim")
            text.append("  ")
        legend.update(text, layout=False)

    def _check_waiting(self) -> None:
        """The tail asked for has not come back for a while: say what the preview waits for."""
        self._waiting_timer = None
        if self._answered == self._request or self._log is None:
            return
        pending = self._lanes.waiting(self._log)
        if pending is not None and pending.seconds >= STUCK_AFTER:
            self._set_text(Text(f"waiting for {pending.file or 'the log'}", style="bold yellow"))
        self._waiting_timer = self.set_timer(STUCK_AFTER, self._check_waiting)

    def on_log_tail_read(self, message: LogTailRead) -> None:
        if message.request != self._request:
            return  # the tail of a run no longer shown
        self._answered = message.request
        if message.problem:
            self._set_text(Text(message.problem, style="bold red"))
        elif message.waiting:
            self._set_text(Text(f"waiting for {message.waiting}", style="bold yellow"))
        else:
            self._show_lines(message.lines)

    def _show_lines(self, lines: list[str]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for line in lines:
            text.append(compact_line(line) + "\n")
        if not text.plain:
            text.append("no log", style=STATUS_STYLE.get(self._status, "dim"))
        self._set_text(text)

    def _set_text(self, text: Text) -> None:
        self.query_one("#preview-log", Static).update(text, layout=False)  # fixed size: skip the layout pass
