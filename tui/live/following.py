"""Which runs the app follows: whose series stay loaded, which are watched closely, and what a change re-reads.

Plain bookkeeping, no Textual and no I/O: the app hands in the runs' statuses and the keys of the runs open on
screen, and applies the answers (loads, drops, what it tells the watcher, which reads a changed file asks for).

- Running (and stalled) runs are followed: their series are loaded up front and their folders watched closely.
- Open runs are watched closely and stay loaded while open.
- The last `KEPT_STATES` previewed runs stay loaded, so moving back and forth in the runs table costs nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KEPT_STATES = 12  # loaded series of runs that are neither running nor open (preview history)
FOLLOWED_STATUSES = frozenset({"running", "stalled"})
RUN_JSON = "run.json"
SUMMARY_JSON = "summary.json"
# Files whose change means the listing record (config, summary, checkpoints, samples) must be read again.
RECORD_FILES = frozenset({RUN_JSON, SUMMARY_JSON, "config.yaml", "index.jsonl", "samples.jsonl"})
INFO, RECORD = "info", "record"  # a re-read of run.json alone, or of the whole listing record


class Following:
    """The app's following policy, kept current by `update` and `previewed`."""

    def __init__(self, kept: int = KEPT_STATES) -> None:
        self.kept = kept
        self.running: frozenset[str] = frozenset()
        self.open: frozenset[str] = frozenset()
        self._recent: OrderedDict[str, None] = OrderedDict()

    def update(self, statuses: Mapping[str, str], open_keys: Iterable[str]) -> None:
        """The runs' current statuses (by key) and the keys of the runs open on screen."""
        self.running = frozenset(k for k, status in statuses.items() if status in FOLLOWED_STATUSES)
        self.open = frozenset(open_keys)
        for key in [k for k in self._recent if k not in statuses]:
            del self._recent[key]

    def previewed(self, key: str) -> None:
        """`key` was shown in the preview: it stays loaded until `kept` other runs were previewed after it."""
        self._recent[key] = None
        self._recent.move_to_end(key)
        while len(self._recent) > self.kept:
            self._recent.popitem(last=False)

    def moved(self, old: str, new: str) -> None:
        """A run's folder moved from `old` to `new`: it keeps its place among the recently previewed."""
        if old in self._recent:
            self._recent = OrderedDict((new if k == old else k, None) for k in self._recent)
        self.running = frozenset(new if k == old else k for k in self.running)
        self.open = frozenset(new if k == old else k for k in self.open)

    @property
    def watched(self) -> frozenset[str]:
        """Runs whose files are followed closely on disk: running and open ones."""
        return self.running | self.open

    @property
    def kept_loaded(self) -> frozenset[str]:
        """Runs whose series stay loaded: running, open and recently previewed ones."""
        return self.running | self.open | frozenset(self._recent)


@dataclass(frozen=True)
class Rereads:
    """What a change to some files of one run asks to read again."""

    series: bool            # its metric series (only appended rows where they are followed row by row)
    record: str | None      # INFO (run.json only), RECORD (the listing record) or None


def rereads(names: Iterable[str], *, loaded: bool, tailed: str | None) -> Rereads:
    """The reads a change to the files `names` of a run calls for.

    `loaded`: the app holds the run's series. `tailed`: the file whose appended rows those series follow (a
    runyard metrics.jsonl), None where any change means reading the series again.
    """
    series = False
    record: str | None = None
    for name in names:
        if loaded and (tailed is None or name == tailed):
            series = True
        if tailed is not None and name in (tailed, SUMMARY_JSON):
            continue  # the followed rows already say what these would
        if name == RUN_JSON:
            record = record or INFO  # a heartbeat or a status change: config and summary stay as they are
        elif name in RECORD_FILES or tailed is None:
            record = RECORD
    return Rereads(series, record)
