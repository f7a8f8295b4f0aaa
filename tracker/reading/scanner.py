"""Finding runs under a tree, cheaply: folder listings and a few stats, with a cache for everything else.

Every layout is asked which runs each folder holds. What a listing needs of a run (info, config, summary) is
kept in a JSON cache in the XDG cache folder, keyed by the size and mtime of the run's key files, so a rescan
of an unchanged tree costs little more than listing it. The cache holds facts only (what the files state, when
they were last written): a status that depends on the clock (running, stalled, crashed, gone quiet) is derived
from them on every scan, so a cached run ages exactly as a fresh read would. Symlinks are never followed, so
nothing outside the root is read; a run that cannot be read is listed with its error, never breaking the scan.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson

from ..files import read_bytes
from ..jsonl import decode_value, encode_tree
from ..layouts import textlog
from ..layouts.base import Detection, RunSource
from ..layouts.registry import detectors
from ..model import MetricSummary, RunInfo
from .cachedir import cache_file
from .goals import settle_goals, user_goals
from .patterns import config_files, patterns_for
from .records import RunRecord, read_record, settle_status

# Bump when a layout reads the same files into different values; changes to the record's fields need no bump.
READING_REVISION = 11
_SKIP_DIRS = {"__pycache__", "node_modules", ".git", ".venv", "venv", ".ipynb_checkpoints"}
PATTERNS_FILE = "runyard.toml"
RACY = 2.0  # seconds: a folder changed this recently may change again unseen, within its mtime's resolution
_INFO_FIELDS = tuple(f.name for f in fields(RunInfo))
_SUMMARY_FIELDS = tuple(f.name for f in fields(MetricSummary))
_INFO_NAMES, _SUMMARY_NAMES = frozenset(_INFO_FIELDS), frozenset(_SUMMARY_FIELDS)
# Fields that hold numbers, where a cached "nan"/"inf" means a number; elsewhere (names, tags) it is text.
_INFO_NUMBERS = frozenset(f.name for f in fields(RunInfo) if "float" in str(f.type))
_SUMMARY_NUMBERS = frozenset(f.name for f in fields(MetricSummary) if "float" in str(f.type))
# The cache's version is derived from the record's field names: adding, removing or renaming a field starts
# a fresh cache, and entries are stored by field name, so no value can land in another field.
CACHE_VERSION = f"{READING_REVISION}-" + hashlib.sha1(
    repr((_INFO_FIELDS, _SUMMARY_FIELDS)).encode()).hexdigest()[:12]


class ScanResult(list):
    """The runs a scan found (a list of `RunRecord`), and the folders it could not read: `unreadable` maps each
    folder's path to why (a listing never fails for a folder of someone else's; it says so)."""

    def __init__(self, records: Iterable[RunRecord] = (), unreadable: dict[str, str] | None = None) -> None:
        super().__init__(records)
        self.unreadable: dict[str, str] = dict(unreadable or {})


def walk(root: Path, cache: FolderCache | None = None, unreadable: dict[str, str] | None = None, *,
         known: Container[str] = (), whole: dict[str, list[int]] | None = None) -> Iterator[RunSource | str]:
    """Every run under `root`, any depth, in a stable order; symlinks are not followed.

    A folder no layout claims is remembered in `cache` (its sub-folders, and which of its files are plain logs,
    each by size, mtime and inode): while the folder's own mtime stands, a rescan of it is a stat of each
    file that could be a log, and only a file that changed is read again. Folders that cannot be listed or
    entered are noted in `unreadable` (path -> why) and passed over.

    For a caller that keeps its own list of run folders: each folder found to be exactly one run (the folder's
    only run, nothing below it looked at) is noted in `whole` as path -> [mtime_ns, inode] as stat'ed BEFORE it
    was listed (while both stand, its names, and so what it holds, are as found); a sub-folder whose path is in
    `known` is yielded as that path (a str), neither stat'ed nor listed: the caller checks it is still one run.
    """
    found_by = detectors()
    skipped = unreadable if unreadable is not None else {}
    stack: list[tuple[Any, str | None]] = [(root, _user_patterns_key())]
    claimed: set[str] = set()  # folders that belong to a run found above them, not runs of their own
    while stack:
        directory, patterns_key = stack.pop()
        if patterns_key is None:  # a folder the caller knows as a run: its path, as given
            yield directory
            continue
        where = str(directory)
        try:
            st = os.stat(where)
        except OSError as exc:  # refused: the folder above cannot be entered (listed, its names known, no more)
            refused = exc.errno == errno.EACCES and directory != root
            _note_unreadable(skipped, os.path.dirname(where) if refused else where, exc)
            continue
        folder_mtime = st.st_mtime_ns
        folder = cache.folder(where, folder_mtime, st.st_ino) if cache is not None else None
        if folder is None:  # listed afresh: new, changed, or claimed by a layout
            try:
                with os.scandir(where) as it:
                    entries = list(it)
            except OSError as exc:
                _note_unreadable(skipped, where, exc)
                continue
            names = [e.name for e in entries]
            found = detect_folder(directory, names, found_by)
            subdirs = [e.name for e in entries if _is_dir(e) and not e.name.startswith(".")
                       and e.name not in _SKIP_DIRS]
            if found is None:  # no layout claims the folder: its plain logs may still be runs
                logs = sorted(e.name for e in entries if textlog.could_be_log(e.name) and _is_file(e))
                folder = Folder(folder_mtime, subdirs, logs, PATTERNS_FILE in names)
                if cache is not None:
                    cache.put_folder(where, folder, st.st_ino)
            else:
                if (whole is not None and not found.descend and not found.claimed and len(found.runs) == 1
                        and found.runs[0].path == directory):
                    whole[where] = [folder_mtime, st.st_ino]
                yield from found.runs
                if not found.descend:
                    continue
                patterns_key = _patterns_key(patterns_key, where, PATTERNS_FILE in names)
                claimed.update(os.path.join(directory, name) for name in found.claimed)
        if folder is not None:
            patterns_key = _patterns_key(patterns_key, where, folder.has_patterns)
            for name in _plain_logs(directory, folder, patterns_key, root, skipped):
                yield textlog.TextLogSource(directory / name, root)
            subdirs = folder.subdirs
        # A listed name holds no separator: joined as os.path.join would, and as a Path prints it (`./a` is `a`),
        # so that a path in `known` is the very text `whole` noted.
        prefix = "" if where == "." else os.path.join(where, "")
        below = sorted(p for p in (prefix + name for name in subdirs) if p not in claimed)
        if known:
            stack.extend((p, None) if p in known else (Path(p), patterns_key) for p in reversed(below))
        else:
            stack.extend((Path(p), patterns_key) for p in reversed(below))


def detect_folder(directory: Path, names: list[str],
                  found_by: list[Callable[[Path, list[str]], Detection | None]] | None = None) -> Detection | None:
    """What the first layout (in order of precedence) that claims a folder holding `names` found in it; None when
    none does."""
    for detect in found_by if found_by is not None else detectors():
        found = detect(directory, names)
        if found is not None:
            return found
    return None


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


class Folder:
    """A folder no layout claims, as last listed: its sub-folders, whether it holds a runyard.toml, and each file
    that could be a plain log with the verdict on it (1: a log, 0: not, -1: not judged yet) and the size, mtime_ns
    and inode the file had when judged. Files are kept as five parallel lists, which the cache reads fastest."""

    __slots__ = ("dirty", "files", "has_patterns", "mtime", "patterns_key", "subdirs")

    def __init__(self, mtime: int | None, subdirs: list[str], names: list[str], has_patterns: bool,
                 files: list[list[Any]] | None = None, patterns_key: str = "") -> None:
        self.mtime = mtime  # None: listed too soon after a change to be trusted next time (see `RACY`)
        self.subdirs = subdirs
        self.has_patterns = has_patterns
        self.files: list[list[Any]] = files if files is not None else [names, *([-1] * len(names) for _ in range(4))]
        self.patterns_key = patterns_key  # the runyard.toml files the verdicts were made under
        self.dirty = False  # listed or judged anew: its lists are its own, and the cache writes it back

    @classmethod
    def from_json(cls, data: Any) -> Folder | None:
        """A folder as the cache stored it; None for an entry in any other shape."""
        try:
            mtime, subdirs, has_patterns, patterns_key, *files = data
            if len(files) != 5 or len({len(column) for column in files}) != 1:
                return None
            return cls(mtime, subdirs, files[0], bool(has_patterns), files, patterns_key)
        except (TypeError, ValueError):
            return None

    def to_json(self) -> list[Any]:
        return [self.mtime, self.subdirs, int(self.has_patterns), self.patterns_key, *self.files]

    def keep_verdicts(self, before: Folder) -> None:
        """Take over the verdicts `before` (the same folder as listed last time) holds on files still here."""
        names = self.files[0]
        at = {name: i for i, name in enumerate(before.files[0])}
        self.files = [names, *([column[at[n]] if n in at else -1 for n in names] for column in before.files[1:])]
        self.patterns_key = before.patterns_key

    def own(self) -> None:
        """Copy the lists before changing them: the cache's own are never changed in place."""
        if not self.dirty:
            self.files = [list(column) for column in self.files]
            self.dirty = True

    def judged(self, i: int, verdict: tuple[int, int, int, int]) -> None:
        """Record the verdict on file `i`."""
        self.own()
        for column, value in zip(self.files[1:], verdict, strict=True):
            column[i] = value


