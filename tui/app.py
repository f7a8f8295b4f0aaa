"""The runyard app: every run under a root, followed live.

The app owns all state (harlequin's rule): scans run in a worker thread and post `ScanDone`; the watcher's
thread posts `FilesChanged`; handlers here update records and live series, then tell the screens which runs
changed. Screens and widgets only render.
"""

from __future__ import annotations

import gc
import os
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal

from runyard import RunRecord, derive_status, read_record, scan, settle_status

from .commands import screen_commands
from .live.runstate import LiveRun
from .live.watcher import Changes, RunWatcher
from .messages import FilesChanged, RunsChanged, ScanDone
from .screens.help import HelpScreen
from .screens.run import RunScreen
from .screens.runs import RunsScreen

DURATION_TICKS = 5     # seconds between duration refreshes of running runs that log nothing
KEPT_STATES = 12        # loaded series of runs that are neither running nor open (preview history)
RECORD_FILES = {"run.json", "summary.json", "config.yaml", "index.jsonl", "samples.jsonl"}


class RunyardApp(App):
    """Follow, plot and read runs in the terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "runyard"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("R", "rescan", "Rescan", show=False),
    ]

    def __init__(self, root: Path, *, open_path: Path | None = None, poll: bool | None = None,
                 watch: bool = True) -> None:
        super().__init__()
        self.root = root
        self.open_path = open_path
        self.poll_mode = poll
        self.watch_files = watch
        self.records: dict[str, RunRecord] = {}
        self.live: dict[str, LiveRun] = {}
        self._recent: OrderedDict[str, None] = OrderedDict()
        self.scanning = False
        self.watch_mode = "not watching"
        self.watcher: RunWatcher | None = None
        self.first_scan_done = False
        self._ticks = 0
        self.following: set[str] = set()  # running runs, whose files are followed closely
        # Screens subscribe to this in on_mount (posting's pattern): the app never asks which screens exist.
        self.runs_changed: Signal[RunsChanged] = Signal(self, "runs-changed")

    # ----- start and stop ---------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if os.environ.get("SSH_CONNECTION"):
            self.animation_level = "none"  # every changed cell costs bandwidth over SSH
        self.push_screen(RunsScreen())
        self.scan_tree()
        if self.watch_files:
            self.watcher = RunWatcher(self.root, self._on_watcher_change, poll=self.poll_mode)
            self.watcher.start()
            self.watch_mode = f"{'polling' if self.watcher.mode == 'poll' else 'watching'} ({self.watcher.reason})"
        self.set_interval(1.0, self._tick)

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        for live in self.live.values():
            live.close()

    def _on_watcher_change(self, changes: Changes) -> None:
        """Called on the watcher's thread: hand over to the app's own thread as a message."""
        self.post_message(FilesChanged(set(changes.paths), changes.rescan))

    # ----- scanning ---------------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan_tree(self) -> None:
        self.scanning = True
        try:
            kept = {k: self.records[k] for k in list(self.following) if k in self.records}
            self.post_message(ScanDone(scan(self.root, keep=kept)))
        except Exception as exc:  # an unreadable root: say so in place, keep the app alive
            self.post_message(ScanDone([], f"cannot scan {self.root}: {exc}"))

    def on_scan_done(self, message: ScanDone) -> None:
        self.scanning = False
        if message.error:
            self.notify(message.error, severity="error", timeout=8)
        fresh = {str(r.info.path): r for r in message.records}
        structure = fresh.keys() != self.records.keys()
        changed = {k for k, r in fresh.items() if k not in self.records or _differs(self.records[k], r)}
        self.records = fresh
        self._follow_running()
        if structure or changed:  # the periodic reconcile usually finds nothing new: then touch nothing
            self._tell_screens(changed, structure=structure)
        if not self.first_scan_done:
            self.first_scan_done = True
            self._open_requested_run()
            gc.freeze()  # what start-up built lives as long as the app: keep it out of every later collection

    def _open_requested_run(self) -> None:
        if self.open_path is None:
            return
        key = str(self.open_path)
        record = self.records.get(key)
        if record is None:
            self.notify(f"{self.open_path} is not a run runyard can read", severity="error")
            return
        self.open_runs([record])

    def action_rescan(self) -> None:
        self.scan_tree()

    # ----- live following ---------------------------------------------------------------------------------

    def _follow_running(self) -> None:
        """Keep live series for running runs (and recently viewed ones); tell the watcher what to follow."""
        running = {k for k, r in self.records.items() if r.info.status in ("running", "stalled")}
        self.following = running
        opened = {k for s in self.screen_stack if isinstance(s, RunScreen) for k in s.keys}
        for key in running:
            self.live_state(key)
        keep = running | opened | set(self._recent)
        for key in [k for k in self.live if k not in keep or k not in self.records]:
            self.live.pop(key).close()
        if self.watcher is not None:
            self.watcher.follow(self.records[k].info.path if self.records[k].info.path.is_dir()
                                else self.records[k].info.path.parent for k in (running | opened) if k in self.records)
            self.watcher.watch_containers(_containers(self.root, self.records.values()))

    def live_state(self, key: str, full: bool = True) -> LiveRun | None:
        """The live series of a run, loading them on first use."""
        live = self.live.get(key)
        if live is None:
            record = self.records.get(key)
            if record is None or record.source is None:
                return None
            live = LiveRun(record.open())
            try:
                live.load()
            except Exception as exc:  # a run that cannot be read shows its error in place
                record.info.error = record.info.error or f"metrics: {exc}"
            self.live[key] = live
        return live

    def preview_state(self, key: str) -> LiveRun | None:
        """Series for the preview pane; the last few previewed runs stay loaded."""
        live = self.live_state(key)
        self._recent[key] = None
        self._recent.move_to_end(key)
        while len(self._recent) > KEPT_STATES:
            old, _ = self._recent.popitem(last=False)
            if old in self.live and self.records.get(old, None) is not None \
                    and self.records[old].info.status != "running" and not self._is_open(old):
                self.live.pop(old).close()
        return live

    def _is_open(self, key: str) -> bool:
        return any(isinstance(s, RunScreen) and key in s.keys for s in self.screen_stack)

    def on_files_changed(self, message: FilesChanged) -> None:
        if self.watcher is not None:  # the watcher may have fallen back to polling (watch limit reached)
            self.watch_mode = f"{'polling' if self.watcher.mode == 'poll' else 'watching'} ({self.watcher.reason})"
        changed: set[str] = set()
        for path in message.paths:
            key = self._run_key_of(Path(path))
            if key is None:
                continue
            changed.add(key)
            live = self.live.get(key)
            if live is not None:
                if live.tail is not None:
                    live.poll()
                else:
                    live.load()  # layouts without an incremental reader are re-read (they are small)
            name = Path(path).name
            if live is not None and live.tail is not None and name in ("summary.json", "metrics.jsonl"):
                continue  # the tailed rows already say what these would
            if name == "run.json":
                self._reread_info(key)  # a heartbeat or a status change: no need to parse config and summary
            elif name in RECORD_FILES or live is None or live.tail is None:
                self._reread(key)
        if changed:
            self._tell_screens(changed)
        if message.rescan:
            self.scan_tree()

    def _run_key_of(self, path: Path) -> str | None:
        """The run a changed file belongs to (its folder, or for one-file runs the file itself)."""
        key, root = str(path), str(self.root)
        while key not in self.records:
            parent = os.path.dirname(key)
            if parent == key or key == root:
                return None
            key = parent
        return key

    def _reread(self, key: str) -> None:
        record = self.records.get(key)
        if record is None or record.source is None:
            return
        fresh = read_record(record.source)
        fresh.info.archived = record.info.archived
        settle_status(fresh.info)
        self.records[key] = fresh
        if fresh.info.status != record.info.status:
            self._follow_running()

    def _reread_info(self, key: str) -> None:
        record = self.records.get(key)
        if record is None or record.source is None:
            return
        try:
            info = record.source.read_info()
        except Exception as exc:  # half-written or broken: keep what we had, say why
            record.info.error = f"run.json: {exc}"
            return
        info.archived = record.info.archived
        settle_status(info)
        before = record.info.status
        record.info = info
        if info.status != before:
            self._follow_running()

    def _tick(self) -> None:
        """Statuses age (heartbeats go stale, runs stall): re-derive those of unfinished runs each second.

        Durations of quiet running runs are refreshed every few seconds only; a run that logs gets a fresh
        duration with its rows anyway, and every refresh of the table costs a re-render of all its rows.
        """
        self._ticks += 1
        refresh_durations = self._ticks % DURATION_TICKS == 0
        changed = set()
        for key, record in self.records.items():
            info = record.info
            if info.stated_status == "running" and not info.error:
                status = derive_status(info)
                if status != info.status or (refresh_durations and status == "running"):
                    info.status = status
                    changed.add(key)
        if changed:
            self._tell_screens(changed)

    # ----- screens ----------------------------------------------------------------------------------------

    def _tell_screens(self, keys: set[str], structure: bool = False) -> None:
        self.runs_changed.publish(RunsChanged(frozenset(keys), structure))

    def open_runs(self, records: list[RunRecord]) -> None:
        readable = [r for r in records if r.source is not None]
        if not readable:
            self.notify(records[0].info.error or "this run cannot be read", severity="error")
            return
        self.push_screen(RunScreen(readable))
        self._follow_running()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from screen_commands(self, screen)


def _differs(a: RunRecord, b: RunRecord) -> bool:
    ia, ib = a.info, b.info
    return (ia.status, ia.last_step, ia.rows, ia.error, ia.last_time) != (ib.status, ib.last_step, ib.rows, ib.error,
                                                                          ib.last_time)


def _containers(root: Path, records: Iterable[RunRecord]) -> set[Path]:
    """Folders that hold runs (watched for new ones), never outside the root."""
    out = {root}
    for record in records:
        parent = record.info.path.parent
        while parent != root and root in parent.parents:
            out.add(parent)
            parent = parent.parent
    return out
