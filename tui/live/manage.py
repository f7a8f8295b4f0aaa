"""Managing runs from the app, headless: sizes measured off the app's thread, what `a`, `d` and `u` would do to
which runs (the preview), and the job that then does it on a thread of its own. No Textual, no Rich.

A job is a list of steps, each one whole operation of `runyard`'s ops (journaled there: a kill mid-step is
finished or rolled back by the next start). Its thread only calls the operations and reports what happens
through `report` (the app turns each report into a message and owns every change of state). `Job.stop()` asks
it to end after the step under way; nothing interrupts a step half-way, so a job never leaves a run half-moved.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runyard import (
    RunError,
    RunRecord,
    archived_origin,
    clean_field,
    du_size,
    find_source,
    is_archived,
    path_usage,
    read_record,
    settle_status,
    tree_usage,
)

logger = logging.getLogger(__name__)

ARCHIVE, TRASH, RESTORE = "archive", "trash", "restore"          # the runs screen's keys a, d, u
UNTRASH, EMPTY, CLEAN = "untrash", "empty", "clean"              # the cleanup screen's
SIZE_EVERY = 5.0       # seconds between two measurements of a run that keeps changing (a live run grows)
SIZE_CHUNK = 200       # runs measured between two reports: a big tree fills in as it goes
PROGRESS_EVERY = 0.1   # seconds between two progress reports within a step
UNKNOWN = "…"          # a size not measured yet
LIVE = ("running", "stalled")
TAR_SUFFIX, MANIFEST_SUFFIX = ".tar.zst", ".manifest.json"
TRASH_REASON = "moved to the trash in the app"

Progress = Callable[[int, int, str], None]
Report = Callable[[Any], object]


def human_size(n: int | None) -> str:
    """Bytes as `du -h` shows them (`4.0K`, `1.2G`); `…` while unknown."""
    return UNKNOWN if n is None else du_size(n)


def one_line(exc: BaseException) -> str:
    """An error as one line for the screen: its message's first line, else its kind."""
    text = str(exc).strip().splitlines()
    return text[0] if text and text[0] else type(exc).__name__


def relative(root: Path, path: Path) -> str:
    """`path` as shown: relative to the runs root when inside it."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return os.path.relpath(path, root) if os.path.isabs(path) == os.path.isabs(root) else str(path)


# ----- sizes ---------------------------------------------------------------------------------------------------

def run_paths(path: Path) -> list[Path]:
    """What a run is on disk: its folder or file; for a run archived compressed (listed under its name without
    suffix) the `.tar.zst` and its manifest."""
    if os.path.lexists(path):
        return [path]
    return [p for p in (path.with_name(path.name + TAR_SUFFIX), path.with_name(path.name + MANIFEST_SUFFIX))
            if os.path.lexists(p)]


def measure(path: Path) -> int:
    """Bytes on disk of what is at `path` (hard links once, symlinks not followed); 0 when it is gone."""
    seen: set[tuple[int, int]] = set()
    return sum(path_usage(p, seen=seen).total for p in run_paths(Path(path)))


def measure_runs(root: Path, records: list[RunRecord]) -> dict[str, int]:
    """Bytes on disk of each run (by key) as `runyard du` counts them: its folder or file, and its checkpoints kept
    beside it; `du`'s cache keeps what is costly to find. A run no layout can read counts what is at its path."""
    readable = [r for r in records if r.source is not None]
    sizes: dict[str, int] = {}
    if readable:
        for found in tree_usage(root, readable).runs:
            sizes[str(found.record.info.path)] = found.usage.total
    for record in records:
        key = str(record.info.path)
        if key not in sizes:
            sizes[key] = measure(record.info.path)
    return sizes


