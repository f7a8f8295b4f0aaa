"""One clock per run: start, end, duration and steps/s of a run come from its own rows' wallclock, so a resumed
run's numbers agree with its rows."""

from __future__ import annotations

import json

import pytest

import runyard
from runyard.tui.cli import main
from tests import resumed_cs336


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")


def test_a_resumed_cs336_run_starts_and_ends_with_its_rows(tmp_path, capsys):
    folder = resumed_cs336.make(tmp_path / "runs" / "resumed")
    view = runyard.open_run(folder)
    df = view.metrics()
    info = view.info
    assert info.status == "finished"
    assert info.created == df["time"].min() == resumed_cs336.START
    assert info.ended == df["time"].max() == resumed_cs336.LAST_TIME
    assert info.duration == resumed_cs336.LAST_TIME - resumed_cs336.START == 4225.0
    assert df["elapsed"].iloc[-1] == info.duration  # the curve's time axis and the listing agree
    assert info.last_step / info.duration == pytest.approx(5000 / 4225)  # the listing's steps/s
    (record,) = runyard.scan(tmp_path / "runs")
    assert (record.info.created, record.info.ended, record.info.duration) == (info.created, info.ended, 4225.0)
    assert main(["ls", str(tmp_path / "runs"), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["info"]["duration"] == 4225.0


def test_an_unfinished_cs336_run_has_no_end_but_its_last_row(tmp_path):
    folder = resumed_cs336.make(tmp_path / "runs" / "resumed")
    (folder / "summary.json").unlink()
    info = runyard.open_run(folder).info
    assert info.status == "interrupted" and info.last_time == resumed_cs336.LAST_TIME
    assert info.duration == 4225.0


def test_the_fixture_runs_keep_their_times():
    from tests.test_layouts import FIX

    info = runyard.open_run(FIX / "cs336/runs/baseline_17m").info
    assert (info.created, info.ended, info.duration) == (1711290000.0, 1711291250.0, 1250.0)
