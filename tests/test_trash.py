"""The trash of a runs root: info first, then an instant rename; list, restore (never over a path taken again),
empty (bytes freed exactly as the filesystem counts them), and the `runyard trash` commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import runyard
from runyard import (
    RunError,
    empty_trash,
    list_trash,
    move_to_trash,
    path_usage,
    reclaimable,
    restore_from_trash,
)
from runyard.tui.cli import main
from tests.conftest import PROJECT, child_env


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")


def make_run(root: Path, name: str, ckpt_bytes: int = 20_000) -> Path:
    run = runyard.init(name, root=root, config={"lr": 0.1}, console=False, system_metrics=False)
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    (run.path / "checkpoints").mkdir(exist_ok=True)
    (run.path / "checkpoints" / "step_4.pt").write_bytes(os.urandom(ckpt_bytes))
    run.finish()
    return run.path


def listed(root: Path) -> list[str]:
    return sorted(str(Path(r.info.path).relative_to(root)) for r in runyard.scan(root, use_cache=False))


def test_trashing_writes_the_info_first_and_moves_the_run_out_of_every_listing(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root, "alpha")
    other = make_run(root, "beta")
    size = path_usage(run).total
    entry = move_to_trash(root, run, reason="failed after 2 min", kind="run")
    assert not run.exists()
    assert entry.path == Path(run.name) and entry.kind == "run" and entry.run is None
    assert entry.bytes == size and entry.reason == "failed after 2 min"
    assert datetime.fromisoformat(entry.time).tzinfo is not None
    info = json.loads((root / ".trash" / "info" / f"{entry.id}.json").read_bytes())
    assert info["path"] == run.name and info["bytes"] == size and info["time"] == entry.time
    assert info["kind"] == "run" and info["reason"] == "failed after 2 min" and info["run"] is None
    assert (root / ".trash" / "files" / entry.id / "run.json").is_file()
    assert listed(root) == [other.name]  # neither .trash/ nor .runyard/ is ever listed
    assert list_trash(root) == [entry]
    assert os.listdir(root / ".runyard" / "journal") == []


def test_a_checkpoint_goes_to_the_trash_and_back_only_while_its_run_is_there(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root, "alpha")
    ckpt = run / "checkpoints" / "step_4.pt"
    data = ckpt.read_bytes()
    entry = move_to_trash(root, ckpt, reason="not among the best 2", kind="checkpoint", run=run)
    assert entry.run == Path(run.name) and entry.path == Path(run.name, "checkpoints", "step_4.pt")
    assert not ckpt.exists() and run.is_dir()
    assert restore_from_trash(root, [entry.id]) == [entry]
    assert ckpt.read_bytes() == data
    entry = move_to_trash(root, ckpt, reason="again", kind="checkpoint", run=run)
    shutil.move(run, tmp_path / "moved_away")
    with pytest.raises(RunError, match=f"its run {root / run.name} is no longer there"):
        restore_from_trash(root, [entry.id])
    assert list_trash(root) == [entry]


def test_restore_refuses_when_the_place_is_taken_again_and_moves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    a, b = make_run(root, "alpha"), make_run(root, "beta")
    first = move_to_trash(root, a, reason="x", kind="run")
    second = move_to_trash(root, b, reason="x", kind="run")
    b.mkdir()  # a new run where the old one was
    with pytest.raises(RunError) as caught:
        restore_from_trash(root, [first.id, second.id])
    assert str(caught.value) == f"cannot restore {second.id}: {root / b.name} exists again (move it away first)"
    assert not a.exists() and len(list_trash(root)) == 2  # all or nothing
    with pytest.raises(RunError, match="no item 'nope' in the trash"):
        restore_from_trash(root, ["nope"])
    assert restore_from_trash(root, [first.id[:-2]]) == [first]  # a unique start of an id is enough
    assert (a / "run.json").is_file()


def test_empty_by_age_and_by_id(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    old = move_to_trash(root, make_run(root, "old"), reason="x", kind="run")
    new = move_to_trash(root, make_run(root, "new"), reason="x", kind="run")
    info = root / ".trash" / "info" / f"{old.id}.json"
    data = json.loads(info.read_bytes())
    data["time"] = (datetime.now().astimezone() - timedelta(days=40)).isoformat()
    info.write_text(json.dumps(data))
    expected = reclaimable([root / ".trash" / "files" / old.id])
    assert empty_trash(root, older_than=30 * 86400) == expected
    assert [e.id for e in list_trash(root)] == [new.id]
    assert empty_trash(root, older_than=30 * 86400) == 0
    assert empty_trash(root, ids=[new.id]) > 0
    assert list_trash(root) == []
    assert os.listdir(root / ".trash" / "files") == [] and os.listdir(root / ".trash" / "info") == []
    assert os.listdir(root / ".runyard" / "staging") == []


def test_a_file_hard_linked_from_outside_frees_nothing(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root, "alpha", ckpt_bytes=300_000)
    os.link(run / "checkpoints" / "step_4.pt", tmp_path / "kept.pt")
    whole = path_usage(run).total
    expected = reclaimable([run])
    assert whole - expected >= 300_000
    move_to_trash(root, run, reason="x", kind="run")
    assert empty_trash(root) == expected
    assert (tmp_path / "kept.pt").stat().st_size == 300_000


def test_runyards_own_folders_never_go_to_the_trash(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = make_run(root, "alpha")
    entry = move_to_trash(root, run, reason="x", kind="run")
    for own in (root / ".trash" / "files" / entry.id, root / ".runyard", root / ".trash"):
        with pytest.raises(RunError, match="belongs to runyard itself"):
            move_to_trash(root, own, reason="x", kind="run")
    with pytest.raises(RunError, match="no such file or folder"):
        move_to_trash(root, root / "missing", reason="x", kind="run")
    with pytest.raises(ValueError, match="kind must be one of"):
        move_to_trash(root, root, reason="x", kind="folder")
    (root / "archive").mkdir()
    (root / "archive" / "x.tar.zst").write_bytes(b"")
    with pytest.raises(RunError, match="is part of a compressed archive"):
        move_to_trash(root, root / "archive" / "x.tar.zst", reason="x", kind="run")


FREED = """
import json, os, sys
from pathlib import Path
import runyard
from runyard import empty_trash, move_to_trash, reclaimable

