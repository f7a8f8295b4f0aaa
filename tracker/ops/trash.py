"""The trash of a runs root, `<root>/.trash/`: removed runs and checkpoints, each restorable until emptied.

As the XDG trash does it: an info file is created first (`info/<id>.json`, O_CREAT|O_EXCL, fsynced: the path
relative to the root, when, bytes on disk, why, what kind, and the run a checkpoint belongs to), then the item
is renamed to `files/<id>` — the same filesystem, so trashing is instant whatever the size. Emptying renames an
item into the operation's staging folder under `.runyard/`, deletes it there (never following a link) and only
then drops its info, so a kill half-way leaves no half-deleted item in the trash. Every step is journaled
(`journal.operation`): a kill at any instant is finished or rolled back by the next `recover`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..contract import fsync_dir, iso_now, parse_iso, safe_name
from ..errors import RunError
from .diskusage import path_usage, reclaimable
from .journal import (
    ARCHIVE_DIR,
    TRASH_DIR,
    Op,
    create_exclusive,
    inside_root,
    kill_point,
    make_folders,
    move,
    operation,
    rel_text,
    remove_tree,
    reserved,
)

FILES = f"{TRASH_DIR}/files"
INFO = f"{TRASH_DIR}/info"
KINDS = ("run", "checkpoint")

Progress = Callable[[int, int, str], None]


@dataclass
class TrashEntry:
    """One item in the trash: `id` (its name there), `path` (where it was, relative to the root), `kind` ("run" or
    "checkpoint"), `time` (when it was trashed, ISO 8601 with zone), `bytes` (on disk, when trashed), `reason`,
    and `run` (the run a checkpoint belongs to, relative to the root; None for a run)."""

    id: str
    path: Path
    kind: str
    time: str
    bytes: int
    reason: str
    run: Path | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path.as_posix(), "kind": self.kind, "time": self.time,
                "bytes": self.bytes, "reason": self.reason, "run": None if self.run is None else self.run.as_posix()}


def _root(root: str | os.PathLike) -> tuple[Path, Path]:
    shown = Path(root)
    absolute = Path(os.path.abspath(root))
    if not absolute.is_dir():
        raise RunError(f"no runs folder {shown}")
    return shown, absolute


def _item(root: Path, entry_id: str) -> Path:
    return root / FILES / entry_id


def _info(root: Path, entry_id: str) -> Path:
    return root / INFO / f"{entry_id}.json"


def _new_id(rel: Path) -> str:
    return f"{safe_name(rel.name)[:48]}-{secrets.token_hex(3)}"


def move_to_trash(root: str | os.PathLike, path: str | os.PathLike, *, reason: str, kind: str,
                  run: str | os.PathLike | None = None) -> TrashEntry:
    """Move `path` (a run's folder or file, or a checkpoint; inside `root`) into the trash, with `reason`.

    `kind` is "run" or "checkpoint"; `run` the run a checkpoint belongs to (locked too, so the run cannot be
    archived meanwhile). Raises RunError (not inside the root, runyard's own folders, gone, on another
    filesystem) or Busy (another runyard is acting on it).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    shown, root_abs = _root(root)
    src = inside_root(root_abs, path)
    rel = src.relative_to(root_abs)
    if reserved(rel):
        raise RunError(f"{shown / rel} belongs to runyard itself: it cannot go to the trash")
    if rel.name.endswith((".tar.zst", ".manifest.json")) and ARCHIVE_DIR in rel.parts[:-1]:
        raise RunError(f"{shown / rel} is part of a compressed archive (its .tar.zst and manifest go together): "
                       f"restore it first")
    try:
        st = os.lstat(src)
    except FileNotFoundError:
        raise RunError(f"no such file or folder: {shown / rel}") from None
    if st.st_dev != os.lstat(root_abs).st_dev:
        raise RunError(f"{shown / rel} is on another filesystem than {shown}: it cannot be moved into its trash")
    run_rel = None if run is None else inside_root(root_abs, run).relative_to(root_abs)
    entry = TrashEntry(_new_id(rel), rel, kind, iso_now(), path_usage(src).total, reason, run_rel)
    targets = [rel_text(rel)] + ([rel_text(run_rel)] if run_rel is not None and run_rel != rel else [])
    with operation(root, "trash", targets, {"id": entry.id, "path": rel_text(rel)}) as op:
        if not os.path.lexists(src):
            raise RunError(f"no such file or folder: {shown / rel}")
        make_folders(root_abs, FILES)
        make_folders(root_abs, INFO)
        info = entry.to_json() | {"version": 1, "op": op.id}
        try:
            create_exclusive(_info(root_abs, entry.id), json.dumps(info, ensure_ascii=True, indent=1).encode())
        except FileExistsError:
            raise RunError(f"the trash of {shown} already holds an item {entry.id}") from None
        op.phase("info")
        move(src, _item(root_abs, entry.id))
        op.phase("moved")
    return entry


def list_trash(root: str | os.PathLike) -> list[TrashEntry]:
    """The items in the trash of `root`, oldest first (an item being restored or deleted right now is left out,
    as is an info file that cannot be read)."""
    root_abs = Path(os.path.abspath(root))
    try:
        names = sorted(os.listdir(root_abs / INFO))
    except (FileNotFoundError, NotADirectoryError):
        return []
    entries = []
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        entry_id = name[:-len(".json")]
        if not os.path.lexists(_item(root_abs, entry_id)):
            continue
        entry = _read_info(root_abs, entry_id)
        if entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: (parse_iso(e.time) or 0.0, e.id))
    return entries


