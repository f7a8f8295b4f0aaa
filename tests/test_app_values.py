"""What the app and `runyard plot` show matches what was logged: a gap at a restart, a run followed when its
folder is renamed, exact integer steps, and the loss curve (not a one-point figure) chosen by default."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import plotext
import pytest
from textual.widgets import Static

import runyard
from runyard import open_run
from runyard.tui.app import RunyardApp
from runyard.tui.cli.plotting import plot_runs
from runyard.tui.live.runstate import LiveRun
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.metric_plot import MetricPlot
from runyard.tui.widgets.preview import Preview
from runyard.tui.widgets.runs_table import RunsTable
from tests.test_app import wait_until

CASES = Path(__file__).parent / "fixtures" / "cases" / "reading"
MAX_INT64 = 9_223_372_036_854_775_807


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


async def wait(pilot, predicate, timeout: float = 20.0) -> None:
    await wait_until(pilot, predicate, timeout)


def spans(xs: list[float], ys: list[float], edge: float) -> list[tuple[float, float]]:
    """Consecutive drawn points (both finite: plotext joins them with a line) on either side of `edge`."""
    return [(a, b) for a, b, ya, yb in zip(xs, xs[1:], ys, ys[1:], strict=False)
            if math.isfinite(ya) and math.isfinite(yb) and a < edge <= b]


def copy_case(tmp_path: Path, case: str) -> Path:
    root = tmp_path / "runs"
    shutil.copytree(CASES / case, root / Path(case).name)
    return root


# ----- a gap at a restart ------------------------------------------------------------------------------------

async def test_run_screen_breaks_a_tensorboard_curve_at_its_restart(tmp_path):
    root = copy_case(tmp_path, "tb_restart_purge/run")
    app = RunyardApp(root, open_path=root / "run", watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted
                   and app.screen.query_one(MetricPlot).traces)
        await pilot.pause(0.2)
        plot = app.screen.query_one(MetricPlot)
        (trace,) = plot.traces
        assert (trace.metric, trace.y.size, list(trace.restarts)) == ("loss", 15, [50])
        raw, smooth = trace.prepared(max(10, plot.size.width))
        assert trace.edges == [50.0]
        for points in (raw, smooth):
            xs, ys = trace.segments(points.x, points.y)
            assert min(xs) < 50 <= max(xs)           # points on both sides of the restart...
            assert spans(xs, ys, 50.0) == []          # ...and no line from one life into the next
            assert any(math.isnan(y) for y in ys)     # the break plotext draws as a gap


def test_plot_breaks_a_tensorboard_curve_at_its_restart(monkeypatch):
    drawn: list[tuple[list[float], list[float]]] = []
    original = plotext.plot

    def recording(*args, **kwargs):
        drawn.append((list(args[0]), list(args[1])))
        return original(*args, **kwargs)

    monkeypatch.setattr(plotext, "plot", recording)
    _text, data = plot_runs([open_run(CASES / "tb_restart_purge" / "run")], ["loss"], "step", 0.6, False, 100, 14)
    assert len(data["series"][0]["x"]) == 15 and all(isinstance(x, int) for x in data["series"][0]["x"])
    assert len(drawn) == 2  # the raw curve and the smoothed one
    for xs, ys in drawn:
        assert min(xs) < 50 <= max(xs) and spans(xs, ys, 50.0) == []


def test_a_runyard_resume_marker_breaks_the_live_curve(tmp_path):
    root = tmp_path / "runs"
    run = runyard.init("resumed", root=root, console=False, system_metrics=False)
    for s in range(30):
        run.log({"loss": 3.0 - s * 0.05}, step=s)
    run.finish()
    with runyard.init(resume=run.path, root=root, console=False, system_metrics=False) as again:
        for s in range(20, 40):
            again.log({"loss": 2.0 - s * 0.01}, step=s)
    live = LiveRun(open_run(run.path))
    live.apply(live.read())
    assert live.restarts == [20]
    steps = live.series["loss"].steps
    assert steps.tolist() == list(range(40))  # rows 20..29 of the first life superseded
    from runyard.tui.widgets.metric_plot import Trace

    trace = Trace("loss", (1, 2, 3), steps, live.series["loss"].value.view, steps=steps, restarts=live.restarts)
    raw, _ = trace.prepared(80)
    xs, ys = trace.segments(raw.x, raw.y)
    assert spans(xs, ys, 20.0) == [] and min(xs) < 20 <= max(xs)


# ----- a moved run keeps living in the app ---------------------------------------------------------------------

async def test_a_run_renamed_while_open_is_followed_to_its_new_folder(tmp_path):
    root = tmp_path / "runs"
    # The app here does not watch files (watch=False), so nothing re-reads run.json's heartbeat after the scan:
    # a short heartbeat interval would let a slow machine see the run as crashed for that reason alone.
    run = runyard.init("renamed", root=root, config={"max_steps": 40}, console=False, system_metrics=False,
                       heartbeat_interval=10.0)
    try:
        for s in range(10):
            run.log({"train/loss": 3.0 - s * 0.05}, step=s)
        old = run.path
        new = old.with_name(old.name + "_moved")
        app = RunyardApp(root, open_path=old, watch=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted
                       and app.first_scan_done and sum(t.y.size for t in app.screen.query_one(MetricPlot).traces))
            screen = app.screen
            assert [t.y.size for t in screen.query_one(MetricPlot).traces] == [10]
            os.rename(old, new)
            for s in range(10, 20):
                run.log({"train/loss": 3.0 - s * 0.05}, step=s)  # the writer keeps writing into the moved folder
            app.scan_tree()
            await wait(pilot, lambda: str(new) in app.records and str(new) in app.live
                       and [t.y.size for t in screen.query_one(MetricPlot).traces] == [20])
            assert app.screen is screen and screen.keys == [str(new)]
            assert str(old) not in app.records and str(old) not in app.live
            assert str(new) in app.following
            assert app.records[str(new)].info.status == "running"
            assert app.screen.query_one(MetricPlot).traces[0].x.tolist()[-1] == 19
            assert "step 19" in shown(screen, "#run-title")
            await pilot.press("escape")
            await wait(pilot, lambda: not isinstance(app.screen, RunScreen))
            table = app.screen.query_one(RunsTable)
            await wait(pilot, lambda: table.row_count == 1)
            listed = [r for r in app.records.values() if r.info.path == new]
            assert len(listed) == 1 and listed[0].info.status == "running"
            assert all(r.info.status != "crashed" for r in app.records.values())
    finally:
        run.finish()
    assert open_run(new).info.status == "finished"


# ----- steps are integers end to end ------------------------------------------------------------------------------

def shown(screen, selector: str) -> str:
    content = screen.query_one(selector, Static).content
    return content.plain if hasattr(content, "plain") else str(content)


async def test_a_step_at_the_int64_limit_shows_exactly(tmp_path):
    root = copy_case(tmp_path, "int64_steps/huge")
    app = RunyardApp(root, open_path=root / "huge", watch=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted
                   and app.screen.query_one(MetricPlot).traces)
        screen = app.screen
        await pilot.pause(0.2)
        screen.redraw()
        assert "9,223,372,036,854,775,807" in shown(screen, "#run-title")
        assert "...808" not in shown(screen, "#run-title") and "775,808" not in shown(screen, "#run-title")
        await pilot.press("right")  # the cursor starts at the last point: the huge step
        await pilot.pause(0.1)
        info = shown(screen, "#cursor-info")
        assert "cursor step 9,223,372,036,854,775,807" in info, info
        assert screen.lives[0].rows.step.view.dtype == np.int64


# ----- the loss curve, not a one-point figure, by default --------------------------------------------------------

def hparam_run(root: Path) -> Path:
    """A TensorBoard run with a loss curve and what `add_hparams` logs: one point of its final `val_loss`, a name
    that ranks before `loss`."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    path = root / "tbrun"
    path.mkdir(parents=True)
    writer = EventFileWriter(str(path))
    for step in range(20):
        summary = Summary(value=[Summary.Value(tag="loss", simple_value=2.0 - step * 0.05)])
        writer.add_event(Event(wall_time=1_780_000_000 + step, step=step, summary=summary))
    summary = Summary(value=[Summary.Value(tag="val_loss", simple_value=0.9)])
    writer.add_event(Event(wall_time=1_780_000_100, step=0, summary=summary))
    writer.close()
    return path


async def test_an_hparam_figure_does_not_take_the_default_curve(tmp_path):
    root = tmp_path / "runs"
    path = hparam_run(root)
    assert {n: s.count for n, s in open_run(path).summary.items()} == {"loss": 20, "val_loss": 1}
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait(pilot, lambda: app.first_scan_done and app.screen.query_one(RunsTable).row_count == 1)
        preview = app.screen.query_one(Preview)
        await wait(pilot, lambda: preview.query_one(MetricPlot).traces)
        assert [t.label for t in preview.query_one(MetricPlot).traces] == ["loss"]
        await pilot.press("enter")
        await wait(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted
                   and app.screen.query_one(MetricPlot).traces)
        assert app.screen.metrics[0] == "loss"
        assert "val_loss" not in app.screen.metrics
    _text, data = plot_runs([open_run(path)], [], "step", 0.0, False, 80, 12)
    assert [s["metric"] for s in data["series"]] == ["loss"]