def _plain_logs(directory: Path, folder: Folder, patterns_key: str, root: Path,
                unreadable: dict[str, str]) -> list[str]:
    """The files of `folder` that are plain text logs: a verdict stands while the file's size, mtime and inode
    and the patterns that read it do; any other file is read (its head only) and judged again."""
    if not folder.files[0]:
        return []
    same_patterns = folder.patterns_key == patterns_key
    if not same_patterns:
        folder.own()
        folder.patterns_key = patterns_key
    where = str(directory)
    try:  # each file is stat'ed relative to its folder: no path is walked from the root a hundred thousand times
        fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        _note_unreadable(unreadable, where, exc)
        return []
    table = None
    logs = []
    try:
        names, sizes, mtimes, inodes, verdicts = folder.files
        for i, name in enumerate(names):
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno == errno.EACCES:
                    _note_unreadable(unreadable, where, exc)
                continue
            verdict = verdicts[i]
            if not (same_patterns and verdict >= 0 and sizes[i] == st.st_size and mtimes[i] == st.st_mtime_ns
                    and inodes[i] == st.st_ino):
                if not stat.S_ISREG(st.st_mode):
                    continue
                if table is None:
                    table = patterns_for(root, directory)
                verdict = int(textlog.sniff(os.path.join(where, name), root, table))
                folder.judged(i, (st.st_size, st.st_mtime_ns, st.st_ino, verdict))
                names, sizes, mtimes, inodes, verdicts = folder.files
            if verdict:
                logs.append(name)
    finally:
        os.close(fd)
    return logs


