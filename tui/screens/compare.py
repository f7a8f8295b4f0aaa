"""The compare screen: several runs side by side, in four tabs.

- Curves: one panel per chosen metric (small multiples), every run in its colour (the app's, the same as its
  mark in the runs table), named by the shortest name that tells it apart; metrics matched across runs whatever
  each tool called them, and a line saying which names were matched. Runs can be grouped by a config key that
  differs among them, coloured by its value, and each group drawn as its mean with its min-max band.
- Table: best (with its step) and last value of each metric per run, duration, steps, steps/s; sorted by any
  column, the leader of each metric starred, a guessed direction shown as guessed and flippable.
- Config: the N-way config diff, only what differs unless asked, origins (git, argv, versions, host) apart.
- Keys: which differing keys go with a better value of a metric (rank statistics, with how many runs).

The comparison, the diff and the key ranking are the tracker's operations (`compare_runs`, `config_diff`,
`key_importance`); they run on a read lane (the diff reads each run's origin from its files) and come back as
messages. Curves are the app's live series, read as the run screen reads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from runyard import (
    MISSING,
    RunRecord,
    clean_field,
    compare_runs,
    config_diff,
    fold,
    format_value,
    key_importance,
    short_names,
)

from ..formatting import curve_markers, fmt_duration, fmt_number
from ..live import cursor
from ..live.cursor import X_AXES
from ..live.groups import Group, aggregate, group_runs
from ..live.runstate import LiveRun
from ..messages import ComparisonRead, ConfigDiffRead, ImportanceRead
from ..widgets.metric_plot import MetricPanels, Trace, colour, marker_of
from ..widgets.runs_table import PIN_MARK
from .metric_picker import MetricPicker

REDRAW_INTERVAL = 0.25    # at most four curve redraws a second while data streams in
TABLE_INTERVAL = 1.0      # the summary table is made again at most once a second while runs change
VALUE_WIDTH = 24          # a config value wider than this is folded onto more lines ...
VALUE_LINES = 3           # ... at most this many (the rest is cut, with an ellipsis)
AGGREGATE_COLUMNS = 400   # the grid a group's mean and band are taken on (about two points per column drawn)
TABS = ("curves", "table", "config", "keys")
ONLY_IN = {  # actions that belong to one tab: hidden from the footer (and not run) in the others
    "cycle_x": "curves", "toggle_smoothing": "curves", "smoother": "curves", "group": "curves",
    "toggle_aggregate": "curves", "sort": "table", "flip": "table", "toggle_all_keys": "config",
    "next_metric": "keys",
}
ARROW = {"min": "↓", "max": "↑"}


class CompareScreen(Screen):
    """Runs side by side: curves, summary table, config diff and the keys that matter."""

    DEFAULT_CSS = """
    CompareScreen #compare-title { height: 1; padding: 0 1; background: $primary-darken-2; color: $text; }
    CompareScreen TabbedContent { height: 1fr; }
    CompareScreen TabPane { padding: 0; }
    CompareScreen #curves { layout: vertical; }
    CompareScreen .compare-note { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    CompareScreen #compare-legend { height: auto; max-height: 3; padding: 0 1; }
    CompareScreen #compare-plot { height: 1fr; min-height: 6; }
    CompareScreen DataTable { height: 1fr; }
    """

    BINDINGS = [
        # Quit and help first, then the tab's own keys: the footer keeps what fits from the left, and at 80
        # columns these must stay.
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help"),
        Binding("x", "cycle_x", "x axis", tooltip="Curves: step, wallclock, since start"),
        Binding("s", "toggle_smoothing", "Smooth", tooltip="Curves: smoothing on or off"),
        Binding("s", "sort", "Sort", tooltip="Table: by the cursor's column"),
        Binding("right_square_bracket", "smoother(0.1)", "Smoother", show=False, tooltip="Curves: smooth more"),
        Binding("left_square_bracket", "smoother(-0.1)", "Rougher", show=False, tooltip="Curves: smooth less"),
        Binding("m", "pick_metrics", "Metrics", tooltip="Curves, table and keys"),
        Binding("g", "group", "Group", tooltip="Curves: a colour per key value"),
        Binding("G", "toggle_aggregate", "Mean", tooltip="Curves: group mean, min, max"),
        Binding("f", "flip", "Flip goal", tooltip="Table: the cursor's metric"),
        Binding("a", "toggle_all_keys", "All keys", tooltip="Config: or only those that differ"),
        Binding("k", "next_metric", "Next metric", tooltip="Keys: rank against the next one"),
        Binding("1", "tab('curves')", "Curves", show=False),
        Binding("2", "tab('table')", "Table", show=False),
        Binding("3", "tab('config')", "Config", show=False),
        Binding("4", "tab('keys')", "Keys", show=False),
        Binding("escape,backspace", "back", "Back"),
    ]

    def __init__(self, records: list[RunRecord]) -> None:
        super().__init__()
        self.records = records
        self.keys = [str(r.info.path) for r in records]
        self.labels = short_names([clean_field(r.info.name) for r in records])
        self.metrics: list[str] = []          # canonical names, as the table has them; [] until the first table
        self.metrics_picked = False
        self.x_axis = "step"
        self.smoothing = 0.6
        self.smooth_on = True
        self.group_key: str | None = None     # the config key runs are grouped (and coloured) by
        self.aggregated = False               # each group drawn as its mean and min-max band
        self.directions: dict[str, str] = {}  # metric -> "min"/"max" chosen here with `f`
        self.sort: tuple[str, bool] | None = None  # (column, descending) the table is sorted by
        self.show_all_keys = False
        self.keys_metric = 0                  # which chosen metric the Keys tab ranks keys against
        self.table: Any = None                # the last CompareTable (None until made)
        self.diff: Any = None                 # the ConfigDiff (None until read)
        self.importance: tuple[tuple[str, str | None], list[Any]] | None = None  # ((metric, direction), ranking)
        self._request = 0                     # tables asked for; an older answer is dropped
        self._last_draw = 0.0
        self._draw_timer: Any = None
        self._table_timer: Any = None
        self._table_made = 0.0
        self._lane = ("compare", id(self))
        self._kept: dict[tuple, Trace] = {}  # the curves last drawn, by what they show (see `_traces`)

    def compose(self) -> ComposeResult:
        yield Static(id="compare-title", markup=False)
        with TabbedContent(initial="curves"):
            with TabPane("1 Curves", id="curves"):
                yield Static(id="compare-match", classes="compare-note", markup=False)
                yield Static(id="compare-legend", markup=False)
                yield MetricPanels(id="compare-plot")
            with TabPane("2 Table", id="table"):
                yield Static(id="table-note", classes="compare-note", markup=False)
                yield DataTable(id="compare-table", cursor_type="cell", zebra_stripes=True)
            with TabPane("3 Config", id="config"):
                yield Static(id="config-note", classes="compare-note", markup=False)
                yield DataTable(id="config-table", cursor_type="row", zebra_stripes=True, fixed_columns=1)
            with TabPane("4 Keys", id="keys"):
                yield Static(id="keys-note", classes="compare-note", markup=False)
                yield DataTable(id="keys-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.app.runs_changed.subscribe(self, lambda change: self.runs_changed(set(change.keys)))
        self.app.lanes.submit(self._lane, partial(_read_diff, list(self.records), self.post_message), tag="diff")
        self._ask_table()
        self.redraw()

    # ----- which tab --------------------------------------------------------------------------------------

    @property
    def active(self) -> str:
        """The tab shown: curves, table, config or keys."""
        return self.query_one(TabbedContent).active

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A tab's own keys work (and show in the footer) in that tab only: `s` smooths the curves and sorts the
        table."""
        tab = ONLY_IN.get(action)
        return tab is None or tab == self.active

    def action_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = name

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        tab = self.active
        if tab == "table":
            self._fill_table()
            self.query_one("#compare-table", DataTable).focus()
        elif tab == "config":
            self._fill_config()
            self.query_one("#config-table", DataTable).focus()
        elif tab == "keys":
            self._ask_importance()
            self._fill_keys()
            self.query_one("#keys-table", DataTable).focus()
        else:
            self.redraw()

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_resize(self) -> None:
        """The title's settings keep their place at the right edge; the legend fills the new width."""
        self.redraw()

    # ----- data -------------------------------------------------------------------------------------------

    @property
    def lives(self) -> list[LiveRun | None]:
        """Each run's live series (the app reads them on first use, off its thread; empty until read)."""
        return [self.app.live_state(k) for k in self.keys]

    def runs_changed(self, keys: set[str]) -> None:
        """New data for some of the runs: curves redrawn at most four times a second, the table once a second."""
        if not keys.intersection(self.keys):
            return
        self.records = [self.app.records.get(k, r) for k, r in zip(self.keys, self.records, strict=True)]
        since = time.monotonic() - self._last_draw
        if since >= REDRAW_INTERVAL:
            self.redraw()
        elif self._draw_timer is None:
            self._draw_timer = self.set_timer(REDRAW_INTERVAL - since, self._timed_redraw)
        if self._table_timer is None:
            wait = max(0.01, TABLE_INTERVAL - (time.monotonic() - self._table_made))
            self._table_timer = self.set_timer(wait, self._timed_table)

    def run_moved(self, old: str, new: str, record: RunRecord) -> None:
        """A compared run's folder moved: it is shown from its new place."""
        if old in self.keys:
            index = self.keys.index(old)
            self.keys[index], self.records[index] = new, record

    def _timed_redraw(self) -> None:
        self._draw_timer = None
        self.redraw()

    def _timed_table(self) -> None:
        self._table_timer = None
        self._ask_table()

    def _ask_table(self) -> None:
        """Make the summary table again on the read lane (directions may come from the runs' runyard.toml)."""
        self._request += 1
        self._table_made = time.monotonic()
        job = partial(_make_table, self._request, list(self.records), list(self.metrics) or None,
                      dict(self.app.metric_aliases), dict(self.directions), self.post_message)
        self.app.lanes.submit(self._lane, job, tag="table")

    def on_comparison_read(self, message: ComparisonRead) -> None:
        if message.request != self._request:
            return
        if message.error:
            self.notify(message.error, severity="warning", timeout=4)
            if self.table is None:
                self.query_one("#table-note", Static).update(message.error)
            return
        self.table = message.table
        if not self.metrics_picked or not self.metrics:
            self.metrics = list(self.table.metrics)
        if self.table.rows:  # the tracker's short names (the same rule, from the same names)
            by_key = {row.key: row.label for row in self.table.rows}
            self.labels = [by_key.get(k, label) for k, label in zip(self.keys, self.labels, strict=True)]
        self.redraw()
        if self.active == "table":
            self._fill_table()
        elif self.active == "keys":
            self._ask_importance()

    def on_config_diff_read(self, message: ConfigDiffRead) -> None:
        self.diff = message.diff
        if self.active == "config":
            self._fill_config()

    # ----- title ------------------------------------------------------------------------------------------

    def _draw_title(self) -> None:
        title = self.query_one("#compare-title", Static)
        text = Text(f"compare {len(self.records)} runs", style="bold", no_wrap=True, overflow="ellipsis")
        pinned = self.app.pinned
        if pinned in self.keys:
            i = self.keys.index(pinned)
            text.append(f"  {PIN_MARK} {self.labels[i]} pinned", style=self._run_style(i))
        settings = Text("  " + "  ".join(self.settings()), style="dim", no_wrap=True)
        budget = max(10, title.content_region.width - settings.cell_len)
        text.truncate(budget, overflow="ellipsis", pad=True)
        text.append_text(settings)
        title.update(text, layout=False)

    def settings(self) -> list[str]:
        """How the curves are drawn, as the title says it."""
        out = [f"x={self.x_axis}"]
        if self.smooth_on and self.smoothing > 0:
            out.append(f"EMA {self.smoothing:.2f}")
        if self.group_key:
            out.append(f"by {self.group_key}")
        if self.aggregated:
            out.append("mean+range")
        return out

    def _run_style(self, index: int) -> Style:
        r, g, b = colour(self.app.run_hue(self.keys[index]))
        return Style(color=f"rgb({r},{g},{b})", bold=True)

    # ----- curves -----------------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Rebuild the curves from the live series, and the lines above them."""
        self._last_draw = time.monotonic()
        self._draw_title()
        if self.active != "curves":
            return
        lives = self.lives
        groups = self.groups()
        traces = self._traces(lives, groups)
        waiting = [p for k, live in zip(self.keys, lives, strict=True) if (p := self._placeholder(k, live))]
        message = "reading…" if self.table is None else waiting[0] if waiting else "no values of these metrics"
        self.query_one(MetricPanels).show(traces, self.metrics, split=True, runs=len(self.keys),
                                          x_axis=self.x_axis, log_y=False, ignore_outliers=True,
                                          message=message, titled=True)
        self._draw_match()
        self._draw_legend(lives, groups)

    def _placeholder(self, key: str, live: LiveRun | None) -> str | None:
        waiting = self.app.waiting_for(key)
        if waiting:
            return f"waiting for {waiting}"
        return live.placeholder() if live is not None else None

    def own_name(self, metric: str, index: int) -> str | None:
        """Run `index`'s own name for the (canonical) metric, or None if it has none."""
        if self.table is None:
            return None
        return self.table.match.groups.get(metric, {}).get(self.keys[index])

    def _series(self, live: LiveRun | None, metric: str, index: int) -> Any:
        own = self.own_name(metric, index)
        series = live.series.get(own) if live is not None and own is not None else None
        return series if series is not None and len(series) else None

    def _traces(self, lives: list[LiveRun | None], groups: list[Group] | None) -> list[Trace]:
        smoothing = self.smoothing if self.smooth_on and self.smoothing > 0 else 0.0
        if groups is not None and self.aggregated:
            return self._group_traces(lives, groups, smoothing)
        hue_of = self._group_hues(groups)
        traces = []
        axis = "step" if self.x_axis == "step" else "time"
        kept, self._kept = self._kept, {}
        for metric in self.metrics:
            for i, live in enumerate(lives):
                series = self._series(live, metric, i)
                if series is None:
                    continue
                smooth = series.smoothed(smoothing) if smoothing else None
                # The same points as last time (only the smoothing changed): their preparation is kept.
                key = (i, metric, id(series), len(series), self.x_axis, self._start(i), self.labels[i])
                before = kept.get(key)
                if before is not None:
                    trace = before.smoothed(smooth)
                    trace.hue = hue_of(i)
                else:
                    nonfinite = live.nonfinite.get(self.own_name(metric, i) or "", 0)
                    x = cursor.x_values(series, self.x_axis, self._start(i))
                    trace = Trace(self.labels[i], (0, 0, 0), x, series.value.view, smooth, nonfinite,
                                  clean=nonfinite == 0 and series.ordered(axis), metric=metric, run=i,
                                  steps=series.steps, restarts=live.restarts, hue=hue_of(i), legend=False)
                self._kept[key] = trace
                traces.append(trace)
        return traces

    def _group_traces(self, lives: list[LiveRun | None], groups: list[Group], smoothing: float) -> list[Trace]:
        """Each group as its mean (bright) and the min and max of its runs (faint lines), per metric."""
        bands, means = [], []
        for metric in self.metrics:
            for g, group in enumerate(groups):
                curves, clean = [], []
                axis = "step" if self.x_axis == "step" else "time"
                for i in group.runs:
                    series = self._series(lives[i], metric, i)
                    if series is not None:
                        y = series.smoothed(smoothing) if smoothing else series.value.view
                        curves.append((cursor.x_values(series, self.x_axis, self._start(i)), y))
                        own = self.own_name(metric, i) or ""
                        clean.append(lives[i].nonfinite.get(own, 0) == 0 and series.ordered(axis))
                folded = aggregate(curves, AGGREGATE_COLUMNS, clean)
                if folded is None:
                    continue
                label = self._group_label(group)
                for edge in (folded.low, folded.high):
                    bands.append(Trace(label, (0, 0, 0), folded.x, edge, clean=True, metric=metric, run=g, hue=g,
                                       band=True, legend=False))
                means.append(Trace(label, (0, 0, 0), folded.x, folded.mean, clean=True, metric=metric, run=g,
                                   hue=g, legend=False))
        return bands + means  # bright means over every faint band

    def _start(self, index: int) -> float:
        live = self.app.live.get(self.keys[index])
        return cursor.start_time(self.records[index].info.created, live.first_time() if live is not None else None)

    def groups(self) -> list[Group] | None:
        """The runs grouped by the chosen key's value (None without one; all runs as one group when only the
        mean is asked for)."""
        if self.group_key is None:
            if self.aggregated:
                return [Group(None, "all runs", tuple(range(len(self.keys))))]
            return None
        row = self.diff.get(self.group_key) if self.diff is not None else None
        if row is None:
            return None
        return group_runs(row.values, format_value)

    def _group_label(self, group: Group) -> str:
        if self.group_key is None:
            return group.label
        return f"{self.group_key}={group.label}"

    def _group_hues(self, groups: list[Group] | None) -> Callable[[int], int]:
        if groups is None:
            return lambda i: self.app.run_hue(self.keys[i])
        hue = {i: g for g, group in enumerate(groups) for i in group.runs}
        return lambda i: hue.get(i, 0)

    def _draw_match(self) -> None:
        """One line saying which names were matched as one metric: `val/loss ← val_loss (2 runs), Loss/val (1)`."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.table is None:
            text.append("reading the runs' summaries…")
        for n, metric in enumerate(self.metrics):
            members = self.table.match.groups.get(metric, {}) if self.table is not None else {}
            counts: dict[str, int] = {}
            for key in self.keys:
                own = members.get(key)
                if own is not None:
                    counts[own] = counts.get(own, 0) + 1
            if n:
                text.append("  ·  ")
            text.append(clean_field(metric), style="bold")
            others = [(own, c) for own, c in counts.items() if own != metric]
            if others:
                text.append(" ← " + ", ".join(f"{clean_field(own)} ({c} run{'s' if c > 1 else ''})"
                                              for own, c in others))
            missing = len(self.keys) - sum(counts.values())
            if missing:
                text.append(f" (not in {missing} run{'s' if missing > 1 else ''})", style="dim")
        self.query_one("#compare-match", Static).update(text, layout=False)

    def _mark(self, hue: int) -> str:
        """What names a curve in the legend: ● in its colour, or its marker where it has one (colours ran out,
        or there are none)."""
        marker = marker_of(hue, curve_markers(), self.app.no_color)
        return "●" if marker in (None, "braille") else marker

    def _draw_legend(self, lives: list[LiveRun | None], groups: list[Group] | None) -> None:
        entries: list[Text] = []
        if groups is not None:
            for g, group in enumerate(groups):
                r, gr, b = colour(g)
                entry = Text(f"{self._mark(g)} {self._group_label(group)}",
                             style=Style(color=f"rgb({r},{gr},{b})", bold=True))
                entry.append(f" ({len(group.runs)} run{'s' if len(group.runs) > 1 else ''})", style="dim")
                entries.append(entry)
            if self.aggregated:
                entries.append(Text("bright: each group's mean; faint lines: its min and max", style="dim"))
        else:
            for i, label in enumerate(self.labels):
                mark = PIN_MARK if self.keys[i] == self.app.pinned else self._mark(self.app.run_hue(self.keys[i]))
                entry = Text(f"{mark} {label}", style=self._run_style(i))
                if self.table is not None and not any(self._series(lives[i], m, i) is not None
                                                      for m in self.metrics):
                    loaded = lives[i] is not None and lives[i].loaded
                    entry.append(" (none of these)" if loaded else " …", style="dim")
                entries.append(entry)
        legend = self.query_one("#compare-legend", Static)
        legend.update(flow(entries, max(20, legend.content_region.width or self.size.width - 2)))

    # ----- curve keys -------------------------------------------------------------------------------------

    def action_cycle_x(self) -> None:
        self.x_axis = X_AXES[(X_AXES.index(self.x_axis) + 1) % len(X_AXES)]
        self.redraw()

    def action_toggle_smoothing(self) -> None:
        self.smooth_on = not self.smooth_on
        self.redraw()

    def action_smoother(self, delta: float) -> None:
        self.smooth_on = True
        self.smoothing = round(min(0.99, max(0.0, self.smoothing + delta)), 2)
        self.redraw()

    def action_pick_metrics(self) -> None:
        if self.table is None:
            self.notify("the runs' metrics are still being read", timeout=2)
            return
        names = list(self.table.match.groups)

        def chosen(result: list[str] | None) -> None:
            if result:
                self.metrics = [m for m in names if m in result]
                self.metrics_picked = True
                self.keys_metric = 0
                self._ask_table()
                self.redraw()

        self.app.push_screen(MetricPicker(names, self.metrics), chosen)

    def action_group(self) -> None:
        """Choose a config key that differs among the runs: curves are coloured by its value."""
        if self.diff is None:
            self.notify("the config diff is still being read", timeout=2)
            return
        rows = [row for row in self.diff.differing() if row.section == "config"]
        if not rows:
            self.notify("no config key differs among these runs", timeout=3)
            return
        choices = [(row.key, f"{row.key}  ({len(group_runs(row.values, format_value))} values)") for row in rows]

        def chosen(key: str | None) -> None:
            if key is None:
                return
            self.group_key = key or None
            self.redraw()

        self.app.push_screen(GroupChooser(choices, self.group_key), chosen)

    def action_toggle_aggregate(self) -> None:
        self.aggregated = not self.aggregated
        if self.aggregated and self.group_key is None:
            self.notify("no key to group by (g): the mean of all runs", timeout=3)
        self.redraw()

    # ----- table ------------------------------------------------------------------------------------------

    def _columns(self) -> list[tuple[str, Text]]:
        """(column of the CompareTable, header) in the order shown."""
        table = self.table
        sort_col, descending = table.sort if table.sort else (None, False)
        out = [("label", Text("run"))]
        for metric in table.metrics:
            goal = table.goals[metric]
            arrow = ARROW.get(goal.direction, "?") + ("?" if goal.source == "guessed" else "")
            out.append((f"{metric}.best", Text(f"{clean_field(metric)} {arrow}", style="bold")))
            out.append((f"{metric}.last", Text("last")))
        out += [("duration", Text("time")), ("steps", Text("steps")), ("steps_per_s", Text("steps/s"))]
        shown = []
        for key, header in out:
            if key == sort_col:
                header = header + Text(" ▼" if descending else " ▲", style="bold")
            shown.append((key, header))
        return shown

    def _fill_table(self) -> None:
        widget = self.query_one("#compare-table", DataTable)
        note = self.query_one("#table-note", Static)
        if self.table is None:
            note.update("reading the runs' summaries…")
            return
        table = self.table.sorted_by(*self.sort) if self.sort else self.table
        self.table = table
        columns = self._columns()
        at = widget.cursor_coordinate
        old_column = self._column_at(at.column)
        widget.clear(columns=True)
        for key, header in columns:
            widget.add_column(header, key=key)
        for row in table.rows:
            index = self.keys.index(row.key) if row.key in self.keys else 0
            mark = PIN_MARK if row.key == self.app.pinned else "●"
            cells: list[Text] = [Text(f"{mark} {clean_field(row.label)}", style=self._run_style(index))]
            for metric in table.metrics:
                cell = row.cells.get(metric)
                if cell is None:
                    cells += [Text("—", style="dim"), Text("—", style="dim")]
                    continue
                best = Text("★ " if table.leader.get(metric) == row.key else "  ", style="bold yellow")
                best.append(fmt_number(cell.best) if cell.best is not None else "—")
                if cell.best_step is not None:
                    best.append(f" @{fmt_number(cell.best_step)}", style="dim")
                cells += [best, Text(fmt_number(cell.last), justify="right")]
            cells += [Text(fmt_duration(row.duration), justify="right"), Text(fmt_number(row.steps), justify="right"),
                      Text(fmt_number(row.steps_per_s), justify="right")]
            widget.add_row(*cells, key=row.key)
        keys = [key for key, _ in columns]
        column = keys.index(old_column) if old_column in keys else min(at.column, len(keys) - 1)
        if table.rows:
            widget.move_cursor(row=min(at.row, len(table.rows) - 1), column=column, animate=False)
        guessed = [m for m in table.metrics if table.goals[m].source == "guessed"]
        lines = []
        if guessed:
            lines.append(f"↓? ↑? guessed from the name ({', '.join(clean_field(m) for m in guessed)}); "
                         "f on a metric's column flips it")
        lines += [clean_field(n) for n in table.notes if "←" not in n]  # matched names are said on Curves
        lines.append("★ best of each metric · s sorts by the cursor's column (again: the other way) · "
                     "enter opens a run")
        note.update("\n".join(lines))

    def _column_at(self, index: int) -> str | None:
        widget = self.query_one("#compare-table", DataTable)
        if not widget.columns or index >= len(widget.columns):
            return None
        return str(widget.ordered_columns[index].key.value)

    def _sort_by(self, column: str | None) -> None:
        if column is None or self.table is None:
            return
        if self.sort is not None and self.sort[0] == column:
            self.sort = (column, not self.sort[1])
        else:
            self.sort = self.table.sorted_by(column).sort  # each column's natural way first (best first)
        self._fill_table()

    def action_sort(self) -> None:
        """Sort by the column under the cursor; the same again reverses."""
        self._sort_by(self._column_at(self.query_one("#compare-table", DataTable).cursor_column))

    @on(DataTable.HeaderSelected, "#compare-table")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        self._sort_by(str(event.column_key.value))

    def action_flip(self) -> None:
        """Judge the metric under the cursor the other way (lower or higher is better): the table re-ranks."""
        column = self._column_at(self.query_one("#compare-table", DataTable).cursor_column)
        if self.table is None or column is None or "." not in column or column.rpartition(".")[0] not in \
                self.table.goals:
            self.notify("put the cursor on a metric's column to flip its direction", timeout=3)
            return
        metric = column.rpartition(".")[0]
        now = self.table.goals[metric].direction
        self.directions[metric] = "max" if now == "min" else "min"
        self.notify(f"{clean_field(metric)}: {'higher' if now == 'min' else 'lower'} is better now", timeout=3,
                    markup=False)
        self._ask_table()

    @on(DataTable.CellSelected, "#compare-table")
    def _open_run(self, event: DataTable.CellSelected) -> None:
        key = str(event.cell_key.row_key.value)
        record = self.app.records.get(key)
        if record is not None:
            self.app.open_runs([record])

    # ----- config diff ------------------------------------------------------------------------------------

    def _fill_config(self) -> None:
        widget = self.query_one("#config-table", DataTable)
        note = self.query_one("#config-note", Static)
        if self.diff is None:
            note.update("reading the runs' configs…")
            return
        rows = self.diff.all() if self.show_all_keys else self.diff.differing()
        differing = len(self.diff.differing())
        total = len(self.diff.keys)
        note.update(f"{differing} of {total} keys differ · "
                    + ("a: only those" if self.show_all_keys else "a: all keys") + " · — : the run has no such key")
        cursor_row = widget.cursor_row
        widget.clear(columns=True)
        widget.add_column(Text("key", style="bold"), key="key")
        for i, label in enumerate(self.labels):
            widget.add_column(Text(label, style=self._run_style(i)), key=self.keys[i])
        section = "config"
        for row in rows:
            if row.section != section:
                section = row.section
                widget.add_row(Text(section, style="bold reverse"), *[Text("") for _ in self.labels],
                               key=f"section:{section}")
            texts = row.texts()
            cells, height = [], 1
            for value, shown in zip(row.values, texts, strict=True):
                lines = fold(clean_field(shown), VALUE_WIDTH)
                if len(lines) > VALUE_LINES:
                    lines = [*lines[: VALUE_LINES - 1], lines[VALUE_LINES - 1][: VALUE_WIDTH - 1] + "…"]
                height = max(height, len(lines))
                style = "dim" if value is MISSING or not row.differs else "bold" if row.differs else ""
                cells.append(Text("\n".join(lines), style=style))
            key_text = Text(clean_field(row.key), style="" if row.differs else "dim")
            if row.note:
                key_text.append(" *", style="yellow")
            widget.add_row(key_text, *cells, height=height, key=f"{row.section}:{row.key}")
        if widget.row_count:
            widget.move_cursor(row=min(cursor_row, widget.row_count - 1), animate=False)
        notes = [f"{row.key}: {row.note}" for row in rows if row.note]
        if notes:
            note.update(Text(str(note.render()) + "\n* " + "; ".join(notes)))

    def action_toggle_all_keys(self) -> None:
        self.show_all_keys = not self.show_all_keys
        self._fill_config()

    # ----- keys that matter -------------------------------------------------------------------------------

    def _keys_metric(self) -> str | None:
        if not self.metrics:
            return None
        return self.metrics[self.keys_metric % len(self.metrics)]

    def _ranked_for(self) -> tuple[str, str | None] | None:
        """What the Keys tab ranks against: the metric, and the direction the table judges it in."""
        metric = self._keys_metric()
        if metric is None:
            return None
        goal = self.table.goals.get(metric) if self.table is not None else None
        return metric, goal.direction if goal is not None else None

    def _ask_importance(self) -> None:
        wanted = self._ranked_for()
        if wanted is None or self.table is None:
            self._fill_keys()
            return
        if self.importance is not None and self.importance[0] == wanted:
            return
        metric, direction = wanted
        members = self.table.match.groups.get(metric, {})
        self.app.lanes.submit(self._lane, partial(_rank_keys, list(self.records), metric, members, direction,
                                                  self.post_message), tag="importance")

    def on_importance_read(self, message: ImportanceRead) -> None:
        wanted = self._ranked_for()
        if wanted is None or message.metric != wanted[0] or message.direction != wanted[1]:
            return
        if message.error:
            self.notify(message.error, severity="warning", timeout=4)
        self.importance = (wanted, message.keys)
        self._fill_keys()

    def _fill_keys(self) -> None:
        widget = self.query_one("#keys-table", DataTable)
        note = self.query_one("#keys-note", Static)
        metric = self._keys_metric()
        if metric is None or self.importance is None or self.importance[0] != self._ranked_for():
            note.update("reading…")
            return
        goal = self.table.goals.get(metric) if self.table is not None else None
        arrow = ARROW.get(goal.direction, "") + ("?" if goal is not None and goal.source == "guessed" else "") \
            if goal is not None else ""
        ranked = self.importance[1]
        note.update(Text.assemble((f"{clean_field(metric)} {arrow}", "bold"),
                                  f": which differing keys go with a better best value, by rank over "
                                  f"{len(self.records)} runs · k: next metric" if len(self.metrics) > 1 else
                                  f": which differing keys go with a better best value, by rank over "
                                  f"{len(self.records)} runs"))
        widget.clear(columns=True)
        widget.add_columns("key", "strength", "better with", "n", "")
        for item in ranked:
            if item.strength is None:
                bar = Text("")
            else:
                filled = round(item.strength * 10)
                bar = Text("█" * filled + "·" * (10 - filled) + f" {item.strength:.2f}")
            better = item.better
            if item.kind == "numeric" and better in ("higher", "lower"):
                better_text = f"{better} {item.key}"
            elif better is not None:
                better_text = f"{item.key}={format_value(better)}"
            else:
                better_text = ""
            widget.add_row(Text(clean_field(item.key), style="bold"), bar, Text(clean_field(better_text)),
                           Text(str(item.n), justify="right"), Text(item.note or "", style="dim"))
        if not ranked:
            widget.add_row(Text("no config key differs among these runs", style="dim"), "", "", "", "")

    def action_next_metric(self) -> None:
        if not self.metrics:
            return
        self.keys_metric = (self.keys_metric + 1) % len(self.metrics)
        self._ask_importance()
        self._fill_keys()


def flow(entries: Sequence[Text], width: int, gap: int = 2) -> Text:
    """Legend entries on as few lines as fit `width`, never breaking an entry (one wider than a line is cut)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    used = 0
    for entry in entries:
        if used and used + gap + entry.cell_len > width:
            out.append("\n")
            used = 0
        elif used:
            out.append(" " * gap)
            used += gap
        out.append_text(entry)
        used += entry.cell_len
    return out


class GroupChooser(ModalScreen[str | None]):
    """Pick the config key to group runs by (or none); dismisses with the key, "" for none, None to cancel."""

    BINDINGS = [Binding("escape,q", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    GroupChooser { align: center middle; }
    GroupChooser > Vertical { width: 56; max-width: 90%; height: auto; max-height: 90%; border: thick $primary;
                              background: $surface; }
    GroupChooser #group-hint { padding: 0 1; color: $text-muted; }
    GroupChooser OptionList, GroupChooser OptionList:focus { height: auto; max-height: 20; border: none; }
    """

    def __init__(self, choices: Sequence[tuple[str, str]], current: str | None) -> None:
        super().__init__()
        self.choices = list(choices)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("group the curves by a key that differs (one colour per value)", id="group-hint")
            yield OptionList(Option("no grouping: one colour per run", id=""),
                             *(Option(Text(clean_field(label)), id=key) for key, label in self.choices))

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        keys = ["", *(key for key, _ in self.choices)]
        options.highlighted = keys.index(self.current) if self.current in keys else 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id or "")


# ----- what runs on the read lane (results go out as messages) ---------------------------------------------------

def _make_table(request: int, records: list[RunRecord], metrics: list[str] | None, aliases: dict[str, list[str]],
                directions: dict[str, str], post: Callable[[object], object]) -> None:
    try:
        post(ComparisonRead(request, compare_runs(records, metrics, aliases=aliases, directions=directions)))
    except Exception as exc:  # a metric no run has any more, a direction not understood: say so, keep the last
        post(ComparisonRead(request, error=str(exc)))


def _read_diff(records: list[RunRecord], post: Callable[[object], object]) -> None:
    post(ConfigDiffRead(config_diff(records)))


def _rank_keys(records: list[RunRecord], metric: str, members: dict[str, str], direction: str | None,
               post: Callable[[object], object]) -> None:
    """Rank the keys against the metric as the table has it: under each run's own name for it (`val_loss` in
    one, `val/loss` in another) and judged in the table's direction (flipped with `f`, say)."""
    named = []
    for record in records:
        own = members.get(str(record.info.path))
        stats = record.summary.get(own) if own is not None else None
        if stats is not None and direction is not None:
            stats = replace(stats, direction=direction, direction_source="override")
        named.append(replace(record, summary={metric: stats} if stats is not None else {}))
    try:
        post(ImportanceRead(metric, direction, key_importance(named, metric)))
    except Exception as exc:
        post(ImportanceRead(metric, direction, [], error=f"cannot rank keys against {metric}: {exc}"))
