"""A text log followed as it grows reads, at every point, as a fresh read of the whole file does (the reading of
`parse_log` before logs were followed, kept here as the reference): lines appended in any pieces (a line cut
anywhere, a `\\r\\n` split between pieces, a progress bar redrawn with `\\r`), truncation, replacement, a rewrite
of the same size, rotation; the layouts' info is the same; a large log is reopened from the disk cache."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from runyard.layouts import textlog
from runyard.layouts.base import MetricColumns
from runyard.layouts.common import line_time
from runyard.layouts.fpn import FPNSource
from runyard.layouts.nanogpt import NanoGPTSource
from runyard.layouts.textlog import LOGGED_TIME, TextLogSource, log_columns, split_lines
from runyard.reading import filecache, follow
from runyard.reading.patterns import final_state, patterns_for, read_rows
from runyard.reading.textcodec import decode_text

FIXTURES = Path(__file__).parent / "fixtures"
CASES = FIXTURES / "cases" / "reading"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(cache))
    return cache


def reference_file(data: bytes, patterns) -> tuple[list[dict], list[str]]:
    """One file read whole, as `parse_log` read it before it followed files."""
    raw = split_lines(decode_text(data))
    lines = [final_state(line) for line in raw] if any("\r" in x or "\x1b" in x for x in raw) else raw
    stamps = [line_time(line) for line in lines]
    rows, last_time, at = [], None, 0
    for i, row in read_rows(raw, patterns):
        while at <= i:
            if stamps[at] is not None:
                last_time = stamps[at]
            at += 1
        if "time" in row:
            row[LOGGED_TIME] = row.pop("time")
        row["time"] = stamps[i] if stamps[i] is not None else last_time
        rows.append(row)
    return rows, lines


def reference(files: list[bytes], patterns) -> tuple[list[dict], list[str]]:
    """Files read oldest first as one log, as `parse_log` joined a log's rotated predecessors."""
    *rotated, last = [reference_file(data, patterns) for data in files]
    kept = [last]
    floor = last[0][0]["step"] if last[0] else math.inf
    for rows, lines in reversed(rotated):
        if rows and rows[-1]["step"] >= floor:
            standing = [row for row in rows if row["step"] < floor]
            if not standing:
                break
            rows = standing
        kept.append((rows, lines))
        if rows:
            floor = min(floor, rows[0]["step"])
    kept.reverse()
    return [row for rows, _ in kept for row in rows], [line for _, lines in kept for line in lines]


def assert_same_columns(got: MetricColumns, want: MetricColumns) -> None:
    assert got.step.dtype == np.int64 and got.step.tolist() == want.step.tolist()
    np.testing.assert_array_equal(got.time, want.time)
    assert list(got.values) == list(want.values)
    for name in want.values:
        np.testing.assert_array_equal(got.values[name], want.values[name])
        np.testing.assert_array_equal(got.mask(name), want.mask(name))


def assert_reads_as(source, files: list[bytes], patterns=None) -> None:
    patterns = patterns or patterns_for(None, source.path.parent)[0]
    rows, lines = reference(files, patterns)
    assert_same_columns(source.metrics_data(), log_columns(rows))
    read = source._read()
    assert len(read.lines) == len(lines)
    assert read.lines[:50] == lines[:50] and read.lines[-50:] == lines[-50:]


BAR = "Epoch {e}: {p:3d}%|####      | {n}/4 [00:01<00:02, 9.80it/s, loss={loss}, v_num=3]"
SMALL = "".join([
    "2026-11-23 08:00:00 - INFO - start\n",
    "step 1: loss=2.5 lr=0.1\r\n",
    "no stamp here, step 2: loss=nan time=3.5\n",
    "2026-11-23 08:00:02,250 - step 3 | Train Loss: inf - LR: 1e-3\n",
    "\r" + "\r".join(BAR.format(e=0, p=25 * k, n=k, loss=2.0 - k / 10) for k in range(1, 4)) + "\n",
    "validation done\n",
    BAR.format(e=0, p=100, n=4, loss=1.5) + "\n",
    "\x1b[32mstep 9: acc=0.5\x1b[0m\n",
    "iter 10: loss 1.2500, time 35.12ms, mfu 12.5%\n",
    "step 11: train loss 1.1, val loss 1.3\n",
    "Training complete",
]).encode()


def log_source(tmp_path: Path, data: bytes = b"", name: str = "train.log") -> TextLogSource:
    path = tmp_path / name
    path.write_bytes(data)
    return TextLogSource(path)


def test_every_cut_of_a_small_log_reads_as_a_fresh_read(tmp_path):
    path = tmp_path / "train.log"
    for cut in range(len(SMALL) + 1):
        textlog._followers.clear()
        source = log_source(tmp_path, SMALL[:cut])
        assert_reads_as(source, [SMALL[:cut]])
        with path.open("ab") as fh:
            fh.write(SMALL[cut:])
        assert_reads_as(source, [SMALL])
    fresh = TextLogSource(path).read_info()
    textlog._followers.clear()
    again = TextLogSource(path).read_info()
    assert (fresh.rows, fresh.last_step, fresh.created, fresh.last_logged, fresh.status) == (
        again.rows, again.last_step, again.created, again.last_logged, again.status)
    assert fresh.status == "finished" and fresh.last_step == 11


