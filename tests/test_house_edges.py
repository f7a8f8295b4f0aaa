"""Edges a new user hit: help lists runyard's keys (not every Textual widget's), the run screen keeps quit and
help in its footer at 80 columns, its title never cuts a number, and a run's own log file names the run."""

from __future__ import annotations

import re

from textual.widgets import DataTable, Footer, Static

import runyard
from runyard.tui.app import RunyardApp
from runyard.tui.screens.help import HelpScreen
from runyard.tui.screens.run import RunScreen
from tests.test_app import make_run, table, wait_for

LONG = "experiment_gpt2_medium_lr3e-4_bs64_warmup2000_cosine_decay_dropout0.1_seed"


def test_a_runs_own_log_file_opens_the_run(tmp_path):
    run = make_run(tmp_path / "runs", "owner", 0.001)
    view = runyard.open_run(run.path / "training.log")
    assert view.path == run.path and view.source.format == "runyard/1"


async def test_help_lists_runyard_keys_only_and_once(tmp_path):
    root = tmp_path / "runs"
    make_run(root, "one", 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        await pilot.press("question_mark")
        await wait_for(app, pilot, lambda: isinstance(app.screen, HelpScreen))
        help_table = app.screen.query_one(DataTable)
        rows = [tuple(str(c) for c in help_table.get_row_at(i)) for i in range(help_table.row_count)]
        assert not any(where in ("input", "footer") for where, _, _ in rows)
        assert "Move cursor left and select" not in {does for _, _, does in rows}
        assert len(rows) == len(set(rows))
        assert ("Mark" in {does for _, _, does in rows[:16]}), rows[:16]  # on the first page


async def test_run_screen_keeps_quit_and_help_in_its_footer_and_whole_numbers_in_its_title(tmp_path):
    root = tmp_path / "runs"
    for seed in (1, 2):
        make_run(root, f"{LONG}{seed}", 0.001, steps=40)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 2)
        await pilot.press("space", "space", "enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        await pilot.pause(0.3)
        footer = app.screen.query_one(Footer)
        shown = " ".join(str(w.render()) for w in footer.query("FooterKey"))
        assert "Quit" in shown and "Help" in shown
        title = app.screen.query_one("#run-title", Static).render()
        text = title.plain if hasattr(title, "plain") else str(title)
        assert "seed1" in text and "seed2" in text  # names cut in the middle keep what tells them apart
        assert re.search(r"step 39\b", text) and "…/" not in text and not re.search(r"step \d*…", text)