class SizeQueue:
    """Runs waiting to be measured, by key, each once (thread-safe: the app puts, the sizes lane takes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, RunRecord] = OrderedDict()

    def put(self, key: str, record: RunRecord) -> None:
        with self._lock:
            self._items[key] = record

    def take(self, count: int) -> list[RunRecord]:
        """Up to `count` runs, the longest waiting first."""
        with self._lock:
            return [self._items.popitem(last=False)[1] for _ in range(min(count, len(self._items)))]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def measure_sizes(queue: SizeQueue, root: Path, report: Callable[[dict[str, int]], object],
                  chunk: int = SIZE_CHUNK) -> None:
    """Measure every run in `queue` until it is empty, `chunk` runs at a time; `report` gets {key: bytes} after
    each chunk (runs on a read lane: a job asked for while this one runs finds the queue empty, or what came
    since). A run that cannot be measured stays unknown."""
    while records := queue.take(chunk):
        try:
            sizes = measure_runs(root, records)
        except Exception:  # a size is a nicety: an unexpected failure leaves those runs unknown
            logger.exception("runyard: measuring %d runs under %s failed", len(records), root)
            continue
        if sizes:
            report(sizes)


class SizeBook:
    """The sizes the app knows (bytes on disk by run key), and which runs are due for a measurement: those never
    measured, and those changed since, at most once every `every` seconds each."""

    def __init__(self, every: float = SIZE_EVERY, clock: Callable[[], float] = time.monotonic) -> None:
        self.every, self._clock = every, clock
        self.sizes: dict[str, int] = {}
        self._when: dict[str, float] = {}
        self._asked: set[str] = set()
        self._changed: set[str] = set()

    def get(self, key: str) -> int | None:
        return self.sizes.get(key)

    def wanted(self, keys: Iterable[str]) -> list[str]:
        """Of `keys`, those never measured nor asked for yet (now taken as asked for)."""
        out = [k for k in keys if k not in self.sizes and k not in self._asked]
        self._asked.update(out)
        return out

    def changed(self, keys: Iterable[str]) -> None:
        """These runs' files changed: measure them again once they are due."""
        self._changed.update(keys)

    def due(self) -> list[str]:
        """Changed runs measured at least `every` seconds ago and not being measured (now taken as asked for)."""
        now = self._clock()
        out = [k for k in self._changed if k not in self._asked and now - self._when.get(k, -1e18) >= self.every]
        self._changed.difference_update(out)
        self._asked.update(out)
        return out

    def got(self, sizes: Mapping[str, int]) -> set[str]:
        """Measured sizes came in: the keys whose size is new or changed."""
        now = self._clock()
        changed = set()
        for key, size in sizes.items():
            self._asked.discard(key)
            self._when[key] = now
            if self.sizes.get(key) != size:
                self.sizes[key] = size
                changed.add(key)
        return changed

    def moved(self, old: str, new: str) -> None:
        """A run moved: its size goes with it until measured again (a plain move keeps its bytes)."""
        if old in self.sizes and new not in self.sizes:
            self.sizes[new] = self.sizes[old]
        self.forget([old])

    def forget(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.sizes.pop(key, None)
            self._when.pop(key, None)
            self._asked.discard(key)
            self._changed.discard(key)


# ----- previews --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verb:
    """How a kind of job is spoken of: the key's title, its step under way, its past, where things go."""

    title: str      # "Archive"
    doing: str      # "archiving"
    done: str       # "archived"
    where: str      # "→ archive/" (a restore names each run's own place)
    noun: str = "run"


VERBS = {
    ARCHIVE: Verb("Archive", "archiving", "archived", "→ archive/"),
    TRASH: Verb("Move to the trash", "moving to the trash", "moved to the trash", "→ .trash/"),
    RESTORE: Verb("Restore from the archive", "restoring", "restored", "→ "),
    UNTRASH: Verb("Restore from the trash", "restoring", "restored from the trash", "→ ", "item"),
    EMPTY: Verb("Empty the trash", "deleting", "deleted for good", "deleted for good", "item"),
    CLEAN: Verb("Clean up", "cleaning", "cleaned up", "", "item"),
}


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass
class Item:
    """One run (or trash entry) in a preview: its size, what will become of it, or why it is refused."""

    key: str
    path: Path
    name: str
    size: int | None
    dest: str
    refused: str | None = None
    entry: Any = None  # the TrashEntry, for the trash's items


@dataclass
class Preview:
    """What a key would do to which runs: `items` in the order asked, the refused ones with their reason."""

    kind: str
    root: Path
    items: list[Item]
    error: str | None = None  # the preview itself could not be made (one line)

    @property
    def todo(self) -> list[Item]:
        return [i for i in self.items if i.refused is None]

    @property
    def refused(self) -> list[Item]:
        return [i for i in self.items if i.refused is not None]

    @property
    def bytes(self) -> int:
        return sum(i.size or 0 for i in self.todo)

    def totals(self, compress: bool = False) -> str:
        """One line: how many runs, how many bytes and where, how many refused."""
        verb = VERBS[self.kind]
        todo = self.todo
        parts = []
        if todo:
            where = verb.where if self.kind not in (RESTORE, UNTRASH) else "→ where they came from"
            if self.kind == ARCHIVE and compress:
                where += " compressed"
            parts.append(f"{plural(len(todo), verb.noun)}, {human_size(self.bytes)} {where}")
        else:
            parts.append(f"nothing to {verb.title.lower()}")
        if self.refused:
            parts.append(f"{len(self.refused)} refused")
        return " · ".join(parts)


def pid_text(record: RunRecord) -> str:
    pid = record.info.pid
    return f" (pid {pid})" if isinstance(pid, int) else ""


def quick_refusal(kind: str, record: RunRecord) -> str | None:
    """Why `kind` cannot act on the run, from what the app already knows of it (no disk access); None if it may."""
    info = record.info
    if kind in (ARCHIVE, TRASH) and info.status in LIVE:
        return f"running{pid_text(record)}: {'archive' if kind == ARCHIVE else 'trash'} it once it has ended"
    if kind == ARCHIVE and info.archived:
        return "already archived"
    if kind == RESTORE and not info.archived:
        return "not archived"
    return None


def build_preview(root: Path, kind: str, records: list[RunRecord]) -> Preview:
    """The preview of `kind` on `records`: each run's size (measured now), where it goes, and why one is refused
    (running, already archived, its destination taken, outside the runs folder). Reads the disk: call it off
    the app's thread."""
    try:
        sizes: dict[str, int] = measure_runs(root, records)
    except Exception:  # shown as unknown sizes; what happens to each run is what matters
        sizes = {}
    items = []
    for record in records:
        path = Path(record.info.path)
        name = clean_field(record.info.name)
        refused = quick_refusal(kind, record)
        try:
            rel = Path(path).relative_to(root)
        except ValueError:
            rel = None
            refused = refused or f"outside {root}"
        dest = VERBS[kind].where
        if rel is not None and kind == ARCHIVE:
            target = root / "archive" / rel
            taken = [p for p in (target, target.with_name(target.name + TAR_SUFFIX)) if os.path.lexists(p)]
            if taken and refused is None:
                refused = f"{relative(root, taken[0])} already exists"
        elif rel is not None and kind == RESTORE and refused is None and is_archived(rel):
            origin = archived_origin(rel)
            dest = f"→ {clean_field(str(origin))}"
            if os.path.lexists(root / origin):
                refused = f"{clean_field(str(origin))} exists: move it away first"
        items.append(Item(str(path), path, name, sizes.get(str(path)), dest, refused))
    return Preview(kind, root, items)


def trash_preview(root: Path, kind: str, entries: list[Any]) -> Preview:
    """The preview of restoring (UNTRASH) or deleting (EMPTY) trash entries; a restore whose place is taken is
    refused. Reads the disk."""
    items = []
    for entry in entries:
        rel = Path(entry.path)
        shown = clean_field(str(rel))
        refused = None
        dest = VERBS[kind].where
        if kind == UNTRASH:
            dest = f"→ {shown}"
            if os.path.lexists(root / rel):
                refused = f"{shown} exists: move it away first"
        items.append(Item(entry.id, root / rel, shown, entry.bytes, dest, refused, entry))
    return Preview(kind, root, items)


def running_refusal(root: Path, path: Path) -> str | None:
    """Why the run at `path` must not be moved right now (it is running, read afresh), or None."""
    try:
        source = find_source(Path(path), root)
    except Exception:
        return None  # nothing any layout reads as a run: nothing says it runs
    record = read_record(source)
    settle_status(record.info)
    if record.info.status in LIVE:
        return f"{clean_field(record.info.name)} is running{pid_text(record)}: left alone"
    return None


# ----- jobs ----------------------------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one step did: a line for the screen, and where a run went (the app follows it there)."""

    message: str
    moved_to: Path | None = None


@dataclass
class Step:
    """One operation of a job: `act(progress)` does it (raising RunError, Busy, OSError with one line on failure).
    `size` weighs it in the job's progress; `phases` is how many times its progress runs from 0 to the end."""

    label: str
    size: int
    act: Callable[[Progress], Outcome]
    key: str | None = None
    phases: int = 1


@dataclass
class Started:
    """The job's steps are known: `total` bytes (each step weighs at least one) in `steps` steps."""

    title: str
    steps: int
    total: int
    note: str = ""  # said with the result (a cleanup plan changed since it was shown)


@dataclass
class Advanced:
    """Progress: `done` of `total` bytes of the whole job; the step under way and what it is at."""

    done: int
    total: int
    step: int
    label: str
    what: str = ""


@dataclass
class StepEnded:
    """A step ended: done (`ok`) or not, with one line saying what became of it."""

    index: int
    label: str
    key: str | None
    ok: bool
    message: str
    moved_to: Path | None = None


@dataclass
class Finished:
    """The job ended: how many steps were done, failed, and not started (asked to stop), and one line for it."""

    title: str
    ok: int
    failed: int
    not_started: int
    line: str


class Job:
    """Steps run one after another on a daemon thread, each reported as it goes (see the module docstring).

    `steps` may be a callable that works them out on the job's thread (a cleanup plan is made again first); it
    returns the steps and a note for the result. The thread is a daemon: should the process end mid-step, the
    step's journal is finished or rolled back by the next start.
    """

    _ids = iter(range(1, 1 << 62))

    def __init__(self, kind: str, steps: list[Step] | Callable[[], tuple[list[Step], str]], report: Report,
                 *, title: str | None = None) -> None:
        self.id = next(self._ids)
        self.kind = kind
        self.verb = VERBS[kind]
        self.title = title or self.verb.title
        self._steps = steps
        self._report = report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"runyard-job {self.kind}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End after the step under way (none is cut short)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """The job itself (on its thread; a test may call it directly)."""
        note = ""
        try:
            if callable(self._steps):
                steps, note = self._steps()
            else:
                steps = list(self._steps)
        except Exception as exc:
            if not isinstance(exc, (RunError, OSError, ValueError)):
                logger.exception("runyard: %s could not start", self.kind)
            self._report(Started(self.title, 0, 0, note))
            self._report(Finished(self.title, 0, 0, 0, f"{self.title}: {one_line(exc)}"))
            return
        weights = [max(1, s.size) for s in steps]
        total = sum(weights)
        self._report(Started(self.title, len(steps), total, note))
        done, ok, failures, not_started = 0, 0, [], 0
        for index, (step, weight) in enumerate(zip(steps, weights, strict=True)):
            if self._stop.is_set():
                not_started = len(steps) - index
                break
            self._report(Advanced(done, total, index, step.label))
            meter = _Meter(self._report, done, weight, total, index, step)
            try:
                outcome = step.act(meter)
            except Exception as exc:  # every failure is one line; only a surprise is logged with its traceback
                if not isinstance(exc, (RunError, OSError, ValueError)):
                    logger.exception("runyard: %s of %s failed", self.kind, step.label)
                    message = f"unexpected error: {type(exc).__name__}: {one_line(exc)}"
                else:
                    message = one_line(exc)
                failures.append((step.label, message))
                done += weight
                self._report(Advanced(done, total, index, step.label))
                self._report(StepEnded(index, step.label, step.key, False, message))
                continue
            ok += 1
            done += weight
            self._report(Advanced(done, total, index, step.label))
            self._report(StepEnded(index, step.label, step.key, True, outcome.message, outcome.moved_to))
        self._report(Finished(self.title, ok, len(failures), not_started,
                              self._line(ok, failures, not_started, note, steps)))

    def _line(self, ok: int, failures: list[tuple[str, str]], not_started: int, note: str, steps: list[Step]) -> str:
        verb = self.verb
        count = len(steps)
        if not count:
            parts = [note or f"{self.title}: nothing to do"]
        elif ok == count:
            size = sum(s.size for s in steps)
            parts = [f"{verb.done} {plural(ok, verb.noun)}" + (f" ({human_size(size)})" if size else "")]
        else:
            parts = [f"{verb.done} {ok} of {plural(count, verb.noun)}"]
            if failures:
                label, message = failures[0]
                more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
                parts.append(f"{label}: {message}{more}")
            if not_started:
                parts.append(f"{not_started} not started")
        if note and count:
            parts.append(note)
        return "; ".join(parts)


class _Meter:
    """A step's `progress(done, total, what)`, turned into the job's bytes: each time the step's count starts
    over (an archive is written, then read back) is one of its `phases`; never goes backwards, and reports at
    most every PROGRESS_EVERY seconds."""

    def __init__(self, report: Report, base: int, weight: int, total: int, index: int, step: Step) -> None:
        self.report, self.base, self.weight, self.total = report, base, weight, total
        self.index, self.step = index, step
        self.phase, self.last_done, self.shown, self.when = 0, 0, base, 0.0

    def __call__(self, done: int, total: int, what: str) -> None:
        if done < self.last_done:
            self.phase += 1
        self.last_done = done
        part = (min(self.phase, self.step.phases - 1) + (done / total if total > 0 else 1.0)) / self.step.phases
        value = self.base + int(self.weight * min(1.0, part))
        now = time.monotonic()
        if value <= self.shown or now - self.when < PROGRESS_EVERY:
            return
        self.shown, self.when = value, now
        self.report(Advanced(value, self.total, self.index, self.step.label, what))


@dataclass
class JobState:
    """What the app shows of a job, folded from its reports (the app's thread only)."""

    job: Job
    title: str = ""
    steps: int = 0
    total: int = 0
    done: int = 0
    step: int = 0
    label: str = ""
    what: str = ""
    ended: list[StepEnded] = field(default_factory=list)
    finished: Finished | None = None

    def apply(self, event: Any) -> None:
        if isinstance(event, Started):
            self.title, self.steps, self.total = event.title, event.steps, event.total
        elif isinstance(event, Advanced):
            self.done, self.total = max(self.done, event.done), event.total
            self.step, self.label, self.what = event.step, event.label, event.what
        elif isinstance(event, StepEnded):
            self.ended.append(event)
        elif isinstance(event, Finished):
            self.finished = event
            self.done = self.total

    @property
    def description(self) -> str:
        """One line for the quit question and the title bar: `archiving beta (2 of 3)`."""
        verb = self.job.verb
        where = f" {self.label}" if self.label else ""
        count = f" ({min(self.step + 1, self.steps)} of {self.steps})" if self.steps > 1 else ""
        return f"{verb.doing}{where}{count}"


# ----- the steps of each kind ------------------------------------------------------------------------------------

def archive_steps(root: Path, items: list[Item], compress: bool) -> list[Step]:
    from runyard import archive_run

    def step(item: Item) -> Step:
        def act(progress: Progress) -> Outcome:
            dest = archive_run(root, item.path, compress=compress, progress=progress)
            return Outcome(f"→ {clean_field(relative(root, dest))}", dest)
        return Step(item.name, item.size or 0, act, item.key, phases=2 if compress else 1)

    return [step(i) for i in items]


def trash_steps(root: Path, items: list[Item]) -> list[Step]:
    from runyard import move_to_trash

    def step(item: Item) -> Step:
        def act(progress: Progress) -> Outcome:
            refusal = running_refusal(root, item.path)  # it may have started since the preview
            if refusal is not None:
                raise RunError(refusal)
            entry = move_to_trash(root, item.path, reason=TRASH_REASON, kind="run")
            return Outcome(f"→ .trash/ ({clean_field(entry.id)})")
        return Step(item.name, item.size or 0, act, item.key)

    return [step(i) for i in items]


def restore_steps(root: Path, items: list[Item]) -> list[Step]:
    from runyard import restore_run

    def step(item: Item) -> Step:
        def act(progress: Progress) -> Outcome:
            dest = restore_run(root, item.path, progress=progress)
            return Outcome(f"→ {clean_field(relative(root, dest))}", dest)
        return Step(item.name, item.size or 0, act, item.key)

    return [step(i) for i in items]


def untrash_steps(root: Path, items: list[Item]) -> list[Step]:
    from runyard import restore_from_trash

    def step(item: Item) -> Step:
        def act(progress: Progress) -> Outcome:
            restored = restore_from_trash(root, [item.key])
            where = restored[0].path if restored else item.path
            return Outcome(f"→ {clean_field(str(where))}", root / where)
        return Step(item.name, item.size or 0, act)

    return [step(i) for i in items]


def empty_steps(root: Path, items: list[Item]) -> list[Step]:
    from runyard import empty_trash

    def step(item: Item) -> Step:
        def act(progress: Progress) -> Outcome:
            freed = empty_trash(root, ids=[item.key])
            return Outcome(f"deleted, {human_size(freed)} freed")
        return Step(item.name, item.size or 0, act)

    return [step(i) for i in items]


def clean_steps(root: Path, shown: Any, policy: Any, records: list[RunRecord]
                ) -> Callable[[], tuple[list[Step], str]]:
    """The steps of applying a cleanup plan that was shown: the plan is made again from the runs as they are
    now, and only the actions both plans share are carried out (what changed since is said, never done
    unseen). Each action is checked once more by `apply_plan` just before it acts."""
    from runyard import CleanPlan, apply_plan

    def prepare() -> tuple[list[Step], str]:
        fresh = make_plan(root, records, policy)
        seen = {(os.path.abspath(a.path), a.action) for a in shown.actions}
        actions = [a for a in fresh.actions if (os.path.abspath(a.path), a.action) in seen]
        gone = len(shown.actions) - len(actions)
        new = len(fresh.actions) - len(actions)
        notes = []
        if gone:
            notes.append(f"{gone} no longer planned")
        if new:
            notes.append(f"{new} newly planned left alone (look again)")

        def step(action: Any) -> Step:
            def act(progress: Progress) -> Outcome:
                result = apply_plan(root, CleanPlan(root, actions=[action]))[0]
                if not result.done:
                    raise RunError(result.message)
                dest = getattr(result, "dest", None)
                return Outcome(clean_field(result.message), dest)
            key = str(action.path) if action.kind == "run" else None
            return Step(clean_field(relative(root, action.path)), action.bytes, act, key)

        return [step(a) for a in actions], "; ".join(notes)

    return prepare


# ----- cleanup policies ------------------------------------------------------------------------------------------

def parse_count(text: str) -> int:
    """A count typed in a box: a whole number, 0 or more; ValueError (one line) otherwise."""
    spec = text.strip()
    if not spec.isdigit():
        raise ValueError(f"{spec!r} is not a count: write a whole number such as 3")
    return int(spec)


def read_policy(fields: Mapping[str, str], archive: bool) -> tuple[Any, dict[str, str]]:
    """A cleanup Policy from what was typed (`keep_best`, `keep_last`, `failed_shorter_than`, `older_than`,
    `filter`; empty boxes are no rule), and one line per box that does not read (by field name)."""
    from runyard import Policy, parse_duration

    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, parse in (("keep_best", parse_count), ("keep_last", parse_count),
                        ("failed_shorter_than", parse_duration), ("older_than", parse_duration)):
        text = fields.get(name, "").strip()
        if not text:
            values[name] = None
            continue
        try:
            values[name] = parse(text)
        except ValueError as exc:
            errors[name] = str(exc)
            values[name] = None
    text = fields.get("filter", "").strip()
    return Policy(**values, archive=archive, filter=text or None), errors


def make_plan(root: Path, records: list[RunRecord], policy: Any) -> Any:
    """The cleanup plan (`runyard.plan_clean`) of `records` under `root`; reads the disk."""
    from runyard import plan_clean

    return plan_clean(root, records, policy)