def _patterns_key(above: str, where: str, has_patterns: bool) -> str:
    """The key of the pattern tables that apply in a folder: that of the folder above, and the size and mtime of
    the folder's own runyard.toml when it has one (an edited table judges every file below it again)."""
    if not has_patterns:
        return above
    try:
        st = os.stat(os.path.join(where, PATTERNS_FILE))
    except OSError:
        return above
    return hashlib.sha1(f"{above}|{where}|{st.st_size}|{st.st_mtime_ns}".encode(errors="surrogateescape")
                        ).hexdigest()[:16]


def _user_patterns_key() -> str:
    """The key of the user's own runyard.toml (`patterns.config_files`), where every folder's key starts."""
    key = ""
    for path in config_files(None):
        key = _patterns_key(key, str(path.parent), True)
    return key


def _note_unreadable(unreadable: dict[str, str], where: str, exc: OSError) -> None:
    """Remember why a folder could not be read; a folder gone since its parent was listed is just gone."""
    if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        unreadable.setdefault(where, (exc.strerror or type(exc).__name__).lower())


def signature(source: RunSource) -> list[list[int] | None]:
    """(size, mtime_ns) of each key file; None for a missing one."""
    sig: list[list[int] | None] = []
    for path in source.key_paths():
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError:
            sig.append(None)
            continue
        sig.append([st.st_size, st.st_mtime_ns])
    return sig


