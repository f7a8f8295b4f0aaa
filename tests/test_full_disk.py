"""A full disk loses nothing the tracker can keep: no torn row, no temp file, no exception into the training.

The disk is made full two ways: in-process, by an `os.write` that lets a set number of bytes through to the run's
files and then fails with ENOSPC (so a real partial write happens first), and for real, on a tmpfs of 64 KiB
mounted in a private mount namespace, where the training's own process fills it.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

import runyard
from runyard.jsonl import Skipped, iter_records, read_records
from runyard.reading import metrics_jsonl
from runyard.reading.tail import MetricsTail
from runyard.writer import run as run_module
from runyard.writer.run import read_rows
from tests.conftest import PROJECT, child_env

WARNING = "runyard: cannot write"


class Disk:
    """`os.write` as a disk with `room` bytes left for the files under `root` (None: no limit). A write that does
    not fit lands as far as the room goes and returns that count; the next one fails with ENOSPC, as on Linux."""

    def __init__(self, root: Path, monkeypatch) -> None:
        self.root = str(root.resolve())
        self.room: int | None = None
        self.refused = 0
        self._write = os.write
        monkeypatch.setattr(os, "write", self)

    def _ours(self, fd: int) -> bool:
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(self.root)
        except OSError:
            return False

    def __call__(self, fd: int, data) -> int:
        if self.room is None or not self._ours(fd):
            return self._write(fd, data)
        if self.room == 0:
            self.refused += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = self._write(fd, bytes(data[: self.room]))
        self.room -= written
        return written


pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the fake disk finds files via /proc")


def start(root: Path, **kw):
    return runyard.init("disk", root=root, console=False, system_metrics=False, heartbeat_interval=3600, **kw)


def lines_of(path: Path) -> list[dict]:
    """Every line of a JSONL file, each required to be one whole JSON object."""
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [orjson.loads(line) for line in data[:-1].split(b"\n")]


def leftovers(run_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.name.endswith(".tmp"))


@pytest.mark.parametrize("room", [0, 1, 17, 60, 150, 333, 1000, 2500])
def test_rows_written_while_the_disk_is_full_reach_the_file_once_in_order(tmp_path, monkeypatch, capsys, room):
    root = tmp_path / "runs"
    disk = Disk(root, monkeypatch)
    run = start(root)
    returned = []
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1), "lr": 3e-4}, step=step)
        returned.append(step)
    disk.room = room
    for step in range(5, 45):
        run.log({"loss": 1.0 / (step + 1), "lr": 3e-4}, step=step)  # never raises
        returned.append(step)
        if step % 10 == 0:
            run.logger.info("step %d", step)
    run.log_sample("generated text", step=44)
    run.define_metric("loss", goal="min")  # summary.json written now, on the full disk
    assert disk.refused > 0
    disk.room = None  # space comes back: the next row takes the held ones with it, in order
    for step in range(45, 50):
        run.log({"loss": 1.0 / (step + 1), "lr": 3e-4}, step=step)
        returned.append(step)
    run.finish()

    rows = lines_of(run.path / "metrics.jsonl")
    assert [r["step"] for r in rows] == returned
    assert rows[44]["loss"] == pytest.approx(1 / 45)
    times = [r["time"] for r in rows]
    assert times == sorted(times)  # each row kept the time it was logged at
    assert [r["step"] for r in read_rows(run.path / "metrics.jsonl")] == returned
    assert len(metrics_jsonl.load(run.path / "metrics.jsonl", use_cache=False).frame()) == 50
    assert [s["text"] for s in lines_of(run.path / "samples.jsonl")] == ["generated text"]
    log = (run.path / "training.log").read_text()
    assert [line.split(" - ")[-1] for line in log.splitlines() if "INFO - step " in line] == \
        [f"step {s}" for s in range(10, 45, 10)]
    assert log.count(WARNING) == 1 and "No space left on device" in log
    assert capsys.readouterr().err.count(WARNING) == 1  # console=False: the warning still reaches stderr, once
    info = json.loads((run.path / "run.json").read_text())
    assert info["status"] == "finished" and "dropped" not in info
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["goals"] == {"loss": "min"} and summary["rows"] == 50
    assert leftovers(run.path) == []


def test_beyond_the_bound_the_oldest_rows_are_dropped_and_counted(tmp_path, monkeypatch, capsys):
    root = tmp_path / "runs"
    disk = Disk(root, monkeypatch)
    monkeypatch.setattr(run_module, "METRICS_HELD", 2000)  # about a dozen rows
    run = start(root)
    for step in range(3):
        run.log({"loss": 2.0}, step=step)
    disk.room = 0
    for step in range(3, 43):
        run.log({"loss": 1.0}, step=step)
    held = run._metrics.held_units
    assert 5 < held < 40 and run._metrics.dropped == 40 - held
    disk.room = None
    run.log({"loss": 0.5}, step=43)
    run.finish()

    steps = [r["step"] for r in lines_of(run.path / "metrics.jsonl")]
    kept = list(range(43 - held, 43))  # the newest held rows, after the first three
    assert steps == [0, 1, 2, *kept, 43]
    assert json.loads((run.path / "run.json").read_text())["dropped"] == {"metrics.jsonl": 40 - held}
    view = runyard.open_run(run.path)
    assert view.info.extra["dropped"] == {"metrics.jsonl": 40 - held}  # the info tab and `show --json` list it
    shown = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "show", str(run.path)],
                           capture_output=True, text=True, env={**os.environ, "COLUMNS": "120"})
    assert f"lost to a full disk: {40 - held} in metrics.jsonl" in shown.stdout
    log = (run.path / "training.log").read_text()
    assert f"{40 - held:,} lines of metrics.jsonl" in log
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1
    # with the console off the end still says what was lost on stderr: training.log may share the full disk
    assert f"the disk refused and {40 - held:,} lines of metrics.jsonl" in err
    # a later life of the run keeps the count of what the earlier one lost
    again = runyard.init(resume=run.path, console=False, system_metrics=False)
    again.log({"loss": 0.25}, step=44)
    again.finish()
    assert json.loads((run.path / "run.json").read_text())["dropped"] == {"metrics.jsonl": 40 - held}


def test_with_the_console_on_the_warning_is_one_line_of_the_run_logger(tmp_path, monkeypatch, capsys):
    root = tmp_path / "runs"
    disk = Disk(root, monkeypatch)
    run = runyard.init("disk", root=root, system_metrics=False, heartbeat_interval=3600)
    capsys.readouterr()
    disk.room = 0
    for step in range(20):
        run.log({"loss": 1.0}, step=step)
        run.logger.info("step %d", step)  # the log is on the full disk too: no logging error, no traceback
    disk.room = None
    run.finish()
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and "Traceback" not in err and "Logging error" not in err
    assert [r["step"] for r in lines_of(run.path / "metrics.jsonl")] == list(range(20))
    assert (run.path / "training.log").read_text().count(WARNING) == 1


def test_a_fragment_that_cannot_be_cut_off_is_ended_before_the_next_row(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    disk = Disk(root, monkeypatch)
    run = start(root)
    run.log({"loss": 1.0}, step=0)

    def no_truncate(fd, size):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "ftruncate", no_truncate)
    disk.room = 10
    run.log({"loss": 2.0}, step=1)
    disk.room = None
    monkeypatch.undo()
    run.log({"loss": 3.0}, step=2)
    run.finish()
    data = (run.path / "metrics.jsonl").read_bytes()
    lines = data.split(b"\n")
    assert len(lines[1]) == 10 and lines[1].startswith(b'{"step":1')  # the fragment, on a line of its own
    skipped = Skipped()
    assert [r["step"] for r in iter_records(data, skipped)] == [0, 1, 2] and skipped.lines == 1


def test_run_json_and_summary_leave_no_temp_file_and_are_written_again(tmp_path, monkeypatch, capsys):
    root = tmp_path / "runs"
    disk = Disk(root, monkeypatch)
    run = start(root)
    run.log({"loss": 1.0}, step=0)
    disk.room = 30  # the temp file takes 30 bytes, then the disk refuses
    run._beat()  # the heartbeat thread's work, now
    run._write_summary()
    assert leftovers(run.path) == []
    assert json.loads((run.path / "summary.json").read_text())["rows"] == 0  # the previous one stands, whole
    disk.room = None
    run._beat()
    run.finish()
    assert json.loads((run.path / "summary.json").read_text())["rows"] == 1
    assert json.loads((run.path / "run.json").read_text())["status"] == "finished"
    assert leftovers(run.path) == [] and capsys.readouterr().err.count(WARNING) == 1


def test_a_config_the_disk_refused_at_the_start_is_written_when_it_can_be(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    disk = Disk(root, monkeypatch)
    disk.room = 0
    run = start(root, config={"lr": 0.1})  # the start itself goes on
    assert not (run.path / "config.yaml").exists() and leftovers(run.path) == []
    run.log({"loss": 1.0}, step=0)
    disk.room = None
    run.finish()
    assert (run.path / "config.yaml").read_text() == "lr: 0.1\n"
    assert [r["step"] for r in lines_of(run.path / "metrics.jsonl")] == [0]
    assert runyard.open_run(run.path).config == {"lr": 0.1}


def test_a_checkpoint_the_disk_refuses_is_skipped_without_a_temp_file(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    root = tmp_path / "runs"
    run = start(root)
    run.log({"loss": 1.0}, step=0)
    first = run.save_checkpoint({"w": torch.zeros(4)}, step=0, keep_last=1)
    real_save = torch.save

    def full_disk_save(obj, fh, *args, **kwargs):
        fh.write(b"x" * 100)  # part of the file lands, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full_disk_save)
    assert run.save_checkpoint({"w": torch.zeros(4)}, step=1, keep_last=1) is None
    assert leftovers(run.path) == [] and sorted(os.listdir(run.path / "checkpoints")) == [
        "index.jsonl", "step_00000000.pt"]
    assert first.exists()  # keep_last did not remove the only checkpoint for one that was never written
    monkeypatch.setattr(torch, "save", real_save)
    run.log({"loss": 0.5}, step=1)
    assert run.save_checkpoint({"w": torch.zeros(4)}, step=2, keep_last=1) is not None
    run.finish()
    assert [c.step for c in runyard.open_run(run.path).checkpoints] == [2]
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and "checkpoint of step 1" in err


def test_the_write_path_on_a_good_disk_is_one_write_per_row(tmp_path, monkeypatch):
    """The full-disk handling costs a good disk nothing: no fstat, no extra write, the size kept from returns."""
    run = start(tmp_path / "runs")
    calls = []
    real_write, real_fstat = os.write, os.fstat
    monkeypatch.setattr(os, "write", lambda fd, data: calls.append("write") or real_write(fd, data))
    monkeypatch.setattr(os, "fstat", lambda fd: calls.append("fstat") or real_fstat(fd))
    for step in range(100):
        run.log({"loss": 1.0}, step=step)
    monkeypatch.undo()
    assert calls == ["write"] * 100
    assert run._metrics.size == (run.path / "metrics.jsonl").stat().st_size
    run.finish()


# ----- files damaged before: a cut row with a whole one glued on ----------------------------------------------

ROW_5 = b'{"step":5,"time":1700000005.5,"loss":0.25,"lr":0.0003}'
ROW_6 = b'{"step":6,"time":1700000006.5,"loss":0.125,"lr":0.0003}'


def test_a_cut_row_with_a_whole_one_glued_on_gives_the_whole_one_to_every_reader(tmp_path):
    damaged = b'{"step":4,"time":1700000004.5,"loss":0.5}\n{"step": 5, "loss": 0.' + ROW_6 + b"\n"
    skipped = Skipped()
    assert [r["step"] for r in iter_records(damaged, skipped)] == [4, 6] and skipped.lines == 1
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(damaged)
    assert [r["step"] for r in read_rows(path)] == [4, 6]
    data = metrics_jsonl.load(path, use_cache=False)
    assert data.frame()["step"].tolist() == [4, 6] and data.skipped == 1
    # the app's tail, reading as the file grew: the fragment first, the glued row in a later read
    path.write_bytes(damaged[: damaged.index(ROW_6)])
    tail = MetricsTail(path)
    assert [r["step"] for r in tail.read().rows] == [4]
    with path.open("ab") as fh:
        fh.write(ROW_6 + b"\n")
    chunk = tail.read()
    assert [r["step"] for r in chunk.rows] == [6] and chunk.skipped == 1


def test_a_row_cut_at_any_byte_keeps_the_row_glued_after_it():
    for cut in range(1, len(ROW_5)):
        skipped = Skipped()
        found = list(iter_records(ROW_5[:cut] + ROW_6 + b"\n" + ROW_5 + b"\n", skipped))
        assert [r["step"] for r in found] == [6, 5], ROW_5[:cut]
        assert found[0] == orjson.loads(ROW_6) and skipped.lines == 1


def test_an_inner_dict_of_a_cut_record_is_still_not_a_record():
    index_line = b'{"step":2,"time":2.0,"file":"b.pt","bytes":1,"metrics":{"val/loss":1.5}'
    assert list(iter_records(index_line)) == []
    assert list(iter_records(index_line + b'{"_event":"delete","file":"a.pt","time":3.0}\n')) == [
        {"_event": "delete", "file": "a.pt", "time": 3.0}]


def test_a_held_index_line_is_written_with_the_next_checkpoint(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    disk = Disk(root, monkeypatch)
    run = start(root)
    (run.path / "a.pt").write_bytes(b"a")
    (run.path / "b.pt").write_bytes(b"b")
    run.add_checkpoint(run.path / "a.pt", step=1)  # opens checkpoints/index.jsonl
    disk.room = 5
    run.add_checkpoint(run.path / "b.pt", step=2)
    disk.room = None
    run.finish()
    assert [r["file"] for r in read_records(run.path / "checkpoints" / "index.jsonl")] == ["a.pt", "b.pt"]
    assert [c.step for c in runyard.open_run(run.path).checkpoints] == [1, 2]


# ----- a real full disk ------------------------------------------------------------------------------------------

TRAINING = """
    import errno, json, os, shutil, sys
    import runyard

    disk, out = sys.argv[1], sys.argv[2]
    run = runyard.init("tiny", root=os.path.join(disk, "runs"), console=False, heartbeat_interval=0.2,
                       system_metrics=False, config={"lr": 0.1})
    returned = []

    def log(step):
        run.log({"train/loss": 1.0 / (step + 1), "lr": 0.1 * 0.99 ** step}, step=step)
        returned.append(step)

    for step in range(20):
        log(step)
    filler = os.path.join(disk, "filler")
    with open(filler, "wb", buffering=0) as fh:  # take every byte that is left
        try:
            while True:
                fh.write(b"f" * 512)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    for step in range(20, 400):  # far past the full point: each row is refused or lands partly
        log(step)
        if step % 50 == 0:
            run.logger.info("step %d on a full disk", step)
    run.log_sample("text while full", step=399)
    run.define_metric("train/loss", goal="min")
    checkpoint = None
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        checkpoint = run.save_checkpoint({"w": torch.zeros(20000)}, step=399)
    import time
    time.sleep(0.5)  # heartbeats on the full disk
    os.unlink(filler)  # space comes back
    for step in range(400, 420):
        log(step)
    run.finish()
    shutil.copytree(run.path, os.path.join(out, "run"))
    json.dump({"returned": returned, "torch": torch is not None, "checkpoint": str(checkpoint)},
              open(os.path.join(out, "result.json"), "w"))
