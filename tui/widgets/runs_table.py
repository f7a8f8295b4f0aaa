"""The runs table: one row per run, updated in place as runs change (never cleared on a refresh).

Rows are keyed by the run's path. Cells are `rich.text.Text` built from plain strings, so a run name or tag
holding `[markup]` is shown literally.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from runyard import RunRecord, best_of, main_metrics

from ..formatting import STATUS_ICON, STATUS_STYLE, fmt_duration, fmt_number, fmt_time


@dataclass
class RowFacts:
    """What a row shows, with the live values the app keeps for running runs folded in."""

    record: RunRecord
    last_step: int | None
    rate: float | None
    metric: str | None
    last: float | None
    best: float | None
    marked: bool


COLUMNS: list[tuple[str, str]] = [
    ("mark", " "), ("status", "status"), ("name", "name"), ("steps", "steps"), ("metric", "metric"),
    ("last", "last"), ("best", "best"), ("duration", "duration"), ("rate", "steps/s"), ("start", "start"),
    ("format", "format"), ("tags", "tags"),
]


def facts_for(record: RunRecord, live: Any, marked: bool) -> RowFacts:
    """A row's values: from the live state of a followed run where there is one, else from the listing."""
    names = main_metrics(list(live.series) if live is not None else record.summary, limit=1)
    metric = names[0] if names else None
    if live is not None:
        last_step = live.last_step()
        rate = live.step_rate()
        last = live.latest(metric) if metric else None
        best = live.best(metric) if metric else None
    else:
        info = record.info
        last_step = info.last_step
        rate = (info.last_step / info.duration) if info.last_step and info.duration else None
        stats = record.summary.get(metric) if metric else None
        last = stats.last if stats else None
        best = best_of(record.summary, metric) if metric else None
    return RowFacts(record, last_step, rate, metric, last, best, marked)


def _cells(f: RowFacts) -> dict[str, Any]:
    info = f.record.info
    status = Text(f"{STATUS_ICON.get(info.status, '?')} {info.status}", style=STATUS_STYLE.get(info.status, ""))
    if info.archived:
        status.append(" ⌂", style="dim")
    name = Text(info.name, style="red" if info.error else "")
    return {
        "mark": Text("✓", style="bold cyan") if f.marked else Text(" "),
        "status": status,
        "name": name,
        "steps": Text(fmt_number(f.last_step), justify="right"),
        "metric": Text(f.metric or "-", style="dim"),
        "last": Text(fmt_number(f.last), justify="right"),
        "best": Text(fmt_number(f.best), justify="right"),
        "duration": Text(fmt_duration(info.duration), justify="right"),
        "rate": Text(fmt_number(f.rate) if f.rate is not None else "-", justify="right"),
        "start": Text(fmt_time(info.created)),
        "format": Text(info.format, style="dim"),
        "tags": Text(", ".join(info.tags), style="italic"),
    }


def sort_value(f: RowFacts, column: str) -> Any:
    """A sortable value for a column (missing values sort last via a (missing, value) pair)."""
    info = f.record.info
    value = {
        "mark": f.marked, "status": info.status, "name": info.name.lower(), "steps": f.last_step,
        "metric": f.metric, "last": f.last, "best": f.best, "duration": info.duration, "rate": f.rate,
        "start": info.created, "format": info.format, "tags": ",".join(info.tags),
    }[column]
    if isinstance(value, float) and value != value:
        value = None
    return (value is None, value if value is not None else 0)