base = Path(sys.argv[1])
root = base / "runs"
def run(name, sizes):
    r = runyard.init(name, root=root, config={"lr": 0.1}, console=False, system_metrics=False)
    for step in range(30):
        r.log({"loss": 1.0 / (step + 1)}, step=step)
    r.finish()
    (r.path / "checkpoints").mkdir(exist_ok=True)
    for i, size in enumerate(sizes):
        (r.path / "checkpoints" / f"step_{i}.pt").write_bytes(os.urandom(size))
    return r.path
a = run("alpha", [1, 5000, 300_000])
b = run("beta", [70_000, 4096])
os.symlink("checkpoints/step_0.pt", a / "latest.pt")
os.link(a / "checkpoints" / "step_1.pt", a / "again.pt")            # a hard link inside the items
(base / "keep").mkdir()
os.link(b / "checkpoints" / "step_0.pt", base / "keep" / "kept.pt")  # one from outside: not freed
items = [a, b / "checkpoints" / "step_1.pt"]
before = reclaimable(items)
def free():
    st = os.statvfs(root)
    return st.f_bfree * st.f_frsize
f0 = free()
move_to_trash(root, a, reason="x", kind="run")
move_to_trash(root, b / "checkpoints" / "step_1.pt", reason="x", kind="checkpoint", run=b)
info = sum(os.lstat(p).st_blocks * 512 for p in (root / ".trash" / "info").iterdir())
f_mid = free()
freed = empty_trash(root)
f1 = free()
print(json.dumps({"before": before, "freed": freed, "grew": f1 - f0, "grew_empty": f1 - f_mid, "info": info}))
"""


def test_emptying_frees_on_a_real_filesystem_exactly_what_it_reports(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not available")
    script = tmp_path / "freed.py"
    script.write_text(textwrap.dedent(FREED))
    mount = tmp_path / "mnt"
    mount.mkdir()
    proc = subprocess.run(
        ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=8m tmpfs "$1" && exec "$2" "$3" "$1"', "sh",
         str(mount), sys.executable, str(script)],
        env=child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache")), capture_output=True, text=True, cwd=PROJECT)
    if proc.returncode != 0 and "mount" in proc.stderr:
        pytest.skip(f"no tmpfs in a user namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    # from before trashing to after emptying the free space grew by what empty_trash said, which is what
    # reclaimable counted before anything was trashed; emptying alone also freed the info files
    assert got["freed"] == got["before"] == got["grew"]
    assert got["grew_empty"] == got["freed"] + got["info"]
    assert got["freed"] > 300_000


# ----- the command line ---------------------------------------------------------------------------------------

def test_trash_list_restore_and_empty_from_the_command_line(tmp_path: Path, capsys, monkeypatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # nobody there to answer
    root = tmp_path / "runs"
    a, b = make_run(root, "alpha"), make_run(root, "beta")
    ea = move_to_trash(root, a, reason="failed \x1b[31mred\x1b[0m", kind="run")
    eb = move_to_trash(root, b, reason="old", kind="run")
    assert main(["trash", "list", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in data] == [ea.id, eb.id]
    assert data[0]["path"] == a.name and data[0]["bytes"] == ea.bytes
    assert main(["trash", "list", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id\tkind\tpath\tbytes\ttime\treason\trun"
    assert "\x1b" not in "".join(lines) and lines[1].split("\t")[:4] == [ea.id, "run", a.name, str(ea.bytes)]
    assert main(["trash", "restore", ea.id, "--root", str(root)]) == 0
    assert f"restored {ea.id} -> {root / a.name}" in capsys.readouterr().out
    assert a.is_dir()
    assert main(["trash", "empty", "--root", str(root), "--older-than", "30d", "--yes"]) == 0
    assert "Nothing to delete in the trash" in capsys.readouterr().out
    assert main(["trash", "empty", "--root", str(root), "--older-than", "soon"]) == 1
    assert capsys.readouterr().err.strip() == ("runyard: error: 'soon' is not a duration: write it as 30d, 12h, "
                                               "90m, 2w or 45s (or 1d12h)")
    expected = reclaimable([root / ".trash" / "files" / eb.id])
    assert main(["trash", "empty", "--root", str(root)]) == 1  # no terminal to ask on, no --yes
    captured = capsys.readouterr()
    assert "Delete 1 item from the trash for good, freeing" in captured.out and eb.id in captured.out
    assert "runyard: error: nothing deleted" in captured.err
    assert len(list_trash(root)) == 1
    assert main(["trash", "empty", "--root", str(root), "-y"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("deleted 1 item, ")
    assert list_trash(root) == [] and expected > 0
    assert main(["trash", "restore", "nope", "--root", str(root)]) == 1
    assert "no item 'nope' in the trash" in capsys.readouterr().err
