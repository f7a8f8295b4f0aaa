"""Incremental reading of growing files: only what was appended since the last call.

`TailReader` keeps its byte offset and an open descriptor, reads with `os.pread` (no seek races), holds back a
partial last line until it is complete, and follows a log through rotation as `tail -F` does:

- renamed and recreated (logrotate's `create`, a script that restarts its log): the file it holds is read to its
  end first, so a line written to the old file after the rename is not lost, then the new file from its start;
- truncated in place (`copytruncate`), or rewritten in place (its first bytes changed): read again from its start.

Either way `Chunk.reset` says so and `reset_at` where the new content begins, so a log pane appends (and marks the
place) while a metrics reader reads its rows afresh. Lines come out as UTF-8 whatever the file's encoding
(`textcodec`: a UTF-16 log is transcoded, a byte-order mark dropped). Only regular files are opened: a FIFO or a
device at the path reads as nothing, flagged `not_regular`, and is never waited on. A file that cannot be read (no
permission, an I/O error) reads as nothing too, with `problem` saying why (`unreadable_reason`): `read()` never
raises for it. `MetricsTail` parses JSONL metric rows.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import EVENT, line_step, resume_step
from ..files import NotRegularFile, open_regular, unreadable_reason
from ..jsonl import NONFINITE, Skipped, iter_records
from ..layouts.base import metric_column
from .textcodec import SNIFF_BYTES, sniff_encoding, utf8_transcoder

_HEAD = 64            # bytes compared to notice a file rewritten in place
_MAX_PARTIAL = 1 << 20  # a "line" that never ends (a progress bar without newlines) is cut at 1 MiB
_FIXED = ("step", "time")  # a row's own fields; every other key is a metric, named as `metric_column` names it
_MISSING = (errno.ENOENT, errno.ENOTDIR)  # a file not there (yet): nothing to read, and nothing wrong


@dataclass
class Chunk:
    """What one `read()` returned.

    `lines`: complete lines. `reset`: the file was replaced or truncated; the lines before `reset_at` end the file
    as it was, those from `reset_at` on come from the start of the file now at the path, and `replaced` tells a
    new file (rotation) from one truncated in place. `not_regular`: the path is not a regular file (a FIFO), which
    is not read; `not_regular_reason` says what it is ("cannot read training.log: a FIFO, not a regular file").
    `problem`: why the file could not be read ("cannot read training.log: permission denied").
    """

    lines: list[bytes] = field(default_factory=list)
    reset: bool = False
    reset_at: int = 0
    replaced: bool = False
    not_regular: bool = False
    problem: str | None = None
    not_regular_reason: str | None = None

    def starts_over(self, *, replaced: bool) -> None:
        """What follows comes from the start of the file now at the path (a new one, or this one truncated)."""
        self.reset, self.reset_at, self.replaced = True, len(self.lines), replaced


class TailReader:
    """Follows one file; `read()` returns the complete lines appended since the previous call."""

    def __init__(self, path: str | os.PathLike, offset: int = 0) -> None:
        self.path = Path(path)
        self.offset = offset
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._head = b""
        self._partial = b""
        self._bom: int | None = None  # length of the file's byte-order mark; None until its head is seen
        self._transcoder = None  # decodes a UTF-16 file for re-encoding as UTF-8; None for UTF-8

    def _open(self, chunk: Chunk) -> bool:
        """Open the file at the path (from `offset`); False, with the chunk saying why, if there is none to read."""
        try:
            fd = open_regular(self.path)
        except NotRegularFile as exc:
            chunk.not_regular, chunk.not_regular_reason = True, unreadable_reason(exc, self.path)
            return False
        except OSError as exc:
            if exc.errno not in _MISSING:
                chunk.problem = unreadable_reason(exc, self.path)
            return False
        try:
            st = os.fstat(fd)
        except OSError:
            os.close(fd)
            raise
        self._fd, self._ident = fd, (st.st_dev, st.st_ino)
        return True

    def _restart(self) -> None:
        self.offset, self._partial, self._head = 0, b"", b""
        self._bom, self._transcoder = None, None

    def _sniff(self) -> bool:
        """Settle the file's encoding from its head (False while the head is too short to tell)."""
        found = sniff_encoding(os.pread(self._fd, SNIFF_BYTES, 0))
        if found is None:
            return False
        codec, self._bom = found
        self._transcoder = utf8_transcoder(codec)
        self.offset = max(self.offset, self._bom)  # the mark is not text
        return True

    def read(self) -> Chunk:
        """The complete lines appended since the last call (a missing file reads as nothing; an unreadable one
        as nothing, with `problem` saying why)."""
        chunk = Chunk()
        try:
            self._read(chunk)
        except OSError as exc:  # an I/O error mid-read (a network filesystem): what was read stands, the rest waits
            chunk.problem = unreadable_reason(exc, self.path)
        return chunk

    def _read(self, chunk: Chunk) -> None:
        if self._fd is None and not self._open(chunk):
            return
        try:
            st = os.stat(self.path)
            at_path: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:  # renamed away and not created again yet, or out of reach: the file held is still read
            at_path = None
        self._drain(chunk)  # everything the file held has now, even when another file took its name
        if at_path is not None and at_path != self._ident:
            self._end_line(chunk)  # the old file is done: its last line stands even without a newline
            self.close()
            self._restart()
            chunk.starts_over(replaced=True)
            if self._open(chunk):
                self._drain(chunk)

    def _drain(self, chunk: Chunk) -> None:
        """Read the held file from `offset` to its end, starting it over if it was truncated or rewritten."""
        size = os.fstat(self._fd).st_size
        if size < self.offset or (self._head and os.pread(self._fd, len(self._head), 0) != self._head):
            self._end_line(chunk)
            self._restart()
            chunk.starts_over(replaced=False)
        if self._bom is None and (size == 0 or not self._sniff()):
            return
        if size <= self.offset:
            return
        start = self.offset
        data = self._read_from(start, size)
        if not self._head and start == self._bom:
            self._head = os.pread(self._fd, min(_HEAD, size), 0)
        self.offset += len(data)
        if self._transcoder is not None:
            data = self._transcoder.decode(data).encode("utf-8")
        data = self._partial + data
        cut = data.rfind(b"\n") + 1
        self._partial = data[cut:]
        if len(self._partial) > _MAX_PARTIAL:
            data, cut, self._partial = data + b"\n", len(data) + 1, b""
        if cut:
            chunk.lines += data[: cut - 1].split(b"\n")

    def _end_line(self, chunk: Chunk) -> None:
        """The partial line held back, as a line of its own: the file it came from will not finish it."""
        if self._partial:
            chunk.lines.append(self._partial)
            self._partial = b""

    def _read_from(self, start: int, end: int) -> bytes:
        parts = []
        while start < end:
            block = os.pread(self._fd, min(end - start, 16 << 20), start)
            if not block:
                break
            parts.append(block)
            start += len(block)
        return b"".join(parts)

    @property
    def pending(self) -> bytes:
        """The partial last line held back, if any."""
        return self._partial

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


