"""The runyard app: every run under a root, followed live.

The app owns all state (harlequin's rule), and no file is read on its thread. Reads run on read lanes
(`live/lanes.py`: daemon threads, one read at a time per run, none able to starve the others) and post what they
read: `ScanDone`, `RunFound`, `RunLoaded`, `RowsAppended`, `RecordRead`. The watcher's thread posts `FilesChanged`.
Handlers here fold the results into records and live series, then tell the screens which runs changed through
the `runs_changed` signal. Which runs are loaded, kept and re-read is `live/following.py`'s policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.message_pump import MessagePump
from textual.screen import ModalScreen, Screen
from textual.signal import Signal
from textual.widgets import Static

from runyard import (
    RunRecord,
    RunView,
    find_moved,
    find_source,
    load_aliases,
    read_record,
    recover_quietly,
    scan,
    settle_status,
    unreadable_reason,
)

from .commands import screen_commands
from .formatting import PALETTE
from .live.colours import RunHues
from .live.details import read_details
from .live.following import INFO, Following, rereads
from .live.lanes import STUCK_AFTER, Lanes
from .live.manage import Finished, Job, JobState, SizeBook, SizeQueue, StepEnded, measure_sizes, one_line
from .live.runstate import LiveRun, RowBatch
from .live.watcher import Changes, RunWatcher
from .messages import (
    FilesChanged,
    JobReport,
    RecordRead,
    Recovered,
    RowsAppended,
    RunDetailsRead,
    RunFound,
    RunLoaded,
    RunsChanged,
    ScanDone,
    SizesMeasured,
)
from .screens.help import HelpScreen
from .screens.run import RunScreen
from .screens.runs import RunsScreen

DURATION_TICKS = 5     # seconds between duration refreshes of running runs that log nothing
EXIT_GRACE = 5.0       # seconds a SIGTERM or SIGHUP gives the app to leave cleanly before the process just ends
RESCAN_SHARE = 0.01    # of a core, at most, for the periodic rescan: in a tree costly to list it comes less often
SCAN_LANE, WATCH_LANE, SIZE_LANE = ("scan",), ("watch",), ("sizes",)
RECORD_EVERY = 2.0     # seconds at least between rereads of a followed run's record that is read whole each time
RECORD_SHARE = 0.02    # of a core, at most, for those rereads of all such runs together


def run_lane(key: str) -> tuple[str, str]:
    """The read lane of one run: its series, record and closing are read one after another."""
    return ("run", key)


class RunyardApp(App):
    """Follow, plot and read runs in the terminal."""

    CSS_PATH = "app.tcss"
    TITLE = "runyard"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", show=False),  # as every terminal program does; copying selected text still wins
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
        self.live: dict[str, LiveRun] = {}        # series read at least once, by run key
        self._loading: dict[str, LiveRun] = {}    # series asked for, first read not in yet
        self.follow_policy = Following()
        self.lanes = Lanes()
        self.scanning = False
        self._scans = 0  # scans asked for whose ScanDone is still to come
        self._scan_cost = [0.0, 0.0]  # CPU seconds of the last scan and when it ended (written by the scan lane)
        self.watch_mode = "not watching"
        self.watcher: RunWatcher | None = None
        self.first_scan_done = False
        self._ticks = 0
        self._open_screens: dict[Screen, tuple[str, ...]] = {}
        self._stuck: frozenset[str] = frozenset()
        self._watched: tuple[list[Path], set[Path]] | None = None
        # Work that must not be cut short (archiving, deleting): quitting asks first while any of it runs.
        # Operations add a description here when they start and remove it when they end.
        self.destructive_jobs: set[str] = set()
        # The managing job (archive, trash, restore, clean) under way or last ended: one at a time. Its thread
        # reports through JobReport messages; screens showing it subscribe to `job_changed`.
        self.job: JobState | None = None
        self.job_changed: Signal[JobState] = Signal(self, "job-changed")
        self._job_label = ""
        self._quit_after_job = False
        self._moved_by_job: set[str] = set()  # runs the job moved: the table follows them without a notice
        # Each run's size on disk, measured on a lane of its own (never before the table's first paint), again
        # when its files change (at most every few seconds: a live run grows).
        self.sizes = SizeBook()
        self._size_queue = SizeQueue()
        # Screens subscribe to this in on_mount (posting's pattern): the app never asks which screens exist.
        self.runs_changed: Signal[RunsChanged] = Signal(self, "runs-changed")
        # One colour per run in use, the same on every screen (see `run_hue`), and the run pinned as the
        # reference that every overlay shows (`P` on the runs screen).
        self.hues = RunHues(len(PALETTE))
        self.pinned: str | None = None
        self.metric_aliases: dict[str, list[str]] = {}  # [aliases] of the root's runyard.toml, read with each scan
        # Records of followed runs read whole on each change, re-read at a pace their cost sets (`_reread_due`):
        # the runs changed since their last reread, when each may be read next, and what its last reread cost
        # (CPU seconds, written by its lane).
        self._records_wanted: set[str] = set()
        self._records_next: dict[str, float] = {}
        self._record_costs: dict[str, float] = {}

    @property
    def following(self) -> frozenset[str]:
        """Running runs, whose files are followed closely."""
        return self.follow_policy.running

    # ----- start and stop ---------------------------------------------------------------------------------

    def on_load(self) -> None:
        """Before the terminal is taken over: from then on SIGTERM and SIGHUP (a `kill`, a closed SSH session)
        end the app through Textual's exit, so its driver gives the terminal back as it found it."""
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main thread, Windows
                if signum is not None:
                    loop.add_signal_handler(signum, self._exit_on_signal, signum)

    def _exit_on_signal(self, signum: int) -> None:
        """Exit with status 128 + the signal's number, as a shell reports a process the signal ended; a second
        signal of the kind ends the process at once (the default action is back).

        Leaving must not hang: when the terminal itself is gone (a hung-up SSH session) Textual's output thread
        dies on its first write and the shutdown can wait on it for good, and a read stuck on a dead mount must
        not hold the process either. So the process ends regardless EXIT_GRACE seconds later.
        """
        asyncio.get_running_loop().remove_signal_handler(signum)
        self.exit(return_code=128 + signum)
        if not self.is_headless:  # a test's app shares its process with the tests
            threading.Thread(target=_end_after, args=(EXIT_GRACE, 128 + signum), daemon=True,
                             name="runyard-exit").start()

    def on_mount(self) -> None:
        if os.environ.get("SSH_CONNECTION"):
            self.animation_level = "none"  # every changed cell costs bandwidth over SSH
        self.push_screen(RunsScreen())
        # An archive or cleanup killed half-way is finished or undone before the first scan lists the tree (on
        # the scan lane, ahead of it); what was done is said in a notice.
        self.lanes.submit(SCAN_LANE, partial(_recover, self.root, self.post_message), tag="recover")
        if self.open_path is not None:  # that run first, at once; the tree is scanned behind it
            self.lanes.submit(("open",), partial(_find_run, self.open_path, self.root, self.post_message),
                              file=self.open_path.name, urgent=True)
        else:
            self.scan_tree()
        if self.watch_files:
            self.watcher = RunWatcher(self.root, self._on_watcher_change, poll=self.poll_mode)
            self.watcher.start()
            self._note_watch_mode()
        self.set_interval(1.0, self._tick)

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        for key in [*self.live, *self._loading]:
            self._drop_series(key)
        self.lanes.stop()

    def _on_watcher_change(self, changes: Changes) -> None:
        """Called on the watcher's thread: hand over to the app's own thread as a message."""
        self.post_message(FilesChanged(set(changes.paths), changes.rescan))

    def _note_watch_mode(self) -> None:
        if self.watcher is not None:  # the watcher may have fallen back to polling (watch limit reached)
            self.watch_mode = f"{'polling' if self.watcher.mode == 'poll' else 'watching'} ({self.watcher.reason})"

    async def action_quit(self) -> None:
        """Quit at once, unless work that must not be cut short is running: then ask. Asked again while the app
        waits for a job's step to end, it quits at once (the journal finishes or rolls back that step at the
        next start)."""
        if not self.destructive_jobs or self._quit_after_job:
            self.exit()
            return
        if isinstance(self.screen, QuitScreen):
            return
        jobs = sorted(self.destructive_jobs)
        self.push_screen(QuitScreen(jobs), self._quit_answered)

    def _quit_answered(self, leave: bool | None) -> None:
        """Quit confirmed: a job stops after its step under way (no step is cut short), then the app quits."""
        if not leave:
            return
        state = self.job
        if state is None or state.finished is not None or not state.job.running:
            self.exit()
            return
        state.job.stop()
        self._quit_after_job = True
        self.job_changed.publish(state)  # its progress says it stops after this step
        self.notify(f"quitting once {state.description} ends; q again quits now (the next start finishes or rolls "
                    "it back)", timeout=60, markup=False)

    # ----- scanning ---------------------------------------------------------------------------------------

    def scan_tree(self, periodic: bool = False) -> None:
        """Scan the root on its read lane (a scan asked for while one runs is done once, after it).

        A `periodic` scan (the watcher's reconcile) is left out until the last one's cost has been spread over
        enough time to keep scanning under `RESCAN_SHARE` of a core. The first scan's cost is not counted: it
        imports the readers and fills the cache, and says nothing of what a rescan costs."""
        spent, ended = self._scan_cost
        if periodic and time.monotonic() - ended < spent / RESCAN_SHARE:
            return
        # Runs being followed keep their records (read again on their own lanes as their files change): a scan
        # reading them too would read a big run twice at once, and hand the screen a second source to read.
        followed = {*self.follow_policy.running, *self.live, *self._loading}
        kept = {k: self.records[k] for k in followed if k in self.records}
        cost = self._scan_cost if self.first_scan_done else [0.0, 0.0]
        if self.lanes.submit(SCAN_LANE, partial(_scan, self.root, kept, self.post_message, cost), tag="scan"):
            self._scans += 1
        self.scanning = True

    def on_scan_done(self, message: ScanDone) -> None:
        self._scans = max(0, self._scans - 1)
        was_scanning, self.scanning = self.scanning, self._scans > 0
        if message.error:
            self.notify(message.error, severity="error", timeout=8)
        if message.aliases is not None:
            self.metric_aliases = message.aliases
        # Kept runs are listed as they were when the scan began: their records here may be newer since.
        fresh = {str(r.info.path): (self.records.get(str(r.info.path), r) if str(r.info.path) in message.kept
                                    else r) for r in message.records}
        moves = self._moves(fresh, message.records)
        structure = fresh.keys() != self.records.keys()
        changed = {k for k, r in fresh.items() if k not in self.records or _differs(self.records[k], r)}
        gone = self.records.keys() - fresh.keys()
        self.records = fresh
        for old, new in moves.items():
            self._move_run(old, new)
        self.sizes.forget(gone - moves.keys())
        self.sizes.changed(changed & self.sizes.sizes.keys())
        self.call_after_refresh(self._measure, self.sizes.wanted(fresh))  # the table is drawn first
        self._apply_following()
        if structure or changed:  # the periodic reconcile usually finds nothing new: then touch nothing
            self._tell_screens(changed, structure=structure)
        elif was_scanning and not self.scanning:
            self._tell_screens(set())  # nothing new, but titles must stop saying "scanning…"
        if not self.first_scan_done:
            self.first_scan_done = True
            gc.freeze()  # what start-up built lives as long as the app: keep it out of every later collection

    def _moves(self, fresh: dict[str, RunRecord], found: list[RunRecord]) -> dict[str, str]:
        """Runs this app holds that a scan no longer finds where they were, by where they went (found by id)."""
        moves = {}
        for old, record in self.records.items():
            if old in fresh or not record.info.id:
                continue
            moved = find_moved(found, old, record.info.id, known=self.records.keys())
            if moved is not None:
                moves[old] = str(moved.info.path)
        return moves

    def _move_run(self, old: str, new: str) -> None:
        """A run's folder moved (renamed while followed): its live series, its place in the following policy
        and the screens that show it go with it, and its rows are followed at the new place."""
        record = self.records[new]
        live, loading = self.live.pop(old, None), self._loading.pop(old, None)
        for gone in (live, loading):
            if gone is not None:
                self.lanes.submit(run_lane(old), gone.close, tag="close")  # after any read of it still running
        if live is not None and record.source is not None:
            moved = self.live[new] = live.moved_to(record.open())
            self._read_series(new, moved, full=True, urgent=True)
        self.follow_policy.moved(old, new)
        self.hues.moved(old, new)
        self.sizes.moved(old, new)
        if self.pinned == old:
            self.pinned = new
        for screen, keys in list(self._open_screens.items()):
            if old in keys:
                self._open_screens[screen] = tuple(new if k == old else k for k in keys)
                moved_to = getattr(screen, "run_moved", None)
                if moved_to is not None:
                    moved_to(old, new, record)
        if loading is not None or (live is None and new in self._open_keys()):
            self._want_series(new, urgent=True)
        if old in self._moved_by_job or self.job_running:  # the job says where its runs went
            self._moved_by_job.discard(old)
        else:
            self.notify(f"{Path(old).name} moved to {new}", timeout=4)

    def on_run_found(self, message: RunFound) -> None:
        """The run the app was opened on: show it, then scan the tree around it."""
        record = message.record
        if record is None:
            self.notify(f"{self.open_path} is not a run runyard can read: {message.error}", severity="error")
        elif message.key not in self.records:
            self.records[message.key] = record
            self._tell_screens({message.key}, structure=True)
            self.open_runs([record])
            if record.source is not None:  # its summary, read after the series the screen waits for
                self.lanes.submit(run_lane(message.key), partial(_reread, message.key, record.source, False,
                                                                 record.info.archived, self.post_message),
                                  tag="record", file=_file_name(record, "run.json"))
        self.scan_tree()

    def action_rescan(self) -> None:
        self.scan_tree()

    # ----- live following ---------------------------------------------------------------------------------

    def _open_keys(self) -> set[str]:
        """Runs shown by open screens (screens closed since are forgotten here); runs no longer shown, marked or
        pinned give their colour back."""
        stack = set(self.screen_stack)
        for screen in [s for s in self._open_screens if s not in stack]:
            del self._open_screens[screen]
        keys = {key for keys in self._open_screens.values() for key in keys}
        self.hues.keep(keys | {self.pinned} if self.pinned else keys)
        return keys

    def run_hue(self, key: str) -> int:
        """The run's colour, as an index into the palette: one per run in use, the same on every screen."""
        return self.hues.of(key)

    def show_runs(self, screen: Screen, keys: Iterable[str]) -> None:
        """`screen` shows (or overlays) these runs: their series stay loaded and their files followed closely
        while it is open, and they keep their colours."""
        keys = tuple(dict.fromkeys(keys))
        if self._open_screens.get(screen) != keys:
            self._open_screens[screen] = keys
            self._apply_following()

    def pin(self, key: str | None) -> None:
        """Pin a run as the reference every overlay shows (None: unpin)."""
        self.pinned = key
        self._open_keys()  # the old pin's colour is free again unless it is in use otherwise
        self._tell_screens({key} if key else set())

    def with_pinned(self, records: list[RunRecord]) -> list[RunRecord]:
        """`records` and the pinned run (first), unless it is among them already."""
        pinned = self.records.get(self.pinned) if self.pinned else None
        if pinned is None or any(str(r.info.path) == self.pinned for r in records):
            return records
        return [pinned, *records]

    def _apply_following(self) -> None:
        """Load the series of followed runs, let go of those no longer kept, tell the watcher what to follow."""
        self.follow_policy.update({k: r.info.status for k, r in self.records.items()}, self._open_keys())
        for key in self.follow_policy.running:
            self._want_series(key)
        self._drop_unkept()
        if self.watcher is not None:
            paths = sorted(self.records[k].info.path for k in self.follow_policy.watched if k in self.records)
            containers = _containers(self.root, self.records.values())
            if (paths, containers) != self._watched:  # the periodic rescan usually changes nothing here
                self._watched = (paths, containers)
                self.lanes.submit(WATCH_LANE, partial(_follow_on_disk, self.watcher, paths, containers),
                                  tag="follow")

    def _want_series(self, key: str, urgent: bool = False) -> LiveRun | None:
        """The live series of a run, asking for their first read if nobody did yet (None: not readable)."""
        live = self.live.get(key) or self._loading.get(key)
        if live is not None:
            return live
        record = self.records.get(key)
        if record is None or record.source is None:
            return None
        live = self._loading[key] = LiveRun(record.open())
        self._read_series(key, live, full=True, urgent=urgent)
        return live

    def _read_series(self, key: str, live: LiveRun, *, full: bool = False, urgent: bool = False) -> None:
        name = live.tailed or _file_name(self.records.get(key), "metrics.jsonl")
        self.lanes.submit(run_lane(key), partial(_read_series, key, live, full, self.post_message),
                          tag="load" if full else "poll", file=name, urgent=urgent)

    def _drop_unkept(self) -> None:
        """Let go of the series the following policy no longer keeps (open runs' are kept while open)."""
        keep = self.follow_policy.kept_loaded & self.records.keys() | self.follow_policy.open
        for key in [k for k in [*self.live, *self._loading] if k not in keep]:
            self._drop_series(key)

    def _drop_series(self, key: str) -> None:
        live = self.live.pop(key, None) or self._loading.pop(key, None)
        if live is not None:
            self.lanes.submit(run_lane(key), live.close, tag="close")  # after any read of it still running

    def live_state(self, key: str) -> LiveRun | None:
        """The live series of a run shown on screen: read first (ahead of the others) if they are not yet.

        A LiveRun still loading has no series yet; `placeholder()` says what to show meanwhile.
        """
        return self._want_series(key, urgent=True)

    def preview_state(self, key: str) -> LiveRun | None:
        """Series for the preview pane once read (None until then); the last few previewed runs stay loaded."""
        self.follow_policy.previewed(key)
        self._drop_unkept()
        live = self._want_series(key, urgent=True)
        return live if live is not None and live.loaded else None

    def waiting_for(self, key: str) -> str | None:
        """The file a run's read has been stuck on for a while (a hung network mount), or None."""
        waiting = self.lanes.waiting(run_lane(key))
        if waiting is None or waiting.seconds < STUCK_AFTER:
            return None
        return waiting.file or Path(key).name

    def read_details(self, key: str, reply_to: MessagePump) -> None:
        """Read what a run screen's other tabs show, ahead of other reads; `reply_to` gets `RunDetailsRead`."""
        record = self.records.get(key)
        if record is not None and record.source is not None:
            self.lanes.submit(run_lane(key), partial(_read_details, key, record.open(), reply_to.post_message),
                              tag="details", urgent=True)

    def on_run_loaded(self, message: RunLoaded) -> None:
        key, live = message.key, message.live
        if self._loading.get(key) is live:
            self.live[key] = self._loading.pop(key)
        elif self.live.get(key) is not live:
            return  # let go of meanwhile
        live.apply(message.snapshot)
        record = self.records.get(key)
        if message.snapshot.error and record is not None:
            record.info.error = record.info.error or f"metrics: {message.snapshot.error}"
        self._tell_screens({key})

    def on_rows_appended(self, message: RowsAppended) -> None:
        if self.live.get(message.key) is not message.live:
            return
        message.live.apply(message.batch)
        self._tell_screens({message.key})

    def on_files_changed(self, message: FilesChanged) -> None:
        self._note_watch_mode()
        names: dict[str, set[str]] = {}
        structural = False  # a run's own folder, or something beside the runs, came, went or moved
        for path in message.paths:
            key = self._run_key_of(Path(path))
            if key is not None:
                names.setdefault(key, set()).add(Path(path).name)
            structural = structural or key is None or key == str(path)
        quiet = set()  # runs whose changes ask for no read (their log only): screens hear of them at once
        for key, changed in names.items():
            record = self.records[key]
            live = self.live.get(key) or self._loading.get(key)
            wanted = rereads(changed, loaded=live is not None, tailed=live.tailed if live is not None else None)
            asked = False
            if wanted.series and live is not None:
                self._read_series(key, live)
                asked = True
            if wanted.record and record.source is not None:
                if wanted.record != INFO and live is not None and live.loaded and live.tailed is None:
                    self._records_wanted.add(key)  # read whole: spaced by its cost (see `_reread_due`)
                else:
                    self._reread(key, record, wanted.record)
                asked = True
            if not asked:
                quiet.add(key)
        if quiet:
            self._tell_screens(quiet)
        self._reread_due()
        self.sizes.changed(names)
        if message.rescan:  # runs that came, went or moved are listed now; the mere reconcile may wait
            self.scan_tree(periodic=not structural)

    def _reread(self, key: str, record: RunRecord, kind: str) -> None:
        """Read a run's record again on its lane: run.json only (INFO) or the whole listing record."""
        job = partial(_reread, key, record.source, kind == INFO, record.info.archived, self.post_message)
        self.lanes.submit(run_lane(key), partial(_timed, job, self._record_costs, key), tag=kind,
                          file=_file_name(record, "run.json"))

    def _reread_due(self) -> None:
        """Read again the records of runs read whole on every change whose turn came.

        Such a record (a TensorBoard or W&B run's) is worked out from all its rows, while the series the screens
        show of a followed run already come row by row; so each is read again at most every `RECORD_EVERY`
        seconds, and less often as it costs more: all of them together take at most `RECORD_SHARE` of a core.
        """
        if not self._records_wanted:
            return
        now = time.monotonic()
        spacing = max(1, len(self._records_next)) / RECORD_SHARE
        for key in list(self._records_wanted):
            record = self.records.get(key)
            if record is None or record.source is None:
                self._records_wanted.discard(key)
                self._records_next.pop(key, None)
            elif now >= self._records_next.get(key, 0.0):
                self._records_wanted.discard(key)
                self._reread(key, record, "record")
                self._records_next[key] = now + max(RECORD_EVERY, self._record_costs.get(key, 0.0) * spacing)
        for key in [k for k in self._records_next if k not in self.records]:
            del self._records_next[key]

    def _run_key_of(self, path: Path) -> str | None:
        """The run a changed file belongs to (its folder, or for one-file runs the file itself)."""
        key, root = str(path), str(self.root)
        while key not in self.records:
            parent = os.path.dirname(key)
            if parent == key or key == root:
                return None
            key = parent
        return key

    def on_record_read(self, message: RecordRead) -> None:
        record = self.records.get(message.key)
        if record is None or record.source is not message.source:
            return  # the run went away or was replaced meanwhile
        before = record.info.status
        if message.record is not None:
            record = self.records[message.key] = message.record
        elif message.info is not None:
            record.info = message.info
        else:  # run.json half-written or broken: keep what we had, say why
            record.info.error = message.error
        if record.info.status != before:
            self._apply_following()
        self._tell_screens({message.key})

    def _tick(self) -> None:
        """Statuses age (heartbeats go stale, runs stall): re-derive those of unfinished runs each second.

        Durations of quiet running runs are refreshed every few seconds only; a run that logs gets a fresh
        duration with its rows anyway, and every refresh of the table costs a re-render of all its rows. Reads
        stuck since the last tick free their place for others, and their runs say what they wait for.
        """
        self._ticks += 1
        self.lanes.pump()
        self._reread_due()
        self._measure(self.sizes.due())
        refresh_durations = self._ticks % DURATION_TICKS == 0
        changed = set()
        for key, record in self.records.items():
            info = record.info
            if info.stated_status == "running" and not info.error:
                before = info.status
                settle_status(info)  # as a read settles it: a writer gone quiet ends with its last row
                if info.status != before or (refresh_durations and info.status == "running"):
                    changed.add(key)
        stuck = frozenset(k for k in [*self.live, *self._loading] if self.waiting_for(k))
        changed |= stuck ^ self._stuck
        self._stuck = stuck
        open_before = len(self._open_screens)
        self._open_keys()
        if len(self._open_screens) != open_before:  # a run screen was closed: its runs need not stay loaded
            self._apply_following()
        if changed:
            self._tell_screens(changed)

    # ----- sizes and jobs ---------------------------------------------------------------------------------

    def _measure(self, keys: Iterable[str]) -> None:
        """Measure these runs' sizes on the sizes lane (one lane: a tree of big runs never holds up the reads)."""
        queued = False
        for key in keys:
            record = self.records.get(key)
            if record is not None:
                self._size_queue.put(key, record)
                queued = True
        if queued:
            self.lanes.submit(SIZE_LANE, partial(measure_sizes, self._size_queue, self.root, self._post_sizes),
                              tag="sizes")

    def _post_sizes(self, sizes: dict[str, int]) -> None:
        self.post_message(SizesMeasured(sizes))  # on the sizes lane's thread

    def on_sizes_measured(self, message: SizesMeasured) -> None:
        changed = self.sizes.got(message.sizes) & self.records.keys()
        if changed:
            self._tell_screens(changed)

    @property
    def job_running(self) -> bool:
        return self.job is not None and self.job.finished is None

    def run_job(self, job: Job, label: str) -> bool:
        """Start `job` (its report must post JobReport(job, event) to this app); False, said in one line, while
        another job is under way. `label` names it where quitting asks first ("archiving 3 runs")."""
        if self.job_running:
            self.notify(f"one thing at a time: {self.job.description} is under way", severity="warning",
                        timeout=4, markup=False)
            return False
        self.job = JobState(job)
        self._job_label = label
        self.destructive_jobs.add(label)
        job.start()
        self.job_changed.publish(self.job)
        return True

    def on_job_report(self, message: JobReport) -> None:
        """A job's thread reported: fold it in; the table follows each run moved, the result is one line."""
        state = self.job
        if state is None or state.job is not message.job:
            return
        event = message.event
        state.apply(event)
        if isinstance(event, StepEnded) and event.ok:
            if event.key is not None:
                self._moved_by_job.add(event.key)
            self.scan_tree()  # the run is shown where it went (or no more) as each step ends
        elif isinstance(event, Finished):
            self.destructive_jobs.discard(self._job_label)
            self.scan_tree()
            self.notify(event.line, severity="error" if event.failed else "information", timeout=8, markup=False)
            if self._quit_after_job:
                self.exit()
        self.job_changed.publish(state)
        self._tell_screens(set())  # the runs screen's title says how far the job is

    def on_recovered(self, message: Recovered) -> None:
        for line in message.lines:
            self.notify(line, timeout=10, markup=False)

    # ----- screens ----------------------------------------------------------------------------------------

    def _tell_screens(self, keys: set[str], structure: bool = False) -> None:
        self.runs_changed.publish(RunsChanged(frozenset(keys), structure))

    def open_runs(self, records: list[RunRecord], *, overlay: bool = False) -> None:
        """A run screen of `records`; an `overlay` (of marked runs) shows the pinned run as well."""
        self._open_screen(RunScreen, self.with_pinned(records) if overlay else records)

    def open_compare(self, records: list[RunRecord]) -> None:
        """The compare screen of `records` and the pinned run."""
        from .screens.compare import CompareScreen

        self._open_screen(CompareScreen, self.with_pinned(records))

    def _open_screen(self, kind: Callable[[list[RunRecord]], Screen], records: list[RunRecord]) -> None:
        readable = [r for r in records if r.source is not None]
        if not readable:
            self.notify(records[0].info.error or "this run cannot be read", severity="error")
            return
        screen = kind(readable)
        self._open_screens[screen] = tuple(str(r.info.path) for r in readable)
        for key in self._open_screens[screen]:
            self._want_series(key, urgent=True)
        self.push_screen(screen)
        self._apply_following()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from screen_commands(self, screen)