def test_appends_in_small_pieces_read_as_a_fresh_read(tmp_path):
    source = log_source(tmp_path)
    rng = np.random.default_rng(7)
    at = 0
    while at < len(SMALL):
        step = int(rng.integers(1, 12))
        with source.path.open("ab") as fh:
            fh.write(SMALL[at:at + step])
        at += step
        assert_reads_as(source, [SMALL[:at]])


def test_views_handed_out_stay_as_they_were(tmp_path):
    """A progress bar drawn on after a line break replaces the row before it: columns read before keep it."""
    first = (BAR.format(e=0, p=25, n=1, loss=1.9) + "\n").encode()
    source = log_source(tmp_path, first)
    before = source.metrics_data()
    kept = before.step.copy(), before.values["loss"].copy()
    with source.path.open("ab") as fh:
        fh.write((BAR.format(e=0, p=50, n=2, loss=1.8) + "\n").encode())
    after = source.metrics_data()
    assert after.step.tolist() == [2] and after.values["loss"].tolist() == [1.8]
    assert before.step.tolist() == kept[0].tolist() and before.values["loss"].tolist() == kept[1].tolist()


def test_a_crlf_split_between_pieces(tmp_path):
    data = b"step 1: loss=0.5\r\nstep 2: loss=0.25\r\n"
    source = log_source(tmp_path)
    for end in (len(b"step 1: loss=0.5\r"), len(b"step 1: loss=0.5\r\nstep 2: loss=0.25\r"), len(data)):
        with source.path.open("ab") as fh:
            fh.write(data[source.path.stat().st_size:end])
        assert_reads_as(source, [data[:end]])


def numbered(start: int, count: int) -> bytes:
    return "".join(f"2026-11-23 08:{i // 60 % 60:02d}:{i % 60:02d} - step {i}: loss={1 / (i + 1)!r} lr=0.001\n"
                   for i in range(start, start + count)).encode()


