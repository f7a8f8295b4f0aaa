"""LogView: following a growing log, literal text only, levels, cursor, search and the time index."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from runyard.layouts.common import line_time
from runyard.tui.widgets.log_view import (
    DEBUG,
    ERROR,
    INFO,
    NO_LEVEL,
    TRUNCATED,
    WARNING,
    LogView,
    line_level,
    stamp_time,
)

HOSTILE = "[bold red]x[/] [/] [@click=app.quit]q[/] [0] \x1b[31mred\x1b[0m \x1b]0;title\x07\x1b[2Jend"


class LogApp(App[None]):
    """A screen holding one LogView; it records the cursor messages the view posts."""

    def __init__(self, path: Path | None) -> None:
        """Show `path`."""
        super().__init__()
        self.path = path
        self.moves: list[tuple[int, float | None]] = []

    def compose(self) -> ComposeResult:
        """Just the view."""
        yield LogView(self.path, id="log")

    def on_log_view_cursor_moved(self, message: LogView.CursorMoved) -> None:
        """Keep each cursor move."""
        self.moves.append((message.index, message.time))


def rows(view: LogView) -> list[str]:
    """The text of every visible row, as rendered."""
    return [view.render_line(y).text.rstrip() for y in range(view.scrollable_content_region.height)]


def stamped(i: int, level: str = "INFO", msg: str | None = None) -> str:
    """A logging-style line whose time grows with `i` (one second apart)."""
    return f"2024-12-16 14:{i // 60 % 60:02d}:{i % 60:02d},000 - {level} - {msg or f'line {i}'}"


def write(path: Path, lines: list[str], mode: str = "a") -> None:
    """Append (or with mode "w", replace) complete lines."""
    with path.open(mode, encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


async def poll(view: LogView, pilot) -> int:
    """Ask the view to read its file and wait until it has shown what was read; returns how many lines came."""
    before = view.reads
    view.poll()
    deadline = time.monotonic() + 60  # a wait, not a timing: 200,000 lines on a loaded machine take seconds
    while time.monotonic() < deadline:
        if view.reads > before:
            return view.last_read
        await pilot.pause(0.01)
    raise AssertionError("the log was not read in time")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    """An empty training.log."""
    path = tmp_path / "training.log"
    path.write_text("")
    return path


async def test_empty_view_shows_hint_without_path_and_with_empty_file(log: Path) -> None:
    for path in (None, log):
        app = LogApp(path)
        async with app.run_test(size=(80, 24)) as pilot:
            view = app.query_one(LogView)
            assert await poll(view, pilot) == 0
            await pilot.pause()
            assert rows(view)[0].strip() == "no log yet"
            assert view.line_count == 0 and view.cursor_line == 0


async def test_appended_lines_appear_after_poll(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        write(log, [stamped(0), stamped(1)])
        with log.open("a") as f:
            f.write("partial, no newline yet")
        assert await poll(view, pilot) == 2
        assert await poll(view, pilot) == 0
        await pilot.pause()
        assert rows(view)[:3] == [stamped(0), stamped(1), ""]
        with log.open("a") as f:
            f.write(" - now complete\n")
        assert await poll(view, pilot) == 1
        await pilot.pause()
        assert rows(view)[2] == "partial, no newline yet - now complete"


async def test_follow_mode_keeps_the_last_line_in_view(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        write(log, [stamped(i) for i in range(100)])
        await poll(view, pilot)
        await pilot.pause()
        assert rows(view)[-1] == stamped(99)
        assert view.following and view.cursor_line == 99
        for batch in range(3):
            write(log, [stamped(100 + batch * 10 + i) for i in range(10)])
            assert await poll(view, pilot) == 10
            await pilot.pause()
            assert rows(view)[-1] == stamped(109 + batch * 10)
        assert view.cursor_line == 129 and view.unseen == 0


async def test_scrolled_up_view_does_not_move_and_end_resumes_following(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        write(log, [stamped(i) for i in range(100)])
        await poll(view, pilot)
        await pilot.pause()
        await pilot.press("home")
        assert view.scroll_offset.y == 0 and view.cursor_line == 0 and not view.following
        write(log, [stamped(100 + i) for i in range(5)])
        assert await poll(view, pilot) == 5
        await pilot.pause()
        shown = rows(view)
        assert view.scroll_offset.y == 0 and view.cursor_line == 0
        assert shown[0] == stamped(0)
        assert view.unseen == 5 and "5 new lines" in shown[-1]
        await pilot.press("end")
        await pilot.pause()
        assert view.following and view.unseen == 0 and view.cursor_line == 104
        assert rows(view)[-1] == stamped(104)
        write(log, [stamped(105)])
        await poll(view, pilot)
        await pilot.pause()
        assert rows(view)[-1] == stamped(105)


async def test_truncated_file_is_read_again_below_what_was_shown(log: Path) -> None:
    """Truncated in place (copytruncate, or a script reopening its log with "w"): the file is read again from its
    start, below the lines already shown and a dim marker, as `tail` says "file truncated"."""
    app = LogApp(log)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        write(log, [stamped(i) for i in range(50)])
        await poll(view, pilot)
        write(log, ["fresh start", stamped(1)], mode="w")
        assert await poll(view, pilot) == 3  # the marker and the two lines
        await pilot.pause()
        assert list(view.lines) == [stamped(i) for i in range(50)] + [TRUNCATED, "fresh start", stamped(1)]
        assert len(view.times) == 53
        assert rows(view)[-3:] == [TRUNCATED, "fresh start", stamped(1)]
        assert view.cursor_line == 52 and view.following


async def test_set_path_switches_files(log: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.log"
    write(other, ["other file"])
    app = LogApp(log)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        write(log, [stamped(i) for i in range(30)])
        await poll(view, pilot)
        view.set_path(other)
        assert view.line_count == 0 and view.path == other
        assert await poll(view, pilot) == 1
        await pilot.pause()
        assert rows(view)[:2] == ["other file", ""]


async def test_markup_and_escape_sequences_are_shown_literally(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(120, 24)) as pilot:
        view = app.query_one(LogView)
        write(log, [HOSTILE, "[INFO] [/]", "plain [0] [/bold]"])
        await poll(view, pilot)
        await pilot.pause()
        shown = rows(view)
        assert shown[0] == "[bold red]x[/] [/] [@click=app.quit]q[/] [0] red end"
        assert shown[1] == "[INFO] [/]"
        assert shown[2] == "plain [0] [/bold]"
        assert all("\x1b" not in row and "\x07" not in row for row in shown)
        svg = app.export_screenshot()
        assert "\x1b" not in svg and "\x07" not in svg
        assert "[@click=app.quit]q[/]" in svg.replace("&#160;", " ")
        assert "0;title" not in svg
        assert app.is_running


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2024-12-16 14:50:30,000 - INFO - started", INFO),
        ("2024-12-16 14:50:30,000 - trainer - WARNING - slow", WARNING),
        ("2024-12-16 14:50:30,000 - ERROR - boom", ERROR),
        ("2024-12-16 14:50:30,000 - CRITICAL - dead", ERROR),
        ("[2024-07-16 14:35:52] [DEBUG] details", DEBUG),
        ("[FATAL] out of memory", ERROR),
        ("WARN: deprecated", WARNING),
        ("INFO:root:hello", INFO),
        ("2024-07-16 14:35:52.123 | ERROR    | mod:fn:1 - bad", ERROR),
        ("[2024-07-16 14:35:52] step 10 loss 0.5", NO_LEVEL),
        ("ValueError: bad value", NO_LEVEL),
        ("no ERROR here", NO_LEVEL),
    ],
)
def test_line_level(line: str, level: int) -> None:
    assert line_level(line) == level


@pytest.mark.parametrize(
    "line",
    ["2024-12-16 14:50:30,250 - INFO - x", "[2024-07-16 14:35:52] x", "2024-07-16T14:35:52.5 x", "no stamp",
     "2024-13-45 99:00:00 bad date"],
)
def test_stamp_time_agrees_with_line_time(line: str) -> None:
    assert stamp_time(line) == line_time(line)


def styles_of(view: LogView, y: int, word: str) -> list[str]:
    """The styles of the rendered segments of row `y` that contain `word`."""
    return [str(seg.style) for seg in view.render_line(y) if word in seg.text]


async def test_levels_timestamps_and_continuations_are_styled(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        write(log, [
            stamped(0, "INFO", "fine"),
            stamped(1, "ERROR", "failed"),
            "Traceback (most recent call last):",
            "ValueError: bad",
            stamped(2, "DEBUG", "noise"),
            stamped(3, "WARNING", "careful"),
            "not part of an error record",
            "tail",
        ])
        await poll(view, pilot)
        await pilot.pause()
        error = view.get_component_rich_style("log-view--error", partial=True).color
        warning = view.get_component_rich_style("log-view--warning", partial=True).color
        normal = view.rich_style.color
        assert any("dim" in style for style in styles_of(view, 0, "2024-12-16"))
        assert any("bold" in style for style in styles_of(view, 0, "INFO"))
        assert all("bold" in style for style in styles_of(view, 1, "ERROR"))
        assert all(error.name in style for style in styles_of(view, 1, "failed"))
        assert all(error.name in style for style in styles_of(view, 2, "Traceback"))
        assert all(error.name in style for style in styles_of(view, 3, "ValueError"))
        assert all("dim" in style for style in styles_of(view, 4, "noise"))
        assert all(warning.name in style for style in styles_of(view, 5, "careful"))
        assert all(normal.name in style for style in styles_of(view, 6, "not part"))
        assert view.time_of(2) == view.time_of(3) == line_time(stamped(1))
        assert view.time_of(7) == line_time(stamped(3))


async def test_cursor_keys_and_messages(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 12)) as pilot:
        view = app.query_one(LogView)
        write(log, [stamped(i) for i in range(60)])
        await poll(view, pilot)
        await pilot.pause()
        assert view.cursor_line == 59
        await pilot.press("up", "up")
        assert view.cursor_line == 57
        await pilot.press("home")
        assert view.cursor_line == 0 and view.scroll_offset.y == 0
        await pilot.press("pagedown")
        page = view.scrollable_content_region.height
        assert view.cursor_line == page and view.scroll_offset.y == page
        await pilot.press("down")
        assert view.cursor_line == page + 1
        await pilot.press("pageup")
        assert view.cursor_line == 1 and view.scroll_offset.y == 0
        await pilot.press("end")
        await pilot.pause()
        assert view.cursor_line == 59
        visited = (59, 58, 57, 0, page, page + 1, 1, 59)
        assert app.moves == [(index, line_time(stamped(index))) for index in visited]


async def test_search_counts_highlights_and_cycles(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        write(log, [stamped(i, msg="Loss went NaN" if i in (3, 7, 12) else "ok") for i in range(20)])
        await poll(view, pilot)
        await pilot.pause()
        view.move_cursor(5)
        assert view.search("loss went nan") == 3
        assert view.cursor_line == 7
        await pilot.pause()
        match = view.get_component_rich_style("log-view--match").bgcolor
        assert any(match.name in str(seg.style) for seg in view.render_line(12) if "NaN" in seg.text)
        assert not any(match.name in str(seg.style) for seg in view.render_line(11))
        assert view.next_match() == 12
        assert view.next_match() == 3
        assert view.previous_match() == 12
        await pilot.press("n")
        assert view.cursor_line == 3
        await pilot.press("N")
        assert view.cursor_line == 12
        write(log, [stamped(20, msg="loss went nan again")])
        await poll(view, pilot)
        assert view.next_match() == 20
        assert view.search("absent") == 0 and view.next_match() is None
        view.clear_search()
        assert view.previous_match() is None
        await pilot.pause()
        assert not any(match.name in str(seg.style) for seg in view.render_line(12))


async def test_jump_to_time_moves_cursor_and_reports_time(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        write(log, ["config dump before any stamp"])
        write(log, [stamped(i * 2) for i in range(100)])   # even seconds
        write(log, ["  a continuation line"])
        await poll(view, pilot)
        await pilot.pause()
        base = line_time(stamped(0))
        assert view.time_of(0) is None and math.isnan(view.times[0])
        assert view.time_of(101) == line_time(stamped(198))
        assert len(view.times) == view.line_count == 102
        assert view.jump_to_time(base + 21) == 12       # 22 s is line 12 (line 0 has no time)
        assert view.cursor_line == 12
        top = view.scroll_offset.y
        assert top <= 12 < top + view.scrollable_content_region.height
        assert view.jump_to_time(base + 10) == 6
        assert view.jump_to_time(base - 1000) == 1     # before everything: the first timed line
        assert view.jump_to_time(base + 10_000) == 101  # after everything: the last line
        await pilot.pause()
        assert app.moves[-4:] == [
            (12, base + 22), (6, base + 10), (1, base), (101, line_time(stamped(198))),
        ]


async def test_jump_to_time_with_times_going_backwards(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        write(log, [stamped(10), stamped(20), stamped(5), stamped(30)])
        await poll(view, pilot)
        base = line_time(stamped(0))
        assert view.jump_to_time(base + 15) == 1
        assert view.jump_to_time(base + 25) == 3


async def test_jump_to_time_without_times(log: Path) -> None:
    app = LogApp(log)
    async with app.run_test(size=(80, 10)) as pilot:
        view = app.query_one(LogView)
        assert view.jump_to_time(0.0) is None
        write(log, ["no", "stamps"])
        await poll(view, pilot)
        assert view.jump_to_time(0.0) is None


async def test_large_log_opens_and_renders(log: Path) -> None:
    with log.open("w") as f:
        f.writelines(stamped(i, msg=f"step {i} loss 0.5") + "\n" for i in range(200_000))
    app = LogApp(log)
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        assert await poll(view, pilot) == 200_000
        await pilot.pause()
        assert rows(view)[-1] == stamped(199_999, msg="step 199999 loss 0.5")
        assert view.search("step 123456 ") == 1 and view.cursor_line == 123_456
        await pilot.pause()
        assert stamped(123_456, msg="step 123456 loss 0.5") in rows(view)
        assert len(view.times) == 200_000
