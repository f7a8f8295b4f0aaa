"""The run screen's behaviour as a user meets it: search box, focus, overlays, panels, title, live metrics and
off-scale marks; and the cursor maths it shares with other screens, checked without Textual."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from rich.text import Text
from textual.widgets import DataTable, Input, Static, TabbedContent

import runyard
from runyard import Prepared
from runyard.tui.app import RunyardApp
from runyard.tui.cli import main
from runyard.tui.formatting import frame_columns
from runyard.tui.live import cursor
from runyard.tui.live.runstate import Rows, Series
from runyard.tui.messages import FilesChanged
from runyard.tui.screens.metric_picker import MetricPicker
from runyard.tui.screens.run import RunScreen
from runyard.tui.screens.runs import RunsScreen
from runyard.tui.widgets.log_view import LogView
from runyard.tui.widgets.metric_plot import MetricPanels, MetricPlot
from runyard.tui.widgets.runs_table import RunsTable
from tests.test_app import wait_for


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def losses(root: Path, name: str, lr: float, steps: int = 40, finish: bool = True):
    """A run logging train and validation loss on one scale (and `lr` in its config)."""
    run = runyard.init(name, root=root, config={"lr": lr, "max_steps": 100}, console=False, system_metrics=False)
    for s in range(steps):
        run.log({"train/loss": 3.0 - s * 0.05, "val/loss": 3.2 - s * 0.04}, step=s)
        if s % 10 == 0:
            run.logger.info("step %d", s)
    if finish:
        run.finish()
    return run


def decaying(root: Path, name: str = "decay", steps: int = 300):
    """What a tracker run of a real training looks like: a loss falling fast from a high start, and a tiny lr."""
    run = runyard.init(name, root=root, config={"max_steps": steps}, console=False, system_metrics=False)
    for s in range(steps):
        run.log({"train/loss": 0.8 + 9.0 * math.exp(-s / 30), "lr": 3e-4 * min(1.0, (s + 1) / 30)}, step=s)
        if s % 25 == 0:
            run.logger.info("step %d", s)
    run.finish()
    return run




async def open_all(app: RunyardApp, pilot, count: int) -> RunScreen:
    """Mark every run listed and open them (one run: just open it)."""
    await wait_for(app, pilot, lambda: app.screen.query_one(RunsTable).row_count == count)
    await pilot.press(*(["home"] + ["space"] * count if count > 1 else []), "enter")
    await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted)
    await pilot.pause()
    return app.screen


def shown(screen: RunScreen, selector: str) -> Text:
    """What a Static of the screen shows."""
    content = screen.query_one(selector, Static).content
    assert isinstance(content, Text)
    return content


def plot_text(screen: RunScreen) -> list[str]:
    """Every panel's rendered text (what the terminal shows of the curves)."""
    return [plot.render().plain for plot in screen.query_one(MetricPanels).plots]


def rgb(color: tuple[int, int, int]) -> str:
    return f"#{color[0]:02x}{color[1]:02x}{color[2]:02x}"


# ----- the cursor's maths, without Textual ------------------------------------------------------------------------

def series(steps, times, values) -> Series:
    rows = Rows(np.asarray(steps, dtype=float), np.asarray(times, dtype=float))
    return Series(rows, None, np.asarray(values, dtype=float))


def test_cursor_maths_on_every_axis():
    s = series([0, 10, 20, 30], [100.0, 110.0, 130.0, 160.0], [4.0, 3.0, 2.0, 1.0])
    assert cursor.start_time(95.0, 100.0) == 95.0 and cursor.start_time(None, 100.0) == 100.0
    assert cursor.start_time(None, None) == 0.0
    assert list(cursor.x_values(s, "step", 95.0)) == [0, 10, 20, 30]
    assert list(cursor.x_values(s, "time", 95.0)) == [100, 110, 130, 160]
    assert list(cursor.x_values(s, "relative", 95.0)) == [5, 15, 35, 65]
    # step axis: a step's time is that of the first point at or after it; a time maps to the last step by then
    assert cursor.time_at_x(s, "step", 15, 95.0) == 130.0
    assert cursor.x_at_time(s, "step", 129.0, 95.0) == 10.0
    assert cursor.x_at_time(s, "step", 50.0, 95.0) == 0.0  # before the first row: the first step
    assert cursor.time_at_x(s, "time", 120.0, 95.0) == 120.0 and cursor.x_at_time(s, "time", 120.0, 95.0) == 120.0
    assert cursor.time_at_x(s, "relative", 35.0, 95.0) == 130.0
    assert cursor.x_at_time(s, "relative", 130.0, 95.0) == 35.0
    assert cursor.value_at_x(s, "step", 15, 95.0) == 2.0 and cursor.value_at_x(s, "step", 99, 95.0) == 1.0
    assert cursor.converted(s, 20.0, "step", "relative", 95.0) == 35.0
    assert cursor.converted(s, None, "step", "time", 95.0) is None
    empty = series([], [], [])
    assert cursor.time_at_x(empty, "step", 1, 0) is None and cursor.x_at_time(empty, "step", 1, 0) is None


def test_cursor_follows_the_first_drawn_metric_and_reads_values_there():
    rows = Rows(np.arange(5.0), np.arange(5.0) + 1000)
    every = Series(rows, None, np.array([5.0, 4, 3, 2, 1]))
    sparse = Series(rows, np.array([0, 4]), np.array([9.0, 7.0]))
    named = {"train/loss": every, "val/loss": sparse}
    assert cursor.primary(named, ["val/loss", "train/loss"]) is sparse
    assert cursor.primary(named, ["nope"]) is every  # nothing drawn: the busiest
    assert cursor.primary({}, ["x"]) is None
    assert cursor.values_at_x(named, ["train/loss", "val/loss", "nope"], "step", 2.0, 0.0) == \
        [("train/loss", 3.0), ("val/loss", 7.0)]


def test_cursor_moves_by_columns_and_stays_on_the_data():
    xs = np.array([0.0, 50.0, 100.0, np.nan])
    assert cursor.moved(xs, None, 0, 100) == 100.0  # a new cursor starts at the latest point
    assert cursor.moved(xs, 100.0, -10, 100) == 90.0
    assert cursor.moved(xs, 5.0, -10, 100) == 0.0
    assert cursor.moved(np.array([np.nan]), None, 1, 10) is None


def test_off_scale_points_and_frame_columns():
    points = Prepared(np.array([0.0, 1, 2, 3, 4]), np.array([9.0, 5, 1, 0.5, -3]))
    above, below = points.off_scale(0.0, 4.0)
    assert list(above) == [0.0, 1.0] and list(below) == [4.0]
    frame = "   ┌──────────┐"  # ten columns inside, x from 0 to 9
    assert frame_columns(frame, 0.0, 9.0, [0.0, 9.0, 3.0, math.nan]) == [4, 7, 13]
    assert frame_columns("no frame here", 0.0, 1.0, [0.5]) == []


def test_cursor_module_is_headless():
    import ast

    tree = ast.parse(Path(cursor.__file__).read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.split(".")[0] in ("textual", "rich")}


# ----- keys and focus ---------------------------------------------------------------------------------------------

async def test_escape_in_the_search_box_closes_the_box_not_the_screen(tmp_path):
    root = tmp_path / "runs"
    losses(root, "alpha", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 1)
        box, log = screen.query_one("#log-search", Input), screen.query_one(LogView)
        await pilot.press("slash", *"step")
        assert box.display and box.has_focus and box.value == "step"
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and not box.display and log.has_focus
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)


async def test_focus_comes_back_after_switching_tabs_and_picking_metrics(tmp_path):
    root = tmp_path / "runs"
    losses(root, "alpha", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 1)
        log = screen.query_one(LogView)
        await wait_for(app, pilot, lambda: log.line_count > 4)
        assert log.has_focus
        await pilot.press("2")
        await pilot.pause()
        assert screen.query_one(TabbedContent).active == "config"
        assert screen.focused is screen.query_one("#config-table", DataTable)
        await pilot.press("1")
        await pilot.pause()
        assert log.has_focus
        last = log.cursor_line
        await pilot.press("up", "up")
        assert log.cursor_line == last - 2  # the log takes the keys without `f` first
        await pilot.press("m")
        assert isinstance(app.screen, MetricPicker)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and log.has_focus
        await pilot.press("pageup")
        assert log.cursor_line < last - 2
        await pilot.press("m")
        await pilot.press("escape")  # cancelled: focus comes back too
        await pilot.pause()
        assert log.has_focus
        await pilot.press("3", "slash")  # searching from another tab gives the box the focus, not the log
        await pilot.pause()
        assert screen.query_one(TabbedContent).active == "curves"
        assert screen.query_one("#log-search", Input).has_focus


# ----- overlays ---------------------------------------------------------------------------------------------------

async def test_an_overlay_says_whose_log_values_and_details_are_shown(tmp_path):
    root = tmp_path / "runs"
    losses(root, "alpha", 0.001)
    losses(root, "beta", 0.01)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 2)
        names = [r.info.name for r in screen.records]
        first, second = names
        log = screen.query_one(LogView)

        def colour_of(index: int) -> str:
            traces = [t for p in screen.query_one(MetricPanels).plots for t in p.traces if t.run == index]
            return rgb(traces[0].color)

        info = shown(screen, "#cursor-info")
        assert info.plain.startswith(f"● {first}")
        assert any(str(span.style.color.triplet.hex) == colour_of(0) for span in info.spans
                   if not isinstance(span.style, str) and span.style.color is not None)
        assert first in log.border_title and colour_of(0) != colour_of(1)
        assert first in shown(screen, "#run-title").plain and second in shown(screen, "#run-title").plain

        await pilot.press("tab")
        await pilot.pause()
        assert shown(screen, "#cursor-info").plain.startswith(f"● {second}")
        assert second in log.border_title and log.path is not None and second in str(log.path)

        await pilot.press("2")
        await pilot.pause()
        label = screen.query_one("#config .run-label", Static)
        assert label.display and label.content.plain.startswith(f"● {second}")
        config = screen.query_one("#config-table", DataTable)
        assert ["lr", "0.01"] in [[str(c) for c in config.get_row_at(i)] for i in range(config.row_count)]

        await pilot.press("shift+tab")
        await pilot.pause()
        assert label.content.plain.startswith(f"● {first}")
        assert ["lr", "0.001"] in [[str(c) for c in config.get_row_at(i)] for i in range(config.row_count)]
        await pilot.press("5")
        await pilot.pause()
        assert screen.query_one("#info .run-label", Static).content.plain.startswith(f"● {first}")
        info_table = screen.query_one("#info-table", DataTable)
        assert ["name", first] in [[str(c) for c in info_table.get_row_at(i)] for i in range(info_table.row_count)]


async def test_one_run_shows_no_run_labels(tmp_path):
    root = tmp_path / "runs"
    losses(root, "alpha", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 1)
        assert screen.query_one(LogView).border_title is None
        assert not shown(screen, "#cursor-info").plain.startswith("●")
        assert not any(label.display for label in screen.query(".run-label"))


# ----- panels, title, live metrics, off-scale marks ---------------------------------------------------------------

async def test_a_metric_that_would_be_flattened_gets_its_own_panel(tmp_path):
    root = tmp_path / "runs"
    decaying(root)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 1)
        panels = screen.query_one(MetricPanels)
        screen.metrics = ["train/loss", "lr"]  # lr is ~1e-4 beside a loss near 1: flat on a shared axis
        screen.redraw()
        await pilot.pause()
        assert panels.split and len(screen.query(MetricPlot)) == 2
        assert [[t.metric for t in p.traces] for p in panels.plots] == [["train/loss"], ["lr"]]
        assert "panels" in shown(screen, "#run-title").plain
        lr_panel = plot_text(screen)[1]
        assert "0.0003" in lr_panel or "3.00e-04" in lr_panel or "0.000300" in lr_panel  # its own y-range
        await pilot.press("p")
        await pilot.pause()
        assert not panels.split and len(screen.query(MetricPlot)) == 1
        assert {t.metric for t in panels.plots[0].traces} == {"train/loss", "lr"}
        assert "panels" not in shown(screen, "#run-title").plain
        await pilot.press("p")
        await pilot.pause()
        assert len(screen.query(MetricPlot)) == 2
        await pilot.press("left")  # one cursor runs through every panel
        assert all(p.cursor_x == screen.cursor_x is not None for p in panels.plots)


