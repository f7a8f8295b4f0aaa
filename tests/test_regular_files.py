"""Run files are opened only when they are regular files: a FIFO (or a device) in a run folder never blocks a
reader, and reads as "not a regular file" where a caller wants to say what it waits for."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import runyard
from runyard.files import NotRegularFile, open_regular, read_bytes
from runyard.reading.metrics_jsonl import load
from runyard.reading.tail import MetricsTail, TailReader


def release_fifo_later(path: Path, after: float = 20.0) -> threading.Thread:
    """Should anything open the FIFO for reading and block, open it for writing after a while: the test then fails
    on its assertions instead of hanging forever."""
    def release() -> None:
        deadline = time.monotonic() + after
        while time.monotonic() < deadline and path.exists():
            time.sleep(0.1)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return  # nobody is reading it: good
        os.close(fd)

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


def fifo_in_place_of(path: Path) -> Path:
    """Replace a run file by a FIFO of the same name (released after a while, see above)."""
    path.unlink()
    os.mkfifo(path)
    release_fifo_later(path)
    return path


def within(seconds: float, work):
    """Run `work` on a thread; fail (not hang) if it does not return in time."""
    result: list = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed back to the test
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"blocked for more than {seconds} s"
    if errors:
        raise errors[0]
    return result[0]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "training.log"
    os.mkfifo(path)
    release_fifo_later(path)
    return path


def test_open_regular_refuses_a_fifo_at_once_and_a_folder(fifo: Path, tmp_path: Path):
    with pytest.raises(NotRegularFile, match="FIFO"):
        within(5, lambda: open_regular(fifo))
    with pytest.raises(NotRegularFile, match="folder"):
        open_regular(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_regular(tmp_path / "missing")
    (tmp_path / "plain.txt").write_bytes(b"text\n")
    assert read_bytes(tmp_path / "plain.txt") == b"text\n"
    assert isinstance(NotRegularFile(), OSError)  # callers treating unreadable files as missing still do


def test_tail_readers_flag_a_fifo_and_read_the_file_that_replaces_it(fifo: Path):
    tail = TailReader(fifo)
    chunk = within(5, tail.read)
    assert chunk.lines == [] and chunk.not_regular
    metrics = MetricsTail(fifo)
    assert within(5, metrics.read).not_regular
    fifo.unlink()
    fifo.write_bytes(b"now a file\n")
    chunk = tail.read()
    assert chunk.lines == [b"now a file"] and not chunk.not_regular
    tail.close()
    metrics.close()


def test_loading_a_fifo_metrics_file_raises_instead_of_blocking(fifo: Path):
    with pytest.raises(NotRegularFile):
        within(5, lambda: load(fifo))


def test_a_scan_passes_fifos_by(tmp_path: Path):
    root = tmp_path / "runs"
    runs = {}
    for name, fifo_name in (("log", "training.log"), ("metrics", "metrics.jsonl"), ("info", "run.json")):
        run = runyard.init(name, root=root, console=False, system_metrics=False)
        run.log({"loss": 1.0}, step=0)
        run.finish()
        fifo_in_place_of(run.path / fifo_name)
        runs[name] = run.path
    plain = root / "plain"
    plain.mkdir()
    os.mkfifo(plain / "train.log")  # a text log by its name, a FIFO in fact
    release_fifo_later(plain / "train.log")
    os.mkfifo(plain / "log_run_20240101_000000.txt")  # a nanoGPT log by its name
    release_fifo_later(plain / "log_run_20240101_000000.txt")
    records = {r.info.path: r for r in within(10, lambda: runyard.scan(root, use_cache=False))}
    assert records[runs["log"]].info.error is None and records[runs["log"]].info.name == "log"
    assert records[runs["metrics"]].info.error is None
    assert "not a regular file" in records[runs["info"]].info.error
    nano = records[plain / "log_run_20240101_000000.txt"]
    assert "not a regular file" in nano.info.error
    assert plain / "train.log" not in records
    view = runyard.open_run(runs["log"])
    assert within(5, lambda: view.checkpoints) == [] and view.config == {}
