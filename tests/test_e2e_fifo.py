"""End to end in a real terminal: a run whose training.log is a FIFO next to a run a training process is writing.

The FIFO run says "waiting for training.log" where its log would be (preview and run screen), keys keep working,
the live run's step count keeps advancing on screen, and `q` still quits at once.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

import runyard
from tests import test_e2e_tmux
from tests.test_e2e_tmux import (
    PATIENCE,
    PROMPT,
    RUN_NAME,
    STARTUP,
    Writer,
    last_text,
    listed,
    new_session,
    pane_flag,
    runs_rows,
    screen,
    steps_of,
    title,
    tmux,
    wait_for,
)
from tests.test_regular_files import fifo_in_place_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# the tmux server, its environment and the training processes: the fixtures of the other end-to-end tests
sock, app_env, writers = test_e2e_tmux.sock, test_e2e_tmux.app_env, test_e2e_tmux.writers

WAITING = "waiting for training.log"


def advancing(server: str, since: int) -> tuple[int | None, list[str]]:
    """Wait until the live run's steps on screen pass `since`; (steps shown, screen)."""
    value, _, lines = wait_for(server, lambda ls: (steps_of(ls) or -1) > since and steps_of(ls), PATIENCE)
    return value, lines


def test_a_fifo_log_waits_in_place_while_everything_else_goes_on(tmp_path: Path, sock: str, app_env: dict[str, str],
                                                                 writers: list[Writer]) -> None:
    root = tmp_path / "runs"
    piped = runyard.init("piped", root=root, console=False, system_metrics=False)
    for step in range(20):
        piped.log({"train/loss": 1.0 / (step + 1)}, step=step)
    piped.finish()
    fifo_in_place_of(piped.path / "training.log")
    writer = Writer(tmp_path, root, "periodic")
    writers.append(writer)
    writer.wait_report("init")
    new_session(sock, app_env, tmp_path / "tmux.conf",
                shlex.join(["env", f"PS1={PROMPT} ", "bash", "--norc", "--noprofile"]))
    wait_for(sock, lambda ls: last_text(ls) == PROMPT, STARTUP, join=True)
    tmux(sock, "send-keys", shlex.join([sys.executable, "-m", "runyard.tui.cli", str(root)]), "Enter")

    up, _, lines = wait_for(sock, lambda ls: listed(ls) and listed(ls, "piped") and steps_of(ls) is not None, STARTUP)
    assert up, f"the app should list both runs:\n{screen(lines)}"

    tmux(sock, "send-keys", "/")  # keys work: the filter leaves the FIFO run alone
    time.sleep(0.3)  # the filter box takes the focus
    tmux(sock, "send-keys", "-l", "piped")
    shown, _, lines = wait_for(sock, lambda ls: runs_rows(ls) and not listed(ls) and WAITING in "\n".join(ls),
                               PATIENCE)
    assert shown, f"the filter should show the FIFO run only, its preview '{WAITING}':\n{screen(lines)}"
    tmux(sock, "send-keys", "Enter")  # leave the filter box ...
    time.sleep(0.3)
    tmux(sock, "send-keys", "Enter")  # ... and open the run
    opened, _, lines = wait_for(sock, lambda ls: title(ls).split()[:1] == ["piped"] and WAITING in "\n".join(ls),
                                PATIENCE)
    assert opened, f"the run screen should say '{WAITING}' where the log goes:\n{screen(lines)}"
    tmux(sock, "send-keys", "x")  # the run screen takes keys too
    cycled, _, lines = wait_for(sock, lambda ls: "x=time" in title(ls), PATIENCE)
    assert cycled, f"x should switch the run screen to time:\n{screen(lines)}"

    tmux(sock, "send-keys", "Escape")  # back to the runs ...
    time.sleep(0.3)
    tmux(sock, "send-keys", "Escape")  # ... and the filter cleared
    back, _, lines = wait_for(sock, lambda ls: listed(ls) and listed(ls, "piped"), PATIENCE)
    assert back, f"escape should bring back both runs:\n{screen(lines)}"
    first = steps_of(lines) or 0
    later, lines = advancing(sock, first)
    assert later, f"the live run's steps should keep advancing past {first}:\n{screen(lines)}"
    again, lines = advancing(sock, later)
    assert again, f"... and keep advancing past {later}:\n{screen(lines)}"
    print(f"{RUN_NAME} steps on screen: {first} -> {later} -> {again}")

    started = time.monotonic()
    tmux(sock, "send-keys", "q")
    gone, _, lines = wait_for(sock, lambda ls: last_text(ls) == PROMPT and pane_flag(sock, "alternate_on") == "0",
                              PATIENCE, join=True)
    assert gone, f"q should quit with a FIFO in the tree:\n{screen(lines)}"
    assert time.monotonic() - started < 5.0
