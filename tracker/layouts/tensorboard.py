"""Runs written as TensorBoard event files (`events.out.tfevents.*`), with ChatGoT's conventions around them.

A folder holding event files is one run; its event files (a restarted run, or several writers) are merged,
ordered by the timestamp in their names, then by their first wall time. The sub-folders a writer spreads one run
over belong to it too (see `_spread_folders`): `add_hparams`' timestamped folder (its hparams are the config, its
metrics the run's) and `add_scalars`' folder per key, whose tag `<main>` becomes the metric `<main>/<key>` (the
series TensorBoard draws on the `<main>` chart as `<key>`; tbparse gives the same pair as tag and `dir_name`).

A restart supersedes what it writes over, as TensorBoard shows it (`_standing`): a `SessionLog.START` (torch's
`purge_step`) at step S drops the rows of step >= S written before it in its folder (`EventAccumulator`'s purge,
and runyard's own resume rule), and a tag whose step goes back to s drops its own earlier points of step >= s
(the loader's out-of-order purge; TensorBoard's data server drops them too). `RunInfo.restarts_at` keeps the
steps where a later life began, so that a curve can show a gap there rather than a line across the pause.

The run's clock (created, last_time, ended) is its scalars' wall time; the scalars that `add_hparams` writes
(one point each, often at the end, or long after the run) and the writers' own metadata events do not move it.

Records are framed here (TFRecord:
`uint64 length | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)`) and decoded with the
`tensorboard` package's own protobuf classes, so neither TensorFlow nor a hand-written protobuf decoder is
needed, and 1,000,000 points read many times faster than through `EventAccumulator`.

Both CRCs are checked, with the `crc32c` C wheel (about 0.5 µs a record for both, some 15% of the reading
time): the length CRC is what tells a record from garbage and lets the reader find the next record after a
corrupt stretch, and the data CRC catches damage that would still decode (a flipped bit in a float), as
TensorBoard's own reader does; a run manager showing a wrong number without a word is worse than a slower read.

Each event file is followed as `reading.follow` does for every foreign layout: a file that grew is read from
where the last read stopped, and what it was decoded into is kept on disk outside the runs tree
(`reading.filecache`), so that reopening a run in a new process reads its columns back instead of decoding
every record again.

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
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import open_binary, read_bytes
from ..liveness import interval_median
from ..model import FINISHED, RUNNING, Checkpoint, RunInfo, Sample
from ..ops.best import mark_best, ranking_metric
from ..reading.follow import FollowedFile, Grow, follow
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
_TEXT_SUFFIX = "/text_summary"  # torch and tensorboardX put it after the tag given to `add_text`
_SESSION_START = 1              # tensorboard's SessionLog.START: a writer (re)started at the event's step
_PEEK_BYTES = 1 << 16           # how much of a sub-folder's first event file tells whose it is
_SPREAD_DEPTH = 3               # tensorboardX nests `add_scalars` as <main tag>/<key>, and a main tag may hold "/"
_BIG = (1 << 63) - 1
CACHE_KIND = "tensorboard"  # the disk cache's folder for decoded event files (see `reading.filecache`)


def detect(directory: Path, names: list[str]) -> Detection | None:
    """One run for a folder holding event files, with the sub-folders its writer spread it over; other
    subfolders may hold runs of their own, as TensorBoard has it."""
    if not any(name.startswith(EVENT_PREFIX) for name in names):
        return None
    maybe_folders = any(not name.startswith(EVENT_PREFIX) and name != LOG_NAME for name in names)
    spread = _spread_folders(_listing_of(directory)[1]) if maybe_folders else []
    return Detection(runs=[TensorBoardRun(directory)], descend=True, claimed=[s.folder for s in spread])


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
    sample_rows: list[int] = field(default_factory=list)  # per sample: how many rows came before it in the file
    hparams: dict[str, Any] = field(default_factory=dict)
    skipped: int = 0
    folder: str = ""  # the sub-folder of the run it is in ("" for the run's own folder)
    starts: list[tuple[int, int]] = field(default_factory=list)  # SessionLog.START: (rows before it, its step)

    @property
    def metadata_only(self) -> bool:
        """True for what `add_hparams` writes: hparams and at most one point of each metric."""
        return bool(self.hparams) and all(len(rows) <= 1 for rows, _ in self.columns.values())


def _name_time(path: Path) -> int:
    """The creation timestamp a writer puts in an event file's name (0 when the name has none)."""
    match = _NAME_TIME.match(path.name)
    return int(match.group(1)) if match else 0


def _tensor_scalar(tensor: Any) -> float | None:
    """The value of a scalar tensor summary (see `tfevents.tensor_scalar`)."""
    from .tfevents import tensor_scalar

    return tensor_scalar(tensor)


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


