"""Messages posted from background threads to the app, which owns all state changes."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from runyard import RunRecord


@dataclass
class ScanDone(Message):
    """A scan of the root finished (in a worker thread)."""

    records: list[RunRecord]
    error: str | None = None


@dataclass
class FilesChanged(Message):
    """The watcher saw files change (`paths`), or the tree may have new or removed runs (`rescan`)."""

    paths: set
    rescan: bool


@dataclass(frozen=True)
class RunsChanged:
    """What the app's `runs_changed` signal carries: the runs (by path key) whose data changed, and whether
    runs appeared or disappeared (`structure`), so a list must be rebuilt rather than updated in place."""

    keys: frozenset[str]
    structure: bool = False
