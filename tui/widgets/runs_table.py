"""The runs table: one row per run, updated in place as runs change (never cleared on a refresh).

A Line API widget (a `ScrollView` rendering only the visible rows as `Strip`s, like `LogView`), built on
Textual's public API only. Each row keeps its cells as plain strings with a style and a version; its rendered
strip is cached by that version, so a live update redraws only the rows whose text changed. Columns are as wide
as their widest cell, the name takes the rest (cut in the middle when it still does not fit) and on a narrow
terminal the least needed columns are hidden. Rows are keyed by the run's path. Text reaches the screen only as
plain segments, so a run name or tag holding `[markup]` is shown literally.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import count, pairwise
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.events import Click, Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from runyard import RunRecord, best_of, clean_field, main_metrics

from ..formatting import (
    CLOCK_MARK,
    PALETTE,
    STATUS_ICON,
    STATUS_STYLE,
    cut_middle,
    fmt_duration,
    fmt_number,
    fmt_time,
)
from ..live.manage import human_size

PIN_MARK = "⊙"  # the run pinned as the reference of every overlay (an `o` where the output lacks the glyph)


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
    pinned: bool = False
    hue: int | None = None  # the run's colour (a palette index) while it is in use: its mark is drawn in it
    size: int | None = None  # bytes on disk (as `du`), None until measured


@dataclass(frozen=True)
class Column:
    """A column: its key, header label, alignment, when it is hidden, and the direction a first sort takes."""

    key: str
    label: str
    right: bool = False     # numbers line up on the right
    hide: int = 0           # 0: always shown; else hidden on a narrow screen, lowest number first
    descending: bool = False  # numbers and times sort largest / newest first, text a to z


COLUMNS: list[Column] = [
    Column("mark", " "), Column("status", "status"), Column("name", "name"),
    Column("step", "step", right=True, descending=True),  # the last step index, not a count of rows
    Column("metric", "metric", hide=5), Column("last", "last", right=True, descending=True),
    Column("best", "best", right=True, hide=6, descending=True),
    Column("duration", "duration", right=True, hide=7, descending=True),
    Column("rate", "steps/s", right=True, hide=8, descending=True),
    Column("size", "size", right=True, hide=1, descending=True),  # on disk, as `du -h`; the first to give way
    Column("start", "start", hide=4, descending=True), Column("format", "format", hide=3),
    Column("tags", "tags", hide=2),
]
COLUMN_KEYS = [c.key for c in COLUMNS]
NAME = COLUMN_KEYS.index("name")
NAME_WANT = 24  # columns are hidden until the name gets this much (or all it needs)
NAME_MIN = 12  # below this even the sort column gives way: a name cut to a few letters names nothing
EARLY = 1  # a column hidden this early (the size) gives way as soon as a name would be cut
GAP = 1  # blank cells before each column

Cell = tuple[tuple[str, str], ...]  # (text, Rich style string) spans


def facts_for(record: RunRecord, live: Any, marked: bool, size: int | None = None) -> RowFacts:
    """A row's values: from the live state of a followed run where there is one, else from the listing; `size`
    is the run's bytes on disk as last measured (None: not yet)."""
    names = main_metrics(live.series if live is not None else record.summary, limit=1)
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
    return RowFacts(record, last_step, rate, metric, last, best, marked, size=size)


def cells_of(f: RowFacts) -> tuple[Cell, ...]:
    """The spans each column shows for a row, in `COLUMNS` order."""
    info = f.record.info
    status: Cell = ((f"{STATUS_ICON.get(info.status, '?')} {info.status}", STATUS_STYLE.get(info.status, "")),)
    if info.archived:
        status += ((" ⌂", "dim"),)
    if info.clock_ahead is not None:
        status += ((f" {CLOCK_MARK}", "yellow"),)
    return safe_cells((
        mark_cell(f),
        status,
        ((info.name, "red" if info.error else ""),),
        ((fmt_number(f.last_step), ""),),
        ((f.metric or "-", "dim"),),
        ((fmt_number(f.last), ""),),
        ((fmt_number(f.best), ""),),
        ((fmt_duration(info.duration), ""),),
        ((fmt_number(f.rate), ""),),
        ((human_size(f.size), "" if f.size is not None else "dim"),),
        ((fmt_time(info.created), ""),),
        ((info.format, "dim"),),
        ((", ".join(str(tag) for tag in info.tags), "italic"),),
    ))


