"""A small window: the runs screen gives the preview up before it gives up its rows of runs."""

from __future__ import annotations

from runyard.tui.app import RunyardApp
from runyard.tui.widgets.preview import Preview
from tests.test_app import make_run, table, wait_for, wait_until


def visible_lines(app: RunyardApp) -> list[str]:
    """The runs table's lines as drawn on screen (header first)."""
    runs = table(app)
    return [runs.render_line(y).text for y in range(runs.content_region.height)]


async def test_runs_stay_visible_at_40x12_and_the_preview_returns_with_room(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "runs"
    for name in ("alpha", "beta", "gamma"):
        make_run(root, name, 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(40, 12)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        preview = app.screen.query_one(Preview)
        assert not preview.display
        lines = visible_lines(app)
        assert "name" in lines[0] and len(lines) >= 4, lines  # the header and every run
        rows = [line for line in lines[1:] if line.strip()]
        assert len(rows) == 3 and all("finished" in row for row in rows), lines
        assert any(" beta " in row for row in rows), lines  # names as wide as the window lets them be

        await pilot.press("p")  # asked for, it still does not fit: the runs keep the room
        assert not preview.display

        await pilot.resize_terminal(100, 30)
        await wait_until(pilot, lambda: preview.display)
        assert table(app).content_region.height >= 5  # room for both: the preview is back, the runs still seen

        await pilot.press("p")
        assert not preview.display  # and `p` hides it as before
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.1)
        assert not preview.display  # growing the window does not bring back a preview turned off


async def test_at_40_columns_a_real_run_name_is_readable(tmp_path, monkeypatch):
    """Even the sort column gives way before a name is cut to a few letters."""
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "runs"
    make_run(root, "gpt2-small-lr3e-4", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(40, 12)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        rows = [line for line in visible_lines(app)[1:] if line.strip()]
        assert "gpt2-sma…-lr3e-4" in rows[0], rows  # cut in the middle, both ends readable


def test_step_ticks_are_integers_at_round_spacings():
    from runyard.tui.formatting import step_ticks

    assert step_ticks(0, 299) == ([0, 50, 100, 150, 200, 250], ["0", "50", "100", "150", "200", "250"])
    assert step_ticks(60, 149)[0] == [60, 80, 100, 120, 140]
    assert step_ticks(0, 1_000_000)[1] == ["0", "200k", "400k", "600k", "800k", "1M"]
    assert step_ticks(0, 2500)[1] == ["0", "500", "1k", "1.5k", "2k", "2.5k"]
    assert all(isinstance(t, int) for t in step_ticks(0.0, 7.5)[0])
