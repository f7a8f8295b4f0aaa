"""Know when runs change: inotify/native events on local disks, stat polling on network filesystems.

Events are hints, never truth: they arrive several per write, can be dropped, and network filesystems
(NFS, Lustre, SMB, sshfs...) deliver none for writes made on other machines. So the watcher only says
*which* paths may have changed, batches them (`coalesce`), and asks for a periodic `rescan` regardless,
which the app answers with its cheap cached scan. Only a few folders are watched, never the whole tree:
the root, the non-run folders that hold runs, and the runs the app follows closely.

Nothing here imports Textual; `on_change` is called from a background thread.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

logger = logging.getLogger(__name__)

# Writes, creations, deletions and renames only: opens and no-write closes (a reader's traffic) are not asked for.
WATCHED_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileModifiedEvent, FileMovedEvent, FileDeletedEvent, FileClosedEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_INDEX = Path(CHECKPOINTS_DIR) / "index.jsonl"
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "9p", "fuse", "afs", "glusterfs",
    "panfs", "wekafs", "davfs", "ncpfs", "coda", "ocfs2", "gfs2", "orangefs", "pvfs2", "quobyte", "cvfs",
})
STOP_TIMEOUT = 0.9  # seconds per thread join in stop()
_LIMITS = (errno.ENOSPC, errno.EMFILE)  # kernel limits on watches: only these make the watcher poll instead
MAX_EVENT_RUNS = 8   # more followed runs than this are polled (see RunWatcher._polled_runs)

Signature = tuple[int, int, int]  # (size, mtime_ns, inode)


@dataclass
class Changes:
    """What may have changed since the last call: paths to re-read, and whether to re-list the tree."""

    paths: set[Path] = field(default_factory=set)
    rescan: bool = False

    def __bool__(self) -> bool:
        """False for an empty batch, which is never delivered."""
        return bool(self.paths) or self.rescan


def _parse_mounts(text: str) -> list[tuple[str, str]]:
    """(mount point, fstype) pairs of a /proc/mounts text, mount points unescaped (`\\040` is a space)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
            mounts.append((point, fields[2]))
    return mounts


def _under(path: str, point: str) -> bool:
    """True if `path` is the mount point `point` or inside it (whole path components only)."""
    return point == "/" or path == point or path.startswith(point.rstrip("/") + "/")


def filesystem_type(path: Path, mounts_text: str | None = None) -> str:
    """The type of the filesystem holding `path` (from /proc/mounts), or "unknown" where there is none (macOS)."""
    if mounts_text is None:
        try:
            mounts_text = Path("/proc/mounts").read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            return "unknown"
    resolved = os.path.realpath(path)
    best, fstype = -1, "unknown"
    for point, kind in _parse_mounts(mounts_text):
        if _under(resolved, point) and len(point) >= best:  # `>=`: of stacked mounts, the last one is on top
            best, fstype = len(point), kind
    return fstype


def is_network_filesystem(fstype: str) -> bool:
    """True where inotify cannot see other machines' writes: NFS, SMB, Lustre, GPFS, FUSE (sshfs) and the like."""
    kind = fstype.lower()
    return kind in NETWORK_FILESYSTEMS or kind.startswith("fuse.")


def _is_temp(name: str) -> bool:
    """True for writers' scratch files (`.run.json.1234.tmp`, `x.tmp`), whose changes mean nothing yet."""
    return name.startswith(".") or name.endswith(".tmp")


def _watch_failure(exc: OSError) -> str:
    """Why a watch could not be added, with the sysctl to raise where a kernel limit was hit."""
    if exc.errno == errno.ENOSPC:
        return "inotify watch limit reached (raise fs.inotify.max_user_watches)"
    if exc.errno == errno.EMFILE:
        return "inotify instance limit reached (raise fs.inotify.max_user_instances)"
    return f"cannot watch for events ({exc.strerror or exc})"


def _signature(path: Path | os.DirEntry) -> Signature | None:
    """(size, mtime_ns, inode) of a file, None if it is missing; the inode catches a same-size replacement."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _folder_files(folder: Path) -> dict[Path, Signature]:
    """Signatures of the non-temp files directly in a run folder, plus its checkpoint index."""
    found: dict[Path, Signature] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not _is_temp(entry.name) and entry.is_file():
                    sig = _signature(entry)
                    if sig is not None:
                        found[folder / entry.name] = sig
    except OSError:
        return found
    index = _signature(folder / CHECKPOINT_INDEX)
    if index is not None:
        found[folder / CHECKPOINT_INDEX] = index
    return found


def _dir_mtime(folder: Path) -> int | None:
    """A folder's mtime_ns (it moves when an entry is added, removed or renamed), None if it is missing."""
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return None


def _diff(before: dict[Path, Signature], now: dict[Path, Signature]) -> set[Path]:
    """Files added, removed or changed between two listings of a folder."""
    return {p for p in before.keys() | now.keys() if before.get(p) != now.get(p)}


