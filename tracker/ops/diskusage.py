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
import re
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract import CHECKPOINT_INDEX
from ..files import read_bytes

if TYPE_CHECKING:
    from ..layouts.base import RunSource

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
_ROTATED = re.compile(r"(\.\d+)?(\.(gz|zst|bz2|xz))?$")
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

    def negated(self) -> DiskUsage:
        return DiskUsage(-self.total, -self.checkpoints, -self.logs, -self.other, -self.files)

    def to_json(self) -> dict[str, int]:
        return {"total": self.total, "checkpoints": self.checkpoints, "logs": self.logs, "other": self.other,
                "files": self.files}


def on_disk(st: os.stat_result) -> int:
    """Bytes on disk of one stat result (blocks of 512 bytes, as POSIX defines st_blocks)."""
    return st.st_blocks * 512


@lru_cache(maxsize=1 << 16)  # names repeat from run to run (run.json, step_100.pt): judged once each

def du_size(n: int) -> str:
    """Bytes as `du -h` shows them, for table cells: `512B`, `4.0K`, `12K`, `340M`, `1.2G` (powers of 1024)."""
    size = float(n)
    for unit in "BKMGTP":
        if size < 1024 or unit == "P":
            if unit == "B":
                return f"{int(size)}B"
            return f"{size:.1f}{unit}" if size < 9.95 else f"{size:.0f}{unit}"
        size /= 1024
    return f"{size:.0f}P"  # pragma: no cover - the loop returns at P


def iec_size(n: int) -> str:
    """Bytes in a sentence: `512 B`, `52.0 KiB`, `3.2 GiB` (powers of 1024, named as IEC 80000-13 names them)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover - the loop returns at TiB


def kind_of(name: str, in_checkpoints: bool) -> str:
    """"checkpoints", "logs" or "other" for a file called `name`; `in_checkpoints` when under a checkpoint folder.

    Inside a checkpoint folder everything is checkpoint (HF's `config.json` and `trainer_state.json` belong to
    the checkpoint) except the index runyard appends to and log files.
    """
    lowered = _ROTATED.sub("", name.lower()) or name.lower()  # train.log.1, train.log.2.gz: still a log
    suffix = os.path.splitext(lowered)[1]
    if in_checkpoints:
        return "logs" if lowered == CHECKPOINT_INDEX or suffix == ".log" else "checkpoints"
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


# ----- runs ---------------------------------------------------------------------------------------------------

# The folders beside a run where a layout keeps its checkpoints outside the run's folder (ChatGoT writes
# `models/<run>_epoch_N.pt` next to the runs folder): a checkpoint added there changes one of their mtimes.
_BESIDE = ("models",)
RACY = 2.0  # seconds: a folder or file changed this recently may change again within its mtime's resolution
CACHE_VERSION = 2


def _source_of(run: Any) -> RunSource:
    """The RunSource of a RunRecord, a RunView or a RunSource."""
    source = getattr(run, "source", run)
    if source is None:
        raise ValueError(f"{run.info.path}: {run.info.error or 'cannot be opened'}")
    return source


def run_files(source: RunSource) -> list[Path]:
    """What a run is on disk in its own right: its folder, or for a one-file layout its file and the file's
    rotated predecessors (`train.log.1`, `train.log.2.gz`) or a compressed archive's manifest; never the configs
    a folder of logs shares."""
    path = source.path
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            return [path]
    except OSError:
        return [path]
    return [path, *_rotated(source)]


def _rotated(source: RunSource) -> list[Path]:
    """The files beside a one-file run that are part of it: a log's rotated predecessors, a compressed
    archive's manifest."""
    path = Path(source.path)
    prefix = path.name + "."
    manifest = getattr(source, "manifest_path", None)
    return [*(p for p in source.key_files() if p.parent == path.parent and p.name.startswith(prefix)),
            *([Path(manifest)] if manifest is not None else [])]


