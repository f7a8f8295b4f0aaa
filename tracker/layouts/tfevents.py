"""TFRecord framing and a vectorised decoder for the Event records that make up nearly all of an event file.

A record is `uint64 length | uint32 masked crc32c(length) | data | uint32 masked crc32c(data)`. The records'
offsets are found by following the length prefixes, guessing that a repeating pattern of lengths goes on and
checking the guess on a strided view of the whole buffer at once; both CRCs are checked with numpy, using that
a CRC is affine in the bytes: a record's CRC is a reference record's CRC xor one table look-up per byte
position where the two differ.

Events are decoded by shape: the first record of a not-yet-seen shape is parsed field by field here and
checked against TensorBoard's protobuf classes; every record of the same length whose bytes match it outside
the wall time, step and values (a valid varint at the step's place) has the same structure, and its numbers are
read column-wise. The shapes understood are an Event of `wall_time`, `step` and a `summary` of values, each a
`simple_value`, or a scalar float/double tensor whose own metadata names the `scalars` plugin. Everything else
(file_version, graphs, text, hparams, images, histograms, tensors without metadata, unknown fields) is left to
the caller, who decodes it with the protobuf classes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF
_PROBE = 16           # records walked one by one before guessing that their pattern of lengths repeats
_MAX_PERIOD = 8
_MAX_SHAPES = 16      # shapes tried per record length before the rest of that length goes to the caller


@lru_cache(maxsize=1)
def _table() -> np.ndarray:
    """CRC-32C's byte table (reflected, polynomial 0x82F63B78)."""
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(0x82F63B78), t >> 1).astype(np.uint32)
    return t


@lru_cache(maxsize=256)
def _position_tables(length: int) -> np.ndarray:
    """Per byte position of a `length`-byte message, what a byte value there adds (xor) to the CRC."""
    t = _table()
    out = np.empty((length, 256), dtype=np.uint32)
    row = t.copy()
    for k in range(length - 1, -1, -1):
        out[k] = row
        row = (row >> 8) ^ t[row & 0xFF]
    return out


def _mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masking of CRCs, element-wise on uint32."""
    crc = crc.astype(np.uint32)
    return (((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(_MASK_DELTA)).astype(np.uint32)


def masked_crcs(rows: np.ndarray) -> np.ndarray:
    """The masked CRC-32C of each row of an (n, length) uint8 matrix."""
    import crc32c

    n, length = rows.shape
    if n == 0:
        return np.empty(0, dtype=np.uint32)
    ref = rows[0]
    crc = np.full(n, crc32c.crc32c(ref.tobytes()), dtype=np.uint32)
    tables = _position_tables(length)
    differs = np.flatnonzero((rows != ref).any(axis=0)) if n > 1 else ()
    for k in differs:
        crc ^= tables[k][rows[:, k] ^ ref[k]]
    return _mask(crc)


def _windows(buf: np.ndarray, width: int) -> np.ndarray:
    """Every `width`-byte window of `buf`, as a view."""
    return np.lib.stride_tricks.as_strided(buf, shape=(max(len(buf) - width + 1, 0), width), strides=(1, 1))


def _gather(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The `width` bytes at each of `starts`, an (n, width) matrix."""
    if width == 0:
        return np.empty((len(starts), 0), dtype=np.uint8)
    return _windows(buf, width)[starts]


@dataclass
class Frames:
    """The complete records of a buffer whose CRCs check: their data offsets and lengths, in order."""

    starts: np.ndarray   # offset of each record's data
    lengths: np.ndarray
    end: int             # where the next, still incomplete, record begins (or the buffer's end)
    skipped: int = 0     # corrupt stretches and records passed over
    resyncing: bool = False  # `end` is inside a corrupt stretch: go on looking for a header from there


