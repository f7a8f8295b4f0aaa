"""The compressed run archive's format: one `.tar.zst` (PAX tar, one zstd frame with its checksum) and a JSON manifest.

`<root>/archive/<rel>.tar.zst` holds the run's files exactly: folders, files, symlinks stored as links (never
followed, their target recorded), hard links as links. `<rel>.manifest.json` beside it lists every member with
its type, size, mode, mtime (ns) and sha256, the sizes of the whole, and what a listing shows of the run (its
layout, info, config and summary as the reading side saw them), so an archived run is listed without opening
the tar. Non-finite numbers are the contract's strings "nan", "inf", "-inf".

An archive is read as untrusted input: a member the manifest does not list, a name that would leave the
destination, a link written through or a hash that differs is an `ArchiveMismatch`, never a write outside the
destination. Nothing in an archive is executed or unpickled. No journal here: the operations that call these
functions (`ops.archive`) journal their steps; `kill_point` marks where a test may kill the process.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RunError

FORMAT = "runyard-archive/1"
TAR_SUFFIX = ".tar.zst"
MANIFEST_SUFFIX = ".manifest.json"
ARCHIVE_DIR = "archive"

KILL_EVERY = 8 << 20      # a kill point (and a progress report) every this many bytes of data
_FEED = 16 << 10          # compressed bytes fed to the decompressor at a time: bounds what one call can return
_PAX_LIMIT = 1 << 20      # a PAX header larger than this is not one runyard wrote
_MANIFEST_LIMIT = 256 << 20
_MODE_BITS = 0o777        # set-id and sticky bits are never restored from an archive

DIR, FILE, SYMLINK, HARDLINK = "dir", "file", "symlink", "hardlink"
_TYPES = (DIR, FILE, SYMLINK, HARDLINK)
_TAR_TYPES = {tarfile.DIRTYPE: DIR, tarfile.REGTYPE: FILE, tarfile.AREGTYPE: FILE, tarfile.SYMTYPE: SYMLINK,
              tarfile.LNKTYPE: HARDLINK}

Progress = Callable[[int, int, str], Any]


class ArchiveMismatch(RunError):
    """An archive or its manifest is not what the other says (corrupt, cut short, altered, or hostile)."""


def _kill_point(name: str) -> None:
    """`ops.journal.kill_point` where it exists (fault injection for tests); otherwise nothing."""
    global _kill
    if _kill is None:
        try:
            from .journal import kill_point as found
        except ImportError:
            def found(name: str) -> None:
                return None
        _kill = found
    _kill(name)


_kill: Callable[[str], None] | None = None


# ----- the manifest ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Entry:
    """One member: `path` is its name in the tar (`<run name>` or `<run name>/<relative path>`), `type` one of
    dir/file/symlink/hardlink, `size` the file's bytes (0 otherwise), `mode` its permission bits, `mtime_ns`,
    `sha256` (files), `target` (a symlink's text, or the member a hard link shares its file with)."""

    path: str
    type: str
    size: int = 0
    mode: int = 0
    mtime_ns: int = 0
    sha256: str | None = None
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put_text(out, "path", self.path)
        out.update(type=self.type, size=self.size, mode=self.mode, mtime_ns=self.mtime_ns)
        if self.sha256 is not None:
            out["sha256"] = self.sha256
        if self.target is not None:
            _put_text(out, "target", self.target)
        return out


@dataclass
class Manifest:
    """What `write_archive` wrote, as `<rel>.manifest.json` holds it.

    `run`: the run's path relative to its runs root; `name`: the run's folder or file name (the top member);
    `created`: ISO 8601 with zone; `layout`: the reading side's format of the run ("runyard/1", "nanogpt"...);
    `info`, `config`, `summary`, `goals`, `origin`: what a listing shows, as the reading side saw the run;
    `totals`: `apparent` (bytes of file content, each hard-linked file once), `disk` (bytes on disk, as du),
    `archive` (bytes of the .tar.zst), `files`; `skipped`: members not archived (sockets, devices, FIFOs).
    `digest`: sha256 of the manifest file as read (not stored in it).
    """

    run: str
    name: str
    created: str
    layout: str
    entries: list[Entry]
    info: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    goals: dict[str, str] = field(default_factory=dict)
    origin: dict[str, Any] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    format: str = FORMAT
    digest: str = ""

    @property
    def kind(self) -> str:
        """The run's own type: "dir" for a run folder, "file" for a one-file run (or "symlink")."""
        return self.entries[0].type

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format}
        _put_text(out, "run", self.run)
        _put_text(out, "name", self.name)
        out.update(kind=self.kind, created=self.created, layout=self.layout, info=self.info, config=self.config,
                   summary=self.summary, goals=self.goals, origin=self.origin, totals=self.totals,
                   skipped=self.skipped, entries=[e.to_json() for e in self.entries])
        return out


