"""A layout read whole on each change (TensorBoard here) is followed by its new rows only: after the first read
the app gets RowBatches of what was appended, and a Snapshot again when what it read before changed."""

from __future__ import annotations

import math

import numpy as np
import pytest

import runyard
from runyard.tui.live.runstate import LiveRun, RowBatch, Snapshot

from .test_tensorboard_runs import scalar_event, source, write_events


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def append(path, events) -> None:
    """Append `events` to an event file, framed as a writer appends them."""
    from tensorboard.summary.writer.record_writer import RecordWriter

    with path.open("ab") as fh:
        records = RecordWriter(fh)
        for event in events:
            records.write(event.SerializeToString())


def live_of(folder) -> LiveRun:
    return LiveRun(runyard.RunView(source(folder)))


def test_appended_events_arrive_as_row_batches_and_fold_in_like_a_fresh_read(tmp_path):
    folder = tmp_path / "run"
    path = folder / "events.out.tfevents.100.host.1.0"
    write_events(path, [scalar_event(s, 1000.0 + s, loss=1.0 / (s + 1)) for s in range(10)])
    live = live_of(folder)
    first = live.read(full=True)
    assert isinstance(first, Snapshot) and len(first.rows) == 10 and first.tailed is None
    live.apply(first)
    # new rows, a metric that starts now, a NaN: only they come, as rows appended
    append(path, [scalar_event(10, 1010.0, loss=math.nan), scalar_event(11, 1011.0, loss=0.5, acc=0.25),
                  scalar_event(12, 1012.0, acc=0.5)])
    batch = live.read()
    assert isinstance(batch, RowBatch)
    assert batch.steps == [10, 11, 12] and batch.times == [1010.0, 1011.0, 1012.0]
    assert batch.values["loss"][0] == [0, 1] and math.isnan(batch.values["loss"][1][0])
    assert batch.values["acc"] == ([1, 2], [0.25, 0.5]) and batch.nonfinite == {"loss": 1}
    live.apply(batch)
    assert isinstance(live.read(), RowBatch) and not len(live.read())  # nothing new: nothing to fold in
    fresh = live_of(folder)
    fresh.apply(fresh.read(full=True))
    for name in ("loss", "acc"):
        ours, theirs = live.series[name], fresh.series[name]
        assert np.array_equal(ours.steps, theirs.steps) and np.array_equal(ours.times, theirs.times)
        assert np.array_equal(ours.value.view, theirs.value.view, equal_nan=True)
    assert {n: live.nonfinite.get(n, 0) for n in fresh.nonfinite} == fresh.nonfinite and live.last_step() == 12


def test_a_step_that_goes_back_reads_every_series_afresh(tmp_path):
    folder = tmp_path / "run"
    path = folder / "events.out.tfevents.100.host.1.0"
    write_events(path, [scalar_event(s, 1000.0 + s, loss=float(s)) for s in range(10)])
    live = live_of(folder)
    live.apply(live.read(full=True))
    append(path, [scalar_event(5, 1020.0, loss=-1.0)])  # supersedes the loss of steps 5..9, as TensorBoard does
    update = live.read()
    assert isinstance(update, Snapshot)
    live.apply(update)
    assert live.series["loss"].steps.tolist() == [0, 1, 2, 3, 4, 5] and live.restarts == [5]
    # a file replaced by a shorter one is read afresh too
    write_events(path, [scalar_event(s, 2000.0 + s, loss=float(s)) for s in range(3)])
    again = live.read()
    assert isinstance(again, Snapshot) and len(again.rows) == 3


def same_columns(a, b) -> None:
    assert np.array_equal(a.step, b.step) and np.array_equal(a.time, b.time, equal_nan=True)
    assert list(a.values) == list(b.values) and a.restarts == b.restarts
    for name in a.values:
        assert np.array_equal(a.values[name], b.values[name], equal_nan=True)
        assert np.array_equal(a.mask(name), b.mask(name))


def test_a_growing_tensorboard_run_extends_its_columns_as_a_fresh_read_builds_them(tmp_path):
    folder = tmp_path / "run"
    older, path = folder / "events.out.tfevents.100.host.1.0", folder / "events.out.tfevents.200.host.1.0"
    write_events(older, [scalar_event(s, 1000.0 + s, loss=1.0 / (s + 1)) for s in range(5)])
    write_events(path, [scalar_event(5, 1005.0, loss=0.1)])
    run = source(folder)
    before = run.metrics_data()
    kept = {name: values.copy() for name, values in before.values.items()}
    for step, values in [(6, {"loss": math.nan}), (7, {"acc": 0.5}), (8, {"loss": 0.2, "acc": 0.75})]:
        append(path, [scalar_event(step, 1000.0 + step, **values)])
        same_columns(run.metrics_data(), source(folder).metrics_data())
    for name, values in kept.items():  # what was handed out before is as it was
        assert np.array_equal(before.values[name], values, equal_nan=True)
    append(path, [scalar_event(3, 1020.0, loss=-1.0)])  # a step that goes back: built afresh, superseded
    same_columns(run.metrics_data(), source(folder).metrics_data())
    assert run.metrics_data().restarts == [3]
    write_events(path, [scalar_event(9, 2000.0, loss=0.3)])  # replaced: read from its start
    same_columns(run.metrics_data(), source(folder).metrics_data())
    write_events(older, [scalar_event(s, 1000.0 + s, loss=2.0) for s in range(3)])  # an earlier file rewritten
    same_columns(run.metrics_data(), source(folder).metrics_data())


def test_a_rewritten_or_half_written_row_is_read_again_not_kept(tmp_path):
    """A CSV's last line read before its end was written, then ended otherwise; and a file rewritten with the
    same steps but other values: each is a new snapshot, never rows added to stale ones."""
    from runyard.layouts.cs336 import CS336Source
    from runyard.tui.live.runstate import _Seen

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"experiment_name": "p"}')
    rows = "".join(f"{i},{1.7e9 + i},{i},{i}.5\n" for i in range(1, 10))
    (run / "metrics.csv").write_text("step,wallclock_time,elapsed_time,train_loss\n" + rows)
    source = CS336Source(run)
    seen = _Seen.of(source.metrics_data())
    with open(run / "metrics.csv", "a") as fh:
        fh.write("10,1700000010,10,12")
    partial = source.metrics_data()
    assert seen.extended_by(partial) and partial.values["train_loss"][-1] == 12
    seen = _Seen.of(partial)
    with open(run / "metrics.csv", "a") as fh:
        fh.write("3.25\n")
    whole = source.metrics_data()
    assert whole.values["train_loss"][-1] == 123.25 and not seen.extended_by(whole)
    seen = _Seen.of(whole)
    (run / "metrics.csv").write_text("step,wallclock_time,elapsed_time,train_loss\n"
                                     + rows.replace(".5\n", ".75\n") + "10,1700000010,10,123.25\n")
    assert not seen.extended_by(source.metrics_data())
