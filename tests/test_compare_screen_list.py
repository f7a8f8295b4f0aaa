"""Comparing from the runs list, as LEET does: the preview overlays the marked runs on the highlighted one, `P` pins
a reference run that every overlay shows until unpinned, and a run keeps one colour on every screen."""

from __future__ import annotations

from pathlib import Path

import pytest

import runyard
from runyard.tui.app import RunyardApp
from runyard.tui.screens.compare import CompareScreen
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.metric_plot import MetricPanels, MetricPlot, colour
from runyard.tui.widgets.runs_table import PIN_MARK, RunsTable, mark_cell
from tests.test_app import wait_for, wait_until
from tests.test_compare_screen import text_of


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def three(root: Path) -> dict[str, str]:
    """alpha, beta and gamma (gamma names its validation loss `val_loss`); their keys by name."""
    keys = {}
    for name, slope, val in (("alpha", 0.01, "val/loss"), ("beta", 0.02, "val/loss"), ("gamma", 0.03, "val_loss")):
        run = runyard.init(name, root=root, config={"lr": slope}, console=False, system_metrics=False)
        for s in range(30):
            run.log({"train/loss": 3.0 - s * slope, val: 3.2 - s * slope}, step=s)
        run.finish()
        keys[name] = str(run.path)
    return keys


def table(app: RunyardApp) -> RunsTable:
    return app.screen_stack[1].query_one(RunsTable)


def preview_traces(app: RunyardApp):
    return app.screen_stack[1].query_one("#preview-plot", MetricPlot).traces


async def listed(app: RunyardApp, pilot) -> None:
    await wait_for(app, pilot, lambda: table(app).row_count == 3)
    table(app).sort_by("name")
    await pilot.press("home")


async def test_the_preview_overlays_the_marked_runs_each_in_its_colour(tmp_path):
    keys = three(tmp_path / "runs")
    app = RunyardApp(tmp_path / "runs", watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(app, pilot)
        await wait_until(pilot, lambda: len(preview_traces(app)) == 1)
        assert not app.screen.query_one("#preview-legend").display  # one run: as before
        await pilot.press("space", "space")  # alpha and beta marked; gamma highlighted
        await wait_until(pilot, lambda: len(preview_traces(app)) == 3)
        drawn = {t.label: t for t in preview_traces(app)}
        assert set(drawn) == {"alpha", "beta", "gamma"}
        assert drawn["gamma"].y.size == 30  # its val_loss, matched to the others' val/loss
        assert preview_traces(app)[-1].label == "gamma"  # the highlighted run on top
        for name in ("alpha", "beta"):
            color = colour(app.hues.get(keys[name]))
            assert drawn[name].color == color
            assert mark_cell(table(app).facts[keys[name]])[0] == ("▶", "bold rgb({},{},{})".format(*color))
        assert len({t.color for t in drawn.values()}) == 3
        legend = text_of(app.screen, "#preview-legend")
        assert legend.startswith("val_loss ● gamma") and "● alpha" in legend and "● beta" in legend
        await pilot.press("U")  # unmarked: back to the one run, and the colours are free again
        await wait_until(pilot, lambda: len(preview_traces(app)) == 1)
        await pilot.pause(1.1)  # the app lets go of colours of runs no longer in use each second
        assert app.hues.get(keys["alpha"]) is None


async def test_P_pins_a_reference_that_every_overlay_shows_until_unpinned(tmp_path):
    keys = three(tmp_path / "runs")
    app = RunyardApp(tmp_path / "runs", watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(app, pilot)
        await pilot.press("P")  # alpha is the reference
        assert app.pinned == keys["alpha"]
        assert mark_cell(table(app).facts[keys["alpha"]])[1][0] == PIN_MARK
        assert f"{PIN_MARK} alpha pinned" in text_of(app.screen, "#runs-title")
        await pilot.press("down")  # beta highlighted, nothing marked: the preview still shows alpha
        await wait_until(pilot, lambda: {t.label for t in preview_traces(app)} == {"alpha", "beta"})
        assert f"{PIN_MARK} alpha" in text_of(app.screen, "#preview-legend")
        pinned_colour = colour(app.hues.get(keys["alpha"]))

        await pilot.press("down", "space", "enter")  # gamma marked and opened: with the reference
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        assert set(screen.keys) == {keys["alpha"], keys["gamma"]}
        await wait_until(pilot, lambda: any(p.traces for p in screen.query_one(MetricPanels).plots))
        await pilot.pause(0.3)
        screen.redraw()
        shown = [t for p in screen.query_one(MetricPanels).plots for t in p.traces]
        assert {t.color for t in shown if t.run == screen.keys.index(keys["alpha"])} >= {pinned_colour}
        await pilot.press("escape")

        await wait_until(pilot, lambda: not isinstance(app.screen, RunScreen))
        await pilot.press("c")  # and the compare screen
        await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare = app.screen
        assert set(compare.keys) == {keys["alpha"], keys["gamma"]}
        await wait_until(pilot, lambda: compare.table is not None)
        compare.redraw()
        assert f"{PIN_MARK} alpha pinned" in text_of(compare, "#compare-title")
        assert f"{PIN_MARK} alpha" in text_of(compare, "#compare-legend")
        await pilot.press("escape")

        await wait_until(pilot, lambda: not isinstance(app.screen, CompareScreen))
        await pilot.press("home", "P")  # the same again unpins
        assert app.pinned is None and PIN_MARK not in text_of(app.screen, "#runs-title")
        assert len(mark_cell(table(app).facts[keys["alpha"]])) == 1


async def test_a_run_has_the_same_colour_in_the_run_screen_overlay_as_in_the_list(tmp_path):
    keys = three(tmp_path / "runs")
    app = RunyardApp(tmp_path / "runs", watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await listed(app, pilot)
        await pilot.press("down", "space", "space")  # beta, then gamma: beta takes the first colour
        marks = {name: mark_cell(table(app).facts[keys[name]])[0][1] for name in ("beta", "gamma")}
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        await wait_until(pilot, lambda: all(live.loaded for live in screen.lives))
        screen.redraw()
        for name in ("beta", "gamma"):
            index = screen.keys.index(keys[name])
            assert marks[name] == "bold rgb({},{},{})".format(*screen.run_colour(index))
