"""W&B's `.wandb` framing, written as wandb writes it, for the tests that read such logs."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runyard.files import read_bytes
from runyard.layouts.wandb import _fold, _protobuf, _State

HEADER = _HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
_BLOCK = 32768
_CHUNK = struct.Struct("<IHB")  # crc32 (seeded with the type byte) of the data, data length, type
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_CRC_SEED = {kind: zlib.crc32(bytes([kind])) for kind in (_FULL, _FIRST, _MIDDLE, _LAST)}
_DAMAGED, _CUT = -1, -2  # pseudo chunk types: a bad chunk; the file ends inside a chunk


def frame_log(payloads: list[bytes], header: bool = True, after: int = 0) -> bytes:
    """Serialized records framed as wandb writes them: the header (unless `header` is false), then LevelDB
    chunks in 32 KiB blocks. With `after`, the chunks that follow a log of that many bytes (the block position
    goes on from there), without the header."""
    out = bytearray(after) if after else bytearray(HEADER if header else b"")
    for data in payloads:
        first, rest = True, data
        while True:
            room = 32768 - len(out) % 32768
            if room < 7:
                out += bytes(room)
                continue
            piece, rest = rest[:room - 7], rest[room - 7:]
            kind = (1 if not rest else 2) if first else (4 if not rest else 3)
            out += struct.pack("<IHB", zlib.crc32(piece, zlib.crc32(bytes([kind]))), len(piece), kind) + piece
            first = False
            if not rest:
                break
    return bytes(out[after:])


# The reader runyard had before its own decoder: chunks joined one by one in Python, every record parsed by
# wandb's protobuf classes. The tests compare the reader with it, record kind by record kind and damage by damage.


@dataclass
class Frames:
    """The complete records of a log, and what was lost or left unfinished on the way."""

    records: list[bytes] = field(default_factory=list)
    damaged: int = 0
    cut: bool = False  # the file ends inside a record: still being written, or cut short


def reference_load(path: Path) -> _State:
    """Every readable record of a `.wandb` file folded into a `_State`, one record at a time through wandb's
    protobuf classes, as runyard read them before its own decoder: what the reading `_Reader` must equal."""
    record_class, decode_error = _protobuf()
    state = _State()
    try:
        data = read_bytes(path)
    except OSError as exc:
        state.error = f"cannot read {path.name}: {exc.strerror or exc}"
        return state
    if not data.startswith(_HEADER) and not _HEADER.startswith(data):
        state.error = f"{path.name} is not a W&B transaction log (bad header)"
        return state
    frames = assemble(chunks(data))
    state.skipped, state.cut = frames.damaged, frames.cut
    for payload in frames.records:
        record = record_class()
        try:
            record.ParseFromString(payload)
        except decode_error:
            state.skipped += 1
            continue
        state.records += 1
        _fold(state, record)
    if not state.records and state.skipped:
        state.error = f"no readable record in {path.name} ({state.skipped} damaged)"
    return state


def chunks(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type, data) of each chunk after the header, `_DAMAGED` for a bad one, `_CUT` if the file ends in one."""
    pos = len(_HEADER)
    while pos < len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK.size:  # the block's zero trailer
            pos += room
            continue
        if pos + _CHUNK.size > len(data):
            yield _CUT, b""
            return
        crc, length, kind = _CHUNK.unpack_from(data, pos)
        start, end = pos + _CHUNK.size, pos + _CHUNK.size + length
        if kind == 0 and length == 0:  # zero padding up to the end of the block
            pos += room
        elif kind not in _CRC_SEED or length > room - _CHUNK.size:
            yield _DAMAGED, b""
            pos += room
        elif end > len(data):
            yield _CUT, b""
            return
        elif zlib.crc32(data[start:end], _CRC_SEED[kind]) != crc:
            yield _DAMAGED, b""
            pos += room
        else:
            yield kind, data[start:end]
            pos = end


def assemble(chunks: Iterable[tuple[int, bytes]]) -> Frames:
    """Joins FIRST, MIDDLE and LAST chunks into records; each damaged chunk or broken chain counts once."""
    out = Frames()
    parts: list[bytes] | None = None
    lost = False  # after damage, the orphaned rest of a record is not counted again
    for kind, data in chunks:
        if kind == _CUT:
            out.cut = True
        elif kind == _DAMAGED:
            out.damaged, parts, lost = out.damaged + 1, None, True
        elif kind in (_FULL, _FIRST):
            out.damaged += int(parts is not None)
            parts, lost = [data], False
        elif parts is not None:
            parts.append(data)
        else:
            out.damaged += int(not lost)
            lost = True
        if kind in (_FULL, _LAST) and parts is not None:
            out.records.append(b"".join(parts))
            parts = None
    out.cut = out.cut or parts is not None
    return out
