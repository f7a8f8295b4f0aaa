"""A CS336 metrics.csv followed as it grows reads, at every point, as a fresh read of the file does: rows appended
in any pieces (a record cut anywhere, a `\\r\\n` split between pieces), truncation, replacement, a rewrite of the
same size, a header written again; and the fast path (pyarrow) reads exactly as the csv module does."""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from runyard.layouts import cs336
from runyard.layouts.base import MetricColumns
from runyard.layouts.cs336 import CS336Source
from runyard.reading import filecache, follow

FOREIGN = Path(__file__).parent / "fixtures" / "foreign" / "cs336" / "runs"
CASES = Path(__file__).parent / "fixtures" / "cases" / "reading"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(cache))
    return cache


def reference(data: bytes) -> MetricColumns:
    """The reading the layout documents, row by row with the csv module over the whole file (as it was read
    before it was followed)."""
    header: list[str] = []
    steps, times, rows = [], [], []
    skipped = 0
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", errors="replace", newline="")
    try:
        for fields in csv.reader(text):
            if not any(field.strip() for field in fields):
                continue
            named = dict(zip(header, fields, strict=False))
            step = cs336._csv_step(named.get("step"))
            if step is None:
                if "step" in (field.strip() for field in fields):
                    header = [field.strip() for field in fields]
                elif header:
                    skipped += 1
                continue
            names = header + [f"column_{i + 1}" for i in range(len(header), len(fields))]
            row = {}
            for name, field in zip(names, fields, strict=False):
                value = cs336._csv_number(field)
                if value is not None and name not in ("step", "wallclock_time", "elapsed_time"):
                    row[name] = value
            steps.append(step)
            times.append(cs336._csv_number(named.get("wallclock_time", "")))
            rows.append(row)
    except csv.Error:
        return MetricColumns([], [])
    return MetricColumns.from_rows(steps, times, rows, skipped=skipped)


def assert_same(got: MetricColumns, want: MetricColumns) -> None:
    assert got.step.dtype == np.int64 and got.step.tolist() == want.step.tolist()
    np.testing.assert_array_equal(got.time, want.time)  # NaN where NaN
    assert list(got.values) == list(want.values)
    for name in want.values:
        np.testing.assert_array_equal(got.values[name], want.values[name])
        np.testing.assert_array_equal(got.mask(name), want.mask(name))
    assert got.skipped == want.skipped


def run_folder(tmp_path: Path, data: bytes = b"") -> Path:
    folder = tmp_path / "run"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text('{"experiment_name": "x"}')
    (folder / "metrics.csv").write_bytes(data)
    return folder


SMALL = (
    b"\xef\xbb\xbfstep,wallclock_time,elapsed_time,loss,lr\n"
    b"0,1700000000.5,0,2.5,0.1\n"
    b"1,1700000001.5,1,,0.1\r\n"
    b"2,1700000002.5,2,nan,\n"
    b"\n"
    b"x,1700000003.5,3,1.0,0.1\n"
    b"4.0,1700000004.5,4,-inf,1e-3\n"
    b"5,,5,inf,0.1,7.5\n"
    b",,,\n"
    b"step,wallclock_time,loss,acc\r\n"
    b"6,1700000006,1.5,0.25\n"
    b'7,1700000007,"2.5",nan(1)\n'
    b"8,1700000008,1.25,0.5"
)


def test_every_cut_of_a_small_file_reads_as_a_fresh_read(tmp_path):
    folder = run_folder(tmp_path)
    path = folder / "metrics.csv"
    for cut in range(len(SMALL) + 1):
        path.write_bytes(SMALL[:cut])
        source = CS336Source(folder)
        assert_same(source.metrics_data(), reference(SMALL[:cut]))
        with path.open("ab") as fh:
            fh.write(SMALL[cut:])
        assert_same(source.metrics_data(), reference(SMALL))


