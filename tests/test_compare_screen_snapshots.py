"""Pictures of comparing at 80x24 and 120x40, from the fixed run tree of tests/test_snapshots.py: the compare
screen's tabs, and the runs list overlaying marked runs with a pinned reference.

Baselines live in tests/__snapshots__; after a deliberate change, look at the new pictures (pytest writes
snapshot_report.html) and only then run `pytest tests/test_compare_screen_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import pytest
from textual.widgets import DataTable

from runyard.tui.screens.compare import CompareScreen
from runyard.tui.widgets.runs_table import RunsTable
from tests.test_snapshots import SIZES, _app, _runs_ready, _wait, fixed_world  # noqa: F401 (a fixture)


async def _compare_open(pilot) -> None:
    await _runs_ready(pilot)
    app = pilot.app
    await pilot.press("home", "space", "space", "space", "space", "c")
    await _wait(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.is_mounted)
    screen = app.screen
    await _wait(pilot, lambda: screen.table is not None and screen.diff is not None
                and all(live is not None and live.loaded for live in screen.lives))
    screen.redraw()
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_curves(snap_compare, size):
    assert snap_compare(_app(), terminal_size=size, run_before=_compare_open)


def _settled(table: DataTable, rows: int) -> bool:
    """The table has its rows and has measured them: DataTable sizes its columns on idle, and a loaded machine
    can take the picture between the rows arriving and that."""
    return table.row_count >= rows and not table._require_update_dimensions and not table._new_rows


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare_table(snap_compare, size):
    async def table_tab(pilot):
        await _compare_open(pilot)
        await pilot.press("2")
        await _wait(pilot, lambda: _settled(pilot.app.screen.query_one("#compare-table", DataTable), 4))
        await pilot.pause(0.2)

    assert snap_compare(_app(), terminal_size=size, run_before=table_tab)


def test_compare_config(snap_compare):
    async def config_tab(pilot):
        await _compare_open(pilot)
        await pilot.press("3")
        await _wait(pilot, lambda: _settled(pilot.app.screen.query_one("#config-table", DataTable), 1))
        await pilot.pause(0.2)

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=config_tab)


def test_runs_preview_overlay_with_a_pinned_run(snap_compare):
    async def overlay(pilot):
        await _runs_ready(pilot)
        app = pilot.app
        await pilot.press("home", "P", "down", "space")  # the newest run pinned, the next marked
        await _wait(pilot, lambda: len(app.screen.query_one("#preview-plot").traces) == 3)
        app.clear_notifications()  # "stale pinned": said for a few seconds, not part of the picture
        await pilot.pause(0.3)
        assert app.screen.query_one(RunsTable).row_count == 4

    assert snap_compare(_app(), terminal_size=(80, 24), run_before=overlay)