class QuitScreen(ModalScreen[bool]):
    """Asked before quitting while work that must not be cut short is running."""

    BINDINGS = [Binding("y", "dismiss(True)", "Quit anyway"), Binding("n,escape", "dismiss(False)", "Stay")]
    DEFAULT_CSS = """
    QuitScreen { align: center middle; }
    QuitScreen > Vertical { width: 64; max-width: 90%; height: auto; border: thick $error; padding: 0 1; }
    """

    def __init__(self, jobs: list[str]) -> None:
        super().__init__()
        self.jobs = jobs

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Still running, and stopping it half-way is not safe:", markup=False)
            for job in self.jobs:
                yield Static(f"  • {job}", markup=False)
            yield Static("Quit once the step under way ends? y / n", markup=False)


def _end_after(seconds: float, status: int) -> None:
    """End the process with `status` after `seconds`, whatever it is doing (no clean-up: it is overdue)."""
    time.sleep(seconds)
    os._exit(status)


# ----- what runs on the read lanes (only the arguments are touched; results go out as messages) -----------------

def _scan(root: Path, kept: dict[str, RunRecord], post: Callable[[object], object], cost: list[float]) -> None:
    started = time.thread_time()
    try:
        records = scan(root, keep=kept)
        try:
            aliases = load_aliases(root)  # cached by the files' versions: a rescan usually reads nothing
        except Exception:  # a broken runyard.toml leaves names matched by case and separators only
            aliases = None
        post(ScanDone(records, kept=frozenset(kept), aliases=aliases))
    except Exception as exc:  # an unreadable root: say so in place, keep the app alive
        post(ScanDone([], f"cannot scan {root}: {exc}"))
    finally:
        cost[:] = [time.thread_time() - started, time.monotonic()]


