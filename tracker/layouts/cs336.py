"""CS336 `ExperimentTracker` folders: config.json, metrics.csv, summary.json, checkpoints/ with sidecars."""

from __future__ import annotations

import csv
import io
import re
import threading
from pathlib import Path
from typing import Any

from ..jsonl import as_float
from ..model import FINISHED, INTERRUPTED, RUNNING, Checkpoint, RunInfo
from ..ops.best import mark_best, ranking_metric
from ..reading.follow import FollowedFile, Grow, follow
from ..reading.goals import resolve_goal
from ..reading.lines import DenseColumns, pack_columns, unpack_columns
from .base import Detection, MetricColumns, RunSource
from .common import mtime, read_json_file

_CKPT = re.compile(r"^checkpoint_step_(\d+)\.pt$")


def detect(directory: Path, names: list[str]) -> Detection | None:
    """A folder with config.json and metrics.csv is one run."""
    if "config.json" in names and "metrics.csv" in names:
        return Detection([CS336Source(directory)], descend=False)
    return None


class CS336Source(RunSource):
    format = "cs336"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._followed: FollowedFile | None = None  # metrics.csv as read so far
        self._lock = threading.Lock()  # the app reads a run from worker threads

    def key_files(self) -> list[Path]:
        return [self.path / n for n in ("config.json", "metrics.csv", "summary.json")]

    def _json(self, name: str) -> dict[str, Any]:
        try:
            data = read_json_file(self.path / name)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def read_info(self) -> RunInfo:
        """Identity and lifecycle. Start and end are the first and last rows' `wallclock_time`, the run's own
        clock; summary.json (written when training ends) says only that it ended: its `total_wallclock_time`
        counts the last life of a resumed run alone."""
        import numpy as np

        data = self.metrics_data()
        summary = self._json("summary.json")
        config = self.config()
        times = data.time[np.isfinite(data.time)]
        created = float(times.min()) if len(times) else None
        last = float(times.max()) if len(times) else None
        steps = data.step
        return RunInfo(
            id=self.path.name, name=str(config.get("experiment_name") or self.path.name), path=self.path,
            format=self.format, status=FINISHED if summary else RUNNING, quiet_status=INTERRUPTED,
            created=created, ended=last if summary else None, last_time=last, last_logged=last,
            last_write=mtime(self.path / "metrics.csv"), rows=len(data),
            last_step=int(steps[-1]) if len(steps) else None, notes=str(config.get("description") or ""),
            max_step=config.get("max_steps") if isinstance(config.get("max_steps"), int) else None,
            skipped_lines=data.skipped,
        )

    def config(self) -> dict[str, Any]:
        return self._json("config.json")

    def metrics_data(self) -> MetricColumns:
        """metrics.csv: `wallclock_time` is the time, `elapsed_time` is recomputed by the reader.

        Every row is read as Python's csv module (which writes these files) reads it: an empty field is a metric
        not logged in that row, `nan`/`inf` are logged values. Writers add fields as new metrics appear, so a
        field beyond the header's is a metric from its row on, named `column_N` (N counting from 1) when no
        header names it, and a header line written again mid-file names the fields of the rows after it. A row
        without an integer step is skipped and counted. The file is followed (`reading.follow`): when it grew,
        only the rows appended are read; a row not ended yet is read provisionally, as a fresh read would.
        """
        path = self.path / "metrics.csv"
        with self._lock:
            try:
                self._followed = follow(self._followed, path, _CsvReader, kind=CACHE_KIND, restore=_CsvReader.restore)
            except OSError:
                self._followed = None
                return MetricColumns([], [])
            return self._followed.reader.columns()

    def metrics_upto(self, budget: int) -> MetricColumns:
        """The rows read so far after reading at most about `budget` more bytes of metrics.csv (`complete` False
        while more remain); the next call, or `metrics_data`, goes on from there."""
        path = self.path / "metrics.csv"
        with self._lock:
            try:
                self._followed = follow(self._followed, path, _CsvReader, kind=CACHE_KIND,
                                        restore=_CsvReader.restore, limit=max(1, budget))
            except OSError:
                self._followed = None
                return MetricColumns([], [])
            if self._followed.behind:  # the piece ends mid-file: a record cut there is not read provisionally
                return self._followed.reader.columns(provisional=False, complete=False)
            return self._followed.reader.columns()

    def log_path(self) -> Path | None:
        path = self.path / "training.log"
        return path if path.exists() else None

    def checkpoints(self) -> list[Checkpoint]:
        """`checkpoint_step_N.pt` with the metrics of its `.json` sidecar; the best judged by those (see
        `ops.best`). summary.json's `best_checkpoint` names the metric; the step it names is only a claim, wrong
        on a resumed run, whose summary knows its last life alone."""
        claim = self._json("summary.json").get("best_checkpoint")
        claim = claim if isinstance(claim, dict) else {}
        out = []
        folder = self.path / "checkpoints"
        for path in folder.glob("checkpoint_step_*.pt") if folder.is_dir() else []:
            m = _CKPT.match(path.name)
            if not m:
                continue
            step = int(m.group(1))
            try:
                side = read_json_file(path.with_suffix(".json"))
            except (OSError, ValueError):
                side = {}
            metrics = {k: number for k, v in (side if isinstance(side, dict) else {}).items()
                       if k != "step" and (number := as_float(v)) is not None}
            out.append(Checkpoint(path, step=step, bytes=path.stat().st_size, metrics=metrics))
        out.sort(key=lambda c: c.step or 0)
        named = next((k for k in claim if k != "step" and as_float(claim[k]) is not None), None)
        metric = ranking_metric(out, named)
        claimed = next((c for c in out if c.step == claim.get("step")), None)
        mark_best(out, metric, resolve_goal(self, metric).direction if metric else None,
                  claimed=claimed, claimed_by="summary.json")
        return out


