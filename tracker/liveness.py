"""A run's status as of now: what its files say, corrected by liveness evidence. Every liveness rule lives here.

Layouts report facts only (the status their files state, the heartbeat, the last write, what a run becomes
once quiet), so that a cached listing ages exactly as a fresh read would; the status shown is derived from
those facts here, at read time. `running` runs become `crashed` when their heartbeat is older than three
intervals or their pid is gone on this host, and `stalled` when alive but with no new metric row for far longer
than their own median interval. Layouts without a heartbeat judge a run by its files instead: not written for
`STALE_AFTER`, its process is gone, and the run takes the layout's `quiet_status` (finished, interrupted or
crashed, as the tool's own conventions have it). The writer asks the same questions before resuming a run
folder (is its old process still there?).

Ages are measured on what this machine observes, never by setting a run's own clock against ours: a run written
on a host whose clock is hours off would otherwise stay running forever, or be called crashed while it trains.
A heartbeat's age is that of the write the filesystem dated (the mtime of the file it rewrites: this machine's
clock, or on NFS its server's), and a process that follows a run (the app) also knows whether the heartbeat
advanced between its own looks (`Sightings`). A run's clock is compared only with itself, and where it visibly
differs from ours the run says so (`clock_ahead`) rather than being hidden.
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
import threading
import time
from collections.abc import Iterable
from functools import cache
from typing import Any

from .model import CRASHED, RUNNING, STALLED, RunInfo

HEARTBEAT_MISSES = 3    # a heartbeat older than three intervals: the writer is gone
DEFAULT_HEARTBEAT = 10.0  # seconds, when a run does not say
STALE_AFTER = 600.0     # a run without a heartbeat whose files were not written for 10 minutes is over (LEET's rule)
STALL_FACTOR = 20       # no row for 20 median intervals ...
STALL_FLOOR = 120.0     # ... and at least two minutes: an eval pass or a checkpoint save is not a stall
CLOCK_TOLERANCE = 120.0  # a run's clock this far from ours is called out (NTP keeps clocks within a second)
ZONES_APART = 26 * 3600.0  # the widest gap between two time zones' wall clocks (UTC-12 to UTC+14)


@cache
def this_host() -> str:
    """This machine's host name, as the writer records it in run.json."""
    import socket

    return socket.gethostname()


def pid_alive(pid: Any) -> bool:
    """True if a process with this pid exists on this host (False for anything that is not a pid)."""
    if type(pid) is not int or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def pid_gone(host: str | None, pid: Any) -> bool:
    """True when the run's process ran on this host and no longer exists; unknowable elsewhere, so False."""
    return type(pid) is int and pid > 0 and host == this_host() and not pid_alive(pid)


def heartbeat_stale(heartbeat: float | None, interval: float | None, now: float) -> bool:
    """True when a heartbeat written at `heartbeat` (by the clock `now` is read on) is older than `HEARTBEAT_MISSES`
    intervals (no heartbeat at all: nothing to judge)."""
    if heartbeat is None:
        return False
    return now - heartbeat > HEARTBEAT_MISSES * (interval or DEFAULT_HEARTBEAT)


def went_quiet(last_write: float | None, now: float | None = None) -> bool:
    """True when a run without a heartbeat wrote nothing for `STALE_AFTER` seconds (nothing known: quiet)."""
    if last_write is None:
        return True
    return (time.time() if now is None else now) - last_write > STALE_AFTER


def quiet_since(info: RunInfo) -> float | None:
    """The last sign of life of a run without a heartbeat: its files' last write, as the filesystem dated it.

    The time its own lines state counts only where it lies further back than any two clocks differ (two time zones
    apart): that log is a copy of an old one (copied today, its lines are not), quiet since its last line. A live
    log written by a clock that runs behind ours is still live.
    """
    if info.last_write is None:
        return info.last_logged
    if info.last_logged is not None and info.last_write - info.last_logged > ZONES_APART:
        return info.last_logged
    return info.last_write


def last_beat(info: RunInfo) -> float | None:
    """When a run with a heartbeat last beat, as the filesystem dated the write (`heartbeat_write`); the beat's
    own stamp only when no write was observed (facts assembled by hand, not read from a run folder)."""
    return info.heartbeat_write if info.heartbeat_write is not None else info.heartbeat


class Sightings:
    """What this process saw of unfinished runs over time, by this machine's clock alone.

    A run's sign of life (its heartbeat, or the write time of its rows) unchanged since we first saw it at `since`
    means the run has been silent at least `now - since`; a sign that moved on after we last saw the one before
    (at `before`) means it spoke at most `now - before` ago. Both hold whatever the run's clock or its file
    server's says, and bound the age the write times give. A one-shot listing has seen nothing before and goes
    by the write times alone; the app, which looks every second, knows more.
    """

    LIMIT = 30_000  # signs remembered (three a run at most); the longest unseen are forgotten first

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signs: dict[tuple[str, str], tuple[tuple, float, float, float | None]] = {}

    def bounds(self, key: tuple[str, str], token: tuple, now: float) -> tuple[float, float | None]:
        """(at least, at most) seconds since the sign of life `token` of `key` (run path, kind) was given, from
        what was seen of it until `now`."""
        with self._lock:
            seen = self._signs.pop(key, None)
            if seen is None or seen[0] != token:
                before = seen[2] if seen is not None and _later(token, seen[0]) else None
                seen = (token, now, now, before)
            else:
                seen = (token, min(seen[1], now), max(seen[2], now), seen[3])
            self._signs[key] = seen  # last in line: the most recently seen are kept longest
            if len(self._signs) > self.LIMIT:
                del self._signs[next(iter(self._signs))]
        _, since, _, before = seen
        return max(0.0, now - since), (max(0.0, now - before) if before is not None else None)

    def clear(self) -> None:
        with self._lock:
            self._signs.clear()


