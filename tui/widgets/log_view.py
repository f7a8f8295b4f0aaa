"""The log view: a run's training.log followed like `tail -f`, with levels coloured, a cursor, search and times.

A Line API widget (a `ScrollView` rendering only the visible rows, as Textualize's toolong does): lines are kept
as cleaned `str`, their times in an `array('d')`, and rendered `Strip`s are cached. The app asks for a read by
calling `poll()` when the file changes. The file is read on a read lane's thread (`LogReader`), which also cleans,
times and grades the new lines and posts them in batches (`LogLinesRead`, with back-pressure on the widget's
queue, as toolong's scan does); the widget only folds them in. The view only ever appends: a log rotated or
truncated under it (see `TailReader`) keeps what was shown, a dim marker line says where the log started over,
and the new file's lines follow. A log that is not a regular file (a FIFO), or whose read does not return, shows
"waiting for <file>"; one that cannot be read shows why ("cannot read training.log: permission denied"), in place
of the lines or, after some were shown, as a marker line. Text is only ever put on screen as plain
`Text`/`Segment` content, so `[markup]` in a log line is shown literally.
"""

from __future__ import annotations

import math
import re
import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.events import Click
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer

from runyard import LOG_STAMP, TailReader, clean_line, line_time, unreadable_reason

from ..live.lanes import STUCK_AFTER, Lanes
from ..messages import LogLinesRead

NO_LEVEL, DEBUG, INFO, WARNING, ERROR, MARKER = range(6)  # MARKER: a line of runyard's own, not the log's
_LEVEL_CODES = {
    "DEBUG": DEBUG, "INFO": INFO, "WARNING": WARNING, "WARN": WARNING,
    "ERROR": ERROR, "CRITICAL": ERROR, "FATAL": ERROR,
}
_LEVEL_CLASSES = {
    DEBUG: "log-view--debug", INFO: "log-view--info", WARNING: "log-view--warning", ERROR: "log-view--error",
}
_WORDS = "DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL"
# `... - LEVEL - ...` (logging), `[LEVEL]`, `| LEVEL |` (loguru) and `LEVEL:`: one group per form, so a match's
# `lastindex` is the group holding the level word.
_LEVEL = re.compile(rf" - ({_WORDS}) - |\[({_WORDS})\]|\| ({_WORDS}) *\||(?<![\w.-])({_WORDS}):")
_LEVEL_SCAN = 160  # a level word is looked for near the start of a line only, not in the message
_NO_PEAK = -math.inf
_EMPTY_HINT = "no log yet"
_READING_HINT = "reading…"
BATCH_LINES = 20_000  # lines per LogLinesRead: a long log appears progressively, never in one long UI stall
BACKLOG = 10          # a reading thread waits while the widget has this many messages still to handle
ROTATED = "── log rotated: what follows is the new file ──"
TRUNCATED = "── log truncated: read again from its start ──"


@lru_cache(maxsize=256)
def _whole_seconds(stamp: str) -> float | None:
    """`line_time` of a bare `YYYY-MM-DD HH:MM:SS`, memoised: strptime dominates opening a big log."""
    return line_time(stamp)


def stamp_time(line: str) -> float | None:
    """The same value as `line_time(line)`, but strptime runs once per distinct second, not once per line."""
    match = LOG_STAMP.match(line)
    if match is None:
        return None
    whole = _whole_seconds(match[1] + (match[3] or ""))  # a zone, where the stamp names one
    if whole is None or not match[2]:
        return whole
    return whole + int(match[2]) / 10 ** len(match[2])


def level_match(line: str) -> re.Match[str] | None:
    """Where a line names its level (`- INFO -`, `[ERROR]`, `WARNING:`), searched near its start."""
    return _LEVEL.search(line, 0, _LEVEL_SCAN)


def line_level(line: str) -> int:
    """A line's own level code (`NO_LEVEL` when it names none)."""
    match = level_match(line)
    return _LEVEL_CODES[match[match.lastindex or 0]] if match else NO_LEVEL


