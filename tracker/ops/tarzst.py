"""Writing a run as a compressed archive (`write_archive`), and the format's public names (see `tarformat`).

`write_archive` reads each file once, hashing it while zstd compresses it, and describes the run as the reading
side sees it (layout, info, config, summary), so that the manifest alone lists it. No journal here: the
operations that call it (`ops.archive`) journal their steps, and `kill_point`s mark where a test may kill the
process (between steps, and every 8 MB of data).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import RunError
from . import tarformat as _format
from .tarformat import (
    ARCHIVE_DIR,
    DIR,
    FILE,
    FORMAT,
    HARDLINK,
    MANIFEST_SUFFIX,
    SYMLINK,
    TAR_SUFFIX,
    ArchiveMismatch,
    Entry,
    Manifest,
    Progress,
    _kill_point,
    _shown,
    _unreadable,
    _why,
    archive_paths,
    extract_archive,
    manifest_bytes,
    read_manifest,
    verify_archive,
    write_manifest,
)

__all__ = ["ARCHIVE_DIR", "FORMAT", "MANIFEST_SUFFIX", "TAR_SUFFIX", "ArchiveMismatch", "Entry", "Manifest",
           "archive_paths", "extract_archive", "manifest_bytes", "read_manifest", "verify_archive", "write_archive",
           "write_manifest"]

# Measured with bench/bench_archive.py (float32 checkpoints plus logs, 2 cores): levels 1 and 3 cost alike
# (2.9 and 3.1 ms of CPU per MB, hashing included: about 300 MB/s on one core) and compress the floats alike; 3
# does better on logs. zstd's worker threads cost half as much CPU again (4.8 ms/MB) for up to twice the speed
# on an idle machine and less on a busy one: an archive made beside a training job keeps to one core.
LEVEL = 3
THREADS = 0
CHUNK = 1 << 20  # bytes read from a file at a time


def _json_safe(value: Any) -> Any:
    """A run's values as JSON holds them: non-finite floats as the contract's strings, text as valid UTF-8,
    anything else orjson cannot write as its text."""
    from ..contract import utf8_text

    if isinstance(value, str):
        return utf8_text(value)
    if isinstance(value, float):
        from ..jsonl import encode_float

        return encode_float(value)
    if isinstance(value, dict):
        return {utf8_text(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, (bool, int)):
        return value
    return utf8_text(str(value))


@dataclass(slots=True)
class _Item:
    entry: Entry
    where: str           # the file's path on disk
    key: tuple[int, int]  # (st_dev, st_ino): the file found by the walk is the file read


def _collect(src: Path) -> tuple[list[_Item], dict[str, int], list[dict[str, str]]]:
    """Every member under `src` (itself first, then depth first, names sorted), symlinks not followed; totals of
    content bytes (each inode once), disk bytes (st_blocks, each inode once) and files; what cannot be archived."""
    items: list[_Item] = []
    skipped: list[dict[str, str]] = []
    totals = {"apparent": 0, "disk": 0, "files": 0}
    inodes: dict[tuple[int, int], str] = {}
    stack = [(str(src), src.name)]
    while stack:
        where, name = stack.pop()
        try:
            st = os.lstat(where)
        except FileNotFoundError:
            if not items:
                raise RunError(f"no such file or folder: {_shown(where)}") from None
            continue  # gone since its folder was listed
        except OSError as exc:
            raise _unreadable(exc, where) from None
        key = (st.st_dev, st.st_ino)
        entry = Entry(name, DIR, mode=stat.S_IMODE(st.st_mode), mtime_ns=st.st_mtime_ns)
        counted = key not in inodes
        if stat.S_ISDIR(st.st_mode):
            try:
                with os.scandir(where) as it:
                    names = sorted(e.name for e in it)
            except OSError as exc:
                raise _unreadable(exc, where) from None
            stack.extend((os.path.join(where, n), f"{name}/{n}") for n in reversed(names))
        elif stat.S_ISREG(st.st_mode):
            if not counted:
                entry.type, entry.target = HARDLINK, inodes[key]
            else:
                entry.type, entry.size = FILE, st.st_size
                totals["apparent"] += st.st_size
                totals["files"] += 1
                if st.st_nlink > 1:
                    inodes[key] = name
        elif stat.S_ISLNK(st.st_mode):
            if not items:  # the data is elsewhere: a link is moved as a link, never packed
                raise RunError(f"{_shown(where)} is a symlink: only a run's own folder or file is archived compressed")
            try:
                entry.type, entry.target = SYMLINK, os.readlink(where)
            except OSError as exc:
                raise _unreadable(exc, where) from None
        else:  # a socket, a FIFO or a device is no data of the run's: noted, not archived
            if not items:
                raise RunError(f"{_shown(where)} is not a file or a folder")
            skipped.append({"path": os.fsencode(name).decode("utf-8", "replace"), "type": _kind_of(st.st_mode)})
            continue
        if counted:
            totals["disk"] += st.st_blocks * 512
        items.append(_Item(entry, where, key))
    return items, totals, skipped


def _kind_of(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return "unknown"


def _place(src: Path, tar_path: Path) -> tuple[Path | None, str]:
    """The runs root `src` belongs to and its path relative to it, found from `tar_path` lying in
    `<root>/archive/`; else no root, and the run's own name."""
    tar_abs = Path(os.path.abspath(tar_path))
    src_abs = Path(os.path.abspath(src))
    for root in src_abs.parents:
        if tar_abs.is_relative_to(root / ARCHIVE_DIR) and src_abs.is_relative_to(root):
            return root, src_abs.relative_to(root).as_posix()
    return None, src_abs.name


