"""The runs screen: every run under the root, filtered as you type, with a live preview of the highlighted one."""

from __future__ import annotations

import time
from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize, ScreenResume
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from runyard import FilterError, RunRecord, clean_field, compile_filter, main_metrics, match_metrics, short_names

from ..live.runstate import LiveRun
from ..messages import RunsChanged
from ..widgets.preview import Overlaid, Preview
from ..widgets.runs_table import PIN_MARK, RowFacts, RunsTable, facts_for

PREVIEW_INTERVAL = 1.0
# The preview gives way to the runs on a small window: it is shown from 50 columns and 18 lines, where the table
# still keeps 5 rows of runs (title, filter, header, footer and the preview's 9 lines take the other 13).
PREVIEW_ROOM = (50, 18)

def table_interval(live_runs: int) -> float:
    """Seconds between table redraws for how many runs are live: each redraw re-renders every visible row, so
    a few live runs update almost at once while a hundred are folded into one redraw every 2 s."""
    return 0.2 if live_runs <= 5 else 1.0 if live_runs <= 20 else 2.0


class RunsScreen(Screen):
    """A table of all runs; enter opens the highlighted run (or every marked run, overlaid), `c` compares the
    marked runs; the preview overlays the marked runs (and the pinned one) on the highlighted one's curve."""

    BINDINGS = [
        Binding("enter", "open", "Open", priority=False),
        Binding("c", "compare", "Compare"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        # the footer keeps compare, quit and help; the others are in help (?) and the palette
        Binding("A", "toggle_archived", "Archived", show=False, tooltip="show or hide archived runs"),
        Binding("p", "toggle_preview", "Preview"),
        Binding("U", "unmark_all", "Unmark all", show=False),
        Binding("P", "pin", "Pin as reference", show=False),
        Binding("b", "best", "Best checkpoints", show=False),
        # Managing runs: each acts on the marked runs (none marked: the highlighted one), previews, then asks.
        Binding("a", "archive", "Archive", show=False),
        Binding("d", "trash", "Move to the trash", show=False, tooltip="restorable"),
        Binding("u", "restore", "Restore from the archive", show=False, tooltip="trash: C, t"),
        Binding("C", "cleanup", "Clean up", show=False, tooltip="by policy, previewed"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.show_archived = True
        self._filter_timer: Timer | None = None
        self._preview_timer: Timer | None = None
        self._preview_drawn = 0.0
        self._preview_pending = False  # the preview waits for the highlighted run's first read
        self._pending: set[str] = set()
        self._title = ""
        self._table_timer: Timer | None = None
        self._table_drawn = 0.0
        self._table_interval = table_interval(0)
        self.preview_wanted = True  # `p` toggles it; a window too small hides it all the same

    def compose(self) -> ComposeResult:
        yield Static(id="runs-title", markup=False)
        yield Input(placeholder="filter: words, lr<1e-3, val/loss.min<1.5, status=running  (/)", id="filter")
        yield RunsTable(id="runs")
        yield Preview(id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RunsTable).focus()
        self.app.runs_changed.subscribe(self, self._on_runs_changed)
        self.refresh_rows()

    def _on_runs_changed(self, change: RunsChanged) -> None:
        if self._preview_pending and self.table.highlighted_key() in change.keys:
            self._schedule_preview(0.01)  # its series were just read: no need to wait for the next redraw
        if change.structure:
            self.refresh_rows()
        elif change.keys:
            self.runs_changed(set(change.keys))
        else:  # nothing changed but the app's state (a scan ended): only the title may say otherwise
            self._update_title()

    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def runs_changed(self, changed: set[str]) -> None:
        """Live changes: shown straight away if the table was quiet for a second, else folded into one redraw.

        Each table redraw re-renders every visible row, so following a hundred live runs must not redraw it
        on every file event.
        """
        self._pending |= changed
        if self._table_timer is not None:
            return
        wait = self._table_interval - (time.monotonic() - self._table_drawn)
        if wait <= 0:
            self._flush_pending()
        else:
            self._table_timer = self.set_timer(wait, self._flush_pending)

    def _flush_pending(self) -> None:
        self._table_timer = None
        pending, self._pending = self._pending, set()
        self._table_interval = table_interval(len(self.app.following))
        if pending:
            self.refresh_rows(pending)

    def refresh_rows(self, changed: set[str] | None = None) -> None:
        """Show the app's runs that pass the filter; with `changed`, only those rows are rewritten."""
        self._table_drawn = time.monotonic()
        app = self.app
        try:
            predicate = compile_filter(self.filter_text)
            self.query_one("#filter", Input).remove_class("-invalid")
        except FilterError as exc:
            self.query_one("#filter", Input).add_class("-invalid")
            self.notify(str(exc), severity="warning", timeout=3)
            return
        table = self.table
        marked = {str(r.info.path) for r in table.marked()}
        if changed is not None:
            for key in changed:
                record = app.records.get(key)
                if record is not None and key in table.facts and predicate(record):
                    table.update_row(self._facts(key, record, key in marked))
                elif record is None or (key in table.facts) != predicate(record):
                    changed = None  # a row appears or disappears: fall through to a full pass
                    break
            if changed is not None:
                self._update_title()
                self._maybe_refresh_preview(changed)
                return
        rows = [self._facts(k, r, k in marked) for k, r in app.records.items()
                if (self.show_archived or not r.info.archived) and predicate(r)]
        table.show_rows(rows)
        self._update_title()
        self._schedule_preview()

    def _facts(self, key: str, record: RunRecord, marked: bool) -> RowFacts:
        """A row's values, its mark drawn in the run's colour when it is marked or pinned."""
        facts = facts_for(record, self._live(key), marked, self.app.sizes.get(key))
        pinned = key == self.app.pinned
        if marked or pinned:
            facts = replace(facts, pinned=pinned, hue=self.app.run_hue(key))
        return facts

    def _live(self, key: str) -> LiveRun | None:
        """A row's live series: those of followed runs only, so that a finished run's row does not change just
        because its series were read for the preview or the run screen."""
        return self.app.live.get(key) if key in self.app.following else None

    def _update_title(self) -> None:
        app = self.app
        shown, total = self.table.row_count, len(app.records)
        running = sum(1 for r in app.records.values() if r.info.status == "running")
        marked = len(self.table.marked())
        parts = [f"runyard  {app.root}", f"{shown} of {total} runs" if shown != total else f"{total} runs"]
        if running:
            parts.append(f"{running} running")
        if marked:
            parts.append(f"{marked} marked")
        pinned = app.records.get(app.pinned) if app.pinned else None
        if pinned is not None:
            parts.append(f"{PIN_MARK} {clean_field(pinned.info.name)} pinned")
        if app.job_running:
            job = app.job
            share = f" {100 * job.done // job.total}%" if job.total else ""
            parts.append(f"{job.description}{share}")
        parts.append(app.watch_mode)
        if app.scanning:
            parts.append("scanning…")
        title = "  ·  ".join(parts)
        if title != self._title:  # a fixed one-line bar: no layout pass, and none at all when unchanged
            self._title = title
            self.query_one("#runs-title", Static).update(title, layout=False)

    # ----- filter -----------------------------------------------------------------------------------------

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.15, self.refresh_rows)

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self.table.focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.value:
            box.value = ""
        self.table.focus()

    def action_toggle_archived(self) -> None:
        self.show_archived = not self.show_archived
        self.notify("archived runs shown" if self.show_archived else "archived runs hidden", timeout=2)
        self.refresh_rows()

    def action_toggle_preview(self) -> None:
        if not self._room_for_preview():  # hidden by the window's size: say so, and keep what was wanted
            self.notify(f"the preview needs a window of {PREVIEW_ROOM[0]}x{PREVIEW_ROOM[1]}", timeout=3)
            return
        self.preview_wanted = not self.preview_wanted
        self._fit_preview()

    def _room_for_preview(self) -> bool:
        width, height = self.size
        return width >= PREVIEW_ROOM[0] and height >= PREVIEW_ROOM[1]

    def _fit_preview(self) -> None:
        """Show the preview if it is wanted and the window has room for it beside the runs (rows first)."""
        preview = self.query_one(Preview)
        shown = self.preview_wanted and self._room_for_preview()
        if preview.display != shown:
            preview.display = shown
            if shown:
                self._schedule_preview()

    def on_resize(self, event: Resize) -> None:
        self._fit_preview()

    def on_screen_resume(self, event: ScreenResume) -> None:
        self._fit_preview()  # the window may have changed size while a run screen was on top

    def action_unmark_all(self) -> None:
        for record in self.table.marked():
            self.table.highlight(str(record.info.path))
            self.table.action_toggle_mark()

    @on(RunsTable.MarkToggled, "#runs")
    def _mark_toggled(self, event: RunsTable.MarkToggled) -> None:
        self._hold_overlay()
        self.refresh_rows({event.key})  # the mark takes the run's colour
        self._schedule_preview()

    def _hold_overlay(self) -> None:
        """The marked and pinned runs stay loaded and keep their colours while they are marked (or pinned)."""
        keys = [str(r.info.path) for r in self.table.marked()]
        if self.app.pinned:
            keys.insert(0, self.app.pinned)
        self.app.show_runs(self, keys)

    def action_pin(self) -> None:
        """Pin the highlighted run as the reference every overlay shows (preview, compare, run screen); the same
        again unpins it."""
        key = self.table.highlighted_key()
        if key is None:
            return
        before = self.app.pinned
        self.app.pin(None if before == key else key)
        self._hold_overlay()
        self.refresh_rows({k for k in (before, key) if k})
        self._update_title()
        self._schedule_preview()
        name = clean_field(self.app.records[key].info.name)
        self.notify(f"{name} unpinned" if before == key else f"{name} pinned: every overlay shows it", timeout=3,
                    markup=False)

    # ----- managing -----------------------------------------------------------------------------------------

    def targets(self) -> list[RunRecord]:
        """The runs a key acts on: the marked ones, else the highlighted one (as the app holds them now)."""
        records = self.app.records
        marked = [records[k] for k in (str(r.info.path) for r in self.table.marked()) if k in records]
        key = self.table.highlighted_key()
        return marked or ([records[key]] if key in records else [])

    def _manage(self, kind: str) -> None:
        from .manage import ask_and_run

        ask_and_run(self.app, kind, self.targets())

    def action_archive(self) -> None:
        self._manage("archive")

    def action_trash(self) -> None:
        self._manage("trash")

    def action_restore(self) -> None:
        self._manage("restore")

    def action_cleanup(self) -> None:
        from .manage import CleanupScreen

        self.app.push_screen(CleanupScreen(self.filter_text))

    # ----- preview and opening ------------------------------------------------------------------------------

    @on(RunsTable.RowHighlighted, "#runs")
    def _row_highlighted(self) -> None:
        self._schedule_preview()

    def _schedule_preview(self, delay: float = 0.1) -> None:
        if self._preview_timer is not None:
            self._preview_timer.stop()
        self._preview_timer = self.set_timer(delay, self.refresh_preview)

    def _maybe_refresh_preview(self, changed: set[str]) -> None:
        """Live data redraws the preview at most once a second (it is a glance, not the run view)."""
        shown = {self.table.highlighted_key(), self.app.pinned, *(str(r.info.path) for r in self.table.marked())}
        if not shown & changed or self._preview_timer is not None:
            return
        wait = max(0.01, PREVIEW_INTERVAL - (time.monotonic() - self._preview_drawn))  # Textual timers need > 0
        self._preview_timer = self.set_timer(wait, self.refresh_preview)

    def refresh_preview(self) -> None:
        self._preview_timer = None
        self._preview_drawn = time.monotonic()
        preview = self.query_one(Preview)
        key = self.table.highlighted_key()
        record = self.app.records.get(key) if key else None
        if record is None or not preview.display:
            return
        live = self.app.preview_state(key)  # None until read: asks for the read, which tells us when it is in
        self._preview_pending = live is None and record.source is not None
        waiting = self.app.waiting_for(key)
        placeholder = f"waiting for {waiting}" if waiting else live.placeholder() if live is not None else "loading…"
        log = record.source.log_path if record.source is not None else None  # found on the reading thread
        preview.show(live, log, record.info.status, record.info.error or placeholder or "",
                     overlay=self._overlay(key, live))

    def _overlay(self, key: str, live: LiveRun | None) -> list[Overlaid]:
        """The runs the preview overlays on the highlighted one (the pinned run, the marked ones), each in its
        colour and with its name for the highlighted run's main metric; empty when there are none."""
        app = self.app
        keys = [k for k in dict.fromkeys([app.pinned, *(str(r.info.path) for r in self.table.marked())])
                if k and k != key and k in app.records]
        if not keys or live is None:
            return []
        names = main_metrics(live.series, limit=1)
        if not names:
            return []
        lives = {k: live if k == key else app.live_state(k) for k in [*keys, key]}
        # The same metric whatever each run calls it (`val_loss`, `val/loss`, or a user's alias of it).
        match = match_metrics({k: list(v.series) if v is not None else [] for k, v in lives.items()},
                              app.metric_aliases)
        members = match.groups.get(match.canonical_of(key, names[0]) or "", {})
        labels = short_names([clean_field(app.records[k].info.name) for k in lives])  # what tells them apart
        overlay = []
        for (k, other), label in zip(lives.items(), labels, strict=True):  # the highlighted run last: on top
            overlay.append(Overlaid(label, app.run_hue(k), other, members.get(k), pinned=k == app.pinned))
        return overlay

    @on(RunsTable.RowSelected, "#runs")
    def _row_selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        if self.focused is self.query_one("#filter", Input):
            self.table.focus()
            return
        marked = self.table.marked()
        key = self.table.highlighted_key()
        records = marked or ([self.app.records[key]] if key in self.app.records else [])
        if records:
            self.app.open_runs(records, overlay=bool(marked))

    def action_compare(self) -> None:
        """Compare the marked runs (and the pinned one); with none marked, the highlighted run, saying how to pick."""
        marked = self.table.marked()
        key = self.table.highlighted_key()
        records = marked or ([self.app.records[key]] if key in self.app.records else [])
        if not records:
            return
        if not marked:
            self.notify("space marks the runs to compare; showing the highlighted run", timeout=4)
        self.app.open_compare(records)

    def action_best(self) -> None:
        """The checkpoints of the runs shown (the filter applied), ranked by one metric."""
        table = self.table
        records = [table.facts[table.key_at(i)].record for i in range(table.row_count)]
        if not records:
            self.notify("no runs shown to rank the checkpoints of", timeout=3)
            return
        from .best import BestScreen

        self.app.push_screen(BestScreen(records))
