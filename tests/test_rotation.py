"""A log rotated while it is followed loses no line and shows none twice: the tail mechanism (`TailReader`), the
`runyard tail -f` command built on it, and the app's log pane built on it too.

Rotation comes in two kinds. logrotate's `create` (and a training script that restarts its log) renames the file
and creates a new one; a writer still holding the old file may write to it after the rename, before the new file
exists (the race that loses a line when the follower switches files on the name alone). `copytruncate` copies the
file away and truncates it in place, so the same file starts over.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import runyard
from runyard.reading.tail import TailReader
from runyard.tui.widgets.log_view import ROTATED, TRUNCATED, LogView
from tests.conftest import child_env
from tests.test_log_view import LogApp, poll, stamped


class Writer:
    """A process's view of its log: an append-mode handle that it keeps until told to reopen (as a training
    script's FileHandler does), and the rotations done to it from outside."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("a", encoding="utf-8")
        self.written: list[str] = []

    def line(self, text: str) -> str:
        self.fh.write(text + "\n")
        self.fh.flush()
        self.written.append(text)
        return text

    def lines(self, texts: list[str]) -> None:
        for text in texts:
            self.line(text)

    def rename_away(self, suffix: str = ".1") -> None:
        """logrotate `create`, first half: the log is renamed; this writer still holds (and writes to) it."""
        os.replace(self.path, self.path.with_name(self.path.name + suffix))

    def reopen(self) -> None:
        """... second half: the new log is created and the writer switches to it."""
        self.fh.close()
        self.fh = self.path.open("a", encoding="utf-8")

    def copytruncate(self, suffix: str = ".1") -> None:
        """logrotate `copytruncate`: the content is copied away and the file truncated in place (the writer's
        append-mode handle then writes from the new end, 0)."""
        shutil.copyfile(self.path, self.path.with_name(self.path.name + suffix))
        os.truncate(self.path, 0)

    def close(self) -> None:
        self.fh.close()


def texts(reader: TailReader) -> list[str]:
    return [raw.decode() for raw in reader.read().lines]


# ----- the tail mechanism -------------------------------------------------------------------------------------

@pytest.mark.parametrize("looked_in_between", [False, True], ids=["no read in between", "read in between"])
def test_rename_and_create_keeps_the_line_written_to_the_old_file_after_the_rename(tmp_path, looked_in_between):
    log = tmp_path / "training.log"
    writer = Writer(log)
    writer.lines(["old 0", "old 1"])
    reader = TailReader(log)
    assert texts(reader) == ["old 0", "old 1"]
    writer.line("old 2")
    writer.rename_away()
    writer.line("old 3, after the rename")  # the race: the new file does not exist yet
    if looked_in_between:
        chunk = reader.read()  # the path is gone: the file held is read on
        assert [raw.decode() for raw in chunk.lines] == ["old 2", "old 3, after the rename"] and not chunk.reset
    writer.reopen()
    writer.lines(["new 0", "new 1"])
    chunk = reader.read()
    got = [raw.decode() for raw in chunk.lines]
    old_tail = [] if looked_in_between else ["old 2", "old 3, after the rename"]
    assert got == [*old_tail, "new 0", "new 1"]
    assert chunk.reset and chunk.replaced and chunk.reset_at == len(old_tail)
    writer.line("new 2")
    assert texts(reader) == ["new 2"]
    writer.close()


def test_an_unfinished_last_line_of_the_old_file_is_not_lost(tmp_path):
    log = tmp_path / "training.log"
    writer = Writer(log)
    writer.line("old 0")
    reader = TailReader(log)
    assert texts(reader) == ["old 0"]
    writer.fh.write("progress 99%")  # no newline: the script was killed mid-line, or a progress bar
    writer.fh.flush()
    assert texts(reader) == []  # held back while the line may still end
    writer.rename_away()
    writer.reopen()
    writer.line("new 0")
    chunk = reader.read()
    assert [raw.decode() for raw in chunk.lines] == ["progress 99%", "new 0"] and chunk.reset_at == 1
    writer.close()


def test_copytruncate_reads_the_file_again_from_its_start(tmp_path):
    log = tmp_path / "training.log"
    writer = Writer(log)
    writer.lines([f"before {i}" for i in range(5)])
    reader = TailReader(log)
    assert len(texts(reader)) == 5
    writer.copytruncate()
    writer.lines(["after 0", "after 1"])  # shorter than what was read: the size says it was truncated
    chunk = reader.read()
    assert [raw.decode() for raw in chunk.lines] == ["after 0", "after 1"]
    assert chunk.reset and not chunk.replaced and chunk.reset_at == 0
    writer.copytruncate()
    writer.lines([f"grown past the old size {i}" for i in range(20)])  # longer: its first bytes say it
    assert texts(reader) == [f"grown past the old size {i}" for i in range(20)]
    writer.line("then appended")
    assert texts(reader) == ["then appended"]
    writer.close()