def within(root: Path, path: Path) -> bool:
    """True when `path` lies inside `root` with no symlink in any folder between them (the path itself may be a
    link: it is counted, or moved, as a link). Judged on the names as given, then component by component."""
    root_text = os.path.abspath(root)
    text = os.path.abspath(path)
    if not text.startswith(root_text.rstrip(os.sep) + os.sep):
        return False
    parts = text[len(root_text):].strip(os.sep).split(os.sep)
    where = root_text
    for part in parts[:-1]:
        where = os.path.join(where, part)
        try:
            if not stat.S_ISDIR(os.lstat(where).st_mode):  # a symlinked folder is no folder to lstat
                return False
        except OSError:
            return False
    return True


def outside_checkpoints(source: RunSource, root: Path | None = None) -> list[Path]:
    """The run's checkpoints that live outside its folder (ChatGoT's sibling `models/<run>_epoch_N.pt`, an index
    line naming an absolute path); with `root`, only those inside it (nothing outside a runs root is counted)."""
    if source.format == "archived":  # a compressed archive holds its checkpoints: never extracted to count them
        return []
    own = os.path.abspath(source.path)
    found = []
    try:
        checkpoints = source.checkpoints()
    except Exception:  # a run whose checkpoints cannot be read has none to add: its folder is still counted
        return []
    for checkpoint in checkpoints:
        path = Path(os.path.abspath(checkpoint.path))
        if str(path).startswith(own.rstrip(os.sep) + os.sep) or str(path) == own:
            continue
        if root is not None and not within(root, path):
            continue
        found.append(path)
    return sorted(set(found))


