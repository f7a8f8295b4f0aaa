"""How log files are decoded: UTF-8, unless a byte-order mark says UTF-16 (as Windows shells write redirected
output) or marks the UTF-8 itself. Every reader of text logs (sniffing, parsing, tailing, previews) decodes
through here, so a log reads the same everywhere; bytes that do not decode become U+FFFD, never an error.
"""

from __future__ import annotations

import codecs
import os
from collections import deque

from ..files import open_binary

# Longest first where one mark begins another; UTF-32 marks are not honoured (FF FE 00 00 reads as UTF-16).
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
SNIFF_BYTES = 3  # enough of a file's head to tell its encoding


def sniff_encoding(head: bytes) -> tuple[str, int] | None:
    """(codec, length of its byte-order mark) for a file starting with `head`; None while `head` is a proper
    prefix of a mark (a file just being written: ask again with more bytes)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec, len(bom)
    if len(head) < SNIFF_BYTES and any(bom.startswith(head) for bom, _ in _BOMS):  # an empty head too
        return None
    return "utf-8", 0


def decode_text(data: bytes) -> str:
    """A whole file's bytes (or its head) as text, its byte-order mark removed."""
    codec, bom = sniff_encoding(data[:SNIFF_BYTES]) or ("utf-8", 0)
    return data[bom:].decode(codec, errors="replace")


def read_text(path: str | os.PathLike, limit: int | None = None) -> str:
    """A log file (or its first `limit` bytes) as text; raises OSError."""
    with open_binary(path) as fh:
        return decode_text(fh.read() if limit is None else fh.read(limit))


def utf8_transcoder(codec: str) -> codecs.IncrementalDecoder | None:
    """An incremental decoder for a file in `codec`, whose output the readers re-encode as UTF-8; None for
    UTF-8, which is passed through as bytes (the common case costs nothing)."""
    return None if codec == "utf-8" else codecs.getincrementaldecoder(codec)(errors="replace")


def read_last_lines(path: str | os.PathLike | None, count: int, max_bytes: int = 64 * 1024) -> list[str]:
    """The last `count` lines of a log as text, reading at most its last `max_bytes` (for previews); raises
    NotRegularFile for a FIFO or a device, reads a missing file as empty, and raises OSError for one that cannot be
    read (so that the caller can say why)."""
    if path is None or count <= 0:
        return []
    try:
        with open_binary(path) as fh:
            codec, bom = sniff_encoding(fh.read(SNIFF_BYTES)) or ("utf-8", 0)
            size = fh.seek(0, os.SEEK_END)
            start = max(bom, size - max_bytes)
            if codec != "utf-8" and (start - bom) % 2:
                start += 1  # stay on a UTF-16 code unit
            fh.seek(start)
            data = fh.read()
    except (FileNotFoundError, NotADirectoryError):
        return []
    lines = data.decode(codec, errors="replace").split("\n")
    if start > bom:
        lines = lines[1:]  # the first one is probably cut
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in deque(lines, maxlen=count)]
