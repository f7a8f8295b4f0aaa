"""The app driven as a person would (Textual Pilot): every screen and key, live updates, bad input."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest
from textual.widgets import Input, TabbedContent

import runyard
from runyard.tui.app import RunyardApp
from runyard.tui.messages import FilesChanged
from runyard.tui.screens.help import HelpScreen
from runyard.tui.screens.run import MetricPicker, RunScreen
from runyard.tui.screens.runs import RunsScreen
from runyard.tui.widgets.log_view import LogView
from runyard.tui.widgets.metric_plot import MetricPlot
from runyard.tui.widgets.runs_table import RunsTable

HOSTILE = "[bold red]x[/] unbalanced [/] [@click=app.quit]q[/] [0] \x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def make_run(root: Path, name: str, lr: float, steps: int = 30, finish: bool = True, log_line: str = ""):
    run = runyard.init(name, root=root, config={"lr": lr, "max_steps": 100}, console=False, system_metrics=False,
                       tags=["t"])
    for s in range(steps):
        run.log({"train/loss": 3.0 - s * 0.05, "val/loss": 3.2 - s * lr * 10}, step=s)
    run.logger.info("step %d done", steps - 1)
    if log_line:
        run.logger.info(log_line)
    if finish:
        run.finish()
    return run


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "alpha", 0.001)
    make_run(root, "beta", 0.01)
    make_run(root, "gamma", 0.005, log_line=HOSTILE)
    return root


async def wait_until(pilot, predicate, timeout: float = 10.0) -> None:
    """Wait until `predicate` holds (the app reads in the background); a deadline, not a timing."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if predicate():
            return
    raise AssertionError("the app did not reach the expected state in time")


async def wait_for(app: RunyardApp, pilot, predicate=lambda: True, timeout: float = 10.0) -> None:
    """Wait until the first scan is in and `predicate` holds."""
    await wait_until(pilot, lambda: app.first_scan_done and predicate(), timeout)


def table(app: RunyardApp) -> RunsTable:
    return app.screen.query_one(RunsTable)


def row_names(app: RunyardApp) -> list[str]:
    t = table(app)
    return [t.facts[t.key_at(i)].record.info.name for i in range(t.row_count)]


