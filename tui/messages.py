"""Messages from reading threads to the app's thread, which owns every change of state.

Threads only read and post one of these; handlers fold the results in and tell the screens. Where a newer
message makes an older one still waiting in the queue pointless, `can_replace` lets Textual drop the older.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from runyard import RunInfo, RunRecord

if TYPE_CHECKING:
    from .live.details import RunDetails
    from .live.runstate import LiveRun, RowBatch, Snapshot
    from .widgets.log_view import LogBatch, LogReader


@dataclass
class ScanDone(Message):
    """A scan of the root finished; `kept` are the runs it listed as the app kept them, without reading them."""

    records: list[RunRecord]
    error: str | None = None
    kept: frozenset[str] = field(default_factory=frozenset)
    aliases: dict[str, list[str]] | None = None  # the runs root's metric aliases (runyard.toml), read with it


@dataclass
class FilesChanged(Message):
    """The watcher saw files change (`paths`), or the tree may have new or removed runs (`rescan`)."""

    paths: set
    rescan: bool


@dataclass
class RunFound(Message):
    """The run the app was opened on, read on its own ahead of the scan of the tree around it."""

    key: str
    record: RunRecord | None
    error: str | None = None


@dataclass
class _SeriesRead(Message):
    """Something read of one run's metric series (`live`, the app's LiveRun of the run `key`)."""

    key: str
    live: LiveRun

    def can_replace(self, message: Message) -> bool:
        """A full read of the same series, queued right behind, holds everything this one would add."""
        return isinstance(message, RunLoaded) and message.live is self.live


@dataclass
class RunLoaded(_SeriesRead):
    """Every series of a run, read in full (first load, or after its metrics file was truncated or replaced)."""

    snapshot: Snapshot


@dataclass
class RowsAppended(_SeriesRead):
    """The rows appended to a followed run's metrics since the last read: one message per read, never per row."""

    batch: RowBatch


@dataclass
class RecordRead(Message):
    """A run's listing record read again after its files changed: all of it (`record`), or only run.json (`info`)."""

    key: str
    source: Any  # the RunSource read: a record re-read for a run since replaced is dropped
    record: RunRecord | None = None
    info: RunInfo | None = None
    error: str | None = None

    def can_replace(self, message: Message) -> bool:
        """A newer whole record of the same run supersedes this one."""
        return isinstance(message, RecordRead) and message.key == self.key and message.record is not None


@dataclass
class LogLinesRead(Message, bubble=False):
    """Lines appended to a followed log, cleaned and indexed on the reading thread (a batch of one read). Every
    batch counts: the view only appends, even when the log was rotated or truncated."""

    reader: LogReader
    batch: LogBatch


@dataclass
class LogTailRead(Message, bubble=False):
    """The last lines of a log, for the runs screen's preview; `request` says which showing asked for them."""

    request: int
    lines: list[str]
    waiting: str | None = None  # the log is not a regular file (a FIFO): nothing was read from it
    problem: str | None = None  # why the log cannot be read ("cannot read training.log: permission denied")

    def can_replace(self, message: Message) -> bool:
        """A newer tail supersedes this one."""
        return isinstance(message, LogTailRead)


@dataclass
class RunDetailsRead(Message, bubble=False):
    """What a run screen's other tabs show (config, checkpoints, samples, info), read once per change of the run."""

    key: str
    details: RunDetails

    def can_replace(self, message: Message) -> bool:
        """Newer details of the same run supersede these."""
        return isinstance(message, RunDetailsRead) and message.key == self.key


@dataclass
class ComparisonRead(Message, bubble=False):
    """The compare screen's summary table (a `CompareTable`), made on a read lane; `request` says which asking
    it answers (a newer one supersedes it), `error` why there is none."""

    request: int
    table: Any = None
    error: str | None = None

    def can_replace(self, message: Message) -> bool:
        """A newer table supersedes this one."""
        return isinstance(message, ComparisonRead)


@dataclass
class ConfigDiffRead(Message, bubble=False):
    """The compared runs' config diff with their origins (a `ConfigDiff`; origins come from run files)."""

    diff: Any


@dataclass
class ImportanceRead(Message, bubble=False):
    """Which config keys go with a better `metric` (judged in `direction`) across the compared runs (a list of
    `KeyImportance`)."""

    metric: str
    direction: str | None
    keys: list[Any]
    error: str | None = None


@dataclass(frozen=True)
class RunsChanged:
    """What the app's `runs_changed` signal carries: the runs (by path key) whose data changed, and whether
    runs appeared or disappeared (`structure`), so a list must be rebuilt rather than updated in place."""

    keys: frozenset[str]
    structure: bool = False


@dataclass
class SizesMeasured(Message):
    """Runs' sizes on disk (bytes, by run key), measured on the sizes lane; one message per batch."""

    sizes: dict[str, int]


@dataclass
class JobReport(Message):
    """What a managing job's thread says as it goes (`live.manage`: Started, Advanced, StepEnded, Finished)."""

    job: Any
    event: Any


@dataclass
class Recovered(Message):
    """Operations an earlier runyard left half-done (killed mid-way), finished or rolled back at start."""

    lines: list[str]