def _read_info(root: Path, entry_id: str) -> TrashEntry | None:
    try:
        data = json.loads(_info(root, entry_id).read_bytes())
        run = data.get("run")
        return TrashEntry(entry_id, Path(data["path"]), str(data.get("kind", "run")), str(data.get("time", "")),
                          int(data.get("bytes", 0)), str(data.get("reason", "")),
                          None if run is None else Path(run))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _choose(root: Path, shown: Path, ids: Iterable[str]) -> list[TrashEntry]:
    """The entries `ids` name (an id, or a unique start of one), each once, in the order given."""
    entries = list_trash(root)
    chosen: dict[str, TrashEntry] = {}
    for ref in ids:
        found = [e for e in entries if e.id == ref] or [e for e in entries if e.id.startswith(ref)]
        if not found:
            hint = f"; a runs folder is given as --root {ref}" if os.path.isdir(ref) else ""
            raise RunError(f"no item {ref!r} in the trash of {shown} (runyard trash list shows them){hint}")
        if len(found) > 1:
            raise RunError(f"{ref!r} names {len(found)} items in the trash of {shown}: give more of the id")
        chosen.setdefault(found[0].id, found[0])
    return list(chosen.values())


def restore_from_trash(root: str | os.PathLike, ids: Iterable[str]) -> list[TrashEntry]:
    """Put the items `ids` back where they were; the entries restored.

    Refuses all of them, before moving any, when one's original path is taken again (or a checkpoint's run is
    no longer there): RunError, one line.
    """
    shown, root_abs = _root(root)
    chosen = _choose(root_abs, shown, ids)
    for entry in chosen:
        _check_restorable(root_abs, shown, entry)
    restored = []
    for entry in chosen:
        targets = [rel_text(entry.path), rel_text(Path(FILES) / entry.id)]
        with operation(root, "trash-restore", targets, {"id": entry.id, "path": rel_text(entry.path)}) as op:
            _check_restorable(root_abs, shown, entry)
            item = _item(root_abs, entry.id)
            if not os.path.lexists(item):
                raise RunError(f"{entry.id} is no longer in the trash of {shown}")
            if entry.path.parent.parts:
                make_folders(root_abs, entry.path.parent)
            try:
                move(item, root_abs / entry.path)
            except FileExistsError:
                raise RunError(f"cannot restore {entry.id}: {shown / entry.path} exists again") from None
            op.phase("moved")
            _drop_info(root_abs, entry.id)
        restored.append(entry)
    return restored


def _check_restorable(root: Path, shown: Path, entry: TrashEntry) -> None:
    where = inside_root(root, root / entry.path)
    if os.path.lexists(where):
        raise RunError(f"cannot restore {entry.id}: {shown / entry.path} exists again (move it away first)")
    if entry.kind == "checkpoint" and entry.run is not None and not os.path.isdir(root / entry.run):
        raise RunError(f"cannot restore {entry.id}: its run {shown / entry.run} is no longer there")


def select_trash(root: str | os.PathLike, *, older_than: float | None = None,
                 ids: Iterable[str] | None = None) -> list[TrashEntry]:
    """The entries `empty_trash` would delete with these arguments: those `ids` name (an id or a unique start of
    one; RunError for one that names none), or those trashed more than `older_than` seconds ago, or all."""
    shown, root_abs = _root(root)
    if ids is not None:
        return _choose(root_abs, shown, ids)
    chosen = list_trash(root_abs)
    if older_than is not None:
        cutoff = time.time() - older_than
        chosen = [e for e in chosen if (parse_iso(e.time) or 0.0) <= cutoff]
    return chosen


