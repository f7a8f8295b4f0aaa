"""Append-only run files that a full disk cannot tear: each entry lands whole or not at all.

A write the disk refuses (ENOSPC, EDQUOT, EIO...) may land part of an entry before it fails; the next entry
would then be glued to that fragment. So the file's good size, where its last whole entry ends, is kept in
memory from the byte counts `os.write` returns (no `fstat` per write: a write the disk takes costs exactly what
it did before), and a failed write is undone with one `ftruncate` back to it. The entry, and every later one,
is held in memory, in order, and written ahead of the next entry the file is given, so rows reach the file as
soon as the disk takes them again. The memory held is bounded: past the bound the oldest entries are dropped
and counted (`dropped`), and the run records the count. Trouble is reported through `on_trouble`, never raised:
a full disk must not stop a training.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable

from .folder import RunFolder

# What the held entries may take, per file. A metrics row is 100-300 bytes of JSON, so 32 MiB holds 100,000 rows
# and more: hours of training at several rows a second, for a few percent of a training process's memory. The
# log and samples are told apart because their entries are larger and fewer; the checkpoint index is tiny.
METRICS_HELD = 32 << 20
LOG_HELD = 8 << 20
SAMPLES_HELD = 8 << 20
INDEX_HELD = 1 << 20
EVENTS_HELD = 32 << 20
_ENTRY_COST = 100  # Python's bookkeeping per held entry (bytes object, tuple, deque slot), counted in the bound
_BATCH = 1 << 20   # held entries are written back in writes of up to this much


class AppendFile:
    """One append-only file of a run, written entry by entry (`write`): a JSONL line, a log record, or a
    batch of TensorBoard records. `lines` says entries are lines, so a fragment that cannot be cut off is at
    least ended before the next entry."""

    def __init__(self, folder: RunFolder, name: str, *, limit: int, lines: bool = True, open_now: bool = True,
                 on_trouble: Callable[[str, OSError], None] | None = None) -> None:
        self.folder, self.name = folder, name
        self.limit = limit
        self.lines = lines
        self.on_trouble = on_trouble
        self.fd: int | None = None
        self.size = 0  # where the last whole entry ends
        self.held: deque[tuple[bytes, int]] = deque()  # (entry, how many lines or records it counts as)
        self.held_bytes = 0
        self.held_units = 0  # how many lines (or records) wait in memory
        self.dropped = 0
        self.error: OSError | None = None  # the last failure
        if open_now:
            self._open()

    def _open(self) -> None:
        directory = os.path.dirname(self.name)
        if directory:
            self.folder.mkdir(directory)
        fd = self.folder.open_append(self.name)
        try:
            self.size = os.fstat(fd).st_size
        except OSError:
            os.close(fd)
            raise
        self.fd = fd

    def write(self, data: bytes, units: int = 1) -> bool:
        """Append one entry (after any held ones); True if it is in the file, False if it is held."""
        if (self.held or self.fd is None) and not self._drain():
            self._hold(data, units)
            return self._report()
        try:
            written = os.write(self.fd, data)
        except OSError as exc:
            return self._refused(data, units, 0, exc)
        if written == len(data):
            self.size += written
            return True
        return self._rest(data, units, written)

    def _rest(self, data: bytes, units: int, written: int) -> bool:
        """A short write (the disk took part of the entry): the rest, or the whole entry undone."""
        view = memoryview(data)
        try:
            while written < len(data):
                written += os.write(self.fd, view[written:])
        except OSError as exc:
            return self._refused(data, units, written, exc)
        self.size += written
        return True

    def _refused(self, data: bytes, units: int, written: int, exc: OSError) -> bool:
        self.error = exc
        self._cut_back(written)
        self._hold(data, units)
        return self._report()

    def _cut_back(self, written: int) -> None:
        """Give the file back its last whole entry: cut off the `written` bytes of an entry that failed."""
        try:
            end = os.fstat(self.fd).st_size
        except OSError:
            end = self.size + written
        # the file shorter than we knew (cut by someone else): the fragment is its last `written` bytes
        good = self.size if end >= self.size else max(0, end - written)
        if end != good:
            try:
                os.ftruncate(self.fd, good)
            except OSError:
                self.size = end
                if self.lines:  # the fragment stays: the next entry must start a line of its own
                    self.held.appendleft((b"\n", 0))
                    self.held_bytes += 1 + _ENTRY_COST
                return
        self.size = good

    def _hold(self, data: bytes, units: int) -> None:
        """Keep an entry for later; past the bound, drop and count the oldest."""
        held = self.held
        held.append((data, units))
        self.held_bytes += len(data) + _ENTRY_COST
        self.held_units += units
        while self.held_bytes > self.limit and held:
            old, count = held.popleft()
            self.held_bytes -= len(old) + _ENTRY_COST
            self.held_units -= count
            self.dropped += count

    def _drain(self) -> bool:
        """Write the held entries in order; True when none is left. The first goes alone, so a disk still full
        costs one small write, not a large copy."""
        if self.fd is None:
            try:
                self._open()
            except OSError as exc:
                self.error = exc
                return False
        held, fd = self.held, self.fd
        alone = True
        while held:
            batch, size = [], 0
            for data, _ in held:
                batch.append(data)
                size += len(data)
                if alone or size >= _BATCH:
                    break
            alone = False
            blob = batch[0] if len(batch) == 1 else b"".join(batch)
            view, written = memoryview(blob), 0
            try:
                while written < size:
                    written += os.write(fd, view[written:])
            except OSError as exc:
                self.error = exc
                self._cut_back(written - self._release(written))
                return False
            self._release(size)
        return True

    def _release(self, written: int) -> int:
        """Let go of the held entries that lie whole in the first `written` bytes written; their byte count."""
        held, released = self.held, 0
        while held and released + len(held[0][0]) <= written:
            data, units = held.popleft()
            released += len(data)
            self.held_bytes -= len(data) + _ENTRY_COST
            self.held_units -= units
        self.size += released
        return released

    def _report(self) -> bool:
        if self.on_trouble is not None and self.error is not None:
            self.on_trouble(self.name, self.error)
        return False

    def retry(self) -> bool:
        """Try the held entries again; True when none is left."""
        return not self.held or self._drain() or self._report()

    def sync(self) -> bool:
        """fsync the file (on a network filesystem a full disk may show only here); False if that failed."""
        if self.fd is None:
            return not self.held
        try:
            os.fsync(self.fd)
        except OSError as exc:
            self.error = exc
            return self._report()
        return True

    def reopen(self) -> None:
        """Open the file by its name again (after a log rotation renamed it away); held entries go to the new
        file. Raises OSError if the new file cannot be opened (the old one stays in use)."""
        old = self.fd
        self.fd = None
        try:
            self._open()
        except OSError:
            self.fd = old
            raise
        if old is not None:
            with contextlib.suppress(OSError):
                os.close(old)

    def close(self) -> None:
        """Close the file; entries still held are dropped and counted."""
        self.dropped += self.held_units
        self.held.clear()
        self.held_bytes = self.held_units = 0
        if self.fd is not None:
            fd, self.fd = self.fd, None
            try:
                os.close(fd)
            except OSError as exc:
                self.error = exc
                self._report()
