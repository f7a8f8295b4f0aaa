"""A status that depends on the clock is derived at read time, never cached: a run scanned while it was live
ages in a cached listing exactly as a cold read of the same files would (finished, interrupted or crashed, by
each layout's rule), and never sticks at "running" or "stalled"."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import pytest

import runyard
from runyard import liveness
from runyard.model import CRASHED, FINISHED, INTERRUPTED, RUNNING, RunInfo
from runyard.reading.records import settle_status

T = float(int(time.time()) - 30)  # the files' last write; every scan below says what time it is
LATER = T + liveness.STALE_AFTER + 60


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def _stamp(t: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return time.strftime(fmt, time.localtime(t))


def _touch(*paths: Path) -> None:
    for path in paths:
        os.utime(path, (T, T))


def _textlog(root: Path) -> None:
    log = root / "plain" / "train.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"{_stamp(T - 10 + s)},000 - INFO - step {s}: train loss {2 - s / 10}, val loss 2.5\n"
                           for s in range(3)))
    _touch(log)


def _nanogpt(root: Path) -> None:
    folder = root / "nano"
    folder.mkdir()
    log = folder / f"log_run_{_stamp(T - 60, '%Y%m%d_%H%M%S')}.txt"
    lines = ["=" * 80, f"Training run started at {_stamp(T - 60)}", "=" * 80, "Configuration:", "-" * 40,
             "max_iters: 100", "-" * 40]
    lines += [f"[{_stamp(T - 30 + 10 * i)}] step {i * 10}: train loss {3 - i / 10}, val loss {3.1 - i / 10}"
              for i in range(4)]
    log.write_text("\n".join(lines) + "\n")
    _touch(log)


def _cs336(root: Path) -> None:
    folder = root / "cs336_live"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"experiment_name": "cs336_live", "max_steps": 100}))
    with open(folder / "metrics.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["step", "wallclock_time", "elapsed_time", "train_loss"])
        for i in range(4):
            out.writerow([i * 10, T - 30 + 10 * i, 10 * i, 3 - i / 10])
    _touch(folder / "config.json", folder / "metrics.csv")


def _fpn(root: Path) -> None:
    folder = root / "fpn" / f"run_{_stamp(T - 60, '%Y%m%d_%H%M%S')}_lambda_1.00e-03"
    folder.mkdir(parents=True)
    log = folder / f"train_{_stamp(T - 60, '%Y%m%d_%H%M%S')}.log"
    log.write_text("".join(f"{_stamp(T - 20 + 10 * e)},000 - INFO - Epoch {e}/20 - Train Loss: 0.{9 - e}000 - "
                           f"Val Loss: 0.{9 - e}500\n" for e in (1, 2, 3)))
    (folder / "config_used.yaml").write_text("epochs: 20\n")
    (folder / "command_args.txt").write_text("Command: python train.py\n")
    _touch(log, folder / "config_used.yaml", folder / "command_args.txt")


def _tensorboard(root: Path) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder = root / "tb_live"
    writer = EventFileWriter(str(folder))
    for step in range(5):
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))])
        writer.add_event(event_pb2.Event(wall_time=T - 10 + 2 * step, step=step, summary=summary))
    writer.close()
    _touch(*folder.iterdir())


def _wandb(root: Path) -> None:
    pb = pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb is not installed")
    from tests.test_layout_wandb import history_record, run_record, write_run

    folder = write_run(root, [run_record(pb, run_id="live01"), history_record(pb, 0, {"loss": 1.0}),
                              history_record(pb, 1, {"loss": 0.5})], run_id="live01")
    _touch(*folder.iterdir())


EXPECTED_QUIET = {"textlog": INTERRUPTED, "nanogpt": INTERRUPTED, "cs336": INTERRUPTED, "fpn": INTERRUPTED,
                  "tensorboard": FINISHED, "wandb": CRASHED}


def _statuses(records: list[runyard.RunRecord]) -> dict[str, str]:
    return {r.info.format: r.info.status for r in records}


def test_a_run_scanned_while_live_ages_in_the_cache_as_a_cold_read_does(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    for make in (_textlog, _nanogpt, _cs336, _fpn, _tensorboard, _wandb):
        make(root)
    fresh = runyard.scan(root, now=T + 5)
    assert _statuses(fresh) == dict.fromkeys(EXPECTED_QUIET, RUNNING)
    assert all(r.info.error is None for r in fresh), [(r.info.path, r.info.error) for r in fresh]
    (cache,) = (tmp_path / "cache" / "scan").iterdir()
    stored = {entry["format"]: entry["info"]["status"] for entry in json.loads(cache.read_text())["runs"].values()}
    assert stored == dict.fromkeys(EXPECTED_QUIET, RUNNING)  # what the files state: no clock in the cache

    cached = runyard.scan(root, now=LATER)  # no file touched: every run comes from the cache
    cold = runyard.scan(root, now=LATER, use_cache=False)
    assert _statuses(cached) == _statuses(cold) == EXPECTED_QUIET
    for a, b in zip(cached, cold, strict=True):
        assert (a.info.status, a.info.ended, a.info.skipped_lines, a.info.last_step) == \
            (b.info.status, b.info.ended, b.info.skipped_lines, b.info.last_step), a.info.path
    # a run over by the quiet rule ended with its last row
    by_format = {r.info.format: r.info for r in cached}
    assert by_format["cs336"].ended == T
    assert by_format["tensorboard"].ended == pytest.approx(T - 2)
    # and the clock going back says running again: nothing was fixed in the cache
    assert _statuses(runyard.scan(root, now=T + 5)) == dict.fromkeys(EXPECTED_QUIET, RUNNING)


def test_a_runyard_run_whose_heartbeat_stops_turns_crashed_from_the_cache_too(tmp_path):
    root = tmp_path / "runs"
    run = runyard.init("beating", root=root, console=False, system_metrics=False, heartbeat_interval=10)
    run.log({"loss": 1.0}, step=0)
    run._heartbeat.stop()
    beat = json.loads((run.path / "run.json").read_text())["heartbeat"]
    from runyard.contract import parse_iso

    at = parse_iso(beat)
    try:
        assert runyard.scan(root, now=at + 5)[0].info.status == RUNNING
        assert runyard.scan(root, now=at + 31)[0].info.status == CRASHED
        assert runyard.scan(root, now=at + 31, use_cache=False)[0].info.status == CRASHED
    finally:
        run.finish()


def test_settling_twice_counts_a_lost_record_once():
    info = RunInfo(id="a", name="a", path=Path("a"), format="wandb", status=RUNNING, quiet_status=CRASHED,
                   last_write=T, last_time=T - 1, pending_lines=1, skipped_lines=2)
    settle_status(info, now=T + 5)
    assert (info.status, info.skipped_lines, info.ended) == (RUNNING, 2, None)
    for _ in range(2):
        settle_status(info, now=LATER)
    assert (info.status, info.skipped_lines, info.ended) == (CRASHED, 3, T - 1)


def test_layouts_report_facts_and_liveness_alone_decides():
    from tests.test_one_of_each import sources

    quiet_rules = [p.name for p, text in sources().items() if "went_quiet(" in text or "is_stale(" in text]
    assert quiet_rules == ["liveness.py"]
