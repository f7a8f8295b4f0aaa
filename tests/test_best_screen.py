"""The best checkpoints screen (`b` on the runs screen), driven as a person would: the ranking of the runs shown,
the metric picked, the direction flipped, a run opened; and its picture at 100x30 from the foreign fixtures.

The snapshot baseline lives in tests/__snapshots__; after a deliberate change look at the new picture and only
then run `pytest tests/test_best_screen.py --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from runyard.tui.app import RunyardApp
from runyard.tui.screens.best import BestScreen, RankMetricPicker
from runyard.tui.screens.help import HelpScreen
from runyard.tui.screens.run import RunScreen
from runyard.tui.screens.runs import RunsScreen
from runyard.tui.widgets.runs_table import RunsTable
from tests.test_app import wait_for, wait_until
from tests.test_best_tree import best_tree
from tests.test_snapshots import fixed_world  # noqa: F401 (a fixture)

FOREIGN = Path("tests/fixtures/foreign")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def tree(tmp_path):
    return best_tree(tmp_path)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def _rows(screen, count: int | None = None) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(count or table.row_count)]


async def _open_best(app, pilot) -> BestScreen:
    await wait_for(app, pilot, lambda: app.screen.query_one(RunsTable).row_count > 0)
    await pilot.press("b")
    await wait_until(pilot, lambda: isinstance(app.screen, BestScreen) and app.screen.ranking is not None)
    await pilot.pause(0.1)
    return app.screen


async def test_b_ranks_the_checkpoints_of_the_runs_shown(tree):
    app = RunyardApp(tree, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_best(app, pilot)
        assert _text(screen, "#best-title") == ("best checkpoints by val/loss ↓ (min, declared)  ·  25 ranked of 36 "
                                                "in 8 runs")
        rows = _rows(screen, 4)
        assert [r[:5] for r in rows] == [["1", "alpha", "200", "1.1", "300 B"],
                                         ["2", "beta", "60", "1.3*", "160 B"],
                                         ["3", "higher_lr", "5000", "1.475", "2.2 KiB"],
                                         ["4", "baseline_17m", "4500", "1.4778", "2.2 KiB"]]
        assert rows[0][5].endswith("weights/alpha_200.pt")
        assert rows[2][5].startswith("cs336/runs/higher_lr/") and rows[2][5].endswith("checkpoint_step_5000.pt")
        assert _rows(screen)[-1][:4] == ["-", "alpha", "300", "nan"]  # never ranked, listed last
        note = _text(screen, "#best-note")
        assert "val/loss ← val_loss" in note and "* logged by the run at the checkpoint's step" in note
        assert "not ranked: 1 NaN" in note

        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_rows = [[str(c) for c in app.screen.query_one(DataTable).get_row_at(i)]
                     for i in range(app.screen.query_one(DataTable).row_count)]
        assert ["best", "m", "Metric"] in help_rows and ["best", "f", "Flip goal"] in help_rows
        assert ["runs screen", "b", "Best checkpoints"] in help_rows
        await pilot.press("escape")

        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen))


async def test_only_the_runs_the_filter_keeps(tree):
    app = RunyardApp(tree, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot, lambda: table_rows(app) == 9)  # and ChatGoT's archive/train_old.log
        await pilot.press("slash", *"alpha", "enter")
        await wait_until(pilot, lambda: table_rows(app) == 1)
        screen = await _open_best(app, pilot)
        assert [r[:4] for r in _rows(screen)] == [["1", "alpha", "200", "1.1"], ["2", "alpha", "100", "1.5"],
                                                  ["3", "alpha", "400", "1.5"], ["-", "alpha", "300", "nan"]]
        assert _text(screen, "#best-title").endswith("3 ranked of 4 in 1 runs")


def table_rows(app) -> int:
    return app.screen.query_one(RunsTable).row_count if isinstance(app.screen, RunsScreen) else -1


async def test_f_flips_the_direction_and_m_picks_another_metric(tree):
    app = RunyardApp(tree, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_best(app, pilot)
        before = screen.ranking
        await pilot.press("f")
        await wait_until(pilot, lambda: screen.ranking is not before)
        assert _text(screen, "#best-title").startswith("best checkpoints by val/loss ↑ (max, given)")
        assert _rows(screen, 1)[0][:4] == ["1", "baseline_17m", "500", "3.2452"]

        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, RankMetricPicker))
        names = app.screen.names
        assert names[:3] == ["val/loss", "loss", "val/acc"]
        await pilot.press(*["down"] * names.index("val/acc"), "enter")
        await wait_until(pilot, lambda: app.screen is screen and screen.metric == "val/acc")
        assert _text(screen, "#best-title").startswith("best checkpoints by val/acc ↑ (max, guessed)")
        assert [r[:4] for r in _rows(screen)] == [["1", "alpha", "400", "0.8"], ["2", "alpha", "200", "0.7"],
                                                  ["3", "alpha", "100", "0.6"], ["4", "alpha", "300", "0.2"]]
        assert "direction guessed from the name: f flips it" in _text(screen, "#best-note")

        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, RankMetricPicker))
        await pilot.press("escape")  # keeps the metric
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.metric == "val/acc"


async def test_enter_opens_the_run_of_the_highlighted_checkpoint(tree):
    app = RunyardApp(tree, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_best(app, pilot)
        await pilot.press("down", "enter")  # #2: beta, step 60
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert [r.info.name for r in app.screen.records] == ["beta"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)


async def test_a_tree_without_checkpoints_says_so_in_place():
    app = RunyardApp(Path("tests/fixtures/snapshot/runs"), watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot, lambda: app.screen.query_one(RunsTable).row_count == 4)
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, BestScreen) and app.screen.error is not None)
        assert _text(app.screen, "#best-note") == "none of the 4 runs has a checkpoint"
        assert app.screen.query_one(DataTable).row_count == 0


def test_best_screen_snapshot(snap_compare):
    async def ranked(pilot):
        app = pilot.app
        await wait_for(app, pilot, lambda: app.screen.query_one(RunsTable).row_count == 11)
        for box in app.screen.query(Input):
            box.cursor_blink = False
        await pilot.press("b")
        await wait_until(pilot, lambda: isinstance(app.screen, BestScreen) and app.screen.ranking is not None)
        await pilot.pause(0.2)

    assert snap_compare(RunyardApp(FOREIGN, watch=False), terminal_size=(100, 30), run_before=ranked)
