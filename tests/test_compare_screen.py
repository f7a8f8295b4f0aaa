"""The compare screen as a user meets it: `c` from the runs list, the four tabs and their keys, asserted on what the
screen shows and on its widgets' state; and the headless pieces it draws with (colours, groups, the mean band)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from rich.text import Text
from textual.widgets import DataTable, OptionList, SelectionList, Static

import runyard
from runyard.tui.app import RunyardApp
from runyard.tui.live.colours import RunHues
from runyard.tui.live.groups import aggregate, group_runs
from runyard.tui.screens.compare import CompareScreen, GroupChooser, flow
from runyard.tui.screens.metric_picker import MetricPicker
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.metric_plot import MetricPanels, colour
from runyard.tui.widgets.runs_table import RunsTable, mark_cell
from tests.test_app import wait_for, wait_until


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def seeds(root: Path, lrs=(1e-3, 3e-3), count: int = 3, steps: int = 120) -> None:
    """Runs of a sweep: `count` seeds per learning rate. The last seed of each logs its validation loss as
    `val_loss` (as a CSV tracker names it), the others as `val/loss`; only the first seed sets `warmup`."""
    for lr in lrs:
        for seed in range(count):
            rnd = random.Random(seed * 7 + int(lr * 1e4))
            config = {"lr": lr, "seed": seed, "model": {"n_layer": 2}}
            if seed == 0:
                config["warmup"] = 10
            run = runyard.init(f"gpt2_lr{lr:g}_seed{seed}", root=root, config=config, console=False,
                               system_metrics=False)
            val = "val_loss" if seed == count - 1 else "val/loss"
            for s in range(steps):
                loss = 3.0 * math.exp(-s * lr * 10) + 0.5 + rnd.gauss(0, 0.02) + seed * 0.01
                row = {"train/loss": loss}
                if s % 10 == 0:
                    row[val] = loss + 0.1
                run.log(row, step=s)
            run.finish()


def table(app: RunyardApp) -> RunsTable:
    return app.screen.query_one(RunsTable)


def text_of(screen, selector: str) -> str:
    content = screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def notes_of(app: RunyardApp) -> list[str]:
    """Record what the app says in notifications from now on."""
    said: list[str] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        said.append(str(message))
        return notify(message, *args, **kwargs)

    app.notify = recording
    return said


async def open_compare(app: RunyardApp, pilot, count: int, mark: int | None = None) -> CompareScreen:
    """Mark the first `mark` runs (all by default), press `c`, and wait for the curves and the table."""
    await wait_for(app, pilot, lambda: table(app).row_count == count)
    table(app).sort_by("name")  # a to z: the runs in a known order
    await pilot.press("home", *["space"] * (count if mark is None else mark), "c")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.is_mounted)
    screen = app.screen
    await wait_until(pilot, lambda: screen.table is not None and screen.diff is not None
                     and all(live is not None and live.loaded for live in screen.lives))
    await pilot.pause(0.1)
    screen.redraw()
    return screen


def traces(screen: CompareScreen):
    return [t for plot in screen.query_one(MetricPanels).plots for t in plot.traces]


def cells(widget: DataTable) -> list[list[str]]:
    return [[str(c.plain if isinstance(c, Text) else c) for c in widget.get_row_at(i)]
            for i in range(widget.row_count)]


# ----- opening it --------------------------------------------------------------------------------------------

async def test_c_compares_the_marked_runs_with_one_panel_per_metric_and_names_matched(tmp_path):
    root = tmp_path / "runs"
    seeds(root)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, 6, mark=3)
        assert len(screen.records) == 3
        assert screen.metrics == ["val/loss", "train/loss"]
        plots = screen.query_one(MetricPanels).plots
        assert [p.title for p in plots] == ["val/loss", "train/loss"]  # small multiples, each named
        assert "val/loss ← val_loss (1 run)" in text_of(screen, "#compare-match")
        legend = text_of(screen, "#compare-legend")
        assert legend.split() == ["●", "seed0", "●", "seed1", "●", "seed2"]  # only the part that differs
        drawn = traces(screen)
        assert {t.run for t in drawn if t.metric == "val/loss"} == {0, 1, 2}  # val_loss drawn as val/loss
        for t in drawn:  # each run in the app's colour for it, the colour of its mark in the runs table
            key = screen.keys[t.run]
            assert t.color == colour(app.hues.get(key))
            facts = app.screen_stack[1].query_one(RunsTable).facts[key]
            assert mark_cell(facts)[0][1] == "bold rgb({},{},{})".format(*t.color)
        assert "compare 3 runs" in text_of(screen, "#compare-title")


async def test_c_without_marks_compares_the_highlighted_run_and_says_how_to_pick(tmp_path):
    root = tmp_path / "runs"
    seeds(root, count=2)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        said = notes_of(app)
        screen = await open_compare(app, pilot, 4, mark=0)
        assert screen.keys == [app.screen_stack[1].query_one(RunsTable).highlighted_key()]
        assert any("space marks the runs to compare" in note for note in said)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, CompareScreen))
        await pilot.press("enter")  # enter on one run still opens its run view
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert len(app.screen.records) == 1


# ----- curves: x, smoothing, metrics, groups --------------------------------------------------------------------

async def test_x_cycles_the_axis_and_s_and_brackets_smooth_as_the_run_view(tmp_path):
    root = tmp_path / "runs"
    seeds(root, count=2)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compare(app, pilot, 4)
        assert all(t.smooth_y is not None for t in traces(screen))
        assert "x=step  EMA 0.60" in text_of(screen, "#compare-title")
        await pilot.press("x")
        assert screen.x_axis == "time" and "x=time" in text_of(screen, "#compare-title")
        assert traces(screen)[0].x[0] > 1e9  # wallclock seconds
        await pilot.press("x")
        assert screen.x_axis == "relative" and 0 <= traces(screen)[0].x[0] < 60
        await pilot.press("x")
        assert screen.x_axis == "step"
        await pilot.press("s")
        assert all(t.smooth_y is None for t in traces(screen)) and "EMA" not in text_of(screen, "#compare-title")
        await pilot.press("right_square_bracket")
        assert screen.smoothing == 0.7 and "EMA 0.70" in text_of(screen, "#compare-title")
        assert all(t.smooth_y is not None for t in traces(screen))
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert screen.smoothing == 0.5


async def test_m_picks_the_metrics_drawn(tmp_path):
    root = tmp_path / "runs"
    seeds(root, count=2)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_compare(app, pilot, 4)
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MetricPicker))
        picker = app.screen.query_one(SelectionList)
        assert set(picker.selected) == {"val/loss", "train/loss"}
        picker.deselect("train/loss")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.metrics == ["val/loss"]
        assert len(screen.query_one(MetricPanels).plots) == 1
        assert {t.metric for t in traces(screen)} == {"val/loss"}
        await wait_until(pilot, lambda: screen.table.metrics == ["val/loss"])  # the table follows


async def test_g_colours_by_a_differing_key_and_G_draws_each_group_as_mean_and_band(tmp_path):
    root = tmp_path / "runs"
    seeds(root)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, 6)
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, GroupChooser))
        options = app.screen.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids[0] == "" and "lr" in ids and "seed" in ids and "model.n_layer" not in ids  # differing only
        options.highlighted = ids.index("lr")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.group_key == "lr" and "by lr" in text_of(screen, "#compare-title")
        legend = text_of(screen, "#compare-legend")
        assert "● lr=0.001 (3 runs)" in legend and "● lr=0.003 (3 runs)" in legend
        by_run = {t.run: t.color for t in traces(screen)}
        assert len(set(by_run.values())) == 2  # one colour per value of lr
        assert by_run[0] == by_run[1] == by_run[2] != by_run[3]

        await pilot.press("G")
        assert "mean+range" in text_of(screen, "#compare-title")
        assert "faint lines: its min and max" in text_of(screen, "#compare-legend")
        drawn = traces(screen)
        bands = [t for t in drawn if t.band]
        means = [t for t in drawn if not t.band]
        assert len(means) == 4 and len(bands) == 8  # 2 groups x 2 metrics: a mean and two edges each
        # The mean of lr=0.001 on train/loss is the mean of its three (smoothed) runs where they all are.
        mean = next(t for t in means if t.metric == "train/loss" and t.label == "lr=0.001")
        low, high = (t for t in bands if t.metric == "train/loss" and t.label == "lr=0.001")
        assert np.all(low.y <= mean.y + 1e-12) and np.all(mean.y <= high.y + 1e-12)
        runs = [screen.lives[i].series["train/loss"].smoothed(screen.smoothing) for i in range(3)]
        assert mean.y[0] == pytest.approx(np.mean([r[0] for r in runs]))
        assert mean.y[-1] == pytest.approx(np.mean([r[-1] for r in runs]))
        assert (mean.x[0], mean.x[-1]) == (0, 119)

        await pilot.press("g")  # back to one colour per run
        await wait_until(pilot, lambda: isinstance(app.screen, GroupChooser))
        await pilot.press("home", "enter")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.group_key is None and "● lr0.001_seed0" not in text_of(screen, "#compare-legend")
        assert "all runs" in text_of(screen, "#compare-legend")  # still the mean: of all runs now


# ----- the summary table ----------------------------------------------------------------------------------------

async def test_table_sorts_by_any_column_marks_the_leader_and_flips_a_guessed_direction(tmp_path):
    root = tmp_path / "runs"
    seeds(root)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, 6)
        await pilot.press("2")
        widget = screen.query_one("#compare-table", DataTable)
        await wait_until(pilot, lambda: widget.row_count == 6)
        headers = [str(c.label.plain) for c in widget.ordered_columns]
        assert headers[:3] == ["run", "val/loss ↓?", "last"]  # guessed, and shown as guessed
        assert headers[-3:] == ["time", "steps", "steps/s"]
        rows = cells(widget)
        leader = screen.table.leader["val/loss"]
        starred = [r for r in rows if r[1].startswith("★")]
        assert len(starred) == 1 and starred[0][0].endswith(screen.labels[screen.keys.index(leader)])
        assert "@" in starred[0][1]  # the step of the best
        assert "guessed from the name" in text_of(screen, "#table-note")

        widget.move_cursor(row=0, column=1)
        await pilot.press("s")  # by val/loss: best (lowest) first
        bests = [screen.table.rows[i].cells["val/loss"].best for i in range(6)]
        assert bests == sorted(bests) and "▲" in str(widget.ordered_columns[1].label.plain)
        await pilot.press("s")  # the same again: the other way
        bests = [screen.table.rows[i].cells["val/loss"].best for i in range(6)]
        assert bests == sorted(bests, reverse=True) and "▼" in str(widget.ordered_columns[1].label.plain)
        widget.move_cursor(row=0, column=0)
        await pilot.press("s")
        assert [r.label for r in screen.table.rows] == sorted(r.label for r in screen.table.rows)

        widget.move_cursor(row=0, column=1)
        await pilot.press("f")  # higher is better now: the table re-ranks
        await wait_until(pilot, lambda: screen.table.goals["val/loss"].direction == "max")
        await pilot.pause(0.1)
        assert str(widget.ordered_columns[1].label.plain).startswith("val/loss ↑")
        assert "?" not in str(widget.ordered_columns[1].label.plain)
        worst = max(screen.table.rows, key=lambda r: r.cells["val/loss"].best)
        assert screen.table.leader["val/loss"] == worst.key != leader

        widget.move_cursor(row=2, column=0)
        await pilot.press("enter")  # opens that run in its own run view
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        assert app.screen.keys == [screen.table.rows[2].key]


async def test_header_click_sorts_the_table(tmp_path):
    root = tmp_path / "runs"
    seeds(root, count=2)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, 4)
        await pilot.press("2")
        widget = screen.query_one("#compare-table", DataTable)
        await wait_until(pilot, lambda: widget.row_count == 4)
        widget.post_message(DataTable.HeaderSelected(widget, widget.ordered_columns[-1].key, 7,
                                                     widget.ordered_columns[-1].label))
        await wait_until(pilot, lambda: screen.table.sort is not None)
        assert screen.table.sort == ("steps_per_s", True)


# ----- config diff and keys ------------------------------------------------------------------------------------------

async def test_config_shows_only_differing_keys_until_a_and_missing_as_a_dash(tmp_path):
    root = tmp_path / "runs"
    seeds(root, count=2)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, 4)
        await pilot.press("3")
        widget = screen.query_one("#config-table", DataTable)
        await wait_until(pilot, lambda: widget.row_count > 0)
        rows = cells(widget)
        keys = [r[0] for r in rows]
        assert "lr" in keys and "seed" in keys and "warmup" in keys and "model.n_layer" not in keys
        warmup = rows[keys.index("warmup")]
        assert warmup[1:] == ["10", "—", "10", "—"]  # runs without the key: missing, not None
        lr = rows[keys.index("lr")]
        assert lr[1:] == ["0.001", "0.001", "0.003", "0.003"]  # numbers aligned on the point
        assert "keys differ" in text_of(screen, "#config-note")
        await pilot.press("a")
        keys = [r[0] for r in cells(widget)]
        assert "model.n_layer" in keys
        assert "origin" in keys and keys.index("origin") > keys.index("model.n_layer")  # a group of their own
        assert {"argv", "host", "python"} <= set(keys[keys.index("origin"):])
        await pilot.press("a")
        assert "model.n_layer" not in [r[0] for r in cells(widget)]


async def test_keys_ranks_the_differing_keys_with_how_many_runs_and_too_few_to_tell(tmp_path):
    root = tmp_path / "runs"
    seeds(root)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, 6)
        await pilot.press("4")
        widget = screen.query_one("#keys-table", DataTable)
        await wait_until(pilot, lambda: widget.row_count > 0)
        rows = cells(widget)
        assert rows[0][0] == "lr" and rows[0][2] == "higher lr" and rows[0][3] == "6"  # val_loss runs count too
        assert text_of(screen, "#keys-note").startswith("val/loss ↓?")
        await pilot.press("k")
        await wait_until(pilot, lambda: text_of(screen, "#keys-note").startswith("train/loss"))

    few = tmp_path / "few"
    seeds(few, count=1)
    app = RunyardApp(few, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, 2)
        await pilot.press("4")
        widget = screen.query_one("#keys-table", DataTable)
        await wait_until(pilot, lambda: widget.row_count > 0)
        assert cells(widget)[0][0] == "lr" and cells(widget)[0][3] == "2"
        assert cells(widget)[0][4] == "too few runs to tell"


async def test_each_tab_shows_its_own_keys_in_the_footer(tmp_path):
    root = tmp_path / "runs"
    seeds(root, count=1)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_compare(app, pilot, 2)

        def footer() -> set[str]:
            return {b.binding.description for b in app.active_bindings.values() if b.binding.show}

        assert {"Quit", "Help", "x axis", "Smooth", "Group", "Mean"} <= footer() and "Sort" not in footer()
        await pilot.press("2")
        await pilot.pause()
        assert {"Sort", "Flip goal"} <= footer() and "Smooth" not in footer()
        await pilot.press("3")
        await pilot.pause()
        assert "All keys" in footer() and "Sort" not in footer()


# ----- the headless pieces -----------------------------------------------------------------------------------------

def test_a_run_keeps_its_colour_while_in_use_and_gives_it_back_after():
    hues = RunHues(8)
    assert [hues.of(k) for k in "abc"] == [0, 1, 2]
    hues.keep({"a", "c"})
    assert hues.get("b") is None and hues.of("c") == 2  # the others keep theirs
    assert hues.of("d") == 1  # the first free colour
    hues.moved("a", "a2")
    assert hues.of("a2") == 0


def test_groups_follow_the_values_as_shown():
    groups = group_runs([0.001, 3, 0.001, 3.0, None], lambda v: "None" if v is None else f"{v:g}")
    assert [(g.label, g.runs) for g in groups] == [("0.001", (0, 2)), ("3", (1, 3)), ("None", (4,))]


def test_a_groups_mean_and_band_over_runs_logged_at_different_steps():
    a = (np.arange(0, 101, 1.0), np.full(101, 1.0))
    b = (np.arange(0, 101, 10.0), np.full(11, 3.0))  # logged every 10 steps: joined up between
    c = (np.arange(50, 101, 1.0), np.full(51, 8.0))  # starts late: counts only where it is
    folded = aggregate([a, b, c], 101)
    assert folded.x[0] == 0 and folded.x[-1] == 100
    assert folded.mean[10] == pytest.approx(2.0) and folded.runs[10] == 2
    assert folded.mean[60] == pytest.approx(4.0) and (folded.low[60], folded.high[60]) == (1.0, 8.0)
    with_nan = (np.arange(0, 3.0), np.array([1.0, math.nan, 1.0]))
    assert not np.isnan(aggregate([with_nan], 3).mean).any()  # a NaN is never averaged in
    assert aggregate([(np.arange(3.0), np.full(3, math.nan))], 3) is None


def test_the_legend_never_breaks_an_entry():
    entries = [Text(f"● run{i:02d}_name") for i in range(6)]
    assert len(flow(entries, 40).plain.split("\n")) == 2  # three entries of 12 and two gaps: 40 exactly
    lines = flow(entries, 39).plain.split("\n")
    assert all(len(line) <= 39 for line in lines) and len(lines) == 3
    assert all(part.strip().startswith("●") for line in lines for part in line.split("  ") if part.strip())


async def test_curves_laid_in_as_braille_match_what_plotext_draws(monkeypatch):
    """The fast way of drawing many curves puts the same dots in the same cells, in the same colours, as plotext."""
    from textual.app import App

    from runyard.tui.widgets.metric_plot import MetricPlot, Trace

    rng = np.random.default_rng(3)
    x = np.arange(2000.0)
    curves = [(x, 2 + np.exp(-x / (300 + 200 * i)) + rng.normal(0, 0.05, x.size)) for i in range(5)]
    curves.append((np.array([0.0, 500.0, 1999.0]), np.array([2.5, np.nan, 2.1])))  # a gap, and a lone point

    class Two(App):
        def compose(self):
            yield MetricPlot(id="fast")
            yield MetricPlot(id="plotext")

    app = Two()
    async with app.run_test(size=(90, 40)) as pilot:
        fast, slow = app.query_one("#fast", MetricPlot), app.query_one("#plotext", MetricPlot)
        monkeypatch.setattr(slow, "_fast", lambda: False)
        for plot in (fast, slow):
            traces = [Trace(f"run{i}", colour(i), cx, cy, smooth_y=cy * 0.99 if i == 0 else None, legend=False)
                      for i, (cx, cy) in enumerate(curves)]
            plot.show(traces, x_axis="step", log_y=False, ignore_outliers=True)
        await pilot.pause()
        drawn = fast.render(), slow.render()
        assert fast._raster is not None and slow._raster is None
        assert drawn[0].plain == drawn[1].plain
        assert sum(0x2800 < ord(c) <= 0x28FF for c in drawn[0].plain) > 200

        def colours(text: Text) -> dict[int, str]:
            out = {}
            for span in text.spans:
                style = span.style if not isinstance(span.style, str) else None
                if style is not None and style.color is not None:
                    for at in range(span.start, span.end):
                        if 0x2800 < ord(text.plain[at]) <= 0x28FF:
                            out[at] = style.color.get_truecolor().hex
            return out

        painted = colours(drawn[0])
        assert len(painted) > 200 and len(set(painted.values())) >= 5 and painted == colours(drawn[1])


def test_a_groups_mean_is_the_same_whether_its_runs_are_known_clean_or_looked_at():
    rng = np.random.default_rng(5)
    curves = [(np.arange(0, 1000, 1 + i), rng.normal(i, 1, len(range(0, 1000, 1 + i)))) for i in range(4)]
    looked, trusted = aggregate(curves, 123), aggregate(curves, 123, [True] * 4)
    for name in ("x", "mean", "low", "high", "runs"):
        assert np.allclose(getattr(looked, name), getattr(trusted, name)), name


async def test_the_comparison_diff_and_ranking_come_from_the_read_lane_as_messages(tmp_path):
    """Nothing of it is worked out on the app's thread: each arrives as a message when asked for."""
    from runyard.tui.messages import ComparisonRead, ConfigDiffRead, ImportanceRead

    root = tmp_path / "runs"
    seeds(root, count=1)
    messages: list = []
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        screen = await open_compare(app, pilot, 2)
        kinds = [type(m) for m in messages if isinstance(m, (ComparisonRead, ConfigDiffRead, ImportanceRead))]
        assert kinds.count(ConfigDiffRead) == 1 and kinds.count(ComparisonRead) >= 1
        assert ImportanceRead not in kinds  # the Keys tab asks when it is shown
        before = len([m for m in messages if isinstance(m, ComparisonRead)])
        await pilot.press("2")
        widget = screen.query_one("#compare-table", DataTable)
        await wait_until(pilot, lambda: widget.row_count == 2)
        widget.move_cursor(row=0, column=1)
        await pilot.press("f")
        await wait_until(pilot, lambda: len([m for m in messages if isinstance(m, ComparisonRead)]) > before)
        metric = screen.metrics[0]  # val_loss: every run of this sweep names it so
        await wait_until(pilot, lambda: screen.table.goals[metric].source == "override")
        assert [m for m in messages if isinstance(m, ComparisonRead)][-1].table.goals[metric].source == "override"
        await pilot.press("4")
        await wait_until(pilot, lambda: any(isinstance(m, ImportanceRead) for m in messages))
        read = next(m for m in messages if isinstance(m, ImportanceRead))
        assert (read.metric, read.direction) == (metric, "max")  # as the table judges it now


async def test_without_colour_each_run_has_a_marker_and_the_legend_says_which(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")  # Textual then draws everything in one colour
    root = tmp_path / "runs"
    seeds(root, count=2)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(app, pilot, 4)
        drawn = [t for t in traces(screen) if t.metric == "train/loss"]
        assert len({t.marker for t in drawn}) == 4
        plot = screen.query_one(MetricPanels).plots[1]
        shown = plot.render().plain
        legend = text_of(screen, "#compare-legend").split()
        for trace in drawn:
            mark = "●" if trace.marker == "braille" else trace.marker
            assert legend[legend.index(trace.label) - 1] == mark
            if mark != "●":
                assert mark in shown  # drawn with it, a character a cell
