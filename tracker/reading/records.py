"""One run as the reading side holds it: `RunRecord` (what a listing needs, cheap and cacheable) and `RunView`
(everything, each part read when first asked), plus how a record is read from a layout's files.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import unreadable_reason
from ..layouts.base import RunSource
from ..liveness import SEEN, clock_ahead, derive_status, interval_median
from ..model import RUNNING, STALLED, Checkpoint, Goal, MetricSummary, RunInfo, Sample
from .goals import resolve_goal, run_goals, settle_goals, user_goals

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


@dataclass
class RunRecord:
    """One run as a listing knows it: info (status derived as of the scan), config and metric summary."""

    info: RunInfo
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, MetricSummary] = field(default_factory=dict)
    source: RunSource | None = field(default=None, repr=False)

    def open(self):
        """The full view of this run (metrics, log, checkpoints, samples)."""
        if self.source is None:
            raise ValueError(f"{self.info.path}: {self.info.error or 'cannot be opened'}")
        return RunView(self.source)

    def goal(self, name: str) -> Goal:
        """Which way is better for metric `name` and who said so (settled in the summary when it is logged)."""
        stats = self.summary.get(name)
        goal = stats.goal if stats is not None else None
        return goal if goal is not None else resolve_goal(self.source, name)

    def direction(self, name: str) -> str:
        """"min" or "max" for metric `name` (see `goal`)."""
        return self.goal(name).direction


def read_record(source: RunSource) -> RunRecord:
    """Build a run's listing record from its files; an unreadable run gets an error, not an exception."""
    try:
        info = source.read_info()
    except Exception as exc:
        info = RunInfo(id=source.path.name, name=source.path.name, path=source.path, format=source.format,
                       error=_one_line(exc))
        return RunRecord(info, source=source)
    record = RunRecord(info, source=source)
    try:
        record.config = source.config()
    except Exception as exc:
        info.error = info.error or f"config: {_one_line(exc)}"
    try:
        record.summary = _summary_of(source, info)
    except Exception as exc:
        info.error = info.error or f"metrics: {_one_line(exc)}"
    settle_goals(record.summary, run_goals(source), user_goals(source.root))
    return record


def _summary_of(source: RunSource, info: RunInfo) -> dict[str, MetricSummary]:
    """The layout's own summary where it keeps one that still speaks for the rows (runyard), else computed from
    its metrics; then the rows also give the extent (last step, rows, last time, pace) where the layout left it
    open, or took it from a summary that lags them."""
    own = source.own_summary()
    if own is not None:
        return own
    import numpy as np

    from .summarize import summarize

    data = source.metrics_data()  # keeps a logged NaN apart from a metric not logged in a row
    info.skipped_lines = info.skipped_lines or data.skipped
    lagging = getattr(source, "summary_may_lag", False)  # what read_info took from it gives way to the rows
    times = data.time
    if info.last_time is None or lagging:
        info.last_time = float(np.nanmax(times)) if np.isfinite(times).any() else None
    if info.interval_median is None or lagging:
        info.interval_median = interval_median(times) if len(data) > 1 else None
    if info.last_step is None or lagging:
        info.last_step = int(data.step.max()) if len(data) else None
    if info.rows is None or lagging:
        info.rows = len(data)
    return summarize(data)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:  # a file the user can fix: say which, and why
        return unreadable_reason(exc)
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def settle_status(info: RunInfo, now: float | None = None) -> None:
    """Keep what the files state in `stated_status` and show the status derived as of `now`.

    A run found over although its files never said so (its writer crashed or went quiet) ended with its last
    row, and a record it was still writing is lost.
    """
    info.stated_status = info.stated_status or info.status
    if info.error:
        return
    info.status = derive_status(info, now, SEEN)
    info.clock_ahead = clock_ahead(info, now)
    if info.stated_status == RUNNING and info.status not in (RUNNING, STALLED):
        info.skipped_lines += info.pending_lines
        info.pending_lines = 0
        if info.ended is None:
            info.ended = info.last_time


class RunView:
    """One run: info, config, metrics, summary, log, checkpoints and samples, each read when first asked."""

    def __init__(self, source: RunSource, info: RunInfo | None = None) -> None:
        self.source = source
        self._info = info

    def __repr__(self) -> str:
        return f"<RunView {self.source.format} {self.source.path}>"

    @property
    def path(self) -> Path:
        return self.source.path

    @cached_property
    def record(self) -> RunRecord:
        return read_record(self.source)

    @property
    def info(self) -> RunInfo:
        """Identity and lifecycle; the status is derived as of now (crashed, stalled...)."""
        info = self._info or self.record.info
        settle_status(info)
        return info

    @cached_property
    def config(self) -> dict[str, Any]:
        return self.source.config()

    def metrics(self) -> pd.DataFrame:
        """`step` (int64), `time` (Unix seconds), `elapsed` (seconds since the run started) and one float64 column
        per metric, NaN where a row did not log it (`series` tells a logged NaN from that).

        A metric named like one of the three computed columns is read under that name with one `_` more
        (`metric_column`): TensorBoard's tag `step` is the column `step_`, a logged `elapsed` is `elapsed_`;
        `summary`, `series` and every listing use that name too.
        """
        data = self.source.metrics_data()
        df = data.frame()
        df.insert(2, "elapsed", df["time"] - self._start(data.time))
        return df

    @cached_property
    def summary(self) -> dict[str, MetricSummary]:
        """Per metric: first, last, min, max, mean, count, steps of min and max (computed from the rows), and
        its direction with where that came from."""
        from .summarize import summarize

        summary = summarize(self.source.metrics_data())
        settle_goals(summary, run_goals(self.source), user_goals(self.source.root))
        return summary

    def goal(self, name: str) -> Goal:
        """Which way is better for metric `name` and who said so; cheap (the metrics are not read), and current
        as the run declares more while it runs."""
        return resolve_goal(self.source, name)

    def direction(self, name: str) -> str:
        """"min" or "max" for metric `name` (see `goal`)."""
        return self.goal(name).direction

    def series(self, metric: str) -> pd.DataFrame:
        """`step` (int64), `time`, `elapsed` and `value` of the rows that logged `metric`: a logged NaN or
        infinity stays in, a row that did not log it is not there."""
        import pandas as pd

        data = self.source.metrics_data()
        if metric not in data.values:
            raise KeyError(f"{self.path.name} has no metric {metric!r}")
        logged = data.logged[metric]
        select = slice(None) if logged is None else logged
        times = data.time[select]
        return pd.DataFrame({"step": data.step[select], "time": times, "elapsed": times - self._start(data.time),
                             "value": data.values[metric][select]})

    def _start(self, times: np.ndarray) -> float:
        """When the run started: its recorded start, else the time of its first row."""
        start = self.info.created
        if start is None and len(times):
            start = float(times[0])
        return start if start is not None else float("nan")

    @property
    def log_path(self) -> Path | None:
        """The run's log, None if it has none; a log that is there but out of reach is returned, so that reading
        it says why."""
        path = self.source.log_path()
        if path is None:
            return None
        try:
            os.stat(path)
        except OSError as exc:
            return None if exc.errno in (errno.ENOENT, errno.ENOTDIR) else path
        return path

    @property
    def checkpoints(self) -> list[Checkpoint]:
        """Known from index, sidecars and names; never loaded (a checkpoint is an untrusted pickle)."""
        return self.source.checkpoints()

    def samples(self) -> list[Sample]:
        return self.source.samples()
