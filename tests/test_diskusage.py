"""Disk usage: bytes on disk, hard links once, symlinks never followed, split into checkpoints/logs/other."""

from __future__ import annotations

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