class UsageCache:
    """What a `du` of a runs root keeps between runs: where the runs are, and per run its checkpoints outside its
    folder. Sizes are never cached.

    Every file of every run is lstat'ed each time, because a file that grew or was replaced changes nothing a
    cheaper check could see (not its folder's mtime), and the lstat that would check it already gives its
    blocks. What is cached is what costs more than a stat:

    - Where the runs are (`leaves`, `skeleton`). A folder that is one run of its own (a runyard, W&B, FPN or
      CS336 run folder) is kept with its layout and the (mtime_ns, inode) it had before it was listed; the
      folders that hold no run (the tree's skeleton) are kept as the scan keeps them (sub-folders, plain-log
      verdicts), by mtime and inode. A run added, removed or renamed changes its parent's mtime, so only a
      skeleton folder whose stamp changed is listed again; a run folder is not listed to find it (its size walk
      lists it), and one whose own stamp changed (a file added, removed or renamed in it: it may have become
      another layout's, or no run) is detected again. The layouts' key (`scanner.layouts_key`) is kept too: a
      layout installed or removed starts afresh.
    - Which checkpoints outside its folder belong to a run (reading a TensorBoard run's event files, or an
      index). That list's key is what it is derived from: the run's format, the (inode, size, mtime_ns) of
      everything in its folder (a digest of what the size walk stats anyway: any file of the run written,
      added, removed or replaced changes it; a superset of the files a layout reads its checkpoints from, so it
      is never too weak), and the (mtime_ns, inode) of the `models/` folders beside it, where a checkpoint added
      or removed changes the folder's mtime.

    A stamp within `RACY` seconds of now is not stored (a change within the mtime's resolution would go unseen).
    The file lives in the cache folder, outside the runs tree.
    """

    def __init__(self, root: Path) -> None:
        from ..reading.cachedir import cache_file
        from ..reading.scanner import FolderCache, layouts_key

        self.root = Path(root)
        self.path = cache_file("du", str(self.root.resolve()), ".json")
        self.runs: dict[str, Any] = {}
        self.seen: dict[str, Any] = {}
        self.leaves: dict[str, list[Any]] = {}  # run folder -> [format, mtime_ns, inode]
        self.leaves_seen: dict[str, list[Any]] | None = None  # None: not looked at this time (kept as loaded)
        self._inodes: dict[str, int] = {}
        self._stats: dict[str, Any] = {}
        self._beside: dict[str, list[Any]] = {}
        self._layouts = layouts_key()
        folders: dict[str, Any] = {}
        try:
            import orjson

            data = orjson.loads(read_bytes(self.path))  # regular files only: a FIFO is not waited on
            if isinstance(data, dict) and data.get("version") == CACHE_VERSION:
                if isinstance(data.get("runs"), dict):
                    self.runs = data["runs"]
                if (data.get("layouts") == self._layouts and isinstance(data.get("leaves"), dict)
                        and isinstance(data.get("folders"), dict) and isinstance(data.get("inodes"), dict)):
                    self.leaves, folders, self._inodes = data["leaves"], data["folders"], data["inodes"]
        except (OSError, ValueError):
            pass
        self.skeleton = FolderCache(folders, self._inodes)

    def _folder_stamp(self, path: str) -> list[int] | None:
        known = self._stats.get(path, False)
        if known is False:
            try:
                st = os.lstat(path)
                known = [st.st_mtime_ns, st.st_ino]
            except OSError:
                known = None
            self._stats[path] = known
        return known

    def _key(self, path: str, format: str, stamps: list[int]) -> list[Any]:
        parent = path.rpartition(os.sep)[0]
        beside = self._beside.get(parent)
        if beside is None:
            beside = self._beside[parent] = [
                self._folder_stamp(os.path.join(folder, name))
                for folder in dict.fromkeys((parent, os.path.dirname(parent))) for name in _BESIDE]
        # A tuple of ints hashes the same in every process (only str and bytes hashes are salted), and 64 bits
        # leave a chance of 2**-64 that a changed folder keeps its digest: cheaper than any hash of the text.
        return [format, len(stamps), hash(tuple(stamps)), beside]

    def outside(self, source: RunSource, stamps: list[int] | None = None) -> list[Path]:
        """The run's checkpoints outside its folder (see `outside_checkpoints`), from the cache while its key holds.

        `stamps`: the (inode, size, mtime_ns) of everything in the run's folder, as a walk of it just saw them
        (see `inode_sizes`); walked here when not given.
        """
        if stamps is None:
            stamps = []
            _walk_run(source, {}, stamps)
        return [Path(p) for p in self.outside_of(str(source.path), source.format, stamps, source)]

    def outside_of(self, path: str, format: str, stamps: list[int], source: RunSource | None) -> list[str]:
        """`outside` for the run at `path` in layout `format`, as text; `source` None: the cache knows the run's
        folder without its RunSource, which is made (the folder detected again) only if the list is read."""
        key = self._key(path, format, stamps)
        entry = self.runs.get(path)
        if isinstance(entry, dict) and entry.get("key") == key and isinstance(entry.get("outside"), list):
            self.seen[path] = entry
            return entry["outside"]
        if source is None:
            source = _source_at(path, self.root)
        found = [str(p) for p in outside_checkpoints(source, self.root)] if source is not None else []
        if not _racy(stamps, key):
            self.seen[path] = {"key": key, "outside": found}
        return found

    def save(self) -> None:
        """Keep the runs seen this time (temp file + rename; a failure only loses the cache)."""
        folders = self.skeleton.folders_json() if self.leaves_seen is not None else self.skeleton.folders
        inodes = self.skeleton.inodes_seen if self.leaves_seen is not None else self._inodes
        leaves = self.leaves_seen if self.leaves_seen is not None else self.leaves
        if (self.seen.keys() == self.runs.keys() and all(self.runs[k] is v for k, v in self.seen.items())
                and leaves == self.leaves and self.skeleton.unchanged(folders) and inodes == self._inodes):
            return
        import orjson

        data = {"version": CACHE_VERSION, "layouts": self._layouts, "runs": self.seen, "leaves": leaves,
                "folders": folders, "inodes": inodes}
        try:
            text = orjson.dumps(data)
        except TypeError:  # a name that is not UTF-8, which JSON cannot hold: what holds it is found afresh
            text = orjson.dumps({key: _fitting(value) if isinstance(value, dict) else value
                                 for key, value in data.items()})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(text)
            os.replace(tmp, self.path)
        except OSError:
            return


