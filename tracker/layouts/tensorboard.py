"""Runs written as TensorBoard event files (`events.out.tfevents.*`), with ChatGoT's conventions around them.

A folder holding event files is one run; its event files (a restarted run, or several writers) are merged,
ordered by the timestamp in their names, then by their first wall time. Records are framed here (TFRecord:
`uint64 length | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)`) and decoded with the
`tensorboard` package's own protobuf classes, so neither TensorFlow nor a hand-written protobuf decoder is
needed, and 1,000,000 points read many times faster than through `EventAccumulator`.

Both CRCs are checked, with the `crc32c` C wheel (about 0.5 µs a record for both, some 15% of the reading
time): the length CRC is what tells a record from garbage and lets the reader find the next record after a
corrupt stretch, and the data CRC catches damage that would still decode (a flipped bit in a float), as
TensorBoard's own reader does; a run manager showing a wrong number without a word is worse than a slower read.

ChatGoT keeps `training.log` in the run folder (its `Config: {...}` line is the fallback config, its last line
says whether training completed) and checkpoints in a `models/` folder beside the runs folder, named
`<run>_epoch_N.pt` and `<run>_final.pt`.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import open_binary, read_bytes
from ..liveness import interval_median
from ..model import FINISHED, RUNNING, Checkpoint, RunInfo, Sample
from ..ops.best import mark_best, ranking_metric
from ..reading.goals import resolve_goal
from .base import Detection, MetricColumns, RunSource

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

EVENT_PREFIX = "events.out.tfevents."
LOG_NAME = "training.log"
_NAME_TIME = re.compile(re.escape(EVENT_PREFIX) + r"(\d+)")
_CONFIG_LINE = re.compile(r" - Config: (\{.*\})\s*$")
_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def detect(directory: Path, names: list[str]) -> Detection | None:
    """One run for a folder holding event files; subfolders may hold runs of their own, as TensorBoard has it."""
    if not any(name.startswith(EVENT_PREFIX) for name in names):
        return None
    return Detection(runs=[TensorBoardRun(directory)], descend=True)


def _masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC-32C of `data` (rotated and offset so that CRCs of CRCs stay well spread)."""
    import crc32c

    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & _U32


class _Records:
    """The records of one TFRecord file in order; `skipped` counts the corrupt stretches passed over.

    A record cut short at the end (a file still being written) ends the iteration without being counted:
    it is read whole on the next pass.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.skipped = 0

    def __iter__(self) -> Iterator[bytes]:
        """Yield each record's payload, skipping records whose CRCs do not match."""
        import crc32c

        data, size, unpack, crc = self.data, len(self.data), struct.unpack_from, crc32c.crc32c
        pos = 0
        while pos + 12 <= size:
            length, length_crc = unpack("<QI", data, pos)
            c = crc(data[pos:pos + 8])
            if (((c >> 15) | (c << 17)) + _MASK_DELTA) & _U32 != length_crc:
                self.skipped += 1
                pos = self._resync(pos + 1)
                continue
            end = pos + 12 + length
            if end + 4 > size:
                return
            record = data[pos + 12:end]
            c = crc(record)
            pos = end + 4
            if (((c >> 15) | (c << 17)) + _MASK_DELTA) & _U32 != unpack("<I", data, end)[0]:
                self.skipped += 1
                continue
            yield record

    def _resync(self, pos: int) -> int:
        """The next offset from `pos` where a record header's length CRC checks, or the end of the data."""
        data, size = self.data, len(self.data)
        while pos + 12 <= size:
            if _masked_crc(data[pos:pos + 8]) == struct.unpack_from("<I", data, pos + 8)[0]:
                return pos
            pos += 1
        return size