@dataclass
class LogBatch:
    """New lines of a log, cleaned, timed and graded on the reading thread, ready to be shown."""

    lines: list[str] = field(default_factory=list)
    times: array[float] = field(default_factory=lambda: array("d"))
    peaks: array[float] = field(default_factory=lambda: array("d"))
    levels: array[int] = field(default_factory=lambda: array("b"))
    width: int = 0
    waiting: str | None = None   # the log is not a regular file (a FIFO): nothing is read from it
    problem: str | None = None   # why the log cannot be read ("cannot read training.log: permission denied")
    final: bool = True           # the last batch of one read


class LogReader:
    """The reading side of a LogView: follows one file from a read lane's thread (one read at a time).

    `path` may be a function that finds the file (a layout looking for its log may list a folder): it is called
    on the reading thread too. Besides the lines, the reader keeps what indexing needs across reads: the last
    time seen, the running maximum of times (which a rotation does not lower: the view's lines stay in order of
    it) and the level of the last stamped line.
    """

    def __init__(self, path: Path | Callable[[], Path | None]) -> None:
        self._locate = path if callable(path) else None
        self.path: Path | None = None if callable(path) else path
        self._tail: TailReader | None = None
        self._last_time = math.nan
        self._peak = _NO_PEAK
        self._head_level = NO_LEVEL  # level of the last line that had its own timestamp
        self._problem: str | None = None  # the last reason given for not reading the file
        self._shown = 0                   # lines (and markers) handed out so far

    @property
    def name(self) -> str:
        """The file's name, for "waiting for ..." (before it is found: "the log")."""
        return self.path.name if self.path is not None else "the log"

    def read(self) -> Iterator[LogBatch]:
        """The lines appended since the last read, in batches of at most BATCH_LINES (at least one batch)."""
        if self._tail is None:
            if self._locate is not None:
                self.path, self._locate = self._locate(), None
            if self.path is None:
                yield LogBatch()
                return
            self._tail = TailReader(self.path)
        chunk = self._tail.read()
        raw: list[bytes | str] = list(chunk.lines)  # str: a marker line of the view's own
        if chunk.reset and (self._shown or chunk.reset_at):  # nothing shown yet: nothing to mark
            raw.insert(chunk.reset_at, ROTATED if chunk.replaced else TRUNCATED)
        if chunk.problem is not None and chunk.problem != self._problem and (self._shown or raw):
            raw.append(f"── {chunk.problem} ──")  # lines are shown already: the hint would not be seen
        self._problem = chunk.problem
        self._shown += len(raw)
        waiting = self.path.name if chunk.not_regular else None
        for start in range(0, max(1, len(raw)), BATCH_LINES):
            batch = self._batch(raw[start:start + BATCH_LINES])
            batch.waiting, batch.problem = waiting, chunk.problem
            batch.final = start + BATCH_LINES >= len(raw)
            yield batch

    def _batch(self, raw_lines: list[bytes | str]) -> LogBatch:
        """Clean, time and grade raw lines; a line without a stamp inherits its record's time (and error level).
        A marker (str) takes the time before it and level MARKER."""
        lines = [raw if isinstance(raw, str) else clean_line(raw.decode("utf-8", errors="replace"))
                 for raw in raw_lines]
        batch = LogBatch(lines)
        if not lines:
            return batch
        batch.width = max(len(line) if line.isascii() else cell_len(line) for line in lines)
        last_time, peak, head_level = self._last_time, self._peak, self._head_level
        times, peaks, levels = batch.times, batch.peaks, batch.levels
        for raw, line in zip(raw_lines, lines, strict=True):
            if isinstance(raw, str):
                times.append(last_time)
                peaks.append(peak)
                levels.append(MARKER)
                head_level = NO_LEVEL  # what follows a marker is another file's (or the file again)
                continue
            own_time = stamp_time(line)
            level = line_level(line)
            if own_time is not None:
                last_time, head_level = own_time, level
                peak = max(peak, own_time)
            elif level == NO_LEVEL and head_level == ERROR:
                level = ERROR  # a traceback or dump logged with an error record
            times.append(last_time)
            peaks.append(peak)
            levels.append(level)
        self._last_time, self._peak, self._head_level = last_time, peak, head_level
        return batch

    def close(self) -> None:
        """Let go of the file (on the read lane: never while a read uses it)."""
        if self._tail is not None:
            self._tail.close()
            self._tail = None


