"""Weights & Biases offline runs: `wandb/offline-run-<stamp>-<id>/run-<id>.wandb`, read from the transaction log.

The `.wandb` file is W&B's LevelDB-style log: a 7-byte header, then 32 KiB blocks of checksummed chunks that
join into serialized `wandb_internal_pb2.Record` messages. wandb 0.31 ships no Python reader for that framing
any more (its Go core reads the log), so the chunks are joined here and each record is parsed by wandb's own
protobuf classes. As in LevelDB, a damaged chunk costs the rest of its block; reading goes on after it.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import math
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import TrackerError
from ..files import read_bytes
from ..jsonl import as_float
from ..liveness import interval_median
from ..model import CRASHED, FAILED, FINISHED, RUNNING, WANDB, Goal, RunInfo
from .base import Detection, MetricColumns, RunSource, metric_column

MISSING_WANDB = "reading W&B offline runs needs the wandb package: pip install 'runyard[wandb]'"
CRASH_EXIT_CODE = 254  # the exit code W&B records for a crashed run

_RUN_DIRS = ("offline-run-*", "run-*")
_HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
_BLOCK = 32768
_CHUNK = struct.Struct("<IHB")  # crc32 (seeded with the type byte) of the data, data length, type
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_CRC_SEED = {kind: zlib.crc32(bytes([kind])) for kind in (_FULL, _FIRST, _MIDDLE, _LAST)}
_DAMAGED, _CUT = -1, -2  # pseudo chunk types: a bad chunk; the file ends inside a chunk
_GOALS = {1: "min", 2: "max"}  # MetricRecord.GOAL_MINIMIZE, GOAL_MAXIMIZE


def detect(directory: Path, names: list[str]) -> Detection | None:
    """One run for a W&B run folder holding its `.wandb` log; None for any other folder (names only, no wandb)."""
    if not any(fnmatch.fnmatchcase(directory.name, pattern) for pattern in _RUN_DIRS):
        return None
    logs = sorted(name for name in names if name.startswith("run-") and name.endswith(".wandb"))
    if not logs:
        return None
    own = f"run-{directory.name.rsplit('-', 1)[-1]}.wandb"
    return Detection(runs=[WandbRun(directory, directory / (own if own in logs else logs[0]))], descend=False)


class WandbRun(RunSource):
    """One W&B run folder; everything comes from its `.wandb` transaction log, parsed once per file version."""

    format = "wandb"

    def __init__(self, path: Path, wandb_file: Path) -> None:
        super().__init__(path)
        self.wandb_file = wandb_file
        self._cached: tuple[tuple[int, int] | None, _State] | None = None

    def key_files(self) -> list[Path]:
        """The transaction log: every change to the run is appended to it."""
        return [self.wandb_file]

    def read_info(self) -> RunInfo:
        """Identity, status and history extent from the run, history and exit records."""
        state = self._state()
        st = _stat(self.wandb_file)
        mtime = st.st_mtime if st else None
        status = _status(state.exit_code)
        times = [t for t in state.times if not math.isnan(t)]
        run_id = state.run_id or self.wandb_file.stem.removeprefix("run-")
        return RunInfo(
            id=run_id, name=state.name or run_id, path=self.path, format=self.format, status=status,
            created=state.start if state.start is not None else (times[0] if times else None),
            ended=_ended(state, status, times), last_time=max(times) if times else None, last_write=mtime,
            # Without an exit record the log's mtime is the run's only sign of life: quiet for LEET's 10
            # minutes, it crashed (judged by `liveness`, so a cached listing ages as a fresh read would).
            quiet_status=CRASHED, host=state.host or None, tags=list(state.tags), notes=state.notes,
            last_step=state.steps[-1] if state.steps else None, rows=len(state.steps),
            interval_median=interval_median(times), error=state.error,
            # A record cut short is still being written while the run lives; once it is given up, it is lost.
            skipped_lines=state.skipped + int(state.cut and status == CRASHED),
            pending_lines=int(state.cut and status == RUNNING),
            extra=_extra(state),
        )

    def metrics_data(self) -> MetricColumns:
        """One row per history record: step from `_step`, time from `_timestamp`, and the numeric user keys it
        holds (a logged NaN among them; W&B's own `_...` keys are not metrics)."""
        state = self._state()
        return MetricColumns.from_rows(state.steps, state.times, state.values)

    def config(self) -> dict[str, Any]:
        """The run's config as the config and run records left it, without W&B's internal `_wandb` key."""
        return _public(self._state().config)

    def wandb_summary(self) -> dict[str, Any]:
        """The run summary as the summary records left it, without W&B's internal `_wandb` key."""
        return _public(self._state().summary)

    def goals(self) -> dict[str, Goal]:
        """Directions from the run's metric definitions (`define_metric(name, summary="max")`, or a goal where an
        older SDK wrote one); a definition by pattern (`"val/*"`) applies to the logged metrics it matches."""
        state = self._state()
        found: dict[str, Goal] = {}
        if state.goal_patterns:
            names = {name for values in state.values for name in values}
            for pattern, direction in state.goal_patterns.items():
                found.update((metric_column(name), Goal(direction, WANDB))
                             for name in names if fnmatch.fnmatchcase(name, pattern))
        found.update((metric_column(name), Goal(direction, WANDB)) for name, direction in state.goal_names.items())
        return found

    def origin(self) -> dict[str, Any]:
        """git commit, command line, Python, torch and host, from what W&B keeps beside its log: the run and
        environment records at the head of the `.wandb` file, `files/wandb-metadata.json` (older SDKs),
        `files/requirements.txt` (torch's version) and `files/diff.patch` (written when the tree was dirty)."""
        facts = _head_origin(self.wandb_file)
        files = self.path / "files"
        try:
            meta = orjson.loads(read_bytes(files / "wandb-metadata.json"))
        except (OSError, ValueError):
            meta = None
        if isinstance(meta, dict):
            git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
            program, args = meta.get("program"), meta.get("args")
            found = {"git.commit": git.get("commit"), "host": meta.get("host"),
                     "python": _version_in(meta.get("python")),
                     "argv": ([program] if isinstance(program, str) and program else [])
                     + [str(a) for a in args or [] if isinstance(args, list)] or None}
            facts.update({k: v for k, v in found.items() if v})
        try:
            requirements = read_bytes(files / "requirements.txt").decode("utf-8", "replace")
        except OSError:
            requirements = ""
        for line in requirements.splitlines():
            name, _, version = line.strip().partition("==")
            if name.lower() == "torch" and version:
                facts["torch"] = version
        if facts.get("git.commit"):
            try:  # W&B saves the uncommitted changes as diff.patch; no patch says nothing about a clean tree
                if (files / "diff.patch").stat().st_size > 0:
                    facts["git.dirty"] = True
            except OSError:
                pass
        return facts

    def log_path(self) -> Path | None:
        """The run's console output, which W&B saves as `files/output.log`: once it exists, or while the run is
        still written (W&B creates the file at its first flush), so a follower picks it up when it appears."""
        path = self.path / "files" / "output.log"
        if path.is_file() or self.read_info().status == RUNNING:  # no exit record yet: it may still appear
            return path
        return None

    def _state(self) -> _State:
        """The folded records, read again only when the log's size or mtime has changed."""
        st = _stat(self.wandb_file)
        key = (st.st_size, st.st_mtime_ns) if st else None
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, _load(self.wandb_file))
        return self._cached[1]


