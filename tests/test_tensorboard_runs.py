"""TensorBoard runs as TensorBoard shows them: restarts superseding what they wrote over, one run however its
writer spread it over sub-folders, one clock from the data's own wall time, and curves chosen before final figures.

Restarts are cross-checked against tensorboard's own `EventAccumulator`; spread runs are written by torch's
`SummaryWriter` (tensorboardX's nesting is written here with tensorboard's own event writer).
"""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import runyard
from runyard import main_metrics
from runyard.layouts import tensorboard as tb
from runyard.model import FINISHED, MetricSummary
from runyard.reading.records import settle_status

CASES = Path(__file__).parent / "fixtures" / "cases" / "reading"
RESTART_CASE = CASES / "tb_restart_purge" / "run"
SPREAD = Path(__file__).parent / "fixtures" / "tensorboard" / "torch_spread" / "run"
CHATGOT_RUN = Path(__file__).parent / "fixtures" / "foreign" / "chatgot" / "runs" / "chatgot_small_char_20250324_134501"
T0 = 1735732800.0  # 2025-01-01 12:00 UTC: when the committed spread fixture's data says it ran, for 90 minutes


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def source(folder: Path) -> tb.TensorBoardRun:
    """The one run `detect` finds in `folder`."""
    detection = tb.detect(folder, os.listdir(folder))
    assert detection is not None and len(detection.runs) == 1
    return detection.runs[0]


def writer(folder: Path, **kwargs):
    """A torch SummaryWriter on `folder`."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(folder), **kwargs)


def points(run: tb.TensorBoardRun) -> dict[str, list[tuple[int, float, float]]]:
    """(step, wall time, value) per metric, as the reader's frame holds them."""
    df = run.metrics()
    out = {}
    for tag in df.columns[2:]:
        rows = df[df[tag].notna()]
        out[tag] = list(zip(rows["step"].tolist(), rows["time"].tolist(), rows[tag].tolist(), strict=True))
    return out


def accumulator_points(folder: Path) -> dict[str, list[tuple[int, float, float]]]:
    """(step, wall time, value) per scalar tag, as tensorboard's EventAccumulator keeps them after its purges."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return {tag: [(e.step, e.wall_time, e.value) for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def write_events(path: Path, events: list, file_version: str | None = "brain.Event:2", wall: float = 1.0) -> None:
    """An event file of `events` (tensorboard `Event` protos), with the given header (None: no header, as
    event files from before file versions were written)."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        records = RecordWriter(fh)
        if file_version is not None:
            start = events[0].wall_time if events else wall
            records.write(event_pb2.Event(wall_time=start, file_version=file_version).SerializeToString())
        for event in events:
            records.write(event.SerializeToString())


