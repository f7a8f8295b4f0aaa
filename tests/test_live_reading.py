"""The app's headless reading parts: read lanes, the following policy, and a LiveRun read on one thread and folded
in on another."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import runyard
from runyard.tui.live.following import INFO, RECORD, Following, rereads
from runyard.tui.live.lanes import Lanes
from runyard.tui.live.runstate import LiveRun, RowBatch, Snapshot
from tests.test_regular_files import fifo_in_place_of


def eventually(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


# ----- lanes ----------------------------------------------------------------------------------------------------

def test_a_lane_runs_one_job_at_a_time_in_order():
    lanes = Lanes(limit=4)
    gate, order, overlap = threading.Event(), [], []
    running = threading.Semaphore(1)

    def job(name: str) -> None:
        if not running.acquire(blocking=False):
            overlap.append(name)
            return
        try:
            if name == "first":
                gate.wait(5)
            order.append(name)
        finally:
            running.release()

    lanes.submit("run", lambda: job("first"), tag="load")
    lanes.submit("run", lambda: job("second"), tag="poll")
    lanes.submit("run", lambda: job("third"), tag="info")
    time.sleep(0.05)
    assert order == [] and lanes.busy("run")
    gate.set()
    eventually(lanes.idle)
    assert order == ["first", "second", "third"] and overlap == []


def test_a_job_asked_for_again_while_waiting_is_run_once_the_newest():
    lanes = Lanes()
    gate, ran = threading.Event(), []
    lanes.submit("run", lambda: gate.wait(5), tag="load")
    assert lanes.submit("run", lambda: ran.append(1), tag="poll")
    assert not lanes.submit("run", lambda: ran.append(2), tag="poll")  # took the waiting one's place
    gate.set()
    eventually(lanes.idle)
    assert ran == [2]


def test_a_stuck_job_holds_one_thread_and_never_the_others_turn():
    lanes = Lanes(limit=1, stuck_after=0.2)
    stuck, done = threading.Event(), []
    lanes.submit("hung mount", lambda: stuck.wait(10), file="metrics.jsonl")
    lanes.submit("other", lambda: done.append("other"))
    time.sleep(0.05)
    assert done == []  # at the limit: the other run waits its turn
    time.sleep(0.25)
    lanes.pump()  # the app's tick: the first job is stuck now, its place is free
    eventually(lambda: done == ["other"])
    waiting = lanes.waiting("hung mount")
    assert waiting is not None and waiting.file == "metrics.jsonl" and waiting.seconds >= 0.2
    lanes.submit("hung mount", lambda: done.append("again"))  # queued behind the stuck one, no second thread
    time.sleep(0.05)
    assert done == ["other"]
    stuck.set()
    eventually(lanes.idle)
    assert done == ["other", "again"]


def test_lanes_run_on_daemon_threads_and_drain_at_exit():
    lanes = Lanes()
    seen: list[bool] = []
    gate = threading.Event()
    lanes.submit("a", lambda: (seen.append(threading.current_thread().daemon), gate.wait(0.2)))
    eventually(lambda: seen)
    assert seen == [True]
    assert lanes.drain(5.0) and lanes.idle()
    assert not lanes.submit("a", lambda: None)  # stopped


# ----- following ------------------------------------------------------------------------------------------------

def test_following_keeps_running_open_and_recently_previewed_runs():
    policy = Following(kept=2)
    policy.update({"a": "running", "b": "stalled", "c": "finished", "d": "failed", "e": "finished"}, open_keys={"c"})
    assert policy.running == {"a", "b"} and policy.watched == {"a", "b", "c"}
    for key in ("d", "e", "d"):
        policy.previewed(key)
    assert policy.kept_loaded == {"a", "b", "c", "d", "e"}
    policy.previewed("c")
    assert "e" not in policy.kept_loaded  # the oldest preview beyond `kept` goes
    policy.update({"a": "finished", "c": "finished"}, open_keys=())
    assert policy.running == frozenset() and policy.watched == frozenset()
    assert policy.kept_loaded == {"c"}  # gone runs are forgotten; c was previewed last


@pytest.mark.parametrize(("names", "loaded", "tailed", "series", "record"), [
    ({"metrics.jsonl"}, True, "metrics.jsonl", True, None),          # rows only
    ({"summary.json"}, True, "metrics.jsonl", False, None),           # the rows say it already
    ({"training.log"}, True, "metrics.jsonl", False, None),           # the log view reads that itself
    ({"run.json", "metrics.jsonl"}, True, "metrics.jsonl", True, INFO),  # heartbeat: run.json alone
    ({"config.yaml", "run.json"}, True, "metrics.jsonl", False, RECORD),
    ({"index.jsonl"}, True, "metrics.jsonl", False, RECORD),
    ({"metrics.jsonl"}, False, None, False, RECORD),                  # a run not loaded: its listing
    ({"log_run_20240101_000000.txt"}, True, None, True, RECORD),      # no incremental reader: all again
])
def test_what_a_change_rereads(names, loaded, tailed, series, record):
    wanted = rereads(names, loaded=loaded, tailed=tailed)
    assert (wanted.series, wanted.record) == (series, record)


# ----- a LiveRun across threads ---------------------------------------------------------------------------------

def test_live_run_reads_on_one_thread_and_folds_in_on_another(tmp_path):
    run = runyard.init("split", root=tmp_path, console=False, system_metrics=False)
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    live = LiveRun(runyard.open_run(run.path))
    assert live.placeholder() == "loading…"
    first = live.read()
    assert isinstance(first, Snapshot) and first.tailed == "metrics.jsonl"
    assert live.series == {} and not live.loaded  # nothing shown until folded in
    live.apply(first)
    assert live.loaded and live.placeholder() is None and live.last_step() == 2
    run.log({"loss": 0.1, "acc": 0.9}, step=3)
    run.log({"loss": float("nan")}, step=4)
    batch = live.read()
    assert isinstance(batch, RowBatch) and len(batch) == 2
    assert batch.values["acc"] == ([0], [0.9])  # ids count from the batch's first row
    assert live.last_step() == 2  # still: only `apply` changes what the screens see
    assert live.apply(batch) == 2
    assert live.last_step() == 4 and live.nonfinite["loss"] == 1
    assert np.array_equal(live.series["acc"].steps, [3.0])
    assert live.series["loss"].value.size == 5
    live.close()
    run.finish()


def test_live_run_of_a_fifo_metrics_file_waits_for_it(tmp_path):
    run = runyard.init("piped", root=tmp_path, console=False, system_metrics=False)
    run.log({"loss": 1.0}, step=0)
    run.finish()
    fifo_in_place_of(run.path / "metrics.jsonl")
    live = LiveRun(runyard.open_run(run.path))
    update = live.read()  # returns at once: a FIFO is never opened for a blocking read
    live.apply(update)
    assert live.waiting == "metrics.jsonl" and live.placeholder() == "waiting for metrics.jsonl"
    assert live.series == {} and live.error is None