@dataclass
class _State:
    """What the records of one `.wandb` file say, folded in file order."""

    run_id: str = ""
    name: str = ""
    project: str = ""
    entity: str = ""
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    host: str = ""
    start: float | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    values: list[dict[str, float]] = field(default_factory=list)
    goal_names: dict[str, str] = field(default_factory=dict)     # metric -> "min"/"max", from metric records
    goal_patterns: dict[str, str] = field(default_factory=dict)  # glob -> "min"/"max"
    exit_code: int | None = None
    runtime: int = 0
    records: int = 0
    skipped: int = 0
    cut: bool = False
    error: str | None = None


@dataclass
class _Frames:
    """The complete records of a log, and what was lost or left unfinished on the way."""

    records: list[bytes] = field(default_factory=list)
    damaged: int = 0
    cut: bool = False  # the file ends inside a record: still being written, or cut short


def _stat(path: Path) -> os.stat_result | None:
    """The file's stat, or None when it is gone."""
    try:
        return path.stat()
    except OSError:
        return None


def _protobuf() -> tuple[type, type[Exception]]:
    """wandb's `Record` class and protobuf's `DecodeError`, imported on first use; a TrackerError without wandb."""
    try:
        from google.protobuf.message import DecodeError
        from wandb.proto import wandb_internal_pb2
    except ImportError as exc:
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in ("wandb", "google"):
            raise TrackerError(MISSING_WANDB) from exc
        raise TrackerError(f"cannot load wandb's record classes: {exc}") from exc
    return wandb_internal_pb2.Record, DecodeError