@dataclass
class _FileEvents:
    """What one event file holds; scalars as compact typed arrays that numpy takes without copying."""

    name: str
    name_time: int
    first_time: float = math.inf   # wall time of the first record, to order files with the same name time
    min_time: float = math.inf     # earliest positive wall time of any record
    steps: array[int] = field(default_factory=lambda: array("q"))     # one per row: an event holding scalars
    times: array[float] = field(default_factory=lambda: array("d"))
    columns: dict[str, tuple[array[int], array[float]]] = field(default_factory=dict)  # tag -> (rows, values)
    samples: list[Sample] = field(default_factory=list)
    hparams: dict[str, Any] = field(default_factory=dict)
    skipped: int = 0


def _name_time(path: Path) -> int:
    """The creation timestamp a writer puts in an event file's name (0 when the name has none)."""
    match = _NAME_TIME.match(path.name)
    return int(match.group(1)) if match else 0


def _tensor_scalar(tensor: Any) -> float | None:
    """The value of a scalar tensor summary: from float_val or double_val, else any encoding numpy can read."""
    if tensor.float_val:
        return tensor.float_val[0]
    if tensor.double_val:
        return tensor.double_val[0]
    from tensorboard.util import tensor_util

    try:
        values = tensor_util.make_ndarray(tensor)
        return float(values.reshape(-1)[0]) if values.size else None
    except (TypeError, ValueError):
        return None


def _tensor_text(tensor: Any) -> str:
    """The text of a string tensor (cells of a table joined by newlines)."""
    return "\n".join(s.decode("utf-8", errors="replace") for s in tensor.string_val)


def _hparams(content: bytes) -> dict[str, Any]:
    """The hyperparameters of an hparams plugin record, if it is a session_start_info one."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    if data.WhichOneof("data") != "session_start_info":
        return {}
    return {name: _hparam_value(value) for name, value in data.session_start_info.hparams.items()}


def _hparam_value(value: Any) -> Any:
    """One hparam as Python: text, bool, or number; an integral number is an int.

    The hparams plugin stores every number as a double (`batch_size=32` arrives as 32.0) and TensorBoard shows it
    as 32, so an integral double up to 2**53 (where doubles stop being exact integers) is read as the int it was
    written from; a float hparam that happens to be integral (`1.0`) reads as 1 too.
    """
    from google.protobuf.json_format import MessageToDict

    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) <= 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return MessageToDict(value)


def _read_file(path: Path) -> _FileEvents:
    """Every scalar, text sample and hparams record of one event file, in file order."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event

    out = _FileEvents(name=path.name, name_time=_name_time(path))
    records = _Records(read_bytes(path))
    plugins: dict[str, str] = {}  # tag -> plugin: writers may give a tag's metadata on its first value only
    from_string, steps, times, columns = Event.FromString, out.steps, out.times, out.columns
    first_time = min_time = math.inf
    for record in records:
        try:
            event = from_string(record)
        except DecodeError:
            out.skipped += 1
            continue
        step, wall = event.step, event.wall_time
        if first_time == math.inf:
            first_time = wall
        if 0 < wall < min_time:
            min_time = wall
        row = -1
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                number: float | None = value.simple_value
            else:  # a tensor, or a value that only carries plugin metadata (torch's hparams)
                number = _plugin_value(out, plugins, value, step, wall)
            if number is None:
                continue
            if row < 0:
                row = len(steps)
                steps.append(step)
                times.append(wall)
            column = columns.get(value.tag)
            if column is None:
                column = columns[value.tag] = (array("q"), array("d"))
            column[0].append(row)
            column[1].append(number)
    out.skipped += records.skipped
    out.first_time, out.min_time = first_time, min_time
    return out


def _plugin_value(out: _FileEvents, plugins: dict[str, str], value: Any, step: int, wall: float) -> float | None:
    """A plugin's summary value: its number if it is a scalar; text samples and hparams are stored on `out`."""
    tag = value.tag
    if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
        plugins[tag] = value.metadata.plugin_data.plugin_name
    plugin = plugins.get(tag, "")
    if plugin == "scalars":
        return _tensor_scalar(value.tensor)
    if plugin == "text":
        out.samples.append(Sample(_tensor_text(value.tensor), step=step, time=wall, extra={"tag": tag}))
    elif plugin == "hparams":
        out.hparams.update(_hparams(value.metadata.plugin_data.content))
    return None


