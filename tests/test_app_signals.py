"""SIGTERM and SIGHUP end the app through Textual's exit (which restores the terminal), even while a read hangs.

The terminal itself is checked end to end in tests/test_e2e_terminal.py; here the signal is delivered to this
process while a read lane is stuck on a file that never answers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from runyard.tui.app import RunyardApp
from tests.test_app import make_run, table, wait_for, wait_until


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
async def test_a_signal_exits_with_128_plus_its_number_past_a_hung_read(tmp_path, monkeypatch, signum):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "runs"
    make_run(root, "alpha", 0.001)
    app = RunyardApp(root, watch=False)
    never = threading.Event()
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(app, pilot, lambda: table(app).row_count == 1)
            app.lanes.submit(("run", "hung"), never.wait, file="training.log", urgent=True)  # a read that hangs
            await wait_until(pilot, lambda: app.lanes.waiting(("run", "hung")) is not None)
            # the app's handler must be in place before the signal is sent: else it would end the test process
            assert signum in getattr(asyncio.get_running_loop(), "_signal_handlers", {})
            sent = time.monotonic()
            os.kill(os.getpid(), signum)
            await wait_until(pilot, lambda: not app.is_running, timeout=5.0)
            assert time.monotonic() - sent < 5.0
        assert app.return_code == 128 + signum
        assert signum not in getattr(asyncio.get_running_loop(), "_signal_handlers", {})  # a second one ends it
    finally:
        never.set()