def _load(path: Path) -> _State:
    """Every readable record of a `.wandb` file folded into a `_State`; damage is counted, never raised."""
    record_class, decode_error = _protobuf()
    state = _State()
    try:
        data = read_bytes(path)
    except OSError as exc:
        state.error = f"cannot read {path.name}: {exc.strerror or exc}"
        return state
    if not data.startswith(_HEADER) and not _HEADER.startswith(data):
        state.error = f"{path.name} is not a W&B transaction log (bad header)"
        return state
    frames = _assemble(_chunks(data))
    state.skipped, state.cut = frames.damaged, frames.cut
    for payload in frames.records:
        record = record_class()
        try:
            record.ParseFromString(payload)
        except decode_error:
            state.skipped += 1
            continue
        state.records += 1
        _fold(state, record)
    if not state.records and state.skipped:
        state.error = f"no readable record in {path.name} ({state.skipped} damaged)"
    return state


def _chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, data) of each chunk after the header, `_DAMAGED` for a bad one, `_CUT` if the file ends in one."""
    pos = len(_HEADER)
    while pos < len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK.size:  # the block's zero trailer
            pos += room
            continue
        if pos + _CHUNK.size > len(data):
            yield _CUT, b""
            return
        crc, length, kind = _CHUNK.unpack_from(data, pos)
        start, end = pos + _CHUNK.size, pos + _CHUNK.size + length
        if kind == 0 and length == 0:  # zero padding up to the end of the block
            pos += room
        elif kind not in _CRC_SEED or length > room - _CHUNK.size:
            yield _DAMAGED, b""
            pos += room
        elif end > len(data):
            yield _CUT, b""
            return
        elif zlib.crc32(data[start:end], _CRC_SEED[kind]) != crc:
            yield _DAMAGED, b""
            pos += room
        else:
            yield kind, data[start:end]
            pos = end


def _assemble(chunks: Iterable[tuple[int, bytes]]) -> _Frames:
    """Joins FIRST, MIDDLE and LAST chunks into records; each damaged chunk or broken chain counts once."""
    out = _Frames()
    parts: list[bytes] | None = None
    lost = False  # after damage, the orphaned rest of a record is not counted again
    for kind, data in chunks:
        if kind == _CUT:
            out.cut = True
        elif kind == _DAMAGED:
            out.damaged, parts, lost = out.damaged + 1, None, True
        elif kind in (_FULL, _FIRST):
            out.damaged += int(parts is not None)
            parts, lost = [data], False
        elif parts is not None:
            parts.append(data)
        else:
            out.damaged += int(not lost)
            lost = True
        if kind in (_FULL, _LAST) and parts is not None:
            out.records.append(b"".join(parts))
            parts = None
    out.cut = out.cut or parts is not None
    return out


def _fold(state: _State, record: Any) -> None:
    """Applies one record to the state; record types a listing does not show are passed over."""
    kind = record.WhichOneof("record_type")
    if kind == "run":
        _fold_run(state, record.run)
    elif kind == "config":
        _apply_items(state.config, record.config)
    elif kind == "summary":
        _apply_items(state.summary, record.summary)
    elif kind == "history":
        _fold_history(state, record.history)
    elif kind == "metric":
        _fold_metric(state, record.metric)
    elif kind == "exit":
        state.exit_code, state.runtime = record.exit.exit_code, record.exit.runtime


def _fold_metric(state: _State, metric: Any) -> None:
    """A metric definition's direction: its goal where set, else a summary of `min` or of `max` (not both)."""
    direction = _GOALS.get(metric.goal)
    if direction is None and metric.HasField("summary") and metric.summary.min != metric.summary.max:
        direction = "min" if metric.summary.min else "max"
    if direction is None:
        return
    if metric.name:
        state.goal_names[metric.name] = direction
    elif metric.glob_name:
        state.goal_patterns[metric.glob_name] = direction