def _last_line(path: Path) -> str:
    """The last non-empty line of a text file, read from its end so that long logs cost nothing."""
    with open_binary(path) as fh:
        fh.seek(0, 2)
        fh.seek(max(0, fh.tell() - 4096))
        lines = fh.read().decode("utf-8", errors="replace").splitlines()
    return next((line for line in reversed(lines) if line.strip()), "")


def _log_config(path: Path) -> dict[str, Any]:
    """The JSON dict on ChatGoT's `... - INFO - Config: {...}` log line, or {} when there is none."""
    with io.TextIOWrapper(open_binary(path), encoding="utf-8", errors="replace") as fh:
        for line in fh:
            match = _CONFIG_LINE.search(line)
            if match:
                try:
                    config = json.loads(match.group(1))
                except ValueError:
                    continue
                if isinstance(config, dict):
                    return config
    return {}


def _step_starts(steps: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The wall times at which consecutive distinct steps begin (a step's tags may come as several events)."""
    import numpy as np

    if len(steps) < 2:
        return times[:0]
    return times[np.concatenate(([0], np.flatnonzero(np.diff(steps)) + 1))]


class TensorBoardRun(RunSource):
    """A folder of TensorBoard event files; each file is read once until its size or mtime changes."""

    format = "tensorboard"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._cache: dict[Path, tuple[os.stat_result, _FileEvents]] = {}

    def event_files(self) -> list[Path]:
        """The run's event files (directly in its folder; subfolders are runs of their own)."""
        try:
            return sorted(p for p in self.path.iterdir() if p.name.startswith(EVENT_PREFIX) and p.is_file())
        except OSError:
            return []

    def key_files(self) -> list[Path]:
        """The event files and, if present, training.log."""
        log = self.log_path()
        return [*self.event_files(), *([log] if log else [])]

    def log_path(self) -> Path | None:
        """ChatGoT's `training.log` in the run folder."""
        log = self.path / LOG_NAME
        return log if log.is_file() else None

    def _files(self) -> list[_FileEvents]:
        """Every event file's contents in run order, re-reading only files whose size or mtime changed."""
        files: dict[Path, tuple[os.stat_result, _FileEvents]] = {}
        for path in self.event_files():
            try:
                stat = path.stat()
                cached = self._cache.get(path)
                same = cached and (cached[0].st_size, cached[0].st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
                files[path] = cached if same else (stat, _read_file(path))
            except FileNotFoundError:  # removed since the listing
                continue
        self._cache = files
        return sorted((events for _, events in files.values()), key=lambda f: (f.name_time, f.first_time, f.name))

    def _last_write(self) -> float | None:
        """The mtime of the newest event file read by the last `_files()`."""
        return max((stat.st_mtime for stat, _ in self._cache.values()), default=None)

    @staticmethod
    def _steps_times(files: list[_FileEvents]) -> tuple[np.ndarray, np.ndarray]:
        """The step and wall time of every row, the files concatenated in run order."""
        import numpy as np

        steps = np.concatenate([np.frombuffer(f.steps, dtype=np.int64) for f in files] or [np.empty(0, np.int64)])
        times = np.concatenate([np.frombuffer(f.times, dtype=np.float64) for f in files] or [np.empty(0)])
        return steps, times

    def _columns(self, files: list[_FileEvents]) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[Any, Any]]]:
        """Steps, wall times and, per scalar tag, (the rows that hold it, their values), the files concatenated
        in run order."""
        import numpy as np

        steps, times = self._steps_times(files)
        points: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        offset = 0
        for f in files:
            for tag, (rows, values) in f.columns.items():
                where, logged = points.setdefault(tag, ([], []))
                where.append(np.frombuffer(rows, dtype=np.int64) + offset)
                logged.append(np.frombuffer(values))
            offset += len(f.steps)
        return steps, times, {tag: (np.concatenate(where), np.concatenate(logged))
                              for tag, (where, logged) in points.items()}

    def metrics_data(self) -> MetricColumns:
        """One row per event record holding scalars: `step`, `time` (the event's wall time), and each tag the
        record holds, NaN and infinities included (a tag named `step` or `time` is a metric; see `metric_column`).
        """
        steps, times, points = self._columns(self._files())
        return MetricColumns.from_points(steps, times, points)

    def samples(self) -> list[Sample]:
        """Text summaries (TensorBoard's text plugin), tagged with their summary tag."""
        return [sample for f in self._files() for sample in f.samples]

    def config(self) -> dict[str, Any]:
        """The hparams plugin's hyperparameters, else the `Config:` line of training.log, else {}."""
        hparams: dict[str, Any] = {}
        for f in self._files():
            hparams.update(f.hparams)
        if hparams:
            return hparams
        log = self.log_path()
        return _log_config(log) if log else {}

    def checkpoints(self) -> list[Checkpoint]:
        """ChatGoT's `models/<run>_epoch_N.pt` by epoch, then `models/<run>_final.pt`; never opened.

        An epoch is not a step, so an epoch checkpoint has no step and keeps N as `metrics["epoch"]`;
        the final one, written when training ends, gets the run's last step.
        """
        pattern = re.compile(re.escape(self.path.name) + r"_(?:epoch_(\d+)|final)\.pt")
        found: list[tuple[float, Checkpoint]] = []
        for folder in dict.fromkeys((self.path.parent.parent / "models", self.path.parent / "models")):
            for path in _listing(folder):
                match = pattern.fullmatch(path.name)
                if not match or not path.is_file():
                    continue
                stat = path.stat()
                checkpoint = Checkpoint(path=path, bytes=stat.st_size, time=stat.st_mtime)
                if match.group(1) is None:
                    checkpoint.step = self._last_step()
                    found.append((math.inf, checkpoint))
                else:
                    checkpoint.metrics["epoch"] = float(match.group(1))
                    found.append((checkpoint.metrics["epoch"], checkpoint))
        checkpoints = [checkpoint for _, checkpoint in sorted(found, key=lambda item: item[0])]
        metric = ranking_metric(checkpoints)  # names record no metric to rank by: no best, as the tool has none
        mark_best(checkpoints, metric, resolve_goal(self, metric).direction if metric else None)
        return checkpoints

    def _last_step(self) -> int | None:
        """The highest step of any scalar in the run."""
        return max((max(f.steps) for f in self._files() if f.steps), default=None)

    def read_info(self) -> RunInfo:
        """Identity, status and size of the run, from one pass over its event files."""
        files = self._files()
        steps, times = self._steps_times(files)
        last_write = self._last_write()
        created = min((f.min_time for f in files), default=math.inf)
        return RunInfo(
            id=self.path.name, name=self.path.name, path=self.path, format=self.format,
            status=self._status(), quiet_status=FINISHED,
            created=None if created == math.inf else created,
            last_write=last_write,
            last_step=int(steps.max()) if len(steps) else None,
            rows=len(steps),
            interval_median=interval_median(_step_starts(steps, times)),
            skipped_lines=sum(f.skipped for f in files),
        )

    def _status(self) -> str:
        """Finished if training.log ends with "Training complete"; else running, until nothing was written for
        10 minutes: then finished too, as TensorBoard has no end record (`quiet_status`, judged by `liveness`)."""
        log = self.log_path()
        if log and "Training complete" in _last_line(log):
            return FINISHED
        return RUNNING


def _listing(folder: Path) -> list[Path]:
    """The entries of a folder, sorted; none if it does not exist."""
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []
