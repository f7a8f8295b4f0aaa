"""A run's status as of now: what its files say, corrected by liveness evidence. Every liveness rule lives here.

Layouts report facts only (the status their files state, the heartbeat, the last write, what a run becomes
once quiet), so that a cached listing ages exactly as a fresh read would; the status shown is derived from
those facts here, at read time. `running` runs become `crashed` when their heartbeat is older than three
intervals or their pid is gone on this host, and `stalled` when alive but with no new metric row for far longer
than their own median interval. Layouts without a heartbeat judge a run by its files instead: not written for
`STALE_AFTER`, its process is gone, and the run takes the layout's `quiet_status` (finished, interrupted or
crashed, as the tool's own conventions have it). The writer asks the same questions before resuming a run
folder (is its old process still there?).
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
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
    """True when a heartbeat is older than `HEARTBEAT_MISSES` intervals (no heartbeat at all: nothing to judge)."""
    if heartbeat is None:
        return False
    return now - heartbeat > HEARTBEAT_MISSES * (interval or DEFAULT_HEARTBEAT)


def went_quiet(last_write: float | None, now: float | None = None) -> bool:
    """True when a run without a heartbeat wrote nothing for `STALE_AFTER` seconds (nothing known: quiet)."""
    if last_write is None:
        return True
    return (time.time() if now is None else now) - last_write > STALE_AFTER


def quiet_since(info: RunInfo) -> float | None:
    """The last sign of life of a run without a heartbeat: its files' last write, or the newest time its own
    lines state where that is older (a log copied today keeps its old lines)."""
    known = [t for t in (info.last_write, info.last_logged) if t is not None]
    return min(known) if known else None


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


def derive_status(info: RunInfo, now: float | None = None) -> str:
    """The status to show for `info` at time `now`, from the facts its layout reported."""
    stated = info.stated_status or info.status
    if stated != RUNNING:
        return stated
    now = time.time() if now is None else now
    if heartbeat_stale(info.heartbeat, info.heartbeat_interval, now) or pid_gone(info.host, info.pid):
        return CRASHED
    if info.quiet_status is not None and went_quiet(quiet_since(info), now):
        return info.quiet_status
    if stalled(info.last_write, info.interval_median, now):
        return STALLED
    return RUNNING

