"""The best checkpoints screen: every checkpoint of the runs the list shows, ranked by one metric.

The ranking is the tracker's `checkpoint_ranking` (the same as `runyard best`): it lists each run's checkpoints
(small index files, sidecars, names; never a checkpoint itself) and may read a run's series for a checkpoint that
records no value, so it runs on a read lane and comes back as a message. The runs are those the runs screen
showed (its filter applied) when `b` was pressed; their records follow the app's, and the ranking is made again
when one of them changes (a new checkpoint), at most every few seconds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, SelectionList, Static

from runyard import CheckpointRanking, RankedCheckpoint, RunRecord, checkpoint_ranking, clean_field

from ..formatting import cut_middle, fmt_bytes, fmt_number
from .metric_picker import MetricPicker

ARROW = {"min": "↓", "max": "↑"}
RERANK_INTERVAL = 3.0  # seconds between rankings while the runs change
RUN_WIDTH = 28         # a run's name wider than this is cut in the middle (the path gets the rest)


class BestRanked(Message, bubble=False):
    """A ranking made on a read lane (or why none could be made); `request` says which asking it answers."""

    def __init__(self, request: int, ranking: CheckpointRanking | None, error: str | None = None) -> None:
        super().__init__()
        self.request, self.ranking, self.error = request, ranking, error


def _rank(request: int, records: list[RunRecord], metric: str | None, mode: str | None,
          aliases: dict[str, list[str]], post: Callable[[Message], Any]) -> None:
    """On a read lane: rank the runs' checkpoints and post the result (an expected failure as its one line)."""
    try:
        ranking = checkpoint_ranking(records, metric, mode=mode, aliases=aliases)
    except Exception as exc:  # a metric gone, no checkpoints, an unreadable file: said in place
        post(BestRanked(request, None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        return
    post(BestRanked(request, ranking))


class RankMetricPicker(MetricPicker):
    """The metric picker, choosing one metric: the highlighted one (enter) or the one ticked (space)."""

    def on_mount(self) -> None:
        self.query_one(Static).update(Text("metric to rank the checkpoints by (enter ranks, esc keeps)",
                                           style="bold"))
        picker = self.query_one(SelectionList)
        if self.chosen and self.chosen[0] in self.names:
            picker.highlighted = self.names.index(self.chosen[0])

    @on(SelectionList.SelectionToggled)
    def _one_only(self, event: SelectionList.SelectionToggled) -> None:
        picker = self.query_one(SelectionList)
        if event.selection.value in picker.selected:
            for value in list(picker.selected):
                if value != event.selection.value:
                    picker.deselect(value)

    def action_choose(self) -> None:
        picker = self.query_one(SelectionList)
        ticked = [v for v in picker.selected if v not in self.chosen]
        if ticked:
            self.dismiss(ticked[:1])
        elif picker.highlighted is not None:
            self.dismiss([picker.get_option_at_index(picker.highlighted).value])
        else:
            self.dismiss(None)


class BestScreen(Screen):
    """Checkpoints of the runs shown, best first by one metric; enter opens the highlighted checkpoint's run."""

    DEFAULT_CSS = """
    BestScreen #best-title { height: 1; padding: 0 1; background: $primary-darken-2; color: $text; }
    BestScreen #best-note { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    BestScreen DataTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("q", "app.quit", "Quit"),
        Binding("question_mark", "app.help", "Help"),
        Binding("enter", "open", "Open run", priority=True),  # before the table's own enter: the footer shows it
        Binding("m", "pick_metric", "Metric"),
        Binding("f", "flip", "Flip goal"),
        Binding("escape,backspace", "back", "Back"),
    ]

    def __init__(self, records: list[RunRecord], metric: str | None = None) -> None:
        super().__init__()
        self.records = records
        self.keys = [str(r.info.path) for r in records]
        self.metric = metric               # canonical name; None: the main metric the checkpoints record
        self.mode: str | None = None       # "min"/"max" chosen here with `f`; None: the metric's direction
        self.ranking: CheckpointRanking | None = None
        self.entries: list[RankedCheckpoint] = []  # the rows, in order: ranked, then unranked
        self.error: str | None = None
        self._request = 0
        self._asked = 0.0
        self._timer: Any = None
        self._lane = ("best", id(self))

    def compose(self) -> ComposeResult:
        yield Static(id="best-title", markup=False)
        yield Static(id="best-note", markup=False)
        yield DataTable(id="best-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.app.runs_changed.subscribe(self, lambda change: self.runs_changed(set(change.keys)))
        self._draw_title()
        self.query_one("#best-note", Static).update(Text(f"ranking the checkpoints of {len(self.records)} runs…"))
        self.query_one(DataTable).focus()
        self.rank()

    # ----- the ranking ------------------------------------------------------------------------------------

    def rank(self) -> None:
        """Ask for the ranking on a read lane (the answer to the newest asking is the one shown)."""
        self._request += 1
        self._asked = time.monotonic()
        aliases = dict(getattr(self.app, "metric_aliases", {}) or {})
        job = partial(_rank, self._request, list(self.records), self.metric, self.mode, aliases, self.post_message)
        self.app.lanes.submit(self._lane, job, tag="rank")

    def runs_changed(self, keys: set[str]) -> None:
        """A shown run changed (a checkpoint saved): its record is taken from the app, and the ranking made
        again, at most every `RERANK_INTERVAL` seconds."""
        if not keys.intersection(self.keys):
            return
        self.records = [self.app.records.get(k, r) for k, r in zip(self.keys, self.records, strict=True)]
        if self._timer is None:
            wait = max(0.01, RERANK_INTERVAL - (time.monotonic() - self._asked))
            self._timer = self.set_timer(wait, self._timed_rank)

    def _timed_rank(self) -> None:
        self._timer = None
        self.rank()

    def on_best_ranked(self, message: BestRanked) -> None:
        if message.request != self._request:
            return
        if message.ranking is None:
            self.error = message.error
            if self.ranking is None:  # nothing shown yet: say why in place
                self.query_one("#best-note", Static).update(Text(message.error or "", style="bold"))
            else:
                self.notify(message.error or "", severity="warning", timeout=4, markup=False)
            self._draw_title()
            return
        self.error = None
        self.ranking = message.ranking
        self.metric = message.ranking.metric
        self.fill()

    # ----- drawing ----------------------------------------------------------------------------------------

    def _draw_title(self) -> None:
        text = Text("best checkpoints", style="bold", no_wrap=True, overflow="ellipsis")
        ranking = self.ranking
        if ranking is not None:
            goal = ranking.goal
            text.append(f" by {clean_field(ranking.metric)} {ARROW.get(goal.direction, '?')}", style="bold")
            text.append(f" ({goal.direction}, {goal.source})", style="dim")
            count = f"{len(ranking.ranked)} ranked of {ranking.checkpoints} in {ranking.runs} runs"
            text.append(f"  ·  {count}")
        else:
            text.append(f"  ·  {len(self.records)} runs")
        self.query_one("#best-title", Static).update(text, layout=False)

    def fill(self) -> None:
        """The table from the last ranking: rank, run, step, value, size, path; the notes above it."""
        ranking = self.ranking
        if ranking is None:
            return
        self._draw_title()
        self.query_one("#best-note", Static).update(self._notes(ranking))
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear(columns=True)
        self.entries = ranking.ranked + ranking.unranked
        root = getattr(self.app, "root", None)
        paths = [_shown_path(e, root) for e in self.entries]
        runs = [cut_middle(clean_field(e.run), RUN_WIDTH) for e in self.entries]
        steps = [_step_text(e) for e in self.entries]
        values = [_value_text(e) for e in self.entries]
        sizes = [fmt_bytes(e.bytes) for e in self.entries]
        head = f"{clean_field(ranking.metric)} {ARROW.get(ranking.goal.direction, '?')}"
        head += "?" if ranking.goal.guessed else ""
        widths = [max([1, *(len(str(e.rank or "-")) for e in self.entries)]), max([3, *map(len, runs)]),
                  max([4, *map(len, steps)]), max([len(head), *(v.cell_len for v in values)]),
                  max([4, *map(len, sizes)])]
        room = max(16, self.size.width - sum(widths) - 2 * (len(widths) + 1) - 2)  # each column's padding
        table.add_column("#", key="rank")
        table.add_column("run", key="run")
        table.add_column("step", key="step")
        table.add_column(head, key="value")
        table.add_column("size", key="size")
        table.add_column("path", key="path")
        for i, entry in enumerate(self.entries):
            rank = Text(str(entry.rank), style="bold", justify="right") if entry.rank is not None \
                else Text("-", style="dim", justify="right")
            table.add_row(rank, Text(runs[i]), Text(steps[i], justify="right"), values[i],
                          Text(sizes[i], justify="right"), Text(cut_middle(paths[i], room)), key=str(i))
        if self.entries:
            table.move_cursor(row=min(max(row, 0), len(self.entries) - 1))

    def _notes(self, ranking: CheckpointRanking) -> Text:
        """What the table needs said: values read off a series, what is not ranked and why, a guessed goal."""
        parts = [clean_field(note) for note in ranking.notes]
        if any(e.value_source == "series" for e in ranking.ranked):
            parts.append("* logged by the run at the checkpoint's step (the checkpoint records none)")
        left_out = ranking.why_not_ranked()
        if left_out:
            parts.append(f"not ranked: {left_out}")
        if ranking.goal.guessed:
            parts.append("direction guessed from the name: f flips it")
        return Text("  ·  ".join(parts) if parts else "enter opens the checkpoint's run; m ranks by another metric")

    def on_resize(self) -> None:
        self.fill()  # the path column takes the width there is

    # ----- keys -------------------------------------------------------------------------------------------

    def selected(self) -> RankedCheckpoint | None:
        """The checkpoint under the cursor."""
        table = self.query_one(DataTable)
        if not self.entries or table.cursor_row < 0 or table.cursor_row >= len(self.entries):
            return None
        return self.entries[table.cursor_row]

    def action_open(self) -> None:
        """Open the run of the highlighted checkpoint."""
        entry = self.selected()
        if entry is None:
            return
        record = self.app.records.get(str(entry.record.info.path), entry.record)
        self.app.open_runs([record])

    @on(DataTable.RowSelected, "#best-table")
    def _row_selected(self) -> None:  # a click on a row
        self.action_open()

    def action_pick_metric(self) -> None:
        """Rank by another metric: those the checkpoints record first, the main one at the top."""
        if self.ranking is None:
            self.notify("the checkpoints are still being read" if self.error is None else self.error, timeout=3,
                        markup=False)
            return
        names = list(self.ranking.metrics)

        def chosen(result: list[str] | None) -> None:
            if result and result[0] != self.metric:
                self.metric, self.mode = result[0], None
                self.rank()

        self.app.push_screen(RankMetricPicker(names, [self.ranking.metric]), chosen)

    def action_flip(self) -> None:
        """Rank the other way (lower or higher is better) than the metric's direction, or back."""
        if self.ranking is None:
            return
        self.mode = "max" if self.ranking.goal.direction == "min" else "min"
        self.rank()

    def action_back(self) -> None:
        self.app.pop_screen()


def _shown_path(entry: RankedCheckpoint, root: Any) -> str:
    """The checkpoint's path under the app's root where it is there, else as found; printable."""
    path = entry.path
    if root is not None:
        with contextlib.suppress(ValueError):  # outside the root (an index may name any file): as found
            path = path.relative_to(root)
    return clean_field(str(path))


def _step_text(entry: RankedCheckpoint) -> str:
    """The step; an epoch checkpoint without one shows its epoch (`ep 2`)."""
    epoch = entry.checkpoint.metrics.get("epoch")
    if entry.step is None and isinstance(epoch, (int, float)) and epoch == epoch and abs(epoch) < 1e15:
        return f"ep {int(epoch)}"
    return fmt_number(entry.step)


def _value_text(entry: RankedCheckpoint) -> Text:
    """Five significant digits, `*` after a value read off the run's series; `nan` or `no value` unranked."""
    if entry.rank is None:
        return Text("nan" if entry.reason == "NaN" else "no value", style="dim", justify="right")
    text = Text(fmt_number(entry.value, digits=5), justify="right")
    if entry.value_source == "series":
        text.append("*", style="dim")
    return text