def _fold_run(state: _State, run: Any) -> None:
    """Identity from a run record (a later one, as on resume, overrides what it sets) plus its config."""
    state.run_id = run.run_id or state.run_id
    state.name = run.display_name or state.name
    state.project = run.project or state.project
    state.entity = run.entity or state.entity
    state.notes = run.notes or state.notes
    state.host = run.host or state.host
    state.tags = list(run.tags) or state.tags
    if run.HasField("start_time"):
        state.start = run.start_time.seconds + run.start_time.nanos / 1e9
    _apply_items(state.config, run.config)
    _apply_items(state.summary, run.summary)


def _apply_items(tree: dict[str, Any], update: Any) -> None:
    """Applies a config or summary record's updates and removals (JSON values at nested key paths) to `tree`."""
    for item in update.update:
        _put(tree, _item_path(item), _loads(item.value_json))
    for item in update.remove:
        _drop(tree, _item_path(item))


def _item_path(item: Any) -> list[str]:
    """The key path of a config, summary or history item: `nested_key` when set, else `[key]`."""
    return list(item.nested_key) or [item.key]


def _put(tree: dict[str, Any], path: list[str], value: Any) -> None:
    """Sets `value` at `path` in a nested dict, creating the dicts on the way."""
    for key in path[:-1]:
        if not isinstance(tree.get(key), dict):
            tree[key] = {}
        tree = tree[key]
    tree[path[-1]] = value


def _drop(tree: dict[str, Any], path: list[str]) -> None:
    """Removes the value at `path` from a nested dict, if it is there."""
    for key in path[:-1]:
        tree = tree.get(key)
        if not isinstance(tree, dict):
            return
    tree.pop(path[-1], None)


def _loads(text: str) -> Any:
    """A JSON value as W&B writes it (NaN and Infinity included); text that is not JSON is kept as text."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass  # NaN and Infinity are not JSON to orjson; the standard parser takes them
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return text


def _fold_history(state: _State, history: Any) -> None:
    """One metrics row: step from `_step`, time from `_timestamp`, the numeric user keys as floats."""
    raw = {".".join(item.nested_key) or item.key: _history_value(item) for item in history.item}
    stamp = as_float(raw.get("_timestamp"))
    state.steps.append(_step(raw.get("_step"), history.step.num))
    state.times.append(math.nan if stamp is None else stamp)
    # The row's step and time are W&B's own `_step`/`_timestamp`; a user key named `step` or `time` is a metric.
    state.values.append({name: value for key, v in raw.items() if not key.startswith("_")
                         for name, value in _numbers(key, v)})


def _step(value: Any, fallback: int) -> int:
    """A history row's step: `_step` as logged (an int stays exact, up to int64's limit), else the record's."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(2**63) <= value < 2**63 else fallback
    number = as_float(value)
    return int(number) if number is not None and number.is_integer() and abs(number) < 2**63 else fallback