async def test_runs_screen_lists_filters_sorts_and_marks(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("slash", *"lr<0.006")
        await wait_for(app, pilot, lambda: table(app).row_count == 2)
        assert sorted(row_names(app)) == ["alpha", "gamma"]
        await pilot.press("ctrl+a", "ctrl+k", *"lr<")
        await wait_for(app, pilot, lambda: app.screen.query_one("#filter", Input).has_class("-invalid"))
        await pilot.press("escape")
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        table(app).sort_column, table(app).sort_reverse = "name", False
        table(app).apply_sort()
        assert row_names(app) == ["alpha", "beta", "gamma"]
        await pilot.press("S")
        assert row_names(app) == ["gamma", "beta", "alpha"]
        await pilot.press("s")  # the sort chooser opens on the current column (name); the next one is step
        await pilot.press("down", "enter")
        assert table(app).sort_column == "step"
        await pilot.press("home", "space", "space")
        assert len(table(app).marked()) == 2
        await pilot.press("U")
        assert table(app).marked() == []
        await pilot.press("A")
        assert app.screen.show_archived is False
        await pilot.press("p")
        assert app.screen.query_one("#preview").display is False


async def test_preview_follows_the_highlighted_run(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        plot = app.screen.query_one("#preview-plot", MetricPlot)
        await wait_for(app, pilot, lambda: bool(plot.traces))
        assert plot.traces[0].label == "val/loss" and plot.traces[0].y.size == 30


async def test_open_run_and_every_key_of_the_run_screen(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        plot = screen.query_one(MetricPlot)
        await wait_for(app, pilot, lambda: len(plot.traces) == 2)  # drawn once the run's series are read
        assert screen.metrics == ["val/loss", "train/loss"]
        assert len(plot.traces) == 2 and plot.traces[0].smooth_y is not None
        for axis in ("time", "relative", "step"):
            await pilot.press("x")
            assert screen.x_axis == axis and plot.x_axis == axis
        await pilot.press("s")
        assert screen.smooth_on is False and plot.traces[0].smooth_y is None
        await pilot.press("right_square_bracket")
        assert screen.smooth_on and screen.smoothing == pytest.approx(0.7)
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert screen.smoothing == pytest.approx(0.5)
        await pilot.press("L", "o")
        assert plot.log_y and not plot.ignore_outliers
        await pilot.press("left")
        assert screen.cursor_x is not None and screen.cursor_x < 29
        before = screen.cursor_x
        await pilot.press("shift+left")
        assert screen.cursor_x < before
        await pilot.press("j")
        log = screen.query_one(LogView)
        assert log.has_focus and log.time_of(log.cursor_line) is not None
        await pilot.press("c")
        assert plot.cursor_x == screen.cursor_x
        await pilot.press("slash", *"done", "enter")
        assert "done" in log.lines[log.cursor_line]
        await pilot.press("f")
        assert log.cursor_line == log.line_count - 1
        await pilot.press("m")
        assert isinstance(app.screen, MetricPicker)
        await pilot.press("space", "enter")  # deselect the first metric listed (train/loss)
        assert screen.metrics == ["val/loss"]
        for key, tab in (("2", "config"), ("3", "checkpoints"), ("4", "samples"), ("5", "info"), ("1", "curves")):
            await pilot.press(key)
            assert screen.query_one(TabbedContent).active == tab
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_marked_runs_open_overlaid(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        await pilot.press("space", "space", "enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        assert len(app.screen.records) == 2
        plot, log = app.screen.query_one(MetricPlot), app.screen.query_one(LogView)
        await wait_for(app, pilot, lambda: len(plot.traces) == 4 and log.path is not None)  # read behind the screen
        labels = [t.label for t in plot.traces]
        assert len(labels) == 4 and all(":" in label for label in labels)
        first = log.path
        await pilot.press("tab")
        await wait_for(app, pilot, lambda: log.path is not None)
        assert log.path != first


async def test_help_and_command_palette(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = "".join(str(row) for row in app.screen.query_one("DataTable")._data.values())
        for description in ("Mark", "Filter", "x axis", "Log at cursor", "Curve at log line", "Next match"):
            assert description in text
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Filter" in titles and "Archived" in titles and "Quit" in titles


async def test_live_rows_appear_and_steps_advance(tmp_path):
    root = tmp_path / "runs"
    live = make_run(root, "live", 0.001, steps=5, finish=False)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        key = str(live.path)
        # a running run's series are read behind the scan: the table shows its step once they are in
        await wait_for(app, pilot, lambda: table(app).facts[key].last_step == 4)
        for s in range(5, 12):
            live.log({"train/loss": 1.0, "val/loss": 1.0}, step=s)
        app.post_message(FilesChanged({live.path / "metrics.jsonl"}, rescan=False))
        await wait_for(app, pilot, lambda: table(app).facts[key].last_step == 11)
        make_run(root, "newcomer", 0.002)
        app.post_message(FilesChanged(set(), rescan=True))
        await wait_for(app, pilot, lambda: table(app).row_count == 2)
        table(app).highlight(key)
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        live.log({"train/loss": 0.5, "val/loss": 0.5}, step=12)
        live.logger.info("a new line")
        app.post_message(FilesChanged({live.path / "metrics.jsonl", live.path / "training.log"}, rescan=False))
        screen = app.screen
        await wait_for(app, pilot, lambda: screen.lives[0].last_step() == 12)
        await wait_for(app, pilot, lambda: "a new line" in screen.query_one(LogView).lines[-1])
        live.finish()


async def test_real_watcher_follows_a_running_run(tmp_path):
    root = tmp_path / "runs"
    live = make_run(root, "watched", 0.001, steps=3, finish=False)
    app = RunyardApp(root)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        live.log({"train/loss": 1.0}, step=50)
        await wait_for(app, pilot, lambda: table(app).facts[str(live.path)].last_step == 50, timeout=10)
        live.finish()


async def test_log_markup_and_escapes_render_literally(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        gamma = next(k for k, f in table(app).facts.items() if f.record.info.name == "gamma")
        table(app).highlight(gamma)
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        log = app.screen.query_one(LogView)
        await wait_for(app, pilot, lambda: HOSTILE[:10] in "".join(log.lines))
        await pilot.press("f")
        await pilot.pause()
        shown = "\n".join(log.render_line(y).text for y in range(log.size.height))
        assert "[bold red]x[/] unbalanced [/] [@click=app.quit]q[/] [0]" in shown
        assert "\x1b" not in shown and "title" not in shown
        assert app.is_running  # the @click markup did not quit the app


async def test_bad_runs_show_their_error_in_place(tmp_path):
    root = tmp_path / "runs"
    good = make_run(root, "good", 0.001)
    broken = make_run(root, "broken", 0.001)
    (broken.path / "run.json").write_bytes(b"{half")
    nonsense = make_run(root, "nonsense", 0.001)
    (nonsense.path / "metrics.jsonl").write_bytes(b"\x00\x01 not json\n")
    nan_run = make_run(root, "nanrun", 0.001, steps=3, finish=False)
    nan_run.log({"val/loss": math.nan}, step=3)
    nan_run.finish()
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 4)
        assert table(app).facts[str(broken.path)].record.info.error  # its name is unknown: the folder's stands in
        table(app).highlight(str(broken.path))
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        title = str(app.screen.query_one("#run-title").render())
        assert "⚠" in title and "JSON" in title  # what can be read is shown, with the error in sight
        await pilot.press("escape")
        table(app).highlight(str(nonsense.path))
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.lives[0].loaded)
        await pilot.pause(0.3)  # a redraw after the read
        assert app.screen.query_one(MetricPlot).traces == []
        await pilot.press("escape")
        table(app).highlight(str(nan_run.path))
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen)
                       and any(t.nonfinite for t in app.screen.query_one(MetricPlot).traces))
        labels = [t.label for t in app.screen.query_one(MetricPlot).traces]
        assert any(t.nonfinite == 1 for t in app.screen.query_one(MetricPlot).traces), labels
        assert good.path.exists()


async def test_opening_a_run_folder_directly(root):
    run_dir = next(p for p in root.iterdir() if p.name.startswith("beta"))
    app = RunyardApp(root, open_path=run_dir, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted)
        assert app.screen.records[0].info.name == "beta"
        await wait_for(app, pilot, lambda: app.screen.query_one(LogView).line_count > 3)


async def test_status_turns_crashed_when_the_heartbeat_goes_stale(tmp_path):
    root = tmp_path / "runs"
    run = make_run(root, "doomed", 0.001, steps=3, finish=False)
    info = json.loads((run.path / "run.json").read_text())
    run._heartbeat.stop()
    info["heartbeat"] = "2020-01-01T00:00:00.000+00:00"
    (run.path / "run.json").write_text(json.dumps(info))
    beat = time.time() - 3600  # the heartbeat's last write, as the filesystem dated it, is what ages
    os.utime(run.path / "run.json", (beat, beat))
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        assert next(iter(table(app).facts.values())).record.info.status == "crashed"
    run.finish()


def test_series_knows_when_its_x_is_ordered():
    from runyard.tui.live.runstate import Rows, Series

    rows = Rows(np.array([0.0, 1.0, 2.0]), np.array([10.0, 11.0, 12.0]))
    series = Series(rows, None, np.array([1.0, 2.0, 3.0]))
    assert series.ordered("step") and series.ordered("time")
    rows.step.extend([1.0])  # a step went back (a restart without a resume marker)
    rows.time.extend([13.0])
    series.append([3], [4.0])
    assert not series.ordered("step") and series.ordered("time")


async def test_cursor_at_the_top_stays_there_when_newer_runs_arrive(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "old", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        time.sleep(1.1)  # a later start second: sorts above
        make_run(root, "newer", 0.001)
        app.post_message(FilesChanged(set(), rescan=True))
        await wait_for(app, pilot, lambda: table(app).row_count == 2)
        assert table(app).cursor_row == 0 and row_names(app)[0] == "newer"
        await pilot.press("down")  # a cursor the user moved follows its run instead
        time.sleep(1.1)
        make_run(root, "newest", 0.001)
        app.post_message(FilesChanged(set(), rescan=True))
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        assert row_names(app)[table(app).cursor_row] == "old"
