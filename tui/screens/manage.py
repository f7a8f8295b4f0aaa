"""Managing runs: the preview every archive, trash and restore shows before it asks, the progress of the job that
then runs, and the cleanup screen (a plan by policy with its reasons, then applied; and the trash).

Nothing here touches a run. Previews, plans and the trash are read on the app's read lanes and posted back
(`PreviewReady`, `CleanPlanned`, `TrashListed`); the operations run as a job (`live/manage.py`) on a thread of
its own, whose reports the app folds into `app.job` and publishes on `app.job_changed`. Closing any of these
screens leaves a job running: `a`, `d` or `u` on the runs screen shows its progress again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import Checkbox, DataTable, Footer, Input, Label, ProgressBar, Static, TabbedContent, TabPane

from runyard import RunRecord, clean_field

from ..live.manage import (
    ARCHIVE,
    CLEAN,
    EMPTY,
    RESTORE,
    TRASH,
    UNTRASH,
    VERBS,
    Item,
    Job,
    JobState,
    Preview,
    archive_steps,
    build_preview,
    clean_steps,
    empty_steps,
    human_size,
    make_plan,
    one_line,
    plural,
    quick_refusal,
    read_policy,
    relative,
    restore_steps,
    trash_preview,
    trash_steps,
    untrash_steps,
)
from ..messages import JobReport, RunsChanged

PREVIEW_LANE, PLAN_LANE, TRASH_LANE = ("manage", "preview"), ("manage", "plan"), ("manage", "trash")
PLAN_DELAY = 0.3  # seconds of quiet typing before the plan is made again


# ----- what lane jobs post ---------------------------------------------------------------------------------------

@dataclass
class PreviewReady(Message, bubble=False):
    """A preview, made on a read lane (sizes measured, destinations looked at)."""

    preview: Preview


@dataclass
class CleanPlanned(Message, bubble=False):
    """A cleanup plan made on a read lane for asking number `request` (a newer asking supersedes it)."""

    request: int
    plan: Any = None
    error: str | None = None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, CleanPlanned)


@dataclass
class TrashListed(Message, bubble=False):
    """The trash's entries, oldest first, read on a read lane."""

    entries: list[Any]
    error: str | None = None


def _make_preview(root: Path, kind: str, records: list[RunRecord], entries: list[Any] | None,
                  post: Any) -> None:
    try:
        preview = trash_preview(root, kind, entries) if entries is not None else build_preview(root, kind, records)
    except Exception as exc:
        preview = Preview(kind, root, [], error=one_line(exc))
    post(PreviewReady(preview))


def _make_plan(root: Path, records: list[RunRecord], policy: Any, request: int, post: Any) -> None:
    try:
        plan = make_plan(root, records, policy)
    except Exception as exc:  # an empty policy, a filter that does not read, a runs folder gone: one line
        post(CleanPlanned(request, error=one_line(exc)))
        return
    post(CleanPlanned(request, plan))


def _list_trash(root: Path, post: Any) -> None:
    from runyard import list_trash

    try:
        post(TrashListed(list_trash(root)))
    except Exception as exc:
        post(TrashListed([], one_line(exc)))


# ----- starting a job --------------------------------------------------------------------------------------------

@dataclass
class Confirmed:
    """The answer of a confirmed preview: what it showed, and whether to compress (archive only)."""

    preview: Preview
    compress: bool = False


def ask_and_run(app: App, kind: str, records: list[RunRecord]) -> None:
    """`a`, `d` or `u` on these runs: a preview that asks, then the job with its progress.

    While a job runs its progress is shown again instead. Runs that cannot be acted on by what the app already
    knows (running, not archived) are said in one line when none is left to act on."""
    if getattr(app, "job_running", False):
        app.push_screen(ProgressScreen())
        return
    if not records:
        return
    refusals = [(r, quick_refusal(kind, r)) for r in records]
    if all(why is not None for _, why in refusals):
        record, why = refusals[0]
        more = f" (and {len(refusals) - 1} more)" if len(refusals) > 1 else ""
        hint = "; a trashed run is restored from the trash (C, then t)" if why == "not archived" else ""
        app.notify(f"{clean_field(record.info.name)}: {why}{more}{hint}", severity="warning", timeout=5,
                   markup=False)
        return

    def answered(result: Confirmed | None) -> None:
        if result is not None:
            start_job(app, result)

    app.push_screen(ConfirmScreen(kind, app.root, records=records), answered)


def start_job(app: App, confirmed: Confirmed, steps: Any = None) -> Job | None:
    """Run the confirmed preview's operation as a job and show its progress (None: another job runs)."""
    preview = confirmed.preview
    root, items = preview.root, preview.todo
    kind = preview.kind
    if steps is None:
        make = {ARCHIVE: partial(archive_steps, compress=confirmed.compress), TRASH: trash_steps,
                RESTORE: restore_steps, UNTRASH: untrash_steps, EMPTY: empty_steps}[kind]
        steps = make(root, items)
    verb = VERBS[kind]
    job = Job(kind, steps, lambda event: app.post_message(JobReport(job, event)))
    if not app.run_job(job, f"{verb.doing} {plural(len(items), verb.noun)}"):
        return None
    app.push_screen(ProgressScreen())
    return job


# ----- the preview -----------------------------------------------------------------------------------------------

class ConfirmScreen(ModalScreen["Confirmed | None"]):
    """What an operation would do, run by run: size, where it goes, or why it is refused; totals. `y`/`enter` goes
    ahead, `n`/`esc` leaves everything as it is; `c` toggles compression for an archive."""

    BINDINGS = [
        Binding("y,enter", "confirm", "Go ahead", priority=True),
        Binding("n,escape", "cancel", "Cancel", priority=True),
        Binding("c", "toggle_compress", "Compress", tooltip="archive only: .tar.zst, verified before the run goes"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 92; max-width: 96%; height: auto; max-height: 90%;
        border: thick $warning; background: $surface; padding: 0 1;
    }
    ConfirmScreen.-final > Vertical { border: thick $error; }
    ConfirmScreen #confirm-title { text-style: bold; }
    ConfirmScreen DataTable { height: auto; max-height: 16; margin: 1 0; }
    ConfirmScreen #confirm-keys { color: $text-muted; }
    """

    def __init__(self, kind: str, root: Path, *, records: list[RunRecord] | None = None,
                 entries: list[Any] | None = None, preview: Preview | None = None, title: str | None = None) -> None:
        super().__init__()
        self.kind, self.root = kind, root
        self.records = records or []
        self.entries = entries
        self.preview = preview
        self.compress = False
        count = len(preview.items) if preview is not None else len(entries if entries is not None else self.records)
        self.heading = title or f"{VERBS[kind].title}: {plural(count, VERBS[kind].noun)}"
        if kind == EMPTY:
            self.add_class("-final")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.heading, id="confirm-title", markup=False)
            yield DataTable(id="confirm-items", cursor_type="none", show_cursor=False)
            yield Static("measuring…", id="confirm-totals", markup=False)
            yield Static("", id="confirm-keys", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("run" if VERBS[self.kind].noun == "run" else "item", "size", "what happens")
        if self.preview is not None:
            self._show()
        else:
            self.app.lanes.submit(PREVIEW_LANE, partial(_make_preview, self.root, self.kind, self.records,
                                                        self.entries, self.post_message), tag="preview", urgent=True)
        self._show_keys()

    def on_preview_ready(self, message: PreviewReady) -> None:
        self.preview = message.preview
        self._show()

    def _show(self) -> None:
        preview = self.preview
        table = self.query_one(DataTable)
        table.clear()
        for item in preview.items:
            table.add_row(Text(item.name), Text(human_size(item.size), justify="right"), self._fate(item))
        totals = preview.error or preview.totals(self.compress)
        if self.kind == EMPTY and preview.todo:
            totals += " · this cannot be undone"
        self.query_one("#confirm-totals", Static).update(totals)
        self._show_keys()

    def _fate(self, item: Item) -> Text:
        if item.refused is not None:
            return Text(f"refused: {item.refused}", style="red")
        fate = Text(item.dest)
        if self.kind == ARCHIVE and self.compress:
            fate.append(" compressed", style="bold")
        return fate

    def _show_keys(self) -> None:
        preview = self.preview
        if preview is None:
            keys = "n / esc: cancel"
        elif not preview.todo:
            keys = "nothing to do · n / esc: close"
        else:
            keys = f"y / enter: {VERBS[self.kind].title.lower()} · n / esc: cancel"
            if self.kind == ARCHIVE:
                keys += f" · c: compress ({'on' if self.compress else 'off'})"
        self.query_one("#confirm-keys", Static).update(keys)

    def action_confirm(self) -> None:
        if self.preview is None:
            self.notify("still measuring: a moment", timeout=2)
            return
        self.dismiss(Confirmed(self.preview, self.compress) if self.preview.todo else None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_toggle_compress(self) -> None:
        if self.kind != ARCHIVE:
            return
        self.compress = not self.compress
        if self.preview is not None:
            self._show()
        else:
            self._show_keys()


# ----- the progress ----------------------------------------------------------------------------------------------

class ProgressScreen(ModalScreen[None]):
    """The job under way: a bar of bytes done, the step it is at, each step ended. `esc` hides it and the job goes
    on (`a`, `d` or `u` on the runs screen shows it again); it closes by itself when the job ends."""

    BINDINGS = [Binding("escape,h", "hide", "Hide (the job goes on)"),
                Binding("q,ctrl+c", "app.quit", "Quit (asks first)", show=False)]  # a modal hides the app's keys
    DEFAULT_CSS = """
    ProgressScreen { align: center middle; }
    ProgressScreen > Vertical {
        width: 80; max-width: 96%; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    ProgressScreen #progress-title { text-style: bold; }
    ProgressScreen ProgressBar { margin: 1 0 0 0; width: 100%; }
    ProgressScreen ProgressBar Bar { width: 1fr; }
    ProgressScreen #progress-log { height: auto; max-height: 10; margin: 1 0 0 0; }
    ProgressScreen #progress-keys { color: $text-muted; margin: 1 0 0 0; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="progress-title", markup=False)
            yield ProgressBar(total=None, show_eta=False, id="progress-bar")
            yield Static("", id="progress-now", markup=False)
            yield Static("", id="progress-log", markup=False)
            yield Static("esc: hide (the job goes on; a, d or u shows it again)", id="progress-keys", markup=False)

    def on_mount(self) -> None:
        self.app.job_changed.subscribe(self, self._job_changed)
        if self.app.job is not None:
            self._job_changed(self.app.job)

    def _job_changed(self, state: JobState) -> None:
        verb = state.job.verb
        title = f"{state.title}: {plural(state.steps, verb.noun)}, {human_size(state.total)}" if state.steps else \
            state.title
        self.query_one("#progress-title", Static).update(title)
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, state.total), progress=state.done)
        now = ""
        if state.finished is None and state.steps:
            now = f"{human_size(state.done)} of {human_size(state.total)} · {verb.doing} {state.label} " \
                  f"({min(state.step + 1, state.steps)} of {state.steps})"
            if state.what:
                now += f": {clean_field(state.what)}"
            if state.job.stopping:
                now += "\nstopping once this step ends (none is cut short); q again quits now"
        self.query_one("#progress-now", Static).update(now)
        log = Text()
        for ended in state.ended[-10:]:
            if log:
                log.append("\n")
            log.append("✓ " if ended.ok else "✗ ", style="green" if ended.ok else "red")
            log.append(f"{ended.label} {ended.message}" if ended.ok else f"{ended.label}: {ended.message}")
        self.query_one("#progress-log", Static).update(log)
        if state.finished is not None and self.is_current:
            self.dismiss(None)

    def action_hide(self) -> None:
        self.dismiss(None)