def scalar_event(step: int, wall: float, **values: float):
    """One event holding a simple value per keyword (tag: value)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2

    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=t, simple_value=v) for t, v in values.items()])
    return event_pb2.Event(step=step, wall_time=wall, summary=summary)


# --- restarts: what a restart wrote over is superseded, and where it restarted is kept --------------------------


def test_the_restart_case_shows_what_tensorboard_shows():
    run = source(RESTART_CASE)
    shown = points(run)
    loss = shown["loss"]
    assert len(loss) == 15
    assert [step for step, _, _ in loss] == list(range(0, 150, 10))
    # Steps 50-90 are the second life's (written from 1795421350 on), the first life's are gone.
    assert all(wall >= 1795421350.0 for step, wall, _ in loss if step >= 50)
    assert shown == accumulator_points(RESTART_CASE)
    info = run.read_info()
    assert (info.rows, info.last_step, info.restarts, info.restarts_at) == (15, 140, 1, [50])


def test_the_restart_is_kept_through_the_scan_cache_and_open_run(tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(RESTART_CASE, root / "run")
    for _ in range(2):  # read, then from the cache
        (record,) = runyard.scan(root)
        assert (record.info.restarts_at, record.info.rows, record.summary["loss"].count) == ([50], 15, 15)
    view = runyard.open_run(root / "run")
    assert view.info.restarts_at == [50]
    assert view.series("loss")["step"].tolist() == list(range(0, 150, 10))


def test_a_purge_step_restart_matches_the_event_accumulator(tmp_path):
    with writer(tmp_path) as w:
        for step in range(100):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            if step % 10 == 0:
                w.add_scalar("val/acc", step / 100, step)
            if step in (0, 50, 90):
                w.add_text("samples", f"first life at {step}", step)
    # The next second, as any real restart is: within one second the two file names differ only in the writer's
    # process-wide counter, and the accumulator sorts them as text (".10" before ".9"), misordering the lives.
    time.sleep(1.05 - time.time() % 1)
    with writer(tmp_path, purge_step=60) as w:
        for step in range(60, 150):
            w.add_scalar("loss", 2.0 / (step + 1), step)
            if step % 25 == 0:
                w.add_scalar("val/acc", step / 200, step)
            if step in (60, 100):
                w.add_text("samples", f"second life at {step}", step)
    run = source(tmp_path)
    shown = points(run)
    assert shown == accumulator_points(tmp_path)
    assert [s for s, _, _ in shown["loss"]] == list(range(150))
    # val/acc: the first life's 0-50, then the second life's 75, 100, 125 (its 60s were purged, not relogged)
    assert [s for s, _, _ in shown["val/acc"]] == [0, 10, 20, 30, 40, 50, 75, 100, 125]
    samples = run.samples()  # text follows the rule scalars do: the first life's sample at 90 is superseded
    assert [s.step for s in samples] == [0, 50, 60, 100]
    assert [s.extra["tag"] for s in samples] == ["samples"] * 4
    assert run.read_info().restarts_at == [60]


def test_steps_that_go_back_supersede_like_the_accumulators_out_of_order_purge(tmp_path):
    # The accumulator purges on out-of-order steps, tag by tag, in files without a version-2 header (a header
    # event at step 0 would reset its notion of the latest step, so these have none).
    first = [scalar_event(s, 1000.0 + s, loss=1.0 / (s + 1), acc=s / 100) for s in range(20)]
    second = [scalar_event(s, 2000.0 + s, loss=0.5 / (s + 1), acc=s / 50) for s in range(12, 30)]
    write_events(tmp_path / "events.out.tfevents.1000.host.1.0", first, None)
    write_events(tmp_path / "events.out.tfevents.2000.host.1.0", second, None)
    run = source(tmp_path)
    shown = points(run)
    assert shown == accumulator_points(tmp_path)
    assert [s for s, _, _ in shown["loss"]] == list(range(30))
    assert all(wall >= 2000 for s, wall, _ in shown["loss"] if s >= 12)
    assert run.read_info().restarts_at == [12]


def test_steps_that_go_back_in_torch_files_are_superseded_too(tmp_path):
    # torch writes version-2 files: the accumulator then purges on START only and would draw the zigzag, but
    # TensorBoard's data server (its default reader) drops a tag's points at or after a step it goes back to.
    with writer(tmp_path) as w:
        for step in range(10):
            w.add_scalar("loss", 1.0, step, walltime=100.0 + step)
    time.sleep(0.01)
    with writer(tmp_path) as w:  # resumed without purge_step
        for step in range(6, 12):
            w.add_scalar("loss", 0.5, step, walltime=200.0 + step)
    run = source(tmp_path)
    assert points(run)["loss"] == [(s, 100.0 + s, 1.0) for s in range(6)] + [(s, 200.0 + s, 0.5) for s in range(6, 12)]
    info = run.read_info()
    assert (info.rows, info.restarts_at) == (12, [6])
    assert (info.created, info.last_time) == (100.0, 211.0)


def test_a_tag_that_goes_back_keeps_the_other_tags_of_its_rows(tmp_path):
    events = [scalar_event(s, 10.0 + s, a=float(s), b=float(s)) for s in range(10)]
    events += [scalar_event(s, 30.0 + s, a=-float(s)) for s in range(5, 8)]  # only `a` restarts, at 5
    write_events(tmp_path / "events.out.tfevents.1.host", events)
    run = source(tmp_path)
    shown = points(run)
    assert [(s, v) for s, _, v in shown["a"]] == [(s, float(s)) for s in range(5)] + [(s, -float(s)) for s in (5, 6, 7)]
    assert [s for s, _, _ in shown["b"]] == list(range(10))  # rows 5-9 stay, holding `b` only
    df = run.metrics()
    assert len(df) == 13 and df["a"].notna().sum() == 8
    assert run.read_info().restarts_at == [5]


def test_a_step_logged_twice_without_going_back_keeps_both(tmp_path):
    with writer(tmp_path) as w:
        for value in (1.0, 2.0, 3.0):
            w.add_scalar("loss", value)  # no step given: every point at step 0
    run = source(tmp_path)
    assert [v for _, _, v in points(run)["loss"]] == [1.0, 2.0, 3.0]
    assert run.read_info().restarts_at == []


def test_a_first_writers_purge_step_restarts_nothing(tmp_path):
    with writer(tmp_path, purge_step=0) as w:
        for step in range(5):
            w.add_scalar("loss", 1.0, step)
    info = source(tmp_path).read_info()
    assert (info.rows, info.restarts, info.restarts_at) == (5, 0, [])


def test_restarts_at_the_highest_steps_there_are():
    big = (1 << 63) - 1
    steps = np.array([0, 5, big, 3, big], dtype=np.int64)
    no_cut = np.zeros(len(steps), dtype=bool)
    stands, back = tb._series_stands(steps, no_cut, np.full(len(steps), big, dtype=np.int64))
    assert stands.tolist() == [True, False, False, True, True]
    assert back == [3]


# --- one run, however a writer spread it --------------------------------------------------------------------


def test_the_committed_torch_run_is_one_run(tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(SPREAD.parent, root)
    (record,) = runyard.scan(root)
    assert record.info.path == root / "run"
    assert record.config == {"lr": 0.001, "batch_size": 32, "optimizer": "adam"}
    assert list(record.summary) == ["train/loss", "loss/train", "loss/val", "hparam/final_loss"]
    assert record.summary["loss/val"].count == 4 and record.summary["loss/val"].last == pytest.approx(1.3)
    assert record.summary["hparam/final_loss"].last == pytest.approx(1.1)
    view = record.open()
    assert [(s.text, s.step, s.extra) for s in view.samples()] == [("once upon a time", 90, {"tag": "samples"})]


def test_add_scalars_and_add_hparams_folders_belong_to_the_run_that_wrote_them(tmp_path):
    root = tmp_path / "runs"
    with writer(root / "exp") as w:
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalars("loss", {"train": 1.0 / (step + 1), "val": 2.0 / (step + 1)}, step)
            w.add_scalars("eval/acc", {"top1": step / 10}, step)
        w.add_text("notes", "hello", 4)
        w.add_hparams({"lr": 0.1, "layers": 4}, {"hparam/best": 0.25})
    folders = sorted(p.name for p in (root / "exp").iterdir() if p.is_dir())
    assert folders[1:] == ["eval_acc_top1", "loss_train", "loss_val"]
    assert float(folders[0]) == pytest.approx(time.time(), abs=600)  # add_hparams': named by time.time()
    detection = tb.detect(root / "exp", os.listdir(root / "exp"))
    assert sorted(detection.claimed) == folders
    (record,) = runyard.scan(root)
    assert record.config == {"lr": 0.1, "layers": 4}
    assert sorted(record.summary) == ["eval/acc/top1", "hparam/best", "loss", "loss/train", "loss/val"]
    assert record.summary["loss/val"].count == 5 and record.summary["loss/val"].last == pytest.approx(0.4)
    assert record.summary["eval/acc/top1"].last == pytest.approx(0.4)
    assert [s.extra["tag"] for s in record.open().samples()] == ["notes"]


def test_tensorboardx_nests_add_scalars_folders_and_they_belong_to_the_run_too(tmp_path):
    run_dir = tmp_path / "runs" / "exp"
    write_events(run_dir / "events.out.tfevents.100.host", [scalar_event(s, 100.0 + s, lr=0.1) for s in range(3)])
    for key, scale in (("train", 1.0), ("val", 2.0)):  # tensorboardX: <run>/<main tag>/<key>, tag <main tag>
        write_events(run_dir / "loss" / key / "events.out.tfevents.100.host",
                     [scalar_event(s, 100.0 + s, loss=scale * s) for s in range(3)])
    write_events(run_dir / "a" / "b" / "k" / "events.out.tfevents.100.host", [scalar_event(0, 100.0, **{"a/b": 7.0})])
    (record,) = runyard.scan(tmp_path / "runs")
    assert sorted(record.summary) == ["a/b/k", "loss/train", "loss/val", "lr"]
    assert record.summary["loss/val"].last == 4.0


def test_a_nested_run_of_its_own_stays_a_run(tmp_path):
    root = tmp_path / "runs"
    with writer(root / "sweep") as w:
        w.add_scalar("trials", 2, 0)
    for seed in (0, 1):
        with writer(root / "sweep" / f"seed{seed}") as w:
            for step in range(3):
                w.add_scalar("loss", 1.0 + seed, step)
    records = runyard.scan(root)
    assert sorted(r.info.name for r in records) == ["seed0", "seed1", "sweep"]
    assert all(list(r.summary) == ["loss"] for r in records if r.info.name != "sweep")


def test_tensorflows_hparams_trials_under_their_experiment_stay_runs(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp

    def hparams_event(pb) -> event_pb2.Event:
        return event_pb2.Event(wall_time=50.0, summary=summary_pb2.Summary.FromString(pb.SerializeToString()))

    root = tmp_path / "hparam_tuning"
    config = hp.hparams_config_pb(hparams=[hp.HParam("units")], metrics=[hp.Metric("accuracy")])
    write_events(root / "events.out.tfevents.50.host", [hparams_event(config)])
    for units in (16, 32):  # each trial: its session's hparams and its metric, as tf.summary writes them
        trial = [hparams_event(hp.hparams_pb({"units": units})), scalar_event(1, 60.0, accuracy=units / 100)]
        write_events(root / f"run-{units}" / "events.out.tfevents.60.host", trial)
    records = runyard.scan(tmp_path)
    trials = sorted((r.info.name, r.config.get("units")) for r in records if r.info.name.startswith("run-"))
    assert trials == [("run-16", 16), ("run-32", 32)]


def test_a_writer_just_opened_beside_a_run_is_not_listed_as_an_empty_run(tmp_path):
    run_dir = tmp_path / "runs" / "exp"
    write_events(run_dir / "events.out.tfevents.100.host", [scalar_event(s, 100.0 + s, loss=1.0) for s in range(3)])
    (run_dir / "loss_train").mkdir()
    write_events(run_dir / "loss_train" / "events.out.tfevents.101.host", [])  # its header only, so far
    (record,) = runyard.scan(tmp_path / "runs")
    assert list(record.summary) == ["loss"]


# --- one clock: the data's own wall time -----------------------------------------------------------------------


def aged(folder: Path) -> None:
    """Make every file under `folder` ten hours old, so that the run reads as finished."""
    old = time.time() - 36000
    for path in folder.rglob("*"):
        os.utime(path, (old, old))


def test_the_clock_is_the_scalars_wall_time_not_the_hparams_written_later(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(SPREAD, run_dir)
    aged(run_dir)
    info = source(run_dir).read_info()
    assert info.quiet_status == FINISHED and info.ended is None  # the layout reports facts ...
    settle_status(info)  # ... and a quiet run's status (and its end) is derived at read time
    assert info.status == FINISHED
    assert (info.created, info.last_time, info.ended) == (T0, T0 + 5400, T0 + 5400)
    assert info.duration == 5400.0  # 90 minutes, though add_hparams wrote its folder almost two years later
    assert info.last_step / info.duration == pytest.approx(90 / 5400)
    assert info.interval_median == 600.0


def test_the_chatgot_run_lasts_as_long_as_its_data(tmp_path):
    run_dir = tmp_path / CHATGOT_RUN.name
    shutil.copytree(CHATGOT_RUN, run_dir)
    aged(run_dir)
    (record,) = runyard.scan(tmp_path)
    info = record.info
    assert (info.created, info.last_time, info.ended) == (1742823901.0, 1742824531.0, 1742824531.0)
    assert info.duration == 630.0


def test_a_run_without_scalars_starts_when_its_writer_opened(tmp_path):
    with writer(tmp_path):
        pass
    info = source(tmp_path).read_info()
    assert info.created is not None and math.isfinite(info.created)
    assert info.last_time is None and info.ended is None


# --- default curves: curves before one-point and hparam figures ----------------------------------------------


def test_default_curves_of_a_tensorboard_run_are_its_losses_not_its_hparam_figure(tmp_path):
    (record,) = [r for r in runyard.scan(CHATGOT_RUN.parent) if r.info.name == CHATGOT_RUN.name]
    assert "hparam/final_val_loss" in record.summary
    assert main_metrics(record.summary, limit=2) == ["Loss/val", "Loss/train"]
    assert main_metrics(list(record.summary), limit=2) == ["Loss/val", "Loss/train"]


def test_one_point_series_come_after_curves_and_only_when_there_is_no_curve():
    summary = {"val_loss": MetricSummary(count=1), "train_loss": MetricSummary(count=40),
               "acc": MetricSummary(count=40)}
    assert main_metrics(summary, limit=2) == ["train_loss", "acc"]
    assert main_metrics({"val_loss": MetricSummary(count=1)}) == ["val_loss"]
    assert main_metrics({"hparam/acc": 1, "eval/acc": 1}, limit=1) == ["eval/acc"]
    assert main_metrics(["hparam/final_loss", "loss"], limit=2) == ["loss"]
    assert main_metrics(["hparam/final_loss"]) == ["hparam/final_loss"]
