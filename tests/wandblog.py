"""W&B's `.wandb` framing, written as wandb writes it, for the tests that read such logs."""

from __future__ import annotations

import struct
import zlib

HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)


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
