"""Pictures of managing runs at 100x30: the preview an archive shows before it asks (with a refused run), and the
cleanup screen's plan. From a copy of tests/fixtures/snapshot with checkpoints added and one run archived.

Sizes are counted as a filesystem of 4 KiB blocks would (`same_size_anywhere`), so the pictures do not depend
on the disk they are taken on. After a deliberate change, look at the new pictures (snapshot_report.html) and only
then run `pytest tests/test_manage_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from runyard.tui.app import RunyardApp
from runyard.tui.live import manage
from runyard.tui.screens.manage import CleanupScreen, ConfirmScreen
from runyard.tui.widgets.runs_table import RunsTable
from tests.test_size_column import same_size_anywhere, same_sizes
from tests.test_snapshots import _wait

PROJECT = Path(__file__).resolve().parent.parent
FIXTURE = PROJECT / "tests" / "fixtures" / "snapshot" / "runs"
SIZE = (100, 30)


@pytest.fixture(autouse=True)
def fixed_tree(tmp_path, monkeypatch):
    """The snapshot runs copied to `runs/` in a fresh folder (the title names it relatively): three checkpoints for
    the baseline run, nan_probe archived. UTC, a private cache, sizes the same on any filesystem."""
    root = tmp_path / "runs"
    shutil.copytree(FIXTURE, root)
    base = root / "baseline_20260101_000000" / "checkpoints"
    lines = []
    for i, (step, loss) in enumerate(((80, 1.9), (160, 1.4), (239, 1.2))):
        name = f"step_{step:08d}.pt"
        (base / name).write_bytes(b"\0" * (40_000 * (i + 1)))
        lines.append(json.dumps({"step": step, "time": 1767225600 + step / 2, "file": f"checkpoints/{name}",
                                 "bytes": 40_000 * (i + 1), "metrics": {"val/loss": loss}}))
    (base / "index.jsonl").write_text("\n".join(lines) + "\n")
    (root / "archive").mkdir()
    (root / "nan_probe_20260101_001200").rename(root / "archive" / "nan_probe_20260101_001200")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setattr(manage, "measure_runs", same_sizes)
    real_plan = manage.make_plan

    def plan_of_same_sizes(root, records, policy):
        plan = real_plan(root, records, policy)
        for entry in [*plan.actions, *plan.kept]:
            entry.bytes = same_size_anywhere(entry.path)
        plan.total = sum(same_size_anywhere(r.info.path) for r in records)
        plan.reclaim = sum(a.bytes for a in plan.actions if a.action == "trash")
        return plan

    monkeypatch.setattr(manage, "make_plan", plan_of_same_sizes)
    monkeypatch.setattr("runyard.tui.screens.manage.make_plan", plan_of_same_sizes)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _listed(pilot) -> RunsTable:
    app = pilot.app
    await _wait(pilot, lambda: app.first_scan_done and app.screen.query_one(RunsTable).row_count == 4)
    table = app.screen.query_one(RunsTable)
    await _wait(pilot, lambda: all(f.size is not None for f in table.facts.values()))
    for box in app.screen.query(Input):
        box.cursor_blink = False
    app.screen.query_one("#preview").display = False  # the curves beneath the modal are not its picture
    return table


async def _archive_preview(pilot) -> None:
    app = pilot.app
    table = await _listed(pilot)
    for key in list(table.facts):
        if "stale" not in key:  # baseline, high_lr and the archived nan_probe; stale is left out
            table.highlight(key)
            await pilot.press("space")
    await pilot.press("a")
    await _wait(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.preview is not None)
    await pilot.press("c")
    await pilot.pause(0.2)


async def _cleanup_plan(pilot) -> None:
    app = pilot.app
    await _listed(pilot)
    await pilot.press("C")
    await _wait(pilot, lambda: isinstance(app.screen, CleanupScreen))
    screen = app.screen
    for box in screen.query(Input):
        box.cursor_blink = False
    screen.query_one("#keep-best", Input).focus()  # the plan has the focus at first; tab reaches the rules
    await pilot.press("1", "tab", "tab", *"10m", "enter")
    summary = screen.query_one("#clean-summary", Static)
    await _wait(pilot, lambda: "would free" in str(summary.render())
                and screen.query_one("#remove", DataTable).row_count == 4)
    await pilot.pause(0.2)


def test_archive_preview(snap_compare):
    assert snap_compare(RunyardApp(Path("runs"), watch=False), terminal_size=SIZE, run_before=_archive_preview)


def test_cleanup_screen(snap_compare):
    assert snap_compare(RunyardApp(Path("runs"), watch=False), terminal_size=SIZE, run_before=_cleanup_plan)
