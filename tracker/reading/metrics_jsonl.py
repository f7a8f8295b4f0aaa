"""Loading a runyard metrics.jsonl into columns fast, with a cache outside the runs tree.

The fast path hands the bytes, zero-copy, to pyarrow's multi-threaded JSON reader. JSON has no NaN, so the
writer stores non-finite values as strings; when a file holds any, they are swapped for null before parsing
and put back (as real NaN/inf, not null) from the few lines that held them. Anything pyarrow refuses (a
garbage or truncated line) sends the file down a line-by-line path that skips and counts bad lines. The
parsed table is cached as Arrow IPC keyed by the file's identity and first bytes; a grown file reuses the
cache and parses only the new bytes.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..contract import EVENT, RESUME, line_step, resume_cuts
from ..files import open_regular, read_bytes
from ..jsonl import NONFINITE, Skipped, as_float, iter_records, loads
from .cachedir import cache_file

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from ..layouts.base import MetricColumns

_NONFINITE_TOKENS = (b'"nan"', b'"-inf"', b'"inf"')
_CACHE_MIN_BYTES = 1 << 20  # smaller files parse faster than a cache lookup is worth
_MMAP_MIN_BYTES = 1 << 20
_HEAD = 64


@dataclass
class MetricsData:
    """A run's raw metric rows as an Arrow table (null = not logged, NaN = logged NaN) and lines skipped."""

    table: pa.Table
    skipped: int = 0
    end: int = 0  # byte offset just past the last complete line read

    def columns(self) -> MetricColumns:
        """The rows that stand (resume markers applied and removed) as the reading side's `MetricColumns`: a
        null is "not logged", a NaN is a logged NaN."""
        import pyarrow.compute as pc

        from ..layouts.base import MetricColumns

        table = self.table
        keep = rows_to_keep(table)
        select = slice(None) if keep.all() else keep
        metrics: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        for col in table.column_names:
            if col in ("step", "time", EVENT):
                continue
            column = table.column(col)
            logged = None if column.null_count == 0 else pc.is_valid(column).to_numpy(zero_copy_only=False)[select]
            metrics[col] = (_numpy(table, col, np.float64)[select], logged)
        return MetricColumns(_numpy(table, "step", np.int64)[select], _numpy(table, "time", np.float64)[select],
                             metrics, skipped=self.skipped, end=self.end, restarts=resume_steps(table))

    def frame(self) -> pd.DataFrame:
        """`step`, `time` and one float column per metric (see `columns`)."""
        return self.columns().frame()

    def present(self) -> dict[str, np.ndarray]:
        """Per metric, a mask of the rows (after resume handling) where it was really logged."""
        return self.columns().present()


def _numpy(table: pa.Table, name: str, dtype: type) -> np.ndarray:
    """A column as a numpy array of `dtype`, nulls as NaN (or -1 for integers)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if name not in table.column_names:
        return np.full(table.num_rows, np.nan if dtype is np.float64 else -1, dtype=dtype)
    col = table.column(name)
    if dtype is np.int64:
        return pc.fill_null(pc.cast(col, pa.int64(), safe=False), -1).to_numpy()
    if not pa.types.is_floating(col.type):
        col = pc.cast(col, pa.float64(), safe=False)
    return col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def resume_steps(table: pa.Table) -> list[int]:
    """The steps of the table's resume markers: where each resumed life of the run began."""
    if EVENT not in table.column_names:
        return []
    markers = np.flatnonzero(table.column(EVENT).to_numpy(zero_copy_only=False) == RESUME)
    steps = _numpy(table, "step", np.int64)
    return [int(steps[i]) for i in markers if steps[i] >= 0]


def rows_to_keep(table: pa.Table) -> np.ndarray:
    """Metric rows that stand under the contract's resume rule (`contract.resume_cuts`); events dropped."""
    steps = _numpy(table, "step", np.int64)
    keep = steps >= 0
    if EVENT not in table.column_names:
        return keep
    events = table.column(EVENT)
    markers = np.flatnonzero(events.to_numpy(zero_copy_only=False) == RESUME)
    for start, stop, cut in resume_cuts([(int(i), int(steps[i])) for i in markers]):
        keep[start:stop] &= steps[start:stop] < cut
    return keep & events.is_null().to_numpy(zero_copy_only=False)


# ----- parsing -----------------------------------------------------------------------------------------------

# pyarrow's JSON reader recurses per nesting level and crashes the process (a segfault, not an error) on a line
# nested some 16,000 levels deep. Only a line longer than a window can be nested that deep, and a window with no
# newline holds part of such a line; so windows are checked for a newline (memchr speed, a few ms for 100 MB),
# and only a file with long lines is measured. Deeper than MAX_DEPTH goes line by line, where orjson refuses it.
LONG_LINE = 4096
MAX_DEPTH = 512


