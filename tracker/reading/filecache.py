"""What a followed file was parsed into, cached on disk outside the runs tree (see `reading.follow`).

A foreign run reopened in a new process then costs reading its columns back (one read, a CRC, no parsing)
instead of framing and decoding every record again. An entry is one file under `<cache>/<kind>/`: a magic line,
the length of a JSON header, the header (the reader's state and what identifies the file), then the raw arrays,
8-byte aligned. It is trusted only for the same file (same path, device and inode) that still starts with the
same 4 KiB and holds the same 4 KiB before the offset read up to; at the same size, its mtime, ctime and last
4 KiB must be unchanged too (a rewrite in place is read again). A file that grew must also hold the same bytes
up to that offset (their CRC-32C, a few milliseconds for 50 MB against the parse it saves), since an append
moves its mtime and ctime as an edit would; it is then read from the cached offset on.

An entry that cannot be read, is cut short, fails its CRC or is of another version is ignored: the file is
parsed afresh, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import struct
from typing import TYPE_CHECKING, Any, BinaryIO

from ..files import open_binary
from .cachedir import cache_file

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

_MAGIC = b"runyard-parsed-file 2\n"
_EDGE = 4096
_ALIGN = 8


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _edges(fh: BinaryIO, offset: int, size: int) -> tuple[bytes, bytes, bytes]:
    """The file's first 4 KiB, the 4 KiB before `offset`, and its last 4 KiB (of `size` bytes)."""
    fh.seek(0)
    head = fh.read(_EDGE)
    fh.seek(max(0, offset - _EDGE))
    tail = fh.read(offset - max(0, offset - _EDGE))
    fh.seek(max(0, size - _EDGE))
    last = fh.read(size - max(0, size - _EDGE))
    return head, tail, last


def identity(fh: BinaryIO, stat: os.stat_result, offset: int) -> dict[str, Any]:
    """What tells this very file (open as `fh`, `stat` its fstat, read up to `offset`) from any other."""
    head, tail, last = _edges(fh, offset, stat.st_size)
    return {"dev": stat.st_dev, "ino": stat.st_ino, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "ctime_ns": stat.st_ctime_ns, "offset": offset,
            "head": _digest(head), "tail": _digest(tail), "last": _digest(last), "prefix": _prefix_crc(fh, offset)}


def _prefix_crc(fh: BinaryIO, offset: int) -> int:
    """The CRC-32C of the file's first `offset` bytes, read in 1 MiB pieces (a file of another writer is never
    mapped: one cut short under a mapping would kill this process)."""
    import crc32c

    crc = 0
    fh.seek(0)
    left = offset
    while left > 0:
        piece = fh.read(min(left, 1 << 20))
        if not piece:
            return -1
        crc = crc32c.crc32c(piece, crc)
        left -= len(piece)
    return crc


def entry_path(kind: str, key: str) -> Path:
    """Where the entry of file `key` (its absolute path) read by a reader of `kind` is kept."""
    return cache_file(kind, key, ".parsed")


Cached = tuple[dict[str, Any], dict[str, "np.ndarray"], int]  # a reader's state, its arrays, the offset read to


def store(kind: str, key: str, ident: dict[str, Any], state: dict[str, Any],
          arrays: list[tuple[str, np.ndarray]]) -> None:
    """Write an entry for file `key` (its absolute path), read by a reader of `kind`, atomically; one that
    cannot be written is not kept. `state` must be JSON (NaN and infinities allowed); `arrays` are 1-d numpy arrays."""
    import crc32c

    path = entry_path(kind, key)
    layout = [(name, array.dtype.str, len(array)) for name, array in arrays]
    body_parts: list[bytes | memoryview] = []
    for _, array in arrays:
        raw = memoryview(array).cast("B") if array.flags.c_contiguous else array.tobytes()
        body_parts.append(raw)
        body_parts.append(b"\0" * (-len(raw) % _ALIGN))
    crc = 0
    for part in body_parts:
        crc = crc32c.crc32c(part, crc)
    header = json.dumps({"key": key, "identity": ident, "state": state, "layout": layout, "crc": crc}).encode()
    header += b" " * (-(len(_MAGIC) + 8 + len(header)) % _ALIGN)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(_MAGIC + struct.pack("<Q", len(header)) + header)
            for part in body_parts:
                fh.write(part)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def load(kind: str, key: str, fh: BinaryIO, stat: os.stat_result) -> Cached | None:
    """The state, arrays (writable) and offset cached by a reader of `kind` for file `key`, open as `fh` with
    fstat `stat`, if the entry describes a prefix of this very file (see the module's docstring); None otherwise."""
    try:
        return _load(kind, key, fh, stat)
    except Exception:  # missing, unreadable, corrupt or foreign entry: parse the file instead
        return None


def _load(kind: str, key: str, fh: BinaryIO, stat: os.stat_result) -> Cached | None:
    import crc32c
    import numpy as np

    path = entry_path(kind, key)
    with open_binary(path) as cache:  # a FIFO put in the cache folder is not waited on
        start = cache.read(len(_MAGIC) + 8)
        if start[:len(_MAGIC)] != _MAGIC:
            return None
        (length,) = struct.unpack("<Q", start[len(_MAGIC):])
        meta = json.loads(cache.read(length))
        if meta["key"] != key:
            return None
        ident = meta["identity"]
        offset = int(ident["offset"])
        if (ident["dev"], ident["ino"]) != (stat.st_dev, stat.st_ino) or stat.st_size < offset:
            return None
        same_size = stat.st_size == ident["size"]
        if same_size and (ident["mtime_ns"], ident["ctime_ns"]) != (stat.st_mtime_ns, stat.st_ctime_ns):
            return None  # rewritten in place (or touched): not only appended to
        head, tail, last = _edges(fh, offset, stat.st_size)
        if (_digest(head), _digest(tail)) != (ident["head"], ident["tail"]):
            return None
        if same_size and _digest(last) != ident["last"]:
            return None
        if not same_size and _prefix_crc(fh, offset) != ident["prefix"]:
            return None  # grown, and changed in place within what was read (mtime and ctime tell nothing then)
        sizes = [np.dtype(dtype).itemsize * count for _, dtype, count in meta["layout"]]
        total = sum(size + (-size % _ALIGN) for size in sizes)
        at = cache.tell()
        if os.fstat(cache.fileno()).st_size != at + total:
            return None
        # Mapped copy-on-write rather than read: the columns are the page cache's pages until a reader writes to
        # one (a million rows are not copied once more to be read back), and writable all the same. Entries are
        # only ever replaced whole (`store` renames a new file over the old), never cut short in place, so the
        # mapped file keeps its length while the arrays live.
        body = np.frombuffer(mmap.mmap(cache.fileno(), 0, access=mmap.ACCESS_COPY), dtype=np.uint8, count=total,
                             offset=at) if total else np.empty(0, dtype=np.uint8)
    if crc32c.crc32c(body) != meta["crc"]:
        return None
    arrays: dict[str, np.ndarray] = {}
    at = 0
    for (name, dtype, _), size in zip(meta["layout"], sizes, strict=True):
        arrays[name] = body[at:at + size].view(dtype)
        at += size + (-size % _ALIGN)
    return meta["state"], arrays, offset