# ----- the cleanup screen ----------------------------------------------------------------------------------------

POLICY_FIELDS = (("keep_best", "keep best", "3"), ("keep_last", "last", "2"),
                 ("failed_shorter_than", "failed under", "10m"), ("older_than", "older than", "90d"))


class CleanupScreen(Screen):
    """Clean up by policy: rules at the top, then the plan as restic shows one — what goes (to the trash or the
    archive) with the reason, what stays with every reason — and how much emptying the trash would free. `y`
    (or `enter` on the plan) applies it after a confirmation; the plan is made again just before. `t` shows
    the trash, where `u` restores and `x` deletes for good."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("y", "apply", "Apply the plan"),
        Binding("t", "toggle_tab", "Plan / trash"),
        Binding("space", "mark", "Mark", show=False),
        Binding("u", "untrash", "Restore from the trash"),
        Binding("x", "empty", "Empty the trash"),
    ]
    DEFAULT_CSS = """
    CleanupScreen #cleanup-title { height: 1; background: $panel; text-style: bold; padding: 0 1; }
    CleanupScreen TabbedContent { height: 1fr; }
    CleanupScreen ContentSwitcher { height: 1fr; }
    CleanupScreen TabPane { height: 1fr; padding: 0; }
    CleanupScreen #policy { height: 1; margin: 1 0 0 0; }
    CleanupScreen #policy Label { padding: 0 1 0 1; }
    CleanupScreen #policy Input { width: 7; }
    CleanupScreen #policy #clean-filter { width: 1fr; }
    CleanupScreen #policy Checkbox { width: auto; }
    CleanupScreen Input.-invalid { color: $error; text-style: bold; }
    CleanupScreen .heading { height: 1; text-style: bold; margin: 1 0 0 0; padding: 0 1; }
    CleanupScreen #remove { height: 1fr; min-height: 3; }
    CleanupScreen #keep { height: 1fr; min-height: 3; }
    CleanupScreen #clean-summary { height: auto; padding: 0 1; margin: 1 0 0 0; text-style: bold; }
    CleanupScreen #trash-table { height: 1fr; }
    """

    def __init__(self, filter_text: str = "") -> None:
        super().__init__()
        self.filter_text = filter_text
        self.plan: Any = None
        self.policy: Any = None
        self._request = 0
        self._timer: Timer | None = None
        self.trash: list[Any] = []
        self.trash_marked: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static("", id="cleanup-title", markup=False)
        with TabbedContent(id="cleanup-tabs"):
            with TabPane("Plan", id="plan"):
                with Horizontal(id="policy"):
                    for name, label, example in POLICY_FIELDS:
                        yield Label(label)
                        yield Input(placeholder=example, id=name.replace("_", "-"), compact=True,
                                    type="integer" if name.startswith("keep_") else "text")
                    yield Checkbox("archive old", id="archive-old", compact=True)
                    yield Label("filter")
                    yield Input(self.filter_text, placeholder="status=failed", id="clean-filter", compact=True)
                yield Static("", classes="heading", id="remove-head", markup=False)
                yield DataTable(id="remove", cursor_type="row", zebra_stripes=True)
                yield Static("", classes="heading", id="keep-head", markup=False)
                yield DataTable(id="keep", cursor_type="row", zebra_stripes=True)
                yield Static("", id="clean-summary", markup=False)
            with TabPane("Trash", id="trash"):
                yield Static("", classes="heading", id="trash-head", markup=False)
                yield DataTable(id="trash-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        root = self.app.root
        self.query_one("#cleanup-title", Static).update(
            f"Clean up {root} · what goes moves to .trash/ (restorable) or archive/ · tab: the rules")
        self.query_one("#remove", DataTable).add_columns("path", "size", "goes", "why")
        self.query_one("#keep", DataTable).add_columns("path", "size", "kept because")
        self.query_one("#trash-table", DataTable).add_columns(" ", "trashed", "kind", "path", "size", "why")
        self.app.job_changed.subscribe(self, self._job_changed)
        self.app.runs_changed.subscribe(self, self._runs_changed)
        # the plan has the focus, so the screen's keys (y, t, u, x) work at once; tab reaches the rules
        self.query_one("#remove", DataTable).focus()
        self.replan()
        self.relist_trash()

    # ----- the plan -------------------------------------------------------------------------------------------

    def _fields(self) -> dict[str, str]:
        out = {name: self.query_one(f"#{name.replace('_', '-')}", Input).value for name, _, _ in POLICY_FIELDS}
        out["filter"] = self.query_one("#clean-filter", Input).value
        return out

    @on(Input.Changed)
    def _typed(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(PLAN_DELAY, self.replan)

    @on(Checkbox.Changed)
    def _toggled(self) -> None:
        self.replan()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.replan()
        self.query_one("#remove", DataTable).focus()

    def replan(self) -> None:
        """Read the rules and make the plan again on a read lane (an empty or unreadable rule is said instead)."""
        self._timer = None
        policy, errors = read_policy(self._fields(), self.query_one("#archive-old", Checkbox).value)
        for name, _, _ in POLICY_FIELDS:
            self.query_one(f"#{name.replace('_', '-')}", Input).set_class(name in errors, "-invalid")
        self._request += 1
        self.plan, self.policy = None, policy
        if errors:
            self._show_plan(None, "; ".join(errors.values()))
            return
        if policy.empty:
            self._show_plan(None, "no rule yet: nothing would be cleaned — give keep best or last (checkpoints per "
                                  "run), failed under, older than, or a filter")
            return
        self.query_one("#clean-summary", Static).update("working out the plan…")
        records = list(self.app.records.values())
        self.app.lanes.submit(PLAN_LANE, partial(_make_plan, self.app.root, records, policy, self._request,
                                                 self.post_message), tag="plan", urgent=True)

    def on_clean_planned(self, message: CleanPlanned) -> None:
        if message.request != self._request:
            return  # the rules changed since it was asked for
        self.plan = message.plan
        self._show_plan(message.plan, message.error)

    def _show_plan(self, plan: Any, error: str | None) -> None:
        root = self.app.root
        remove, keep = self.query_one("#remove", DataTable), self.query_one("#keep", DataTable)
        remove.clear()
        keep.clear()
        actions = plan.actions if plan is not None else []
        kept = plan.kept if plan is not None else []
        for action in actions:
            goes = "→ archive/" if action.action == "archive" else "→ .trash/"
            size = Text(human_size(action.bytes), justify="right")
            remove.add_row(Text(clean_field(relative(root, action.path))), size, Text(goes),
                           Text(clean_field(action.reason)))
        for item in kept:
            keep.add_row(Text(clean_field(relative(root, item.path))), Text(human_size(item.bytes), justify="right"),
                         Text(clean_field("; ".join(item.reasons)), style="dim"))
        moving = sum(a.bytes for a in actions)
        self.query_one("#remove-head", Static).update(
            f"REMOVE / ARCHIVE  {plural(len(actions), 'item')}, {human_size(moving)}" if actions else
            "REMOVE / ARCHIVE  nothing")
        self.query_one("#keep-head", Static).update(f"KEEP  {plural(len(kept), 'item')}" if kept else "KEEP")
        summary = self.query_one("#clean-summary", Static)
        if error is not None:
            summary.update(Text(error, style="yellow"))
        elif plan is not None and not actions:
            summary.update("nothing to clean under these rules")
        elif plan is not None:
            line = f"would free {human_size(plan.reclaim)} of {human_size(plan.total)} once the trash is emptied"
            archived = sum(a.bytes for a in actions if a.action == "archive")
            if archived:
                line += f" · {human_size(archived)} to archive/"
            summary.update(f"{line} · y: apply")

    def action_apply(self) -> None:
        plan = self.plan
        if self._on_trash():
            return
        if plan is None or not plan.actions:
            self.notify("nothing to apply: choose rules that pick something first", timeout=3)
            return
        if getattr(self.app, "job_running", False):
            self.app.push_screen(ProgressScreen())
            return
        root = self.app.root
        items = [Item(str(a.path), Path(a.path), clean_field(relative(root, a.path)), a.bytes,
                      "→ archive/" if a.action == "archive" else "→ .trash/") for a in plan.actions]
        preview = Preview(CLEAN, root, items)
        title = (f"Apply the cleanup: {plural(len(items), 'item')}; would free {human_size(plan.reclaim)} once the "
                 "trash is emptied (the plan is made again first)")
        policy = self.policy

        def answered(result: Confirmed | None) -> None:
            if result is not None:  # made again from the runs as the app knows them now
                start_job(self.app, result, clean_steps(root, plan, policy, list(self.app.records.values())))

        self.app.push_screen(ConfirmScreen(CLEAN, root, preview=preview, title=title), answered)

    @on(DataTable.RowSelected, "#remove,#keep")
    def _row_selected(self) -> None:
        self.action_apply()

    # ----- the trash ------------------------------------------------------------------------------------------

    def _on_trash(self) -> bool:
        return self.query_one(TabbedContent).active == "trash"

    def action_toggle_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "plan" if tabs.active == "trash" else "trash"
        (self.query_one("#trash-table", DataTable) if tabs.active == "trash" else
         self.query_one("#remove", DataTable)).focus()

    def relist_trash(self) -> None:
        self.app.lanes.submit(TRASH_LANE, partial(_list_trash, self.app.root, self.post_message), tag="list")

    def on_trash_listed(self, message: TrashListed) -> None:
        self.trash = message.entries
        self.trash_marked &= {e.id for e in self.trash}
        table = self.query_one("#trash-table", DataTable)
        table.clear()
        for entry in reversed(self.trash):  # the newest first: what was just trashed is on top
            table.add_row(*self._trash_cells(entry), key=entry.id)
        total = sum(e.bytes for e in self.trash)
        head = message.error or (f"TRASH  {plural(len(self.trash), 'item')}, {human_size(total)} · u: restore · "
                                 "x: delete for good · space: mark" if self.trash else "TRASH  empty")
        self.query_one("#trash-head", Static).update(head)

    def _trash_cells(self, entry: Any) -> list[Text]:
        when = str(entry.time).replace("T", " ")[:16]
        return [Text("▶" if entry.id in self.trash_marked else " ", style="bold cyan"), Text(when),
                Text(entry.kind), Text(clean_field(str(entry.path))),
                Text(human_size(entry.bytes), justify="right"), Text(clean_field(entry.reason), style="dim")]

    def _trash_targets(self, everything: bool = False) -> list[Any]:
        marked = [e for e in self.trash if e.id in self.trash_marked]
        if marked or everything:
            return marked or list(self.trash)
        table = self.query_one("#trash-table", DataTable)
        if not self.trash or table.row_count == 0:
            return []
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return [e for e in self.trash if e.id == key]

    def action_mark(self) -> None:
        if not self._on_trash() or not self.trash:
            return
        table = self.query_one("#trash-table", DataTable)
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        self.trash_marked ^= {key}
        table.update_cell(key, table.ordered_columns[0].key, Text("▶" if key in self.trash_marked else " ",
                                                                  style="bold cyan"))
        table.move_cursor(row=table.cursor_row + 1)

    def action_untrash(self) -> None:
        self._trash_job(UNTRASH, self._trash_targets())

    def action_empty(self) -> None:
        self._trash_job(EMPTY, self._trash_targets(everything=True))

    def _trash_job(self, kind: str, entries: list[Any]) -> None:
        if getattr(self.app, "job_running", False):
            self.app.push_screen(ProgressScreen())
            return
        if not entries:
            self.notify("the trash is empty", timeout=2)
            return

        def answered(result: Confirmed | None) -> None:
            if result is not None:
                start_job(self.app, result)

        self.app.push_screen(ConfirmScreen(kind, self.app.root, entries=entries), answered)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The trash's keys work on the trash, the plan's on the plan (the footer shows only those)."""
        if not self.is_mounted:
            return True
        try:
            on_trash = self._on_trash()
        except Exception:
            return True
        if action in ("mark", "untrash", "empty"):
            return on_trash
        if action == "apply":
            return not on_trash
        return True

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    # ----- after a job ----------------------------------------------------------------------------------------

    def _job_changed(self, state: JobState) -> None:
        if state.finished is not None:
            self.relist_trash()

    def _runs_changed(self, change: RunsChanged) -> None:
        """Runs came or went (a job moved them, a training started): the plan shown is made again."""
        if change.structure and self._timer is None:
            self._timer = self.set_timer(PLAN_DELAY, self.replan)

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one("#remove", DataTable).focus()
            return
        self.dismiss(None)
