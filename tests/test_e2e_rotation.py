"""End to end in a real terminal: the run screen follows the log of a training process that rotates it.

The process renames training.log, writes one more line to the file it still holds (the logrotate race), then
opens a new training.log and goes on there. On screen the lines from before the rotation stay, the old file's
last line is there, a marker says where the new file begins, and its lines follow: each once, in order.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from runyard.tui.widgets.log_view import ROTATED
from tests import test_e2e_tmux
from tests.conftest import child_env
from tests.test_e2e_tmux import PATIENCE, STARTUP, Writer, new_session, screen, title, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
sock, app_env, writers = test_e2e_tmux.sock, test_e2e_tmux.app_env, test_e2e_tmux.writers

ROTATING_WRITER = textwrap.dedent("""\
    import os, sys, time
    import runyard

    root = sys.argv[1]
    run = runyard.init("rotating", root=root, console=False, system_metrics=False)
    handler = next(h for h in run.logger.handlers if type(h).__name__ == "LogFileHandler")
    log = run.path / "training.log"
    run.logger.info("hello from the rotating writer")
    print("init", time.time(), run.path, flush=True)
    step = 0
    for line in sys.stdin:
        command = line.strip()
        if command.startswith("rotate "):
            n = command.split()[1]
            os.replace(log, log.with_name(f"training.log.{n}"))
            run.logger.info("rotation %s: the old file's last line, written after the rename", n)
            handler.file.reopen()  # as a script that restarts its log would
            run.logger.info("rotation %s: the new file's first line", n)
        else:
            run.log({"train/loss": 1.0 / (step + 1)}, step=step)
            run.logger.info("%s", command)
            step += 1
        print("done", time.time(), command, flush=True)
""")


class RotatingWriter(Writer):
    """The end-to-end tests' training process, one that rotates its own log when told `rotate N`."""

    def __init__(self, tmp_path: Path, root: Path) -> None:
        script = tmp_path / "train_rotating.py"
        script.write_text(ROTATING_WRITER)
        self.out, self.err = tmp_path / "writer-rotating.out", tmp_path / "writer-rotating.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, str(script), str(root)], cwd=tmp_path, env=child_env(),
                                         stdin=subprocess.PIPE, stdout=out, stderr=err, text=True)

    def do(self, command: str) -> None:
        self.send(command)
        self.wait_report("done", lambda rest: rest == command)


def messages(lines: list[str]) -> list[str]:
    """The log pane's lines on screen: each log record's message, and the rotation marker."""
    out = []
    for line in lines:
        if " - INFO - " in line:
            # the pane's scrollbar (block glyphs in the last column) is not part of the message
            out.append(re.sub(r"\s*[\u2581-\u2590]+$", "", line.split(" - INFO - ", 1)[1].rstrip()).rstrip())
        elif ROTATED in line:
            out.append(ROTATED)
    return out


def test_a_log_rotated_by_its_writer_keeps_every_line_on_the_run_screen(tmp_path: Path, sock: str,
                                                                       app_env: dict[str, str],
                                                                       writers: list[Writer]) -> None:
    root = tmp_path / "runs"
    writer = RotatingWriter(tmp_path, root)
    writers.append(writer)
    _, run_dir = writer.wait_report("init")
    new_session(sock, app_env, tmp_path / "tmux.conf", shlex.join([sys.executable, "-m", "runyard.tui.cli", run_dir]))
    up, _, lines = wait_for(sock, lambda ls: title(ls).split()[:2] == ["rotating", "running"]
                            and "hello from the rotating writer" in messages(ls), STARTUP)
    assert up, f"the run screen should open on the rotating run and show its first line:\n{screen(lines)}"

    tag = uuid.uuid4().hex[:6]
    expected = ["hello from the rotating writer"]
    for n in (1, 2):
        writer.do(f"before rotation {n} {tag}")
        writer.do(f"rotate {n}")
        writer.do(f"after rotation {n} {tag}")
        expected += [f"before rotation {n} {tag}", f"rotation {n}: the old file's last line, written after the rename",
                     ROTATED, f"rotation {n}: the new file's first line", f"after rotation {n} {tag}"]
        shown, _, lines = wait_for(sock, lambda ls, last=expected[-1]: last in messages(ls), PATIENCE)
        assert shown, f"{expected[-1]!r} should reach the screen after rotation {n}:\n{screen(lines)}"
    time.sleep(0.5)  # anything shown twice would have arrived by now
    lines = wait_for(sock, lambda ls: True, PATIENCE)[2]
    assert messages(lines) == expected, f"every line once, in order, across two rotations:\n{screen(lines)}"