def _put_text(out: dict[str, Any], key: str, text: str) -> None:
    """A name into JSON: as text, and where it is not valid UTF-8 (a file name's raw bytes) also its bytes."""
    try:
        text.encode("utf-8")
        out[key] = text
    except UnicodeEncodeError:
        raw = os.fsencode(text)
        out[key] = raw.decode("utf-8", "replace")
        out[key + "_bytes"] = base64.b64encode(raw).decode("ascii")


def _get_text(data: dict[str, Any], key: str) -> str:
    raw = data.get(key + "_bytes")
    if raw is not None:
        if not isinstance(raw, str):
            raise ValueError(f"{key}_bytes is not text")
        return os.fsdecode(base64.b64decode(raw, validate=True))
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} is missing or not text")
    return value


def _whole(data: dict[str, Any], key: str, low: int = 0, high: int | None = None) -> int:
    value = data.get(key)
    if type(value) is not int or value < low or (high is not None and value > high):
        raise ValueError(f"{key} is not a number in range")
    return value


def manifest_bytes(manifest: Manifest) -> bytes:
    """The manifest as its file holds it (indented JSON)."""
    import orjson

    return orjson.dumps(manifest.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def write_manifest(manifest: Manifest, path: str | os.PathLike) -> None:
    """Write `manifest` to `path` atomically (temp file, fsync, rename); `manifest.digest` becomes its hash."""
    from ..contract import write_atomic

    data = manifest_bytes(manifest)
    _kill_point("tarzst.manifest")
    write_atomic(Path(path), data, fsync=True)
    manifest.digest = hashlib.sha256(data).hexdigest()


def read_manifest(path: str | os.PathLike) -> Manifest:
    """The manifest at `path`, checked to be whole and safe (every member name inside the run, each parent
    listed before its children); ArchiveMismatch says what is wrong, an OSError why it cannot be read."""
    import orjson

    from ..files import open_binary

    path = Path(path)
    with open_binary(path) as fh:
        data = fh.read(_MANIFEST_LIMIT + 1)
    if len(data) > _MANIFEST_LIMIT:
        raise ArchiveMismatch(f"{_shown(path.name)}: larger than any manifest runyard writes")
    try:
        raw = orjson.loads(data)
        manifest = _manifest_from(raw)
    except (ValueError, TypeError, KeyError) as exc:  # orjson's JSONDecodeError is a ValueError
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArchiveMismatch(f"{_shown(path.name)}: not a runyard archive manifest ({_shown(why)})") from None
    manifest.digest = hashlib.sha256(data).hexdigest()
    return manifest


def _manifest_from(raw: Any) -> Manifest:
    if not isinstance(raw, dict):
        raise ValueError("not an object")
    if raw.get("format") != FORMAT:
        raise ValueError(f"format is {raw.get('format')!r}, not {FORMAT!r}")
    name = _get_text(raw, "name")
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise ValueError("the run's name is not a plain name")
    entries_raw = raw.get("entries")
    if not isinstance(entries_raw, list) or not entries_raw:
        raise ValueError("no entries")
    entries: list[Entry] = []
    kinds: dict[str, str] = {}
    for item in entries_raw:
        if not isinstance(item, dict):
            raise ValueError("an entry is not an object")
        path = _get_text(item, "path")
        kind = item.get("type")
        if kind not in _TYPES:
            raise ValueError(f"{path!r}: unknown type {kind!r}")
        _check_name(path, name)
        if path in kinds:
            raise ValueError(f"{path!r} listed twice")
        parent = path.rpartition("/")[0]
        if (path == name) != (not entries) or (parent and kinds.get(parent) != DIR):
            raise ValueError(f"{path!r} does not follow its folder")
        entry = Entry(path, kind, size=_whole(item, "size"), mode=_whole(item, "mode", 0, 0o7777),
                      mtime_ns=_whole(item, "mtime_ns", -(1 << 62), 1 << 63))
        if kind == FILE:
            digest = item.get("sha256")
            if not isinstance(digest, str) or len(digest) != 64 or digest.strip("0123456789abcdef"):
                raise ValueError(f"{path!r}: no sha256")
            entry.sha256 = digest
        elif entry.size:
            raise ValueError(f"{path!r}: a {kind} has no size")
        if kind in (SYMLINK, HARDLINK):
            entry.target = _get_text(item, "target")
            if "\0" in entry.target or not entry.target:
                raise ValueError(f"{path!r}: bad link target")
            if kind == HARDLINK and kinds.get(entry.target) != FILE:
                raise ValueError(f"{path!r}: links to {entry.target!r}, which is no file listed before it")
        kinds[path] = kind
        entries.append(entry)
    parts = {k: raw.get(k) for k in ("info", "config", "summary", "goals", "origin", "totals")}
    for key, value in parts.items():
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{key} is not an object")
    skipped = raw.get("skipped") if isinstance(raw.get("skipped"), list) else []
    return Manifest(run=_get_text(raw, "run"), name=name, created=str(raw.get("created") or ""),
                    layout=str(raw.get("layout") or "unknown"), entries=entries, info=parts["info"] or {},
                    config=parts["config"] or {}, summary=parts["summary"] or {}, goals=parts["goals"] or {},
                    origin=parts["origin"] or {}, totals=parts["totals"] or {}, skipped=skipped)


def _check_name(path: str, top: str) -> None:
    """A member name is the run's name, or it followed by plain components: no absolute name, no `..`, no `.`,
    no empty component, no NUL."""
    parts = path.split("/")
    if parts[0] != top or any(p in ("", ".", "..") or "\0" in p for p in parts):
        raise ValueError(f"{path!r} is not a name inside the run")


def _shown(text: str) -> str:
    from ..reading.textsafe import clean_field

    return clean_field(text)


# ----- reading ---------------------------------------------------------------------------------------------


class _Unzstd:
    """The decompressed bytes of a `.tar.zst`, read strictly: corrupt data, a frame cut short (its checksum too),
    or anything after the one frame is an ArchiveMismatch. Each call to the decompressor is fed at most `_FEED`
    bytes, which bounds what a hostile frame can make it return at once."""

    def __init__(self, fh: Any, label: str) -> None:
        import zstandard

        self._fh = fh
        self._label = label
        self._obj = zstandard.ZstdDecompressor().decompressobj()
        self._error = zstandard.ZstdError
        self._buf = memoryview(b"")

    def _more(self) -> bool:
        """Decompress more into the buffer; False at the frame's end."""
        while True:
            if self._obj.eof:
                return False
            data = self._fh.read(_FEED)
            if not data:
                raise ArchiveMismatch(f"{self._label}: cut short (its zstd frame does not end)")
            try:
                out = self._obj.decompress(data)
            except self._error as exc:
                raise ArchiveMismatch(f"{self._label}: corrupt ({exc})") from None
            if out:
                self._buf = memoryview(out)
                return True

    def read(self, n: int) -> bytes:
        """Exactly `n` bytes (an ArchiveMismatch where the archive ends first)."""
        if len(self._buf) >= n:
            out = bytes(self._buf[:n])
            self._buf = self._buf[n:]
            return out
        return b"".join(bytes(chunk) for chunk in self.chunks(n))

    def chunks(self, n: int) -> Iterator[memoryview]:
        """The next `n` bytes, in pieces as they are decompressed."""
        while n:
            if not self._buf and not self._more():
                raise ArchiveMismatch(f"{self._label}: cut short (the tar ends inside a member)")
            piece = self._buf[:n]
            self._buf = self._buf[len(piece):]
            n -= len(piece)
            yield piece

    def finish(self) -> None:
        """After the end of the tar: nothing but zeros (a writer's padding), then the frame's end, then the
        file's."""
        while True:
            if any(self._buf):
                raise ArchiveMismatch(f"{self._label}: data after the end of the archive")
            self._buf = memoryview(b"")
            if not self._more():
                break
        if self._obj.unused_data or self._fh.read(1):
            raise ArchiveMismatch(f"{self._label}: data after the end of its zstd frame")


@dataclass(slots=True)
class _Member:
    name: str
    type: str
    size: int
    target: str


def _next_member(reader: _Unzstd, label: str) -> _Member | None:
    """The next member's header (PAX extended headers applied); None at the end of the archive."""
    pax: dict[str, str] = {}
    while True:
        block = reader.read(tarfile.BLOCKSIZE)
        if not any(block):
            if pax:
                raise ArchiveMismatch(f"{label}: an extended header without its member")
            return None
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise ArchiveMismatch(f"{label}: not a tar header ({exc})") from None
        if info.type == tarfile.XHDTYPE:
            if pax or info.size > _PAX_LIMIT:
                raise ArchiveMismatch(f"{label}: an extended header runyard does not write")
            data = reader.read(info.size)
            reader.read(-info.size % tarfile.BLOCKSIZE)
            pax = _pax_records(data, label)
            continue
        kind = _TAR_TYPES.get(info.type)
        if kind is None:
            raise ArchiveMismatch(f"{label}: {_shown(info.name)!r}: a member of a kind runyard does not archive "
                                  f"(type {info.type!r})")
        name, target, size = pax.get("path", info.name), pax.get("linkpath", info.linkname), info.size
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise ArchiveMismatch(f"{label}: a bad size in an extended header") from None
        if kind == DIR:
            name = name.rstrip("/")
        return _Member(name, kind, size if kind == FILE else 0, target)


def _pax_records(data: bytes, label: str) -> dict[str, str]:
    """The `length key=value\\n` records of a PAX extended header (values as UTF-8, raw bytes kept)."""
    out: dict[str, str] = {}
    pos = 0
    try:
        while pos < len(data):
            space = data.index(b" ", pos)
            length = int(data[pos:space])
            end = pos + length
            if length <= 0 or end > len(data) or data[end - 1] != 0x0A:
                raise ValueError("bad record length")
            key, sep, value = data[space + 1:end - 1].partition(b"=")
            if not sep:
                raise ValueError("a record without '='")
            out[key.decode("ascii")] = value.decode("utf-8", "surrogateescape")
            pos = end
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveMismatch(f"{label}: a bad extended header ({exc})") from None
    return out


class _Sink:
    """What is done with each member as it is read: nothing (verifying) or writing it out (`_Extractor`)."""

    def begin(self, entry: Entry) -> Callable[[memoryview], Any] | None:
        """Start a member; for a file, a function taking its data (None: the data is only hashed)."""
        return None

    def end(self, entry: Entry) -> None:
        """A file's data was all given and its hash is right."""


def _replay(tar_path: Path, manifest: Manifest, sink: _Sink, progress: Progress | None, doing: str) -> None:
    """Read the archive at `tar_path` member by member, each checked against `manifest` (name, type, size, link
    target, sha256 of its data) and handed to `sink`; any difference, a member missing or extra, is an
    ArchiveMismatch naming it."""
    from ..files import open_binary

    label = _shown(tar_path.name)
    entries = {e.path: e for e in manifest.entries}
    seen: set[str] = set()
    total = sum(e.size for e in manifest.entries if e.type == FILE)
    done, mark = 0, KILL_EVERY
    try:
        fh = open_binary(tar_path)
    except OSError as exc:
        raise _unreadable(exc, str(tar_path)) from None
    with fh:
        reader = _Unzstd(fh, label)
        while True:
            member = _next_member(reader, label)
            if member is None:
                break
            entry = entries.get(member.name)
            where = f"{label}: {_shown(member.name)!r}"
            try:  # the manifest's names were checked when it was read; one made otherwise is checked here
                _check_name(member.name, manifest.name)
            except ValueError:
                raise ArchiveMismatch(f"{where} is not a name inside the run") from None
            if entry is None:
                raise ArchiveMismatch(f"{where} is in the archive but not in its manifest")
            if member.name in seen:
                raise ArchiveMismatch(f"{where} is in the archive twice")
            if member.type != entry.type:
                raise ArchiveMismatch(f"{where} is a {member.type}, the manifest says {entry.type}")
            if member.type in (SYMLINK, HARDLINK) and member.target != entry.target:
                raise ArchiveMismatch(f"{where} links to another target than the manifest says")
            if member.type == HARDLINK and (entry.target not in seen or entries[entry.target].type != FILE):
                raise ArchiveMismatch(f"{where} links to no file of the archive before it")
            if member.type == FILE and member.size != entry.size:
                raise ArchiveMismatch(f"{where} holds {member.size} bytes, the manifest says {entry.size}")
            parent = member.name.rpartition("/")[0]
            if parent and (parent not in seen or entries[parent].type != DIR):
                raise ArchiveMismatch(f"{where} does not follow a folder of its own")
            seen.add(member.name)
            if progress is not None:
                progress(done, total, entry.path)
            write = sink.begin(entry)
            if member.type != FILE:
                continue
            digest = hashlib.sha256()
            for piece in reader.chunks(member.size):
                digest.update(piece)
                if write is not None:
                    write(piece)
                done += len(piece)
                if done >= mark:
                    mark = done + KILL_EVERY
                    _kill_point(f"tarzst.{doing}.data")
                    if progress is not None:
                        progress(done, total, entry.path)
            reader.read(-member.size % tarfile.BLOCKSIZE)
            if digest.hexdigest() != entry.sha256:
                raise ArchiveMismatch(f"{where}: its sha256 differs from the manifest's")
            sink.end(entry)
        reader.finish()
    missing = [e.path for e in manifest.entries if e.path not in seen]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise ArchiveMismatch(f"{label}: {_shown(missing[0])!r}{more} in the manifest but not in the archive")
    if progress is not None:
        progress(done, total, "")


def verify_archive(tar_path: str | os.PathLike, manifest: Manifest, *, progress: Progress | None = None) -> None:
    """Decompress the archive and hash every member again, comparing type, size, link target and sha256 with
    `manifest` (a member missing or extra counts too); raises ArchiveMismatch with one line saying the first
    difference, RunError when it cannot be read."""
    _replay(Path(tar_path), manifest, _Sink(), progress, "verify")


class _Extractor(_Sink):
    """Writes members under `dest` only: every file is created new (O_EXCL) inside a folder this extraction made,
    reached from `dest` one component at a time without following a symlink, so nothing is written outside
    `dest` or through a link, whatever the archive holds."""

    def __init__(self, dest: Path, manifest: Manifest, fsync: bool, hollow: Callable[[Entry], bool] | None) -> None:
        self.dest = dest
        self.top = manifest.name
        self.fsync = fsync
        self.hollow = hollow
        self.dirs: list[Entry] = []
        self.made = False  # dest exists because this extraction made it
        self._cached: tuple[str, int] | None = None
        self._fd: int | None = None
        self._parent_fd = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._cached is not None:
            os.close(self._cached[1])
            self._cached = None
        os.close(self._parent_fd)

    def _place(self, path: str) -> tuple[int, str]:
        """The folder fd and the name a member is made at: the top member is `dest` itself."""
        if path == self.top:
            return self._parent_fd, self.dest.name
        folder, _, name = path.rpartition("/")
        return self._folder(folder), name

    def _folder(self, path: str) -> int:
        """An fd of the extracted folder `path`, opened component by component with O_NOFOLLOW."""
        if self._cached is not None and self._cached[0] == path:
            return self._cached[1]
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.dest.name, flags, dir_fd=self._parent_fd)
        try:
            for part in path.split("/")[1:]:
                inner = os.open(part, flags, dir_fd=fd)
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        if self._cached is not None:
            os.close(self._cached[1])
        self._cached = (path, fd)
        return fd

    def begin(self, entry: Entry) -> Callable[[memoryview], Any] | None:
        folder, name = self._place(entry.path)
        try:
            write = self._make(entry, folder, name)
        except FileExistsError:
            if entry.path == self.top:
                raise RunError(f"{_shown(str(self.dest))} already exists") from None
            raise ArchiveMismatch(f"{_shown(entry.path)!r} is in the archive twice") from None
        return write

    def _make(self, entry: Entry, folder: int, name: str) -> Callable[[memoryview], Any] | None:
        top = entry.path == self.top
        if entry.type == DIR:
            os.mkdir(name, 0o700, dir_fd=folder)  # its own mode once everything inside is written
            self.made = self.made or top
            self.dirs.append(entry)
            return None
        if entry.type == SYMLINK:
            os.symlink(entry.target, name, dir_fd=folder)
            self.made = self.made or top
            os.utime(name, ns=(entry.mtime_ns, entry.mtime_ns), dir_fd=folder, follow_symlinks=False)
            return None
        if entry.type == HARDLINK:  # never the top member: the first of a file's names is stored as the file
            source, here = self._own_fd(entry.target), self._own_fd(entry.path)
            try:
                os.link(entry.target.rpartition("/")[2], name, src_dir_fd=source, dst_dir_fd=here,
                        follow_symlinks=False)
            finally:
                os.close(source)
                os.close(here)
            return None
        self._fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                           dir_fd=folder)
        self.made = self.made or top
        if self.hollow is not None and self.hollow(entry):
            os.ftruncate(self._fd, entry.size)  # the size without the data: no disk used (sparse)
            return None
        fd = self._fd
        return lambda piece: _write_all(fd, piece)

    def _own_fd(self, path: str) -> int:
        """A new fd of the folder member `path` lies in (the caller closes it)."""
        folder = path.rpartition("/")[0]
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.dest.name, flags, dir_fd=self._parent_fd)
        for part in folder.split("/")[1:]:
            inner = os.open(part, flags, dir_fd=fd)
            os.close(fd)
            fd = inner
        return fd

    def end(self, entry: Entry) -> None:
        fd, self._fd = self._fd, None
        try:
            os.fchmod(fd, entry.mode & _MODE_BITS)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def finish(self) -> None:
        """Folders' modes and mtimes, deepest first (writing inside a folder changes its mtime)."""
        _kill_point("tarzst.extract.modes")
        for entry in sorted(self.dirs, key=lambda e: e.path.count("/"), reverse=True):
            folder, name = self._place(entry.path)
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
            try:
                if self.fsync:
                    os.fsync(fd)
                os.fchmod(fd, entry.mode & _MODE_BITS)
                os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
            finally:
                os.close(fd)
        if self.fsync:
            os.fsync(self._parent_fd)


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data):]