def _read_file(path: Path, folder: str = "", names: dict[str, str] | None = None) -> _FileEvents:
    """Every scalar, text sample, hparams record and restart marker of one event file, in file order;
    `names` renames tags (a spread sub-folder's tag to the metric it is)."""
    reader = _FileReader(path.name, folder, names)
    reader.feed(read_bytes(path))
    return reader.events()


class _FileReader:
    """One event file read from its start in pieces (as it grows): the events so far and the parser state.

    `feed` takes the bytes that follow what was fed before (from `offset` on); a record cut short at the end
    waits for the next piece. Records of the shapes `tfevents` knows are decoded with numpy, the rest with the
    protobuf classes, one by one in file order, with the plugin each tag was last described as.
    """

    def __init__(self, name: str, folder: str = "", names: dict[str, str] | None = None) -> None:
        import numpy as np

        self.name, self.folder, self.names = name, folder, names
        self.offset = 0            # bytes of the file consumed (whole records, or a corrupt stretch)
        self.resyncing = False
        self.shapes: dict[int, list[Any]] = {}  # record shapes `tfevents` found in this file, by length
        self.plugins: dict[str, str] = {}
        self.steps, self.times = Grow(np.int64), Grow(np.float64)
        self.columns: dict[str, tuple[Grow, Grow]] = {}
        self.samples: list[Sample] = []
        self.sample_rows: list[int] = []
        self.hparams: dict[str, Any] = {}
        self.starts: list[tuple[int, int]] = []
        self.skipped = 0
        self.first_time = self.min_time = math.inf
        self._events: _FileEvents | None = None

    def feed(self, data: bytes) -> None:
        """Read the records in `data`, the file's bytes from `offset` on; `offset` moves past the whole ones."""
        import numpy as np

        from . import tfevents

        frames = tfevents.frame(data, 0, self.resyncing)
        if frames.end:
            self._events = None
        self.offset += frames.end
        self.resyncing = frames.resyncing
        self.skipped += frames.skipped
        count = len(frames.starts)
        if not count:
            return
        self._events = None
        groups, others = tfevents.decode(data, frames, self.shapes)
        rec_step = np.zeros(count, dtype=np.int64)
        rec_wall = np.zeros(count)
        decoded = np.zeros(count, dtype=bool)
        has_row = np.zeros(count, dtype=bool)
        points: dict[str, list[tuple[Any, Any, tuple[int, int]]]] = {}
        fast_setters: dict[str, list[Any]] = {}
        for g in groups:
            rec_step[g.index], rec_wall[g.index] = g.steps, g.walls
            decoded[g.index] = has_row[g.index] = True
            for k, ((tag, _, _), values) in enumerate(zip(g.shape.values, g.values, strict=True)):
                points.setdefault(tag, []).append((g.index, values, (int(g.index[0]), k)))
            for tag in g.shape.scalars_tags:
                fast_setters.setdefault(tag, []).append(g.index)
        setters = {tag: np.sort(np.concatenate(parts)) for tag, parts in fast_setters.items()}
        texts, starts = self._slow(data, frames, others, setters, rec_step, rec_wall, decoded, has_row, points)
        for tag, found in setters.items():
            last_slow = self._slow_set.get(tag, (-1, ""))[0]
            if int(found[-1]) > last_slow:
                self.plugins[tag] = "scalars"

        base = self.steps.size
        before = np.cumsum(has_row) - has_row  # rows in this piece before each record
        self.steps.extend(rec_step[has_row])
        self.times.extend(rec_wall[has_row])
        row_of = base + before
        first_seen = {tag: min(p[2] for p in parts) for tag, parts in points.items()}
        for tag in sorted(points, key=first_seen.__getitem__):  # new columns in the order they first appear
            parts = points[tag]
            index = np.concatenate([p[0] for p in parts])
            values = np.concatenate([np.asarray(p[1], dtype=np.float64) for p in parts])
            order = np.argsort(index, kind="stable")
            column = self.columns.get(tag)
            if column is None:
                column = self.columns[tag] = (Grow(np.int64), Grow(np.float64))
            column[0].extend(row_of[index[order]])
            column[1].extend(values[order])
        for i, within, sample in texts:
            self.samples.append(sample)
            self.sample_rows.append(int(row_of[i]) + within)
        self.starts.extend((int(row_of[i]), step) for i, step in starts)
        if self.first_time == math.inf:
            first = np.flatnonzero(decoded & (rec_wall != math.inf))
            if len(first):
                self.first_time = float(rec_wall[first[0]])
        positive = rec_wall[decoded & (rec_wall > 0)]
        if len(positive):
            self.min_time = min(self.min_time, float(positive.min()))

    def _slow(self, data: bytes, frames: Any, others: Any, setters: dict[str, Any], rec_step: Any, rec_wall: Any,
              decoded: Any, has_row: Any, points: dict[str, list[tuple[Any, Any, tuple[int, int]]]],
              ) -> tuple[list[tuple[int, int, Sample]], list[tuple[int, int]]]:
        """Decode the records `tfevents` left (indices `others`) with the protobuf classes, in file order."""
        import numpy as np
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto.event_pb2 import Event

        self._slow_set: dict[str, tuple[int, str]] = {}
        texts: list[tuple[int, int, Sample]] = []
        starts: list[tuple[int, int]] = []
        slow_points: dict[str, tuple[list[int], list[float], tuple[int, int]]] = {}
        from_string = Event.FromString
        record_starts, lengths = frames.starts, frames.lengths
        for i in others.tolist():
            begin = int(record_starts[i])
            try:
                event = from_string(data[begin:begin + int(lengths[i])])
            except DecodeError:
                self.skipped += 1
                continue
            step, wall = event.step, event.wall_time
            decoded[i], rec_step[i], rec_wall[i] = True, step, wall
            row = False
            for position, value in enumerate(event.summary.value):
                tag = value.tag
                if value.WhichOneof("value") == "simple_value":
                    number: float | None = value.simple_value
                else:
                    if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
                        self._slow_set[tag] = (i, value.metadata.plugin_data.plugin_name)
                    plugin = self._plugin_at(tag, i, setters)
                    number = None
                    if plugin == "scalars":
                        number = _tensor_scalar(value.tensor)
                    elif plugin == "text":
                        name = tag[:-len(_TEXT_SUFFIX)] if tag.endswith(_TEXT_SUFFIX) else tag
                        texts.append((i, int(row), Sample(_tensor_text(value.tensor), step=step, time=wall,
                                                          extra={"tag": name})))
                    elif plugin == "hparams":
                        self.hparams.update(_hparams(value.metadata.plugin_data.content))
                if number is None:
                    continue
                row = True
                where, logged, _ = slow_points.setdefault(tag, ([], [], (i, position)))
                where.append(i)
                logged.append(number)
            if row:
                has_row[i] = True
            elif event.HasField("session_log") and event.session_log.status == _SESSION_START:
                starts.append((i, step))
        for tag, (where, logged, first) in slow_points.items():
            points.setdefault(tag, []).append((np.asarray(where, dtype=np.int64), logged, first))
        for tag, (_, plugin) in self._slow_set.items():
            self.plugins[tag] = plugin
        return texts, starts

    def _plugin_at(self, tag: str, index: int, setters: dict[str, Any]) -> str:
        """The plugin `tag` was last described as before record `index` of this piece (or at it)."""
        import numpy as np

        slow = self._slow_set.get(tag)
        fast = setters.get(tag)
        if fast is not None:
            at = int(np.searchsorted(fast, index, side="right"))
            if at and (slow is None or int(fast[at - 1]) > slow[0]):
                return "scalars"
        if slow is not None:
            return slow[1]
        return self.plugins.get(tag, "")

    def state(self) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
        """What `restore` needs to go on from here: JSON-able state and named arrays (tags before renames).

        Everything the reader keeps round-trips, text samples and hparams included (JSON keeps str, bool, int,
        float and NaN apart), so no file is left out of the disk cache for what it holds.
        """
        tags = list(self.columns)
        state = {
            "offset": self.offset, "resyncing": self.resyncing, "plugins": self.plugins, "tags": tags,
            "samples": [[s.text, s.step, s.time, s.prompt, s.extra] for s in self.samples],
            "sample_rows": self.sample_rows, "hparams": self.hparams, "starts": self.starts,
            "skipped": self.skipped, "first_time": self.first_time, "min_time": self.min_time,
        }
        arrays = [("steps", self.steps.view()), ("times", self.times.view())]
        for i, tag in enumerate(tags):
            rows, values = self.columns[tag]
            arrays += [(f"r{i}", rows.view()), (f"v{i}", values.view())]
        return state, arrays

    @classmethod
    def restore(cls, name: str, folder: str, names: dict[str, str] | None, state: dict[str, Any],
                arrays: dict[str, Any]) -> _FileReader:
        """A reader as `state()` left it (arrays writable, taken without copying)."""
        reader = cls(name, folder, names)
        reader.offset, reader.resyncing = int(state["offset"]), bool(state["resyncing"])
        reader.plugins = dict(state["plugins"])
        reader.steps, reader.times = Grow.of(arrays["steps"]), Grow.of(arrays["times"])
        reader.columns = {tag: (Grow.of(arrays[f"r{i}"]), Grow.of(arrays[f"v{i}"]))
                          for i, tag in enumerate(state["tags"])}
        reader.samples = [Sample(text, step=step, time=time, prompt=prompt, extra=extra)
                          for text, step, time, prompt, extra in state["samples"]]
        reader.sample_rows = [int(row) for row in state["sample_rows"]]
        reader.hparams = dict(state["hparams"])
        reader.starts = [(int(rows), int(step)) for rows, step in state["starts"]]
        reader.skipped = int(state["skipped"])
        reader.first_time, reader.min_time = float(state["first_time"]), float(state["min_time"])
        return reader

    def events(self) -> _FileEvents:
        """What the file held as of the last `feed`, as a new object whenever that changed."""
        if self._events is None:
            columns = {tag: (rows.view(), values.view()) for tag, (rows, values) in self.columns.items()}
            if self.names:
                columns = {self.names.get(tag, tag): column for tag, column in columns.items()}
            self._events = _FileEvents(
                name=self.name, name_time=_name_time(Path(self.name)), first_time=self.first_time,
                min_time=self.min_time, steps=self.steps.view(), times=self.times.view(), columns=columns,
                samples=list(self.samples), sample_rows=list(self.sample_rows), hparams=dict(self.hparams),
                skipped=self.skipped, folder=self.folder, starts=list(self.starts))
        return self._events


def _restored(name: str, folder: str, names: dict[str, str] | None, state: dict[str, Any],
              arrays: dict[str, Any]) -> _FileReader:
    """A reader as the disk cache left it; ValueError for an entry whose columns do not line up."""
    reader = _FileReader.restore(name, folder, names, state, arrays)
    if reader.steps.size != reader.times.size:
        raise ValueError("steps and times differ in length")
    return reader


def _plugin_value(out: _FileEvents, plugins: dict[str, str], value: Any, step: int, wall: float) -> float | None:
    """A plugin's summary value: its number if it is a scalar; text samples and hparams are stored on `out`."""
    tag = value.tag
    if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
        plugins[tag] = value.metadata.plugin_data.plugin_name
    plugin = plugins.get(tag, "")
    if plugin == "scalars":
        return _tensor_scalar(value.tensor)
    if plugin == "text":
        name = tag[:-len(_TEXT_SUFFIX)] if tag.endswith(_TEXT_SUFFIX) else tag  # the name the user gave
        out.samples.append(Sample(_tensor_text(value.tensor), step=step, time=wall, extra={"tag": name}))
        out.sample_rows.append(len(out.steps))
    elif plugin == "hparams":
        out.hparams.update(_hparams(value.metadata.plugin_data.content))
    return None


@dataclass
class _Spread:
    """A sub-folder that a run's writer wrote beside its own files, and the names its tags take in the run."""

    folder: str                        # relative to the run's folder, "/"-separated
    files: list[Path]
    names: dict[str, str] | None = None  # tag -> metric name (add_scalars' folders); None: tags keep theirs


@dataclass
class _Peek:
    """What the start of an event file says about whose it is."""

    first_tag: str | None = None  # the tag of its first scalar
    hparams: set[str] = field(default_factory=set)  # the kinds of hparams records seen
    summaries: bool = False  # anything but the writer's own header at all


_PEEKS: dict[tuple[str, int], _Peek] = {}  # (path, inode) -> a peek that will not change as the file grows


def _listing_of(folder: str | Path) -> tuple[list[Path], list[os.DirEntry]]:
    """The event files directly in `folder` (sorted) and its visible sub-folders, from one listing; none if it
    cannot be listed. Symlinks are not followed."""
    files: list[Path] = []
    folders: list[os.DirEntry] = []
    try:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.name.startswith(EVENT_PREFIX):
                    if _is_file(entry):
                        files.append(Path(entry.path))
                elif not entry.name.startswith(".") and _is_dir(entry):
                    folders.append(entry)
    except OSError:
        pass
    return sorted(files), folders


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _peek(path: Path) -> _Peek:
    """The first scalar's tag and the hparams records at the start of an event file (its first 64 KiB)."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event

    try:
        stat = path.stat()
        key = (str(path), stat.st_ino)
        if key in _PEEKS:
            return _PEEKS[key]
        with open_binary(path) as fh:  # a FIFO in a sub-folder is not waited on: it tells nothing
            data = fh.read(_PEEK_BYTES)
    except OSError:
        return _Peek()
    peek = _Peek()
    for record in _Records(data):
        try:
            event = Event.FromString(record)
        except DecodeError:
            continue
        for value in event.summary.value:
            peek.summaries = True
            plugin = value.metadata.plugin_data.plugin_name
            if plugin == "hparams":
                peek.hparams.add(_hparams_kind(value.metadata.plugin_data.content))
            elif value.WhichOneof("value") == "simple_value" or plugin == "scalars":
                peek.first_tag = value.tag
                break
        if peek.first_tag is not None:
            break
    if peek.first_tag is not None or len(data) == _PEEK_BYTES:  # settled: what comes later cannot change it
        _PEEKS[key] = peek
    return peek


def _hparams_kind(content: bytes) -> str:
    """Which hparams record this is: "experiment", "session_start_info" or "session_end_info"."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    return plugin_data_pb2.HParamsPluginData.FromString(content).WhichOneof("data") or ""


def _spread_of(parts: tuple[str, ...], files: list[Path]) -> _Spread | None:
    """The sub-folder `parts` of a run as its writer's spread, if it is one (see `_spread_folders`)."""
    peek = _peek(files[0])
    folder = "/".join(parts)
    if len(parts) == 1 and {"experiment", "session_start_info"} <= peek.hparams:
        return _Spread(folder, files)  # add_hparams: the config and its metrics, in a folder of their own
    tag = peek.first_tag
    if tag is not None:
        for prefix in (tag.replace("/", "_") + "_", tag + "/"):  # torch's <main>_<key>, tensorboardX's <main>/<key>
            if folder.startswith(prefix) and len(folder) > len(prefix):
                return _Spread(folder, files, {tag: f"{tag}/{folder[len(prefix):]}"})
        return None
    if not peek.summaries:
        return _Spread(folder, files)  # a writer just opened: nothing in it yet to make it a run of its own
    return None


def _spread_folders(subfolders: list[os.DirEntry]) -> list[_Spread]:
    """Of a run folder's `subfolders`, those (or their own sub-folders) holding what the writer of the run's
    event files put beside them.

    torch's and tensorboardX's `add_hparams` write the hparams and their metrics into a new writer's folder
    (`<run>/<time.time()>` unless named), and `add_scalars(main, {key: value})` writes tag `main` into a
    folder per key (torch `<run>/<main, "/" as "_">_<key>`, tensorboardX `<run>/<main>/<key>`). They are told
    by what they hold, never by name alone: a folder with both an hparams experiment and a session of its own,
    or whose first scalar's tag is the folder name's `<main>`. Any other subfolder is a run of its own.
    """
    found: list[_Spread] = []
    pending = [((entry.name,), entry) for entry in subfolders]
    while pending:
        parts, entry = pending.pop()
        files, folders = _listing_of(entry.path)
        if files:
            spread = _spread_of(parts, files)
            if spread is not None:
                found.append(spread)
        elif len(parts) < _SPREAD_DEPTH:
            pending.extend(((*parts, sub.name), sub) for sub in folders)
    return sorted(found, key=lambda spread: spread.folder)


def _standing(files: list[_FileEvents]) -> tuple[list[_FileEvents], list[int]]:
    """The files less what a restart superseded, and the steps where a restarted life began.

    A `SessionLog.START` at step S (torch's `purge_step`) supersedes the rows of step >= S written before it
    in its folder, as `EventAccumulator._Purge` does and runyard's resume rule (`contract.resume_cuts`). A
    point whose step is below an earlier one of its tag supersedes that tag's earlier points of step >= its
    own, as the accumulator's out-of-order purge (by tag) and TensorBoard's data server do; points logged
    twice at one step without the step going back both stand. Text samples follow the same two rules. Rows
    left without a standing point are dropped; files with nothing superseded are returned as they are.
    """
    import numpy as np

    each = [np.frombuffer(f.steps, dtype=np.int64) for f in files]
    steps = each[0] if len(each) == 1 else np.concatenate(each or [np.empty(0, np.int64)])
    has_starts = any(f.starts for f in files)
    if not has_starts and not (steps[1:] < steps[:-1]).any() and not _samples_go_back(files):
        return files, []  # every tag's steps only go forward: the common case costs one pass
    offsets = np.cumsum([0, *(len(f.steps) for f in files)])
    # Per position (each row of each file, and one past its last row), the lowest START step after it in its
    # folder: a row at position r is superseded by a START at position p > r of step <= its own.
    spots = np.cumsum([0, *(len(f.steps) + 1 for f in files)])
    cut_by = np.full(spots[-1], _BIG, dtype=np.int64)
    cut = np.zeros(spots[-1], dtype=bool)
    restarts: set[int] = set()
    if has_starts:
        _start_cuts(files, spots, cut, cut_by, restarts)

    keep_row = np.zeros(len(steps), dtype=bool)
    kept_points: dict[tuple[int, str], np.ndarray] = {}
    for tag in dict.fromkeys(tag for f in files for tag in f.columns):
        held = [(i, np.frombuffer(f.columns[tag][0], dtype=np.int64)) for i, f in enumerate(files) if tag in f.columns]
        rows = np.concatenate([offsets[i] + r for i, r in held])
        spot = np.concatenate([spots[i] + r for i, r in held])
        stands, back = _series_stands(steps[rows], cut[spot], cut_by[spot])
        restarts.update(back)
        keep_row[rows[stands]] = True
        parts = np.split(stands, np.cumsum([len(r) for _, r in held])[:-1])
        kept_points.update(((i, tag), part) for (i, _), part in zip(held, parts, strict=True))
    kept_samples = _samples_standing(files, spots, cut, cut_by)

    out = []
    for i, f in enumerate(files):
        row_kept = keep_row[offsets[i]:offsets[i + 1]]
        sample_kept = kept_samples[i]
        if row_kept.all() and all(sample_kept) and all(kept_points[(i, t)].all() for t in f.columns):
            out.append(f)
            continue
        renumber = np.cumsum(row_kept) - 1
        columns = {}
        for tag, (rows, values) in f.columns.items():
            mask = kept_points[(i, tag)]
            if mask.any():
                columns[tag] = (renumber[np.frombuffer(rows, dtype=np.int64)[mask]], np.frombuffer(values)[mask])
        samples = [(s, r) for s, r, k in zip(f.samples, f.sample_rows, sample_kept, strict=True) if k]
        out.append(replace(
            f, steps=np.frombuffer(f.steps, dtype=np.int64)[row_kept], times=np.frombuffer(f.times)[row_kept],
            columns=columns, samples=[s for s, _ in samples],
            sample_rows=[int(np.count_nonzero(row_kept[:r])) for _, r in samples], starts=[]))
    return out, sorted(restarts)