class RunsTable(DataTable):
    """All runs, one row each; sorted by any column; rows marked with space."""

    BINDINGS = [
        Binding("space", "toggle_mark", "Mark"),
        Binding("s", "next_sort", "Sort column"),
        Binding("S", "reverse_sort", "Reverse sort"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.sort_column = "start"
        self.sort_reverse = True
        self.facts: dict[str, RowFacts] = {}
        self._shown: dict[str, dict[str, Any]] = {}  # the cells each row shows now
        self._cells_by_content: LRUCache[tuple, Any] = LRUCache(20_000)

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> Any:
        """DataTable's cell render, cached by what the cell shows rather than by the table's update count.

        Stock DataTable forgets every rendered cell when any one cell changes, so following a hundred live
        runs re-rendered every visible cell on every update; here only cells whose text changed are redrawn.
        """
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cell = self._data[row_key][column_key]
        shown = (cell.plain, cell.style, cell.justify) if isinstance(cell, Text) else str(cell)
        key = (row_index, column_key, shown, base_style, width, cursor, hover, self._show_hover_cursor,
               self._pseudo_class_state, self.show_cursor)
        lines = self._cells_by_content.get(key)
        if lines is None:
            lines = self._cells_by_content[key] = super()._render_cell(row_index, column_index, base_style, width,
                                                                       cursor, hover)
        return lines

    WIDTHS = {"name": 28, "steps": 10}  # long names are cut so numbers stay on screen; steps change constantly

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key, width=self.WIDTHS.get(key))

    def show_rows(self, rows: Iterable[RowFacts]) -> None:
        """Make the table hold exactly `rows`: add new ones, update changed ones, remove gone ones."""
        wanted = {str(f.record.info.path): f for f in rows}
        for key in [k for k in self.facts if k not in wanted]:
            self.facts.pop(key)
            with contextlib.suppress(RowDoesNotExist):
                self.remove_row(key)
        for key in [k for k in self._shown if k not in wanted]:
            self._shown.pop(key)
        new = [(k, f) for k, f in wanted.items() if k not in self.facts]
        first_fill = not self.facts
        for key, f in wanted.items():
            if key in self.facts:
                self.update_row(f)
        for key, f in new:
            self.facts[key] = f
            cells = self._shown[key] = _cells(f)
            self.add_row(*(cells[c] for c, _ in COLUMNS), key=key)
        if new:
            self.apply_sort()
        if first_fill and self.row_count:
            self.move_cursor(row=0, animate=False)

    def update_row(self, f: RowFacts) -> None:
        """Rewrite only the cells whose text changed."""
        key = str(f.record.info.path)
        before = self._shown.get(key)
        self.facts[key] = f
        if before is None:
            return
        after = self._shown[key] = _cells(f)
        for column, _ in COLUMNS:
            if before[column] != after[column] or before[column].style != after[column].style:
                try:
                    # re-measuring a column reads every row's cell: only for columns that rarely change
                    self.update_cell(key, column, after[column], update_width=column in ("metric", "tags"))
                except (RowDoesNotExist, KeyError):
                    return

    def apply_sort(self) -> None:
        """Order rows by the sort column's typed values (numbers as numbers, missing values last)."""
        facts, column = self.facts, self.sort_column
        order = sorted(facts, key=lambda k: sort_value(facts[k], column), reverse=self.sort_reverse)
        rank = {k: i for i, k in enumerate(order)}
        current = self.highlighted_key() if self.cursor_row > 0 else None  # at the top stays at the top
        # DataTable.sort keys on cell values (here: styled Text); sorting by row key needs the same three steps.
        self._row_locations = type(self._row_locations)(
            {key: index for index, key in enumerate(sorted(self._row_locations, key=lambda rk: rank.get(rk.value, 0)))})
        self._update_count += 1
        self.refresh()
        if current is not None:
            self.highlight(current)
        else:
            self.move_cursor(row=0, animate=False)

    def highlighted_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def highlight(self, key: str) -> None:
        with contextlib.suppress(RowDoesNotExist):
            self.move_cursor(row=self.get_row_index(key), animate=False)

    def action_toggle_mark(self) -> None:
        key = self.highlighted_key()
        if key is None:
            return
        f = self.facts[key]
        self.update_row(RowFacts(f.record, f.last_step, f.rate, f.metric, f.last, f.best, not f.marked))
        self.move_cursor(row=self.cursor_row + 1)

    def marked(self) -> list[RunRecord]:
        return [f.record for f in self.facts.values() if f.marked]

    def action_next_sort(self) -> None:
        names = [c for c, _ in COLUMNS if c != "mark"]
        self.sort_column = names[(names.index(self.sort_column) + 1) % len(names)] \
            if self.sort_column in names else "start"
        self.apply_sort()
        self.notify(f"sorted by {self.sort_column}{' (descending)' if self.sort_reverse else ''}", timeout=2)

    def action_reverse_sort(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.apply_sort()

    def sort_by(self, column: str) -> None:
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        self.sort_column = column
        self.apply_sort()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))
