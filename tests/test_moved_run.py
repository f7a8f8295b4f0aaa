"""A run folder renamed or moved while it trains keeps living: the tracker writes every file into the folder
wherever it went and finishes cleanly, and the reading side finds the run again by its id."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import runyard
from runyard.contract import parse_iso
from runyard.reading.scanner import find_moved
from runyard.writer.run import read_rows
from tests.contract import check_run_dir


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def _heartbeat(folder: Path) -> float:
    return parse_iso(json.loads((folder / "run.json").read_text())["heartbeat"])


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_every_file_follows_a_folder_moved_while_the_run_writes(tmp_path):
    torch = pytest.importorskip("torch")
    root = tmp_path / "runs"
    run = runyard.init("moving", root=root, console=False, system_metrics=False, heartbeat_interval=0.2,
                       tensorboard=True)
    old = run.path
    weights = old / "mine.bin"
    for step in range(10):
        run.log({"train/loss": 3.0 - step * 0.05}, step=step)
    run.log_sample("before", step=9)
    run.save_checkpoint({"w": torch.zeros(2)}, step=9, metrics={"val/loss": 2.0}, best=("val/loss", "min"))
    weights.write_bytes(b"w")
    run.add_checkpoint(weights, step=9, metrics={"val/loss": 2.5})

    (root / "archive").mkdir()
    new = root / "archive" / (old.name + "_moved")
    os.rename(old, new)
    assert run.path == new  # the run knows where its folder is now
    for step in range(10, 20):
        run.log({"train/loss": 3.0 - step * 0.05}, step=step)
    run.log_sample("after", step=19)
    run.logger.info("still here")
    saved = run.save_checkpoint({"w": torch.ones(2)}, step=19, metrics={"val/loss": 1.0}, best="val/loss",
                                keep_last=1)
    assert saved == new / "checkpoints" / "step_00000019.pt" and saved.is_file()
    beat = _heartbeat(new)
    assert _wait(lambda: _heartbeat(new) > beat), "the heartbeat stopped when the folder moved"
    run.finish()

    assert not old.exists(), "nothing may be written at the old place"
    info = check_run_dir(new)
    assert info["status"] == "finished"
    assert [r["step"] for r in read_rows(new / "metrics.jsonl")] == list(range(20))
    summary = json.loads((new / "summary.json").read_text())
    assert (summary["steps"], summary["rows"], summary["status"]) == (19, 20, "finished")
    assert summary["best_checkpoint"]["file"] == "checkpoints/step_00000019.pt"
    assert [json.loads(line)["text"] for line in (new / "samples.jsonl").read_text().splitlines()] == \
        ["before", "after"]
    log = (new / "training.log").read_text()
    assert "still here" in log and "finished" in log.splitlines()[-1]
    assert sorted(p.name for p in (new / "checkpoints").iterdir()) == ["index.jsonl", "step_00000019.pt"]
    (record,) = runyard.scan(root)  # the folder is a runyard run (its TensorBoard mirror is part of it)
    view = record.open()
    assert record.info.path == new and record.info.archived
    # keep_last=1 pruned both older checkpoints, the script's own file among them, in the moved folder
    assert not (new / "mine.bin").exists()
    assert [(c.path.name, c.best) for c in view.checkpoints] == [("step_00000019.pt", True)]
    # the TensorBoard mirror kept writing too, and TensorBoard's own reader agrees
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(new))
    acc.Reload()
    assert [e.step for e in acc.Scalars("train/loss")] == list(range(20))
    assert [e.value for e in acc.Scalars("train/loss")][-1] == pytest.approx(2.05)


def test_a_moved_run_is_found_again_by_its_id_and_stays_running(tmp_path):
    root = tmp_path / "runs"
    run = runyard.init("followed", root=root, console=False, system_metrics=False, heartbeat_interval=0.2)
    try:
        run.log({"loss": 1.0}, step=0)
        other = runyard.init("other", root=root, console=False, system_metrics=False)
        other.finish()
        before = runyard.scan(root)
        old = run.path
        new = old.with_name(old.name + "_renamed")
        os.rename(old, new)
        run.log({"loss": 0.5}, step=1)
        beat = _heartbeat(new)
        assert _wait(lambda: _heartbeat(new) > beat)
        after = runyard.scan(root)
        assert str(old) not in {str(r.info.path) for r in after}
        found = find_moved(after, old, run.id, known={str(r.info.path) for r in before})
        assert found is not None and found.info.path == new
        assert found.info.status == "running" and found.info.rows == 2
        assert find_moved(after, new, run.id) is None  # not moved from there
        assert find_moved(after, old, "no-such-id") is None
    finally:
        run.finish()
    assert json.loads((new / "run.json").read_text())["status"] == "finished"


def test_find_moved_refuses_to_guess_between_twins(tmp_path):
    from runyard.model import RunInfo
    from runyard.reading.records import RunRecord

    def record(path: str) -> RunRecord:
        return RunRecord(RunInfo(id="version_0", name="version_0", path=Path(path), format="tensorboard"))

    twins = [record("/r/a/version_0"), record("/r/b/version_0")]
    assert find_moved(twins, "/r/old/version_0", "version_0") is None
    assert find_moved(twins, "/r/old/version_0", "version_0", known={"/r/a/version_0"}).info.path == \
        Path("/r/b/version_0")


def test_run_path_stays_as_given_until_the_folder_moves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = runyard.init("relative", root="runs", console=False, system_metrics=False)
    try:
        given = run.path
        assert not given.is_absolute() and given.parent == Path("runs")
        os.rename(given, "runs/elsewhere")
        assert run.path == tmp_path / "runs" / "elsewhere"
        run.log({"loss": 1.0}, step=0)
    finally:
        run.finish()
    assert run.path == tmp_path / "runs" / "elsewhere"  # the last place it was written, after the end too
    assert json.loads((tmp_path / "runs" / "elsewhere" / "run.json").read_text())["status"] == "finished"