def scan(root: str | os.PathLike, *, use_cache: bool = True, now: float | None = None,
         keep: dict[str, RunRecord] | None = None) -> ScanResult:
    """The runs under `root` (archive/ included and marked), statuses derived as of `now`, and the folders that
    could not be read (`ScanResult.unreadable`).

    `keep` maps run paths to records the caller keeps current itself (a live app following those runs):
    they are listed as given, not read again.
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"no such folder: {root}")
    cache = ScanCache(root) if use_cache else None
    now = time.time() if now is None else now
    root_prefix = str(root).rstrip(os.sep) + os.sep
    user = user_goals(root)
    records = []
    unreadable: dict[str, str] = {}
    for source in walk(root, cache, unreadable):
        kept = keep.get(str(source.path)) if keep else None
        if kept is not None:
            records.append(kept)
            continue
        source.root = root
        sig = signature(source)
        record = cache.get(source, sig) if cache else None
        if record is None:
            record = read_record(source)
            if cache:
                cache.put(source, sig, record)
        else:  # the run's own directions come from the cache; runyard.toml may have changed since
            settle_goals(record.summary, None, user)
        record.info.archived = _archived(str(source.path), root_prefix)
        settle_status(record.info, now)
        records.append(record)
    if cache:
        cache.save()
    return ScanResult(records, unreadable)


def find_moved(records: Iterable[RunRecord], old_path: str | os.PathLike, run_id: str,
               known: Container[str] = ()) -> RunRecord | None:
    """Where a run that was at `old_path` went: the one record of a later scan with its id, at another path.

    A run's id is kept wherever its folder moves (runyard's is random; other layouts' ids are folder or file
    names, so those are found again only when moved under the same name). `known` holds the paths the caller
    already listed before: a run there was not moved. None when the run is gone, or when several match.
    """
    old = str(old_path)
    found = [r for r in records
             if r.info.id == run_id and str(r.info.path) != old and str(r.info.path) not in known]
    return found[0] if len(found) == 1 else None


def _archived(path: str, root_prefix: str) -> bool:
    """True for a run inside the root's own `archive/` folder (where `runyard archive` puts runs); a folder
    of that name deeper down is a user's, and its runs are theirs as they are."""
    if not path.startswith(root_prefix):
        return False
    parts = path[len(root_prefix):].split(os.sep)
    return len(parts) > 1 and parts[0] == "archive"


def _local_zone() -> str:
    """This machine's time zone as it stands now: log stamps without a zone are read as local time, so a listing
    read under one `TZ` is not reused under another."""
    return f"{time.strftime('%z')} {'/'.join(time.tzname)} {os.environ.get('TZ', '')}"


# The cache file last read or written by this process, as parsed: a rescan (the app's, every few seconds) does
# not parse it again while the file is the one it knows (same size, mtime and inode).
_memo: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}
_memo_lock = threading.Lock()


class FolderCache:
    """The folders that hold no layout's run, as `walk` last listed them (path -> `Folder.to_json()`), and those
    looked up or listed since (`folders_seen`); entries are never changed in place, only replaced. Keyed by the
    folder's mtime (a name added, removed or renamed in a folder changes it), and with `inodes` (path -> inode)
    by its inode too: a folder replaced by another with the same mtime (a restore that keeps times) is listed
    again."""

    def __init__(self, folders: dict[str, Any] | None = None, inodes: dict[str, int] | None = None) -> None:
        self.folders: dict[str, Any] = folders if folders is not None else {}
        self.folders_seen: dict[str, Folder | Any] = {}
        self.inodes = inodes
        self.inodes_seen: dict[str, int | None] = {}

    def folder(self, path: str, mtime: int, ino: int | None = None) -> Folder | None:
        """The folder at `path` as last listed, if its mtime (and inode) is still `mtime` (`ino`): nothing was
        added, removed or renamed in it since. None means: list it."""
        if self.inodes is not None and self.inodes.get(path) != ino:
            return None
        entry = self.folders.get(path)
        if entry is None or not isinstance(entry, list) or entry[0] != mtime:
            return None
        folder = Folder.from_json(entry)
        if folder is not None:
            self.folders_seen[path] = folder
            self.inodes_seen[path] = ino
        return folder

    def put_folder(self, path: str, folder: Folder, ino: int | None = None) -> None:
        """A folder listed afresh: it keeps the verdicts on its files from before (each stands while its file is
        unchanged), and its mtime only if that is old enough to tell a later change (see `RACY`)."""
        old = Folder.from_json(self.folders.get(path)) if path in self.folders else None
        if old is not None:
            folder.keep_verdicts(old)
        if folder.mtime is not None and time.time() - folder.mtime / 1e9 < RACY:
            folder.mtime = None
        folder.dirty = True
        self.folders_seen[path] = folder
        self.inodes_seen[path] = ino

    def folders_json(self) -> dict[str, Any]:
        """The folders seen this time, as JSON; an unchanged one is the very object loaded (see `unchanged`)."""
        folders = {}
        for path, folder in self.folders_seen.items():
            old = self.folders.get(path)
            new = folder.to_json() if folder.dirty else old
            folders[path] = old if new == old else new
        return folders

    def unchanged(self, folders: dict[str, Any]) -> bool:
        """True when `folders` (from `folders_json`) holds exactly the folders loaded: nothing to write back."""
        return folders.keys() == self.folders.keys() and all(self.folders[k] is v for k, v in folders.items())


