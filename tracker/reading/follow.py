"""Following a growing file that holds a record stream: read each byte once, and never trust a changed file.

Every foreign layout keeps its files this way (TensorBoard event files, W&B `.wandb` logs, CSV files and text
logs), as runyard's own `metrics.jsonl` is followed by `reading.tail`. A `FollowedFile` holds a reader (the
layout's parser, with its state) and what tells that the file only grew since it was read:

- a file whose inode, size, mtime and ctime are unchanged is not read at all;
- one that grew, with the same inode, the same first 4 KiB and the same 4 KiB just before the offset read up
  to, is read from that offset on; a record cut short at the end waits there for its rest;
- anything else (truncated, replaced, rewritten) is read again whole, by a new reader.

A file not yet followed in this process starts from its disk cache entry (`reading.filecache`), if one
describes this very file, and is kept there once it is big enough to be worth it.

A reader is any object with `offset` (bytes of the file consumed: whole records, or a damaged stretch passed
over; a record cut short is not consumed), `feed(data)` (the file's bytes from `offset` on) and, to be kept in
the disk cache, `state() -> (JSON-able dict, [(name, 1-d numpy array)])`, undone by the `restore` callable the
layout passes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..files import open_binary

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

EDGE = 4096               # bytes at a followed file's start and before its read offset that must not change under it
CACHE_MIN_BYTES = 256 << 10  # smaller files parse faster than a disk cache entry is worth
RESAVE_BYTES = 1 << 20
BLOCK = 16 << 20          # bytes fed to a reader at a time: a big file is never held whole


class Reader(Protocol):
    """A layout's parser of one file, fed its bytes in order (see the module's docstring)."""

    offset: int

    def feed(self, data: bytes) -> None: ...


class Grow:
    """A numpy array appended to in place, with room to grow: views of what it held stay valid."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: Any) -> None:
        import numpy as np

        self.data = np.empty(16, dtype=dtype)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def extend(self, values: Any) -> None:
        """Append `values` (an array or sequence)."""
        import numpy as np

        values = np.asarray(values, dtype=self.data.dtype)
        need = self.size + len(values)
        if need > len(self.data):
            bigger = np.empty(max(need, 2 * len(self.data)), dtype=self.data.dtype)
            bigger[:self.size] = self.data[:self.size]
            self.data = bigger
        self.data[self.size:need] = values
        self.size = need

    @classmethod
    def of(cls, data: Any) -> Grow:
        """One holding `data` (a writable 1-d array, taken as it is)."""
        grow = cls.__new__(cls)
        grow.data, grow.size = data, len(data)
        return grow

    def view(self) -> np.ndarray:
        """What it holds, as a read-only view (later appends do not change it)."""
        out = self.data[:self.size]
        out.flags.writeable = False
        return out


def changed(stat: os.stat_result, old: os.stat_result) -> bool:
    """True when `stat` is not the very same file version as `old` (inode, device, size, mtime, ctime)."""
    return (stat.st_ino, stat.st_dev, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns) != (
        old.st_ino, old.st_dev, old.st_size, old.st_mtime_ns, old.st_ctime_ns)


