"""Disk usage of runs: bytes on disk, split into checkpoints, logs and the rest.

Sizes are bytes ON DISK (`st_blocks * 512`, as `du` counts them), never apparent sizes: a sparse file costs
what it holds, a 3-byte file costs a block. Nothing follows a symlink (lstat only): a link costs its own blocks,
and what it points at is someone else's. A file with several hard links is counted once, by (st_dev, st_ino).

What a file is: a checkpoint if it lies under a `checkpoints/` (or `models/`, `ckpt/`, `checkpoint-N/`) folder
or has a checkpoint's extension (`.pt`, `.pth`, `.ckpt`, `.safetensors`, ...); logs if it is text a run writes (logs,
metrics, configs, summaries, event files, W&B records); anything else, and every directory's own blocks,
is "other".
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# a file with one of these extensions is a checkpoint wherever it lies
CHECKPOINT_SUFFIXES = frozenset({
    ".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".pkl", ".pickle", ".h5", ".hdf5", ".keras", ".npz",
    ".msgpack", ".onnx", ".tar", ".gguf", ".distcp",
})
# a file under a folder of one of these names is a checkpoint (Orbax / Lightning / HF folders hold many kinds)
CHECKPOINT_DIRS = frozenset({"checkpoints", "checkpoint", "ckpt", "ckpts", "models"})
# text a run writes: logs, metrics, configs, summaries
LOG_SUFFIXES = frozenset({
    ".log", ".jsonl", ".json", ".csv", ".tsv", ".txt", ".yaml", ".yml", ".toml", ".out", ".err", ".wandb",
    ".md", ".gz",
})
LOG_PREFIXES = ("events.out.tfevents.", "log_run_", "train_", "output.log")


@dataclass
class DiskUsage:
    """Bytes on disk of a path or a run, split by kind; `files` counts what was counted (links and dirs too)."""

    total: int = 0
    checkpoints: int = 0
    logs: int = 0
    other: int = 0
    files: int = 0

    def add(self, other: DiskUsage) -> None:
        """Adds `other` into this one (the caller has made sure nothing is counted twice)."""
        self.total += other.total
        self.checkpoints += other.checkpoints
        self.logs += other.logs
        self.other += other.other
        self.files += other.files

    def to_json(self) -> dict[str, int]:
        return {"total": self.total, "checkpoints": self.checkpoints, "logs": self.logs, "other": self.other,
                "files": self.files}


def on_disk(st: os.stat_result) -> int:
    """Bytes on disk of one stat result (blocks of 512 bytes, as POSIX defines st_blocks)."""
    return st.st_blocks * 512


def kind_of(name: str, in_checkpoints: bool) -> str:
    """"checkpoints", "logs" or "other" for a file called `name`; `in_checkpoints` when under a checkpoint folder.

    Inside a checkpoint folder everything is checkpoint (HF's `config.json` and `trainer_state.json` belong to
    the checkpoint) except the index runyard appends to and log files.
    """
    lowered = name.lower()
    suffix = os.path.splitext(lowered)[1]
    if in_checkpoints:
        return "logs" if lowered == "index.jsonl" or suffix == ".log" else "checkpoints"
    if suffix in CHECKPOINT_SUFFIXES:
        return "checkpoints"
    if suffix in LOG_SUFFIXES or lowered.startswith(LOG_PREFIXES):
        return "logs"
    return "other"


def is_checkpoint_dir(name: str) -> bool:
    """A folder whose files are checkpoints: `checkpoints/`, `models/`, HF's `checkpoint-500/`, ..."""
    lowered = name.lower()
    return lowered in CHECKPOINT_DIRS or lowered.startswith("checkpoint-")


def _count(usage: DiskUsage, st: os.stat_result, kind: str, seen: set[tuple[int, int]] | None) -> None:
    if seen is not None:
        key = (st.st_dev, st.st_ino)
        if key in seen:
            return
        seen.add(key)
    size = on_disk(st)
    usage.total += size
    usage.files += 1
    if kind == "checkpoints":
        usage.checkpoints += size
    elif kind == "logs":
        usage.logs += size
    else:
        usage.other += size


def path_usage(path: Path, *, seen: set[tuple[int, int]] | None = None,
               in_checkpoints: bool | None = None) -> DiskUsage:
    """Bytes on disk of one file, link or folder, walked without following symlinks (a folder's own blocks too).

    `seen` holds the (st_dev, st_ino) already counted; what is counted is added to it, so hard links (and
    overlapping paths) count once across calls. Without `seen`, hard links still count once within this call.
    `in_checkpoints` says the path lies in a checkpoint folder (None: judged from its parent's name). A path
    that vanished or cannot be read counts nothing (a folder's unreadable parts are skipped).
    """
    usage = DiskUsage()
    if seen is None:
        seen = set()
    path = Path(path)
    try:
        st = os.lstat(path)
    except OSError:
        return usage
    if in_checkpoints is None:
        in_checkpoints = is_checkpoint_dir(path.parent.name)
    if not stat.S_ISDIR(st.st_mode):
        _count(usage, st, kind_of(path.name, in_checkpoints), seen)
        return usage
    _count(usage, st, "other", seen)
    _walk(str(path), in_checkpoints or is_checkpoint_dir(path.name), usage, seen)
    return usage


def _walk(top: str, in_checkpoints: bool, usage: DiskUsage, seen: set[tuple[int, int]]) -> None:
    stack = [(top, in_checkpoints)]  # a stack, not recursion: a deep tree never exhausts Python's stack
    while stack:
        directory, inside = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                _count(usage, st, "other", seen)
                stack.append((entry.path, inside or is_checkpoint_dir(entry.name)))
            else:
                _count(usage, st, kind_of(entry.name, inside), seen)


def _inodes(path: Path, found: dict[tuple[int, int], list[int]]) -> None:
    """Adds every inode under `path` (no symlink followed) to `found`: key -> [links seen, nlink, bytes]."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    stack = [(str(path), st)]
    while stack:
        where, st = stack.pop()
        key = (st.st_dev, st.st_ino)
        entry = found.get(key)
        if entry is None:
            # a directory frees its blocks with it whatever its link count (`..` entries are not hard links)
            nlink = 1 if stat.S_ISDIR(st.st_mode) else st.st_nlink
            found[key] = [1, nlink, on_disk(st)]
        else:
            entry[0] += 1
        if stat.S_ISDIR(st.st_mode):
            try:
                with os.scandir(where) as it:
                    for child in it:
                        try:
                            stack.append((child.path, child.stat(follow_symlinks=False)))
                        except OSError:
                            continue
            except OSError:
                continue


def reclaimable(paths: Iterable[Path]) -> int:
    """Bytes freed if exactly these paths (files, links or folders) were deleted.

    A hard-linked file counts only if all its links lie inside the set; a symlink frees its own blocks only.
    Overlapping paths (a folder and a file inside it) count once.
    """
    chosen = sorted({os.path.abspath(p) for p in paths})
    tops: list[str] = []
    for p in chosen:  # sorted: a folder comes before anything inside it
        if tops and (p == tops[-1] or p.startswith(tops[-1].rstrip(os.sep) + os.sep)):
            continue
        tops.append(p)
    found: dict[tuple[int, int], list[int]] = {}
    for p in tops:
        _inodes(Path(p), found)
    return sum(size for links, nlink, size in found.values() if links >= nlink)
