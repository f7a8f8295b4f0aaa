"""The intent journal: every operation that changes a runs tree survives `kill -9` at any instant.

An operation (`operation(root, kind, targets, data)`) writes `<root>/.runyard/journal/<id>.json` — atomically,
fsynced — before its first change, records each phase the same way as it goes (`Op.phase`), and removes the file
at its end. While it runs it holds `fcntl.flock` on `<id>.lock` beside it, and a lock per target (the runs it
acts on, exclusive; their parent folders, shared), so two processes acting on one run cannot both go ahead: the
second gets `Busy`, one line naming the first. `recover(root)` finishes or rolls back every journaled operation
whose owner is gone (its lock is free), each as its own module says (`RECOVER` in `archive.py` and `trash.py`).

The operations keep one invariant at every instant: a run exists at its origin, or as a verified copy, or both —
never neither; and a run being deleted is first renamed into `.runyard/` (where no scan looks), so a partly
deleted run is never listed. Nothing here follows a symlink: `inside_root` refuses a path through one, and a
link named itself is moved as the link.

`kill_point(name)` is the fault injection the kill tests and the soak use: `RUNYARD_FAULT=kill@N` makes the
process SIGKILL itself at the N-th point it reaches, `stop@N` SIGSTOP (a test holds an operation half-way),
`count@FILE` appends each point's name to FILE. Unset, a point costs one function call.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import stat
import sys
import time
from collections.abc import Iterator, Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from ..contract import fsync_dir, iso_now, replace_via_temp, write_all
from ..errors import RunError

RUNYARD_DIR = ".runyard"
JOURNAL_DIR = f"{RUNYARD_DIR}/journal"
LOCK_DIR = f"{RUNYARD_DIR}/locks"
STAGING_DIR = f"{RUNYARD_DIR}/staging"
TRASH_DIR = ".trash"
ARCHIVE_DIR = "archive"
RESERVED = (RUNYARD_DIR, TRASH_DIR)  # never a run, never moved by an operation on runs
VERSION = 1

# What another process is doing, for the one line a second one gets ("runs/a is being archived by ...").
DOING = {"archive": "archived", "restore": "restored", "trash": "moved to the trash",
         "trash-restore": "restored from the trash", "trash-empty": "deleted from the trash",
         "recover": "recovered after an interrupted operation"}
# Which module finishes or rolls back each kind of operation (its RECOVER table).
_RECOVERERS = {"archive": ".archive", "restore": ".archive", "trash": ".trash", "trash-restore": ".trash",
               "trash-empty": ".trash"}


class Busy(RunError):
    """Another runyard process is acting on that path ("runs/a is being archived by another runyard (pid 123)")."""


# ----- fault injection ----------------------------------------------------------------------------------------

def _fault_spec() -> tuple[str, int, str] | None:
    spec = os.environ.get("RUNYARD_FAULT", "")
    mode, sep, arg = spec.partition("@")
    if not sep or mode not in ("kill", "stop", "count"):
        return None
    if mode == "count":
        return (mode, 0, arg)
    try:
        return (mode, int(arg), "")
    except ValueError:
        return None


_FAULT = _fault_spec()
_points = 0


def kill_point(name: str) -> None:
    """A place where a kill must leave the tree recoverable. With `RUNYARD_FAULT` unset, nothing happens."""
    if _FAULT is None:
        return
    _fault(name)


def _fault(name: str) -> None:
    global _points
    _points += 1
    mode, n, path = _FAULT  # type: ignore[misc]
    if mode == "count":
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{name}\n".encode())
        finally:
            os.close(fd)
    elif _points == n:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        signal.raise_signal(signal.SIGKILL if mode == "kill" else signal.SIGSTOP)


# ----- file-system primitives ---------------------------------------------------------------------------------

_libc: Any = None
_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`, failing with FileExistsError if `dst` exists (renameat2 RENAME_NOREPLACE: a run
    created there meanwhile is never replaced). Where the kernel or filesystem lacks the flag: check, then rename."""
    global _libc
    if _libc is None:
        try:
            _libc = ctypes.CDLL(None, use_errno=True).renameat2
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        if _libc(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(src), None, str(dst))
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def move(src: Path, dst: Path) -> None:
    """`rename_noreplace`, made durable in both folders."""
    kill_point("move")
    rename_noreplace(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


def write_durable(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a kill at any instant leaves the old or the new content: the contract's
    temp-file-and-rename, fsynced, with the folder fsynced after; the temp file is `<name>.tmp`, which recovery
    clears."""
    tmp = path.with_name(path.name + ".tmp")
    replace_via_temp(data, True,
                     open_tmp=lambda: os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644),
                     commit=lambda: os.replace(tmp, path), discard=lambda: os.unlink(tmp))
    fsync_dir(path.parent)


def create_exclusive(path: Path, data: bytes) -> None:
    """Create `path` holding `data` (O_CREAT|O_EXCL: FileExistsError if it exists), fsynced with its folder."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


def fsync_tree(path: Path) -> None:
    """fsync every regular file and folder under `path` (not following links), so what a phase records as
    written is on disk."""
    if not os.path.isdir(path) or os.path.islink(path):
        if os.path.isfile(path) and not os.path.islink(path):
            _fsync_file(path)
        fsync_dir(path.parent)
        return
    for folder, _dirs, files in os.walk(path, followlinks=False):
        for name in files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                _fsync_file(Path(full))
        fsync_dir(Path(folder))
    fsync_dir(path.parent)


def _fsync_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return  # a FIFO without writer, a socket: nothing of ours to flush
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def remove_tree(path: Path) -> None:
    """Delete `path` — a file, a link (the link, never its target) or a folder, bottom up without following a
    link — also where a folder inside was made read-only. A path already gone is not an error."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(path)
        return
    with os.scandir(path) as it:
        names = [entry.name for entry in it]
    for name in names:
        kill_point("remove")
        child = path / name
        if os.path.isdir(child) and not os.path.islink(child):
            shutil.rmtree(child, onerror=_writable_and_retry)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(child)
    os.rmdir(path)


def _writable_and_retry(func: Any, path: str, info: Any) -> None:
    """rmtree's error hook: a folder without write (or search) permission is made writable, then tried again."""
    exc = info[1]
    if isinstance(exc, FileNotFoundError):
        return
    if not isinstance(exc, PermissionError):
        raise exc
    for folder in {os.path.dirname(path), path}:
        with contextlib.suppress(OSError):
            if os.path.isdir(folder) and not os.path.islink(folder):
                os.chmod(folder, stat.S_IMODE(os.lstat(folder).st_mode) | stat.S_IRWXU)
    if func is os.rmdir or func is os.unlink:
        func(path)
        return
    # the listing or opening of a folder failed: start that folder again, now that it may be entered — once;
    # a folder the chmod could not open (another user's) is refused in one line, not retried without end
    try:
        os.listdir(path)
    except PermissionError:
        raise PermissionError(errno.EACCES, "permission denied", path) from None
    shutil.rmtree(path, onerror=_writable_and_retry)


def make_folders(root: Path, rel: str | Path) -> Path:
    """Create `root/rel` and any folder above it that is missing, refusing a link among them; the folder."""
    current = root
    for part in Path(rel).parts:
        current = current / part
        try:
            os.mkdir(current, 0o755)
            fsync_dir(current.parent)
            kill_point("mkdir")
        except FileExistsError:
            pass
        st = os.lstat(current)
        if stat.S_ISLNK(st.st_mode):
            raise RunError(f"{current} is a symbolic link: runyard does not act through links")
        if not stat.S_ISDIR(st.st_mode):
            raise RunError(f"{current} is not a folder")
    return current


# ----- paths --------------------------------------------------------------------------------------------------

def inside_root(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """`path` as an absolute path inside `root`, checked to go through no symlink between the two (the last
    component may be a link: it is acted on as the link). A relative path that does not exist from here but does
    under `root` is taken from `root`. Raises RunError (not inside, the root itself, through a link)."""
    root_abs = Path(os.path.abspath(root))
    if not os.path.isabs(path) and not os.path.lexists(path) and os.path.lexists(root_abs / path):
        path = root_abs / path
    full = Path(os.path.abspath(path))
    rel = _relative(full, root_abs)
    if rel is None:
        real_root = Path(os.path.realpath(root_abs))
        rel = _relative(full, real_root)
        if rel is None:
            raise RunError(f"{path} is not inside the runs folder {root}")
    if not rel.parts:
        raise RunError(f"{path} is the runs folder itself")
    current = root_abs
    for part in rel.parts[:-1]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            break  # nothing below a missing folder can be a link yet
        if stat.S_ISLNK(st.st_mode):
            raise RunError(f"{path} goes through the symbolic link {current}: runyard does not act through links")
        if not stat.S_ISDIR(st.st_mode):
            raise RunError(f"{path}: {current} is not a folder")
    return root_abs / rel


def _relative(path: Path, root: Path) -> Path | None:
    try:
        return path.relative_to(root)
    except ValueError:
        return None


def rel_text(rel: str | os.PathLike) -> str:
    """A path relative to the root as the journal stores it: '/'-separated, no '.' parts."""
    return Path(rel).as_posix()


def reserved(rel: Path) -> bool:
    """True for anything inside `.runyard/` or `.trash/` (no operation on runs may move those)."""
    return bool(rel.parts) and rel.parts[0] in RESERVED


# ----- locks --------------------------------------------------------------------------------------------------

class _Lock:
    """A flock on one lock file, taken without waiting; the file is removed on release when no one else holds
    it. A lock file replaced while we waited for it is not ours: taking it checks the inode (see `_take`)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    def release(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # alone with it: the file may go
        except OSError:
            pass
        else:
            with contextlib.suppress(OSError):
                if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                    os.unlink(self.path)
        os.close(self.fd)


def _take(path: Path, shared: bool = False) -> _Lock | None:
    """The lock on `path` (created if missing), or None when another process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return _Lock(path, fd)
        os.close(fd)  # removed or replaced by its last holder after we opened it: take the current one


def _take_soon(path: Path, shared: bool) -> _Lock | None:
    """`_take`, tried again for a moment: a recovery sweeping stale lock files holds each for an instant, and that
    must not read as another process acting on the run."""
    for _ in range(10):
        lock = _take(path, shared)
        if lock is not None:
            return lock
        time.sleep(0.02)
    return None


def _lock_file(root: Path, rel: str) -> Path:
    return root / LOCK_DIR / (hashlib.sha1(os.fsencode(rel)).hexdigest()[:24] + ".lock")


def _holder(path: Path) -> dict[str, Any]:
    for _ in range(20):  # its holder writes who it is right after taking it
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text(encoding="utf-8")
            if text:
                return json.loads(text)
        time.sleep(0.005)
    return {}


class _Targets:
    """The locks of an operation's targets: each target exclusive, each folder above it (below the root) shared,
    so acting on a run and on a file inside it cannot happen at once either."""

    def __init__(self, root: Path, shown: Path, kind: str, targets: Sequence[str]) -> None:
        self.locks: list[_Lock] = []
        wanted: dict[str, bool] = {}
        for rel in targets:
            wanted[rel] = False
        for rel in targets:
            for parent in list(Path(rel).parents)[:-1]:
                wanted.setdefault(parent.as_posix(), True)
        make_folders(root, LOCK_DIR)
        me = json.dumps({"pid": os.getpid(), "kind": kind}).encode()
        try:
            for rel in sorted(wanted):
                shared = wanted[rel]
                path = _lock_file(root, rel)
                lock = _take_soon(path, shared)
                if lock is None:  # named as the user named it: the run, not the place it was going to
                    raise Busy(self._busy_line(shown, rel if shared else targets[0], path))
                self.locks.append(lock)
                if not shared:
                    os.ftruncate(lock.fd, 0)
                    os.pwrite(lock.fd, me, 0)
        except BaseException:
            self.release()
            raise

    @staticmethod
    def _busy_line(shown: Path, rel: str, path: Path) -> str:
        where = shown / rel
        holder = _holder(path)
        doing = DOING.get(holder.get("kind", ""), "changed")
        pid = holder.get("pid")
        if not holder.get("kind"):  # held shared: something inside it is being acted on
            return f"{where} is busy: another runyard is acting on something inside it"
        return f"{where} is being {doing} by another runyard" + (f" (pid {pid})" if isinstance(pid, int) else "")

    def release(self) -> None:
        while self.locks:
            self.locks.pop().release()


# ----- operations ---------------------------------------------------------------------------------------------

class Op:
    """One journaled operation: `root` (absolute), `shown` (the root as the caller named it, for messages),
    `id`, `kind`, `targets` (paths relative to the root), `data` (what its recovery needs) and the `phases` it
    reached, in order."""

    def __init__(self, root: Path, shown: Path, op_id: str, kind: str, targets: list[str], data: dict[str, Any],
                 phases: list[str] | None = None, started: str | None = None) -> None:
        self.root, self.shown, self.id, self.kind = root, shown, op_id, kind
        self.targets, self.data = targets, data
        self.phases = phases if phases is not None else ["begun"]
        self.started = started or iso_now()

    @property
    def path(self) -> Path:
        return self.root / JOURNAL_DIR / f"{self.id}.json"

    @property
    def staging(self) -> Path:
        """This operation's own folder under `.runyard/staging/` (not created): where what it deletes goes first."""
        return self.root / STAGING_DIR / self.id

    def reached(self, phase: str) -> bool:
        return phase in self.phases

    def show(self, rel: str | os.PathLike) -> str:
        """A path relative to the root as the user knows it (`runs/a`)."""
        return str(self.shown / rel)

    def phase(self, name: str, **data: Any) -> None:
        """Durably record that the operation reached `name` (with `data` its recovery needs from here on)."""
        self.data.update(data)
        self.phases.append(name)
        self.write()
        kill_point(f"{self.kind}.{name}")

    def write(self) -> None:
        record = {"version": VERSION, "id": self.id, "kind": self.kind, "pid": os.getpid(), "started": self.started,
                  "targets": self.targets, "data": self.data, "phases": self.phases}
        write_durable(self.path, json.dumps(record, ensure_ascii=True, indent=1).encode())

    def make_staging(self) -> Path:
        make_folders(self.root, Path(STAGING_DIR) / self.id)
        return self.staging

    def drop_staging(self) -> None:
        """Remove this operation's staging folder and whatever is left in it."""
        remove_tree(self.staging)


@contextlib.contextmanager
def operation(root: str | os.PathLike, kind: str, targets: Sequence[str | os.PathLike],
              data: dict[str, Any]) -> Iterator[Op]:
    """Run an operation of `kind` (one this package knows how to recover: archive, restore, trash,
    trash-restore, trash-empty; ValueError otherwise) on `targets` (paths relative to `root`) under the journal.

    Takes the targets' locks (Busy if another process holds one), finishes any interrupted operation on them,
    writes the journal (durably) and yields the `Op`; its body records phases with `op.phase`. When the body
    fails, the operation's recovery rolls it back (or forward, past the point of no return) before the error
    goes on; when that fails too, the journal stays for the next `recover`.
    """
    if kind not in _RECOVERERS:
        raise ValueError(f"unknown operation kind {kind!r}")
    shown = Path(root)
    root = Path(os.path.abspath(root))
    rels = [rel_text(t) for t in targets]
    make_folders(root, JOURNAL_DIR)
    recover(root)  # what a killed operation left is settled first, whatever it touched
    held = _Targets(root, shown, kind, rels)
    try:
        _recover_pending(root, shown, set(rels))
        op_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"
        lock = _take(root / JOURNAL_DIR / f"{op_id}.lock")
        if lock is None:  # a fresh random name taken: cannot happen, but never act without the lock
            raise Busy(f"cannot lock the journal of {shown}")
        try:
            op = Op(root, shown, op_id, kind, rels, dict(data))
            op.write()
            kill_point(f"{kind}.begin")
            try:
                yield op
            except BaseException:
                try:
                    _recoverer(kind)(op)
                except BaseException:
                    raise  # the journal stays: the next `recover` tries again
                else:
                    _forget(op.path)
                raise
            _forget(op.path)
        finally:
            lock.release()
    finally:
        held.release()


def _forget(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fsync_dir(path.parent)


def _recoverer(kind: str) -> Any:
    module = _RECOVERERS.get(kind)
    if module is None:
        raise RunError(f"unknown operation {kind!r} in the journal (written by a newer runyard?)")
    return import_module(module, __package__).RECOVER[kind]


def _read_op(root: Path, shown: Path, path: Path) -> Op | None:
    try:
        record = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    return Op(root, shown, record["id"], record["kind"], list(record["targets"]), dict(record["data"]),
              list(record["phases"]), record.get("started"))


def recover(root: str | os.PathLike) -> list[str]:
    """Finish or roll back every journaled operation under `root` whose owner is gone; one line per operation
    for the user ("archive of runs/a was interrupted: finished, it is in runs/archive/a"). Operations still
    running elsewhere are left alone. A failure to recover one is its line, and its journal stays."""
    shown = Path(root)
    root = Path(os.path.abspath(root))
    folder = root / JOURNAL_DIR
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    ids = sorted({name.split(".", 1)[0] for name in names if not name.startswith(".")})
    lines = []
    for op_id in ids:
        line = _recover_one(root, shown, op_id, held=set())
        if line:
            lines.append(line)
    _sweep_locks(root)
    return lines


def _sweep_locks(root: Path) -> None:
    """Remove the lock files of processes killed while holding them (a lock no one holds is taken and dropped)."""
    folder = root / LOCK_DIR
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if name.endswith(".lock"):
            with contextlib.suppress(OSError):
                lock = _take(folder / name)
                if lock is not None:
                    lock.release()


def recover_quietly(root: str | os.PathLike) -> list[str]:
    """`recover` for the start of a command or the app: nothing at all (not even an error) when `root` has no
    journal or it cannot be written; otherwise the lines `recover` returns."""
    folder = os.path.join(root, JOURNAL_DIR)
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK) or not os.path.isdir(folder):
        return []
    try:
        return recover(root)
    except Exception as exc:
        return [f"could not recover interrupted operations in {root}: {exc}"]


def _recover_pending(root: Path, shown: Path, targets: set[str]) -> None:
    """Before acting on `targets` (their locks held): finish the interrupted operations that touch them."""
    folder = root / JOURNAL_DIR
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with contextlib.suppress(OSError, ValueError, KeyError):
            op = _read_op(root, shown, folder / name)
            if op is None or not targets.intersection(op.targets):
                continue
            line = _recover_one(root, shown, op.id, held=targets)
            if line and line.startswith("could not"):
                raise RunError(line)


def _recover_one(root: Path, shown: Path, op_id: str, held: set[str]) -> str | None:
    folder = root / JOURNAL_DIR
    lock = _take(folder / f"{op_id}.lock")
    if lock is None:
        return None  # its owner (or another recovery) is at it
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / f"{op_id}.json.tmp")
        try:
            op = _read_op(root, shown, folder / f"{op_id}.json")
        except (ValueError, KeyError, TypeError) as exc:
            return f"could not read the journal {folder / op_id}.json: {exc}"
        if op is None:
            return None  # finished meanwhile, or a lock left by an operation killed before its journal
        try:
            targets = _Targets(root, shown, "recover", [t for t in op.targets if t not in held])
        except Busy:
            return None
        try:
            line = _recoverer(op.kind)(op)
        except Exception as exc:
            return f"could not finish the interrupted {op.kind} of {op.show(op.targets[0])}: {exc}"
        finally:
            targets.release()
        _forget(op.path)
        return line
    finally:
        lock.release()