def test_appends_in_small_pieces_read_as_a_fresh_read(tmp_path):
    folder = run_folder(tmp_path)
    path = folder / "metrics.csv"
    source = CS336Source(folder)
    rng = np.random.default_rng(5)
    at = 0
    while at < len(SMALL):
        step = int(rng.integers(1, 9))
        with path.open("ab") as fh:
            fh.write(SMALL[at:at + step])
        at += step
        assert_same(source.metrics_data(), reference(SMALL[:at]))
        assert_same(source.metrics_data(), CS336Source(folder).metrics_data())
    info = source.read_info()
    fresh = CS336Source(folder).read_info()
    assert (info.rows, info.last_step, info.created, info.last_time, info.skipped_lines) == (
        fresh.rows, fresh.last_step, fresh.created, fresh.last_time, fresh.skipped_lines)


def test_a_crlf_split_between_pieces(tmp_path):
    data = b"step,loss\r\n1,0.5\r\n2,0.25\r\n"
    folder = run_folder(tmp_path)
    path = folder / "metrics.csv"
    source = CS336Source(folder)
    for end in (len(b"step,loss\r\n1,0.5\r"), len(data)):
        with path.open("ab") as fh:
            fh.write(data[path.stat().st_size:end])
        assert_same(source.metrics_data(), reference(data[:end]))


def big_csv(rows: int, start: int = 0) -> bytes:
    steps = np.arange(start, start + rows)
    loss = 1.0 / (steps + 1)
    lines = [f"{s},{1.7e9 + s * 0.5},{s * 0.5},{float(v)!r},{'' if s % 3 else 0.001}"
             for s, v in zip(steps, loss, strict=True)]
    return ("\n".join(lines) + "\n").encode()


HEADER = b"step,wallclock_time,elapsed_time,loss,lr\n"


def test_truncation_replacement_and_rewrite_are_read_again(tmp_path):
    folder = run_folder(tmp_path, HEADER + big_csv(50))
    path = folder / "metrics.csv"
    source = CS336Source(folder)
    assert len(source.metrics_data()) == 50
    path.write_bytes(HEADER + big_csv(10, 100))  # truncated and rewritten in place
    assert_same(source.metrics_data(), reference(path.read_bytes()))
    other = folder / "new.csv"
    other.write_bytes(HEADER + big_csv(20, 200))
    os.replace(other, path)  # replaced by a new file
    assert_same(source.metrics_data(), reference(path.read_bytes()))
    data = path.read_bytes()
    st = path.stat()
    path.write_bytes(data.replace(b"200,", b"201,", 1))  # same size, same mtime: a rewrite in place
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert_same(source.metrics_data(), reference(path.read_bytes()))
    assert source.metrics_data().step[0] == 201


def test_the_fast_path_reads_as_the_csv_module(tmp_path):
    """Values pyarrow and Python read alike, and the ones only Python reads, in one large piece."""
    odd = [" 2", "3 ", "+inf", "-nan", "NaN", "Infinity", "1e400", "-0", "1.", ".5", "0x10", "1_0", "", "abc",
           "nan(2)", "\t4"]
    lines = [HEADER.decode().strip()]
    for i in range(3000):
        lines.append(f"{i},{1.7e9 + i},{i},{odd[i % len(odd)]},{odd[(i * 7) % len(odd)]}")
    for data in ("\n".join(lines).encode() + b"\n",
                 "\n".join(line for line in lines if "(" not in line and "_" not in line).encode() + b"\n"):
        folder = run_folder(tmp_path, data)
        assert_same(CS336Source(folder).metrics_data(), reference(data))
    steps = b"step,loss\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(2000)) + b" 7 ,1\n+8,2\n9.0,3\n1e1,4\n"
    folder = run_folder(tmp_path, steps)
    assert_same(CS336Source(folder).metrics_data(), reference(steps))


@pytest.mark.parametrize("folder", sorted(p for p in FOREIGN.iterdir() if (p / "metrics.csv").exists()),
                         ids=lambda p: p.name)