class ScanCache(FolderCache):
    """The per-root JSON cache of run records, and of the folders that hold no layout's run (see `walk`); a
    missing, corrupt or old-version cache is rebuilt. Entries are never changed in place, only replaced."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.path = cache_file("scan", f"{root.resolve()}|{_local_zone()}", ".json")
        self.runs: dict[str, Any] = {}
        self.seen: dict[str, Any] = {}
        data = self._load()
        if data.get("version") == CACHE_VERSION and isinstance(data.get("runs"), dict):
            self.runs = data["runs"]
            if data.get("layouts") == layouts_key() and isinstance(data.get("folders"), dict):
                self.folders = data["folders"]

    def _load(self) -> dict[str, Any]:
        try:
            st = os.stat(self.path)
            version = (st.st_size, st.st_mtime_ns, st.st_ino)
            with _memo_lock:
                known = _memo.get(self.path)
            if known is not None and known[0] == version:
                return known[1]
            data = orjson.loads(read_bytes(self.path))  # regular files only: a FIFO is not waited on
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        with _memo_lock:
            _memo[self.path] = (version, data)
        return data

    def get(self, source: RunSource, sig: list) -> RunRecord | None:
        key = str(source.path)
        entry = self.runs.get(key)
        if not entry or entry.get("sig") != sig or entry.get("format") != source.format:
            return None
        try:
            info = RunInfo(**_decoded(entry["info"], _INFO_NAMES, _INFO_NUMBERS))
            info.path = source.path
            summary = {name: MetricSummary(**_decoded(stats, _SUMMARY_NAMES, _SUMMARY_NUMBERS))
                       for name, stats in entry["summary"].items()}
        except (TypeError, KeyError, AttributeError):
            return None
        self.seen[key] = entry
        return RunRecord(info, entry.get("config") or {}, summary, source)

    def put(self, source: RunSource, sig: list, record: RunRecord) -> None:
        info = encode_tree({k: getattr(record.info, k) for k in _INFO_FIELDS})
        info["path"] = str(source.path)
        info["status"], info["stated_status"] = record.info.stated_status or record.info.status, None  # a fact
        info["extra"] = {}  # details for `show`; opening a run reads them afresh
        self.seen[str(source.path)] = {
            "format": source.format, "sig": sig, "info": info, "config": record.config,
            "summary": {n: encode_tree({f: getattr(s, f) for f in _SUMMARY_FIELDS}) for n, s in record.summary.items()},
        }

    def save(self) -> None:
        """Keep only the runs and folders seen in this scan (temp file + rename; a failure just loses the cache)."""
        folders = self.folders_json()
        if (self.seen.keys() == self.runs.keys() and all(self.runs[k] is v for k, v in self.seen.items())
                and self.unchanged(folders)):
            return
        data = {"version": CACHE_VERSION, "layouts": layouts_key(), "runs": self.seen, "folders": folders}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY, default=_jsonable))
            os.replace(tmp, self.path)
            st = os.stat(self.path)
        except (OSError, TypeError):
            return
        with _memo_lock:
            _memo[self.path] = ((st.st_size, st.st_mtime_ns, st.st_ino), data)


def layouts_key() -> list[str]:
    """Which layouts were asked about each folder: a folder none claimed is asked again once one is added (the
    W&B reader comes and goes with wandb's installation)."""
    return [f"{d.__module__}.{d.__qualname__}" for d in detectors()]


def _decoded(cached: dict[str, Any], names: frozenset[str], numbers: frozenset[str]) -> dict[str, Any]:
    """A cached record's fields, non-finite numbers restored in the numeric fields only (a rescan decodes ten
    thousand of these: the common case, every key a field and no string in a number, is one dict copy)."""
    out = dict(cached) if cached.keys() <= names else {k: v for k, v in cached.items() if k in names}
    for key in numbers:
        value = out.get(key)
        if type(value) is str:
            out[key] = decode_value(value)
    return out


def _jsonable(value: Any) -> Any:
    """orjson fallback for the odd value a foreign config holds (dates, paths, sets)."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
