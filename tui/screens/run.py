"""The run screen: curves and the followed log of one run (or several, overlaid), config, checkpoints, samples,
info. A cursor on the curves links a point to the log lines written at that moment, and a log line back to
its place on the curves (the maths is in `live/cursor.py`, shared with any screen that draws curves).
"""

from __future__ import annotations

import math
import time
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from runyard import RunRecord, clean_field, clean_line, main_metrics

from ..formatting import STATUS_STYLE, clean_text, cut_middle, fmt_bytes, fmt_duration, fmt_number, fmt_time
from ..live import cursor
from ..live.cursor import X_AXES
from ..live.details import RunDetails
from ..live.runstate import LiveRun, Series, configured_last_step
from ..messages import RunDetailsRead
from ..widgets.log_view import LogView
from ..widgets.metric_plot import MetricPanels, Trace, colour, curve_colour
from .metric_picker import MetricPicker

REDRAW_INTERVAL = 0.25  # at most four plot redraws a second while data streams in
PLOT_SHARE = 0.05       # of a core, at most, for drawing curves again as a live run's rows arrive
LABEL_NAME_CELLS = 60  # a run named in a label (whose log, whose values) keeps both ends of a long name in sight
# The widget each tab focuses when shown for the first time; afterwards it gets back what had focus in it.
FIRST_FOCUS = {"curves": "#log", "config": "#config-table", "checkpoints": "#ckpt-table",
               "samples": "#samples-scroll", "info": "#info-table"}


