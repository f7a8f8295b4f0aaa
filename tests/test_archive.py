"""Archiving runs of any layout under archive/, plain or compressed, and restoring them exactly; refusals in one
line; `runyard archive` and `runyard restore`."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

import runyard
from bench.soak_moves import fingerprint
from runyard import RunError, archive_run, restore_run
from runyard.tui.cli import main

FOREIGN = Path(__file__).parent / "fixtures" / "foreign"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # nobody there to answer a question


def tarzst_or_skip() -> None:
    pytest.importorskip("runyard.ops.tarzst")


def make_run(root: Path, name: str = "alpha", finish: bool = True, outside: Path | None = None):
    run = runyard.init(name, root=root, config={"lr": 0.1}, console=False, system_metrics=False)
    for step in range(10):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
    folder = run.path
    (folder / "checkpoints").mkdir(exist_ok=True)
    (folder / "checkpoints" / "step_9.pt").write_bytes(os.urandom(50_000))
    os.link(folder / "checkpoints" / "step_9.pt", folder / "checkpoints" / "best.pt")
    os.symlink("checkpoints/step_9.pt", folder / "latest.pt")
    if outside is not None:
        os.symlink(outside, folder / "dataset")
    (folder / "empty").mkdir()
    (folder / "secret.txt").write_text("x")
    os.chmod(folder / "secret.txt", 0o600)
    if finish:
        run.finish()
    return run


def records(root: Path) -> dict[str, bool]:
    """Listed runs: path relative to the root -> archived."""
    return {str(Path(r.info.path).relative_to(root)): r.info.archived for r in runyard.scan(root, use_cache=False)}


def test_plain_archive_is_a_rename_listed_as_archived_and_restored_exactly(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    outside = tmp_path / "dataset.bin"
    outside.write_bytes(b"data")
    run = make_run(root / "proj", outside=outside).path
    before = fingerprint(run)
    where = archive_run(root, run)
    assert where == root.resolve() / "archive" / "proj" / run.name
    assert not run.exists() and fingerprint(where) == before
    assert records(root) == {f"archive/proj/{run.name}": True}
    assert restore_run(root, where) == run.resolve()
    assert fingerprint(run) == before and records(root) == {f"proj/{run.name}": False}
    assert outside.read_bytes() == b"data"
    assert os.listdir(root / ".runyard" / "journal") == [] and os.listdir(root / ".runyard" / "locks") == []


def test_a_running_run_is_refused_unless_forced_and_keeps_writing_when_forced(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root, finish=False)
    with pytest.raises(RunError) as caught:
        archive_run(root, run.path)
    assert str(caught.value) == (f"{root / run.path.name} is still running (pid {os.getpid()}): archive it once "
                                 f"it has ended, or force it")
    where = archive_run(root, run.path, force=True)
    run.log({"train/loss": 0.01}, step=10)  # the writer holds its folder open: rows follow it
    run.finish()
    assert run.path == where
    assert '"step":10,' in (where / "metrics.jsonl").read_text()


def test_refusals(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    a = make_run(root, "alpha").path
    where = archive_run(root, a)
    with pytest.raises(RunError, match="is already archived"):
        archive_run(root, where)
    b = make_run(root, "beta").path
    (root / "archive" / b.name).mkdir(parents=True)
    with pytest.raises(RunError, match=f"{root / 'archive' / b.name} already exists"):
        archive_run(root, b)
    shutil.copytree(where, a, symlinks=True)  # the place it came from is taken again
    with pytest.raises(RunError, match=f"cannot restore .*: {root / a.name} exists"):
        restore_run(root, where)
    with pytest.raises(RunError, match="is not an archived run"):
        restore_run(root, b)
    with pytest.raises(RunError, match="belongs to runyard itself"):
        archive_run(root, root / ".runyard")
    group = root / "group"  # a folder of runs is archived run by run
    for name in ("one", "two"):
        make_run(group, name)
    with pytest.raises(RunError, match=f"^{root / 'group'} is not a run to archive: not a run folder of any"):
        archive_run(root, group)
    shutil.copytree(FOREIGN / "nanogpt", root / "n")
    with pytest.raises(RunError, match=f"^{root / 'n' / 'logs'} is not a run to archive: holds 2 runs"):
        archive_run(root, root / "n" / "logs")
    (tmp_path / "elsewhere" / "x").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", root / "linked")
    with pytest.raises(RunError, match="goes through the symbolic link"):
        archive_run(root, root / "linked" / "x")
    assert (tmp_path / "elsewhere" / "x").is_dir()


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "compressed"])
def test_foreign_runs_a_single_file_and_a_folder(tmp_path: Path, compress: bool) -> None:
    if compress:
        tarzst_or_skip()
    root = tmp_path / "runs"
    shutil.copytree(FOREIGN / "nanogpt", root / "nanogpt")
    shutil.copytree(FOREIGN / "cs336", root / "cs336")
    log = root / "nanogpt" / "logs" / "log_run_20240716_143052.txt"
    folder = root / "cs336" / "runs" / "baseline_17m"
    prints = {p: fingerprint(p) for p in (log, folder)}
    listed = records(root)
    for path in (log, folder):
        where = archive_run(root, path, compress=compress)
        assert not path.exists()
        rel = path.relative_to(root)
        suffix = ".tar.zst" if compress else ""
        assert where == root.resolve() / "archive" / f"{rel}{suffix}"
    after = records(root)
    if not compress:
        assert after == {(f"archive/{k}" if k in ("nanogpt/logs/log_run_20240716_143052.txt",
                                                 "cs336/runs/baseline_17m") else k): (k in (
                          "nanogpt/logs/log_run_20240716_143052.txt", "cs336/runs/baseline_17m"))
                         for k in listed}
    for path in (log, folder):
        rel = path.relative_to(root)
        restore_run(root, root / "archive" / (f"{rel}.tar.zst" if compress else rel))
        assert fingerprint(path) == prints[path]
    assert records(root) == listed


def test_compressed_archive_is_verified_before_the_run_goes_and_restores_exactly(tmp_path: Path) -> None:
    tarzst_or_skip()
    root = tmp_path / "runs"
    outside = tmp_path / "dataset.bin"
    outside.write_bytes(b"data")
    run = make_run(root / "proj", outside=outside).path
    os.utime(run / "secret.txt", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    before = fingerprint(run)
    where = archive_run(root, run, compress=True)
    assert where == root.resolve() / "archive" / "proj" / f"{run.name}.tar.zst"
    assert where.is_file() and where.with_name(f"{run.name}.manifest.json").is_file()
    assert not run.exists()
    assert sorted(os.listdir(where.parent)) == [f"{run.name}.manifest.json", f"{run.name}.tar.zst"]
    assert os.listdir(root / ".runyard" / "staging") == [] and os.listdir(root / ".runyard" / "journal") == []
    with pytest.raises(RunError, match="is already archived"):
        archive_run(root, where)
    assert restore_run(root, root / "archive" / "proj" / run.name) == run.resolve()
    assert fingerprint(run) == before
    assert not where.exists() and not where.with_name(f"{run.name}.manifest.json").exists()
    assert outside.read_bytes() == b"data" and os.readlink(run / "dataset") == str(outside)


def test_a_compressed_archive_that_does_not_verify_leaves_the_run_as_it_was(tmp_path: Path, monkeypatch) -> None:
    tarzst_or_skip()
    from runyard.ops import tarzst

    root = tmp_path / "runs"
    run = make_run(root).path
    before = fingerprint(run)

    def mismatch(*args, **kwargs):
        raise tarzst.ArchiveMismatch("step_9.pt: the archive holds other bytes")

    monkeypatch.setattr(tarzst, "verify_archive", mismatch)
    with pytest.raises(tarzst.ArchiveMismatch):
        archive_run(root, run, compress=True)
    assert fingerprint(run) == before
    assert os.listdir(root / "archive") == []  # no temporary file left
    assert os.listdir(root / ".runyard" / "journal") == []


# ----- the command line ---------------------------------------------------------------------------------------

def test_archive_command_previews_asks_and_archives(tmp_path: Path, capsys) -> None:
    root = tmp_path / "runs"
    a = make_run(root, "alpha").path
    b = make_run(root, "beta").path
    live = make_run(root, "gamma", finish=False)
    assert main(["archive", "alpha", "--root", str(root)]) == 1  # asked, nobody answered
    captured = capsys.readouterr()
    assert captured.out.startswith("Archive 1 run (") and str(a) in captured.out
    assert "runyard: error: nothing archived" in captured.err and a.exists()
    assert main(["archive", "--root", str(root), "--filter", "lr>0", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"left out: {live.path} (running: --force archives it anyway)" in out
    assert f"archived {a} -> {root / 'archive' / a.name}" in out
    assert f"archived {b} -> {root / 'archive' / b.name}" in out
    assert live.path.exists()
    assert main(["archive", "alpha", "--root", str(root), "-y"]) == 1
    assert "already archived" in capsys.readouterr().out
    assert main(["archive", "--root", str(root)]) == 1
    assert "name the runs to archive" in capsys.readouterr().err
    assert main(["restore", "alpha", a.name[:9], str(root / "archive" / b.name), "--root", str(root)]) == 1
    captured = capsys.readouterr()
    assert f"restored {root / 'archive' / a.name} -> {root / a.name}" in captured.out  # by name
    assert f"restored {root / 'archive' / b.name} -> {root / b.name}" in captured.out  # by path
    assert "no archived run" in captured.err  # the second name for alpha: restored already
    live.finish()
    data = json.loads((a / "run.json").read_text())
    assert data["name"] == "alpha"


def test_archive_and_restore_compressed_from_the_command_line(tmp_path: Path, capsys) -> None:
    tarzst_or_skip()
    root = tmp_path / "runs"
    a = make_run(root, "alpha").path
    before = fingerprint(a)
    assert main(["archive", str(a), "--root", str(root), "--compress", "--yes"]) == 0
    assert f"archived {a} -> {root / 'archive' / a.name}.tar.zst" in capsys.readouterr().out
    assert main(["restore", a.name, "--root", str(root)]) == 0
    assert fingerprint(a) == before


def test_on_a_terminal_archive_asks_and_shows_progress_on_stderr(tmp_path: Path) -> None:
    """A real pseudo-terminal: the question is answered y, progress is drawn (and wiped) while the archive is
    written, and nothing of it reaches a pipe."""
    import pty
    import select
    import subprocess
    import time

    from tests.conftest import PROJECT, child_env

    tarzst_or_skip()
    root = tmp_path / "runs"
    run = make_run(root).path
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "runyard.tui.cli", "archive", run.name, "--root", str(root),
                             "--compress"], cwd=PROJECT, env=child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache")),
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out, answered = b"", False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if not answered and b"[y/N]" in out:
            os.write(leader, b"y\n")
            answered = True
        if proc.poll() is not None and not ready:
            break
    os.close(leader)
    assert proc.wait(timeout=30) == 0
    text = out.decode()
    assert answered and "Archive this run? [y/N]" in text
    assert f"\rarchiving {run.name}" in text  # progress, on the terminal only
    assert f"archived {root / run.name} -> {root / 'archive' / run.name}.tar.zst" in text


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "compressed"])
def test_a_place_taken_during_the_restore_is_left_alone_and_the_archive_kept(tmp_path: Path, monkeypatch,
                                                                            compress: bool) -> None:
    if compress:
        tarzst_or_skip()
    from runyard.ops import archive

    root = tmp_path / "runs"
    run = make_run(root).path
    where = archive_run(root, run, compress=compress)
    real_move = archive.move

    def racing(src: Path, dst: Path) -> None:
        if dst == run.resolve():  # a new run starts in the old place just before ours lands there
            dst.mkdir()
            (dst / "new.txt").write_text("mine")
        real_move(src, dst)

    monkeypatch.setattr(archive, "move", racing)
    with pytest.raises(RunError, match=f"{root / run.name} exists again"):
        restore_run(root, where)
    assert sorted(os.listdir(run)) == ["new.txt"]
    assert where.exists()
    if compress:
        assert where.with_name(f"{run.name}.manifest.json").exists()
    assert os.listdir(root / ".runyard" / "journal") == []
    assert not (root / ".runyard" / "staging").exists() or os.listdir(root / ".runyard" / "staging") == []
