"""Trees full of other files: runs found among thousands of documents, each file judged once and again only when
it changes (a text that becomes a log is found on the next scan), folders no layout claims rescanned as a stat
walk, and folders that cannot be read counted and named by `ls` instead of dropped without a word."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import runyard
from runyard.layouts import textlog
from runyard.reading import scanner
from runyard.tui.cli.listing import unreadable_note

RUNYARD = Path(sys.executable).parent / "runyard"
OLD = time.time() - 86400  # folders and files written a day ago: nothing about them is recent


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    scanner._memo.clear()


def age(*paths: Path) -> None:
    """Date files and folders a day back, as an untouched tree is."""
    for path in paths:
        os.utime(path, (OLD, OLD))


def make_tree(root: Path, docs: int = 400) -> None:
    """`docs` text documents in nested folders beside a runyard run, a text log and a TensorBoard run."""
    with runyard.init("small", root=root / "runs", console=False, system_metrics=False) as run:
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
    log = root / "runs" / "plain" / "train.log"
    log.parent.mkdir()
    log.write_text("".join(f"epoch {i}: loss={2 - i / 10}\n" for i in range(5)) + "training done\n")
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(root / "runs" / "tb"))
    for step in range(3):
        value = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))
        writer.add_event(event_pb2.Event(wall_time=OLD + step, step=step, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    for i in range(docs):
        folder = root / "corpus" / f"part{i // 100}" / f"shard{i // 20 % 5}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"doc_{i:04d}.txt").write_text(f"Document {i}: the model of the data, step by step.\n")
    age(*root.rglob("*"), root)


def names(records) -> list[tuple[str, str]]:
    return sorted((r.info.format, r.info.name) for r in records)


RUNS = [("runyard/1", "small"), ("tensorboard", "tb"), ("textlog", "train")]


class Counting:
    """Counts calls of a function while passing them on."""

    def __init__(self, monkeypatch, owner, name: str) -> None:
        self.calls: list[tuple] = []
        real = getattr(owner, name)

        def counted(*args, **kwargs):
            self.calls.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


def test_runs_are_found_among_documents_and_a_rescan_reads_no_document(tmp_path, monkeypatch):
    root = tmp_path / "tree"
    make_tree(root)
    sniffs = Counting(monkeypatch, textlog, "sniff")
    assert names(runyard.scan(root)) == RUNS
    assert len(sniffs.calls) == 401  # every document once, and the log
    listings = Counting(monkeypatch, scanner.os, "scandir")
    sniffs.calls.clear()
    scanner._memo.clear()  # as a new process: the cache file is read
    assert names(runyard.scan(root)) == RUNS
    assert sniffs.calls == []  # no document read again: each verdict stands while its file is unchanged
    listed = {str(args[0]) for args in listings.calls}
    assert not any("corpus" in path for path in listed)  # unchanged folders no layout claims are not listed again
    assert names(runyard.scan(root, use_cache=False)) == RUNS


def test_a_text_that_becomes_a_log_is_found_on_the_next_scan(tmp_path, monkeypatch):
    root = tmp_path / "tree"
    make_tree(root, docs=60)
    notes = root / "corpus" / "part0" / "shard1" / "doc_0021.txt"
    assert names(runyard.scan(root)) == RUNS
    folder_mtime = notes.parent.stat().st_mtime_ns
    with open(notes, "a") as fh:  # appended in place: its folder's mtime does not move
        fh.write("".join(f"epoch {e}: loss={1 / e:.3f}, acc={e / 10}\n" for e in range(1, 4)))
    assert notes.parent.stat().st_mtime_ns == folder_mtime
    sniffs = Counting(monkeypatch, textlog, "sniff")
    found = runyard.scan(root)
    assert names(found) == sorted([*RUNS, ("textlog", "doc_0021")])
    assert [Path(args[0]).name for args in sniffs.calls] == ["doc_0021.txt"]  # only the changed file is read
    (record,) = [r for r in found if r.info.name == "doc_0021"]
    assert record.info.last_step == 3 and "acc" in record.summary


def test_a_verdict_is_judged_again_when_size_mtime_or_inode_change(tmp_path, monkeypatch):
    root = tmp_path / "tree"
    make_tree(root, docs=20)
    log = root / "runs" / "plain" / "train.log"
    assert names(runyard.scan(root)) == RUNS
    # the same size and mtime, but another file (written aside and renamed over it): judged again, and not a log
    replacement = log.with_name(".train.log.tmp")
    text = log.read_text()
    replacement.write_text("x" * len(text))
    st = log.stat()
    os.utime(replacement, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(replacement, log)
    os.utime(log.parent, (OLD, OLD))  # and its folder looks untouched
    assert log.stat().st_size == st.st_size and log.stat().st_mtime_ns == st.st_mtime_ns
    assert log.stat().st_ino != st.st_ino
    assert names(runyard.scan(root)) == [r for r in RUNS if r[0] != "textlog"]
    # a negative answer changes with the file too: a log again, told by its size this time
    log.write_text(text + "epoch 5: loss=1.5\n")
    os.utime(log, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.utime(log.parent, (OLD, OLD))
    assert names(runyard.scan(root)) == RUNS


def test_an_added_or_edited_runyard_toml_judges_the_documents_below_again(tmp_path):
    root = tmp_path / "tree"
    make_tree(root, docs=20)
    doc = root / "corpus" / "part0" / "shard0" / "doc_0003.txt"
    doc.write_text("".join(f"round {r} accuracy {r / 10}\n" for r in range(1, 5)))
    age(doc)
    assert names(runyard.scan(root)) == RUNS
    toml = root / "runyard.toml"
    toml.write_text("[[patterns]]\nname = 'rounds'\nregex = 'round (?P<step>\\d+) accuracy (?P<acc>[0-9.]+)'\n")
    assert ("textlog", "doc_0003") in names(runyard.scan(root))
    toml.write_text(toml.read_text().replace("accuracy", "precision"))  # edited in place: the folder is unchanged
    os.utime(root, (OLD, OLD))
    assert names(runyard.scan(root)) == RUNS


def test_files_a_log_is_never_named_are_not_read(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    lines = "".join(f"step {i}: loss={i}\n" for i in range(3))
    for name in ("vocab.txt", "merges.txt", "README.txt", "requirements-dev.txt", ".hidden.log", "train.log"):
        (folder / name).write_text(lines)
    sniffs = Counting(monkeypatch, textlog, "sniff")
    assert names(runyard.scan(tmp_path / "model")) == [("textlog", "train")]
    assert [Path(args[0]).name for args in sniffs.calls] == ["train.log"]


@pytest.mark.parametrize("line", [
    "step 10: train loss 2.31, val loss 2.40", "iter 5: loss 2.1000, time 30.5ms, mfu 12.00%",
    "2024-12-16 14:50:30,000 - INFO - Epoch 3/10 - Train Loss: 0.5 - LR: 5e-05", "Iteration=7 acc=0.9",
    "EPOCH: 2 loss=1", "[2024-07-16 14:35:52] STEP 4: loss: 0.3",
    "Epoch 3:  40%|####      | 40/100 [00:04<00:05,  9.80it/s, loss=1.2, v_num=0]",
    "45it [00:04, 9.80it/s, loss=1.2]", "\x1b[1mstep\x1b[0m 5 loss=1", "\u017ftep 3: loss=0.5",
])
def test_the_quick_look_never_turns_away_a_line_the_patterns_read(line):
    table = textlog.patterns_for(None)
    assert textlog.match_line(textlog.final_state(line), table[0]) is not None
    assert textlog._may_hold_metrics(line, table[0])
    assert not textlog._may_hold_metrics("Document 7: the model of the data, step by step.\n", table[0])


def test_a_folder_that_changes_soon_after_it_was_listed_is_listed_again(tmp_path):
    """An mtime is coarse: a file added within its resolution after the listing would leave it as it was. A folder
    changed moments ago is not trusted by its mtime next time."""
    root = tmp_path / "tree"
    (root / "fresh").mkdir(parents=True)
    assert runyard.scan(root) == []
    mtime = (root / "fresh").stat().st_mtime_ns
    (root / "fresh" / "train.log").write_text("step 1: loss=1.0\n")
    os.utime(root / "fresh", ns=(mtime, mtime))  # as if within the same tick
    assert names(runyard.scan(root)) == [("textlog", "train")]


# ----- folders that cannot be read ----------------------------------------------------------------------------

def test_unreadable_folders_are_counted_not_raised(tmp_path, monkeypatch):
    root = tmp_path / "tree"
    make_tree(root, docs=60)
    locked = {str(root / "corpus" / "part0" / "shard2"), str(root / "runs" / "plain")}
    real = os.scandir

    def scandir(path="."):
        if str(path) in locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(scanner.os, "scandir", scandir)
    found = runyard.scan(root, use_cache=False)
    assert names(found) == [r for r in RUNS if r[0] != "textlog"]
    assert found.unreadable == dict.fromkeys(sorted(locked), "permission denied")
    assert unreadable_note(found.unreadable) == (
        f"2 folders could not be read (permission denied): {root}/corpus/part0/shard2, {root}/runs/plain")


def test_the_note_names_a_few_folders_and_counts_the_rest():
    many = {f"runs/f{i}": "permission denied" for i in range(5)} | {"runs/z": "input/output error"}
    assert unreadable_note(many) == ("6 folders could not be read (input/output error, permission denied): "
                                     "runs/f0, runs/f1, runs/f2 and 3 more")
    assert unreadable_note({"runs/a": "permission denied"}) == "1 folder could not be read (permission denied): runs/a"
    assert unreadable_note({}) is None


def test_ls_as_another_user_says_which_folders_it_could_not_read(tmp_path):
    """For real: folders chmod 000 under a tree `runyard ls` reads as an unprivileged user (as root, through
    setpriv as nobody, since root reads every folder)."""
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no way to be refused")
    base = Path(tempfile.mkdtemp(prefix="runyard-perm-", dir="/tmp"))  # pytest's own tmp is closed to others
    try:
        base.chmod(0o755)
        runs = base / "runs"
        for name in ("a", "b", "c"):
            with runyard.init(name, root=runs / f"{name}_dir", console=False, system_metrics=False) as run:
                run.log({"loss": 1.0})
        cache = base / "cache"
        cache.mkdir(mode=0o777)
        cache.chmod(0o777)
        for path in [runs, *runs.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))
            age(path)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        env = {**os.environ, "RUNYARD_CACHE_DIR": str(cache), "HOME": str(base), "XDG_CONFIG_HOME": str(base)}

        def ls() -> subprocess.CompletedProcess:
            return subprocess.run([*prefix, str(RUNYARD), "ls", "runs"], cwd=base, env=env, capture_output=True,
                                  text=True, timeout=60)

        done = ls()  # all readable: the folders are in the cache as they were, when they are closed
        assert (done.returncode, done.stderr, done.stdout.count("\n")) == (0, "", 4)
        (runs / "a_dir").chmod(0)
        (runs / "b_dir").chmod(0)
        done = ls()
        assert done.returncode == 0, done.stderr
        assert done.stderr == ("runyard: warning: 2 folders could not be read (permission denied): "
                               "runs/a_dir, runs/b_dir\n")
        rows = done.stdout.splitlines()
        assert rows[0].startswith("id\tname\tstatus") and [row.split("\t")[1] for row in rows[1:]] == ["c"]
    finally:
        for folder in base.rglob("*_dir"):
            folder.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