def _timed(job: Callable[[], None], costs: dict[str, float], key: str) -> None:
    """Run `job`, noting the CPU seconds it took under `key` (on the lane's thread)."""
    started = time.thread_time()
    try:
        job()
    finally:
        costs[key] = time.thread_time() - started


def _recover(root: Path, post: Callable[[object], object]) -> None:
    """Finish or roll back what a runyard killed mid-operation left in the root's journal (nothing when none)."""
    try:
        lines = recover_quietly(root)
    except Exception as exc:  # never keeps the app from starting: the next command tries again
        lines = [f"operations left half-done under {root} could not be finished: {one_line(exc)}"]
    if lines:
        post(Recovered(list(lines)))


def _find_run(path: Path, root: Path, post: Callable[[object], object]) -> None:
    try:
        source = find_source(path)
    except Exception as exc:
        post(RunFound(str(path), None, str(exc)))
        return
    record = _first_record(source)
    parts = source.path.relative_to(root).parts if source.path.is_relative_to(root) else ()
    record.info.archived = len(parts) > 1 and parts[0] == "archive"  # the root's own archive folder, as scan()
    settle_status(record.info)
    post(RunFound(str(source.path), record))


def _first_record(source) -> RunRecord:
    """A run's record without its metric summary, which reads every row: the run screen opens on it at once,
    and the whole record is read behind the screen's first read of the series."""
    try:
        info = source.first_info()  # a big W&B log: its first part and its end, not every record
    except Exception:
        return read_record(source)  # the record says why, as a listing would
    record = RunRecord(info, source=source)
    with contextlib.suppress(Exception):  # read again in full right after; a broken config says so then
        record.config = source.first_config()
    return record


