"""Scanning trees: every layout found, archive marked, corrupt input contained, statuses derived, cache safe."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import runyard
from runyard.liveness import derive_status
from runyard.model import RunInfo

FIX = Path(__file__).parent / "fixtures" / "foreign"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def _mini_run(root: Path, name: str, rows: int = 3) -> Path:
    with runyard.init(name, root=root, console=False, system_metrics=False) as run:
        for s in range(rows):
            run.log({"loss": 1.0 / (s + 1)}, step=s)
    return run.path


def test_whole_fixture_tree(tmp_path):
    tree = tmp_path / "history"
    shutil.copytree(FIX, tree)
    records = runyard.scan(tree)
    by_format: dict[str, list] = {}
    for r in records:
        by_format.setdefault(r.info.format, []).append(r)
    counts = {k: len(v) for k, v in by_format.items()}
    assert counts == {"nanogpt": 2, "fpn": 2, "cs336": 2, "tensorboard": 2, "textlog": 1, "wandb": 2}
    # ChatGoT's own `runs/archive/` folder is the user's, not the root's archive: its run is listed as it is ...
    assert [r.info.name for r in records if r.info.archived] == []
    assert "train_old" in [r.info.name for r in records]
    # ... and is runyard's archive only where it is the archive folder of the root being read
    chatgot = [r for r in runyard.scan(tree / "chatgot" / "runs") if r.info.archived]
    assert [r.info.name for r in chatgot] == ["train_old"]
    assert all(r.info.error is None for r in records), [(r.info.path, r.info.error) for r in records]


def test_rescan_uses_the_cache_and_sees_changes(tmp_path):
    root = tmp_path / "runs"
    a = _mini_run(root, "a")
    first = runyard.scan(root)
    cache = list((tmp_path / "cache" / "scan").iterdir())
    assert len(cache) == 1
    again = runyard.scan(root)
    assert [r.info.id for r in again] == [r.info.id for r in first]
    with runyard.init(resume=a, root=root, console=False, system_metrics=False) as run:
        run.log({"loss": 0.01}, step=10)
    _mini_run(root, "b")
    third = runyard.scan(root)
    assert sorted(r.info.name for r in third) == ["a", "b"]
    assert next(r for r in third if r.info.name == "a").summary["loss"].last == 0.01


def test_corrupt_cache_is_rebuilt(tmp_path):
    root = tmp_path / "runs"
    _mini_run(root, "a")
    runyard.scan(root)
    (cache,) = (tmp_path / "cache" / "scan").iterdir()
    cache.write_bytes(b"{not json")
    assert len(runyard.scan(root)) == 1
    cache.write_text(json.dumps({"version": 6, "runs": {str(root): {"sig": 1, "info": "x"}}}))
    assert len(runyard.scan(root)) == 1


def test_unreadable_run_is_marked_not_fatal(tmp_path):
    root = tmp_path / "runs"
    good = _mini_run(root, "good")
    bad = _mini_run(root, "bad")
    (bad / "run.json").write_bytes(b'{"format": "runyard/1", "id": ')  # half-written
    half = _mini_run(root, "half")
    (half / "summary.json").write_bytes(b"\x00\x01garbage")
    with open(good / "metrics.jsonl", "ab") as fh:
        fh.write(b"garbage line\n")
    records = {r.info.name: r for r in runyard.scan(root)}
    assert len(records) == 3
    bad_rec = next(r for n, r in records.items() if n.startswith("bad"))
    assert (bad_rec.info.error and "JSON" in bad_rec.info.error) or "Decode" in bad_rec.info.error
    # an unreadable summary.json is no error: the rows give the summary instead
    assert records["half"].info.error is None and records["half"].summary["loss"].count == 3
    assert records["half"].info.last_step == 2 and records["good"].info.skipped_lines == 1
    view = records["good"].open()
    assert len(view.metrics()) == 3


def test_yaml_with_python_tag_is_not_executed(tmp_path):
    root = tmp_path / "runs"
    run = _mini_run(root, "tagged")
    marker = tmp_path / "pwned"
    (run / "config.yaml").write_text(f"a: !!python/object/apply:os.system ['touch {marker}']\n")
    (record,) = runyard.scan(root)
    assert not marker.exists() and "config" in (record.info.error or "")


def test_symlinks_out_of_the_root_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    _mini_run(outside, "secret")
    root = tmp_path / "runs"
    _mini_run(root, "mine")
    os.symlink(outside, root / "link")
    assert [r.info.name for r in runyard.scan(root)] == ["mine"]


def test_killed_run_shows_crashed_and_quiet_run_stalled():
    now = time.time()
    base = dict(id="x", name="x", path=Path("x"), format="runyard/1", status="running")
    assert derive_status(RunInfo(**base, heartbeat=now - 5, heartbeat_interval=10), now) == "running"
    assert derive_status(RunInfo(**base, heartbeat=now - 31, heartbeat_interval=10), now) == "crashed"
    dead = RunInfo(**base, heartbeat=now, heartbeat_interval=10, host=os.uname().nodename, pid=2**22 + 12345)
    assert derive_status(dead, now) == "crashed"
    quiet = RunInfo(**base, heartbeat=now, heartbeat_interval=10, last_write=now - 600, interval_median=1.0)
    assert derive_status(quiet, now) == "stalled"
    busy = RunInfo(**base, heartbeat=now, heartbeat_interval=10, last_write=now - 30, interval_median=1.0)
    assert derive_status(busy, now) == "running"
    assert derive_status(RunInfo(**{**base, "status": "finished"}, heartbeat=0), now) == "finished"


def test_run_with_a_tensorboard_mirror_is_listed_once(tmp_path):
    root = tmp_path / "runs"
    with runyard.init("mirrored", root=root, console=False, system_metrics=False, tensorboard=True) as run:
        run.log({"loss": 1.0})
    (record,) = runyard.scan(root)
    assert record.info.format == "runyard/1"