CACHE_KIND = "csv"
_BOM = b"\xef\xbb\xbf"
_NOT_METRICS = ("step", "wallclock_time", "elapsed_time")


class _CsvReader:
    """metrics.csv read in pieces as it grows (see `reading.follow`), into one growable column per metric.

    `feed` consumes whole records (through a newline outside quotes); what follows is kept as `pending` and read
    provisionally by `columns()`, as a fresh read of the file would read it. A piece of plain rows (no quotes,
    one field per header name, no header line) is parsed by pyarrow; anything else row by row by the csv module,
    whose reading the fast path reproduces exactly (see `CS336Source.metrics_data`).
    """

    def __init__(self) -> None:
        import numpy as np

        self.offset = 0
        self.header: list[str] = []
        self.steps, self.times = Grow(np.int64), Grow(np.float64)
        self.columns_: dict[str, tuple[Grow, Grow]] = {}
        self.skipped = 0
        self.broken = False  # a record the csv module refuses (a NUL byte): the file reads as empty, as it did
        self.pending = b""
        self._read: MetricColumns | None = None
        self._dense = DenseColumns()

    def feed(self, data: bytes) -> None:
        """Read the whole records of `data` (the file's bytes from `offset` on)."""
        self._read = None
        start = 0
        if self.offset == 0:
            if len(data) < len(_BOM) and _BOM.startswith(data):
                self.pending = data  # maybe a byte-order mark still being written
                return
            if data.startswith(_BOM):
                start = len(_BOM)
        end = _record_end(data, start)
        if end > start and not self.broken:
            try:
                self._records(data, start, end)
            except csv.Error:
                self.broken = True
        self.offset += end
        self.pending = data[end:]

    # ----- parsing ---------------------------------------------------------------------------------------------

    def _records(self, data: bytes, start: int, end: int) -> None:
        """Read the whole records in `data[start:end]` (slices of a large piece are memoryviews, not copies)."""
        view = memoryview(data)
        if (data.find(b'"', start, end) >= 0 or data.find(b"(", start, end) >= 0
                or (data.find(b"\r", start, end) >= 0
                    and data.count(b"\r", start, end) != data.count(b"\r\n", start, end))):
            self._slow(view[start:end])  # quotes, `nan(...)` (which pyarrow reads as NaN, Python as text), lone `\r`
            return
        at = start
        while (found := data.find(b"step", at, end)) >= 0:  # a header line, maybe: read by the csv module
            line_start = data.rfind(b"\n", at, found) + 1 or at
            line_end = data.find(b"\n", found, end) + 1 or end
            self._fast(view[at:line_start])
            self._slow(view[line_start:line_end])
            at = line_end
        self._fast(view[at:end])

    def _fast(self, chunk: memoryview) -> None:
        """Plain rows with pyarrow; rows it will not take as the csv module would are read by `_slow`."""
        import numpy as np

        if not chunk:
            return
        names = self.header
        if "step" not in names or len(set(names)) != len(names) or len(names) < 2:
            self._slow(chunk)
            return
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        keys = [f"f{i}" for i in range(len(names))]
        step_key = keys[names.index("step")]
        try:
            table = pcsv.read_csv(
                pa.py_buffer(chunk),
                read_options=pcsv.ReadOptions(column_names=keys, block_size=4 << 20),
                parse_options=pcsv.ParseOptions(quote_char=False, newlines_in_values=False),
                convert_options=pcsv.ConvertOptions(
                    column_types={k: (pa.int64() if k == step_key else pa.float64()) for k in keys},
                    null_values=[""], strings_can_be_null=False, check_utf8=False))
        except (pa.ArrowInvalid, pa.ArrowException):
            self._slow(chunk)  # a row of another length, a step that is no integer, text: row by row
            return
        if table.num_rows == 0:
            return
        step_col = table.column(step_key)
        no_step = step_col.is_null().to_numpy(zero_copy_only=False)
        if no_step.any():
            empty = no_step.copy()
            for k in keys:
                empty &= table.column(k).is_null().to_numpy(zero_copy_only=False)
            self.skipped += int(no_step.sum() - empty.sum())  # a row of empty fields is no row at all
            keep = ~no_step
        else:
            keep = None
        steps = pc.fill_null(step_col, 0).to_numpy()
        base = self.steps.size
        self.steps.extend(steps if keep is None else steps[keep])
        if "wallclock_time" in names:
            times = table.column(keys[names.index("wallclock_time")]).to_numpy(zero_copy_only=False)
            times = np.asarray(times, dtype=np.float64)
        else:
            times = np.full(len(steps), np.nan)
        self.times.extend(times if keep is None else times[keep])
        found = []
        for position, (key, name) in enumerate(zip(keys, names, strict=True)):
            if name in _NOT_METRICS:
                continue
            column = table.column(key)
            logged = ~column.is_null().to_numpy(zero_copy_only=False)
            values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)
            if keep is not None:
                logged, values = logged[keep], values[keep]
            rows = np.flatnonzero(logged)
            if len(rows):
                found.append((int(rows[0]), position, name, rows, values[rows]))
        for _, _, name, rows, values in sorted(found, key=lambda f: f[:2]):  # new metrics in reading order
            self._column(name, rows + base, values)

    def _column(self, name: str, rows: Any, values: Any) -> None:
        import numpy as np

        column = self.columns_.get(name)
        if column is None:
            column = self.columns_[name] = (Grow(np.int64), Grow(np.float64))
        column[0].extend(rows)
        column[1].extend(values)

    def _slow(self, chunk: bytes | memoryview) -> None:
        """Rows read one by one by the csv module (which raises csv.Error for a record it refuses)."""
        steps, times, rows = self._rows(chunk)
        self._append(steps, times, rows)

    def _rows(self, chunk: bytes | memoryview) -> tuple[list[int], list[float], list[dict[str, float]]]:
        """(steps, times, metric rows) of the records in `chunk`; the header and skipped count move on."""
        steps: list[int] = []
        times: list[float] = []
        rows: list[dict[str, float]] = []
        text = bytes(chunk).decode("utf-8", errors="replace")
        for fields in csv.reader(io.StringIO(text, newline="")):
            if not any(field.strip() for field in fields):
                continue
            header = self.header
            named = dict(zip(header, fields, strict=False))
            step = _csv_step(named.get("step"))
            if step is None:
                if "step" in (field.strip() for field in fields):  # the header, first or written again
                    self.header = [field.strip() for field in fields]
                elif header:
                    self.skipped += 1
                continue
            names = header + [f"column_{i + 1}" for i in range(len(header), len(fields))]
            row: dict[str, float] = {}
            for name, field in zip(names, fields, strict=False):
                value = _csv_number(field)
                if value is not None and name not in _NOT_METRICS:
                    row[name] = value
            time = _csv_number(named.get("wallclock_time", ""))
            steps.append(step)
            times.append(float("nan") if time is None else time)
            rows.append(row)
        return steps, times, rows

    def _append(self, steps: list[int], times: list[float], rows: list[dict[str, float]]) -> None:
        base = self.steps.size
        self.steps.extend(steps)
        self.times.extend(times)
        points: dict[str, tuple[list[int], list[float]]] = {}
        for i, row in enumerate(rows):
            for name, value in row.items():
                where, values = points.get(name) or points.setdefault(name, ([], []))
                where.append(base + i)
                values.append(value)
        for name, (where, values) in points.items():
            self._column(name, where, values)

    # ----- what was read ---------------------------------------------------------------------------------------

    def columns(self, provisional: bool = True, complete: bool = True) -> MetricColumns:
        """The rows read so far, the record not ended yet included (read provisionally, not kept) unless
        `provisional` is False; `complete` as `MetricColumns` has it."""
        import numpy as np

        if self.broken:
            return MetricColumns([], [], complete=complete)
        if not complete:
            steps, times = self.steps.view(), self.times.view()
            points = {name: (rows.view(), values.view()) for name, (rows, values) in self.columns_.items()}
            return MetricColumns(steps, times, self._dense.update(len(steps), points), skipped=self.skipped,
                                 complete=False)
        extra: tuple[list[int], list[float], list[dict[str, float]]] = ([], [], [])
        if provisional and self.pending.strip(b"\r\n\t ,\xef\xbb\xbf"):
            header, skipped = self.header, self.skipped
            try:
                extra = self._rows(self.pending.removeprefix(_BOM) if self.offset == 0 else self.pending)
            except csv.Error:
                return MetricColumns([], [])
            finally:
                extra_skipped = self.skipped - skipped
                self.header, self.skipped = header, skipped
        else:
            extra_skipped = 0
        if self._read is not None and not extra[0] and not extra_skipped:
            return self._read
        steps, times = self.steps.view(), self.times.view()
        points = {name: (rows.view(), values.view()) for name, (rows, values) in self.columns_.items()}
        if extra[0]:
            n = len(steps)
            steps = np.concatenate([steps, np.asarray(extra[0], dtype=np.int64)])
            times = np.concatenate([times, np.asarray(extra[1], dtype=np.float64)])
            for i, row in enumerate(extra[2]):
                for name, value in row.items():
                    rows, values = points.get(name, (np.empty(0, np.int64), np.empty(0)))
                    points[name] = (np.append(rows, n + i), np.append(values, value))
        if extra[0]:  # a provisional row: columns of their own, not grown in place
            return MetricColumns.from_points(steps, times, points, skipped=self.skipped + extra_skipped)
        read = MetricColumns(steps, times, self._dense.update(len(steps), points),
                             skipped=self.skipped + extra_skipped)
        if not extra_skipped:
            self._read = read
        return read

    def state(self) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
        """What `restore` needs to go on from `offset` (the record not ended yet is read again)."""
        names, packed = pack_columns(self.columns_, self.steps.size)
        state = {"offset": self.offset, "header": self.header, "skipped": self.skipped, "broken": self.broken,
                 "names": names}
        arrays = [("steps", self.steps.view()), ("times", self.times.view())]
        arrays += packed
        return state, arrays

    @classmethod
    def restore(cls, state: dict[str, Any], arrays: dict[str, Any]) -> _CsvReader:
        """A reader as `state()` left it; ValueError for an entry whose columns do not line up."""

        reader = cls()
        reader.offset, reader.skipped = int(state["offset"]), int(state["skipped"])
        reader.header, reader.broken = [str(name) for name in state["header"]], bool(state["broken"])
        reader.steps, reader.times = Grow.of(arrays["steps"]), Grow.of(arrays["times"])
        n = reader.steps.size
        if reader.times.size != n:
            raise ValueError("steps and times differ in length")
        reader.columns_ = unpack_columns(state["names"], arrays, n)
        return reader


def _record_end(data: bytes, start: int) -> int:
    """Where the whole records of `data[start:]` end: after its last newline that is not inside quotes."""
    end = data.rfind(b"\n", start) + 1
    if end == 0 or b'"' not in data:
        return start if end == 0 else end
    quotes = data.count(b'"', start, end)
    while quotes % 2:  # that newline is inside a quoted field: the record goes on
        before = data.rfind(b"\n", start, end - 1) + 1
        if before == 0:
            return start
        quotes -= data.count(b'"', before, end)
        end = before
    return end


def _csv_step(field: str | None) -> int | None:
    """A step as written (an integer, or an integral float); None for anything else."""
    if field is None:
        return None
    try:
        return int(field)
    except ValueError:
        number = _csv_number(field)
        return int(number) if number is not None and number.is_integer() else None


def _csv_number(field: str) -> float | None:
    """A metric value (`nan` and `inf` included); None for an empty field or text."""
    try:
        return float(field)
    except ValueError:
        return None