def test_fixtures_followed_in_pieces_read_as_a_fresh_read(tmp_path, folder):
    data = (folder / "metrics.csv").read_bytes()
    copy = run_folder(tmp_path)
    shutil.copy(folder / "config.json", copy / "config.json")
    path = copy / "metrics.csv"
    source = CS336Source(copy)
    for end in [*range(0, len(data), max(1, len(data) // 37)), len(data)]:
        with path.open("ab") as fh:
            fh.write(data[path.stat().st_size:end])
        assert_same(source.metrics_data(), reference(data[:end]))
    assert_same(CS336Source(folder).metrics_data(), reference(data))


def test_the_new_column_case_reads_as_before():
    folder = CASES / "csv_new_column" / "appended_field"
    assert_same(CS336Source(folder).metrics_data(), reference((folder / "metrics.csv").read_bytes()))


def test_a_large_file_is_reopened_from_the_disk_cache(tmp_path, cache_dir, count_feeds):
    data = HEADER + big_csv(20000)
    assert len(data) >= follow.CACHE_MIN_BYTES
    folder = run_folder(tmp_path, data)
    want = reference(data)
    assert_same(CS336Source(folder).metrics_data(), want)
    assert filecache.entry_path(cs336.CACHE_KIND, str((folder / "metrics.csv").absolute())).exists()
    parsed = count_feeds(cs336._CsvReader)
    assert_same(CS336Source(folder).metrics_data(), want)  # a new process would read the entry
    assert sum(parsed) == 0
    with (folder / "metrics.csv").open("ab") as fh:
        fh.write(big_csv(5, 20000) + b"20005,1.7e9,0,0.5")
    assert_same(CS336Source(folder).metrics_data(), reference((folder / "metrics.csv").read_bytes()))
    assert 0 < sum(parsed) < 1000  # from the cached offset on
    assert math.isnan(want.values["lr"][1])


def test_a_first_look_reads_in_parts_and_goes_on(tmp_path):
    data = HEADER + big_csv(3000)
    folder = run_folder(tmp_path, data)
    source = CS336Source(folder)
    seen = []
    while True:
        part = source.metrics_upto(10_000)
        seen.append(len(part))
        if part.complete:
            break
        offset = source._followed.reader.offset
        assert data[offset - 1:offset] == b"\n"
        assert_same(part, reference(data[:offset]))  # whole rows only: the one the piece cut is not read yet
    assert len(seen) > 5 and seen == sorted(seen)
    assert_same(part, reference(data))
    assert_same(source.metrics_data(), reference(data))


def test_a_rewrite_of_the_same_size_and_mtime_is_not_read_from_the_disk_cache(tmp_path):
    data = HEADER + big_csv(20000)
    folder = run_folder(tmp_path, data)
    path = folder / "metrics.csv"
    CS336Source(folder).metrics_data()
    assert filecache.entry_path(cs336.CACHE_KIND, str(path.absolute())).exists()
    middle = data.index(b"\n10000,") + 1
    changed = data[:middle] + b"10001" + data[middle + 5:]  # a step in the middle, same size
    st = path.stat()
    path.write_bytes(changed)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    got = CS336Source(folder).metrics_data()
    assert_same(got, reference(changed))
    assert got.step[10000] == 10001


def test_an_edit_in_place_then_an_append_is_not_taken_from_the_disk_cache(tmp_path, cache_dir):
    """A file grown since its entry was kept, but also changed inside what the entry covers (first 4 KiB and the
    4 KiB before the offset untouched): the entry is not trusted, the file is read again."""
    data = HEADER + big_csv(20000)
    folder = run_folder(tmp_path, data)
    CS336Source(folder).metrics_data()  # keeps the entry
    path = folder / "metrics.csv"
    middle = data.index(b"\n10000,") + 1
    line_end = data.index(b"\n", middle)
    line = data[middle:line_end]
    edited = line[:-1] + (b"7" if line[-1:] != b"7" else b"8")  # the same length: nothing else moves
    with path.open("r+b") as fh:
        fh.seek(middle)
        fh.write(edited)
        fh.seek(0, 2)
        fh.write(big_csv(1, 20000))
    assert_same(CS336Source(folder).metrics_data(), reference(path.read_bytes()))
