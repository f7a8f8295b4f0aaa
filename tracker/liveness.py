"""A run's status as of now: what its files say, corrected by liveness evidence.

`running` runs become `crashed` when their heartbeat is older than three intervals or their pid is gone on
this host, and `stalled` when alive but with no new metric row for far longer than their own median interval.
"""

from __future__ import annotations

import os
import socket
import time

from .model import CRASHED, RUNNING, STALLED, RunInfo

STALL_FACTOR = 20       # no row for 20 median intervals ...
STALL_FLOOR = 120.0     # ... and at least two minutes: an eval pass or a checkpoint save is not a stall
_HOST = socket.gethostname()


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def derive_status(info: RunInfo, now: float | None = None) -> str:
    """The status to show for `info` at time `now`."""
    stated = info.stated_status or info.status
    if stated != RUNNING:
        return stated
    now = time.time() if now is None else now
    if info.heartbeat is not None:
        interval = info.heartbeat_interval or 10.0
        if now - info.heartbeat > 3 * interval:
            return CRASHED
    if info.pid and info.host == _HOST and not pid_alive(info.pid):
        return CRASHED
    quiet = None if info.last_write is None else now - info.last_write
    if quiet is not None and info.interval_median and quiet > max(STALL_FACTOR * info.interval_median, STALL_FLOOR):
        return STALLED
    return RUNNING