def has_long_line(buf: bytes | mmap.mmap, start: int = 0, end: int | None = None) -> bool:
    """True if `buf[start:end]` holds a line of at least LONG_LINE bytes (possibly one of 2 * LONG_LINE - 1)."""
    end = len(buf) if end is None else end
    find = buf.find
    return any(find(b"\n", window, window + LONG_LINE) < 0 for window in range(start, end - LONG_LINE + 1, LONG_LINE))


def nesting_depth(data: bytes | memoryview) -> int:
    """The deepest `[`/`{` nesting in `data`, counting brackets inside strings too (so never an underestimate
    for a well-formed line; lines cut short add up, which only errs on the safe side)."""
    step = np.zeros(256, np.int8)
    step[ord("[")] = step[ord("{")] = 1
    step[ord("]")] = step[ord("}")] = -1
    moves = step[np.frombuffer(data, np.uint8)]
    moves = moves[moves != 0]
    return int(np.cumsum(moves, dtype=np.int64).max()) if moves.size else 0


def parse(data: bytes | memoryview, end: int | None = None, *, long_lines: bool | None = None) -> tuple[pa.Table, int]:
    """Parse the complete JSONL lines in `data[:end]` into a table; returns (table, lines skipped).

    `long_lines`: whether the caller already knows the data has a line of LONG_LINE bytes or more (None: look).
    """
    end = len(data) if end is None else end
    if end == 0:
        return _empty_table(), 0
    if long_lines is None:
        long_lines = has_long_line(data if isinstance(data, bytes) else bytes(data[:end]), 0, end)
    if long_lines and nesting_depth(data[:end]) > MAX_DEPTH:
        return _parse_robust(bytes(data[:end]))
    try:
        return _parse_fast(data, end), 0
    except Exception:  # pyarrow.ArrowInvalid and friends: some line is not a clean JSON object
        return _parse_robust(bytes(data[:end]))


def _empty_table() -> pa.Table:
    import pyarrow as pa

    return pa.table({"step": pa.array([], pa.int64()), "time": pa.array([], pa.float64())})


def _parse_fast(data: bytes | memoryview, end: int) -> pa.Table:
    """pyarrow's reader on the bytes as they are; if it balks, retry with non-finite strings swapped out.

    A column mixing numbers and the strings "nan"/"inf" makes pyarrow raise (or type it as text), so clean
    files pay nothing for the non-finite support.
    """
    import pyarrow as pa
    import pyarrow.json as pj

    options = pj.ReadOptions(block_size=4 << 20)
    try:
        return _normalise(pj.read_json(pa.BufferReader(pa.py_buffer(data).slice(0, end)), read_options=options))
    except Exception:
        pass
    data = bytes(data[:end])
    hits = _nonfinite_positions(data)
    if not hits or b"\n\n" in data or data.startswith(b"\n"):
        raise ValueError("not clean JSONL: read line by line")
    clean = data
    for token in _NONFINITE_TOKENS:
        clean = clean.replace(token, b"null")
    table = pj.read_json(pa.BufferReader(pa.py_buffer(clean)), read_options=options)
    if table.num_rows != data.count(b"\n") + (not data.endswith(b"\n")):
        raise ValueError("row count differs from line count")
    return _normalise(_restore_nonfinite(table, data, hits))


def _nonfinite_positions(data: bytes) -> list[int]:
    """Byte offsets of the contract's non-finite strings."""
    positions: list[int] = []
    for token in _NONFINITE_TOKENS:
        start = data.find(token)
        while start != -1:
            positions.append(start)
            start = data.find(token, start + 1)
    return positions


def _restore_nonfinite(table: pa.Table, data: bytes, positions: list[int]) -> pa.Table:
    """Put NaN and infinities back where the strings were, from the lines that held them."""
    import pyarrow as pa

    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    line_ids = np.unique(np.searchsorted(newlines, np.asarray(positions)))
    starts = np.concatenate(([0], newlines + 1))
    patches: dict[str, list[tuple[int, float]]] = {}
    for line_id in line_ids:
        stop = newlines[line_id] if line_id < len(newlines) else len(data)
        for key, value in loads(data[starts[line_id]:stop]).items():
            if isinstance(value, str) and value in NONFINITE:
                patches.setdefault(key, []).append((int(line_id), NONFINITE[value]))
    for key, items in patches.items():
        if key in table.column_names:
            values = _numpy(table, key, np.float64).copy()
            valid = table.column(key).is_valid().to_numpy(zero_copy_only=False).copy()
        else:
            values = np.full(table.num_rows, np.nan)
            valid = np.zeros(table.num_rows, dtype=bool)
        for row_id, value in items:
            values[row_id], valid[row_id] = value, True
        array = pa.array(values, mask=~valid, type=pa.float64())
        if key in table.column_names:
            table = table.set_column(table.column_names.index(key), key, array)
        else:
            table = table.append_column(key, array)
    return table