def _fitting(entries: dict[str, Any]) -> dict[str, Any]:
    """The entries JSON can hold (their names and values valid UTF-8)."""
    import orjson

    out = {}
    for key, value in entries.items():
        try:
            orjson.dumps([key, value])
        except TypeError:
            continue
        out[key] = value
    return out


def _source_at(path: str, root: Path) -> RunSource | None:
    """The run whose folder is `path`, detected afresh (the folder listed); None when it is no longer one."""
    one = _whole_run(path)
    if one is None:
        return None
    one[0].root = root
    return one[0]


def _racy(stamps: list[int], key: list[Any]) -> bool:
    """True if any time among the walk's `stamps` (every third is an mtime_ns) or the folders in `key` is within
    `RACY` seconds of now, or in the future."""
    limit = (time.time() - RACY) * 1e9
    times = [*stamps[2::3], *(stamp[0] for stamp in key[3] if stamp)]
    return any(t > limit for t in times)


def inode_sizes(paths: Iterable[tuple[Path, bool]],
                stamps: list[int] | None = None) -> dict[tuple[int, int], tuple[int, str]]:
    """(st_dev, st_ino) -> (bytes on disk, kind) of everything under `paths` (path, counts as checkpoints);
    with `stamps`, the (inode, size, mtime_ns) of each thing walked are appended to it, in walk order."""
    out: dict[tuple[int, int], tuple[int, str]] = {}
    for path, forced in paths:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        _walk_into(str(path), st, forced, out, stamps)
    return out


def _walk_into(top: str, st: os.stat_result, forced: bool, out: dict[tuple[int, int], tuple[int, str]],
               stamps: list[int] | None) -> None:
    """Adds `top` (lstat'ed as `st`) and, for a folder, everything under it to `out` (see `inode_sizes`).

    A run's folder is judged by what is in it, never by the folder it sits in (`forced`: all checkpoints). The
    hot loop of `du`: one lstat per entry and nothing else a stat walk would not do.
    """
    note = stamps.extend if stamps is not None else None
    if note is not None:
        note((st.st_ino, st.st_size, st.st_mtime_ns))
    if not stat.S_ISDIR(st.st_mode):
        kind = "checkpoints" if forced else kind_of(os.path.basename(top), False)
        out.setdefault((st.st_dev, st.st_ino), (st.st_blocks * 512, kind))
        return
    out.setdefault((st.st_dev, st.st_ino), (st.st_blocks * 512, "other"))
    is_dir = stat.S_ISDIR
    stack = [(top, forced)]
    while stack:
        directory, inside = stack.pop()
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if note is not None:
                        note((st.st_ino, st.st_size, st.st_mtime_ns))
                    key = (st.st_dev, st.st_ino)
                    if key in out:
                        continue
                    if is_dir(st.st_mode):
                        out[key] = (st.st_blocks * 512, "other")
                        stack.append((entry.path, inside or is_checkpoint_dir(entry.name)))
                    else:
                        out[key] = (st.st_blocks * 512, kind_of(entry.name, inside))
        except OSError:
            continue


def _walk_run(source: RunSource, out: dict[tuple[int, int], tuple[int, str]], stamps: list[int]) -> None:
    """A run's own files into `out`: its folder, or its file and the file's rotated logs."""
    path = str(source.path)
    try:
        st = os.lstat(path)
    except OSError:
        return
    _walk_into(path, st, False, out, stamps)
    if not stat.S_ISDIR(st.st_mode):
        for rotated in _rotated(source):
            try:
                _walk_into(str(rotated), os.lstat(rotated), False, out, stamps)
            except OSError:
                continue


def tally(entries: Iterable[tuple[int, str]]) -> DiskUsage:
    """The sizes and kinds of `inode_sizes` summed into a DiskUsage."""
    total = checkpoints = logs = other = files = 0  # locals: ten thousand runs add up in a blink
    for size, kind in entries:
        files += 1
        total += size
        if kind == "checkpoints":
            checkpoints += size
        elif kind == "logs":
            logs += size
        else:
            other += size
    return DiskUsage(total, checkpoints, logs, other, files)


