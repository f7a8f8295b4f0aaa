"""`runyard tail`: print a log's last lines and follow it, with escape sequences stripped."""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path

from runyard import TailReader, clean_line


def _emit(raw: bytes, as_json: bool) -> None:
    line = clean_line(raw.decode("utf-8", errors="replace"))
    if as_json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps({"line": line}) + b"\n")
    else:
        sys.stdout.write(line + "\n")


def tail_log(path: Path, lines: int, follow: bool, as_json: bool, poll: float = 0.25) -> None:
    """The last `lines` lines, then (with `follow`) every new one until Ctrl-C; survives truncation.

    Without `follow`, a last line not ended yet (a progress bar being redrawn) is printed as it stands; when
    following, it is printed once it ends."""
    reader = TailReader(path)
    last = reader.read().lines
    if not follow and reader.pending:
        last.append(reader.pending)
    for raw in deque(last, maxlen=max(0, lines)):
        _emit(raw, as_json)
    sys.stdout.flush()
    while follow:
        time.sleep(poll)
        chunk = reader.read()
        if chunk.reset:
            sys.stderr.write(f"runyard: {path.name} was truncated or replaced; reading it from the start\n")
        for raw in chunk.lines:
            _emit(raw, as_json)
        if chunk.lines:
            sys.stdout.flush()
