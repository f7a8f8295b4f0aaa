"""`runyard archive`, `runyard restore` and `runyard trash`: runs moved out of the way and back.

The work is the tracker's (`archive_run`, `restore_run`, `move_to_trash`, `empty_trash`...): journaled, so a
command killed at any instant is finished or undone by the next one (each starts with `recover_quietly`). This
face shows what a command will do, with sizes, asks before anything is deleted or moved in bulk, reports
progress on stderr while a step takes long (on a terminal only), and says in one line what went wrong with each
run without stopping at the first.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from runyard import (
    TrackerError,
    TrashEntry,
    archive_run,
    clean_field,
    empty_trash,
    list_trash,
    parse_duration,
    path_usage,
    recover_quietly,
    restore_from_trash,
    restore_run,
    scan,
    select_runs,
    select_trash,
    trash_reclaimable,
)

from ..formatting import fmt_bytes, fmt_duration
from .tables import Column, fit_table, tsv

LIVE = ("running", "stalled")
TAR_SUFFIX = ".tar.zst"

Say = Callable[[str], None]


def echo(line: str = "") -> None:
    """A line of the command's own output (what it will do, what it did), on stdout."""
    click.echo(line)


def recovered(root: Path, note: Say) -> None:
    """Finish or undo what an interrupted command left in `root`, and say so."""
    for line in recover_quietly(root):
        note(line)


