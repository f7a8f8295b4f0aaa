"""Managing runs where runs share files, deletion is refused, and a run is still being written."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import runyard

from .conftest import PROJECT, child_env
from .test_clean import ckpt_run, scan


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def test_a_checkpoint_another_run_keeps_as_best_is_never_removed(tmp_path):
    root = tmp_path / "runs"
    owner = ckpt_run(root, "owner", [1.0, 3.0, 2.0])  # best: step 100
    best = owner.path / "checkpoints" / "step_100.pt"
    borrower = runyard.init("borrower", root=root, console=False, system_metrics=False)
    link = borrower.path / "borrowed.pt"
    link.symlink_to(best)
    borrower.add_checkpoint(link, step=0, metrics={"val/loss": 9.0})
    for step in (100, 200):  # the borrower's own later checkpoints make the borrowed one "not among last 1"
        own = borrower.path / f"own_{step}.pt"
        own.write_bytes(b"x" * 4096)
        borrower.add_checkpoint(own, step=step, metrics={"val/loss": 5.0 - step / 100})
    borrower.finish()

    plan = runyard.plan_clean(root, scan(root), runyard.Policy(keep_last=1))
    acted = {os.path.realpath(a.path) for a in plan.actions}
    assert os.path.realpath(best) not in acted
    assert any("kept by" in reason and "best val/loss" in reason
               for k in plan.kept if os.path.realpath(k.path) == os.path.realpath(best) for reason in k.reasons)
    runyard.apply_plan(root, plan)
    assert best.is_file()


def test_a_running_run_is_never_compressed_even_forced(tmp_path):
    root = tmp_path / "runs"
    live = runyard.init("live", root=root, console=False, system_metrics=False)
    live.log({"loss": 1.0}, step=0)
    where = live.path
    try:
        with pytest.raises(runyard.RunError, match="never compressed"):
            runyard.archive_run(root, where, compress=True, force=True)
        assert where.is_dir() and not (root / "archive").exists()
        moved = runyard.archive_run(root, where, force=True)  # plain: a rename the writer follows
        assert moved.is_dir() and not where.exists()
        live.log({"loss": 0.5}, step=1)
    finally:
        live.finish()
    assert len(runyard.open_run(moved).metrics()) == 2


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs setpriv and root")
def test_emptying_an_item_with_a_folder_we_cannot_delete_says_so_and_keeps_it(tmp_path):
    root = tmp_path / "runs"
    run = ckpt_run(root, "doomed", [1.0])
    entry = runyard.move_to_trash(root, run.path, reason="test", kind="run")
    secret = root / ".trash" / "files" / entry.id / "secret"
    secret.mkdir()
    (secret / "f").write_text("theirs")
    os.chown(secret / "f", 65534, 65534)
    os.chown(secret, 65534, 65534)
    secret.chmod(0o700)
    caps = "-dac_override,-dac_read_search,-fowner"
    done = subprocess.run(["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", sys.executable, "-m",
                           "runyard.tui.cli", "trash", "empty", "--root", str(root), "--yes"],
                          cwd=PROJECT, capture_output=True, text=True, env=child_env(), timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "cannot delete all of" in done.stderr and "Traceback" not in done.stderr
    assert [e.id for e in runyard.list_trash(root)] == [entry.id]
    assert (secret / "f").read_text() == "theirs"
    assert runyard.recover(root) == []  # nothing left half done
    shutil.rmtree(secret)
    assert runyard.empty_trash(root) > 0 and runyard.list_trash(root) == []


def test_an_infinite_value_is_never_best_nor_ranked(tmp_path):
    root = tmp_path / "runs"
    ckpt_run(root, "diverged", [2.0, float("-inf"), 1.5, float("nan")])  # best: step 300 (1.5)
    plan = runyard.plan_clean(root, scan(root), runyard.Policy(keep_best=1))
    assert any("best val/loss" in r for k in plan.kept if k.path.name == "step_300.pt" for r in k.reasons)
    assert "step_200.pt" in {a.path.name for a in plan.actions}
    ranking = runyard.checkpoint_ranking(scan(root), "val/loss")
    assert [(e.step, e.value) for e in ranking.ranked] == [(300, 1.5), (100, 2.0)]
    assert sorted(e.reason for e in ranking.unranked) == ["NaN", "infinite"]


def test_archive_compress_names_what_a_tar_cannot_hold(tmp_path):
    root = tmp_path / "runs"
    run = ckpt_run(root, "piped", [1.0])
    os.mkfifo(run.path / "pipe")
    done = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "archive", "--root", str(root), run.path.name,
                           "--compress", "--yes"], cwd=PROJECT, capture_output=True, text=True,
                          env=child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache")), timeout=120)
    assert done.returncode == 0, done.stderr
    assert "not in the archive" in done.stderr and "pipe (fifo)" in done.stderr


def test_one_rule_says_where_an_archived_run_goes_back_to():
    for archived in ("archive/sweep/a", "archive/sweep/a.tar.zst", "archive/sweep/a.manifest.json"):
        assert runyard.archived_origin(Path(archived)) == Path("sweep/a")
    assert runyard.is_archived(Path("archive/a")) and not runyard.is_archived(Path("logs/archive/a"))