def test_repeated_rotations_of_both_kinds_lose_no_line_and_repeat_none(tmp_path):
    log = tmp_path / "training.log"
    writer = Writer(log)
    reader = TailReader(log)
    got: list[str] = []
    n = 0

    def some(count: int) -> None:
        nonlocal n
        for _ in range(count):
            writer.line(stamped(n))
            n += 1

    some(3)
    for round_ in range(12):
        got += texts(reader)  # copytruncate loses what is written between the copy and the truncation
        if round_ % 3 == 2:
            writer.copytruncate(f".{round_}")
            some(2)
        else:
            some(1)
            writer.rename_away(f".{round_}")
            some(1)  # to the old file, after the rename
            if round_ % 2:
                got += texts(reader)
            writer.reopen()
            some(2)
        some(round_ % 4)
    got += texts(reader)
    assert got == writer.written
    writer.close()


def test_metrics_tail_reads_a_replaced_file_afresh(tmp_path):
    """The metrics reader is told to start over (the app then reads every row again), not handed a mix."""
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step":0,"time":1.0,"a":1}\n')
    tail = runyard.MetricsTail(path)
    assert [r["step"] for r in tail.read().rows] == [0]
    os.replace(path, tmp_path / "metrics.jsonl.1")
    path.write_text('{"step":5,"time":2.0,"a":1}\n')
    chunk = tail.read()
    assert chunk.reset and [r["step"] for r in chunk.rows] == [5]


# ----- `runyard tail -f` --------------------------------------------------------------------------------------

class Follower:
    """`runyard tail -f RUN` in a child process; its stdout lines are gathered as they come."""

    def __init__(self, run_dir: Path, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "runyard.tui.cli", "tail", "-f", "-n", "1000",
                                      str(run_dir)], cwd=cwd, env=child_env(), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 15.0) -> None:
        """Gather output until `text` was printed."""
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise AssertionError(f"`runyard tail -f` did not print {text!r}; it printed:\n" + "\n".join(self.seen))
            try:
                self.seen.append(self.lines.get(timeout=min(left, 0.2)))
            except queue.Empty:
                continue

    def stop(self) -> str:
        """End it (as Ctrl-C would) and return its stderr."""
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=10)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return err


@pytest.mark.slow
def test_tail_follow_prints_every_line_once_in_order_through_rotations(tmp_path):
    run = runyard.init("rotating", root=tmp_path / "runs", console=False, system_metrics=False)
    run.log({"loss": 1.0}, step=0)
    run.finish()
    log = run.path / "training.log"
    header = log.read_text().splitlines()
    writer = Writer(log)
    writer.lines([f"line {i}" for i in range(3)])
    follower = Follower(run.path, tmp_path)
    try:
        follower.wait_for("line 2")
        for round_ in range(3):  # rename + create, with a line to the old file after the rename
            writer.line(f"round {round_}: last before the rename")
            writer.rename_away(f".{round_}")
            writer.line(f"round {round_}: to the old file after the rename")
            time.sleep(0.3)  # long enough for the follower to look while the path is missing, now and then
            writer.reopen()
            writer.line(f"round {round_}: first of the new file")
            follower.wait_for(f"round {round_}: first of the new file")
        writer.line("before copytruncate")
        follower.wait_for("before copytruncate")  # what is written between a copy and a truncation is lost to all
        writer.copytruncate(".c")
        writer.lines(["after copytruncate 0", "after copytruncate 1"])
        follower.wait_for("after copytruncate 1")
        writer.line("the end")
        follower.wait_for("the end")
    finally:
        err = follower.stop()
        writer.close()
    assert follower.seen == header + writer.written, err
    assert err.count("was replaced by a new file") == 3 and err.count("was truncated") == 1, err
    assert "Traceback" not in err


# ----- the app's log pane -------------------------------------------------------------------------------------

async def test_log_pane_keeps_the_lines_from_before_a_rotation_and_shows_the_new_ones(tmp_path):
    log = tmp_path / "training.log"
    writer = Writer(log)
    writer.lines([stamped(i) for i in range(10)])
    app = LogApp(log)
    async with app.run_test(size=(100, 40)) as pilot:
        view = app.query_one(LogView)
        assert await poll(view, pilot) == 10
        writer.rename_away()
        writer.line(stamped(10, msg="last line of the old file"))
        writer.reopen()
        writer.lines([stamped(i) for i in range(11, 14)])
        assert await poll(view, pilot) == 5  # the old file's last line, the marker, the new file's three
        old = [stamped(i) for i in range(10)] + [stamped(10, msg="last line of the old file")]
        assert list(view.lines) == [*old, ROTATED, *(stamped(i) for i in range(11, 14))]
        writer.copytruncate()
        writer.line(stamped(14))
        assert await poll(view, pilot) == 2
        await pilot.pause()
        assert list(view.lines)[-3:] == [stamped(13), TRUNCATED, stamped(14)]
        assert view.line_count == 17 and len(view.times) == 17
        assert view.following and view.cursor_line == 16
        shown = [view.render_line(y).text.rstrip() for y in range(view.scrollable_content_region.height)]
        assert shown[:3] == [stamped(0), stamped(1), stamped(2)] and ROTATED in shown and shown[16] == stamped(14)
        # the time index stays in order across the rotation: a jump lands on the first line at that time
        assert view.jump_to_time(view.times[12]) == 12
    writer.close()