class LogView(ScrollView, can_focus=True):
    """A followed log file: new lines keep the view at the bottom unless the user scrolled up."""

    ALLOW_SELECT = False

    DEFAULT_CSS = """
    LogView {
        background: $surface;
        color: $foreground;
        & > .log-view--cursor { background: $foreground 8%; }
        &:focus > .log-view--cursor { background: $accent 30%; }
        & > .log-view--match { background: $warning 45%; }
        & > .log-view--timestamp { text-style: dim; }
        & > .log-view--level { text-style: bold; }
        & > .log-view--debug { text-style: dim; }
        & > .log-view--info { color: $text-success; }
        & > .log-view--warning { color: $text-warning; }
        & > .log-view--error { color: $text-error; }
        & > .log-view--hint { text-style: dim italic; }
        & > .log-view--new-lines { background: $accent; color: $foreground; text-style: bold; }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--cursor", "log-view--match", "log-view--timestamp", "log-view--level", "log-view--debug",
        "log-view--info", "log-view--warning", "log-view--error", "log-view--hint", "log-view--new-lines",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "cursor_page_up", "Page up", show=False),
        Binding("pagedown", "cursor_page_down", "Page down", show=False),
        Binding("home", "cursor_home", "First line", show=False),
        Binding("end", "cursor_end", "Last line, follow", show=False),
        Binding("n", "next_match", "Next match", show=False),
        Binding("N,shift+n", "previous_match", "Previous match", show=False),
    ]

    class CursorMoved(Message):
        """The cursor moved to another line; `time` is that line's (inherited) timestamp, for the curves.

        `first_read`: the file's first read put the cursor on its last line (the log was opened, nobody moved).
        """

        def __init__(self, log_view: LogView, index: int, time: float | None, first_read: bool = False) -> None:
            """Carry the line index and its time."""
            super().__init__()
            self.log_view = log_view
            self.index = index
            self.time = time
            self.first_read = first_read

        @property
        def control(self) -> LogView:
            """The LogView whose cursor moved."""
            return self.log_view

    def __init__(self, path: Path | None = None, *, id: str | None = None, classes: str | None = None) -> None:
        """A view of `path` (nothing is read until `poll()`)."""
        super().__init__(id=id, classes=classes)
        self._lanes = Lanes(name="runyard-log")
        self._reader: LogReader | None = None
        self._pattern: re.Pattern[str] | None = None
        self._cache: LRUCache[tuple[int, int, bool], Strip] = LRUCache(1024)
        self._waiting_timer: Timer | None = None
        self.reads = 0       # reads folded in so far (a read asked for with no file counts at once)
        self.last_read = 0   # lines the last read added
        self._adding = 0     # lines added so far by the read whose batches are arriving
        if path is not None:
            self._reader = LogReader(path)
        self._reset_state()

    def _reset_state(self) -> None:
        """Forget every line, time, level and match (the search term itself is kept)."""
        self._lines: list[str] = []
        self._times = array("d")   # a line's time, inherited by continuation lines; NaN before the first stamp
        self._peaks = array("d")   # running maximum of `_times` (-inf before the first stamp): bisect-able
        self._levels = array("b")  # level code shown for each line
        self._width = 0
        self._cursor = 0
        self._unseen = 0
        self._follow = True  # keep the bottom in view as lines arrive; off once the user scrolls up
        self._matches: list[int] = []
        self._hint = _READING_HINT if self._reader is not None and not self.reads else _EMPTY_HINT
        self._cache.clear()

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The file followed, if any (a file still to be found by its first read is None until then)."""
        return self._reader.path if self._reader else None

    def set_path(self, path: Path | Callable[[], Path | None] | None) -> None:
        """Follow another file (or none); what was shown is cleared and the new file is read by `poll()`.

        `path` may be a function that finds the file; it is called on the reading thread.
        """
        old, self._reader = self._reader, LogReader(path) if path is not None else None
        if old is not None:
            self._lanes.submit(old, old.close, tag="close")  # after any read of it still running
        self.reads = self.last_read = self._adding = 0
        self._clear()

    def _clear(self) -> None:
        """Empty the view and return it to following mode."""
        self._reset_state()
        self.virtual_size = Size(0, 0)
        self.scroll_to(0, 0, animate=False, force=True)
        self.refresh()

    def poll(self) -> None:
        """Ask for what was appended to the file since the last read; it is read on a thread and shown when it
        arrives (`LogLinesRead`). Asked again while a read waits, it is read once."""
        reader = self._reader
        if reader is None:
            self._note_read(0)
            return
        self._lanes.submit(reader, partial(self._read, reader), tag="read", file=reader.name)
        if self._waiting_timer is None:
            self._waiting_timer = self.set_timer(STUCK_AFTER, self._check_waiting)

    def _read(self, reader: LogReader) -> None:
        """On the read lane's thread: read, and post the batches, pausing while the widget is behind."""
        try:
            for batch in reader.read():
                while self.message_queue_size > BACKLOG and self.is_running:
                    time.sleep(0.01)
                self.post_message(LogLinesRead(reader, batch))
        except OSError as exc:  # finding the file failed (its folder is out of reach): say why, the next poll retries
            self.post_message(LogLinesRead(reader, LogBatch(problem=unreadable_reason(exc))))

    def on_unmount(self) -> None:
        """Let go of the file once any read of it is done."""
        if self._reader is not None:
            self._lanes.submit(self._reader, self._reader.close, tag="close")
        self._lanes.stop()

    def _check_waiting(self) -> None:
        """A read that has not come back for a while: say which file the view waits for."""
        self._waiting_timer = None
        reader = self._reader
        pending = self._lanes.waiting(reader) if reader is not None else None
        if pending is None or reader is None:
            return
        if pending.seconds >= STUCK_AFTER and not self._lines:
            self._show_hint(f"waiting for {reader.name}")
        self._waiting_timer = self.set_timer(STUCK_AFTER, self._check_waiting)

    def _show_hint(self, hint: str) -> None:
        if hint != self._hint:
            self._hint = hint
            self.refresh()

    def on_log_lines_read(self, message: LogLinesRead) -> None:
        """Fold in lines read on the reading thread (those of a file no longer shown are dropped)."""
        if message.reader is not self._reader:
            return
        batch = message.batch
        self._adding += self._add(batch)
        self._show_hint(batch.problem or (f"waiting for {batch.waiting}" if batch.waiting else _EMPTY_HINT))
        if batch.final:
            self._note_read(self._adding)
            self._adding = 0

    def _note_read(self, added: int) -> None:
        self.last_read = added
        self.reads += 1

    def _add(self, batch: LogBatch) -> int:
        """Append a batch's lines, keeping the last line in view while following; returns how many came."""
        if not batch.lines:
            return 0
        cursor_on_last = self._cursor >= len(self._lines) - 1
        start = len(self._lines)
        self._lines.extend(batch.lines)
        self._times.extend(batch.times)
        self._peaks.extend(batch.peaks)
        self._levels.extend(batch.levels)
        self._width = max(self._width, batch.width)
        if self._pattern is not None:
            search = self._pattern.search
            self._matches.extend(i for i, line in enumerate(batch.lines, start) if search(line))
        self.virtual_size = Size(self._width, len(self._lines))
        if self._follow and not self.is_vertical_scrollbar_grabbed:
            if cursor_on_last:
                self._set_cursor(len(self._lines) - 1, first_read=not self.reads)
            self._scroll_to_bottom()
            # and again once laid out: wider lines may have brought a horizontal scrollbar, one row less to show
            self.call_after_refresh(self._follow_to_bottom)
        else:
            self._unseen += len(batch.lines)
        self.refresh()
        return len(batch.lines)

    # -- content and time index ------------------------------------------------------------------------------

    @property
    def lines(self) -> Sequence[str]:
        """The cleaned lines shown (read only)."""
        return self._lines

    @property
    def line_count(self) -> int:
        """How many lines the view holds."""
        return len(self._lines)

    @property
    def times(self) -> array[float]:
        """Each line's time (Unix seconds; continuation lines inherit; NaN when unknown), in step with `lines`."""
        return self._times

    @property
    def following(self) -> bool:
        """True while the view keeps the last line in sight as lines arrive."""
        return self._follow

    @property
    def unseen(self) -> int:
        """Lines appended below the view since the user scrolled away from the bottom."""
        return self._unseen

    def time_of(self, index: int) -> float | None:
        """The time of line `index` (inherited for continuation lines), or None."""
        if not 0 <= index < len(self._times) or math.isnan(self._times[index]):
            return None
        return self._times[index]

    def jump_to_time(self, ts: float) -> int | None:
        """Put the cursor on the first line at or after `ts` (else the last line) and show it; returns its index."""
        if not self._peaks or self._peaks[-1] == _NO_PEAK or math.isnan(ts):
            return None
        index = min(bisect_left(self._peaks, ts), len(self._peaks) - 1)
        self.move_cursor(index, center=True)
        return index

    # -- cursor ----------------------------------------------------------------------------------------------

    @property
    def cursor_line(self) -> int:
        """Index of the highlighted line (0 when the view is empty)."""
        return self._cursor

    def move_cursor(self, index: int, *, center: bool = False) -> None:
        """Highlight line `index` (clamped) and scroll it into view, centred when it was out of view."""
        if not self._lines:
            return
        self._set_cursor(max(0, min(index, len(self._lines) - 1)))
        self._scroll_to_line(self._cursor, center)

    def _set_cursor(self, index: int, first_read: bool = False) -> None:
        """Move the highlight and announce it."""
        if index == self._cursor:
            return
        self._cursor = index
        self.refresh()
        self.post_message(self.CursorMoved(self, index, self.time_of(index), first_read))

    def _scroll_to_line(self, index: int, center: bool) -> None:
        """Scroll the least needed (or to centre it) so line `index` is visible."""
        height = self._page_height()
        top = self.scroll_offset.y
        if top <= index < top + height:
            return
        if center:
            target = index - height // 2
        elif index < top:
            target = index
        else:
            target = index - height + 1
        self.scroll_to(y=max(0, target), animate=False)

    def _page_height(self) -> int:
        """Rows visible at once."""
        return max(1, self.scrollable_content_region.height)

    def action_cursor_up(self) -> None:
        """Cursor one line up."""
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        """Cursor one line down."""
        self.move_cursor(self._cursor + 1)

    def action_cursor_page_up(self) -> None:
        """View and cursor one page up."""
        self._page(-self._page_height())

    def action_cursor_page_down(self) -> None:
        """View and cursor one page down."""
        self._page(self._page_height())

    def _page(self, rows: int) -> None:
        """Scroll by `rows` and move the cursor with the view."""
        self.scroll_to(y=self.scroll_offset.y + rows, animate=False)
        self.move_cursor(self._cursor + rows)

    def action_cursor_home(self) -> None:
        """Cursor on the first line."""
        self.move_cursor(0)

    def action_cursor_end(self) -> None:
        """Cursor on the last line, and follow new lines again."""
        self.move_cursor(len(self._lines) - 1)
        self._scroll_to_bottom()

    def _follow_to_bottom(self) -> None:
        if self._follow:
            self._scroll_to_bottom()

    def _scroll_to_bottom(self) -> None:
        """Jump to the last line now (forced: the scrollbars may not be laid out for the new lines yet)."""
        self.scroll_end(animate=False, immediate=True, force=True, x_axis=False)

    def on_click(self, event: Click) -> None:
        """A click puts the cursor on the clicked line."""
        offset = event.get_content_offset(self)
        if offset is not None and self.scroll_offset.y + offset.y < len(self._lines):
            self.move_cursor(self.scroll_offset.y + offset.y)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling away from the bottom stops following; coming back resumes it and drops the hint."""
        super().watch_scroll_y(old_value, new_value)
        self._follow = new_value >= self.max_scroll_y
        if self._follow and self._unseen:
            self._unseen = 0
            self.refresh()

    def on_resize(self) -> None:
        """A following view stays on the last line when its height changes."""
        if self._follow:
            self._scroll_to_bottom()

    # -- search ----------------------------------------------------------------------------------------------

    def search(self, term: str) -> int:
        """Highlight `term` (case-insensitive), move the cursor to the next matching line; returns matching lines."""
        if not term:
            self.clear_search()
            return 0
        self._pattern = re.compile(re.escape(term), re.IGNORECASE)
        search = self._pattern.search
        self._matches = [i for i, line in enumerate(self._lines) if search(line)]
        self._cache.clear()
        self.refresh()
        if self._matches:
            at = bisect_left(self._matches, self._cursor)
            self.move_cursor(self._matches[at % len(self._matches)], center=True)
        return len(self._matches)

    def next_match(self) -> int | None:
        """Cursor to the next matching line below the cursor (wrapping); returns its index."""
        if not self._matches:
            return None
        at = bisect_right(self._matches, self._cursor) % len(self._matches)
        self.move_cursor(self._matches[at], center=True)
        return self._matches[at]

    def previous_match(self) -> int | None:
        """Cursor to the previous matching line above the cursor (wrapping); returns its index."""
        if not self._matches:
            return None
        index = self._matches[bisect_left(self._matches, self._cursor) - 1]
        self.move_cursor(index, center=True)
        return index

    def clear_search(self) -> None:
        """Drop the search term and its highlights."""
        self._pattern = None
        self._matches = []
        self._cache.clear()
        self.refresh()

    def action_next_match(self) -> None:
        """Key binding for `next_match`."""
        self.next_match()

    def action_previous_match(self) -> None:
        """Key binding for `previous_match`."""
        self.previous_match()

    # -- rendering -------------------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        """Styles changed (theme, focus): cached strips are stale."""
        super().notify_style_update()
        self._cache.clear()

    def _partial(self, name: str) -> Style:
        """A component class's own style, to lay over a line."""
        return self.get_component_rich_style(name, partial=True)

    def render_line(self, y: int) -> Strip:
        """Row `y` of the view: a log line, the empty-state hint, or blank."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        index = scroll_y + y
        if not self._lines:
            return self._hint_strip(width) if y == 0 else Strip.blank(width, self.rich_style)
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        base = self._base_style(index)
        strip = self._line_strip(index, width).crop_extend(scroll_x, scroll_x + width, base)
        if self._unseen and y == self.scrollable_content_region.height - 1:
            strip = self._with_new_lines_label(strip, width)
        return strip

    def _base_style(self, index: int) -> Style:
        """The style under a line: the cursor highlight or the widget's own."""
        if index == self._cursor:
            return self.get_component_rich_style("log-view--cursor")
        return self.rich_style

    def _line_strip(self, index: int, width: int) -> Strip:
        """Line `index` rendered whole and padded to `width`, from the cache when possible."""
        key = (index, width, index == self._cursor)
        strip = self._cache.get(key)
        if strip is None:
            base = self._base_style(index)
            text = self._line_text(index, base)
            strip = Strip(text.render(self.app.console), text.cell_len).extend_cell_length(width, base)
            self._cache[key] = strip
        return strip

    def _line_text(self, index: int, base: Style) -> Text:
        """Line `index` as plain `Text` (never markup) with its timestamp, level and search matches styled."""
        line = self._lines[index]
        text = Text(line, no_wrap=True, end="")
        text.stylize(base)  # as a span: `Text.render` ignores `Text.style` on a line without spans
        level = self._levels[index]
        if level == MARKER:
            text.stylize(self._partial("log-view--hint"))
            return text
        if stamp := LOG_STAMP.match(line):
            text.stylize(self._partial("log-view--timestamp"), 0, stamp.end())
        if level in (DEBUG, WARNING, ERROR):
            text.stylize(self._partial(_LEVEL_CLASSES[level]))
        match = level_match(line)
        if match and _LEVEL_CODES[match[match.lastindex or 0]] == level:
            word_style = self._partial(_LEVEL_CLASSES[level]) + self._partial("log-view--level")
            text.stylize(word_style, *match.span(match.lastindex or 0))
        if self._pattern is not None:
            match_style = self.get_component_rich_style("log-view--match")
            for found in self._pattern.finditer(line):
                text.stylize(match_style, *found.span())
        return text

    def _hint_strip(self, width: int) -> Strip:
        """The empty-state line."""
        hint = Segment(f" {self._hint}", self.rich_style + self._partial("log-view--hint"))
        return Strip([hint]).crop_extend(0, width, self.rich_style)

    def _with_new_lines_label(self, strip: Strip, width: int) -> Strip:
        """`strip` with an "N new lines" label over its right end."""
        label = f" {self._unseen} new line{'s' if self._unseen != 1 else ''} · end ↓ "
        size = cell_len(label)
        if size >= width:
            return strip
        tag = Strip([Segment(label, self.get_component_rich_style("log-view--new-lines"))], size)
        return Strip.join([strip.crop(0, width - size), tag])
