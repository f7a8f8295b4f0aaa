"""What a run's files hold reaches the app's screen inert, and curves any data can give are drawn.

A run's name, tags, config, metric names and samples may hold terminal escape sequences (`ESC ] 0 ; … BEL` sets
the terminal's title) and Rich markup: none of it may reach the screen as anything but plain characters.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from textual.geometry import Region
from textual.widgets import TabbedContent

import runyard
from runyard.tui.app import RunyardApp
from runyard.tui.screens.run import MetricPicker, RunScreen
from runyard.tui.widgets.metric_plot import MetricPlot, Trace
from runyard.tui.widgets.runs_table import RunsTable
from tests.test_app import wait_for

CASES = Path(__file__).parent / "fixtures" / "cases" / "reading"
OSC, CSI, MARKUP = "\x1b]0;PWNED\x07", "\x1b[31m", "[bold]"
EVIL = f"{OSC}{CSI}{MARKUP}"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))




def screen_text(app: RunyardApp) -> str:
    """Every line every shown widget of the current screen renders, as the terminal would receive its text."""
    lines = []
    for widget in (app.screen, *app.screen.walk_children()):
        if not widget.display or not widget.size.area:
            continue
        for strip in widget.render_lines(Region(0, 0, widget.size.width, widget.size.height)):
            lines.append("".join(segment.text for segment in strip))
    return "\n".join(lines)


def assert_inert(text: str) -> None:
    """No escape or bell byte: text such as `PWNED` may show, as the characters it is."""
    assert "\x1b" not in text, [line for line in text.splitlines() if "\x1b" in line]
    assert "\x07" not in text and "\x9b" not in text


@pytest.fixture
def evil_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    run = runyard.init(f"run{EVIL}x", root=root, config={f"key{EVIL}": f"value{EVIL}"}, tags=[f"tag{EVIL}"],
                       console=False, system_metrics=False)
    for step in range(30):
        run.log({f"loss{EVIL}": 3.0 - step * 0.05, "acc": step / 30}, step=step)
    run.log_sample(f"sample{EVIL}", step=29, prompt=f"prompt{EVIL}")
    run.finish()
    return root


async def test_escapes_and_markup_from_a_run_reach_no_screen(evil_root: Path) -> None:
    app = RunyardApp(evil_root, watch=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(app, pilot, lambda: app.screen.query_one(RunsTable).row_count == 1)
        await pilot.pause(0.3)
        text = screen_text(app)
        assert_inert(text)
        assert f"run{MARKUP}x" in text and f"tag{MARKUP}" in text  # markup shown literally, as written
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        plot = screen.query_one(MetricPlot)
        await wait_for(app, pilot, lambda: any("loss" in t.label for t in plot.traces))
        assert all("\x1b" not in t.label for t in plot.traces)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert_inert(text)
        assert f"run{MARKUP}x" in text  # the title
        assert f"loss{MARKUP}" in text  # the legend
        for key, tab, shown in (("2", "config", f"value{MARKUP}"), ("4", "samples", f"sample{MARKUP}"),
                                ("5", "info", f"tag{MARKUP}")):
            await pilot.press(key)
            assert screen.query_one(TabbedContent).active == tab
            await wait_for(app, pilot, lambda shown=shown: shown in screen_text(app))
            assert_inert(screen_text(app))
        await pilot.press("1", "m")
        await wait_for(app, pilot, lambda: isinstance(app.screen, MetricPicker))
        await pilot.pause(0.1)
        text = screen_text(app)
        assert_inert(text)
        assert f"loss{MARKUP}" in text


def test_a_trace_label_is_made_safe_where_it_is_made() -> None:
    trace = Trace(f"loss{EVIL}", (1, 2, 3), np.arange(3.0), np.ones(3))
    assert trace.label == f"loss{MARKUP}"


async def test_the_odd_tag_names_case_opens_without_escapes() -> None:
    run = CASES / "odd_tag_names" / "esc_run"
    app = RunyardApp(run.parent, open_path=run, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        plot = app.screen.query_one(MetricPlot)
        await wait_for(app, pilot, lambda: bool(plot.traces))
        await pilot.pause(0.2)
        assert_inert(screen_text(app))


# ----- curves any data can give -------------------------------------------------------------------------------

def figure_lines(plot: MetricPlot) -> list[str]:
    return plot.render().plain.split("\n")


@pytest.mark.parametrize("case", ["inf_only", "nan_only"])
async def test_a_series_of_only_non_finite_values_is_a_frame_with_its_marks(case: str) -> None:
    run = CASES / "nonfinite_only" / case
    if "loss" not in runyard.open_run(run).summary:
        pytest.xfail("the TensorBoard reader does not yet keep a metric whose every value is NaN")
    app = RunyardApp(run.parent, open_path=run, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        plot = app.screen.query_one(MetricPlot)
        await wait_for(app, pilot, lambda: any(t.metric == "loss" for t in plot.traces))
        await pilot.pause(0.1)
        lines = figure_lines(plot)
        text = "\n".join(lines)
        assert "cannot draw" not in text
        top = next(line for line in lines if "┌" in line)
        assert top.count("x") == 4  # the four values, on the frame's top edge, where no legend covers them
        assert "nothing finite to draw" in text and "4 non-finite values" in text


async def test_non_finite_marks_are_not_under_the_legend() -> None:
    """A NaN at the first step is marked on the frame's edge, not at the top left inside it (the legend's place)."""
    app = RunyardApp(Path("."), watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        plot = MetricPlot()
        await app.screen.mount(plot)
        y = np.linspace(1.0, 2.0, 40)
        y[0] = math.nan
        plot.show([Trace("a long metric label", (200, 100, 100), np.arange(40.0), y, nonfinite=1, metric="m")],
                  x_axis="step", log_y=False, ignore_outliers=False)
        await pilot.pause(0.1)
        lines = figure_lines(plot)
        top = next(line for line in lines if "┌" in line)
        assert top[top.index("┌") + 1] == "x"
        assert any("a long metric label" in line for line in lines)


async def test_smoothing_keeps_the_raw_extremes_on_the_scale() -> None:
    """tqdm_cr_progress: loss 1.9 then 1.4; with EMA 0.6 the smoothed curve ends higher, the raw 1.4 stays in."""
    run = CASES / "tqdm_cr_progress"
    app = RunyardApp(run.parent, open_path=run, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        plot = screen.query_one(MetricPlot)
        await wait_for(app, pilot, lambda: any(t.metric == "loss" for t in plot.traces))
        screen.smoothing, screen.smooth_on = 0.6, True
        screen.redraw()
        await pilot.pause(0.1)
        trace = next(t for t in plot.traces if t.metric == "loss")
        assert trace.smooth_y is not None and trace.smooth_y.min() > 1.5
        figure = plot.render()
        ticks = [float(line.split("┤")[0]) for line in figure.plain.split("\n") if "┤" in line]
        assert min(ticks) <= 1.4 and max(ticks) >= 1.9, ticks
        assert "▼" not in figure.plain and "▲" not in figure.plain  # nothing left off the scale to mark


# ----- runyard plot: the same range rules -----------------------------------------------------------------------

def plot(*args: str) -> str:
    from click.testing import CliRunner

    from runyard.tui.cli import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0 and result.exception is None, result.output
    return result.stdout


def y_ticks(out: str) -> list[float]:
    return [float(line.split("┤")[0]) for line in out.splitlines() if "┤" in line]


def test_plot_smooth_keeps_the_raw_extremes_on_the_scale() -> None:
    out = plot("plot", CASES / "tqdm_cr_progress", "-m", "loss", "--smooth", "0.6", "--width", "60", "--height", "12")
    assert min(y_ticks(out)) <= 1.4 and max(y_ticks(out)) >= 1.9
    assert "▼" not in out and "outside the y-range" not in out


def test_plot_smooth_on_a_log_axis_keeps_the_raw_points_and_counts_the_rest() -> None:
    out = plot("plot", CASES / "logy_nonpositive" / "run", "--log-y", "-m", "grad_norm", "--smooth", "0.6",
               "--width", "60", "--height", "12")
    values = runyard.open_run(CASES / "logy_nonpositive" / "run").series("grad_norm")["value"].to_numpy()
    positive = values[values > 0]
    ticks = y_ticks(out)
    assert min(ticks) <= positive.min() * 1.001 and max(ticks) >= positive.max() * 0.999, (ticks, positive)
    assert "3 of 6 values are zero or negative" in out


def test_plot_outliers_flag_keeps_every_point_and_the_default_counts_those_left_off(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    with runyard.init("spike", root=root, console=False, system_metrics=False) as run:
        for step in range(100):
            run.log({"loss": 100.0 if step == 0 else 1.0 + (step % 10) / 10}, step=step)
    trimmed = plot("plot", "spike", "--root", root, "-m", "loss", "--width", "60", "--height", "12")
    assert max(y_ticks(trimmed)) < 100 and "▲" in trimmed
    assert "loss: 1 of 100 points outside the y-range" in trimmed
    full = plot("plot", "spike", "--root", root, "-m", "loss", "--outliers", "--width", "60", "--height", "12")
    assert max(y_ticks(full)) >= 100 and "▲" not in full and "outside the y-range" not in full
