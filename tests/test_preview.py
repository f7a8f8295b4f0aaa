"""The runs screen's preview: the newest log line is always in view, however long the lines are."""

from __future__ import annotations

from textual.widgets import Static

from runyard.tui.app import RunyardApp
from runyard.tui.widgets.preview import compact_line
from tests.test_app import make_run, table, wait_for


def test_compact_line_keeps_the_message_and_levels_that_matter():
    assert compact_line("2026-11-30 00:00:24,818 - INFO - step 0 loss 4.500") == "00:00:24 step 0 loss 4.500"
    assert compact_line("2026-11-30 00:00:24,818 - WARNING - nan seen") == "00:00:24 WARNING - nan seen"
    assert compact_line("[2024-07-16 14:35:52] step 10: train loss 2.1") == "14:35:52 step 10: train loss 2.1"
    assert compact_line("no stamp here") == "no stamp here"


async def test_long_lines_never_push_the_newest_one_out_of_the_preview(tmp_path):
    root = tmp_path / "runs"
    run = make_run(root, "wordy", 0.001, finish=False)
    for i in range(12):
        run.logger.info("eval %d: %s", i, "a long report of everything measured " * 4)
    run.logger.info("the newest line")
    run.finish()
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        log = app.screen.query_one("#preview-log", Static)

        def shown() -> list[str]:
            return [strip.text.rstrip() for strip in log.render_lines(log.region.reset_offset)]

        await wait_for(app, pilot, lambda: any("finished" in line for line in shown()))
        lines = [line for line in shown() if line.strip()]
        assert "run wordy finished" in lines[-1]  # the tracker's footer, the newest line, is the last one drawn
        assert any("the newest line" in line for line in lines)
        assert all(len(line) <= log.region.width for line in lines)  # one row per log line: nothing wraps