def _later(token: tuple, before: tuple) -> bool:
    """True if a sign of life moved on: a stamp or write time later than before, each compared with its own kind
    (a clock that is off does not matter); one that went back is no sign of life."""
    moved = False
    for new, old in zip(token, before, strict=True):
        if new is not None and old is not None:
            if new < old:
                return False
            moved = moved or new > old
    return moved


SEEN = Sightings()  # what this process saw; the reading side settles every status with it


def silent_for(info: RunInfo, kind: str, token: tuple, since: float | None, now: float,
               seen: Sightings | None) -> float | None:
    """Seconds a run's sign of life of `kind` has been silent as of `now`: `now - since` (`since`: when the
    filesystem dated it), bounded by what `seen` saw of `token`; None when nothing tells."""
    if since is None:
        return None
    silent = now - since
    if seen is None:
        return silent
    least, most = seen.bounds((str(info.path), kind), token, now)
    silent = max(silent, least)
    return min(silent, most) if most is not None else silent


def clock_ahead(info: RunInfo, now: float | None = None) -> float | None:
    """How far a run's own clock runs ahead of this machine's (negative: behind), where it shows by more than
    `CLOCK_TOLERANCE`; None otherwise.

    It shows where the run stamps a write the filesystem also dates (its heartbeat in run.json, its log's last
    line), and where its start lies in the future. A clock behind ours is told only while the run is live: a
    copied folder is new on disk but its stamps are not, and says nothing of a clock.
    """
    now = time.time() if now is None else now
    offset = None
    if info.heartbeat is not None and info.heartbeat_write is not None:
        offset = info.heartbeat - info.heartbeat_write
        if offset < 0 and info.status not in (RUNNING, STALLED):
            offset = None
    elif info.last_logged is not None and info.last_write is not None and info.last_logged > info.last_write:
        offset = info.last_logged - info.last_write  # a line dated after its file was last written
    if info.created is not None and info.created - now > max(offset or 0.0, CLOCK_TOLERANCE):
        offset = info.created - now  # started in the future: ahead by that much at least
    return offset if offset is not None and abs(offset) > CLOCK_TOLERANCE else None


def stalled(last_write: float | None, interval_median: float | None, now: float) -> bool:
    """True when a live run wrote no row for `STALL_FACTOR` of its median intervals, and at least `STALL_FLOOR`."""
    if last_write is None or not interval_median:
        return False
    return now - last_write > max(STALL_FACTOR * interval_median, STALL_FLOOR)


def interval_median(times: Iterable[float]) -> float | None:
    """Median seconds between consecutive rows, the pace a stall is judged by.

    Only forward steps of the clock count: rows of the same moment and a clock set back say nothing about the
    pace, and NaN or infinite times are left out. An array is handled by numpy, a plain sequence without it
    (the writer computes this in the training process).
    """
    if hasattr(times, "dtype"):
        import numpy as np

        array = np.asarray(times, dtype=np.float64)
        gaps = np.diff(array[np.isfinite(array)])
        gaps = gaps[gaps > 0]
        return float(np.median(gaps)) if gaps.size else None
    finite = [t for t in times if math.isfinite(t)]
    gaps = [b - a for a, b in itertools.pairwise(finite) if b > a]
    return float(statistics.median(gaps)) if gaps else None


def derive_status(info: RunInfo, now: float | None = None, seen: Sightings | None = None) -> str:
    """The status to show for `info` at time `now`, from the facts its layout reported (and from what `seen`, the
    process's memory of earlier looks at the run, saw of it: `SEEN` for the reading side)."""
    stated = info.stated_status or info.status
    if stated != RUNNING:
        return stated
    now = time.time() if now is None else now
    if pid_gone(info.host, info.pid):
        return CRASHED
    # every sign is looked at on every look, so that `seen` knows each one's history when it matters
    beat = None if info.heartbeat is None else silent_for(
        info, "heartbeat", (info.heartbeat, info.heartbeat_write), last_beat(info), now, seen)
    files = None if info.quiet_status is None else silent_for(
        info, "files", (info.last_write, info.last_logged), quiet_since(info), now, seen)
    rows = silent_for(info, "rows", (info.last_write,), info.last_write, now, seen)
    if beat is not None and heartbeat_stale(now - beat, info.heartbeat_interval, now):
        return CRASHED
    if info.quiet_status is not None and (files is None or went_quiet(now - files, now)):
        return info.quiet_status
    if rows is not None and stalled(now - rows, info.interval_median, now):
        return STALLED
    return RUNNING