class Progress:
    """`progress(done, total, what)` drawn on one line of stderr while a step runs, when stderr is a terminal
    (piped or redirected, nothing is drawn); `clear()` takes the line away."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.enabled = sys.stderr.isatty()
        self.shown = False
        self.last = 0.0

    def __call__(self, done: int, total: int, what: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and done < total:
            return
        self.last = now
        share = f"{100 * done / total:3.0f}%" if total else ""
        width = shutil.get_terminal_size().columns
        line = clean_field(f"{self.label} {share} {what}")[:max(10, width - 1)]
        sys.stderr.write("\r" + line.ljust(width - 1))
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * (shutil.get_terminal_size().columns - 1) + "\r")
            sys.stderr.flush()
            self.shown = False


def _confirm(question: str, what: str) -> None:
    """Ask; a no (or no terminal to ask on) ends the command with one line saying nothing was done."""
    try:
        if click.confirm(question, default=False):
            return
    except click.exceptions.Abort:
        echo()
    raise ValueError(f"nothing {what}: answer y on a terminal, or pass --yes")


def _shown(path: Path | str) -> str:
    return clean_field(str(path))


# ----- archive ------------------------------------------------------------------------------------------------

def archive_runs(refs: Sequence[str], root: Path, filter_text: str, compress: bool, force: bool, yes: bool,
                 *, note: Say, error: Say) -> int:
    """`runyard archive`: preview, confirm, archive each run; the exit status (1 if any run was not archived)."""
    if not refs and not filter_text:
        raise ValueError("name the runs to archive (a path, id or name), or pick them with --filter")
    recovered(root, note)
    records = select_runs(root, filter_text or None, refs)
    if not records:
        raise ValueError(f"no run under {root} matches the filter {filter_text!r}" if filter_text
                                   else f"no runs under {root}")
    plan: list[tuple[Path, int, str]] = []
    left_out: list[tuple[str, str]] = []
    for record in records:
        path = Path(record.info.path)
        if record.info.archived:
            left_out.append((str(path), "already archived"))
        elif record.info.status in LIVE and not force:
            left_out.append((str(path), f"{record.info.status}: --force archives it anyway"))
        else:
            plan.append((path, path_usage(path).total, record.info.status))
    kind = "compressed, " if compress else ""
    if plan:
        total = sum(size for _, size, _ in plan)
        echo(f"Archive {_runs(len(plan))} ({kind}{fmt_bytes(total)}) into {_shown(root / 'archive')}:")
        width = max(len(_shown(p)) for p, _, _ in plan)
        for path, size, status in plan:
            live = "  (running: archived anyway)" if status in LIVE else ""
            echo(f"  {_shown(path).ljust(width)}  {fmt_bytes(size):>9}  {status}{live}")
    for path, why in left_out:
        echo(f"  left out: {_shown(path)} ({why})")
    if not plan:
        raise ValueError("nothing to archive")
    if not yes:
        _confirm(f"Archive {'this run' if len(plan) == 1 else f'these {len(plan)} runs'}?", "archived")
    failed = 0
    for path, size, _ in plan:
        progress = Progress(f"archiving {path.name}")
        try:
            where = archive_run(root, path, compress=compress, force=force, progress=progress)
        except (TrackerError, OSError, ValueError) as exc:
            progress.clear()
            error(_one_line(exc))
            failed += 1
            continue
        progress.clear()
        after = f" -> {fmt_bytes(path_usage(where).total)}" if compress else ""
        echo(f"archived {_shown(path)} -> {_shown(_under(root, where))} ({fmt_bytes(size)}{after})")
        if compress:
            _say_skipped(where, note)
    return 1 if failed else 0


def _say_skipped(tar: Path, say: Say) -> None:
    """What a compressed archive could not hold (a FIFO, a socket, a device), named, so nobody expects it back."""
    from runyard import read_manifest

    try:
        skipped = read_manifest(tar.with_name(tar.name[:-len(".tar.zst")] + ".manifest.json")).skipped
    except (OSError, ValueError, TrackerError):
        return
    if skipped:
        names = ", ".join(clean_field(f"{s.get('path')} ({s.get('type')})") for s in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        say(f"not in the archive, as a tar cannot hold them: {names}{more}")


def _runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def _under(root: Path, path: Path) -> Path:
    """`path` (absolute, inside `root`) as the user named the root: `runs/archive/x`."""
    try:
        return root / Path(path).relative_to(Path(os.path.abspath(root)))
    except ValueError:
        return Path(path)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return text[0] if text else type(exc).__name__


# ----- restore ------------------------------------------------------------------------------------------------

def restore_runs(refs: Sequence[str], root: Path, *, note: Say, error: Say) -> int:
    """`runyard restore`: each archived run (plain or compressed) back where it came from; the exit status."""
    recovered(root, note)
    failed = 0
    for ref in refs:
        progress = Progress(f"restoring {Path(ref).name}")
        try:
            archived = find_archived(ref, root)
            where = restore_run(root, archived, progress=progress)
        except (TrackerError, OSError, ValueError) as exc:
            progress.clear()
            error(_one_line(exc))
            failed += 1
            continue
        progress.clear()
        echo(f"restored {_shown(archived)} -> {_shown(_under(root, where))}")
    return 1 if failed else 0


def find_archived(ref: str, root: Path) -> Path:
    """An archived run named by `ref`: a path (plain archive, `.tar.zst` or its manifest, with or without the
    suffix; as given or under `root`), or the id, name or folder name (or a unique start of one) of a run under
    `root/archive`."""
    for candidate in (Path(ref), root / ref):
        text = str(candidate)
        if os.path.lexists(candidate) or os.path.lexists(text + TAR_SUFFIX):
            return candidate
    archive = root / "archive"
    if not archive.is_dir():
        raise ValueError(f"no archived run {ref!r}: {root} has no archive folder")
    found: dict[str, Path] = {}
    archived = []
    for record in scan(root):  # runs archived compressed are listed from their manifests, as `<run>.tar.zst`
        if record.info.archived:
            path = Path(record.info.path)
            if path.name.endswith(TAR_SUFFIX):
                path = path.with_name(path.name[:-len(TAR_SUFFIX)])
            archived.append((path, (record.info.id, record.info.name, path.name)))
    for exact in (True, False):
        for path, names in archived:
            if any(n == ref if exact else n.startswith(ref) for n in names if n):
                found.setdefault(str(path), path)
        if found:
            break
    if not found:
        raise ValueError(f"no archived run {ref!r} under {archive}")
    if len(found) > 1:
        names = ", ".join(_shown(p) for p in list(found.values())[:5])
        raise ValueError(f"{ref!r} matches {len(found)} archived runs ({names}): be more specific")
    return next(iter(found.values()))


# ----- trash --------------------------------------------------------------------------------------------------

def _age(entry: TrashEntry, now: float) -> str:
    from datetime import datetime

    try:
        seconds = now - datetime.fromisoformat(entry.time).timestamp()
    except ValueError:
        return "?"
    return fmt_duration(max(0.0, seconds)) + " ago"


def trash_table(entries: list[TrashEntry], width: int | None) -> Any:
    now = time.time()
    columns = [Column("id"), Column("kind", priority=30), Column("was at", flex="cut", comfort=30),
               Column("size", "right", priority=60), Column("trashed", "right", priority=50),
               Column("reason", flex="fold", priority=40)]
    rows = [[e.id, e.kind, e.path.as_posix(), fmt_bytes(e.bytes), _age(e, now), e.reason] for e in entries]
    return fit_table(columns, rows, width)


def trash_list(root: Path, as_json: bool, *, width: int | None, console: Callable[[int | None, int], Any],
               json_out: Callable[[Any], None], note: Say) -> None:
    """`runyard trash list`: what is in the trash, oldest first."""
    if not root.is_dir():
        raise ValueError(f"no runs folder {root}")
    recovered(root, note)
    entries = list_trash(root)
    if as_json:
        json_out([e.to_json() for e in entries])
        return
    if not sys.stdout.isatty():
        sys.stdout.write(tsv(["id", "kind", "path", "bytes", "time", "reason", "run"],
                             [[e.id, e.kind, e.path.as_posix(), e.bytes, e.time, e.reason,
                               e.run.as_posix() if e.run else ""] for e in entries]))
        return
    if not entries:
        echo(f"The trash of {_shown(root)} is empty.")
        return
    fitted = trash_table(entries, width)
    out = console(width, fitted.width)
    out.print(fitted.table)
    total = sum(e.bytes for e in entries)
    out.print(f"{len(entries)} item{'s' if len(entries) != 1 else ''}, {fmt_bytes(total)} on disk "
              f"(runyard trash empty frees it; runyard trash restore ID puts an item back)", style="dim",
              markup=False, highlight=False)


def trash_restore(root: Path, ids: Sequence[str], *, note: Say) -> None:
    """`runyard trash restore`: the items back where they were."""
    recovered(root, note)
    for entry in restore_from_trash(root, ids):
        echo(f"restored {_shown(entry.id)} -> {_shown(root / entry.path)}")


def trash_empty(root: Path, ids: Sequence[str], older_than: str | None, yes: bool, *, note: Say) -> None:
    """`runyard trash empty`: preview what goes and how many bytes it frees, confirm, delete for good."""
    age = parse_duration(older_than) if older_than else None
    recovered(root, note)
    chosen = select_trash(root, older_than=age, ids=list(ids) or None)
    if not chosen:
        echo(f"Nothing to delete in the trash of {_shown(root)}"
             + (f" older than {clean_field(older_than)}." if older_than else "."))
        return
    freed = trash_reclaimable(root, chosen)
    now = time.time()
    echo(f"Delete {len(chosen)} item{'s' if len(chosen) != 1 else ''} from the trash for good, freeing "
         f"{fmt_bytes(freed)}:")
    width = max(len(_shown(e.id)) for e in chosen)
    for entry in chosen:
        echo(f"  {_shown(entry.id).ljust(width)}  {fmt_bytes(entry.bytes):>9}  {_age(entry, now):>12}  "
             f"{_shown(entry.path.as_posix())}")
    if not yes:
        _confirm("Delete them? This cannot be undone", "deleted")
    progress = Progress("emptying the trash")
    try:
        done = empty_trash(root, ids=[e.id for e in chosen], progress=progress)
    finally:
        progress.clear()
    echo(f"deleted {len(chosen)} item{'s' if len(chosen) != 1 else ''}, {fmt_bytes(done)} freed")