def run_paths(run: Any, root: Path | None = None, cache: UsageCache | None = None) -> list[Path]:
    """Every path that makes up a run on disk: its folder (or file and rotated files) and its checkpoints that
    live outside the folder (inside `root` only; default: the root it was scanned under, else anywhere)."""
    source = _source_of(run)
    root = root if root is not None else source.root
    outside = cache.outside(source) if cache is not None else outside_checkpoints(source, root)
    return [*run_files(source), *outside]


def run_entries(source: RunSource, root: Path | None,
                cache: UsageCache | None) -> tuple[dict[tuple[int, int], tuple[int, str]], list[Path]]:
    """inode -> (bytes, kind) of a run's files and of its checkpoints outside its folder; and those checkpoints."""
    stamps: list[int] = []
    entries: dict[tuple[int, int], tuple[int, str]] = {}
    _walk_run(source, entries, stamps)
    outside = cache.outside(source, stamps) if cache is not None else outside_checkpoints(source, root)
    if outside:
        for key, value in inode_sizes([(p, True) for p in outside]).items():
            entries.setdefault(key, value)
    return entries, outside


def run_usage(run: Any, *, root: Path | None = None, seen: set[tuple[int, int]] | None = None,
              cache: UsageCache | None = None) -> DiskUsage:
    """Bytes on disk of one run (a RunRecord, RunView or RunSource): its folder, or its file for one-file
    layouts, plus its checkpoints outside the folder (see `run_paths`); hard links once, symlinks never
    followed. `seen`: inodes already counted elsewhere (see `path_usage`), added to."""
    source = _source_of(run)
    entries, _ = run_entries(source, root if root is not None else source.root, cache)
    if seen is not None:
        entries = {k: v for k, v in entries.items() if k not in seen}
        seen.update(entries)
    return tally(entries.values())


@dataclass
class RunUsage:
    """One run's disk usage: its path (folder, or file for one-file layouts), layout, usage, and its record when
    the caller gave records (a `du` of a tree finds runs without reading them)."""

    path: Path
    format: str
    usage: DiskUsage
    record: Any = None

    @classmethod
    def at(cls, text: str, format: str, usage: DiskUsage, record: Any = None) -> RunUsage:
        """A RunUsage whose `path` is made from `text` only when asked for: a `du --json` of ten thousand runs
        prints their paths as text, and making a Path of each costs a good part of a stat walk."""
        made = cls.__new__(cls)
        made.__dict__.update(text=text, format=format, usage=usage, record=record)
        return made

    def __getattr__(self, name: str) -> Any:  # only for what the instance does not hold yet
        held = self.__dict__
        if name == "path" and "text" in held:
            path = held["path"] = Path(held["text"])
            return path
        if name == "text" and "path" in held:
            text = held["text"] = str(held["path"])
            return text
        raise AttributeError(name)


@dataclass
class TreeUsage:
    """`tree_usage`'s answer: each run's usage, biggest first, and the tree's total over all runs (hard links
    shared by runs counted once); `unreadable`: folders that could not be listed (path -> why)."""

    runs: list[RunUsage]
    total: DiskUsage
    unreadable: dict[str, str]