class FollowedFile:
    """A file being followed: its reader, and what tells that the file only grew since (module docstring).

    `kind` names the reader for the disk cache (None: not cached); `restore(state, arrays)` rebuilds a reader
    from a cache entry and may raise for an entry of another shape. `limit` caps the bytes one read takes in
    (None: all): a first look at a big file, gone on with by `follow` while `behind` is true.
    """

    __slots__ = ("end", "head", "kind", "reader", "saved", "stat", "tail")

    def __init__(self, reader: Any, stat: os.stat_result, head: bytes, tail: bytes, kind: str | None,
                 end: int, saved: int = -1) -> None:
        self.reader, self.stat, self.head, self.tail, self.kind = reader, stat, head, tail, kind
        self.end = end      # the offset the file was read up to (a record cut short there is not consumed)
        self.saved = saved  # the offset the disk cache holds this file up to (-1: none)

    @property
    def behind(self) -> bool:
        """True while bytes the file held when last read are still unread (a read with a `limit`)."""
        return self.end < self.stat.st_size

    @classmethod
    def read(cls, path: Path, new_reader: Callable[[], Any], *, kind: str | None = None,
             restore: Callable[[dict[str, Any], dict[str, np.ndarray]], Any] | None = None,
             limit: int | None = None) -> FollowedFile:
        """Read `path` from its start, or from where its disk cache entry stops; OSError if it cannot be read."""
        from . import filecache

        key = str(path.absolute())
        with open_binary(path) as fh:
            stat = os.fstat(fh.fileno())
            restored = None
            if kind is not None and restore is not None and stat.st_size >= CACHE_MIN_BYTES:
                cached = filecache.load(kind, key, fh, stat)
                if cached is not None:
                    state, arrays, offset = cached
                    try:
                        restored = restore(state, arrays)
                    except Exception:  # an entry of another shape: parse the file instead
                        restored = None
                    if restored is not None and restored.offset != offset:
                        restored = None
            if restored is None:
                reader, offset, saved = new_reader(), 0, -1
            else:
                reader, offset, saved = restored, restored.offset, restored.offset
            end = _take(fh, reader, limit)
            head, tail = _edges(fh, reader.offset)
            stat = os.fstat(fh.fileno())
        followed = cls(reader, stat, head, tail, kind, end, saved)
        followed._save(path)
        return followed

    def follow(self, path: Path, stat: os.stat_result, limit: int | None = None) -> bool:
        """Take in what was appended to `path` since (at most `limit` bytes); False if it was not only appended
        to, when the caller reads it again with a new reader."""
        old = self.stat
        if (stat.st_ino, stat.st_dev) != (old.st_ino, old.st_dev) or stat.st_size < self.reader.offset:
            return False
        if not self.behind and (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns) == (
                old.st_size, old.st_mtime_ns, old.st_ctime_ns):
            return True
        finishing = self.behind  # a read in parts comes to its end now, maybe: kept in the disk cache then
        with open_binary(path) as fh:
            if os.fstat(fh.fileno()).st_ino != old.st_ino or fh.read(len(self.head)) != self.head:
                return False
            fh.seek(self.reader.offset - len(self.tail))
            if fh.read(len(self.tail)) != self.tail:
                return False
            self.end = _take(fh, self.reader, limit)
            self.head, self.tail = _edges(fh, self.reader.offset)
            self.stat = os.fstat(fh.fileno())
        self._save(path, finished=finishing and not self.behind)
        return True

    def _save(self, path: Path, finished: bool = False) -> None:
        """Keep the reader in the disk cache when enough is new since it was last kept there: the whole file
        once it is big enough to be worth it, then again after it grew by a quarter (or at least 1 MiB), so
        that following a growing run does not rewrite its columns at every poll; and where a read in parts
        (`limit`) `finished`, so that a reopened file starts from its end."""
        from . import filecache

        offset = self.reader.offset
        if self.kind is None or offset < CACHE_MIN_BYTES or not hasattr(self.reader, "state"):
            return
        if offset <= self.saved or (self.saved >= 0 and not finished
                                    and offset - self.saved < max(RESAVE_BYTES, self.saved // 4)):
            return
        try:
            with open_binary(path) as fh:
                stat = os.fstat(fh.fileno())
                if changed(stat, self.stat):
                    return  # written to since it was read: kept at a later read
                ident = filecache.identity(fh, stat, offset)
        except OSError:
            return
        state, arrays = self.reader.state()
        filecache.store(self.kind, str(path.absolute()), ident, state, arrays)
        self.saved = offset


def _take(fh: Any, reader: Any, limit: int | None) -> int:
    """Feed `reader` the file's bytes from its `offset` on, in blocks of at most `BLOCK` (so that a big file is
    never held whole), up to `limit` bytes past that offset in all (None: to the end); returns the offset read
    up to. A record longer than a block is read again with a bigger one, and at least one whole record is read
    whatever the limit."""
    target = None if limit is None else reader.offset + max(limit, 1)
    start = end = reader.offset
    block = BLOCK
    while True:
        if target is not None and end >= target:
            if reader.offset > start:
                break
            target = end + block  # not one whole record within the limit: read on until there is one
        at = reader.offset
        want = block if target is None else min(block, target - at)
        fh.seek(at)
        data = fh.read(want)
        if not data:
            break
        reader.feed(data)
        end = at + len(data)
        if len(data) < want:
            break  # the end of the file
        block = block * 2 if reader.offset == at else BLOCK
    return end


def _edges(fh: Any, offset: int) -> tuple[bytes, bytes]:
    """The file's first `EDGE` bytes and the `EDGE` bytes before `offset`: what must not change under a reader."""
    fh.seek(0)
    head = fh.read(EDGE)
    fh.seek(max(0, offset - EDGE))
    return head, fh.read(offset - max(0, offset - EDGE))


def follow(followed: FollowedFile | None, path: Path, new_reader: Callable[[], Any], *, kind: str | None = None,
           restore: Callable[[dict[str, Any], dict[str, np.ndarray]], Any] | None = None,
           limit: int | None = None) -> FollowedFile:
    """`followed` brought up to date with `path`, or `path` read afresh when it is new, truncated, replaced or
    rewritten; OSError (FileNotFoundError when it is gone) if it cannot be read."""
    if followed is not None and followed.follow(path, path.stat(), limit):
        return followed
    return FollowedFile.read(path, new_reader, kind=kind, restore=restore, limit=limit)