def _chain(data: bytes, buf: np.ndarray, pos: int) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Record header offsets and lengths followed from `pos`, trusting lengths (their CRCs are checked later),
    up to the first record that does not fit in the buffer; returns (offsets parts, lengths parts, its offset)."""
    size = len(data)
    unpack = struct.unpack_from
    offs: list[np.ndarray] = []
    lens: list[np.ndarray] = []
    while pos + 12 <= size:
        probe_offs, probe_lens = [], []
        p = pos
        while len(probe_offs) < _PROBE and p + 12 <= size:
            length = unpack("<Q", data, p)[0]
            if p + 16 + length > size:
                break
            probe_offs.append(p)
            probe_lens.append(length)
            p += 16 + length
        if not probe_offs:
            break
        period = _period(probe_lens)
        if period:
            pattern = probe_lens[:period]
            stride = sum(pattern) + 16 * period
            phase = np.cumsum([0, *(x + 16 for x in pattern[:-1])])
            bad = None
            for j, (ph, expect) in enumerate(zip(phase.tolist(), pattern, strict=True)):
                first = pos + ph
                count = (size - first - 16 - expect) // stride + 1 if first + 16 + expect <= size else 0
                if count <= 0:
                    here = j
                else:
                    view = np.ndarray((count,), dtype="<u8", buffer=data, offset=first, strides=(stride,))
                    wrong = np.flatnonzero(view != expect)
                    here = (int(wrong[0]) if len(wrong) else count) * period + j
                bad = here if bad is None else min(bad, here)
            seq = np.arange(bad, dtype=np.int64)
            pat = np.asarray(pattern, dtype=np.int64)
            offs.append(pos + (seq // period) * stride + phase[seq % period])
            lens.append(pat[seq % period])
            pos = pos + (bad // period) * stride + int(phase[bad % period])
        else:
            offs.append(np.asarray(probe_offs, dtype=np.int64))
            lens.append(np.asarray(probe_lens, dtype=np.int64))
            pos = p
        if len(probe_offs) < _PROBE and not period:
            break  # the probe stopped at a record that does not fit
    return offs, lens, pos


def _period(lengths: list[int]) -> int:
    """The shortest period with which `lengths` repeat, seen at least twice over; 0 if none."""
    for q in range(1, min(_MAX_PERIOD, len(lengths) // 2) + 1):
        if all(lengths[i] == lengths[i - q] for i in range(q, len(lengths))):
            return q
    return 0


def _header_ok(data: bytes, pos: int) -> bool:
    """True if a record header at `pos` has a length CRC that checks."""
    import crc32c

    c = crc32c.crc32c(data[pos:pos + 8])
    return (((c >> 15) | (c << 17)) + _MASK_DELTA) & _U32 == struct.unpack_from("<I", data, pos + 8)[0]


def _resync(data: bytes, pos: int) -> int:
    """The next offset from `pos` where a record header's length CRC checks, or the end of the data."""
    size = len(data)
    while pos + 12 <= size:
        if _header_ok(data, pos):
            return pos
        pos += 1
    return max(pos, len(data) - 11, 0) if pos < len(data) else len(data)


_SMALL = 64  # records at most that a piece is framed one by one: numpy's fixed costs outweigh its speed below


def _frame_small(data: bytes, pos: int) -> Frames | None:
    """The records of a small, undamaged piece, walked one by one (a live file's append is a few records);
    None when it holds more than `_SMALL` records or a CRC fails, for `frame`'s general path."""
    import crc32c

    size = len(data)
    unpack = struct.unpack_from
    starts: list[int] = []
    lengths: list[int] = []
    while pos + 12 <= size:
        if len(starts) == _SMALL:
            return None
        length = unpack("<Q", data, pos)[0]
        c = crc32c.crc32c(data[pos:pos + 8])
        if (((c >> 15) | (c << 17)) + _MASK_DELTA) & _U32 != unpack("<I", data, pos + 8)[0]:
            return None
        if pos + 16 + length > size:
            break
        c = crc32c.crc32c(data[pos + 12:pos + 12 + length])
        if (((c >> 15) | (c << 17)) + _MASK_DELTA) & _U32 != unpack("<I", data, pos + 12 + length)[0]:
            return None
        starts.append(pos + 12)
        lengths.append(length)
        pos += 16 + length
    return Frames(np.asarray(starts, dtype=np.int64), np.asarray(lengths, dtype=np.int64), min(pos, size))


def frame(data: bytes, pos: int = 0, resyncing: bool = False) -> Frames:
    """The records of `data` from offset `pos`, both CRCs checked; a corrupt stretch is skipped up to the next
    header whose length CRC checks, a record whose data CRC fails is skipped, and a record cut short at the end
    is left for later (`end`)."""
    if not resyncing and len(data) - pos <= _SMALL * 1024:
        small = _frame_small(data, pos)
        if small is not None:
            return small
    buf = np.frombuffer(data, dtype=np.uint8)
    size = len(data)
    starts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    skipped = 0
    if resyncing:
        pos = _resync(data, pos)
    while pos + 12 <= size:
        offs_parts, lens_parts, stop = _chain(data, buf, pos)
        offs = np.concatenate(offs_parts) if offs_parts else np.empty(0, np.int64)
        lens = np.concatenate(lens_parts) if lens_parts else np.empty(0, np.int64)
        header_crc = masked_crcs(_gather(buf, offs, 8))
        stored = _gather(buf, offs + 8, 4).copy().view("<u4").reshape(-1) if len(offs) else header_crc
        wrong = np.flatnonzero(header_crc != stored)
        if len(wrong):
            first = int(wrong[0])
            stop, broken = int(offs[first]), True
            offs, lens = offs[:first], lens[:first]
        else:
            broken = stop + 12 <= size and not _header_ok(data, stop)
        good = _data_ok(buf, offs, lens)
        skipped += int(len(good) - np.count_nonzero(good))
        starts.append(offs[good] + 12)
        lengths.append(lens[good])
        if not broken:
            pos = stop
            break
        skipped += 1
        pos = _resync(data, stop + 1)
        if pos + 12 > size:
            return Frames(_cat(starts), _cat(lengths), pos, skipped, resyncing=True)
    return Frames(_cat(starts), _cat(lengths), min(pos, size), skipped)


