"""The app on runs this user cannot read, driven with Pilot: run by tests/test_unreadable.py as an unprivileged
user (root reads everything), so every refusal here comes from the kernel, not from a patched call.

    python -m tests.unreadable_app ROOT LOCKED NOLOG GOOD

LOCKED is a run folder that can be listed but not entered, NOLOG a run whose training.log cannot be read, GOOD a
run that reads as usual. Each check asserts what is on screen; the last line printed is "passed".
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from textual.widgets import Static, TabbedContent

from runyard.tui.app import RunyardApp
from runyard.tui.cli import _root_and_run
from runyard.tui.screens.run import RunScreen
from runyard.tui.screens.runs import RunsScreen
from runyard.tui.widgets.log_view import LogView
from runyard.tui.widgets.metric_plot import MetricPlot
from tests.test_app import table, wait_until

PATIENCE = 20.0  # a loaded machine, and the app starting as another user with a cold cache


def log_text(view: LogView) -> str:
    return "\n".join(view.render_line(y).text for y in range(view.size.height))


def plot_text(screen) -> str:
    return "\n".join(str(plot.render()) for plot in screen.query(MetricPlot))


def shown(widget: Static) -> str:
    return str(widget.render()) if widget.display else ""


async def check(locked: Path, nolog: Path, good: Path) -> None:
    closed = f"cannot enter {locked.name}: permission denied"
    unreadable = "cannot read training.log: permission denied"
    root, run = _root_and_run(locked)  # `runyard LOCKED`, as typed
    app = RunyardApp(root, open_path=run)  # watching for real: the watcher must survive the closed folder
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen), PATIENCE)
        log = app.screen.query_one(LogView)
        await wait_until(pilot, lambda: closed in log_text(log), PATIENCE)
        await wait_until(pilot, lambda: closed in plot_text(app.screen), PATIENCE)
        await wait_until(pilot, lambda: closed in str(app.screen.query_one("#run-title").render()), PATIENCE)
        for key, tab in (("2", "config"), ("3", "checkpoints"), ("4", "samples"), ("5", "info")):
            await pilot.press(key)
            assert app.screen.query_one(TabbedContent).active == tab
            problem = app.screen.query_one(f"#{tab} .tab-problem", Static)
            await wait_until(pilot, lambda problem=problem: closed in shown(problem), PATIENCE)
        print("run screen of the closed folder: the reason in the log, the curves, the title and every tab")

        await pilot.press("1", "escape")
        await wait_until(pilot, lambda: isinstance(app.screen, RunsScreen) and app.first_scan_done
                         and table(app).row_of(str(nolog)) is not None, PATIENCE)
        table(app).highlight(str(nolog))
        preview_log = app.screen.query_one("#preview-log", Static)
        await wait_until(pilot, lambda: unreadable in shown(preview_log), PATIENCE)
        table(app).highlight(str(good))
        await wait_until(pilot, lambda: "hello from good" in shown(preview_log), PATIENCE)
        print("preview: the reason for the unreadable log, the lines of the readable one")

        table(app).highlight(str(nolog))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.keys == [str(nolog)],
                         PATIENCE)
        log = app.screen.query_one(LogView)
        await wait_until(pilot, lambda: unreadable in log_text(log), PATIENCE)
        await wait_until(pilot, lambda: any(p.traces for p in app.screen.query(MetricPlot)), PATIENCE)
        await pilot.press("x")  # the screen takes keys
        assert app.screen.x_axis == "time"
        print("run screen of the unreadable log: the reason in the log pane, its curves drawn")

        assert app.is_running and app.watcher is not None and app.watcher._thread is not None
        assert app.watcher._thread.is_alive(), "the watcher's thread died on the closed folder"
        print("the app and its watcher keep running")
        await pilot.press("q")
    assert app.return_code in (0, None)


def main(argv: list[str]) -> int:
    _, locked, nolog, good = (Path(a) for a in argv)
    asyncio.run(check(locked, nolog, good))
    print("passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
