"""Incremental reading returns exactly what was appended: across small appends, partial lines, truncation."""

from __future__ import annotations

import os

from runyard.reading.tail import MetricsTail, TailReader


def test_many_small_appends_return_exactly_the_new_lines(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"")
    reader = TailReader(path)
    expected, got = [], []
    with open(path, "ab", buffering=0) as fh:
        for i in range(500):
            line = f"line {i} " + "x" * (i % 37)
            expected.append(line.encode())
            fh.write(line.encode() + b"\n")
            if i % 7 == 0:
                got += reader.read().lines
    got += reader.read().lines
    assert got == expected


def test_partial_last_line_is_held_back_until_complete(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"step":0,"time":1.0,"a":1}\n{"step":1,"ti')
    tail = MetricsTail(path)
    first = tail.read()
    assert [r["step"] for r in first.rows] == [0] and first.skipped == 0
    assert tail.read().rows == []
    with open(path, "ab") as fh:
        fh.write(b'me":2.0,"a":"nan"}\n{"step":2,')
    second = tail.read()
    assert len(second.rows) == 1 and second.rows[0]["step"] == 1 and second.rows[0]["a"] != second.rows[0]["a"]
    with open(path, "ab") as fh:
        fh.write(b'"time":3.0,"a":3}\n')
    assert [r["step"] for r in tail.read().rows] == [2]


def test_truncation_restarts_from_the_beginning(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"a\nb\nc\n")
    reader = TailReader(path)
    assert reader.read().lines == [b"a", b"b", b"c"]
    path.write_bytes(b"d\n")  # truncated and rewritten shorter
    chunk = reader.read()
    assert chunk.reset and chunk.lines == [b"d"]


def test_rewrite_in_place_of_equal_length_is_noticed(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"first line\n")
    reader = TailReader(path)
    reader.read()
    with open(path, "r+b") as fh:  # copytruncate-style rewrite, then growth past the old size
        fh.write(b"other line\nmore\n")
    chunk = reader.read()
    assert chunk.reset and chunk.lines == [b"other line", b"more"]


def test_replaced_file_is_reopened(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"old 1\nold 2\n")
    reader = TailReader(path)
    reader.read()
    tmp = tmp_path / "new.txt"
    tmp.write_bytes(b"new 1\n")
    os.replace(tmp, path)
    chunk = reader.read()
    assert chunk.reset and chunk.lines == [b"new 1"]


def test_missing_file_reads_as_nothing_until_it_appears(tmp_path):
    path = tmp_path / "later.txt"
    reader = TailReader(path)
    assert reader.read().lines == []
    path.write_bytes(b"here\n")
    assert reader.read().lines == [b"here"]


def test_garbage_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"step":0,"time":1.0,"a":1}\nnot json\n[1,2]\n{"time":3}\n'
                     b'{"_event":"resume","step":0,"time":4}\n')
    chunk = MetricsTail(path).read()
    assert chunk.skipped == 3 and chunk.resumes == [0] and len(chunk.rows) == 2


def test_endless_line_is_cut_so_memory_stays_bounded(tmp_path):
    path = tmp_path / "progress.log"
    path.write_bytes(b"\r" + b"x" * (2 << 20))  # a progress bar that never writes a newline
    chunk = TailReader(path).read()
    assert len(chunk.lines) == 1 and len(chunk.lines[0]) > 1 << 20