def _describe(src: Path, root: Path | None) -> dict[str, Any]:
    """The run as a listing shows it: layout, info, config, summary, goals, origin (JSON-safe)."""
    from ..model import CRASHED, RUNNING, STALLED
    from ..reading.api import UnknownLayout, find_source
    from ..reading.records import read_record, settle_status

    try:
        source = find_source(src, root)
    except (UnknownLayout, OSError) as exc:
        raise RunError(f"cannot archive {_shown(str(src))}: {_shown(str(exc).splitlines()[0])}") from None
    if root is not None:
        source.root = root
    record = read_record(source)
    info = record.info
    settle_status(info)
    # An archive holds a run that is over: one archived before its end (forced) ended there, unrecorded.
    status = CRASHED if info.status in (RUNNING, STALLED) else info.status
    facts = {k: getattr(info, k) for k in INFO_KEYS}
    facts.update(status=status, extra=info.extra or {})
    summary = {name: {k: getattr(stats, k) for k in stats.__dataclass_fields__}
               for name, stats in record.summary.items()}
    goals: dict[str, str] = {}
    origin: dict[str, Any] = {}
    try:
        goals = {name: goal.direction for name, goal in source.goals().items()}
        origin = source.origin()
    except Exception:  # what the run declares is a nicety of the listing, never a reason not to archive
        pass
    return {"layout": info.format, "info": _json_safe(facts), "config": _json_safe(record.config),
            "summary": _json_safe(summary), "goals": _json_safe(goals), "origin": _json_safe(origin)}


# The RunInfo fields a manifest keeps: what a listing shows and sorts by; liveness facts (pid, heartbeat) are
# left out, as an archived run is over.
INFO_KEYS = ("id", "name", "status", "created", "ended", "last_time", "last_step", "rows", "tags", "notes", "host",
             "user", "restarts", "restarts_at", "max_step", "interval_median", "skipped_lines", "error")


