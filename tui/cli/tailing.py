"""`runyard tail`: print a log's last lines and follow it, with escape sequences stripped.

Following goes through `TailReader`, the one log-tail mechanism the app's log pane uses too: a log rotated under
it (renamed and recreated, or truncated in place) is read to its end first, then from the start of what took its
place, so every line is printed once, in order; stderr says where the log started over. A log that cannot be read
(no permission on it or on its run folder) is one line on stderr and exit status 1, as every error of the command
line; found unreadable while following, it is said once on stderr and followed on.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from pathlib import Path

from runyard import TailReader, TrackerError, clean_line


def _emit(raw: bytes, as_json: bool) -> None:
    line = clean_line(raw.decode("utf-8", errors="replace"))
    if as_json:
        import orjson

        sys.stdout.buffer.write(orjson.dumps({"line": line}) + b"\n")
    else:
        sys.stdout.write(line + "\n")


def _note(text: str) -> None:
    """A line on stderr, after the lines printed before it."""
    sys.stdout.flush()
    sys.stderr.write(f"runyard: {text}\n")
    sys.stderr.flush()


def tail_log(path: Path, lines: int, follow: bool, as_json: bool, poll: float = 0.25) -> None:
    """The last `lines` lines, then (with `follow`) every new one until Ctrl-C, through rotation and truncation.

    Without `follow`, a last line not ended yet (a progress bar being redrawn) is printed as it stands; when
    following, it is printed once it ends. Raises TrackerError, saying why, for a log that cannot be read."""
    reader = TailReader(path)
    first = reader.read()
    if first.problem is not None:
        raise TrackerError(first.problem)
    last = first.lines
    if not follow and reader.pending:
        last.append(reader.pending)
    for raw in deque(last, maxlen=max(0, lines)):
        _emit(raw, as_json)
    sys.stdout.flush()
    problem = None
    while follow:
        time.sleep(poll)
        chunk = reader.read()
        for i, raw in enumerate(chunk.lines):
            if chunk.reset and i == chunk.reset_at:
                _note(_restart_note(path, chunk.replaced))
            _emit(raw, as_json)
        if chunk.reset and chunk.reset_at == len(chunk.lines):
            _note(_restart_note(path, chunk.replaced))
        if chunk.problem is not None and chunk.problem != problem:
            _note(chunk.problem)
        problem = chunk.problem
        if chunk.lines:
            sys.stdout.flush()


def _restart_note(path: Path, replaced: bool) -> str:
    if replaced:
        return f"{path.name} was replaced by a new file; following that one from its start"
    return f"{path.name} was truncated; reading it from the start"