def extract_archive(tar_path: str | os.PathLike, manifest: Manifest, dest: str | os.PathLike, *,
                    progress: Progress | None = None, fsync: bool = True,
                    hollow: Callable[[Entry], bool] | None = None) -> Path:
    """Extract the archive to `dest` (which must not exist; its parent is made if missing): the run's folder or
    file exactly as archived — content, permission bits (set-id and sticky bits dropped), symlinks as links
    (whatever they point at, never followed), hard links, mtimes in ns from the manifest, folders' last and
    deepest first. Each file's sha256 is checked as it is written; on any mismatch (ArchiveMismatch) or error,
    what was extracted is removed again. Files are fsynced unless `fsync` is False. `hollow(entry)` True makes
    a file the right size without its data (a reading cache's checkpoints); its hash is still checked."""
    tar_path, dest = Path(tar_path), Path(dest)
    if os.path.lexists(dest):
        raise RunError(f"{_shown(str(dest))} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    extractor = _Extractor(dest, manifest, fsync, hollow)
    try:
        _replay(tar_path, manifest, extractor, progress, "extract")
        extractor.finish()
    except BaseException as exc:
        extractor.close()
        if extractor.made:
            _remove(dest)
        if isinstance(exc, OSError):
            raise RunError(f"cannot extract {_shown(tar_path.name)} to {_shown(str(dest))}: {_why(exc)}") from None
        raise
    extractor.close()
    _kill_point("tarzst.extract.done")
    return dest


def _remove(path: Path) -> None:
    """Remove what an extraction made (never following a link out of it)."""
    try:
        if path.is_dir() and not path.is_symlink():
            for folder, dirs, _ in os.walk(path):  # a folder without owner write or search would stop rmtree
                for d in dirs:
                    full = os.path.join(folder, d)
                    if not os.path.islink(full):
                        os.chmod(full, 0o700)
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except OSError:
        pass


def archive_paths(root: str | os.PathLike, rel: str | os.PathLike) -> tuple[Path, Path]:
    """Where the run at `<root>/<rel>` is archived compressed: `<root>/archive/<rel>.tar.zst` and its manifest."""
    base = Path(root) / ARCHIVE_DIR / Path(rel)
    return base.with_name(base.name + TAR_SUFFIX), base.with_name(base.name + MANIFEST_SUFFIX)


def _unreadable(exc: OSError, where: str) -> RunError:
    from ..files import unreadable_reason

    return RunError(unreadable_reason(exc, where))


def _why(exc: OSError) -> str:
    text = (exc.strerror or str(exc) or type(exc).__name__).strip()
    return text[:1].lower() + text[1:]
