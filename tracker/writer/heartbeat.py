"""The background thread of a live run: heartbeat in run.json, summary.json refresh, system metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Heartbeat(threading.Thread):
    """Calls `beat` every `interval` seconds, `flush` every `flush_interval`, `sample` every `sample_interval`.

    A daemon thread: it never keeps a finished script alive, and a failure in one callback is reported
    once through `on_error` rather than killing the thread.
    """

    def __init__(self, *, interval: float, flush_interval: float, sample_interval: float | None,
                 beat: Callable[[], None], flush: Callable[[], None], sample: Callable[[], None] | None,
                 on_error: Callable[[str, BaseException], None]) -> None:
        super().__init__(name="runyard-heartbeat", daemon=True)
        self._stop_event = threading.Event()
        self._tasks = [(interval, beat, "heartbeat"), (flush_interval, flush, "summary")]
        if sample is not None and sample_interval:
            self._tasks.append((sample_interval, sample, "system metrics"))
        self._on_error = on_error
        self._failed: set[str] = set()

    def run(self) -> None:
        now = time.monotonic()
        due = [now + period for period, _, _ in self._tasks]
        while True:
            wait = max(0.0, min(due) - time.monotonic())
            if self._stop_event.wait(wait):
                return
            now = time.monotonic()
            for i, (period, task, label) in enumerate(self._tasks):
                if now >= due[i]:
                    due[i] = now + period
                    self._call(task, label)

    def _call(self, task: Callable[[], None], label: str) -> None:
        try:
            task()
        except Exception as exc:
            if label not in self._failed:
                self._failed.add(label)
                self._on_error(label, exc)

    def stop(self) -> None:
        """Stop the thread and wait for it (a callback in progress finishes first)."""
        self._stop_event.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout=10)
