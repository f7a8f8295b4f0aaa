"""Pictures of the main screens at 80x24 and 120x40, from a fixed run tree (tests/fixtures/snapshot).

Baselines live in tests/__snapshots__; after a deliberate change to what the screens show, look at the new
pictures (pytest writes snapshot_report.html) and only then run `pytest tests/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from textual.widgets import Input

from runyard.tui.app import RunyardApp
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.log_view import LogView
from runyard.tui.widgets.runs_table import RunsTable
from tests.test_size_column import same_sizes

ROOT = Path("tests/fixtures/snapshot/runs")
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def fixed_world(tmp_path, monkeypatch):
    """Same picture on any machine: UTC clock formatting, a private cache, the project as working folder."""
    monkeypatch.chdir(Path(__file__).resolve().parent.parent)
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setattr("runyard.tui.live.manage.measure_runs", same_sizes)  # blocks differ by filesystem
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _wait(pilot, predicate, timeout: float = 30.0) -> None:
    """Until `predicate` holds: a wait for the screen to settle, not a timing (a loaded machine takes longer)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("screen did not settle")
        await pilot.pause(0.05)


async def _runs_ready(pilot) -> None:
    app = pilot.app
    await _wait(pilot, lambda: app.first_scan_done and app.screen.query_one(RunsTable).row_count == 4)
    await _wait(pilot, lambda: all(f.size is not None for f in app.screen.query_one(RunsTable).facts.values()))
    for box in app.screen.query(Input):
        box.cursor_blink = False
    app.screen.query_one(RunsTable).highlight(str(ROOT / "nan_probe_20260101_001200"))
    await pilot.pause(0.3)  # the preview refreshes 0.1 s after a highlight
    # and draws the run's curve once its series are read, off the app's thread
    await _wait(pilot, lambda: app.screen.query_one("#preview-plot").traces)
    await pilot.pause(0.1)


async def _run_open(pilot) -> None:
    await _runs_ready(pilot)
    await pilot.press("enter")
    app = pilot.app
    await _wait(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted)
    for box in app.screen.query(Input):
        box.cursor_blink = False
    await _wait(pilot, lambda: app.screen.query_one(LogView).line_count > 5)
    await pilot.press("left", "left", "left")
    await pilot.pause(0.2)


def _app() -> RunyardApp:
    return RunyardApp(ROOT, watch=False)  # relative: the title must not depend on where the clone lives


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_runs_screen(snap_compare, size):
    assert snap_compare(_app(), terminal_size=size, run_before=_runs_ready)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_screen(snap_compare, size):
    assert snap_compare(_app(), terminal_size=size, run_before=_run_open)


def test_help_screen(snap_compare):
    async def open_help(pilot):
        await _runs_ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.2)

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=open_help)


def test_tz_is_pinned():
    assert time.strftime("%H", time.localtime(0)) == "00" and os.environ["TZ"] == "UTC"
