"""The journal under every operation that changes a runs tree: locks between processes, recovery, the path
guard, fault injection and the small file-system primitives, with real files and real processes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runyard
from runyard import RunError, inside_root, parse_duration, recover, recover_quietly
from runyard.ops import journal, trash
from runyard.ops.journal import JOURNAL_DIR, LOCK_DIR, make_folders, remove_tree, rename_noreplace
from tests.conftest import child_env

# A child acting on a tree: `python -c CHILD ROOT OP PATH`, its result (or the one line of its error) on stdout.
CHILD = """
import sys
from runyard.ops import archive, trash
from runyard import TrackerError
root, op, path = sys.argv[1:4]
try:
    if op == "archive":
        print(archive.archive_run(root, path))
    elif op == "trash":
        print(trash.move_to_trash(root, path, reason="test", kind="run").id)
    elif op == "trash-ckpt":
        print(trash.move_to_trash(root, path, reason="test", kind="checkpoint").id)
except TrackerError as exc:
    print(f"refused: {exc}")
    sys.exit(1)
"""


@pytest.fixture
def shared_tmp():
    """A temporary folder every user may enter (pytest's own are closed to others), for tests run as nobody."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="runyard-test-"))
    os.chmod(folder, 0o755)
    yield folder
    for where, dirs, _files in os.walk(folder):
        for name in dirs:
            full = os.path.join(where, name)
            if not os.path.islink(full):
                os.chmod(full, 0o755)
    shutil.rmtree(folder)


def make_run(root: Path, name: str = "alpha") -> Path:
    run = runyard.init(name, root=root, config={"lr": 0.1}, console=False, system_metrics=False)
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    (run.path / "checkpoints").mkdir(exist_ok=True)
    (run.path / "checkpoints" / "step_4.pt").write_bytes(b"x" * 5000)
    run.finish()
    return run.path


def start(root: Path, op: str, path: Path, fault: str | None = None) -> subprocess.Popen:
    env = child_env(**({"RUNYARD_FAULT": fault} if fault else {}))
    return subprocess.Popen([sys.executable, "-c", CHILD, str(root), op, str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def point_of(tmp_path: Path, op: str, name: str) -> int:
    """Which kill point (counting from 1) `op` on a fresh run reaches as `name` (counted on a tree of its own)."""
    root = tmp_path / "count" / "runs"
    run = make_run(root)
    points = tmp_path / "count" / "points.txt"
    proc = start(root, op, run, fault=f"count@{points}")
    proc.communicate(timeout=60)
    return points.read_text().split().index(name) + 1


def wait_stopped(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("the child never stopped at its fault point")


def test_durations() -> None:
    assert parse_duration("30d") == 30 * 86400
    assert parse_duration("12h") == 12 * 3600
    assert parse_duration("90m") == 5400
    assert parse_duration("2w") == 14 * 86400
    assert parse_duration("45s") == 45
    assert parse_duration("1d12h") == 36 * 3600
    assert parse_duration(" 1.5h ") == 5400
    for bad in ("", "30", "d", "3x", "-2d", "1d 2", "2 weeks"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


def test_two_processes_on_one_run_one_wins_the_other_is_told_who(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root)
    # stops itself once its journal is written
    first = start(root, "archive", run, fault=f"stop@{point_of(tmp_path, 'archive', 'archive.begin')}")
    try:
        wait_stopped(first)
        second = start(root, "archive", run)
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 1
        assert out.strip() == (f"refused: {root / run.name} is being archived by another runyard "
                               f"(pid {first.pid})")
        # a file inside the run: its folder is taken by the archive, so this waits its turn too
        inside = start(root, "trash-ckpt", run / "checkpoints" / "step_4.pt")
        out, _ = inside.communicate(timeout=60)
        assert inside.returncode == 1
        assert out.strip().startswith(f"refused: {root / run.name} is being archived by another runyard")
        # recovery leaves an operation whose owner is alive alone
        assert recover(root) == []
        assert len([n for n in os.listdir(root / JOURNAL_DIR) if n.endswith(".json")]) == 1
        assert run.exists()
    finally:
        first.send_signal(signal.SIGCONT)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert Path(out.strip()) == root.resolve() / "archive" / run.name
    assert not run.exists()
    assert os.listdir(root / JOURNAL_DIR) == [] and os.listdir(root / LOCK_DIR) == []
    late = start(root, "archive", root / "archive" / run.name)
    out, _ = late.communicate(timeout=60)
    assert out.strip() == f"refused: {root / 'archive' / run.name} is already archived"


def test_a_killed_operation_is_finished_or_undone_by_the_next_recovery(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root)
    killed = start(root, "trash", run, fault=f"kill@{point_of(tmp_path, 'trash', 'trash.info')}")
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert os.listdir(root / ".trash" / "info")  # killed right after the info file was written
    assert run.exists()
    assert [n for n in os.listdir(root / JOURNAL_DIR) if n.endswith(".json")]
    lines = recover_quietly(root)
    assert lines == [f"moving {root / run.name} to the trash was interrupted: undone, it is where it was"]
    assert os.listdir(root / JOURNAL_DIR) == [] and os.listdir(root / LOCK_DIR) == []
    assert os.listdir(root / ".trash" / "info") == []
    assert recover(root) == []


def test_recover_quietly_touches_nothing_without_a_journal(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    make_run(root)
    assert recover_quietly(root) == []
    assert not (root / ".runyard").exists()
    assert recover_quietly(tmp_path / "missing") == []


def test_recover_quietly_says_nothing_where_it_may_not_write(tmp_path: Path, shared_tmp: Path) -> None:
    root = shared_tmp / "runs"
    run = make_run(root)
    killed = start(root, "trash", run, fault=f"kill@{point_of(tmp_path, 'trash', 'trash.info')}")
    killed.communicate(timeout=60)
    code = "import sys; from runyard import recover_quietly; print(recover_quietly(sys.argv[1]))"
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                          code, str(root)], env=child_env(), capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert run.exists()
    assert [n for n in os.listdir(root / JOURNAL_DIR) if n.endswith(".json")]  # left for someone who may


def test_a_failing_step_rolls_the_operation_back_before_the_error_goes_on(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "runs"
    run = make_run(root)

    def refuse(src: Path, dst: Path) -> None:
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(trash, "move", refuse)
    with pytest.raises(PermissionError):
        trash.move_to_trash(root, run, reason="test", kind="run")
    assert run.exists()
    assert os.listdir(root / ".trash" / "info") == []  # the info written first is gone again
    assert os.listdir(root / JOURNAL_DIR) == [] and os.listdir(root / LOCK_DIR) == []


def test_inside_root_refuses_links_on_the_way_and_paths_outside(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "x").mkdir(parents=True)
    os.symlink(elsewhere, root / "linked")
    os.symlink(tmp_path / "elsewhere" / "x", root / "last_is_link")
    assert inside_root(root, run) == run.resolve()
    assert inside_root(root, run.name) == run.resolve()  # relative to the root
    assert inside_root(root, root / "last_is_link") == root.resolve() / "last_is_link"
    with pytest.raises(RunError, match="goes through the symbolic link"):
        inside_root(root, root / "linked" / "x")
    with pytest.raises(RunError, match="not inside the runs folder"):
        inside_root(root, elsewhere / "x")
    with pytest.raises(RunError, match="not inside the runs folder"):
        inside_root(root, root / ".." / "elsewhere")
    with pytest.raises(RunError, match="the runs folder itself"):
        inside_root(root, root)
    with pytest.raises(RunError, match="the runs folder itself"):
        inside_root(root, root / "linked" / "..")


def test_a_link_named_is_moved_as_the_link_and_its_target_is_untouched(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    make_run(root)
    target = tmp_path / "outside.bin"
    target.write_bytes(b"keep me")
    os.symlink(target, root / "pointer")
    entry = trash.move_to_trash(root, root / "pointer", reason="test", kind="run")
    assert os.readlink(root / ".trash" / "files" / entry.id) == str(target)
    trash.empty_trash(root)
    assert target.read_bytes() == b"keep me"
    assert not os.path.lexists(root / "pointer")


def test_rename_noreplace_never_replaces(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()  # rename(2) would replace an empty folder without a word
    with pytest.raises(FileExistsError):
        rename_noreplace(tmp_path / "a", tmp_path / "b")
    with pytest.raises(FileExistsError):
        rename_noreplace(tmp_path / "d1", tmp_path / "d2")
    rename_noreplace(tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "c").read_text() == "a" and (tmp_path / "b").read_text() == "b"


def test_remove_tree_gets_through_read_only_folders_and_never_follows_a_link(shared_tmp: Path) -> None:
    tmp_path = shared_tmp
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "f").write_text("keep")
    doomed = tmp_path / "doomed"
    (doomed / "ro" / "inner").mkdir(parents=True)
    (doomed / "ro" / "inner" / "f").write_text("x")
    os.symlink(outside, doomed / "ro" / "to_outside")
    os.chmod(doomed / "ro" / "inner", 0o500)
    os.chmod(doomed / "ro", 0o500)
    remove_tree(doomed)  # as root, permissions do not stop us: check the walk itself
    assert not doomed.exists()
    assert (outside / "deep" / "f").read_text() == "keep"
    # as an ordinary user, whose own read-only folders must be opened up first
    box = tmp_path / "box"
    box.mkdir()
    os.chown(box, 65534, 65534)
    doomed = box / "doomed"
    script = ("from pathlib import Path; from runyard.ops.journal import remove_tree; "
              f"remove_tree(Path({str(doomed)!r}))")
    (doomed / "ro" / "inner").mkdir(parents=True)
    (doomed / "ro" / "inner" / "f").write_text("x")
    os.symlink(outside, doomed / "ro" / "to_outside")
    for folder, _dirs, files in os.walk(doomed):
        os.chown(folder, 65534, 65534)
        for name in files:
            os.chown(os.path.join(folder, name), 65534, 65534)
    os.chmod(doomed / "ro" / "inner", 0o500)
    os.chmod(doomed / "ro", 0o500)
    subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c", script],
                   env=child_env(), check=True)
    assert not doomed.exists()
    assert (outside / "deep" / "f").read_text() == "keep"


def test_make_folders_refuses_a_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    with pytest.raises(RunError, match="symbolic link"):
        make_folders(tmp_path, "link/sub")
    assert not (tmp_path / "real" / "sub").exists()
    assert make_folders(tmp_path, "a/b/c").is_dir()


def test_kill_points_are_counted_and_cost_nothing_unset(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root)
    points = tmp_path / "points.txt"
    proc = start(root, "trash", run, fault=f"count@{points}")
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    names = points.read_text().split()
    assert names[-1] == "trash.moved" and "trash.begin" in names and "move" in names
    assert journal._FAULT is None  # this process has no fault set: a point is one call that returns at once
    started = time.perf_counter()
    for _ in range(100_000):
        journal.kill_point("x")
    assert time.perf_counter() - started < 0.5


def test_the_journal_is_written_durably_before_the_first_change(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root)
    proc = start(root, "trash", run, fault=f"stop@{point_of(tmp_path, 'trash', 'trash.begin')}")
    try:
        wait_stopped(proc)
        [name] = [n for n in os.listdir(root / JOURNAL_DIR) if n.endswith(".json")]
        record = json.loads((root / JOURNAL_DIR / name).read_bytes())
        assert record["kind"] == "trash" and record["pid"] == proc.pid and record["phases"] == ["begun"]
        assert record["targets"] == [run.name]
        assert run.exists() and not (root / ".trash").exists()  # nothing changed yet
        lock = root / JOURNAL_DIR / name.replace(".json", ".lock")
        assert stat.S_ISREG(os.stat(lock).st_mode)
    finally:
        proc.send_signal(signal.SIGCONT)
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert not run.exists()


async def test_the_app_recovers_an_interrupted_operation_before_it_lists_the_tree(tmp_path: Path) -> None:
    from runyard.tui.app import RunyardApp
    from tests.test_app import table, wait_for

    root = tmp_path / "runs"
    run = make_run(root)
    make_run(root, "beta")
    killed = start(root, "trash", run, fault=f"kill@{point_of(tmp_path, 'trash', 'trash.moved')}")
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL and not run.exists()
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
    assert os.listdir(root / JOURNAL_DIR) == []
    assert [e.path for e in trash.list_trash(root)] == [Path(run.name)]
