"""The one mechanism every foreign layout follows its files by: blocks, limits, and what is never trusted."""

from __future__ import annotations

import os

import pytest

from runyard.reading import follow


class Lines:
    """A reader of whole `\\n`-ended lines: a line still being written is not consumed."""

    def __init__(self) -> None:
        self.offset = 0
        self.lines: list[bytes] = []
        self.fed: list[int] = []

    def feed(self, data: bytes) -> None:
        self.fed.append(len(data))
        end = data.rfind(b"\n") + 1
        self.lines += data[:end].splitlines()
        self.offset += end


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(follow, "BLOCK", 64)


def test_a_big_file_is_fed_in_blocks_and_reads_as_a_whole(tmp_path, small_blocks):
    path = tmp_path / "log"
    lines = [f"line {i} ".encode() * (1 + i % 7) for i in range(500)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    followed = follow.follow(None, path, Lines)
    assert followed.reader.lines == lines
    assert max(followed.reader.fed) <= 2 * 64 + 64  # a block, doubled once for a line longer than one
    assert not followed.behind


def test_a_limit_reads_in_parts_each_of_which_gets_on(tmp_path, small_blocks):
    path = tmp_path / "log"
    lines = [b"x" * 300, *(b"%d" % i for i in range(200)), b"y" * 500]  # lines longer than the limit too
    path.write_bytes(b"\n".join(lines) + b"\n")
    followed = follow.follow(None, path, Lines, limit=100)
    assert followed.behind and followed.reader.lines[:1] == [b"x" * 300]  # one whole record at least
    parts = 1
    while followed.behind:
        before = followed.reader.offset
        followed = follow.follow(followed, path, Lines, limit=100)
        assert followed.reader.offset > before
        parts += 1
    assert followed.reader.lines == lines
    assert parts > 3


def test_appends_are_read_alone_and_a_rewrite_from_the_start(tmp_path):
    path = tmp_path / "log"
    path.write_bytes(b"a\nb\nhalf")
    followed = follow.follow(None, path, Lines)
    reader = followed.reader
    assert reader.lines == [b"a", b"b"]
    with open(path, "ab") as fh:
        fh.write(b" line\nc\n")
    assert follow.follow(followed, path, Lines) is followed
    assert reader.lines == [b"a", b"b", b"half line", b"c"] and reader.fed[-1] == len(b"half line\nc\n")
    st = path.stat()
    path.write_bytes(b"A\nB\nhalf line\nc\n")  # the same size, the same mtime: rewritten all the same
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = follow.follow(followed, path, Lines)
    assert again is not followed and again.reader.lines == [b"A", b"B", b"half line", b"c"]