def tree_usage(root: Path, records: Iterable[Any] | None = None, *, use_cache: bool = True) -> TreeUsage:
    """Disk usage of every run under `root`, biggest first, and the tree's total.

    Without `records` the runs are found as the scan finds them, but not read, and where the tree has not
    changed they are not even looked for (see `UsageCache`): a warm `du` is one stat walk of the runs. Runs
    that could not be read are counted too (their files still take space).
    """
    root = Path(root)
    unreadable: dict[str, str] = {}
    cache = UsageCache(root) if use_cache else None
    if records is None:
        found = _find_runs(root, cache, unreadable)
        records_of: list[Any] = []
    else:
        records_of = [r for r in records if getattr(r, "source", r) is not None]
        found = [(str(s.path), s.format, s, None) for s in (getattr(r, "source", r) for r in records_of)]
    seen = _Seen(unreadable)  # what was counted, so that nothing counts twice
    tree = [0] * 10  # [total, checkpoints, logs, other, files] of the runs just measured, then of the tree
    rows = []
    for mark, (path, format, source, st) in enumerate(found):
        tree[:5] = (0, 0, 0, 0, 0)
        stamps: list[int] | None = [] if cache is not None else None
        if source is not None and source.root is None:
            source.root = root
        try:
            if st is None:
                st = os.lstat(path)
        except OSError:  # gone since it was found
            continue
        if _measure(path, st, False, mark, seen, stamps, tree) is not None:
            continue  # its folder could not be listed (noted as unreadable): no run the scan would see
        if source is not None and not stat.S_ISDIR(st.st_mode):
            for rotated in _rotated(source):
                _measure_path(str(rotated), False, mark, seen, stamps, tree)
        if cache is not None:
            outside: list[str] | list[Path] = cache.outside_of(path, format, stamps or [], source)
        else:
            outside = outside_checkpoints(source, root) if source is not None else []
        for checkpoint in outside:
            _measure_path(str(checkpoint), True, mark, seen, None, tree)
        rows.append((tree[0], path, format, tree[:5], mark))
    if cache is not None:
        cache.save()
    rows.sort(key=itemgetter(1))  # biggest first, then by path: two stable sorts on plain values
    rows.sort(key=itemgetter(0), reverse=True)
    out = [RunUsage.at(path, format, DiskUsage(*counts), records_of[mark] if records_of else None)
           for _, path, format, counts, mark in rows]
    return TreeUsage(out, DiskUsage(*tree[5:]), unreadable)


_Found = tuple[str, str, "RunSource | None", "os.stat_result | None"]  # path, format, source, lstat of the path


def _find_runs(root: Path, cache: UsageCache | None, unreadable: dict[str, str]) -> list[_Found]:
    """The runs under `root` as the scan finds them: (path, format, source or None, lstat or None) each. With a
    cache, a run folder it knows is taken as it stands (its lstat checked, no RunSource made); a skeleton
    folder is listed only if its stamp changed, a known run folder only if its own did (see `UsageCache`)."""
    from ..reading.scanner import walk

    if cache is None:
        return [(str(s.path), s.format, s, None) for s in walk(root, None, unreadable) if not isinstance(s, str)]
    known = cache.leaves
    whole: dict[str, list[int]] = {}
    found: list[_Found] = []
    stale: list[str] = []
    is_dir = stat.S_ISDIR
    for item in walk(root, cache.skeleton, unreadable, known=known, whole=whole):
        if item.__class__ is str:
            try:
                st = os.lstat(item)
                format, mtime, ino = known[item]
            except (OSError, TypeError, ValueError):
                stale.append(item)
                continue
            if st.st_mtime_ns == mtime and st.st_ino == ino and is_dir(st.st_mode) and isinstance(format, str):
                found.append((item, format, None, st))
            else:
                stale.append(item)
        else:
            found.append((str(item.path), item.format, item, None))
    if stale:
        found.extend(_found_again(root, cache, stale, whole, unreadable))
    limit = (time.time() - RACY) * 1e9  # a folder changed since may have changed again unseen: not kept
    leaves = {}
    for path, format, source, _ in found:
        if source is None:
            leaves[path] = known[path]
        else:
            stamp = whole.get(path)
            if stamp is not None and stamp[0] < limit:
                leaves[path] = [format, *stamp]
    cache.leaves_seen = leaves
    return found


