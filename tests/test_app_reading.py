"""The app reads nothing on its own thread: what reading threads post, in what order, and what a run whose files
block (a FIFO, a read that never returns) does to the rest of the app. Harlequin-style: `run_test(message_hook=...)`
records every message, and the tests assert their sequence as well as what ends up on screen.
"""

from __future__ import annotations

import threading
import time

import pytest
from textual.message import Message
from textual.widgets import DataTable, Static

from runyard.layouts.runyard import RunyardSource
from runyard.tui import app as app_module
from runyard.tui.app import SCAN_LANE, QuitScreen, RunyardApp, run_lane
from runyard.tui.messages import (
    FilesChanged,
    LogLinesRead,
    LogTailRead,
    RowsAppended,
    RunDetailsRead,
    RunFound,
    RunLoaded,
    ScanDone,
)
from runyard.tui.screens.run import RunScreen
from runyard.tui.screens.runs import RunsScreen
from runyard.tui.widgets.log_view import LogView
from runyard.tui.widgets.metric_plot import MetricPlot
from runyard.tui.widgets.runs_table import cells_of
from tests.test_app import make_run, table, wait_for, wait_until
from tests.test_regular_files import fifo_in_place_of


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def of(messages: list[Message], kind: type, **fields) -> list[int]:
    """Indexes of the messages of `kind` whose attributes have the given values."""
    return [i for i, m in enumerate(messages)
            if isinstance(m, kind) and all(getattr(m, k) == v for k, v in fields.items())]


def log_text(view: LogView) -> str:
    return "\n".join(view.render_line(y).text for y in range(view.size.height))


def preview_text(app: RunyardApp) -> str:
    return str(app.screen.query_one("#preview-log").render())


async def test_a_row_appended_to_a_followed_run_reaches_the_table_in_one_message(tmp_path):
    root = tmp_path / "runs"
    live = make_run(root, "live", 0.001, steps=5, finish=False)
    key = str(live.path)
    messages: list[Message] = []
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(app, pilot, lambda: table(app).facts[key].last_step == 4)
        assert of(messages, ScanDone) and of(messages, RunLoaded, key=key)  # a running run is read behind the scan
        assert of(messages, ScanDone)[0] < of(messages, RunLoaded, key=key)[0]
        messages.clear()
        for step in range(5, 12):
            live.log({"train/loss": 1.0, "val/loss": 0.5}, step=step)
        app.post_message(FilesChanged({live.path / "metrics.jsonl"}, rescan=False))
        await wait_for(app, pilot, lambda: table(app).facts[key].last_step == 11)
        appended = [messages[i] for i in of(messages, RowsAppended, key=key)]
        assert [len(m.batch) for m in appended] == [7]  # one message for the file event, not one per row
        assert of(messages, FilesChanged)[0] < of(messages, RowsAppended, key=key)[0]
        assert not of(messages, RunLoaded)  # only the appended rows were read
        row = " ".join(text for cell in cells_of(table(app).facts[key]) for text, _ in cell)
        assert " 11 " in f" {row} " and "0.5" in row
    live.finish()


async def test_opening_a_run_folder_shows_it_before_the_tree_is_scanned(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for i in range(20):
        make_run(root, f"neighbour{i:02d}", 0.001, steps=5)
    target = make_run(root, "target", 0.002, steps=30, log_line="the target's own line")
    key = str(target.path)
    gate = threading.Event()
    real_scan = app_module.scan

    def slow_scan(*args, **kwargs):
        gate.wait(20)  # the neighbours take their time
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(app_module, "scan", slow_scan)
    messages: list[Message] = []
    app = RunyardApp(root, open_path=target.path, watch=False)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await pilot.pause(0.05)
            screen = app.screen
            if isinstance(screen, RunScreen) and screen.query_one(MetricPlot).traces \
                    and "the target's own line" in "\n".join(screen.query_one(LogView).lines):
                break
        screen = app.screen
        assert isinstance(screen, RunScreen) and screen.records[0].info.name == "target"
        assert [t.label for t in screen.query_one(MetricPlot).traces] == ["val/loss", "train/loss"]
        assert not app.first_scan_done and not of(messages, ScanDone)  # the tree is still being scanned
        assert app.scanning
        found, loaded = of(messages, RunFound, key=key), of(messages, RunLoaded, key=key)
        log_read = [i for i in of(messages, LogLinesRead) if messages[i].batch.lines]
        assert found and loaded and log_read and found[0] < loaded[0] and found[0] < log_read[0]
        gate.set()
        await wait_for(app, pilot, lambda: app.first_scan_done)
        await pilot.press("escape")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunsScreen) and table(app).row_count == 21)
        assert of(messages, RunFound)[0] < of(messages, ScanDone)[0]
        assert not app.scanning


async def test_a_fifo_log_says_what_it_waits_for_and_blocks_nothing(tmp_path):
    root = tmp_path / "runs"
    piped = make_run(root, "piped", 0.001, steps=10)
    fifo_in_place_of(piped.path / "training.log")
    live = make_run(root, "live", 0.001, steps=3, finish=False)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 2)
        table(app).highlight(str(piped.path))
        await wait_for(app, pilot, lambda: "waiting for training.log" in preview_text(app))
        plot = app.screen.query_one("#preview-plot", MetricPlot)
        await wait_for(app, pilot, lambda: plot.traces)  # its metrics are regular files: shown as usual
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        log = app.screen.query_one(LogView)
        await wait_for(app, pilot, lambda: "waiting for training.log" in log_text(log))
        await pilot.press("x")  # keys work
        assert app.screen.x_axis == "time"
        live.log({"train/loss": 0.5}, step=3)  # and another run keeps updating meanwhile
        app.post_message(FilesChanged({live.path / "metrics.jsonl"}, rescan=False))
        await pilot.press("escape")
        await wait_for(app, pilot, lambda: table(app).facts[str(live.path)].last_step == 3)
    live.finish()


