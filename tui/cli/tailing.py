"""`runyard tail`: print a log's last lines and follow it, with escape sequences stripped.

Following goes through `TailReader`, the one log-tail mechanism the app's log pane uses too: a log rotated under
it (renamed and recreated, or truncated in place) is read to its end first, then from the start of what took its
place, so every line is printed once, in order; stderr says where the log started over. A log that cannot be read
(no permission on it or on its run folder, a FIFO in its place) is one line on stderr and exit status 1, as every
error of the command line; found unreadable while following, it is said once on stderr and followed on. A reader
of the output that goes away (`runyard tail -f RUN | head -1`) ends the command, even while the log is quiet.
"""

from __future__ import annotations

import os
import select
import stat
import sys
import time
from collections import deque
from collections.abc import Callable
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
    following, it is printed once it ends. Any `lines` past the log's length means all of them. Raises
    TrackerError, saying why, for a log that cannot be read; BrokenPipeError when the output's reader went away."""
    reader = TailReader(path)
    first = reader.read()
    if first.problem is not None or first.not_regular:
        raise TrackerError(first.problem or first.not_regular_reason)
    last = first.lines
    if not follow and reader.pending:
        last.append(reader.pending)
    for raw in deque(last, maxlen=max(0, min(lines, sys.maxsize))):
        _emit(raw, as_json)
    sys.stdout.flush()
    problem = None
    reader_gone = _reader_gone_check() if follow else None
    while follow:
        time.sleep(poll)
        if reader_gone is not None and reader_gone():
            raise BrokenPipeError  # ends the command quietly, as a write into the closed pipe would
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


def _reader_gone_check() -> Callable[[], bool] | None:
    """A check that the reader of stdout went away, for a stdout that is a pipe (else None): a quiet log writes
    nothing, so no failed write would ever tell. The pipe is polled for errors only (POLLERR, POLLHUP), which is
    what a pipe whose reading end was closed reports."""
    if not hasattr(select, "poll"):
        return None
    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
    except (OSError, ValueError, AttributeError):  # no real file behind stdout (a test's capture)
        return None
    poller = select.poll()
    poller.register(fd, 0)  # no events asked for: errors and hang-ups are reported anyway
    return lambda: bool(poller.poll(0))


def _restart_note(path: Path, replaced: bool) -> str:
    if replaced:
        return f"{path.name} was replaced by a new file; following that one from its start"
    return f"{path.name} was truncated; reading it from the start"
