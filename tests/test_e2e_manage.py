"""End to end in a real terminal (tmux): archive a run from the app with `a`, see the preview, confirm with `y`,
and the run is listed again marked ⌂, archived on disk."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest

from tests.test_app import make_run
from tests.test_e2e_tmux import (  # noqa: F401 (app_env and sock are fixtures)
    PATIENCE,
    STARTUP,
    app_env,
    new_session,
    runs_rows,
    screen,
    sock,
    tmux,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def row_of(lines: list[str], name: str) -> list[str] | None:
    return next((tokens for tokens in runs_rows(lines) if name in tokens), None)


def test_archive_a_run_with_a_then_y_and_see_it_marked(tmp_path: Path, sock: str,  # noqa: F811 (fixtures)
                                                       app_env: dict[str, str]) -> None:  # noqa: F811
    root = tmp_path / "runs"
    make_run(root, "beta", 0.01)
    alpha = make_run(root, "alpha", 0.001).path
    (tmp_path / "tmux.conf").write_text("set -g default-terminal xterm-256color\nset -g status off\n"
                                        "set -g escape-time 0\n")
    new_session(sock, app_env, tmp_path / "tmux.conf",
                shlex.join([sys.executable, "-m", "runyard.tui.cli", str(root)]))
    up, _, lines = wait_for(sock, lambda ls: row_of(ls, "alpha") and row_of(ls, "beta"), STARTUP)
    assert up, f"the app did not list both runs:\n{screen(lines)}"

    tmux(sock, "send-keys", "/")  # the filter leaves alpha alone, highlighted
    time.sleep(0.3)  # the filter box takes the focus
    tmux(sock, "send-keys", "-l", "alpha")
    one, _, lines = wait_for(sock, lambda ls: len(runs_rows(ls)) == 1, PATIENCE)
    assert one, f"the filter did not leave one run:\n{screen(lines)}"
    tmux(sock, "send-keys", "Enter")  # back to the table
    time.sleep(0.3)
    tmux(sock, "send-keys", "a")
    asked, _, lines = wait_for(sock, lambda ls: any("Archive: 1 run" in line for line in ls)
                               and any("→ archive/" in line for line in ls), PATIENCE)
    assert asked, f"`a` did not preview the archive:\n{screen(lines)}"
    assert not (root / "archive").exists()  # nothing happens before the answer

    tmux(sock, "send-keys", "y")
    done, _, lines = wait_for(sock, lambda ls: (row := row_of(ls, "alpha")) is not None and "⌂" in row, PATIENCE)
    assert done, f"the archived run was not listed marked ⌂:\n{screen(lines)}"
    assert not alpha.exists() and (root / "archive" / alpha.name / "run.json").is_file()
    said, _, lines = wait_for(sock, lambda ls: any("archived 1 run" in line for line in ls), PATIENCE)
    assert said, f"no one-line result:\n{screen(lines)}"

    tmux(sock, "send-keys", "q")
    gone, _, lines = wait_for(sock, lambda ls: row_of(ls, "alpha") is None, PATIENCE)
    assert gone, f"q did not quit:\n{screen(lines)}"
