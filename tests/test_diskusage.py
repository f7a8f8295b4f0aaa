"""Disk usage: bytes on disk, hard links once, symlinks never followed, split into checkpoints/logs/other."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import runyard
from runyard.ops import diskusage
from runyard.ops.diskusage import DiskUsage, kind_of, path_usage, reclaimable, run_usage, tree_usage


def blocks(path: Path) -> int:
    return os.lstat(path).st_blocks * 512


def write(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def test_a_folder_counts_its_files_and_its_own_blocks(tmp_path: Path) -> None:
    run = tmp_path / "run"
    ckpt = write(run / "checkpoints" / "step_100.pt", 50_000)
    index = write(run / "checkpoints" / "index.jsonl", 300)
    log = write(run / "training.log", 9000)
    metrics = write(run / "metrics.jsonl", 20_000)
    other = write(run / "notes.bin.partial", 5000)
    usage = path_usage(run)
    dirs = blocks(run) + blocks(run / "checkpoints")
    assert usage.checkpoints == blocks(ckpt)
    assert usage.logs == blocks(index) + blocks(log) + blocks(metrics)
    assert usage.other == blocks(other) + dirs
    assert usage.total == usage.checkpoints + usage.logs + usage.other
    assert usage.files == 7


def test_sizes_are_on_disk_not_apparent(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse.pt"
    with open(sparse, "wb") as f:
        f.truncate(100 * 1024 * 1024)
    assert path_usage(sparse).total == blocks(sparse) < 1024 * 1024


def test_hard_links_count_once_within_and_across_calls(tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "model.pt", 40_000)
    (tmp_path / "b").mkdir()
    os.link(a, tmp_path / "a" / "again.pt")
    os.link(a, tmp_path / "b" / "model.pt")
    one = path_usage(tmp_path / "a")
    assert one.checkpoints == blocks(a)
    seen: set[tuple[int, int]] = set()
    first = path_usage(tmp_path / "a", seen=seen)
    second = path_usage(tmp_path / "b", seen=seen)
    assert first.checkpoints == blocks(a) and second.checkpoints == 0
    assert second.total == blocks(tmp_path / "b")  # only the folder itself


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside" / "big.pt", 200_000)
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.pt").symlink_to(outside)
    (run / "elsewhere").symlink_to(outside.parent, target_is_directory=True)
    usage = path_usage(run)
    assert usage.total == blocks(run) + blocks(run / "best.pt") + blocks(run / "elsewhere")
    assert usage.total < blocks(outside)
    assert path_usage(run / "best.pt").total == blocks(run / "best.pt")


def test_a_missing_path_counts_nothing(tmp_path: Path) -> None:
    assert path_usage(tmp_path / "gone") == DiskUsage()


def test_kinds() -> None:
    assert kind_of("model_epoch_3.pt", False) == "checkpoints"
    assert kind_of("config.json", True) == "checkpoints"  # part of a HF checkpoint folder
    assert kind_of("index.jsonl", True) == "logs"
    assert kind_of("events.out.tfevents.123.host", False) == "logs"
    assert kind_of("run-abc.wandb", False) == "logs"
    assert kind_of("core.1234", False) == "other"


def test_checkpoint_folders_by_name(tmp_path: Path) -> None:
    shard = write(tmp_path / "run" / "checkpoint-500" / "model.safetensors", 30_000)
    state = write(tmp_path / "run" / "checkpoint-500" / "trainer_state.json", 30_000)
    usage = path_usage(tmp_path / "run")
    assert usage.checkpoints == blocks(shard) + blocks(state)


def test_reclaimable_counts_a_hard_link_only_with_all_its_links(tmp_path: Path) -> None:
    a = write(tmp_path / "a" / "model.pt", 40_000)
    b = tmp_path / "b" / "model.pt"
    b.parent.mkdir()
    os.link(a, b)
    solo = write(tmp_path / "a" / "log.txt", 10_000)
    assert reclaimable([tmp_path / "a"]) == blocks(tmp_path / "a") + blocks(solo)
    assert reclaimable([tmp_path / "a", tmp_path / "b"]) == (
        blocks(tmp_path / "a") + blocks(tmp_path / "b") + blocks(solo) + blocks(a))
    # overlapping paths count once
    assert reclaimable([tmp_path / "a", solo, tmp_path / "a"]) == reclaimable([tmp_path / "a"])


def test_reclaimable_of_a_symlink_is_its_own_blocks(tmp_path: Path) -> None:
    target = write(tmp_path / "big.pt", 100_000)
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    assert reclaimable([link]) == blocks(link)
    assert reclaimable([tmp_path / "nothing"]) == 0


# ----- runs and trees -------------------------------------------------------------------------------------

CHATGOT = Path(__file__).parent / "fixtures" / "foreign" / "chatgot"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def age(tree: Path, seconds: float = 3600) -> None:
    """Every file and folder under `tree` last changed `seconds` ago (older than the cache's racy window)."""
    old = time.time() - seconds
    for path in [tree, *tree.rglob("*")]:
        os.utime(path, (old, old), follow_symlinks=False)


def test_a_runyard_run_is_its_folder(tmp_path: Path, cache: Path) -> None:
    run = runyard.init("a", root=tmp_path / "runs", console=False, system_metrics=False)
    run.log({"loss": 1.0}, step=0)
    ckpt = run.path / "checkpoints" / "step_0.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"w" * 100_000)
    run.add_checkpoint(ckpt, step=0)
    run.finish()
    view = runyard.open_run(run.path)
    usage = run_usage(view)
    assert usage == path_usage(run.path)
    assert usage.checkpoints == blocks(ckpt)
    assert usage.logs > 0 and usage.total == usage.checkpoints + usage.logs + usage.other


def test_chatgot_runs_count_their_checkpoints_beside_them(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "chatgot"
    shutil.copytree(CHATGOT, root)
    tree = tree_usage(root)
    by_name = {r.path.name: r.usage for r in tree.runs}
    name = "chatgot_small_char_20250324_134501"
    models = [root / "models" / f"{name}_{end}.pt" for end in ("epoch_1", "epoch_2", "final")]
    assert by_name[name].checkpoints == sum(blocks(p) for p in models)
    assert by_name[name].total == path_usage(root / "runs" / name).total + sum(blocks(p) for p in models)
    assert tree.total.total == sum(r.usage.total for r in tree.runs)
    assert [r.usage.total for r in tree.runs] == sorted((r.usage.total for r in tree.runs), reverse=True)
    # a root that holds the runs but not models/ counts nothing outside itself
    inner = tree_usage(root / "runs")
    assert {r.path.name: r.usage for r in inner.runs}[name].checkpoints == 0


def test_hard_links_shared_by_runs_count_once_in_the_total(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "runs"
    paths = []
    for name in ("a", "b"):
        run = runyard.init(name, root=root, console=False, system_metrics=False)
        run.finish()
        paths.append(run.path)
    big = paths[0] / "weights.bin"
    big.write_bytes(b"q" * 200_000)
    os.link(big, paths[1] / "weights.bin")
    tree = tree_usage(root)
    runs = sorted(r.usage.total for r in tree.runs)
    assert tree.total.total == sum(runs) - blocks(big)
    assert all(r.usage.checkpoints == blocks(big) for r in tree.runs)


def test_the_cache_is_used_and_never_stale(tmp_path: Path, cache: Path, monkeypatch) -> None:
    root = tmp_path / "chatgot"
    shutil.copytree(CHATGOT, root)
    age(root)
    first = {str(r.path): r.usage for r in tree_usage(root).runs}
    calls = []
    real = diskusage.outside_checkpoints
    monkeypatch.setattr(diskusage, "outside_checkpoints", lambda *a, **k: calls.append(a) or real(*a, **k))
    again = {str(r.path): r.usage for r in tree_usage(root).runs}
    assert again == first and calls == []  # warm: no run's checkpoints read again
    name = "chatgot_small_char_20250324_134501"
    run = str(root / "runs" / name)
    # a file that grew is counted as it is now (sizes are never cached)
    with open(root / "runs" / name / "training.log", "ab") as f:
        f.write(b"x" * 50_000)
    grown = {str(r.path): r.usage for r in tree_usage(root).runs}
    assert grown[run].logs > first[run].logs
    # a checkpoint replaced by a bigger one
    final = root / "models" / f"{name}_final.pt"
    tmp = final.with_suffix(".tmp")
    tmp.write_bytes(b"r" * 300_000)
    os.replace(tmp, final)
    replaced = {str(r.path): r.usage for r in tree_usage(root).runs}
    assert replaced[run].checkpoints >= blocks(final) > first[run].checkpoints
    # a checkpoint added beside the runs belongs to its run from the next look
    calls.clear()
    (root / "models" / f"{name}_epoch_3.pt").write_bytes(b"n" * 100_000)
    added = {str(r.path): r.usage for r in tree_usage(root).runs}
    assert added[run].checkpoints == replaced[run].checkpoints + blocks(root / "models" / f"{name}_epoch_3.pt")
    assert calls  # the models folder changed: its runs' checkpoints were read again


def test_a_one_file_run_is_its_file_and_its_rotated_logs(tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "runs" / "logs"
    folder.mkdir(parents=True)
    log = folder / "train.log"
    lines = "".join(f"2026-11-01 10:00:{i:02d},000 - INFO - epoch {i}: loss={2 - i / 50:.3f}\n" for i in range(20))
    log.write_text(lines)
    (folder / "train.log.1").write_text(lines)
    (folder / "notes.md").write_text("not the run's")
    tree = tree_usage(tmp_path / "runs")
    [usage] = [r.usage for r in tree.runs if r.path == log]
    assert usage.total == blocks(log) + blocks(folder / "train.log.1")
    assert usage.logs == usage.total


def test_a_compressed_archive_is_its_archive_and_manifest_never_extracted(tmp_path, cache, monkeypatch) -> None:
    from runyard import archive_run

    root = tmp_path / "runs"
    run = runyard.init("a", root=root, console=False, system_metrics=False)
    run.log({"loss": 1.0}, step=0)
    ckpt = run.path / "checkpoints" / "step_0.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(os.urandom(100_000))
    run.add_checkpoint(ckpt, step=0)
    run.finish()
    archived = archive_run(root, run.path, compress=True)
    manifest = archived.with_name(archived.name[:-len(".tar.zst")] + ".manifest.json")
    from runyard.layouts import archived as layout

    def no(*args, **kwargs):
        raise AssertionError("du extracted a compressed archive to count its checkpoints")

    monkeypatch.setattr(layout.ArchivedSource, "checkpoints", no)
    monkeypatch.setattr(layout.ArchivedSource, "inner", no)
    tree = tree_usage(root)
    [usage] = [r.usage for r in tree.runs if r.path == archived]
    assert usage.total == blocks(archived) + blocks(manifest)


# ----- where the runs are: the skeleton cache ---------------------------------------------------------------

def make_runyard_run(folder: Path, size: int = 20_000) -> Path:
    """A finished runyard run folder written directly (run.json, metrics, a checkpoint), without the writer."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"format": "runyard/1", "id": folder.name, "status": "finished"}))
    write(folder / "metrics.jsonl", 3000)
    write(folder / "checkpoints" / "step_1.pt", size)
    return folder


def settle(*paths: Path, ago: float = 60) -> None:
    """`paths` (not what is in them) last changed `ago` seconds ago: as a later `du` finds them, past the racy
    window (a stamp that recent is never trusted)."""
    when = time.time() - ago
    for path in paths:
        os.utime(path, (when, when), follow_symlinks=False)


@pytest.fixture
def yard(tmp_path: Path, cache: Path) -> Path:
    """A runs root with three runs at the top, one in a project folder, and a plain folder holding none."""
    root = tmp_path / "runs"
    for name in ("a", "b", "c"):
        make_runyard_run(root / name)
    make_runyard_run(root / "project" / "d")
    (root / "plain").mkdir()
    write(root / "plain" / "notes.bin", 100)
    age(root)
    return root


@pytest.fixture
def detections(monkeypatch) -> list[str]:
    """Every folder a layout is asked about (listed to find what it holds), in order."""
    from runyard.reading import scanner

    asked: list[str] = []
    real = scanner.detect_folder

    def counting(directory, names, found_by=None):
        asked.append(str(directory))
        return real(directory, names, found_by)

    monkeypatch.setattr(scanner, "detect_folder", counting)
    return asked


def sizes(root: Path) -> dict[str, tuple[str, DiskUsage]]:
    """run (relative path) -> (format, usage) from a `du` with the cache."""
    return {str(r.path.relative_to(root)): (r.format, r.usage) for r in tree_usage(root).runs}


def fresh(root: Path) -> dict[str, tuple[str, DiskUsage]]:
    """The same from a `du` that uses no cache at all: what the cached one must always agree with."""
    return {str(r.path.relative_to(root)): (r.format, r.usage) for r in tree_usage(root, use_cache=False).runs}


def test_a_warm_du_lists_no_folder_to_find_its_runs(yard: Path, detections: list[str]) -> None:
    first = sizes(yard)
    assert sorted(first) == ["a", "b", "c", "project/d"]
    assert all(usage == path_usage(yard / name) for name, (_, usage) in first.items())
    detections.clear()
    assert sizes(yard) == first
    assert detections == []  # every folder's stamp stood: no folder listed to find what it is
    assert sizes(yard) == fresh(yard)


def test_a_run_added_is_found_and_only_its_parent_listed(yard: Path, detections: list[str]) -> None:
    sizes(yard)
    new = make_runyard_run(yard / "project" / "e")
    settle(yard / "project", new, *new.rglob("*"))
    detections.clear()
    after = sizes(yard)
    assert sorted(detections) == [str(yard / "project"), str(yard / "project" / "e")]
    assert "project/e" in after and after == fresh(yard)
    detections.clear()
    assert sizes(yard) == after and detections == []


def test_a_run_removed_or_renamed_is_seen(yard: Path, detections: list[str]) -> None:
    sizes(yard)
    shutil.rmtree(yard / "b")
    os.rename(yard / "c", yard / "c2")
    os.rename(yard / "project" / "d", yard / "plain" / "d")  # moved into another folder
    settle(yard, yard / "plain", yard / "project", yard / "c2", yard / "plain" / "d")
    detections.clear()
    after = sizes(yard)
    # the renamed and moved runs were found by listing their new parents; "a" was never listed
    assert str(yard / "a") not in detections and str(yard / "c2") in detections
    assert sorted(after) == ["a", "c2", "plain/d"]
    assert after == fresh(yard)


def test_a_run_folder_growing_a_file_is_counted_as_it_is_now(yard: Path, detections: list[str]) -> None:
    before = sizes(yard)
    with open(yard / "a" / "metrics.jsonl", "ab") as f:  # appended in place: no folder's mtime changes
        f.write(b"y" * 200_000)
    ckpt = yard / "b" / "checkpoints" / "step_1.pt"
    with open(ckpt, "r+b") as f:  # rewritten in place, bigger
        f.write(b"z" * 300_000)
    detections.clear()
    after = sizes(yard)
    # no folder listed to find the runs; the two that changed are read again for any checkpoints they keep
    # outside their folders (what their files say may have changed)
    assert sorted(detections) == [str(yard / "a"), str(yard / "b")]
    assert after["a"][1].logs > before["a"][1].logs and after["a"][1].total == path_usage(yard / "a").total
    assert after["b"][1].checkpoints == blocks(ckpt) > before["b"][1].checkpoints
    assert after == fresh(yard)


def test_a_folder_becoming_a_run_and_a_run_becoming_a_folder(yard: Path, detections: list[str]) -> None:
    sizes(yard)
    # a plain folder gets a run.json: its own mtime changes, so it is listed again and found a run
    (yard / "plain" / "run.json").write_text('{"format": "runyard/1", "id": "p", "status": "finished"}')
    # a run's run.json goes and a run appears inside it: the folder is no run now, the one inside it is
    (yard / "a" / "run.json").unlink()
    make_runyard_run(yard / "a" / "inner")
    # a run changes layout: a CS336 run now (config.json and metrics.csv, no run.json)
    (yard / "c" / "run.json").unlink()
    write(yard / "c" / "config.json", 100)
    write(yard / "c" / "metrics.csv", 100)
    settle(*(p for folder in ("plain", "a", "c") for p in [yard / folder, *(yard / folder).rglob("*")]))
    after = sizes(yard)
    assert sorted(after) == ["a/inner", "b", "c", "plain", "project/d"]
    assert after["c"][0] == "cs336" and after["plain"][0] == "runyard/1"
    assert after == fresh(yard)
    detections.clear()
    assert sizes(yard) == after and detections == []


def test_a_run_folder_replaced_with_its_mtime_kept_is_detected_again(yard: Path) -> None:
    sizes(yard)
    st = os.stat(yard / "b")
    os.rename(yard / "b", yard / "b.old")
    (yard / "b").mkdir()  # a plain folder now, with the very mtime the run folder had (a restore keeping times)
    write(yard / "b" / "notes.bin", 100)
    os.utime(yard / "b", ns=(st.st_atime_ns, st.st_mtime_ns))
    settle(yard / "b.old")
    os.utime(yard, (time.time() - 30, time.time() - 30))
    after = sizes(yard)
    assert "b" not in after and "b.old" in after
    assert after == fresh(yard)


def test_a_folder_changed_just_now_is_not_trusted_next_time(yard: Path) -> None:
    make_runyard_run(yard / "new")  # its stamp and its parent's are within the racy window
    sizes(yard)
    cache = diskusage.UsageCache(yard)
    assert str(yard / "new") not in cache.leaves and str(yard / "a") in cache.leaves
    assert str(yard) not in cache.skeleton.folders or cache.skeleton.folders[str(yard)][0] is None


def test_a_run_inside_another_runs_folder_counts_once_in_the_total(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "runs"
    tb = root / "tb"
    write(tb / "events.out.tfevents.1700000000.host", 5000)  # a TensorBoard run, whose sub-folders may be runs
    make_runyard_run(tb / "inner", size=80_000)
    age(root)
    for _ in range(2):  # cold, then warm
        tree = tree_usage(root)
        by_name = {r.path.name: r.usage for r in tree.runs}
        assert by_name["tb"].total == path_usage(tb).total
        assert by_name["inner"].total == path_usage(tb / "inner").total
        assert tree.total.total == path_usage(tb).total  # inner's files once
        assert tree.total.files == path_usage(tb).files


def test_a_run_folder_made_a_symlink_is_not_followed(yard: Path, tmp_path: Path) -> None:
    sizes(yard)
    elsewhere = make_runyard_run(tmp_path / "elsewhere" / "a", size=500_000)
    shutil.rmtree(yard / "a")
    (yard / "a").symlink_to(elsewhere, target_is_directory=True)
    after = sizes(yard)
    assert "a" not in after and after == fresh(yard)


def test_a_folder_of_runs_replaced_with_its_mtime_kept_is_listed_again(yard: Path) -> None:
    sizes(yard)
    project = yard / "project"
    st = os.stat(project)
    other = yard / "project.new"
    make_runyard_run(other / "x")
    os.rename(project, yard / "project.old")
    os.rename(other, project)  # another folder, holding another run, with the very mtime the first had
    os.utime(project, ns=(st.st_atime_ns, st.st_mtime_ns))
    settle(yard, project / "x", *(project / "x").rglob("*"))
    after = sizes(yard)
    assert "project/x" in after and "project.old/d" in after and "project/d" not in after
    assert after == fresh(yard)


def test_a_file_run_inside_another_runs_folder_counts_once_in_either_order(tmp_path: Path, cache: Path) -> None:
    from runyard.reading.scanner import walk

    root = tmp_path / "runs"
    tb = root / "tb"
    write(tb / "events.out.tfevents.1700000000.host", 5000)
    log = write(tb / "logs" / "log_run_20250101_120000.txt", 40_000)  # a nanoGPT run (a file) inside the TB run
    age(root)
    found = list(walk(root))
    assert sorted(str(s.path) for s in found) == [str(tb), str(log)]
    for order in (found, found[::-1]):  # the folder walked first, or the file measured by its path first
        tree = tree_usage(root, order, use_cache=False)
        by_path = {r.path: r.usage for r in tree.runs}
        assert by_path[log].total == blocks(log) and by_path[tb].total == path_usage(tb).total
        assert tree.total == path_usage(tb)


def test_a_checkpoint_kept_in_another_runs_folder_counts_once(yard: Path) -> None:
    shared = yard / "b" / "checkpoints" / "step_1.pt"
    index = yard / "a" / "checkpoints" / "index.jsonl"
    index.write_text(json.dumps({"step": 7, "file": str(shared)}) + "\n")  # a checkpoint in run b's folder
    age(yard)
    for _ in range(2):  # cold, then warm
        tree = tree_usage(yard)
        by_name = {r.path.name: r.usage for r in tree.runs}
        assert by_name["a"].checkpoints == blocks(yard / "a" / "checkpoints" / "step_1.pt") + blocks(shared)
        assert by_name["b"].checkpoints == blocks(shared)
        runs = [yard / "a", yard / "b", yard / "c", yard / "project" / "d"]
        assert tree.total.total == sum(path_usage(run).total for run in runs)  # the shared checkpoint once
        assert tree.total.files == sum(path_usage(run).files for run in runs)


def test_a_run_usage_made_from_text_is_the_same_as_one_made_from_a_path(tmp_path: Path) -> None:
    from runyard.ops.diskusage import RunUsage

    usage = DiskUsage(4096, 0, 4096, 0, 1)
    lazy = RunUsage.at(str(tmp_path / "a"), "runyard/1", usage)
    made = RunUsage(tmp_path / "a", "runyard/1", usage)
    assert lazy.text == made.text == str(tmp_path / "a")
    assert lazy == made and lazy.path == tmp_path / "a" and isinstance(lazy.path, Path)
    with pytest.raises(AttributeError):
        _ = lazy.nothing


def test_du_as_another_user_says_which_run_folders_it_could_not_read(tmp_path: Path) -> None:
    """Run folders closed (chmod 000) after a warm `du` knew them: their stamps stand (chmod changes no mtime),
    yet `du` as an unprivileged user says it could not read them and lists the rest, as `ls` does."""
    import subprocess
    import sys
    import tempfile

    runyard_cli = Path(sys.executable).parent / "runyard"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no way to be refused")
    base = Path(tempfile.mkdtemp(prefix="runyard-du-perm-", dir="/tmp"))  # pytest's own tmp is closed to others
    try:
        base.chmod(0o755)
        runs = base / "runs"
        for name in ("a", "b", "c"):
            make_runyard_run(runs / name)
        (runs / "c" / "closed").mkdir()
        write(runs / "c" / "closed" / "big.pt", 100_000)
        cache = base / "cache"
        cache.mkdir()
        cache.chmod(0o777)
        for path in [runs, *runs.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        age(runs)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        env = {**os.environ, "RUNYARD_CACHE_DIR": str(cache), "HOME": str(base), "XDG_CONFIG_HOME": str(base)}

        def du() -> subprocess.CompletedProcess:
            return subprocess.run([*prefix, str(runyard_cli), "du", "runs"], cwd=base, env=env, capture_output=True,
                                  text=True, timeout=60)

        done = du()
        assert (done.returncode, done.stderr) == (0, "")
        assert sorted(row.split("\t")[0] for row in done.stdout.splitlines()[1:]) == ["a", "b", "c"]
        (runs / "a").chmod(0)
        (runs / "c" / "closed").chmod(0o644)  # listed, not entered: its file cannot be stat'ed
        done = du()
        assert done.returncode == 0, done.stderr
        assert done.stderr == ("runyard: warning: 2 folders could not be read (permission denied): "
                               "runs/a, runs/c/closed\n")
        assert sorted(row.split("\t")[0] for row in done.stdout.splitlines()[1:]) == ["b", "c"]
    finally:
        for folder in (base / "runs" / "a", base / "runs" / "c" / "closed"):
            if folder.exists():
                folder.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_the_walk_notes_folders_that_are_one_run_and_passes_over_known_ones(yard: Path, monkeypatch) -> None:
    from runyard.reading.scanner import walk

    write(yard / "tb" / "events.out.tfevents.1700000000.host", 100)  # one run, but its sub-folders may hold more
    whole: dict[str, list[int]] = {}
    found = [str(s.path) for s in walk(yard, whole=whole)]
    runs = [str(yard / name) for name in ("a", "b", "c", "project/d")]
    assert sorted(found) == sorted([*runs, str(yard / "tb")])
    assert sorted(whole) == runs
    assert all(whole[p] == [os.stat(p).st_mtime_ns, os.stat(p).st_ino] for p in runs)
    # known folders come back as their paths, neither stat'ed nor listed
    again = list(walk(yard, known=set(runs)))
    assert sorted(item for item in again if isinstance(item, str)) == sorted(runs)
    # the same text for a root given as "."
    monkeypatch.chdir(yard)
    whole.clear()
    assert sorted(str(s.path) for s in walk(Path("."), whole=whole)) == ["a", "b", "c", "project/d", "tb"]
    assert sorted(item for item in walk(Path("."), known=set(whole)) if isinstance(item, str)) == sorted(whole)


def test_a_warm_du_of_the_current_folder_lists_nothing(yard: Path, detections: list[str], monkeypatch) -> None:
    monkeypatch.chdir(yard)
    first = {str(r.path): r.usage for r in tree_usage(Path(".")).runs}
    assert sorted(first) == ["a", "b", "c", "project/d"]
    detections.clear()
    assert {str(r.path): r.usage for r in tree_usage(Path(".")).runs} == first and detections == []


def test_a_run_folder_whose_name_is_not_utf8_is_counted_and_du_does_not_fail(yard: Path) -> None:
    odd = Path(os.fsdecode(os.fsencode(str(yard)) + b"/run-\xff"))
    make_runyard_run(odd)
    age(yard)
    for _ in range(2):  # the cache cannot hold such a name (JSON is UTF-8): it is found afresh each time
        after = sizes(yard)
        assert after[odd.name][1] == path_usage(odd)
        assert after == fresh(yard)