def _history_value(item: Any) -> Any:
    """The value of a history item, from its JSON form or, when the SDK wrote only that, its typed form."""
    if item.value_json:
        return _loads(item.value_json)
    kind = item.WhichOneof("value")
    if kind == "json":
        return _loads(item.json)
    return None if kind in (None, "none") else getattr(item, kind)


def _numbers(key: str, value: Any) -> Iterator[tuple[str, float]]:
    """(name, value) for a number, or for each numeric leaf of a plain nested dict as `key.sub`; media are not."""
    if isinstance(value, dict) and "_type" not in value:
        for sub, inner in value.items():
            yield from _numbers(f"{key}.{sub}", inner)
    elif (number := as_float(value)) is not None:
        yield key, number


def _status(exit_code: int | None) -> str:
    """Finished, failed or crashed from the exit record; without one, running (until the log goes quiet)."""
    if exit_code is None:
        return RUNNING
    if exit_code == 0:
        return FINISHED
    return CRASHED if exit_code == CRASH_EXIT_CODE else FAILED


def _ended(state: _State, status: str, times: list[float]) -> float | None:
    """When a run that is over ended: start plus the exit record's runtime, or the last history time if later."""
    if status == RUNNING:
        return None
    ends = [max(times)] if times else []
    if state.exit_code is not None and state.start is not None:
        ends.append(state.start + state.runtime)
    return max(ends, default=None)


_ORIGIN_HEAD = 4 * _BLOCK  # the run, environment and telemetry records are written before any history


def _head_origin(path: Path) -> dict[str, Any]:
    """git commit, argv, Python and host from the records at the head of a `.wandb` file (its first blocks)."""
    try:
        record_class, decode_error = _protobuf()
        with open(path, "rb") as fh:
            data = fh.read(_ORIGIN_HEAD)
    except (OSError, TrackerError):
        return {}
    if not data.startswith(_HEADER):
        return {}
    facts: dict[str, Any] = {}
    for payload in _assemble(_chunks(data)).records:
        record = record_class()
        try:
            record.ParseFromString(payload)
        except decode_error:
            continue
        kind = record.WhichOneof("record_type")
        if kind == "history":
            break
        if kind == "run":
            run = record.run
            found = {"git.commit": run.git.commit, "host": run.host, "python": run.telemetry.python_version}
        elif kind == "environment":
            env = record.environment
            found = {"git.commit": env.git.commit, "host": env.host, "python": _version_in(env.python),
                     "argv": [env.program, *env.args] if env.program else list(env.args)}
        elif kind == "telemetry":
            found = {"python": record.telemetry.python_version}
        else:
            continue
        facts.update({k: v for k, v in found.items() if v and k not in facts})
    return facts


def _version_in(text: Any) -> str | None:
    """"3.11.7" from "3.11.7" or "CPython 3.11.7" (how W&B's metadata names the interpreter)."""
    if not isinstance(text, str):
        return None
    for word in reversed(text.split()):
        if word[:1].isdigit():
            return word
    return text or None


def _public(tree: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config or summary tree without W&B's internal `_wandb` key, safe for callers to change."""
    return copy.deepcopy({k: v for k, v in tree.items() if k != "_wandb"})


def _extra(state: _State) -> dict[str, Any]:
    """W&B-specific facts a listing may show or filter on: project, entity, exit code and the summary."""
    extra: dict[str, Any] = {"wandb_summary": _public(state.summary)}
    extra.update({k: v for k, v in (("project", state.project), ("entity", state.entity)) if v})
    if state.exit_code is not None:
        extra["exit_code"] = state.exit_code
    return extra