def _start_cuts(files: list[_FileEvents], spots: np.ndarray, cut: np.ndarray, cut_by: np.ndarray,
                restarts: set[int]) -> None:
    """Mark each position with the lowest START step after it in its folder; note the STARTs that came after
    something (a first writer's START, before anything was written, restarts nothing)."""
    folders: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        folders.setdefault(f.folder, []).append(i)
    for indices in folders.values():
        written = 0
        for i in indices:
            restarts.update(step for rows_before, step in files[i].starts if written + rows_before)
            written += len(files[i].steps)
        lowest: int | None = None
        for i in reversed(indices):
            end = spots[i + 1]
            for rows_before, step in reversed(files[i].starts):  # positions from a START on come after it
                begin = spots[i] + rows_before
                if lowest is not None:
                    cut[begin:end], cut_by[begin:end] = True, lowest
                end = begin
                lowest = step if lowest is None else min(lowest, step)
            if lowest is not None:
                cut[spots[i]:end], cut_by[spots[i]:end] = True, lowest


def _series_stands(steps: np.ndarray, cut: np.ndarray, cut_by: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Which points of one series (a tag's, in run order) stand, and the steps at which it went back.

    `cut`/`cut_by` say, per point, that a later START of step `cut_by` supersedes it if its step is not below;
    the steps going back are judged among the points the STARTs leave standing.
    """
    import numpy as np

    stands = ~cut | (steps < cut_by)
    left = np.flatnonzero(stands) if cut.any() else None
    kept = steps if left is None else steps[left]
    if len(kept) < 2:
        return stands, []
    went_back = kept[1:] < np.maximum.accumulate(kept)[:-1]
    if not went_back.any():
        return stands, []
    lowest_later = np.minimum.accumulate(np.where(went_back, kept[1:], _BIG)[::-1])[::-1]
    any_later = np.logical_or.accumulate(went_back[::-1])[::-1]
    still = np.ones(len(kept), dtype=bool)
    still[:-1] = ~any_later | (kept[:-1] < lowest_later)
    if left is None:
        stands = still
    else:
        stands[left] = still
    return stands, kept[1:][went_back & (kept[1:] < kept[:-1])].tolist()


def _samples_go_back(files: list[_FileEvents]) -> bool:
    """True if some text tag's step goes back somewhere in the run."""
    highest: dict[str, int] = {}
    for f in files:
        for sample in f.samples:
            tag, step = sample.extra.get("tag", ""), sample.step or 0
            if step < highest.get(tag, step):
                return True
            highest[tag] = step
    return False


def _samples_standing(files: list[_FileEvents], spots: np.ndarray, cut: np.ndarray,
                      cut_by: np.ndarray) -> list[list[bool]]:
    """Per file, per text sample: whether it stands, under the rules points follow (see `_standing`)."""
    import numpy as np

    kept = [[True] * len(f.samples) for f in files]
    by_tag: dict[str, list[tuple[int, int]]] = {}
    for i, f in enumerate(files):
        for j, sample in enumerate(f.samples):
            by_tag.setdefault(sample.extra.get("tag", ""), []).append((i, j))
    for members in by_tag.values():
        steps = np.array([files[i].samples[j].step or 0 for i, j in members], dtype=np.int64)
        spot = np.array([spots[i] + files[i].sample_rows[j] for i, j in members], dtype=np.int64)
        stands, _ = _series_stands(steps, cut[spot], cut_by[spot])
        for (i, j), standing in zip(members, stands.tolist(), strict=True):
            kept[i][j] = standing
    return kept


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


# An event file's name: its writer's start time, host (which may hold dots), pid and a counter, then any suffix.
_WRITER_NAME = re.compile(r"events\.out\.tfevents\.\d+(?:\.\d+)?\.(.+?)\.\d+\.\d+(?:\..*)?", re.DOTALL)


class TensorBoardRun(RunSource):
    """A folder of TensorBoard event files; each file is read once until its size or mtime changes."""

    format = "tensorboard"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._cache: dict[Path, FollowedFile] = {}
        self._read: list[_FileEvents] = []  # the files `_lives` was last worked out from, and its answer
        self._assembled: _Assembled | None = None  # the columns `metrics_data` last returned, kept to extend
        self._lives_of: tuple[list[_FileEvents], list[int]] = ([], [])

    def _sources(self) -> list[tuple[Path, str, dict[str, str] | None]]:
        """Each event file with its sub-folder and tag renames: the run's own, then its spread folders'."""
        files, folders = _listing_of(self.path)
        own: list[tuple[Path, str, dict[str, str] | None]] = [(p, "", None) for p in files]
        return own + [(p, spread.folder, spread.names) for spread in _spread_folders(folders) for p in spread.files]

    def event_files(self) -> list[Path]:
        """The run's event files: in its folder, and in the sub-folders its writer spread it over (see
        `_spread_folders`; other subfolders are runs of their own)."""
        return [path for path, _, _ in self._sources()]

    def origin(self) -> dict[str, Any]:
        """The host that wrote the run, from its event files' names (`events.out.tfevents.<time>.<host>.<pid>.<n>`,
        as TensorFlow and torch name them); TensorBoard records nothing else of where a run started."""
        for path in _listing_of(self.path)[0]:
            match = _WRITER_NAME.fullmatch(path.name)
            if match:
                return {"host": match.group(1)}
        return {}

    def key_files(self) -> list[Path]:
        """The event files and, if present, training.log."""
        log = self.log_path()
        return [*self.event_files(), *([log] if log else [])]

    def log_path(self) -> Path | None:
        """ChatGoT's `training.log` in the run folder."""
        log = self.path / LOG_NAME
        return log if log.is_file() else None

    def _files(self) -> list[_FileEvents]:
        """Every event file's contents in run order, less what a restart superseded (see `_standing`)."""
        return self._lives()[0]

    def _lives(self) -> tuple[list[_FileEvents], list[int]]:
        """The files less what restarts superseded, and the restart steps; worked out again only on change."""
        files = self._read_files()
        if len(files) != len(self._read) or any(a is not b for a, b in zip(files, self._read, strict=False)):
            self._read, self._lives_of = files, _standing(files)
        return self._lives_of

    def _read_files(self) -> list[_FileEvents]:
        """Every event file's contents in run order; a file that grew is read from where the last read stopped,
        one truncated or replaced is read again from its start (see `reading.follow`)."""
        files: dict[Path, FollowedFile] = {}
        for path, folder, names in self._sources():
            try:
                files[path] = follow(
                    self._cache.get(path), path, partial(_FileReader, path.name, folder, names), kind=CACHE_KIND,
                    restore=partial(_restored, path.name, folder, names))
            except FileNotFoundError:  # removed since the listing
                continue
        self._cache = files
        events = (followed.reader.events() for followed in files.values())
        return sorted(events, key=lambda f: (f.name_time, f.first_time, f.name))

    def _last_write(self) -> float | None:
        """The mtime of the newest event file read by the last `_files()`."""
        return max((followed.stat.st_mtime for followed in self._cache.values()), default=None)

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
        # one part (a run of one file) is taken as it is: `from_points` only reads them
        return steps, times, {tag: (_joined(where), _joined(logged)) for tag, (where, logged) in points.items()}

    def metrics_data(self) -> MetricColumns:
        """One row per event record holding scalars: `step`, `time` (the event's wall time), and each tag the
        record holds, NaN and infinities included (a tag named `step` or `time` is a metric; see `metric_column`).

        A live run's last file grows between calls: then the columns built last time are extended by its new
        rows (`_Assembled`), so that a change costs what it added, not the run's length.
        """
        files, restarts = self._lives()
        assembled = self._assembled
        grown = files is self._read  # nothing superseded: `_standing` returned the files as read
        if assembled is None or not grown or not assembled.extend(files, restarts, self._reader_of(files)):
            steps, times, points = self._columns(files)
            assembled = self._assembled = _Assembled(files, restarts, self._reader_of(files), steps, times, points)
        return assembled.columns()

    def _reader_of(self, files: list[_FileEvents]) -> Any:
        """The reader whose events are the last of `files` (None without files)."""
        last = files[-1] if files else None
        return next((f.reader for f in self._cache.values() if last is not None and f.reader.events() is last),
                    None)

    def samples(self) -> list[Sample]:
        """Text summaries (TensorBoard's text plugin), tagged with the name they were logged under."""
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
        steps, _ = self._steps_times(self._files())
        return int(steps.max()) if len(steps) else None

    def read_info(self) -> RunInfo:
        """Identity, status and size of the run, from one pass over its event files."""
        files, restarts = self._lives()
        steps, _ = self._steps_times(files)
        last_write = self._last_write()
        status = self._status()
        created, last_time, interval = _clock(files)
        return RunInfo(
            id=self.path.name, name=self.path.name, path=self.path, format=self.format,
            status=status, quiet_status=FINISHED,
            created=created,
            ended=last_time if status == FINISHED else None,
            last_time=last_time,
            last_write=last_write,
            restarts=len(restarts), restarts_at=restarts,
            last_step=int(steps.max()) if len(steps) else None,
            rows=len(steps),
            interval_median=interval,
            skipped_lines=sum(f.skipped for f in files),
        )

    def _status(self) -> str:
        """Finished if training.log ends with "Training complete"; else running, until nothing was written for
        10 minutes: then finished too, as TensorBoard has no end record (`quiet_status`, judged by `liveness`)."""
        log = self.log_path()
        if log and "Training complete" in _last_line(log):
            return FINISHED
        return RUNNING


def _own(array: np.ndarray, dtype: Any) -> np.ndarray:
    """`array` itself when it is a writable array of its own (`_steps_times` concatenates into new ones), else a
    copy: a million rows are not copied twice to be appended to."""
    import numpy as np

    if array.dtype == dtype and array.flags.writeable and array.flags.owndata and array.flags.c_contiguous:
        return array
    return np.array(array, dtype=dtype)


class _Assembled:
    """A run's columns as `metrics_data` built them, in arrays with room to grow (`Grow`): when the only change
    since is rows added to the end of the last file, read by the same reader (it grew: not replaced, truncated or
    rewritten), with nothing superseded before or now, `extend` appends them instead of building all again."""

    def __init__(self, files: list[_FileEvents], restarts: list[int], reader: Any, steps: np.ndarray,
                 times: np.ndarray, points: dict[str, tuple[Any, Any]]) -> None:
        import numpy as np

        self.files, self.restarts, self.reader = list(files), list(restarts), reader
        n = len(steps)
        self.steps, self.times = Grow.of(_own(steps, np.int64)), Grow.of(_own(times, np.float64))
        self.tags: dict[str, tuple[Grow, Grow]] = {}
        for tag, (rows, values) in points.items():
            column, logged = np.full(n, np.nan), np.zeros(n, dtype=bool)
            column[rows] = values
            logged[rows] = True
            self.tags[tag] = (Grow.of(column), Grow.of(logged))

    def extend(self, files: list[_FileEvents], restarts: list[int], reader: Any) -> bool:
        """Append the last file's new rows; False (nothing changed here) when the change was anything else."""
        import numpy as np

        if (restarts or self.restarts or not files or len(files) != len(self.files) or reader is None
                or reader is not self.reader or any(a is not b for a, b in zip(files[:-1], self.files[:-1],
                                                                                strict=True))):
            return False
        old, new = self.files[-1], files[-1]
        done, rows_now = len(old.steps), len(new.steps)
        if new is old:
            return True
        if rows_now < done or new.name != old.name:
            return False
        base = len(self.steps) - done  # where the last file's rows begin
        added = rows_now - done
        self.steps.extend(np.frombuffer(new.steps, dtype=np.int64)[done:])
        self.times.extend(np.frombuffer(new.times, dtype=np.float64)[done:])
        for column, logged in self.tags.values():
            column.extend(np.full(added, np.nan))
            logged.extend(np.zeros(added, dtype=bool))
        total = len(self.steps)
        for tag, (rows, values) in new.columns.items():
            rows, values = np.frombuffer(rows, dtype=np.int64), np.frombuffer(values)
            first = int(np.searchsorted(rows, done))  # a file's rows of one tag come in file order
            if first == len(rows):
                continue
            if tag not in self.tags:
                self.tags[tag] = (Grow.of(np.full(total, np.nan)), Grow.of(np.zeros(total, dtype=bool)))
            column, logged = self.tags[tag]
            column.data[base + rows[first:]] = values[first:]
            logged.data[base + rows[first:]] = True
        self.files = list(files)
        return True

    def columns(self) -> MetricColumns:
        """The columns as they stand (views: later appends do not change them)."""
        return MetricColumns(self.steps.view(), self.times.view(),
                             {tag: (column.view(), logged.view()) for tag, (column, logged) in self.tags.items()},
                             restarts=self.restarts)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    import numpy as np

    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _clock(files: list[_FileEvents]) -> tuple[float | None, float | None, float | None]:
    """When the run started and last logged, and its pace (median seconds between steps), from its scalars'
    wall time: `add_hparams`' files, often written long after (or by another machine), are left out, and the
    writers' headers (`file_version`) count only for a run with no scalar at all."""
    import numpy as np

    data = [f for f in files if len(f.steps) and not f.metadata_only] or [f for f in files if len(f.steps)]
    times = np.concatenate([np.frombuffer(f.times) for f in data] or [np.empty(0)])
    times = times[np.isfinite(times) & (times > 0)]
    if not len(times):
        created = min((f.min_time for f in files), default=math.inf)
        return (None if created == math.inf else created), None, None
    starts = np.sort(np.concatenate([
        _step_starts(np.frombuffer(f.steps, dtype=np.int64), np.frombuffer(f.times)) for f in data]))
    return float(times.min()), float(times.max()), interval_median(starts)


def _listing(folder: Path) -> list[Path]:
    """The entries of a folder, sorted; none if it does not exist."""
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []
