"""Reading run files off the app's thread, on threads that no stuck read can starve.

Textual's thread workers run on asyncio's default executor: a pool of min(32, cpus + 4) threads that the
interpreter joins at exit. A read that never returns (a hung network mount) would keep one of those threads for
good, a few of them would starve every other worker, and the app could not quit. Reads of run files run here
instead, on daemon threads:

- a *lane* (one run, one log file) runs one job at a time, in the order asked; a job asked for again while one
  with the same tag still waits in that lane replaces it (the newer one reads everything the older would have);
- at most `limit` jobs run at once, so a burst (a hundred runs loading at start-up) leaves the UI thread its
  share of the interpreter; a job running for longer than `stuck_after` no longer counts, so each stuck read
  holds one thread and never the others' turn;
- a thread that finishes a job takes the next one waiting, so a steady stream of small reads reuses few threads.

Jobs post their results (Textual messages) themselves. At exit the interpreter waits a little for jobs still
running (a daemon thread inside a C extension while the interpreter shuts down can crash it), then leaves
behind those that do not return. Nothing here imports Textual.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

LIMIT = 4           # jobs running at once (not counting stuck ones)
STUCK_AFTER = 1.0   # seconds after which a running job is taken to be stuck on its file
EXIT_WAIT = 3.0     # seconds the interpreter waits at exit for jobs still running
LINGER = 2.0        # seconds an idle worker waits for the next job before its thread ends


@dataclass
class _Job:
    run: Callable[[], object]
    file: str | None  # the file the job reads, named when it is slow to return ("waiting for training.log")


@dataclass(frozen=True)
class Waiting:
    """A job in flight: the file it reads (if it said) and for how many seconds it has been at it."""

    file: str | None
    seconds: float


class Lanes:
    """Jobs queued by lane; each lane runs one job at a time on a daemon thread (see the module docstring)."""

    def __init__(self, limit: int = LIMIT, stuck_after: float = STUCK_AFTER, name: str = "runyard-read",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.stuck_after, self.name = limit, stuck_after, name
        self._clock = clock
        self._lock = threading.Condition()
        self._waiting: OrderedDict[Hashable, OrderedDict[str, _Job]] = OrderedDict()
        self._running: dict[Hashable, tuple[float, str | None]] = {}
        self._stopped = False
        # Idle workers linger for the next job instead of ending: a hundred runs logging twice a second would
        # otherwise start a thread per read. Jobs taken for them wait in `_handoff`.
        self._idle = 0
        self._handoff: deque[tuple[Hashable, _Job]] = deque()
        _ALL.add(self)

    def submit(self, lane: Hashable, run: Callable[[], object], *, tag: str = "read", file: str | None = None,
               urgent: bool = False) -> bool:
        """Queue `run` on `lane`; `urgent` puts the lane ahead of the others waiting.

        Returns False when the job took the place of a waiting one with the same tag (or lanes are stopped):
        then one job fewer will run than were submitted.
        """
        with self._lock:
            if self._stopped:
                return False
            jobs = self._waiting.get(lane)
            if jobs is None:
                jobs = self._waiting[lane] = OrderedDict()
            fresh = tag not in jobs
            jobs[tag] = _Job(run, file)  # a replaced job keeps its place in the lane
            if urgent:
                self._waiting.move_to_end(lane, last=False)
        self.pump()
        return fresh

    def pump(self) -> None:
        """Start threads for waiting jobs while fewer than `limit` run; call it now and then (a job that got
        stuck since frees its place)."""
        starts = []
        with self._lock:
            while (taken := self._take()) is not None:
                if self._idle > len(self._handoff):
                    self._handoff.append(taken)
                else:
                    starts.append(taken)
            if self._handoff:
                self._lock.notify_all()
        for lane, job in starts:
            threading.Thread(target=self._work, args=(lane, job), name=f"{self.name} {lane}", daemon=True).start()

    def _take(self) -> tuple[Hashable, _Job] | None:
        """The next job whose lane is free, marked running; None at the limit (call with the lock held)."""
        now = self._clock()
        if sum(1 for start, _ in self._running.values() if now - start < self.stuck_after) >= self.limit:
            return None
        for lane, jobs in self._waiting.items():
            if lane in self._running:
                continue
            _, job = jobs.popitem(last=False)
            if jobs:
                self._waiting.move_to_end(lane)  # the lane's next job waits its turn behind the other lanes
            else:
                del self._waiting[lane]
            self._running[lane] = (now, job.file)
            return lane, job
        return None

    def _work(self, lane: Hashable, job: _Job) -> None:
        """A thread's loop: run the job, then any other waiting one; idle, wait a while for one handed over."""
        while True:
            threading.current_thread().name = f"{self.name} {lane}"
            try:
                job.run()
            except Exception:  # a job reports its own errors; this one escaped: keep the lane going
                logger.exception("runyard: read job on %s failed", lane)
            with self._lock:
                del self._running[lane]
                taken = self._take()
                self._lock.notify_all()
                if taken is None and not self._stopped:
                    self._idle += 1
                    deadline = time.monotonic() + LINGER
                    while not self._handoff and not self._stopped and (left := deadline - time.monotonic()) > 0:
                        self._lock.wait(left)
                    self._idle -= 1
                    if self._handoff:
                        taken = self._handoff.popleft()
            if taken is None:
                return
            lane, job = taken

    def waiting(self, lane: Hashable) -> Waiting | None:
        """The job in flight on `lane` and how long it has run, or None."""
        with self._lock:
            entry = self._running.get(lane)
        return None if entry is None else Waiting(entry[1], self._clock() - entry[0])

    def busy(self, lane: Hashable) -> bool:
        """True while `lane` has a job running or waiting."""
        with self._lock:
            return lane in self._running or lane in self._waiting

    def idle(self) -> bool:
        """True when no job runs or waits in any lane."""
        with self._lock:
            return not self._running and not self._waiting

    def stop(self) -> None:
        """Accept no more jobs; those already queued still run (closing what earlier jobs opened)."""
        with self._lock:
            self._stopped = True
            self._lock.notify_all()  # lingering workers end

    def drain(self, timeout: float) -> bool:
        """Stop, drop the waiting jobs and wait up to `timeout` seconds for the running ones; True if all ended."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._stopped = True
            self._waiting.clear()
            self._lock.notify_all()  # lingering workers end
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True


_ALL: weakref.WeakSet[Lanes] = weakref.WeakSet()


@atexit.register
def _drain_at_exit() -> None:
    """Let running reads finish before the interpreter shuts down (see the module docstring)."""
    deadline = time.monotonic() + EXIT_WAIT
    for lanes in list(_ALL):
        lanes.drain(max(0.0, deadline - time.monotonic()))