def _header(entry: Entry, uid: int = 0, gid: int = 0) -> bytes:
    info = tarfile.TarInfo(entry.path)
    info.type = {DIR: tarfile.DIRTYPE, FILE: tarfile.REGTYPE, SYMLINK: tarfile.SYMTYPE,
                 HARDLINK: tarfile.LNKTYPE}[entry.type]
    info.mode = entry.mode
    info.size = entry.size if entry.type == FILE else 0
    info.linkname = entry.target or ""
    info.uid, info.gid, info.uname, info.gname = uid, gid, "", ""
    seconds, ns = divmod(entry.mtime_ns, 10**9)
    info.mtime = seconds
    if ns and seconds >= 0:  # the exact time for other tools too (GNU tar reads it); runyard takes it from the manifest
        info.pax_headers = {"mtime": f"{seconds}.{ns:09d}"}
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def write_archive(src: str | os.PathLike, tar_path: str | os.PathLike, *, progress: Progress | None = None,
                  run: str | None = None, level: int = LEVEL, threads: int | None = None) -> Manifest:
    """Write the run at `src` (a folder, or a one-file run) as one `.tar.zst` at `tar_path`, reading each file
    once (hashing it as it is compressed); return its manifest, for `write_manifest` to store beside it.

    `tar_path` is created exclusively (an existing file is refused) and removed again if writing fails; a process
    killed meanwhile leaves it partial, for the caller's journal to remove. `run` is the path relative to the runs
    root the manifest records (found from `tar_path` in `<root>/archive/` when None). `progress(done, total,
    what)` is called as data is read: bytes so far and in all, and the member being read. Raises RunError (one
    line) for an unreadable or vanished file, a full disk, or a file that shrank while it was read.
    """
    import zstandard

    from ..contract import iso_now

    src, tar_path = Path(src), Path(tar_path)
    root, rel = _place(src, tar_path)
    items, totals, skipped = _collect(src)
    described = _describe(src, root)
    _kill_point("tarzst.write.start")
    tar_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(tar_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        raise RunError(f"{_shown(str(tar_path))} already exists") from None
    except OSError as exc:
        raise RunError(f"cannot write {_shown(str(tar_path))}: {_why(exc)}") from None
    threads = THREADS if threads is None else threads
    compressor = zstandard.ZstdCompressor(level=level, write_checksum=True, threads=min(threads, os.cpu_count() or 1))
    try:
        with os.fdopen(fd, "wb", buffering=0, closefd=False) as out:
            writer = compressor.stream_writer(out, closefd=False, write_size=CHUNK)
            _write_members(items, writer, totals["apparent"], progress)
            writer.write(bytes(2 * tarfile.BLOCKSIZE))  # the end of the archive
            writer.close()  # ends the frame: its checksum is written
        _kill_point("tarzst.write.sync")
        os.fsync(fd)
        totals["archive"] = os.fstat(fd).st_size
    except BaseException as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tar_path)
        if isinstance(exc, OSError):
            raise RunError(f"cannot write {_shown(str(tar_path))}: {_why(exc)}") from None
        raise
    os.close(fd)
    _kill_point("tarzst.write.done")
    return Manifest(run=run if run is not None else rel, name=src.name, created=iso_now(),
                    entries=[item.entry for item in items], totals=totals, skipped=skipped, **described)


def _write_members(items: list[_Item], writer: Any, total: int, progress: Progress | None) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    done = 0
    mark = _format.KILL_EVERY
    zeros = bytes(tarfile.BLOCKSIZE)
    for item in items:
        entry = item.entry
        if progress is not None:
            progress(done, total, entry.path)
        if entry.type != FILE:
            writer.write(_header(entry))
            continue
        try:
            fd = os.open(item.where, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ELOOP):
                raise RunError(f"{_shown(item.where)} changed while being archived") from None
            raise _unreadable(exc, item.where) from None
        with os.fdopen(fd, "rb", buffering=0) as fh:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != item.key or not stat.S_ISREG(st.st_mode):
                raise RunError(f"{_shown(item.where)} changed while being archived")
            # what the file is as it is read (a forced archive of a live run takes each file as it then stands)
            entry.size, entry.mode, entry.mtime_ns = st.st_size, stat.S_IMODE(st.st_mode), st.st_mtime_ns
            writer.write(_header(entry, st.st_uid, st.st_gid))
            digest = hashlib.sha256()
            left = entry.size
            while left:
                try:
                    n = fh.readinto(view[:min(CHUNK, left)])
                except OSError as exc:
                    raise _unreadable(exc, item.where) from None
                if not n:
                    raise RunError(f"{_shown(item.where)} shrank while being archived")
                chunk = view[:n]
                digest.update(chunk)
                writer.write(chunk)
                left -= n
                done += n
                if done >= mark:
                    mark = done + _format.KILL_EVERY
                    _kill_point("tarzst.write.data")
                    if progress is not None:
                        progress(done, total, entry.path)
            entry.sha256 = digest.hexdigest()
        pad = -entry.size % tarfile.BLOCKSIZE
        if pad:
            writer.write(zeros[:pad])
    if progress is not None:
        progress(done, total, "")