async def test_losses_on_one_scale_share_one_axis(tmp_path):
    root = tmp_path / "runs"
    losses(root, "alpha", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 1)
        assert screen.metrics == ["val/loss", "train/loss"]
        assert len(screen.query(MetricPlot)) == 1 and len(screen.query_one(MetricPlot).traces) == 2
        await pilot.press("p")
        await pilot.pause()
        assert len(screen.query(MetricPlot)) == 2  # asked for: one panel each


async def test_the_title_shows_the_smoothing_weight_while_smoothing(tmp_path):
    root = tmp_path / "runs"
    losses(root, "a_rather_long_run_name_that_fills_the_title_bar_on_a_small_terminal", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_all(app, pilot, 1)
        await pilot.pause()
        title = shown(screen, "#run-title").plain
        assert title.rstrip().endswith("EMA 0.60") and "…" in title  # the name gives way, the settings stay
        await pilot.press("right_square_bracket")
        assert "EMA 0.70" in shown(screen, "#run-title").plain
        await pilot.press("s")
        assert "EMA" not in shown(screen, "#run-title").plain
        await pilot.press("s", "L")
        assert shown(screen, "#run-title").plain.rstrip().endswith("EMA 0.70  log y")


async def test_metrics_logged_after_opening_join_unless_picked(tmp_path):
    root = tmp_path / "runs"
    run = runyard.init("fresh", root=root, console=False, system_metrics=False)  # no metric row yet
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 1)
        plot = screen.query_one(MetricPlot)
        assert plot.traces == [] and "no metrics" in plot.render().plain
        for s in range(5):
            run.log({"train/loss": 2.0 - s * 0.1}, step=s)
        app.post_message(FilesChanged({run.path / "metrics.jsonl"}, rescan=False))
        await wait_for(app, pilot, lambda: bool(screen.query_one(MetricPlot).traces))
        assert screen.metrics == ["train/loss"]
        for s in range(5, 10):
            run.log({"train/loss": 2.0 - s * 0.1, "val/loss": 2.1 - s * 0.1}, step=s)
        app.post_message(FilesChanged({run.path / "metrics.jsonl"}, rescan=False))
        await wait_for(app, pilot, lambda: "val/loss" in screen.metrics)
        await wait_for(app, pilot, lambda: {t.metric for p in screen.query_one(MetricPanels).plots for t in p.traces}
                     == {"train/loss", "val/loss"})
        await pilot.press("m")
        await pilot.press("enter")  # the user's own choice (the same two) ...
        await pilot.pause()
        run.log({"train/loss": 1.0, "val/loss": 1.1, "val/acc": 0.5}, step=10)
        app.post_message(FilesChanged({run.path / "metrics.jsonl"}, rescan=False))
        await wait_for(app, pilot, lambda: screen.lives[0].last_step() == 10)
        await pilot.pause(0.3)
        assert "val/acc" not in screen.metrics  # ... is kept as picked
    run.finish()


async def test_points_cut_by_the_robust_range_are_marked_on_the_frame(tmp_path):
    root = tmp_path / "runs"
    decaying(root)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 1)
        screen.metrics = ["train/loss"]
        screen.redraw()
        await pilot.pause()
        lines = plot_text(screen)[0].splitlines()
        top = next(line for line in lines if "┌" in line)
        assert "▲" in top and top.index("▲") <= top.index("┌") + 3  # at the start, where the loss is cut
        assert "▲" not in "".join(line for line in lines if "┌" not in line)  # on the frame, not over the curves
        await pilot.press("o")  # every point in range: nothing to mark
        await pilot.pause()
        assert "▲" not in plot_text(screen)[0]
        await pilot.press("o", "left")  # the cursor is drawn over the marked figure
        await pilot.pause()
        assert "▲" in plot_text(screen)[0] and "│" in plot_text(screen)[0]


def test_the_command_line_plot_marks_the_same_points(tmp_path, capsys):
    root = tmp_path / "runs"
    decaying(root)
    assert main(["plot", "decay", "--root", str(root), "-m", "train/loss", "--width", "80", "--height", "16"]) == 0
    lines = capsys.readouterr().out.splitlines()
    top = next(line for line in lines if "┌" in line)
    assert "▲" in top and top.index("▲") <= top.index("┌") + 3