class RunScreen(Screen):
    """One or more runs in detail; with several, `tab`/`shift+tab` pick whose log, cursor values and details show."""

    DEFAULT_CSS = """
    RunScreen .run-label { height: 1; padding: 0 1; }
    RunScreen .tab-problem { height: auto; padding: 0 1; color: $text-error; text-style: bold; }
    """

    BINDINGS = [
        Binding("escape,backspace", "back", "Back"),
        # Quit and help first: the footer keeps what fits from the left, and at 80 columns these must stay.
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help"),
        Binding("x", "cycle_x", "x axis"),
        Binding("s", "toggle_smoothing", "Smooth"),
        Binding("right_square_bracket", "smoother(0.1)", "Smoother", show=False),
        Binding("left_square_bracket", "smoother(-0.1)", "Rougher", show=False),
        Binding("L", "toggle_log_y", "Log y"),
        Binding("o", "toggle_outliers", "Outliers", show=False),
        Binding("p", "toggle_panels", "Panels"),
        Binding("m", "pick_metrics", "Metrics"),
        Binding("left", "move_cursor(-1)", "Cursor ←", show=False, priority=True),
        Binding("right", "move_cursor(1)", "Cursor →", show=False, priority=True),
        Binding("shift+left", "move_cursor(-10)", "Cursor ←←", show=False, priority=True),
        Binding("shift+right", "move_cursor(10)", "Cursor →→", show=False, priority=True),
        Binding("j", "log_at_cursor", "Log at cursor", show=False),
        Binding("c", "cursor_at_log", "Curve at log line", show=False),
        Binding("slash", "search", "Search log"),
        Binding("f", "follow", "Follow log", show=False),
        Binding("tab", "next_log(1)", "Next run's log", show=False),
        Binding("shift+tab", "next_log(-1)", "Previous run's log", show=False),
        Binding("1", "tab('curves')", "Curves", show=False),
        Binding("2", "tab('config')", "Config", show=False),
        Binding("3", "tab('checkpoints')", "Checkpoints", show=False),
        Binding("4", "tab('samples')", "Samples", show=False),
        Binding("5", "tab('info')", "Info", show=False),
    ]

    def __init__(self, records: list[RunRecord]) -> None:
        super().__init__()
        self.records = records
        self.keys = [str(r.info.path) for r in records]
        self.metrics: list[str] = []
        self.metrics_picked = False  # chosen with `m`: then metrics that appear later do not join by themselves
        self.x_axis = "step"
        self.smoothing = 0.6
        self.smooth_on = True
        self.log_y = False
        self.ignore_outliers = True
        # One panel per metric (True), one shared y-axis (False), or None: shared until a metric would be
        # flattened by the others, then split. Not W&B's always-split: on an 80x24 terminal the curves get about
        # ten rows, halving them costs more than it shows, and train and validation loss are read together.
        self.panels: bool | None = None
        self.cursor_x: float | None = None
        self.log_index = 0
        self._last_draw = 0.0
        self._draw_timer: Any = None
        self._plotted: tuple[tuple, float] = ((), 0.0)  # what the curves were last drawn from, and when
        self._plot_cost = 0.0                          # CPU seconds that drawing took
        self._plot_timer: Any = None
        self._pane_focus: dict[str, Widget] = {}  # what last had focus in each tab
        self._details: RunDetails | None = None   # what the other tabs show, read off the app's thread
        self._details_stale = True                # the run changed since they were asked for
        self._filled: dict[str, RunDetails] = {}  # tab -> the details it shows (each tab is filled once per read)

    def compose(self) -> ComposeResult:
        yield Static(id="run-title", markup=False)
        with TabbedContent(initial="curves"):
            with TabPane("Curves & log", id="curves"):
                yield MetricPanels(id="plot")
                yield Static(id="cursor-info", markup=False)
                yield Input(placeholder="search the log (enter; n / N for next / previous)", id="log-search")
                yield LogView(id="log")
            with TabPane("Config", id="config"):
                yield Static(classes="run-label", markup=False)
                yield Static(classes="tab-problem", markup=False)
                yield DataTable(id="config-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Checkpoints", id="checkpoints"):
                yield Static(classes="run-label", markup=False)
                yield Static(classes="tab-problem", markup=False)
                yield DataTable(id="ckpt-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Samples", id="samples"):
                yield Static(classes="run-label", markup=False)
                yield Static(classes="tab-problem", markup=False)
                with VerticalScroll(id="samples-scroll"):
                    yield Static(id="samples-text", markup=False)
            with TabPane("Info", id="info"):
                yield Static(classes="run-label", markup=False)
                yield Static(classes="tab-problem", markup=False)
                yield DataTable(id="info-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Arrow keys move the curve cursor, except while typing in an input or on the tab bar."""
        if action == "move_cursor":
            focused = self.focused
            return not (isinstance(focused, Input) or (focused is not None and focused.has_class("-tabs")))
        return True

    # ----- data -------------------------------------------------------------------------------------------

    @property
    def lives(self) -> list[LiveRun]:
        """The live state of each run shown (the app reads it on first use; empty until read)."""
        return [self.app.live_state(k) for k in self.keys]

    def on_mount(self) -> None:
        self.query_one("#log-search", Input).display = False
        for label in self.query(".run-label"):
            label.display = len(self.records) > 1
        for problem in self.query(".tab-problem"):
            problem.display = False
        self._set_log(0)
        self.redraw()
        self.query_one(LogView).focus()
        self.app.runs_changed.subscribe(self, lambda change: self.runs_changed(set(change.keys)))
        self.call_after_refresh(self._draw_title)  # laid out now: the settings can be placed at the right

    def _join_new_metrics(self) -> None:
        """Metrics that appear after the screen opened join the automatic choice, so a live run always draws.

        A W&B run opened right after `wandb.init` has no metric yet; its first ones must not be missed.
        A set picked with `m` is the user's and stays as picked.
        """
        if self.metrics_picked:
            return
        points: dict[str, int] = {}  # points per metric (the most any run has): one-point figures come last
        for live in self.lives:
            for name, series in live.series.items():
                points[name] = max(points.get(name, 0), len(series))
        names = sorted(points)
        main = main_metrics(points, limit=2)
        if main:
            self.metrics += [n for n in main if n not in self.metrics]
        elif not self.metrics and names:
            self.metrics = names[:1]

    def run_moved(self, old: str, new: str, record: RunRecord) -> None:
        """A shown run's folder moved: show it at its new place, its log followed there."""
        if old not in self.keys:
            return
        index = self.keys.index(old)
        self.keys[index], self.records[index] = new, record
        if not self.is_mounted:
            return
        if index == self.log_index:
            self._set_log(index)
        self.redraw()

    def _set_log(self, index: int) -> None:
        self.log_index = index % len(self.records)
        record = self.records[self.log_index]
        log = self.query_one(LogView)
        log.set_path(record.source.log_path if record.source is not None else None)  # found when first read
        log.poll()
        self._details, self._details_stale, self._filled = None, True, {}

    def runs_changed(self, keys: set[str]) -> None:
        """The app saw new data for some runs: redraw (throttled) and follow the log."""
        if not keys.intersection(self.keys):
            return
        self.records = [self.app.records.get(k, r) for k, r in zip(self.keys, self.records, strict=True)]
        if self.keys[self.log_index] in keys:
            self.query_one(LogView).poll()
            self._details_stale = True
        since = time.monotonic() - self._last_draw
        if since >= REDRAW_INTERVAL:
            self.redraw(data=True)
        elif self._draw_timer is None:
            self._draw_timer = self.set_timer(REDRAW_INTERVAL - since, self._timed_redraw)

    def _timed_redraw(self) -> None:
        self._draw_timer = None
        self.redraw(data=True)

    def redraw(self, data: bool = False) -> None:
        """Rebuild the traces from the live series and refresh what the active tab shows.

        A redraw for new `data` (not a key press) draws the curves again only if what they show changed, and
        no sooner than their last drawing's cost allows (`PLOT_SHARE`): plotext takes a fifth of a second for
        a wide terminal's plot, and live runs append every second. Title, step and values follow at once.
        """
        self._last_draw = time.monotonic()
        self._join_new_metrics()
        if not data or self._plot_due():
            self._draw_plot()
        self._draw_title()
        self._draw_cursor_info()
        self._draw_run_labels()
        active = self.query_one(TabbedContent).active
        if active != "curves":
            self._fill_tab(active)

    def _shown(self) -> tuple:
        """What the curves are drawn from: each run's series (which, how many rows) and what it waits for."""
        runs = [(id(live.rows), len(live.rows), len(live.series), live.loading, self._placeholder(k, live))
                for k, live in zip(self.keys, self.lives, strict=True)]
        return (*runs, tuple(self.metrics))

    def _plot_due(self) -> bool:
        """True if new data should be drawn now; else a drawing is set for when its turn comes (if it changed).

        Only rows appended to series already drawn wait their turn: a first curve, a run read afresh, a new
        metric or a message in place of the curves are drawn at once."""
        shown, drawn = self._shown(), self._plotted[0]
        if drawn == shown:
            return False
        appended = len(drawn) == len(shown) and drawn[-1] == shown[-1] and all(
            was[0] == now[0] and was[2:] == now[2:] for was, now in zip(drawn[:-1], shown[:-1], strict=True))
        wait = self._plot_cost / PLOT_SHARE - (time.monotonic() - self._plotted[1]) if appended else 0
        if wait <= 0:
            return True
        if self._plot_timer is None:
            self._plot_timer = self.set_timer(wait, self._timed_plot)
        return False

    def _timed_plot(self) -> None:
        self._plot_timer = None
        if self._plot_due():
            self._draw_plot()

    def _start(self, index: int) -> float:
        """When run `index` started: its recorded creation, else its first row's time."""
        live = self.app.live.get(self.keys[index])
        return cursor.start_time(self.records[index].info.created, live.first_time() if live is not None else None)

    def _draw_plot(self) -> None:
        self._plotted = (self._shown(), time.monotonic())
        started = time.thread_time()
        self._show_traces()
        for plot in self.query_one(MetricPanels).plots:
            if plot.size.area:  # drawn here, to know what it costs; the frame then takes the figure as drawn
                plot.render()
        self._plot_cost = time.thread_time() - started

    def _show_traces(self) -> None:
        traces = []
        lives = self.lives
        for i, live in enumerate(lives):
            for name in self.metrics:
                series = live.series.get(name)
                if series is None or not len(series):
                    continue
                label = name if len(lives) == 1 else f"{self.records[i].info.name}:{name}"
                smooth = series.smoothed(self.smoothing) if self.smooth_on and self.smoothing > 0 else None
                nonfinite = live.nonfinite.get(name, 0)
                axis = "step" if self.x_axis == "step" else "time"
                x = cursor.x_values(series, self.x_axis, self._start(i))
                traces.append(Trace(label, (0, 0, 0), x, series.value.view, smooth, nonfinite,  # coloured by panels
                                    clean=nonfinite == 0 and series.ordered(axis), metric=name, run=i,
                                    steps=series.steps, restarts=live.restarts,
                                    hue=self.app.run_hue(self.keys[i]) if len(lives) > 1 else None))
        waiting = [p for k, live in zip(self.keys, lives, strict=True) if (p := self._placeholder(k, live))]
        message = waiting[0] if waiting else "no metrics logged yet" if not any(live.series for live in lives) \
            else "none of these metrics"
        self.query_one(MetricPanels).show(traces, self.metrics, split=self.panels, runs=len(lives),
                                          x_axis=self.x_axis, log_y=self.log_y,
                                          ignore_outliers=self.ignore_outliers, cursor_x=self.cursor_x,
                                          message=message)

    def run_colour(self, index: int) -> tuple[int, int, int]:
        """The colour of run `index`'s curves (of its first one, when its metrics have colours of their own)."""
        if len(self.records) > 1:  # overlaid: the run's own colour, the same on every screen
            return colour(self.app.run_hue(self.keys[index]))
        panels = self.query_one(MetricPanels)
        for plot in panels.plots:
            for trace in plot.traces:
                if trace.run == index:
                    return trace.color
        return curve_colour(index, 0, len(self.records), len(self.metrics), panels.split)

    def run_label(self, index: int) -> Text:
        """Run `index`'s name in its curve colour, to say whose log, values or details are shown."""
        r, g, b = self.run_colour(index)
        name = cut_middle(clean_field(self.records[index].info.name), LABEL_NAME_CELLS)
        return Text(f"● {name}", style=Style(color=f"rgb({r},{g},{b})", bold=True))

    def _draw_run_labels(self) -> None:
        """With several runs, name the one whose log and details are shown (`tab` picks another)."""
        log = self.query_one(LogView)
        if len(self.records) < 2:
            log.border_title = None
            return
        label = self.run_label(self.log_index)
        log.border_title = label
        hint = Text.assemble(label, ("   tab / shift+tab: another run", "dim"))
        for static in self.query(".run-label").results(Static):
            static.update(hint, layout=False)

    def on_resize(self, event: events.Resize) -> None:
        """The title's settings keep their place at the right edge."""
        self._draw_title()

    def _placeholder(self, key: str, live: LiveRun) -> str | None:
        """What to say instead of a run's curves while they cannot be drawn yet (loading, a file waited for)."""
        waiting = self.app.waiting_for(key)
        return f"waiting for {waiting}" if waiting else live.placeholder()

    def _draw_title(self) -> None:
        """Each run's name, status, step (and rate and ETA while running), then the drawing settings at the right.

        What does not fit gives way in this order: ETAs, rates, statuses, then names are cut in the middle (runs
        named alike differ at the end); a number is never cut.
        """
        overlay = len(self.records) > 1
        runs = []
        for i, (record, live) in enumerate(zip(self.records, self.lives, strict=True)):
            info = record.info
            last, target = live.last_step(), configured_last_step(record.config) or info.max_step
            rate = live.step_rate() if info.status == "running" else None
            eta = live.eta(target) if rate else None
            runs.append({
                "i": i, "name": clean_field(info.name), "status": info.status,
                "error": clean_field(info.error) if info.error else None,
                "step": f"step {fmt_number(last)}" + (f"/{fmt_number(target)}" if target else ""),
                "rate": f"{fmt_number(rate)} steps/s" if rate else None,
                "eta": f"ETA {fmt_duration(eta)}" if eta is not None else None,
                "loading": f"loading {live.loading_text()}" if live.loading is not None else None,
            })
        title = self.query_one("#run-title", Static)
        settings = Text("  " + "  ".join(self.settings()), style="dim", no_wrap=True)
        budget = max(10, title.content_region.width - settings.cell_len)
        drop: set[str] = set()
        name_room: int | None = None
        for step in ("eta", "rate", "status", "names"):
            text = self._title_text(runs, drop, name_room, overlay)
            if text.cell_len <= budget:
                break
            if step == "names":
                fixed = self._title_text(runs, drop, 0, overlay).cell_len
                name_room = max(6, (budget - fixed) // len(runs))
            else:
                drop.add(step)
        text = clean_text(self._title_text(runs, drop, name_room, overlay))  # names and errors come from run files
        text.truncate(budget, overflow="ellipsis", pad=True)
        text.append_text(settings)
        title.update(text, layout=False)

    def _title_text(self, runs: list[dict], drop: set[str], name_room: int | None, overlay: bool) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for part in runs:
            if part["i"]:
                text.append("  |  ")
            name = part["name"] if name_room is None else cut_middle(part["name"], name_room)
            if overlay:
                text.append(f"● {name}", style=self.run_label(part["i"]).style)
            else:
                text.append(name, style="bold")
            if "status" not in drop:
                text.append(f" {part['status']}", style=STATUS_STYLE.get(part["status"], ""))
            if part["error"]:
                text.append(f"  ⚠ {part['error']}", style="bold red")
            text.append(f"  {part['step']}")
            if part["loading"]:  # the curves are a first part of the run: the rest is still being read
                text.append(f"  {part['loading']}", style="bold")
            for key in ("rate", "eta"):
                if part[key] and key not in drop:
                    text.append(f"  {part[key]}", style="bold" if key == "eta" else "")
        return text

    def settings(self) -> list[str]:
        """How the curves are drawn, as the title shows it: axis, smoothing weight, scales, layout."""
        out = [f"x={self.x_axis}"]
        if self.smooth_on and self.smoothing > 0:
            out.append(f"EMA {self.smoothing:.2f}")
        if self.log_y:
            out.append("log y")
        if not self.ignore_outliers:
            out.append("outliers in")
        if self.query_one(MetricPanels).split:
            out.append("panels")
        return out

    # ----- cursor: log <-> curve ----------------------------------------------------------------------------

    def _primary(self) -> Series | None:
        """The series the cursor follows: the log's run, its first drawn metric (or its busiest)."""
        return cursor.primary(self.lives[self.log_index].series, self.metrics)

    def time_at_x(self, x: float) -> float | None:
        """Wallclock time of the cursor position."""
        series = self._primary()
        return cursor.time_at_x(series, self.x_axis, x, self._start(self.log_index)) if series is not None else None

    def x_at_time(self, ts: float) -> float | None:
        """Cursor position for a wallclock time (a log line's)."""
        series = self._primary()
        return cursor.x_at_time(series, self.x_axis, ts, self._start(self.log_index)) if series is not None else None

    def action_move_cursor(self, columns: int) -> None:
        series = self._primary()
        if series is None:
            return
        xs = cursor.x_values(series, self.x_axis, self._start(self.log_index))
        width = max(20, self.query_one(MetricPanels).plots[0].size.width - 10)
        x = cursor.moved(xs, self.cursor_x, columns, width)
        if x is None:
            return
        self.cursor_x = x
        self.query_one(MetricPanels).set_cursor(self.cursor_x)
        self._draw_cursor_info()

    def action_log_at_cursor(self) -> None:
        if self.cursor_x is None:
            self.action_move_cursor(0)
        ts = self.time_at_x(self.cursor_x) if self.cursor_x is not None else None
        if ts is None or not math.isfinite(ts):
            self.notify("no time known at the cursor", severity="warning", timeout=2)
            return
        log = self.query_one(LogView)
        if log.jump_to_time(ts) is None:
            self.notify("no timestamped log line to jump to", severity="warning", timeout=2)
        log.focus()

    def action_cursor_at_log(self) -> None:
        log = self.query_one(LogView)
        self._cursor_from_log_time(log.time_of(log.cursor_line))

    @on(LogView.CursorMoved)
    def _log_cursor_moved(self, event: LogView.CursorMoved) -> None:
        if self.query_one(LogView).has_focus and not event.first_read:  # opening the log places no cursor
            self._cursor_from_log_time(event.time, quiet=True)

    def _cursor_from_log_time(self, ts: float | None, quiet: bool = False) -> None:
        if ts is None or not math.isfinite(ts):
            if not quiet:
                self.notify("this log line has no time", severity="warning", timeout=2)
            return
        x = self.x_at_time(ts)
        if x is None:
            return
        self.cursor_x = x
        self.query_one(MetricPanels).set_cursor(x)
        self._draw_cursor_info()

    def _draw_cursor_info(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis", style="dim")
        if len(self.records) > 1:  # the values read are the shown log's run: say which
            text.append_text(self.run_label(self.log_index))
            text.append("  ")
        if self.cursor_x is None:
            text.append("← → move a cursor on the curves · j: log lines at the cursor · c: cursor at the log line")
        else:
            ts = self.time_at_x(self.cursor_x)
            text.append(f"cursor {self.x_axis} {self._cursor_x_text()}")
            if ts is not None and math.isfinite(ts):
                text.append(f" {fmt_time(ts)}")
            for name, value in self._values_at_cursor():
                text.append(f"  {name}={fmt_number(value)}", style="")
        self.query_one("#cursor-info", Static).update(clean_text(text), layout=False)

    def _cursor_x_text(self) -> str:
        """Where the cursor is; on a logged step, that step as the exact integer it was logged as."""
        if self.x_axis == "time" or self.cursor_x is None:
            return ""
        series = self._primary()
        step = cursor.step_at_x(series, self.cursor_x) if self.x_axis == "step" and series is not None else None
        return fmt_number(step if step is not None else self.cursor_x)

    def _values_at_cursor(self) -> list[tuple[str, float]]:
        if self.cursor_x is None:
            return []
        return cursor.values_at_x(self.lives[self.log_index].series, self.metrics, self.x_axis, self.cursor_x,
                                  self._start(self.log_index))

    # ----- other actions ----------------------------------------------------------------------------------

    def action_cycle_x(self) -> None:
        axis = X_AXES[(X_AXES.index(self.x_axis) + 1) % len(X_AXES)]
        self.cursor_x = cursor.converted(self._primary(), self.cursor_x, self.x_axis, axis,
                                         self._start(self.log_index))
        self.x_axis = axis
        self.redraw()

    def action_toggle_smoothing(self) -> None:
        self.smooth_on = not self.smooth_on
        self.redraw()

    def action_smoother(self, delta: float) -> None:
        self.smooth_on = True
        self.smoothing = round(min(0.99, max(0.0, self.smoothing + delta)), 2)
        self.redraw()

    def action_toggle_log_y(self) -> None:
        self.log_y = not self.log_y
        self.redraw()

    def action_toggle_outliers(self) -> None:
        self.ignore_outliers = not self.ignore_outliers
        self.redraw()

    def action_toggle_panels(self) -> None:
        """One panel per metric, each with its own y-range, or all on one axis (the opposite of what is shown)."""
        self.panels = not self.query_one(MetricPanels).split
        self.redraw()

    def action_pick_metrics(self) -> None:
        names = sorted({n for live in self.lives for n in live.series})
        focused = self.focused

        def chosen(result: list[str] | None) -> None:
            if result:
                self.metrics = result
                self.metrics_picked = True
                self.redraw()
            self._refocus(focused)

        self.app.push_screen(MetricPicker(names, self.metrics), chosen)

    def action_back(self) -> None:
        """Close the log search box if it is open, else leave the screen."""
        box = self.query_one("#log-search", Input)
        if box.display:
            box.display = False
            self.query_one(LogView).focus()
            return
        self.app.pop_screen()

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        self._pane_focus["curves"] = box  # what the curves tab gives focus to, should it be shown just now
        box.display = True
        self.action_tab("curves")
        box.focus()

    @on(Input.Submitted, "#log-search")
    def _search(self, event: Input.Submitted) -> None:
        log = self.query_one(LogView)
        count = log.search(event.value) if event.value else 0
        if not event.value:
            log.clear_search()
        event.input.display = False
        log.focus()
        if event.value:
            self.notify(f"{count} lines match {event.value!r}" if count else f"no line matches {event.value!r}",
                        timeout=2)

    def action_follow(self) -> None:
        log = self.query_one(LogView)
        log.focus()
        log.action_cursor_end()

    def action_next_log(self, delta: int = 1) -> None:
        """Show the next (or previous) run's log, cursor values and details."""
        if len(self.records) < 2:
            return
        self._set_log(self.log_index + delta)
        self._draw_run_labels()
        self._draw_cursor_info()
        active = self.query_one(TabbedContent).active
        if active != "curves":
            self._fill_tab(active)
        self.notify(f"log of {clean_field(self.records[self.log_index].info.name)}", timeout=2, markup=False)

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = name

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id and event.pane.id != "curves":
            self._fill_tab(event.pane.id)
        focused = self.focused
        if event.pane.id and (focused is None or event.pane not in focused.ancestors):
            self._refocus(self._pane_focus.get(event.pane.id), event.pane.id)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Remember what has focus in each tab, to give it back when the tab is shown again."""
        pane = next((a for a in event.widget.ancestors if isinstance(a, TabPane)), None)
        if pane is not None and pane.id:
            self._pane_focus[pane.id] = event.widget

    def _refocus(self, widget: Widget | None, pane: str | None = None) -> None:
        """Focus `widget` again if it can still take it, else the first widget of `pane`."""
        if widget is None or not (widget.is_attached and widget.display and widget.focusable):
            if pane is None:
                return
            widget = self.query_one(FIRST_FOCUS[pane])
        if self.focused is not widget:
            widget.focus()

    # ----- the other tabs ---------------------------------------------------------------------------------

    def _fill_tab(self, name: str) -> None:
        """Fill a tab from the details last read, once per read; ask for them again if the run changed since."""
        if self._details_stale:
            self._details_stale = False
            self.app.read_details(self.keys[self.log_index], self)
        details = self._details
        if details is None or self._filled.get(name) is details:
            return
        self._filled[name] = details
        problem = self.query_one(f"#{name} .tab-problem", Static)  # why this tab shows nothing (or less)
        problem.display = name in details.problems
        problem.update(details.problems.get(name, ""))
        if name == "config":
            self._fill_table("#config-table", ("key", "value"),
                             [(Text(k), Text(str(v))) for k, v in details.config.items()])
        elif name == "checkpoints":
            rows = []
            for c in details.checkpoints:
                metrics = ", ".join(f"{k}={fmt_number(v)}" for k, v in c.metrics.items())
                rows.append((Text("★", style="bold yellow") if c.best else Text(""), Text(fmt_number(c.step)),
                             Text(clean_field(c.path.name)), Text(fmt_bytes(c.bytes)), Text(clean_field(metrics))))
            self._fill_table("#ckpt-table", ("best", "step", "file", "size", "metrics"), rows)
        elif name == "samples":
            text = Text()
            for sample in reversed(details.samples):
                text.append(f"step {fmt_number(sample.step)}  {fmt_time(sample.time)}", style="bold")
                if sample.prompt:
                    text.append(f"  prompt: {clean_line(sample.prompt)}", style="dim")
                text.append("\n")
                text.append("\n".join(clean_line(x) for x in sample.text.splitlines()) + "\n\n")
            self.query_one("#samples-text", Static).update(text if text.plain else Text("no samples", style="dim"))
        elif name == "info":
            self._fill_table("#info-table", ("field", "value"), [(Text(k), Text(v)) for k, v in details.info])

    def on_run_details_read(self, message: RunDetailsRead) -> None:
        """Details read for the run whose log is shown: fill the tab in view (the others when shown)."""
        if message.key != self.keys[self.log_index]:
            return
        self._details = message.details
        active = self.query_one(TabbedContent).active
        if active != "curves":
            self._fill_tab(active)

    def _fill_table(self, selector: str, columns: tuple[str, ...], rows: list[tuple[Text, ...]]) -> None:
        """Replace a table's rows, keeping its cursor and scroll where they were."""
        table = self.query_one(selector, DataTable)
        cursor, scroll = table.cursor_row, table.scroll_y
        table.clear(columns=True)
        table.add_columns(*columns)
        table.add_rows(rows)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1), animate=False, scroll=False)
            table.scroll_to(y=scroll, animate=False, immediate=True)