def _cat(parts: list[np.ndarray]) -> np.ndarray:
    """The int64 arrays concatenated."""
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def _data_ok(buf: np.ndarray, offs: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Whether each record's data CRC checks, records grouped by length."""
    good = np.zeros(len(offs), dtype=bool)
    for length in np.unique(lens).tolist():
        idx = np.flatnonzero(lens == length)
        crc = masked_crcs(_gather(buf, offs[idx] + 12, length))
        stored = _gather(buf, offs[idx] + 12 + length, 4).copy().view("<u4").reshape(-1)
        good[idx] = crc == stored
    return good


# -- decoding by shape ------------------------------------------------------------------------------------


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A varint at `pos` (its value, the offset after it); raises ValueError if it runs past `end`."""
    result = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise ValueError("bad varint")
        b = data[pos]
        result |= (b & 0x7F) << shift
        pos += 1
        if not b & 0x80:
            return result, pos
        shift += 7


@dataclass
class Shape:
    """The layout of one understood Event record: where its numbers are; every other byte is fixed."""

    length: int
    template: bytes
    wall: int | None = None                     # offset of wall_time's 8 bytes
    step: tuple[int, int] | None = None         # offset and byte count of step's varint
    values: list[tuple[str, int, str]] = field(default_factory=list)  # (tag, offset, "f4" | "f8")
    scalars_tags: list[str] = field(default_factory=list)  # tags whose metadata names the scalars plugin

    def fixed(self) -> np.ndarray:
        """The byte positions that every record of this shape has equal to the template."""
        moving = np.zeros(self.length, dtype=bool)
        if self.wall is not None:
            moving[self.wall:self.wall + 8] = True
        if self.step is not None:
            moving[self.step[0]:self.step[0] + self.step[1]] = True
        for _, offset, kind in self.values:
            moving[offset:offset + (4 if kind == "f4" else 8)] = True
        return np.flatnonzero(~moving)


def shape_of(data: bytes) -> Shape | None:
    """The shape of an Event record if it is one this module decodes (checked against the protobuf classes)."""
    try:
        shape = _parse_event(data)
    except (ValueError, IndexError):
        return None
    if shape is None or not _agrees(shape, data):
        return None
    return shape


def _parse_event(data: bytes) -> Shape | None:
    """Walk an Event's fields; None at anything outside the understood shapes."""
    end = len(data)
    shape = Shape(length=end, template=data)
    seen: set[int] = set()
    pos = 0
    summary: tuple[int, int] | None = None
    while pos < end:
        key, pos = _varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if number in seen:
            return None
        seen.add(number)
        if number == 1 and wire == 1:
            shape.wall = pos
            pos += 8
        elif number == 2 and wire == 0:
            start = pos
            _, pos = _varint(data, pos, end)
            if pos - start == 10 and data[pos - 1] > 1:
                return None
            shape.step = (start, pos - start)
        elif number == 5 and wire == 2:
            size, pos = _varint(data, pos, end)
            summary = (pos, pos + size)
            pos += size
        else:
            return None
    if pos != end or summary is None:
        return None
    pos, stop = summary
    while pos < stop:
        key, pos = _varint(data, pos, stop)
        if key != 0x0A:
            return None
        size, pos = _varint(data, pos, stop)
        if not _parse_value(data, pos, pos + size, shape):
            return None
        pos += size
    return shape if pos == stop and shape.values else None


def _parse_value(data: bytes, pos: int, end: int, shape: Shape) -> bool:
    """Add one Summary.Value to `shape`; False if it is not a simple value or a self-described scalar tensor."""
    tag = b""
    number: tuple[int, str] | None = None
    metadata = tensor = False
    seen: set[int] = set()
    while pos < end:
        key, pos = _varint(data, pos, end)
        field_number, wire = key >> 3, key & 7
        if field_number in seen:
            return False
        seen.add(field_number)
        if field_number == 2 and wire == 5:
            number = (pos, "f4")
            pos += 4
            continue
        if wire != 2:
            return False
        size, pos = _varint(data, pos, end)
        if field_number == 1:
            tag = data[pos:pos + size]
        elif field_number == 9:
            metadata = True
        elif field_number == 8:
            tensor = True
            number = _parse_tensor(data, pos, pos + size)
            if number is None:
                return False
        else:
            return False
        pos += size
    if pos != end or number is None or (tensor and (not metadata or 2 in seen)):
        return False
    shape.values.append((tag.decode("utf-8"), number[0], number[1]))
    if tensor:
        shape.scalars_tags.append(tag.decode("utf-8"))
    return True


def _parse_tensor(data: bytes, pos: int, end: int) -> tuple[int, str] | None:
    """Where a scalar float/double tensor's one value is: float_val, double_val or tensor_content."""
    dtype = 0
    found: dict[int, tuple[int, int]] = {}
    while pos < end:
        key, pos = _varint(data, pos, end)
        number, wire = key >> 3, key & 7
        if number in found or (number == 1 and wire == 0 and dtype):
            return None
        if number == 1 and wire == 0:
            dtype, pos = _varint(data, pos, end)
            continue
        if wire != 2 or number not in (2, 4, 5, 6):
            return None
        size, pos = _varint(data, pos, end)
        found[number] = (pos, size)
        pos += size
    if pos != end or found.get(2, (0, 0))[1] != 0:
        return None  # a shape with dimensions: not a scalar
    if 5 in found:
        return (found[5][0], "f4") if found[5][1] == 4 and len(found) - (2 in found) == 1 else None
    if 6 in found:
        return (found[6][0], "f8") if found[6][1] == 8 and len(found) - (2 in found) == 1 else None
    if 4 in found and len(found) - (2 in found) == 1:
        if dtype == 1 and found[4][1] == 4:
            return found[4][0], "f4"
        if dtype == 2 and found[4][1] == 8:
            return found[4][0], "f8"
    return None


def _agrees(shape: Shape, data: bytes) -> bool:
    """True if TensorBoard's protobuf classes read `data` as `shape` does, bit for bit."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto.event_pb2 import Event

    try:
        event = Event.FromString(data)
    except DecodeError:
        return False
    wall, step, values = decode_one(shape, data)
    if struct.pack("<d", event.wall_time) != struct.pack("<d", wall) or event.step != step:
        return False
    if len(event.summary.value) != len(values):
        return False
    for value, (tag, number) in zip(event.summary.value, values, strict=True):
        if value.tag != tag:
            return False
        if value.WhichOneof("value") == "simple_value":
            theirs: Any = value.simple_value
        elif value.metadata.plugin_data.plugin_name == "scalars":
            theirs = tensor_scalar(value.tensor)
        else:
            return False
        if theirs is None or struct.pack("<d", theirs) != struct.pack("<d", number):
            return False
    return True


def tensor_scalar(tensor: Any) -> float | None:
    """The value of a scalar tensor summary: from float_val or double_val, else any encoding numpy can read."""
    if tensor.float_val:
        return tensor.float_val[0]
    if tensor.double_val:
        return tensor.double_val[0]
    from tensorboard.util import tensor_util

    try:
        values = tensor_util.make_ndarray(tensor)
        return float(values.reshape(-1)[0]) if values.size else None
    except (TypeError, ValueError):
        return None


def decode_one(shape: Shape, data: bytes) -> tuple[float, int, list[tuple[str, float]]]:
    """Wall time, step and (tag, value) pairs of one record of `shape`."""
    wall = struct.unpack_from("<d", data, shape.wall)[0] if shape.wall is not None else 0.0
    step = 0
    if shape.step is not None:
        step, _ = _varint(data, shape.step[0], len(data))
        if step >= 1 << 63:
            step -= 1 << 64
    values = [(tag, struct.unpack_from("<f" if kind == "f4" else "<d", data, offset)[0])
              for tag, offset, kind in shape.values]
    return wall, step, values


@dataclass
class Decoded:
    """Records decoded by shape: their indices (in the frames), wall times, steps, and values per shape value."""

    index: np.ndarray
    walls: np.ndarray
    steps: np.ndarray
    shape: Shape
    values: list[np.ndarray]


def decode(data: bytes, frames: Frames, known: dict[int, list[Shape]] | None = None,
           ) -> tuple[list[Decoded], np.ndarray]:
    """Decode every record of an understood shape; returns the decoded groups and the indices of the others.

    `known` (by record length) holds the shapes found in earlier pieces of the same file, tried first and added
    to: a followed file's appends are then decoded without parsing and cross-checking a first record again.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    groups: list[Decoded] = []
    rest: list[np.ndarray] = []
    lens = frames.lengths
    known = {} if known is None else known
    for length in np.unique(lens).tolist():
        left = np.flatnonzero(lens == length)
        rows = _gather(buf, frames.starts[left], length)
        tried = list(known.get(length, ()))
        tries, budget = 0, _MAX_SHAPES + len(tried)
        while len(left) and tries < budget:
            tries += 1
            if tried:
                shape = tried.pop(0)
            else:
                first = int(frames.starts[left[0]])
                shape = shape_of(data[first:first + length])
                if shape is None:
                    rest.append(left[:1])
                    left, rows = left[1:], rows[1:]
                    continue
                same_length = known.setdefault(length, [])
                if len(same_length) < _MAX_SHAPES:
                    same_length.append(shape)
            fixed = shape.fixed()
            template = np.frombuffer(shape.template, dtype=np.uint8)
            match = (rows[:, fixed] == template[fixed]).all(axis=1)
            steps = np.zeros(len(rows), dtype=np.uint64)
            if shape.step is not None:
                offset, count = shape.step
                for i in range(count):
                    b = rows[:, offset + i]
                    if i < count - 1:
                        match &= (b & 0x80) != 0
                    else:
                        match &= (b & 0x80) == 0
                        if count == 10:
                            match &= b <= 1
                    steps |= (b & 0x7F).astype(np.uint64) << np.uint64(7 * i)
            hit = np.flatnonzero(match)
            mine = rows[hit]
            walls = (mine[:, shape.wall:shape.wall + 8].copy().view("<f8").reshape(-1)
                     if shape.wall is not None else np.zeros(len(hit)))
            values = []
            for _, offset, kind in shape.values:
                width = 4 if kind == "f4" else 8
                raw = mine[:, offset:offset + width].copy().view("<" + kind).reshape(-1)
                values.append(raw.astype(np.float64))
            if len(hit):
                groups.append(Decoded(left[hit], walls, steps[hit].view(np.int64), shape, values))
            miss = ~match
            left, rows = left[miss], rows[miss]
        if len(left):
            rest.append(left)
    others = np.sort(np.concatenate(rest)) if rest else np.empty(0, np.int64)
    return groups, others