def _found_again(root: Path, cache: UsageCache, stale: list[str], whole: dict[str, list[int]],
                 unreadable: dict[str, str]) -> list[_Found]:
    """The runs at or under known run folders whose stamp changed: each listed again and, when it is one run of
    its own still, taken as such; any other (gone, no run now, another layout's) is found by a walk of the tree
    that lists it (and the other skeleton folders that changed) afresh."""
    from ..reading.scanner import walk

    found: list[_Found] = []
    left = []
    for path in stale:
        one = _whole_run(path)
        if one is None:
            left.append(path)
        else:
            source, whole[path] = one
            found.append((path, source.format, source, None))
    if left:
        gone = set(left)
        below = tuple(p + os.sep for p in left)
        known = {k: v for k, v in cache.leaves.items() if k not in gone}
        for item in walk(root, cache.skeleton, unreadable, known=known, whole=whole):
            if not isinstance(item, str) and ((path := str(item.path)) in gone or path.startswith(below)):
                found.append((path, item.format, item, None))
    return found


def _whole_run(path: str) -> tuple[RunSource, list[int]] | None:
    """The run the folder at `path` is, when it is exactly one run of its own (as `scanner.walk` notes it in
    `whole`), with its (mtime_ns, inode) from before it was listed; None for anything else."""
    from ..reading.scanner import detect_folder

    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            return None
        names = os.listdir(path)
    except OSError:
        return None
    found = detect_folder(Path(path), names)
    if (found is None or found.descend or found.claimed or len(found.runs) != 1
            or str(found.runs[0].path) != path):
        return None
    return found.runs[0], [st.st_mtime_ns, st.st_ino]


_KINDS = {"checkpoints": 1, "logs": 2, "other": 3}  # where each kind adds up in `_measure`'s counters
_kind_numbers: tuple[dict[str, int], dict[str, int]] = ({}, {})  # outside / inside a checkpoint folder


def _kind_number(name: str, inside: bool) -> int:
    known = _kind_numbers[inside]
    if len(known) > 1 << 16:  # names repeat from run to run; a tree of unique names must not grow this forever
        known.clear()
    number = known[name] = _KINDS[kind_of(name, inside)]
    return number