"""


def _can_mount_tmpfs(where: Path) -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {where}"],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"a private tmpfs cannot be mounted here: {probe.stderr.strip()}"


@pytest.mark.slow
def test_a_real_full_disk_loses_no_row_and_leaves_no_temp_file(tmp_path):
    disk, out = tmp_path / "disk", tmp_path / "out"
    disk.mkdir()
    out.mkdir()
    why = _can_mount_tmpfs(disk)
    if why:
        pytest.skip(why)
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(TRAINING))
    command = f'mount -t tmpfs -o size=64k tmpfs "{disk}" && exec "{sys.executable}" "{script}" "{disk}" "{out}"'
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", command], cwd=PROJECT, env=child_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    run_dir = out / "run"

    assert result["returned"] == list(range(420))
    rows = lines_of(run_dir / "metrics.jsonl")  # every line whole
    assert [r["step"] for r in rows] == result["returned"]  # each returned row once, in order
    assert leftovers(run_dir) == []
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "finished" and "dropped" not in info
    log = (run_dir / "training.log").read_text()
    assert log.count(WARNING) == 1 and proc.stderr.count(WARNING) == 1
    assert [line.split(" - ")[-1] for line in log.splitlines() if "on a full disk" in line] == \
        [f"step {s} on a full disk" for s in range(50, 400, 50)]
    assert [s["text"] for s in lines_of(run_dir / "samples.jsonl")] == ["text while full"]
    assert json.loads((run_dir / "summary.json").read_text())["goals"] == {"train/loss": "min"}
    if result["torch"]:  # 80 KB of checkpoint cannot fit in 64 KiB: refused, said so, nothing left behind
        assert result["checkpoint"] == "None" and "checkpoint of step 399 not saved" in log
        assert not (run_dir / "checkpoints").exists() or os.listdir(run_dir / "checkpoints") == []