@dataclass
class MetricsChunk:
    """Rows appended to a metrics.jsonl since the last read, resume markers, and lines that did not parse."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[int] = field(default_factory=list)
    skipped: int = 0
    reset: bool = False
    not_regular: bool = False
    problem: str | None = None  # why the file could not be read, as `Chunk.problem`


class MetricsTail:
    """Follows a runyard metrics.jsonl, returning parsed rows with non-finite values decoded."""

    def __init__(self, path: str | os.PathLike, offset: int = 0) -> None:
        self.reader = TailReader(path, offset)
        self._columns: dict[str, str] = {}
        self._renamed: set[str] = set()  # keys read into another column (see `metric_column`)

    def _column(self, key: str) -> str:
        """The column a row's key is read into (`metric_column`, the fixed ones as they are), remembered."""
        column = self._columns[key] = key if key in _FIXED else metric_column(key)
        if column != key:
            self._renamed.add(key)
        return column

    def read(self) -> MetricsChunk:
        """New rows since the last call; `resumes` lists the steps of resume markers among them."""
        chunk = self.reader.read()
        out = MetricsChunk(reset=chunk.reset, not_regular=chunk.not_regular, problem=chunk.problem)
        bad = Skipped()
        columns = self._columns  # names repeat row after row: each is mapped once
        for row in iter_records(chunk.lines, bad):
            if EVENT in row:  # rare: a resume marker, or an event of a kind this reader does not know
                cut = resume_step(row)
                if cut is not None:
                    out.resumes.append(cut)
                    out.rows.append(row)
                elif line_step(row) is None:
                    out.skipped += 1
                continue
            if line_step(row) is None:
                out.skipped += 1
                continue
            if not row.keys() <= columns.keys():
                for key in row.keys() - columns.keys():
                    self._column(key)
            if self._renamed and not self._renamed.isdisjoint(row):  # rare: a metric named like a fixed column
                row = {columns[key]: value for key, value in row.items()}
            for key, value in row.items():
                if value.__class__ is str:
                    row[key] = NONFINITE.get(value, value)
            out.rows.append(row)
        out.skipped += bad.lines
        return out

    def close(self) -> None:
        self.reader.close()