def test_truncation_replacement_and_rewrite_are_read_again(tmp_path):
    source = log_source(tmp_path, numbered(0, 50))
    assert len(source.metrics_data()) == 50
    source.path.write_bytes(numbered(100, 10))  # truncated and rewritten in place
    assert_reads_as(source, [source.path.read_bytes()])
    other = tmp_path / "other"
    other.write_bytes(numbered(200, 20))
    os.replace(other, source.path)
    assert_reads_as(source, [source.path.read_bytes()])
    data = source.path.read_bytes()
    st = source.path.stat()
    source.path.write_bytes(data.replace(b"step 200:", b"step 201:", 1))  # same size, same mtime
    os.utime(source.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert_reads_as(source, [source.path.read_bytes()])
    assert source.metrics_data().step[0] == 201


def test_rotation_reads_the_predecessor_and_follows_the_new_log(tmp_path):
    source = log_source(tmp_path, numbered(0, 30))
    assert_reads_as(source, [numbered(0, 30)])
    os.replace(source.path, tmp_path / "train.log.1")  # renamed away, not created again yet
    assert_reads_as(source, [numbered(0, 30)])
    with (tmp_path / "train.log.1").open("ab") as fh:  # the writer still holds the old file
        fh.write(numbered(30, 2))
    source.path.write_bytes(numbered(32, 5))
    assert_reads_as(source, [numbered(0, 32), numbered(32, 5)])
    with source.path.open("ab") as fh:
        fh.write(numbered(37, 3)[:-7])
    assert_reads_as(source, [numbered(0, 32), numbered(32, 40 - 32)[:-7]])
    source.path.write_bytes(numbered(20, 5))  # a training resumed from an earlier step: later rows superseded
    assert_reads_as(source, [numbered(0, 32), numbered(20, 5)])
    assert source.metrics_data().step.tolist() == [*range(20), *range(20, 25)]


def test_utf16_log_in_pieces(tmp_path):
    data = (CASES / "utf16_log" / "train.log").read_bytes()
    source = log_source(tmp_path)
    for end in [*range(0, len(data), 7), len(data)]:
        with source.path.open("ab") as fh:
            fh.write(data[source.path.stat().st_size:end])
        assert_reads_as(source, [data[:end]])
    assert len(source.metrics_data()) > 0


def fixture_logs() -> list[tuple[type, Path]]:
    found = [(NanoGPTSource, p) for p in sorted((FIXTURES / "foreign" / "nanogpt").rglob("log_run_*.txt"))]
    found += [(FPNSource, p) for p in sorted((FIXTURES / "foreign" / "fpn_compression").rglob("train_*.log"))]
    found += [(TextLogSource, p) for p in sorted(CASES.rglob("*.log"))]
    return found


@pytest.mark.parametrize(("kind", "log"), fixture_logs(), ids=lambda x: getattr(x, "name", str(x)))
def test_fixtures_followed_in_pieces_read_as_a_fresh_read(tmp_path, kind, log):
    data = log.read_bytes()
    folder = tmp_path / log.parent.name
    shutil.copytree(log.parent, folder, ignore=shutil.ignore_patterns(log.name, "*.pt", "*.pth"))
    path = folder / log.name
    path.write_bytes(b"")
    if kind is FPNSource:
        source = FPNSource(folder)
        want_info = FPNSource(log.parent).read_info()
    else:
        source = kind(path)
        want_info = kind(log).read_info()
    patterns = patterns_for(None, folder)[0]
    for end in [*range(0, len(data), max(1, len(data) // 23)), len(data)]:
        with path.open("ab") as fh:
            fh.write(data[path.stat().st_size:end])
        rows, _ = reference([data[:end]], patterns)
        assert_same_columns(source.metrics_data(), log_columns(rows))
    info = source.read_info()
    assert (info.rows, info.last_step, info.created, info.last_logged, info.status, info.max_step) == (
        want_info.rows, want_info.last_step, want_info.created, want_info.last_logged, want_info.status,
        want_info.max_step)
    if kind is NanoGPTSource:
        assert source.config() == kind(log).config()


def test_a_large_log_is_reopened_from_the_disk_cache(tmp_path, count_feeds):
    data = numbered(0, 6000)
    assert len(data) >= follow.CACHE_MIN_BYTES
    source = log_source(tmp_path, data)
    rows, _ = reference([data], patterns_for(None, tmp_path)[0])
    assert_same_columns(source.metrics_data(), log_columns(rows))
    assert filecache.entry_path(textlog.CACHE_KIND, str(source.path.absolute())).exists()
    fed = count_feeds(textlog._LogReader)
    textlog._followers.clear()
    fresh = TextLogSource(source.path)
    assert_same_columns(fresh.metrics_data(), log_columns(rows))
    assert sum(fed) == 0
    assert fresh._read().lines[-1] == data.decode().splitlines()[-1]
    with source.path.open("ab") as fh:
        fh.write(numbered(6000, 3))
    textlog._followers.clear()
    rows, _ = reference([source.path.read_bytes()], patterns_for(None, tmp_path)[0])
    assert_same_columns(TextLogSource(source.path).metrics_data(), log_columns(rows))
    assert 0 < sum(fed) < 1000


def test_a_log_renamed_by_a_rotation_is_not_read_again(tmp_path, count_feeds):
    source = log_source(tmp_path, numbered(0, 40))
    source.metrics_data()
    fed = count_feeds(textlog._LogReader)
    os.replace(source.path, tmp_path / "train.log.1")
    with (tmp_path / "train.log.1").open("ab") as fh:
        fh.write(numbered(40, 1))
    source.path.write_bytes(numbered(41, 2))
    assert_reads_as(source, [numbered(0, 41), numbered(41, 2)])
    assert sorted(fed) == sorted([len(numbered(41, 2)), len(numbered(40, 1))])  # the appended line, the new log


def test_the_built_in_matcher_reads_as_the_pattern_table():
    from runyard.reading.patterns import match_line

    patterns = patterns_for(None, None)[0]
    match = textlog._matcher(patterns)
    lines = ["step 3: train loss 1.5, val loss 1.7", "STEP 4: TRAIN LOSS 1.5, VAL LOSS 1.7", "iter 5: loss 2.0",
             "Iter 6: loss 2.0, time 3ms, mfu 4%", "iter 7: lr=0.1", "Epoch 2/10 - Loss: 0.5", "epoch=3 acc=0.9",
             "ſtep 8: loss=1", "Step 9: ıter", "İteration 10: loss=1", "iteration 11: loss=2", "nothing here",
             "train loss 5", "step: 12 val=nan", "100%|####| 4/4 [00:01<00:00, 3.0it/s, loss=1.5]", "epoch 1: x"]
    for line in lines:
        assert repr(match(line)) == repr(match_line(line, patterns)), line


def test_a_utf16_log_longer_than_a_block(tmp_path, monkeypatch):
    monkeypatch.setattr(textlog, "_BLOCK", 64)
    text = "step 1: loss=0.5 " + "x" * 100 + "\nstep 2: loss=0.25\n" * 3
    data = b"\xff\xfe" + text.encode("utf-16-le")
    source = log_source(tmp_path, data)
    assert_reads_as(source, [data])
    assert source.metrics_data().step.tolist() == [1, 2, 2, 2]


def test_a_rewrite_of_the_same_size_and_mtime_is_not_read_from_the_disk_cache(tmp_path):
    data = numbered(0, 6000)
    source = log_source(tmp_path, data)
    source.metrics_data()
    assert filecache.entry_path(textlog.CACHE_KIND, str(source.path.absolute())).exists()
    changed = data.replace(b"step 3000:", b"step 3001:", 1)
    st = source.path.stat()
    source.path.write_bytes(changed)
    os.utime(source.path, ns=(st.st_atime_ns, st.st_mtime_ns))
    textlog._followers.clear()
    fresh = TextLogSource(source.path)
    assert_reads_as(fresh, [changed])
    assert fresh.metrics_data().step[3000] == 3001