async def test_a_fifo_metrics_file_says_what_it_waits_for(tmp_path):
    root = tmp_path / "runs"
    piped = make_run(root, "piped", 0.001, steps=10)
    fifo_in_place_of(piped.path / "metrics.jsonl")
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        plot = app.screen.query_one("#preview-plot", MetricPlot)
        await wait_for(app, pilot, lambda: "waiting for metrics.jsonl" in str(plot.render()))
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        plot = app.screen.query_one(MetricPlot)
        await wait_for(app, pilot, lambda: "waiting for metrics.jsonl" in str(plot.render()))
        log = app.screen.query_one(LogView)
        await wait_for(app, pilot, lambda: log.line_count > 3)  # the rest of the run reads as usual


async def test_a_read_that_never_returns_holds_only_its_own_run(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    stuck = make_run(root, "stuck", 0.001, steps=5, finish=False)
    live = make_run(root, "live", 0.001, steps=5, finish=False)
    release = threading.Event()
    real = RunyardSource.metrics_data

    def hung_mount(self):
        # The following reads hang, as a read on a hung network mount would. The tree's scan reads the run too
        # (a running run's rows say how far it got); a mount hung during a scan holds the listing, not the keys.
        if self.path == stuck.path and str(SCAN_LANE) not in threading.current_thread().name:
            release.wait(30)
        return real(self)

    monkeypatch.setattr(RunyardSource, "metrics_data", hung_mount)
    app = RunyardApp(root, watch=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(app, pilot, lambda: table(app).facts[str(live.path)].last_step == 4)
            live.log({"train/loss": 0.5}, step=5)
            app.post_message(FilesChanged({live.path / "metrics.jsonl", stuck.path / "metrics.jsonl"}, rescan=False))
            await wait_for(app, pilot, lambda: table(app).facts[str(live.path)].last_step == 5)
            assert app.lanes.busy(run_lane(str(stuck.path)))
            table(app).highlight(str(stuck.path))
            plot = app.screen.query_one("#preview-plot", MetricPlot)
            await wait_for(app, pilot, lambda: "waiting for metrics.jsonl" in str(plot.render()))
            await pilot.press("slash", "l", "i")  # keys still work: the filter takes them
            await wait_for(app, pilot, lambda: table(app).row_count == 1)
            await pilot.press("escape")
            release.set()
            await wait_for(app, pilot, lambda: str(stuck.path) in app.live, timeout=10)
            await wait_for(app, pilot, lambda: table(app).facts[str(stuck.path)].last_step == 4)
    finally:
        release.set()
        stuck.finish()
        live.finish()


async def test_the_other_tabs_read_once_per_change_and_keep_their_cursor(tmp_path):
    root = tmp_path / "runs"
    live = make_run(root, "live", 0.001, steps=5, finish=False)
    key = str(live.path)
    messages: list[Message] = []
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.press("5")
        info = app.screen.query_one("#info-table", DataTable)
        await wait_for(app, pilot, lambda: info.row_count > 10)
        info.move_cursor(row=4)
        await pilot.pause(0.3)
        messages.clear()
        for _ in range(3):  # redraws without a change of the run read nothing
            await pilot.press("x")
        await pilot.pause(0.3)
        assert not of(messages, RunDetailsRead)
        app.post_message(FilesChanged({live.path / "run.json"}, rescan=False))  # a heartbeat
        await wait_for(app, pilot, lambda: of(messages, RunDetailsRead, key=key))
        await pilot.pause(0.5)
        assert len(of(messages, RunDetailsRead, key=key)) == 1  # once for the change, whatever the redraws
        assert info.row_count > 10 and info.cursor_row == 4  # refilled in place
    live.finish()


async def test_the_preview_reads_log_tails_off_the_app_thread(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "alpha", 0.001, log_line="alpha's last words")
    messages: list[Message] = []
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(app, pilot, lambda: "alpha's last words" in preview_text(app))
        tails = [messages[i] for i in of(messages, LogTailRead)]
        assert tails and any("alpha's last words" in line for line in tails[-1].lines)


async def test_ctrl_c_quits_at_once(tmp_path):
    make_run(tmp_path / "runs", "alpha", 0.001)
    app = RunyardApp(tmp_path / "runs", watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running and app.return_code == 0


async def test_ctrl_c_asks_first_while_work_that_must_not_be_cut_short_runs(tmp_path):
    make_run(tmp_path / "runs", "alpha", 0.001)
    app = RunyardApp(tmp_path / "runs", watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        app.destructive_jobs.add("archiving alpha")
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen) and app.is_running
        assert "archiving alpha" in " ".join(str(s.render()) for s in app.screen.query("Static"))
        await pilot.press("n")
        assert isinstance(app.screen, RunsScreen) and app.is_running
        await pilot.press("slash", "ctrl+c")  # from the filter box too (nothing selected to copy)
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("y")
        await pilot.pause()
        assert not app.is_running


async def test_a_rescan_that_finds_nothing_new_stops_saying_scanning(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "runs"
    make_run(root, "only", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        title = app.screen.query_one("#runs-title", Static)
        await wait_until(pilot, lambda: "scanning" not in str(title.render()))
        app.scan_tree()
        app.screen._update_title()  # as any redraw during the scan would
        assert "scanning" in str(title.render())
        await wait_until(pilot, lambda: not app.scanning)
        await pilot.pause(0.2)
        assert "scanning" not in str(title.render())  # said when the scan ends, not at some later redraw