class _Poller:
    """Polling mode's change finder: stats the followed run folders' files and the containers, never the tree."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[Path, dict[Path, Signature]] = {}
        self._dirs: dict[Path, int | None] = {}

    def track(self, followed: frozenset[Path], containers: frozenset[Path]) -> None:
        """Follow exactly these folders; new ones get a baseline now, so every later change is reported."""
        with self._lock:
            new_files, new_dirs = followed - self._files.keys(), containers - self._dirs.keys()
        files = {folder: _folder_files(folder) for folder in new_files}
        dirs = {folder: _dir_mtime(folder) for folder in new_dirs}
        with self._lock:
            self._files = {folder: self._files[folder] if folder in self._files else files.get(folder, {})
                           for folder in followed}
            self._dirs = {folder: self._dirs[folder] if folder in self._dirs else dirs.get(folder)
                          for folder in containers}

    def poll(self) -> Changes:
        """What changed since the previous poll: files of followed runs, and `rescan` if a container changed."""
        with self._lock:
            followed, containers = list(self._files), list(self._dirs)
        files = {folder: _folder_files(folder) for folder in followed}
        dirs = {folder: _dir_mtime(folder) for folder in containers}
        changes = Changes()
        with self._lock:  # folders untracked meanwhile are dropped, not resurrected
            for folder in files.keys() & self._files.keys():
                changes.paths |= _diff(self._files[folder], files[folder])
                self._files[folder] = files[folder]
            for folder in dirs.keys() & self._dirs.keys():
                changes.rescan |= self._dirs[folder] != dirs[folder]
                self._dirs[folder] = dirs[folder]
        return changes


class _Forward(FileSystemEventHandler):
    """Hands every watchdog event to the watcher (runs on the observer's thread)."""

    def __init__(self, sink: Callable[[FileSystemEvent], None]) -> None:
        self._sink = sink

    def dispatch(self, event: FileSystemEvent) -> None:
        """Forward the event as is; filtering happens in the watcher."""
        self._sink(event)


class RunWatcher:
    """Reports changes under a runs root to `on_change`, batched, from one background thread."""

    def __init__(self, root: Path, on_change: Callable[[Changes], None], *, poll: bool | None = None,
                 interval: float = 1.0, coalesce: float = 0.2, reconcile: float = 5.0) -> None:
        self.root = Path(os.path.abspath(root))
        self.interval, self.coalesce, self.reconcile = interval, coalesce, reconcile
        self.mode, self.reason = self._choose_mode(poll)
        self._on_change = on_change
        self._followed: frozenset[Path] = frozenset()
        self._containers: frozenset[Path] = frozenset({self.root})
        self._cond = threading.Condition()  # guards the pending batch and the stop flag
        self._pending = Changes()
        self._due: float | None = None
        self._stopping = False
        self._watch_lock = threading.RLock()  # guards the observer and its watches
        self._observer: BaseObserver | None = None
        self._watches: dict[Path, ObservedWatch] = {}
        self._handler = _Forward(self._on_event)
        self._thread: threading.Thread | None = None
        self._poller = _Poller()

    def _choose_mode(self, poll: bool | None) -> tuple[str, str]:
        """("events" | "poll", why): forced by `poll`, else by the root's filesystem type."""
        if poll is True:
            return "poll", "--poll"
        if poll is False:
            return "events", "events requested (poll=False)"
        fstype = filesystem_type(self.root)
        if is_network_filesystem(fstype):
            return "poll", f"{fstype} filesystem: inotify sees no remote writes"
        return "events", f"local {fstype} filesystem" if fstype != "unknown" else "local filesystem"

    def start(self) -> None:
        """Start watching (or polling) and the delivery thread; a watcher runs once, so a second call does nothing."""
        if self._thread is not None:
            return
        if self.mode == "events":
            self._start_observer()
        self._track()
        self._thread = threading.Thread(target=self._run, name="runyard-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop every thread and wait for them (briefly); safe to call more than once, or before start()."""
        if self._thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._stop_observer()
        if self._thread is not threading.current_thread():
            self._thread.join(STOP_TIMEOUT)

    def follow(self, run_dirs: Iterable[Path]) -> None:
        """Replace the set of run folders followed closely (running runs and the open one)."""
        self._followed = frozenset(Path(os.path.abspath(d)) for d in run_dirs)
        self._sync_watches()
        self._track()

    def watch_containers(self, dirs: Iterable[Path]) -> None:
        """Replace the set of non-run folders watched for new runs (`archive/`, project folders); root stays."""
        self._containers = frozenset({self.root, *(Path(os.path.abspath(d)) for d in dirs)})
        self._sync_watches()
        self._track()

    def _polled_runs(self) -> frozenset[Path]:
        """Followed runs read by polling: all in polling mode, and in events mode all once there are many.

        Live runs make several inotify events a second each (a TensorBoard writer's flush alone makes a few),
        each costing Python work in watchdog's threads and, when they fall apart in time, a read of the run
        more: twenty such runs cost the app 44% of a core that way, against 13% when their folders are statted
        once a second (bench/bench_follow_tb_app.py, runs screen). Polling also bounds the watches used.
        """
        if self.mode == "poll" or len(self._followed) > MAX_EVENT_RUNS:
            return self._followed
        return frozenset()

    def _track(self) -> None:
        """Baseline newly polled folders now, so changes made from here on are reported."""
        self._poller.track(self._polled_runs(), self._containers if self.mode == "poll" else frozenset())

    # events mode

    def _start_observer(self) -> None:
        """Start the native observer and add the watches; any failure falls back to polling."""
        with self._watch_lock:
            try:
                self._observer = Observer()
                self._observer.start()
            except OSError as exc:
                self._fall_back(_watch_failure(exc))
                return
        self._sync_watches()

    def _stop_observer(self) -> None:
        """Stop the observer thread, if any, and forget its watches."""
        with self._watch_lock:
            observer, self._observer = self._observer, None
            self._watches.clear()
        if observer is not None:
            observer.stop()
            if observer.is_alive():
                observer.join(STOP_TIMEOUT)

    def _fall_back(self, reason: str) -> None:
        """Switch to polling for good (a kernel limit will not go away) and tell the app through a rescan."""
        logger.warning("runyard: watching %s by polling: %s", self.root, reason)
        self.mode, self.reason = "poll", reason
        self._stop_observer()
        self._track()
        self._note(set(), rescan=True)

    def _wanted_dirs(self) -> set[Path]:
        """The folders to watch now: root, containers, followed runs and their checkpoint folders, if they exist."""
        followed = self._followed - self._polled_runs()
        wanted = self._containers | followed | {d / CHECKPOINTS_DIR for d in followed}
        return {d for d in wanted if os.path.isdir(d)}  # False, not PermissionError, inside a folder closed to us

    def _sync_watches(self) -> None:
        """Add and remove non-recursive watches to match the wanted folders (events mode only)."""
        with self._watch_lock:
            if self._observer is None:
                return
            wanted = self._wanted_dirs()
            for folder in self._watches.keys() - wanted:
                self._observer.unschedule(self._watches.pop(folder))
            for folder in sorted(wanted - self._watches.keys()):
                try:
                    self._watches[folder] = self._observer.schedule(
                        self._handler, str(folder), recursive=False, event_filter=WATCHED_EVENTS)
                except OSError as exc:
                    if exc.errno in _LIMITS:
                        self._fall_back(_watch_failure(exc))
                        return
                    continue  # gone since the listing, or closed to us: the periodic rescan still covers it

    def _on_event(self, event: FileSystemEvent) -> None:
        """Turn one watchdog event into pending changes: files of followed runs, or a rescan for containers."""
        for raw in (event.src_path, event.dest_path):
            if not raw:
                continue
            path = Path(os.fsdecode(raw))
            if _is_temp(path.name):
                continue
            parent = path.parent
            if parent in self._followed or (parent.name == CHECKPOINTS_DIR and parent.parent in self._followed):
                self._note({path}, rescan=False)
            elif parent in self._containers:
                self._note({path}, rescan=True)

    # delivery

    def _note(self, paths: set[Path], *, rescan: bool) -> None:
        """Add to the pending batch; the first addition fixes its delivery time `coalesce` seconds later."""
        with self._cond:
            self._pending.paths |= paths
            self._pending.rescan |= rescan
            if self._due is None:
                self._due = time.monotonic() + self.coalesce
                self._cond.notify_all()

    def _take_due(self) -> Changes | None:
        """The pending batch if its time has come (and resets it), else None; nothing once stopping."""
        with self._cond:
            if self._stopping or self._due is None or time.monotonic() < self._due:
                return None
            batch, self._pending, self._due = self._pending, Changes(), None
            return batch

    def _deliver(self, batch: Changes) -> None:
        """Call `on_change`, keeping the thread alive if it or re-syncing the watches raises; re-sync watches after
        structure changes."""
        try:
            self._on_change(batch)
        except Exception:
            logger.exception("runyard: on_change failed")
        if batch.rescan or any(p.name == CHECKPOINTS_DIR for p in batch.paths):
            try:
                self._sync_watches()
            except Exception:  # watching fewer folders for a while is better than a watcher thread gone for good
                logger.exception("runyard: updating the watched folders failed")

    def _run(self) -> None:
        """The background loop: polls when polling, asks for the periodic rescan, delivers due batches."""
        next_poll = next_rescan = time.monotonic()
        next_rescan += self.reconcile
        while True:
            now = time.monotonic()
            if now >= next_rescan:
                self._note(set(), rescan=True)
                next_rescan = now + self.reconcile
            polling = self.mode == "poll" or bool(self._polled_runs())
            if polling and now >= next_poll:
                changes = self._poller.poll()
                if changes:
                    self._note(changes.paths, rescan=changes.rescan)
                next_poll = now + self.interval
            batch = self._take_due()
            if batch:
                self._deliver(batch)
            with self._cond:
                if self._stopping:
                    return
                deadlines = [next_rescan, *([next_poll] if polling else []),
                             *([self._due] if self._due is not None else [])]
                self._cond.wait(max(0.0, min(deadlines) - time.monotonic()))