def trash_reclaimable(root: str | os.PathLike, entries: Iterable[TrashEntry]) -> int:
    """Bytes on disk deleting `entries` from the trash would free now (hard links to files elsewhere free
    nothing)."""
    root_abs = Path(os.path.abspath(root))
    return reclaimable([_item(root_abs, e.id) for e in entries])


def empty_trash(root: str | os.PathLike, *, older_than: float | None = None, ids: Iterable[str] | None = None,
                progress: Progress | None = None) -> int:
    """Delete items from the trash for good: those `ids` name, or those trashed more than `older_than` seconds
    ago, or (neither given) all. Returns the bytes freed on disk (a file hard-linked from outside the items
    deleted frees nothing)."""
    _, root_abs = _root(root)
    chosen = select_trash(root, older_than=older_than, ids=ids)
    freed = trash_reclaimable(root, chosen)
    for done, entry in enumerate(chosen):
        if progress is not None:
            progress(done, len(chosen), entry.id)
        with operation(root, "trash-empty", [rel_text(Path(FILES) / entry.id)], {"id": entry.id}) as op:
            item = _item(root_abs, entry.id)
            if os.path.lexists(item):
                staged = op.make_staging() / "item"
                move(item, staged)
                op.phase("staged")
                try:
                    remove_tree(staged)
                except OSError as exc:  # what could not be deleted goes back: the item stays listed, with why
                    move(staged, item)
                    op.phase("returned")
                    reason = (exc.strerror or type(exc).__name__).lower()
                    raise RunError(f"cannot delete all of {entry.id} ({reason}): what is left of it stays in "
                                   f"the trash") from None
            _drop_info(root_abs, entry.id)
            op.drop_staging()
    if progress is not None and chosen:
        progress(len(chosen), len(chosen), "")
    return freed


def _drop_info(root: Path, entry_id: str, op_id: str | None = None) -> None:
    """Remove an item's info file (only if `op_id` wrote it, when given)."""
    path = _info(root, entry_id)
    if op_id is not None:
        try:
            if json.loads(path.read_bytes()).get("op") != op_id:
                return
        except (OSError, ValueError, AttributeError):
            return
    kill_point("trash.drop-info")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fsync_dir(path.parent)


# ----- recovery -----------------------------------------------------------------------------------------------

def _recover_trash(op: Op) -> str:
    entry_id, rel = op.data["id"], op.data["path"]
    if os.path.lexists(_item(op.root, entry_id)):
        return f"moving {op.show(rel)} to the trash was interrupted: finished, it is in the trash as {entry_id}"
    _drop_info(op.root, entry_id, op.id)
    return f"moving {op.show(rel)} to the trash was interrupted: undone, it is where it was"


def _recover_restore(op: Op) -> str:
    entry_id, rel = op.data["id"], op.data["path"]
    if os.path.lexists(_item(op.root, entry_id)):
        return f"restoring {entry_id} from the trash was interrupted: undone, it is still in the trash"
    _drop_info(op.root, entry_id)
    if not os.path.lexists(op.root / rel):  # one rename cannot lose it: something else took it away
        return f"restoring {entry_id} from the trash was interrupted, and it is neither in the trash nor at " \
               f"{op.show(rel)}: nothing to finish"
    return f"restoring {entry_id} from the trash was interrupted: finished, it is back at {op.show(rel)}"


def _recover_empty(op: Op) -> str:
    entry_id = op.data["id"]
    if os.path.lexists(_item(op.root, entry_id)):
        op.drop_staging()
        return f"deleting {entry_id} from the trash was interrupted: undone, it is still in the trash"
    try:
        op.drop_staging()
    except OSError as exc:  # part of it cannot be deleted (another user's folder): it goes back, listed again
        staged = op.staging / "item"
        if not os.path.lexists(staged):
            raise
        move(staged, _item(op.root, entry_id))
        op.drop_staging()
        return (f"deleting {entry_id} from the trash was interrupted and cannot be finished "
                f"({(exc.strerror or type(exc).__name__).lower()}): what is left of it is back in the trash")
    _drop_info(op.root, entry_id)
    return f"deleting {entry_id} from the trash was interrupted: finished, it is deleted"


RECOVER = {"trash": _recover_trash, "trash-restore": _recover_restore, "trash-empty": _recover_empty}
