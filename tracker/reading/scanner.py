"""Finding runs under a tree, cheaply: folder listings and a few stats, with a cache for everything else.

Every layout is asked which runs each folder holds. What a listing needs of a run (info, config, summary) is
kept in a JSON cache in the XDG cache folder, keyed by the size and mtime of the run's key files, so a rescan
of an unchanged tree costs little more than listing it. The cache holds facts only (what the files state, when
they were last written): a status that depends on the clock (running, stalled, crashed, gone quiet) is derived
from them on every scan, so a cached run ages exactly as a fresh read would. Symlinks are never followed, so
nothing outside the root is read; a run that cannot be read is listed with its error, never breaking the scan.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Container, Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import orjson

from ..jsonl import decode_value, encode_tree
from ..layouts import textlog
from ..layouts.base import RunSource
from ..layouts.registry import detectors
from ..model import MetricSummary, RunInfo
from .cachedir import cache_file
from .goals import settle_goals, user_goals
from .records import RunRecord, read_record, settle_status

# Bump when a layout reads the same files into different values; changes to the record's fields need no bump.
READING_REVISION = 11
_SKIP_DIRS = {"__pycache__", "node_modules", ".git", ".venv", "venv", ".ipynb_checkpoints"}
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


def walk(root: Path) -> Iterator[RunSource]:
    """Every run under `root`, any depth, in a stable order; symlinks are not followed."""
    found_by = detectors()
    stack = [root]
    claimed: set[str] = set()  # folders that belong to a run found above them, not runs of their own
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue
        names = [e.name for e in entries]
        found = next((d for d in (detect(directory, names) for detect in found_by) if d is not None), None)
        if found is None:  # no layout claims the folder: its plain logs may still be runs
            found = textlog.detect_files(directory, [e.name for e in entries if _is_file(e)], root)
        descend = True
        if found is not None:
            yield from found.runs
            descend = found.descend
            claimed.update(os.path.join(directory, name) for name in found.claimed)
        if descend:
            subdirs = sorted(e.path for e in entries if _is_dir(e) and not e.name.startswith(".")
                             and e.name not in _SKIP_DIRS and e.path not in claimed)
            stack.extend(Path(p) for p in reversed(subdirs))


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
         keep: dict[str, RunRecord] | None = None) -> list[RunRecord]:
    """The runs under `root` (archive/ included and marked), statuses derived as of `now`.

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
    for source in walk(root):
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
    return records


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
    """True for a run inside an `archive` folder below the root."""
    if not path.startswith(root_prefix):
        return False
    return "archive" in path[len(root_prefix):].split(os.sep)[:-1]


def _local_zone() -> str:
    """This machine's time zone as it stands now: log stamps without a zone are read as local time, so a listing
    read under one `TZ` is not reused under another."""
    return f"{time.strftime('%z')} {'/'.join(time.tzname)} {os.environ.get('TZ', '')}"


class ScanCache:
    """The per-root JSON cache of run records; a missing, corrupt or old-version cache is rebuilt."""

    def __init__(self, root: Path) -> None:
        self.path = cache_file("scan", f"{root.resolve()}|{_local_zone()}", ".json")
        self.runs: dict[str, Any] = {}
        self.seen: dict[str, Any] = {}
        try:
            data = orjson.loads(self.path.read_bytes())
            if data.get("version") == CACHE_VERSION and isinstance(data.get("runs"), dict):
                self.runs = data["runs"]
        except (OSError, ValueError, AttributeError):
            self.runs = {}

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
        """Keep only the runs seen in this scan (temp file + rename; a failure just loses the cache)."""
        if self.seen.keys() == self.runs.keys() and all(self.runs[k] is v for k, v in self.seen.items()):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(orjson.dumps({"version": CACHE_VERSION, "runs": self.seen},
                                         option=orjson.OPT_SERIALIZE_NUMPY, default=_jsonable))
            os.replace(tmp, self.path)
        except (OSError, TypeError):
            pass


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
