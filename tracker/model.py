"""The reading side's data model: what every layout presents a run as, whatever wrote it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Status values a reader may report. The first four are written by the tracker; the rest are derived.
RUNNING, FINISHED, FAILED, INTERRUPTED, CRASHED, STALLED, UNKNOWN = (
    "running", "finished", "failed", "interrupted", "crashed", "stalled", "unknown")


# Where a metric's direction came from, in order of precedence: the writer declared it (`define_metric`, or a
# checkpoint's `best=`), W&B's metric definitions, the user's runyard.toml `[metrics]` table, a guess from the name.
DECLARED, WANDB, USER, GUESSED = "declared", "wandb", "runyard.toml", "guessed"
GOAL_SOURCES = (DECLARED, WANDB, USER, GUESSED)


@dataclass(frozen=True)
class Goal:
    """Which way is better for a metric ("min" or "max") and who said so (one of `GOAL_SOURCES`)."""

    direction: str
    source: str

    @property
    def guessed(self) -> bool:
        """True when nobody said: the direction was guessed from the metric's name."""
        return self.source == GUESSED


@dataclass
class MetricSummary:
    """Statistics of one metric over a run (non-finite values count in `count` but not in min/max/mean),
    and its direction: "min" or "max", with where that came from (see `Goal`)."""

    first: float | None = None
    last: float | None = None
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    count: int = 0
    min_step: int | None = None
    max_step: int | None = None
    last_step: int | None = None
    direction: str | None = None
    direction_source: str | None = None

    @property
    def goal(self) -> Goal | None:
        """The direction and its source together; None before one was settled."""
        if self.direction is None:
            return None
        return Goal(self.direction, self.direction_source or GUESSED)


@dataclass
class Checkpoint:
    """A checkpoint file as known from an index, a sidecar or its name; it is never opened."""

    path: Path
    step: int | None = None
    bytes: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    best: bool = False
    time: float | None = None
    best_metric: str | None = None   # the metric and mode ("min"/"max") the checkpoints were ranked by
    best_mode: str | None = None
    note: str | None = None          # where the run's own files disagree about it (another best, another mode)


@dataclass
class Sample:
    """A piece of generated text logged during training."""

    text: str
    step: int | None = None
    time: float | None = None
    prompt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunInfo:
    """Identity and lifecycle of a run, plus what a listing shows. Cheap to build from the scan cache."""

    id: str
    name: str
    path: Path
    format: str
    status: str = UNKNOWN
    created: float | None = None
    ended: float | None = None
    heartbeat: float | None = None
    heartbeat_interval: float | None = None
    last_write: float | None = None        # mtime of the file that grows as the run logs
    last_time: float | None = None         # wallclock of the last metric row
    host: str | None = None
    pid: int | None = None
    user: str | None = None
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    restarts: int = 0
    restarts_at: list[int] = field(default_factory=list)  # steps where a restarted run's next life began
    archived: bool = False
    last_step: int | None = None
    rows: int | None = None
    interval_median: float | None = None   # seconds between metric rows, for the stalled test
    max_step: int | None = None            # the configured last step, for an ETA, where the config says
    error: str | None = None               # why the run could not be (fully) read
    skipped_lines: int = 0                 # corrupt or truncated lines passed over
    extra: dict[str, Any] = field(default_factory=dict)
    stated_status: str | None = None       # what the run's files say; `status` is that, corrected as of now
    # Liveness facts of runs without a heartbeat: what a run with no recorded end becomes once its files were
    # not written for `liveness.STALE_AFTER` (None: a heartbeat judges it), and the newest time its own lines
    # state (a copied old log has a new mtime but old lines, and is not taken for a live run).
    quiet_status: str | None = None
    last_logged: float | None = None
    pending_lines: int = 0                 # a last record cut short: still being written, or lost once the run is over
    # When the file a heartbeat rewrites was last written, as the filesystem dated it (this machine's clock, or its
    # file server's): a heartbeat's age is judged by it, not by the run's own stamp (see `liveness`).
    heartbeat_write: float | None = None
    clock_ahead: float | None = None       # how far the run's clock runs ahead of ours where it shows (<0: behind)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to the last write of a run that has not ended)."""
        if self.created is None:
            return None
        end = self.ended or self.last_time or self.last_write or self.heartbeat
        return None if end is None else max(0.0, end - self.created)