def mark_cell(f: RowFacts) -> Cell:
    """▶ for a marked run and ⊙ for the pinned one, in the run's colour (the colour its curves have)."""
    style = "bold cyan"
    if f.hue is not None:
        r, g, b = PALETTE[f.hue % len(PALETTE)]
        style = f"bold rgb({r},{g},{b})"
    cell: Cell = (("▶" if f.marked else " ", style),)
    return (*cell, (PIN_MARK, style)) if f.pinned else cell


def safe_cells(cells: tuple[Cell, ...]) -> tuple[Cell, ...]:
    """Cells with their text made safe to show: names, tags and metrics come from a run's files, and a cell's
    text goes to the screen as a Segment, with no markup or escape parsing in between."""
    return tuple(tuple((clean_field(text), style) for text, style in cell) for cell in cells)


SORT_VALUE: dict[str, Callable[[RowFacts], Any]] = {
    "mark": lambda f: f.marked, "status": lambda f: f.record.info.status,
    "name": lambda f: f.record.info.name.lower(), "step": lambda f: f.last_step, "metric": lambda f: f.metric,
    "last": lambda f: f.last, "best": lambda f: f.best, "duration": lambda f: f.record.info.duration,
    "rate": lambda f: f.rate, "size": lambda f: f.size, "start": lambda f: f.record.info.created,
    "format": lambda f: f.record.info.format, "tags": lambda f: ",".join(str(t) for t in f.record.info.tags),
}


def sort_value(f: RowFacts, column: str) -> Any:
    """A row's value for sorting by `column`: numbers as numbers; None when missing or NaN (sorted last)."""
    value = SORT_VALUE[column](f)
    if isinstance(value, float) and value != value:
        return None
    return value


@lru_cache(maxsize=64)
def parse_style(spec: str) -> Style:
    """A Rich style from its string, parsed once."""
    return Style.parse(spec) if spec else Style()


def cell_width(cell: Cell) -> int:
    """Terminal cells a cell's text takes."""
    return sum(cell_len(text) for text, _ in cell)


class Row:
    """A shown row: its cells, their widths, its value under the sort column, and a version for the strip cache."""

    __slots__ = ("cells", "sort", "version", "widths")

    def __init__(self, cells: tuple[Cell, ...], sort: Any, version: int) -> None:
        self.cells = cells
        self.widths = tuple(cell_width(c) for c in cells)
        self.sort = sort
        self.version = version


@dataclass(frozen=True)
class ColumnLayout:
    """Which columns are shown at a width, and how wide each is (the name's width is what is left)."""

    columns: tuple[tuple[int, int], ...]  # (index into COLUMNS, width)

    def column_at(self, x: int) -> str | None:
        """The key of the column under screen column `x`, if any."""
        left = 0
        for index, width in self.columns:
            if left <= x < left + GAP + width:
                return COLUMN_KEYS[index]
            left += GAP + width
        return None


def plan_layout(width: int, natural: tuple[int, ...], sort_column: str | None = None) -> ColumnLayout:
    """Columns at their natural width; the least needed are hidden while the name has less than it wants.

    A column hidden EARLY (the size) goes as soon as a name would be cut. The sort column is hidden last, only
    when the name would otherwise get less than NAME_MIN: its ▲/▼ is what tells the order.
    """
    shown = list(range(len(COLUMNS)))

    def room_for_name() -> int:
        return width - sum(GAP + natural[i] for i in shown if i != NAME) - GAP

    def hide_while(short_of: int, keep_sort: bool) -> None:
        while room_for_name() < short_of:
            hideable = [i for i in shown if COLUMNS[i].hide and not (keep_sort and COLUMNS[i].key == sort_column)]
            if not hideable:
                return
            shown.remove(min(hideable, key=lambda i: COLUMNS[i].hide))

    early = [i for i in shown if COLUMNS[i].hide == EARLY and COLUMNS[i].key != sort_column]
    while early and room_for_name() < natural[NAME]:  # a column of EARLY gives way before any name is cut
        shown.remove(early.pop())
    hide_while(min(natural[NAME], NAME_WANT), keep_sort=True)
    hide_while(min(natural[NAME], NAME_MIN), keep_sort=False)
    name_width = max(room_for_name(), min(natural[NAME], 4))
    return ColumnLayout(tuple((i, name_width if i == NAME else natural[i]) for i in shown))