def _parse_robust(data: bytes) -> tuple[pa.Table, int]:
    """Line by line: bad lines (garbage, cut short, not an object, no integer step) are skipped and counted."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {"step": [], "time": []}
    bad = Skipped()
    skipped = n = 0
    for row in iter_records(data, bad):
        if line_step(row) is None:
            skipped += 1
            continue
        for key, value in row.items():
            if key not in columns:
                columns[key] = [None] * n
            if key == EVENT:
                value = str(value)
            elif key != "step":
                value = NONFINITE.get(value) if isinstance(value, str) else as_float(value)
            columns[key].append(value)
        n += 1
        for col in columns.values():
            if len(col) < n:
                col.append(None)
    types = {EVENT: pa.string(), "step": pa.int64()}
    table = pa.table({key: pa.array(values, types.get(key, pa.float64())) for key, values in columns.items()})
    return table, skipped + bad.lines


def _normalise(table: pa.Table) -> pa.Table:
    """step as int64, every metric column as float64 (pyarrow infers ints for integer-valued metrics)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, name in enumerate(table.column_names):
        col = table.column(name)
        target = pa.string() if name == EVENT else pa.int64() if name == "step" else pa.float64()
        if col.type == target:
            continue
        if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type)):
            raise ValueError(f"column {name} is not numeric")
        table = table.set_column(i, name, pc.cast(col, target, safe=False))
    return table


# ----- whole-file load with cache -------------------------------------------------------------------------

def load(path: Path, use_cache: bool = True) -> MetricsData:
    """Every complete row of a metrics.jsonl (a cache of an earlier read is reused and extended)."""
    try:
        fd = open_regular(path)
    except FileNotFoundError:
        return MetricsData(_empty_table())
    try:
        st = os.fstat(fd)
        head = os.pread(fd, _HEAD, 0)
        cacheable = use_cache and st.st_size >= _CACHE_MIN_BYTES
        cached = _cache_get(path, st, head) if cacheable else None
        start = cached.end if cached else 0
        table, skipped, cut = _parse_from(fd, start, st.st_size)
    finally:
        os.close(fd)
    if cached is not None:
        skipped += cached.skipped
        if table.num_rows:
            import pyarrow as pa

            table = pa.concat_tables([cached.table, table], promote_options="permissive")
        else:
            table = cached.table
    result = MetricsData(table, skipped, start + cut)
    if cacheable and (cached is None or cut > _CACHE_MIN_BYTES):
        _cache_put(path, st, head, result)
    return result


def _parse_from(fd: int, start: int, size: int) -> tuple[pa.Table, int, int]:
    """Parse the complete lines from `start` on; returns (table, skipped, bytes consumed).

    Large reads hand pyarrow a read-only memory map of the file instead of a copy of it (a tenth of the
    load time for a million rows); a partial last line is left for the next read either way.
    """
    if size - start < _MMAP_MIN_BYTES:
        data = os.pread(fd, size - start, start) if size > start else b""
        cut = data.rfind(b"\n") + 1
        return (*parse(data, cut), cut)
    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
        last = mapped.rfind(b"\n", start, size)
        cut = last + 1 - start if last >= start else 0
        long_lines = has_long_line(mapped, start, start + cut)
        window = memoryview(mapped)[start:start + cut]
        try:
            table, skipped = parse(window, long_lines=long_lines)
        finally:
            window.release()
    return table, skipped, cut


def _cache_paths(path: Path) -> tuple[Path, Path]:
    key = str(path.resolve())
    return cache_file("metrics", key, ".arrow"), cache_file("metrics", key, ".json")


def _cache_get(path: Path, st: os.stat_result, head: bytes) -> MetricsData | None:
    """The cached table if it describes a prefix of this very file; None (so: parse afresh) otherwise."""
    arrow_path, meta_path = _cache_paths(path)
    try:
        meta = loads(read_bytes(meta_path))
        same = (meta["dev"], meta["ino"], meta["head"]) == (st.st_dev, st.st_ino, head.hex())
        if not same or meta["end"] > st.st_size:
            return None
        import pyarrow.feather as feather

        table = feather.read_table(arrow_path, memory_map=True)
        return MetricsData(table, int(meta["skipped"]), int(meta["end"]))
    except Exception:  # missing, corrupt or stale cache: parse the file instead
        return None


def _cache_put(path: Path, st: os.stat_result, head: bytes, data: MetricsData) -> None:
    """Write the cache via temp file and rename; a cache that cannot be written is simply not kept."""
    import orjson
    import pyarrow.feather as feather

    arrow_path, meta_path = _cache_paths(path)
    try:
        arrow_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = arrow_path.with_suffix(f".{os.getpid()}.tmp")
        feather.write_feather(data.table, tmp, compression="uncompressed")
        os.replace(tmp, arrow_path)
        meta = {"dev": st.st_dev, "ino": st.st_ino, "head": head.hex(), "end": data.end, "skipped": data.skipped}
        tmp_meta = meta_path.with_suffix(f".{os.getpid()}.tmp")
        tmp_meta.write_bytes(orjson.dumps(meta))
        os.replace(tmp_meta, meta_path)
    except OSError:
        pass
