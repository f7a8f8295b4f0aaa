"""A run killed outright is listed with its real progress: the rows decide, not the summary.json of up to five
seconds before the end (nor the empty one of a run killed in its first seconds)."""

from __future__ import annotations

import json
import os

import pytest

import runyard
from runyard.tui.cli import main
from runyard.writer.run import read_rows
from tests.conftest import start_script

pytestmark = pytest.mark.slow

KILLED_CHILD = """
import sys, runyard
run = runyard.init("killed", root="runs", console=False, system_metrics=False)
first, after = {first}, {after}
for step in range(first):
    run.log({{"loss": 10.0 - step * 0.1, "acc": step / 100}}, step=step)
if {flush}:
    run._write_summary()  # the periodic refresh, as the heartbeat thread does it every five seconds
for step in range(first, first + after):
    run.log({{"loss": 10.0 - step * 0.1, "acc": step / 100}}, step=step)
print(run.path, flush=True)
import time
time.sleep(60)
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")


def _killed(tmp_path, first: int, after: int, flush: bool):
    proc = start_script(tmp_path, KILLED_CHILD.format(first=first, after=after, flush=flush))
    path = proc.stdout.readline().strip()
    assert path, proc.stderr.read()
    proc.kill()
    proc.wait()
    return tmp_path / path


def test_a_run_killed_after_its_last_summary_shows_every_row(tmp_path, capsys):
    run_dir = _killed(tmp_path, 49, 20, flush=True)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["steps"], summary["rows"]) == (48, 49)  # what the writer last said
    assert len(read_rows(run_dir / "metrics.jsonl")) == 69
    (record,) = runyard.scan(tmp_path / "runs")
    info = record.info
    assert info.status == "crashed"  # its pid is gone
    assert (info.last_step, info.rows) == (68, 69)
    loss = record.summary["loss"]
    assert (loss.count, loss.last, loss.min, loss.min_step, loss.last_step) == (69, pytest.approx(3.2),
                                                                                 pytest.approx(3.2), 68, 68)
    rows = read_rows(run_dir / "metrics.jsonl")
    assert info.last_time == rows[-1]["time"] and info.duration == pytest.approx(rows[-1]["time"] - info.created,
                                                                                 abs=1e-3)
    # the same from the cache, and on the command line
    (again,) = runyard.scan(tmp_path / "runs")
    assert (again.info.last_step, again.info.rows, again.summary["loss"].count) == (68, 69, 69)
    assert main(["ls", str(tmp_path / "runs"), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["info"]["last_step"] == 68 and listed["summary"]["loss"]["last"] == pytest.approx(3.2)


def test_a_run_killed_in_its_first_seconds_is_not_blank(tmp_path):
    run_dir = _killed(tmp_path, 5, 0, flush=False)
    assert json.loads((run_dir / "summary.json").read_text())["steps"] is None  # written once, at the start
    (record,) = runyard.scan(tmp_path / "runs")
    assert (record.info.last_step, record.info.rows) == (4, 5)
    assert record.summary["loss"].last == pytest.approx(9.6) and record.summary["acc"].count == 5
    assert record.info.last_time is not None and record.info.duration is not None


def test_a_finished_run_is_read_from_its_summary_alone(tmp_path, monkeypatch):
    with runyard.init("done", root=tmp_path / "runs", console=False, system_metrics=False) as run:
        for step in range(10):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    source = runyard.open_run(run.path).source
    monkeypatch.setattr(type(source), "metrics_data", lambda self: pytest.fail("the rows were read"))
    (record,) = runyard.scan(tmp_path / "runs")
    assert (record.info.last_step, record.info.rows, record.summary["loss"].count) == (9, 10, 10)


def test_a_summary_older_than_the_rows_gives_way_to_them(tmp_path):
    with runyard.init("appended", root=tmp_path / "runs", console=False, system_metrics=False) as run:
        run.log({"loss": 1.0}, step=0)
    with open(run.path / "metrics.jsonl", "a") as fh:  # a row after the end: the summary no longer speaks for all
        fh.write('{"step": 1, "time": 2000000000.0, "loss": 0.5}\n')
    summary = run.path / "summary.json"
    st = summary.stat()
    os.utime(run.path / "metrics.jsonl", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    (record,) = runyard.scan(tmp_path / "runs")
    assert (record.info.last_step, record.info.rows, record.summary["loss"].last) == (1, 2, 0.5)