class RunsTable(ScrollView, can_focus=True):
    """All runs, one row each; sorted by any column; rows marked with space; enter opens."""

    ALLOW_SELECT = False

    DEFAULT_CSS = """
    RunsTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        & > .runs-table--header { background: $panel; color: $foreground; text-style: bold; }
        & > .runs-table--sorted { background: $panel; color: $text-accent; text-style: bold; }
        & > .runs-table--even-row { background: $surface-lighten-1 50%; }
        & > .runs-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .runs-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    RunsTable:dark > .runs-table--even-row { background: $surface-darken-1 40%; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "runs-table--header", "runs-table--sorted", "runs-table--even-row", "runs-table--cursor",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "cursor_page_up", "Page up", show=False),
        Binding("pagedown", "cursor_page_down", "Page down", show=False),
        Binding("home", "cursor_home", "First run", show=False),
        Binding("end", "cursor_end", "Last run", show=False),
        Binding("enter", "select_cursor", "Open", show=False),
        Binding("space", "toggle_mark", "Mark", tooltip="Mark the run and move to the next one"),
        Binding("s", "choose_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse sort", show=False),  # in help and the palette; the footer keeps q, ?
    ]

    class _RowMessage(Message):
        """A message about one run of the table; `key` is its path."""

        def __init__(self, table: RunsTable, key: str) -> None:
            """Carry the table and the run's key."""
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> RunsTable:
            """The table the message is about."""
            return self.table

    class RowHighlighted(_RowMessage):
        """The cursor is on another run."""

    class RowSelected(_RowMessage):
        """Enter (or a double click) on a run."""

    class MarkToggled(_RowMessage):
        """A run was marked or unmarked (`space`)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        """An empty table sorted by start, newest first."""
        super().__init__(id=id, classes=classes)
        self.sort_column = "start"
        self.sort_reverse = True
        self.facts: dict[str, RowFacts] = {}
        self._rows: dict[str, Row] = {}
        self._order: list[str] = []  # keys, top to bottom
        self._position: dict[str, int] = {}
        self._order_stale = False  # live values moved a row out of order; re-sorted once the burst is in
        self._cursor = 0
        self._announced: str | None = None
        self._versions = count()
        # per column: how many rows have a cell of each width, so the widest is known without a pass over rows
        self._width_counts: list[Counter[int]] = [Counter() for _ in COLUMNS]
        self._layout_key: tuple | None = None
        self._layout = ColumnLayout(())
        self._strips: LRUCache[tuple, Strip] = LRUCache(1024)

    # ----- rows ---------------------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """How many runs the table shows."""
        return len(self._order)

    def key_at(self, row: int) -> str:
        """The key of the run shown at `row` (0 is the top row)."""
        return self._order[row]

    def row_of(self, key: str) -> int | None:
        """Where the run `key` is shown, or None."""
        return self._position.get(key)

    def show_rows(self, rows: Iterable[RowFacts]) -> None:
        """Make the table hold exactly `rows`: add new ones, update changed ones, remove gone ones.

        The cursor stays on its run; on the top row it stays at the top when new runs arrive, so the newest
        run is highlighted as it appears.
        """
        wanted = {str(f.record.info.path): f for f in rows}
        current = self.highlighted_key()
        keep_top = self._cursor == 0 or not self._order
        natural = self.natural_widths()
        gone = [k for k in self._rows if k not in wanted]
        for key in gone:
            self._forget(key)
        if gone:
            self._order = [k for k in self._order if k in self._rows]
        added, changed, resort = [], [], False
        for key, f in wanted.items():
            if key in self._rows:
                was_changed, sort_changed = self._store(key, f)
                if was_changed:
                    changed.append(key)
                resort |= sort_changed
            else:
                self._add(key, f)
                added.append(key)
        if added or gone or (resort and not self._in_order()):
            follow = None if (added and keep_top) or current not in self._rows else current
            self._reorder(follow, fallback=0 if follow is None and added else self._cursor)
        elif self.natural_widths() != natural:
            self.refresh()
        else:
            for key in changed:
                self.refresh_line(self._position[key] + 1)
        self._announce()

    def update_row(self, f: RowFacts) -> None:
        """Take a run's new values; only its own line is redrawn unless a column width or the order changes."""
        key = str(f.record.info.path)
        if key not in self._rows:
            return
        natural = self.natural_widths()
        changed, sort_changed = self._store(key, f)
        if not changed:
            return
        if sort_changed and not self._in_order(key):
            if not self._order_stale:  # one re-sort after a burst of updates, not one per row
                self._order_stale = True
                self.call_later(self._settle_order)
        elif self.natural_widths() != natural:
            self.refresh()
        else:
            self.refresh_line(self._position[key] + 1)

    def _settle_order(self) -> None:
        """Re-sort after updates moved rows out of order; the cursor stays on its run."""
        if self._order_stale:
            self._order_stale = False
            self._reorder(self.highlighted_key(), fallback=self._cursor)
            self._announce()

    def _add(self, key: str, f: RowFacts) -> None:
        """A new row (placed by the next `_reorder`)."""
        self.facts[key] = f
        row = self._rows[key] = Row(cells_of(f), sort_value(f, self.sort_column), next(self._versions))
        self._order.append(key)
        for counts, width in zip(self._width_counts, row.widths, strict=True):
            counts[width] += 1

    def _forget(self, key: str) -> None:
        """Drop a row (the caller drops it from the order, once for all rows gone)."""
        self.facts.pop(key, None)
        row = self._rows.pop(key)
        for counts, width in zip(self._width_counts, row.widths, strict=True):
            counts[width] -= 1
            if not counts[width]:
                del counts[width]

    def _store(self, key: str, f: RowFacts) -> tuple[bool, bool]:
        """Keep a row's new values: (did what it shows change, did its sort value change)."""
        self.facts[key] = f
        row = self._rows[key]
        cells = cells_of(f)
        sort = sort_value(f, self.sort_column)
        sort_changed = sort != row.sort
        row.sort = sort
        if cells == row.cells:
            return False, sort_changed
        new = Row(cells, sort, next(self._versions))
        for counts, old_width, new_width in zip(self._width_counts, row.widths, new.widths, strict=True):
            if old_width != new_width:
                counts[old_width] -= 1
                if not counts[old_width]:
                    del counts[old_width]
                counts[new_width] += 1
        self._rows[key] = new
        return True, sort_changed

    def marked(self) -> list[RunRecord]:
        """The marked runs, in no particular order."""
        return [f.record for f in self.facts.values() if f.marked]

    # ----- order --------------------------------------------------------------------------------------------

    def _precedes(self, a: Any, b: Any) -> bool:
        """May a row with sort value `a` sit above one with `b`? (Missing values go last either way.)"""
        if a is None:
            return b is None
        if b is None:
            return True
        return a >= b if self.sort_reverse else a <= b

    def _in_order(self, key: str | None = None) -> bool:
        """Is the order still sorted (around `key` only, when given)?"""
        rows, order = self._rows, self._order
        if key is None:
            return all(self._precedes(rows[a].sort, rows[b].sort) for a, b in pairwise(order))
        at = self._position[key]
        value = rows[key].sort
        return (at == 0 or self._precedes(rows[order[at - 1]].sort, value)) and \
            (at == len(order) - 1 or self._precedes(value, rows[order[at + 1]].sort))

    def _reorder(self, follow: str | None, fallback: int) -> None:
        """Sort the rows (ties keep their order); the cursor goes to `follow`'s row, else row `fallback`."""
        rows = self._rows
        present = [k for k in self._order if rows[k].sort is not None]
        present.sort(key=lambda k: rows[k].sort, reverse=self.sort_reverse)
        self._order = present + [k for k in self._order if rows[k].sort is None]
        self._order_stale = False
        self._position = {k: i for i, k in enumerate(self._order)}
        self.virtual_size = Size(0, len(self._order) + 1)
        target = self._position.get(follow, fallback) if follow is not None else fallback
        self._cursor = max(0, min(target, len(self._order) - 1))
        self.refresh()
        self._scroll_to_cursor()

    def apply_sort(self) -> None:
        """Order the rows by the sort column's typed values (numbers as numbers, missing values last)."""
        for key, f in self.facts.items():
            self._rows[key].sort = sort_value(f, self.sort_column)
        current = self.highlighted_key()
        self._reorder(current, fallback=0)
        self._announce()

    def sort_by(self, column: str) -> None:
        """Sort by `column`; the same column again reverses. A new column starts in its natural direction."""
        if column == self.sort_column:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_column = column
            self.sort_reverse = COLUMNS[COLUMN_KEYS.index(column)].descending
        self.apply_sort()

    def action_choose_sort(self) -> None:
        """A list of the columns to sort by.

        A chooser rather than "sort by the column under the cursor": the cursor picks rows, not cells, so there
        is no column under it, and the list also reaches the columns hidden on a narrow terminal.
        """
        from ..screens.sort_chooser import SortChooser

        def chosen(column: str | None) -> None:
            if column is not None:
                self.sort_by(column)

        columns = [(c.key, c.label if c.key != "mark" else "marked") for c in COLUMNS]
        self.app.push_screen(SortChooser(columns, self.sort_column, self.sort_reverse), chosen)

    def action_reverse_sort(self) -> None:
        """Flip the direction of the sort."""
        self.sort_reverse = not self.sort_reverse
        self.apply_sort()

    # ----- cursor -------------------------------------------------------------------------------------------

    @property
    def cursor_row(self) -> int:
        """The highlighted row (0 when the table is empty)."""
        return self._cursor

    def highlighted_key(self) -> str | None:
        """The key of the highlighted run, if any."""
        return self._order[self._cursor] if self._order else None

    def highlight(self, key: str) -> None:
        """Put the cursor on run `key` (if it is shown)."""
        if key in self._position:
            self.move_cursor(self._position[key])

    def move_cursor(self, row: int) -> None:
        """Highlight `row` (clamped), scroll it into view and announce the run."""
        if not self._order:
            return
        row = max(0, min(row, len(self._order) - 1))
        if row != self._cursor:
            self.refresh_line(self._cursor + 1)
            self._cursor = row
            self.refresh_line(row + 1)
        self._scroll_to_cursor()
        self._announce()

    def _announce(self) -> None:
        """Post `RowHighlighted` when the highlighted run is another than last said."""
        key = self.highlighted_key()
        if key is not None and key != self._announced:
            self._announced = key
            self.post_message(self.RowHighlighted(self, key))

    def _data_height(self) -> int:
        """Rows visible at once below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        """Scroll the least needed to bring the cursor's row into view."""
        top, height = self.scroll_offset.y, self._data_height()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, force=True)

    def action_cursor_up(self) -> None:
        """Cursor one run up."""
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Cursor one run down."""
        self.move_cursor(self._cursor + 1)

    def action_cursor_page_up(self) -> None:
        """Cursor one page up."""
        self.move_cursor(self._cursor - self._data_height())

    def action_cursor_page_down(self) -> None:
        """Cursor one page down."""
        self.move_cursor(self._cursor + self._data_height())

    def action_cursor_home(self) -> None:
        """Cursor on the first run."""
        self.move_cursor(0)

    def action_cursor_end(self) -> None:
        """Cursor on the last run."""
        self.move_cursor(len(self._order) - 1)

    def action_select_cursor(self) -> None:
        """Open the highlighted run (the screen decides what opening means)."""
        key = self.highlighted_key()
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def action_toggle_mark(self) -> None:
        """Mark or unmark the highlighted run, then move down."""
        key = self.highlighted_key()
        if key is None:
            return
        f = self.facts[key]
        self.update_row(replace(f, marked=not f.marked))
        self.post_message(self.MarkToggled(self, key))
        self.move_cursor(self._cursor + 1)

    def on_click(self, event: Click) -> None:
        """A header click sorts by that column; a row click highlights the run, a double click opens it."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._layout.column_at(offset.x)
            if column is not None:
                self.sort_by(column)
            return
        row = self.scroll_offset.y + offset.y - 1
        if row < len(self._order):
            self.move_cursor(row)
            if event.chain >= 2:
                self.action_select_cursor()

    def on_resize(self, event: Resize) -> None:
        """Keep the cursor's row in view when the table gets shorter."""
        self._scroll_to_cursor()

    # ----- rendering ----------------------------------------------------------------------------------------

    def natural_widths(self) -> tuple[int, ...]:
        """Each column's widest cell, header (with the sort arrow) included."""
        return tuple(
            max(max(counts, default=0), cell_len(column.label) + (2 if column.key == self.sort_column else 0))
            for column, counts in zip(COLUMNS, self._width_counts, strict=True))

    def column_layout(self, width: int) -> ColumnLayout:
        """The columns shown at `width` and their widths (cached; a new layout drops the cached strips)."""
        natural = self.natural_widths()
        key = (width, natural, self.sort_column)
        if key != self._layout_key:
            self._layout_key = key
            self._layout = plan_layout(width, natural, self.sort_column)
            self._strips.clear()
        return self._layout

    def notify_style_update(self) -> None:
        """Styles changed (theme, focus): cached strips are stale."""
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        """Line `y`: the header, a run's row, or blank."""
        width = self.scrollable_content_region.width
        layout = self.column_layout(width)
        if y == 0:
            return self._header_strip(layout, width)
        index = self.scroll_offset.y + y - 1
        if index >= len(self._order):
            return Strip.blank(width, self.rich_style)
        key = self._order[index]
        row = self._rows[key]
        cursor = index == self._cursor
        cache_key = (key, row.version, cursor, index % 2)
        strip = self._strips.get(cache_key)
        if strip is None:
            strip = self._strips[cache_key] = self._row_strip(row, layout, width, self._row_style(index, cursor))
        return strip

    def _row_style(self, index: int, cursor: bool) -> Style:
        """The style under a row: cursor, zebra stripe or plain."""
        if cursor:
            return self.get_component_rich_style("runs-table--cursor")
        if index % 2:
            return self.get_component_rich_style("runs-table--even-row")
        return self.rich_style

    def _row_strip(self, row: Row, layout: ColumnLayout, width: int, base: Style) -> Strip:
        """A row's cells padded to their column widths, the name cut in the middle if it is too long."""
        segments: list[Segment] = []
        gap = Segment(" " * GAP, base)
        for index, column_width in layout.columns:
            cell, used = row.cells[index], row.widths[index]
            if used > column_width:
                style = cell[0][1]
                cut = cut_middle("".join(t for t, _ in cell), column_width)
                cell, used = ((cut, style),), cell_len(cut)
            pad = Segment(" " * (column_width - used), base)
            segments.append(gap)
            if COLUMNS[index].right:
                segments.append(pad)
            segments.extend(Segment(text, base + parse_style(style) if style else base) for text, style in cell)
            if not COLUMNS[index].right:
                segments.append(pad)
        return Strip(segments).crop_extend(0, width, base)

    def _header_strip(self, layout: ColumnLayout, width: int) -> Strip:
        """Column labels; the sort column's in the accent colour with ▲ (ascending) or ▼ (descending)."""
        cache_key = ("header", self.sort_column, self.sort_reverse)
        strip = self._strips.get(cache_key)
        if strip is not None:
            return strip
        base = self.get_component_rich_style("runs-table--header")
        sorted_style = self.get_component_rich_style("runs-table--sorted")
        segments: list[Segment] = []
        for index, column_width in layout.columns:
            column = COLUMNS[index]
            label = column.label
            style = base
            if column.key == self.sort_column:
                label = f"{label} {'▼' if self.sort_reverse else '▲'}"
                style = sorted_style
            label = cut_middle(label, column_width)
            pad = " " * (column_width - cell_len(label))
            segments.append(Segment(" " * GAP, base))
            segments.append(Segment(pad + label if column.right else label + pad, style))
        strip = self._strips[cache_key] = Strip(segments).crop_extend(0, width, base)
        return strip
