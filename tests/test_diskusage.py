"""Disk usage: bytes on disk, hard links once, symlinks never followed, split into checkpoints/logs/other."""

from __future__ import annotations

import os
from pathlib import Path

from runyard.ops.diskusage import DiskUsage, kind_of, path_usage, reclaimable


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