def _measure_path(path: str, forced: bool, mark: int, seen: _Seen, stamps: list[int] | None,
                  counts: list[int]) -> None:
    """`_measure` of a path not yet lstat'ed; a path that is gone counts nothing."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    _measure(path, st, forced, mark, seen, stamps, counts)


class _Seen:
    """What a tree's measure has counted so far, so that nothing counts twice (in a run, or in the tree's total)
    while a plain file costs no bookkeeping at all.

    `owner` maps to the last run that counted it: every folder, every file with several hard links, and every
    file measured by its own path (a one-file run, a rotated log, a checkpoint outside its run's folder; those
    are also in `direct`). A file with one link is in one folder only, so it is counted wherever that folder is:
    in a folder counted before by another run (a run inside another run's folder), it counts in this run but
    not again in the tree; in a folder met for the first time, it is new to the tree unless it was measured by
    its own path before (`direct`).
    """

    __slots__ = ("direct", "owner", "unreadable")

    def __init__(self, unreadable: dict[str, str]) -> None:
        self.owner: dict[tuple[int, int], int] = {}
        self.direct: set[tuple[int, int]] = set()
        self.unreadable = unreadable  # folders that could not be listed, or whose entries could not be stat'ed


def _note_unreadable(unreadable: dict[str, str], where: str, exc: OSError) -> None:
    """Why a folder could not be read, as the scan notes it; a folder or file gone since it was listed is just
    gone."""
    if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        unreadable.setdefault(where, (exc.strerror or type(exc).__name__).lower())


def _measure(top: str, st: os.stat_result, forced: bool, mark: int, seen: _Seen, stamps: list[int] | None,
             counts: list[int]) -> OSError | None:
    """Adds `top` (lstat'ed as `st`) and, for a folder, everything under it to run `mark`'s counts (`counts[:5]`:
    total, checkpoints, logs, other, files) and to the tree's (`counts[5:]`), without following a symlink.

    An inode counts once per run (hard links within a run) and once in the tree (hard links, or a run inside
    another's folder): see `_Seen`. `forced`: all of it is checkpoints. With `stamps`, the (inode, size,
    mtime_ns) of each thing walked are appended to it, in walk order. The hot loop of `du`: one lstat per entry
    (from the listing) and, for a plain file, a few additions.

    A folder inside that cannot be listed, or whose entries cannot be stat'ed, is noted in `seen.unreadable`;
    when `top` itself cannot be listed, nothing is counted and the error is returned.
    """
    note = stamps.extend if stamps is not None else None
    kinds_out, kinds_in = _kind_numbers
    owner = seen.owner
    get = owner.get
    direct = seen.direct
    is_dir = stat.S_ISDIR
    # this run's bytes by kind and count; and of those, what the tree had counted before (another run's)
    ck = lg = ot = n = 0
    old_ck = old_lg = old_ot = old_n = 0
    if note is not None:
        note((st.st_ino, st.st_size, st.st_mtime_ns))
    key = (st.st_dev, st.st_ino)
    prev = get(key)
    folder = is_dir(st.st_mode)
    if not folder and prev is None and st.st_nlink == 1:  # counted already if its folder was walked
        try:
            parent = os.lstat(os.path.dirname(top) or ".")
            prev = get((parent.st_dev, parent.st_ino))
        except OSError:
            pass
    if prev == mark:
        return
    owner[key] = mark
    size = st.st_blocks * 512
    if folder:
        ot = size
    else:
        direct.add(key)
        kind = 1 if forced else _kind_number(top.rpartition(os.sep)[2], False)  # a run's file: by its name
        if kind == 1:
            ck = size
        elif kind == 2:
            lg = size
        else:
            ot = size
    n = 1
    if prev is not None:
        old_ck, old_lg, old_ot, old_n = ck, lg, ot, 1
    if folder:
        stack = [(top, forced, prev is not None)]
        while stack:
            directory, inside, shadowed = stack.pop()
            kinds = kinds_in if inside else kinds_out
            try:
                with os.scandir(directory) as it:
                    for entry in it:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError as exc:  # a folder that can be listed but not entered (mode r--)
                            _note_unreadable(seen.unreadable, directory, exc)
                            continue
                        if note is not None:
                            note((st.st_ino, st.st_size, st.st_mtime_ns))
                        size = st.st_blocks * 512
                        if is_dir(st.st_mode):
                            key = (st.st_dev, st.st_ino)
                            prev = get(key)
                            if prev == mark:  # walked in this run already (a bind mount): never twice
                                continue
                            owner[key] = mark
                            stack.append((entry.path, inside or is_checkpoint_dir(entry.name), prev is not None))
                            ot += size
                            n += 1
                            if prev is not None:
                                old_ot += size
                                old_n += 1
                            continue
                        if st.st_nlink > 1 or (direct and (st.st_dev, st.st_ino) in direct):
                            key = (st.st_dev, st.st_ino)
                            prev = get(key)
                            if prev == mark:
                                continue
                            owner[key] = mark
                            old = prev is not None
                        else:
                            old = shadowed
                        kind = kinds.get(entry.name) or _kind_number(entry.name, inside)
                        n += 1
                        if kind == 1:
                            ck += size
                            if old:
                                old_ck += size
                                old_n += 1
                        elif kind == 2:
                            lg += size
                            if old:
                                old_lg += size
                                old_n += 1
                        else:
                            ot += size
                            if old:
                                old_ot += size
                                old_n += 1
            except OSError as exc:
                _note_unreadable(seen.unreadable, directory, exc)
                if directory is top:  # as the scan has it: a folder it cannot list holds no run it can see
                    return exc
                continue
    counts[0] += ck + lg + ot
    counts[1] += ck
    counts[2] += lg
    counts[3] += ot
    counts[4] += n
    counts[5] += ck + lg + ot - old_ck - old_lg - old_ot
    counts[6] += ck - old_ck
    counts[7] += lg - old_lg
    counts[8] += ot - old_ot
    counts[9] += n - old_n
    return None
