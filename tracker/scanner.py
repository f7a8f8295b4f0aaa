"""Finding runs under a tree, cheaply: folder listings and a few stats, with a cache for everything else.

Every layout is asked which runs each folder holds. What a listing needs of a run (info, config, summary) is
kept in a JSON cache in the XDG cache folder, keyed by the size and mtime of the run's key files, so a rescan
of an unchanged tree costs little more than listing it. Symlinks are never followed, so nothing outside the
root is read; a run that cannot be read is listed with its error, never breaking the scan.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from .cachedir import cache_file
from .jsonl import decode_tree, encode_tree
from .layouts import cs336, fpn, nanogpt, runyard, tensorboard, textlog
from .layouts.base import Detection, RunSource
from .model import MetricSummary, RunInfo
from .status import derive

CACHE_VERSION = 6  # bump whenever RunInfo, MetricSummary or a layout's reading changes
_SKIP_DIRS = {"__pycache__", "node_modules", ".git", ".venv", "venv", ".ipynb_checkpoints"}
_INFO_FIELDS = [f.name for f in fields(RunInfo)]
_SUMMARY_FIELDS = [f.name for f in fields(MetricSummary)]


def _detectors() -> list[Callable[[Path, list[str]], Detection | None]]:
    """Layout detectors in order of precedence (the W&B reader is optional)."""
    found = [runyard.detect]
    try:
        from .layouts import wandb

        found.append(wandb.detect)
    except ImportError:
        pass
    return [*found, fpn.detect, cs336.detect, tensorboard.detect, nanogpt.detect]


@dataclass
class RunRecord:
    """One run as a listing knows it: info (status derived as of the scan), config and metric summary."""

    info: RunInfo
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, MetricSummary] = field(default_factory=dict)
    source: RunSource | None = field(default=None, repr=False)

    def open(self):
        """The full view of this run (metrics, log, checkpoints, samples)."""
        from .api import RunView

        if self.source is None:
            raise ValueError(f"{self.info.path}: {self.info.error or 'cannot be opened'}")
        return RunView(self.source)


def walk(root: Path) -> Iterator[RunSource]:
    """Every run under `root`, any depth, in a stable order; symlinks are not followed."""
    detectors = _detectors()
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            continue
        names = [e.name for e in entries]
        found = next((d for d in (detect(directory, names) for detect in detectors) if d is not None), None)
        if found is None:  # no layout claims the folder: its plain logs may still be runs
            found = textlog.detect_files(directory, [e.name for e in entries if _is_file(e)], root)
        descend = True
        if found is not None:
            yield from found.runs
            descend = found.descend
        if descend:
            subdirs = sorted(e.path for e in entries
                             if _is_dir(e) and not e.name.startswith(".") and e.name not in _SKIP_DIRS)
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


def read_record(source: RunSource, root: Path) -> RunRecord:
    """Build a run's listing record from its files; an unreadable run gets an error, not an exception."""
    try:
        info = source.read_info()
    except Exception as exc:
        info = RunInfo(id=source.path.name, name=source.path.name, path=source.path, format=source.format,
                       error=_one_line(exc))
        return RunRecord(info, source=source)
    record = RunRecord(info, source=source)
    try:
        record.config = source.config()
    except Exception as exc:
        info.error = info.error or f"config: {_one_line(exc)}"
    try:
        record.summary = _summary_of(source, info)
    except Exception as exc:
        info.error = info.error or f"metrics: {_one_line(exc)}"
    return record


def _summary_of(source: RunSource, info: RunInfo) -> dict[str, MetricSummary]:
    """The layout's own summary where it keeps one (runyard), else computed from its metrics."""
    own = source.own_summary()
    if own is not None:
        return own
    from .summarize import summarize

    df = source.metrics()
    if info.last_time is None and len(df):
        last = df["time"].max()
        info.last_time = float(last) if last == last else None
    if info.interval_median is None and len(df) > 1:
        gaps = df["time"].drop_duplicates().diff().dropna()
        gaps = gaps[gaps > 0]
        info.interval_median = float(statistics.median(gaps)) if len(gaps) else None
    if info.rows is None:
        info.rows = len(df)
    return summarize(df)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


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
    records = []
    for source in walk(root):
        kept = keep.get(str(source.path)) if keep else None
        if kept is not None:
            records.append(kept)
            continue
        sig = signature(source)
        record = cache.get(source, sig) if cache else None
        if record is None:
            record = read_record(source, root)
            if cache:
                cache.put(source, sig, record)
        record.info.archived = _archived(str(source.path), root_prefix)
        settle(record.info, now)
        records.append(record)
    if cache:
        cache.save()
    return records


def settle(info: RunInfo, now: float | None = None) -> None:
    """Keep what the files state in `stated_status` and show the status derived as of `now`."""
    info.stated_status = info.stated_status or info.status
    if not info.error:
        info.status = derive(info, now)


def _archived(path: str, root_prefix: str) -> bool:
    """True for a run inside an `archive` folder below the root."""
    if not path.startswith(root_prefix):
        return False
    return "archive" in path[len(root_prefix):].split(os.sep)[:-1]


class ScanCache:
    """The per-root JSON cache of run records; a missing, corrupt or old-version cache is rebuilt."""

    def __init__(self, root: Path) -> None:
        self.path = cache_file("scan", str(root.resolve()), ".json")
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
            info = RunInfo(*entry["info"])
            info.path = source.path
            summary = {name: MetricSummary(*(decode_tree(v) if str in map(type, v) else v))
                       for name, v in entry["summary"].items()}
        except (TypeError, KeyError, AttributeError):
            return None
        self.seen[key] = entry
        return RunRecord(info, entry.get("config") or {}, summary, source)

    def put(self, source: RunSource, sig: list, record: RunRecord) -> None:
        info = encode_tree([getattr(record.info, k) for k in _INFO_FIELDS])
        info[_INFO_FIELDS.index("path")] = str(source.path)
        info[_INFO_FIELDS.index("extra")] = {}  # details for `show`; opening a run reads them afresh
        self.seen[str(source.path)] = {
            "format": source.format, "sig": sig, "info": info, "config": record.config,
            "summary": {n: encode_tree([getattr(s, f) for f in _SUMMARY_FIELDS]) for n, s in record.summary.items()},
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


def _jsonable(value: Any) -> Any:
    """orjson fallback for the odd value a foreign config holds (dates, paths, sets)."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