def _read_series(key: str, live: LiveRun, full: bool, post: Callable[[object], object]) -> None:
    try:
        update = live.read(full, part=lambda first: post(RunLoaded(key, live, first)))  # a big run's first parts
    except OSError:  # an I/O error on appended rows (a network filesystem): none this time, the next change retries
        update = RowBatch()
    post(RowsAppended(key, live, update) if isinstance(update, RowBatch) else RunLoaded(key, live, update))


def _reread(key: str, source, info_only: bool, archived: bool, post: Callable[[object], object]) -> None:
    if info_only:
        try:
            info = source.read_info()
        except Exception as exc:  # an unreadable file is said as everywhere ("cannot read run.json: not a directory")
            why = unreadable_reason(exc) if isinstance(exc, OSError) else f"run.json: {exc}"
            post(RecordRead(key, source, error=why))
            return
        info.archived = archived
        settle_status(info)
        post(RecordRead(key, source, info=info))
        return
    record = read_record(source)
    record.info.archived = archived
    settle_status(record.info)
    post(RecordRead(key, source, record=record))


def _read_details(key: str, view: RunView, post: Callable[[object], object]) -> None:
    post(RunDetailsRead(key, read_details(view)))


def _follow_on_disk(watcher: RunWatcher, runs: list[Path], containers: set[Path]) -> None:
    """Tell the watcher which run folders to follow (a one-file run is followed through its folder)."""
    watcher.follow(path if path.is_dir() else path.parent for path in runs)
    watcher.watch_containers(containers)


def _file_name(record: RunRecord | None, runyard_name: str) -> str | None:
    """The file a read of a run is on, as "waiting for ..." names it, known without touching the disk: the
    runyard/1 file, else the run's own file or folder."""
    if record is None:
        return None
    return runyard_name if record.info.format.startswith("runyard") else record.info.path.name


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
