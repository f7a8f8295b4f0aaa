"""Runs written by hosts whose clocks are off: liveness is judged from what this machine observes (the write times
the filesystem gives the run's files, and whether its heartbeat advances between our looks), never by setting the
run's own stamps against our clock; a run whose clock visibly differs from ours is shown, and says so."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

import runyard
from runyard import liveness
from runyard.contract import iso_now
from runyard.model import CRASHED, FINISHED, INTERRUPTED, RUNNING
from runyard.tui.app import RunyardApp
from runyard.tui.cli import main
from runyard.tui.formatting import CLOCK_MARK
from runyard.tui.widgets.runs_table import cells_of
from tests.test_app import table, wait_for

HOUR = 3600.0


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    liveness.SEEN.clear()


def write_run(root: Path, name: str, *, ahead: float, written_ago: float, status: str = "running",
              beat: float = 0.0) -> Path:
    """A runyard/1 folder as a writer on another host left it: its clock `ahead` seconds ahead of ours (negative:
    behind), its last write `written_ago` seconds ago by our clock; `beat` moves its last heartbeat on."""
    folder = root / f"{name}_20261130_000000"
    folder.mkdir(parents=True, exist_ok=True)
    written = time.time() - written_ago
    theirs = written + ahead  # what their clock read at that moment
    start = theirs - 600 - beat
    rows = [{"step": s, "time": start + 60 * s, "loss": 1.0 / (s + 1)} for s in range(10)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    info = {"format": "runyard/1", "id": name, "name": name, "status": status, "created": iso_now(start),
            "ended": iso_now(theirs) if status != RUNNING else None, "heartbeat": iso_now(theirs),
            "heartbeat_interval": 10.0, "host": "another-host", "pid": 4242, "tags": [], "restarts": []}
    (folder / "run.json").write_text(json.dumps(info))
    for path in (folder / "metrics.jsonl", folder / "run.json"):
        os.utime(path, (written, written))
    return folder


def write_log(root: Path, name: str, *, ahead: float, written_ago: float) -> Path:
    """A plain text log whose lines are stamped by a clock `ahead` seconds off ours, last written `written_ago`
    seconds ago."""
    written = time.time() - written_ago
    theirs = written + ahead
    log = root / name / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    stamp = lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))  # noqa: E731
    log.write_text("".join(f"{stamp(theirs - 50 + 10 * i)},000 - INFO - step {i}: loss={1 / (i + 1):.3f}\n"
                           for i in range(6)))
    os.utime(log, (written, written))
    return log


def status_of(root: Path, name: str, **scan: float) -> runyard.RunRecord:
    (record,) = [r for r in runyard.scan(root, **scan) if r.info.name == name]
    return record


# ----- a clock ahead of ours ---------------------------------------------------------------------------------

def test_a_dead_run_whose_clock_is_two_hours_ahead_is_not_running(tmp_path):
    """Its heartbeat stamp lies an hour in our future; its files were last written an hour ago."""
    root = tmp_path / "runs"
    write_run(root, "ahead_dead", ahead=2 * HOUR, written_ago=HOUR)
    write_log(root, "ahead_log", ahead=2 * HOUR, written_ago=HOUR)
    record = status_of(root, "ahead_dead")
    assert record.info.status == CRASHED
    assert record.info.clock_ahead == pytest.approx(2 * HOUR, abs=1)
    assert status_of(root, "train").info.status == INTERRUPTED
    assert status_of(root, "train").info.clock_ahead == pytest.approx(2 * HOUR, abs=2)  # its last line's stamp
    assert runyard.scan(root, use_cache=False)[0].info.status == CRASHED  # cached or read afresh alike


def test_a_live_run_whose_clock_is_ahead_is_running_while_its_heartbeat_advances(tmp_path):
    root = tmp_path / "runs"
    folder = write_run(root, "ahead_live", ahead=2 * HOUR, written_ago=2)
    record = status_of(root, "ahead_live")
    assert record.info.status == RUNNING and record.info.clock_ahead == pytest.approx(2 * HOUR, abs=1)
    write_run(root, "ahead_live", ahead=2 * HOUR, written_ago=0, beat=10)  # the next heartbeat
    assert status_of(root, "ahead_live").info.status == RUNNING
    # it stops: 31 s later by our clock its files are as they were
    assert status_of(root, "ahead_live", now=time.time() + 31).info.status == CRASHED
    assert (folder / "run.json").exists()


def test_a_heartbeat_that_stops_advancing_is_seen_whatever_the_file_server_clock_says(tmp_path):
    """On NFS the write times come from the server; a server clock two hours ahead dates every write in our
    future, so write times alone would keep a dead run alive. What this process saw of the run decides: the
    heartbeat did not advance for three intervals of our looking."""
    root = tmp_path / "runs"
    folder = write_run(root, "served", ahead=2 * HOUR, written_ago=-2 * HOUR)  # dated two hours ahead
    t0 = time.time()
    assert status_of(root, "served", now=t0).info.status == RUNNING
    assert status_of(root, "served", now=t0 + 20).info.status == RUNNING
    assert status_of(root, "served", now=t0 + 31).info.status == CRASHED
    # and a heartbeat that moves on after our last look is a live run again, however its writes are dated
    write_run(root, "served", ahead=2 * HOUR, written_ago=-2 * HOUR - 40, beat=40)
    assert status_of(root, "served", now=t0 + 40).info.status == RUNNING
    assert (folder / "metrics.jsonl").exists()


def test_a_heartbeat_seen_advancing_outweighs_write_times_that_look_old(tmp_path):
    """A file server whose clock runs two hours behind dates each heartbeat two hours back: as long as this
    process sees the heartbeat advance between its looks, the run is live."""
    root = tmp_path / "runs"
    write_run(root, "lagging_server", ahead=0, written_ago=2 * HOUR)
    t0 = time.time()
    assert status_of(root, "lagging_server", now=t0).info.status == CRASHED  # a one-shot look: nothing else to go by
    write_run(root, "lagging_server", ahead=0, written_ago=2 * HOUR - 10, beat=10)
    assert status_of(root, "lagging_server", now=t0 + 10).info.status == RUNNING
    assert status_of(root, "lagging_server", now=t0 + 45).info.status == CRASHED  # and stops advancing


# ----- a clock behind ours -----------------------------------------------------------------------------------

def test_a_run_whose_clock_is_two_hours_behind_is_judged_by_its_writes(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "behind", ahead=-2 * HOUR, written_ago=2)
    write_log(root, "behind_log", ahead=-2 * HOUR, written_ago=2)
    record = status_of(root, "behind")
    assert record.info.status == RUNNING  # its heartbeat stamp is two hours old, its write is not
    assert record.info.clock_ahead == pytest.approx(-2 * HOUR, abs=1)
    assert status_of(root, "train").info.status == RUNNING
    write_run(root, "behind", ahead=-2 * HOUR, written_ago=60)
    write_log(root, "behind_log", ahead=-2 * HOUR, written_ago=liveness.STALE_AFTER + 60)
    record = status_of(root, "behind")
    assert record.info.status == CRASHED
    assert record.info.clock_ahead is None  # a dead run's old stamps say nothing of a clock (it may be a copy)
    assert status_of(root, "train").info.status == INTERRUPTED


def test_a_copied_old_log_is_still_not_taken_for_a_live_run(tmp_path):
    """Its file is new, its lines three days old: further apart than any two clocks, a copy, not a clock."""
    root = tmp_path / "runs"
    write_log(root, "copied", ahead=-3 * 24 * HOUR, written_ago=1)
    record = status_of(root, "train")
    assert record.info.status == INTERRUPTED and record.info.clock_ahead is None


# ----- shown, not hidden ---------------------------------------------------------------------------------------

def test_a_start_in_the_future_is_flagged(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "future", ahead=2 * HOUR, written_ago=30, status=FINISHED)
    folder = root / "cs336_future"  # a layout without a heartbeat: its rows alone lie in the future
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"experiment_name": "cs336_future"}))
    with open(folder / "metrics.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["step", "wallclock_time", "elapsed_time", "train_loss"])
        for i in range(3):
            out.writerow([i, time.time() + 2 * HOUR + i, i, 1.0 / (i + 1)])
    records = {r.info.name: r for r in runyard.scan(root)}
    assert records["future"].info.status == FINISHED
    assert records["future"].info.clock_ahead == pytest.approx(2 * HOUR, abs=1)
    assert records["cs336_future"].info.clock_ahead == pytest.approx(2 * HOUR, abs=60)
    in_time = write_run(tmp_path / "other", "in_time", ahead=0, written_ago=30, status=FINISHED)
    assert runyard.scan(in_time.parent)[0].info.clock_ahead is None


def test_show_ls_and_the_app_say_the_clock_is_ahead(tmp_path, capsys):
    root = tmp_path / "runs"
    folder = write_run(root, "future", ahead=2 * HOUR, written_ago=30, status=FINISHED)
    write_run(root, "in_time", ahead=0, written_ago=30, status=FINISHED)
    assert main(["show", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "clock ahead by 2h00m" in out.splitlines()[0]
    assert main(["ls", str(root), "-o", "table"]) == 0
    rows = {name: line for line in capsys.readouterr().out.splitlines() for name in ("future", "in_time")
            if f" {name} " in line}
    assert CLOCK_MARK in rows["future"] and CLOCK_MARK not in rows["in_time"]


async def test_the_app_marks_a_run_whose_clock_is_ahead(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "future", ahead=2 * HOUR, written_ago=30, status=FINISHED)
    write_run(root, "in_time", ahead=0, written_ago=30, status=FINISHED)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 2)
        status = {f.record.info.name: "".join(text for text, _ in cells_of(f)[1]) for f in table(app).facts.values()}
        assert status == {"future": f"✓ finished {CLOCK_MARK}", "in_time": "✓ finished"}


def test_the_info_tab_dates_the_heartbeat_by_this_machine_and_names_the_offset(tmp_path):
    from runyard.tui.live.details import info_rows

    root = tmp_path / "runs"
    folder = write_run(root, "ahead_info", ahead=2 * HOUR, written_ago=HOUR)
    rows = dict(info_rows(runyard.open_run(folder)))
    assert rows["heartbeat"].endswith("(1h00m ago)"), rows["heartbeat"]  # not "-1h00m": the write, not the stamp
    assert rows["clock"] == "the run's host clock is 2h00m ahead of ours"
