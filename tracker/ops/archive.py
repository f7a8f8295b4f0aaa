"""Archiving runs: out of the way under `<root>/archive/`, still listed (marked archived), restorable exactly.

A plain archive is one atomic rename of `<root>/<rel>` to `<root>/archive/<rel>`. A compressed one is
`archive/<rel>.tar.zst` with `archive/<rel>.manifest.json` (the format is `tarzst`'s): both are written under
temporary names inside `archive/`, read back and every file's hash compared, and only then renamed into place;
the original is then renamed into `.runyard/` and deleted there. Restoring is the reverse: extracted under
`.runyard/`, renamed into place, and only then the archive removed. Every step is journaled
(`journal.operation`), so at every instant the run exists at its origin or as a verified copy — a kill at any
point is finished or rolled back by the next `recover`. A run still running is refused unless forced.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ..errors import RunError
from .journal import (
    ARCHIVE_DIR,
    Op,
    fsync_tree,
    inside_root,
    kill_point,
    make_folders,
    move,
    operation,
    rel_text,
    remove_tree,
    reserved,
)

TAR_SUFFIX = ".tar.zst"
MANIFEST_SUFFIX = ".manifest.json"

Progress = Callable[[int, int, str], None]


def _root(root: str | os.PathLike) -> tuple[Path, Path]:
    shown = Path(root)
    absolute = Path(os.path.abspath(root))
    if not absolute.is_dir():
        raise RunError(f"no runs folder {shown}")
    return shown, absolute


def is_archived(rel: Path) -> bool:
    """True for a path (relative to the root) inside the root's `archive/` folder, as the scanner marks runs
    archived (an `archive` folder deeper down is a user's own)."""
    return len(rel.parts) > 1 and rel.parts[0] == ARCHIVE_DIR


def archived_origin(rel: Path) -> Path:
    """Where an archived run (relative to the root: `archive/a/b`, or a compressed one's `archive/a/b.tar.zst` or
    manifest) goes back to: `a/b`. The one rule for `restore_run` and every face that previews it."""
    parts = list(rel.parts)
    parts.pop(0)  # is_archived: the first part is the root's archive folder
    for suffix in (TAR_SUFFIX, MANIFEST_SUFFIX):
        if parts and parts[-1].endswith(suffix):
            parts[-1] = parts[-1][:-len(suffix)]
            break
    return Path(*parts)


def with_suffix(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def compressed_parts(base: Path) -> tuple[Path, Path]:
    """The archive file and manifest of a compressed archive whose run path (without suffix) is `base`."""
    return with_suffix(base, TAR_SUFFIX), with_suffix(base, MANIFEST_SUFFIX)


def _check_run(path: Path, shown: Path, force: bool, compress: bool = False) -> None:
    """RunError if `path` is no single run, or (unless `force`) one the reading side sees running (or stalled:
    alive, not writing). A running run is never compressed, forced or not: its writer keeps writing into the
    folder, which a compressed archive removes, so all it writes after the snapshot would be lost; a plain
    archive is a rename, and the writer follows its folder there."""
    from ..model import RUNNING, STALLED
    from ..reading.api import UnknownLayout, find_source
    from ..reading.records import read_record, settle_status

    try:
        source = find_source(path)
    except UnknownLayout as exc:
        why = str(exc).splitlines()[0].removeprefix(f"{path}: ").removeprefix(str(path))
        raise RunError(f"{shown} is not a run to archive: {why.strip(' :')}") from None
    if force and not compress:
        return
    record = read_record(source)
    settle_status(record.info)
    if record.info.status in (RUNNING, STALLED):
        pid = record.info.pid
        who = f" (pid {pid})" if isinstance(pid, int) else ""
        if compress:
            raise RunError(f"{shown} is still running{who}: a running run is never compressed (what it writes "
                           "after the snapshot would be lost); archive it plain with --force, or once it has ended")
        raise RunError(f"{shown} is still running{who}: archive it once it has ended, or force it")


def archive_run(root: str | os.PathLike, run_path: str | os.PathLike, *, compress: bool = False,
                force: bool = False, progress: Progress | None = None) -> Path:
    """Archive the run at `run_path` (its folder, or its file for one-file layouts) under `root/archive/`; the
    archived path (`archive/<rel>`, or `archive/<rel>.tar.zst` when `compress`).

    Raises RunError for a running run (unless `force`), one already archived, a destination that exists, a path
    outside the root or through a link; Busy when another runyard acts on it. `progress(done, total, what)` is
    called while a compressed archive is written and verified.
    """
    shown, root_abs = _root(root)
    src = inside_root(root_abs, run_path)
    rel = src.relative_to(root_abs)
    if reserved(rel):
        raise RunError(f"{shown / rel} belongs to runyard itself, not a run")
    if rel.parts[0] == ARCHIVE_DIR or is_archived(rel):
        raise RunError(f"{shown / rel} is already archived")
    try:
        st = os.lstat(src)
    except FileNotFoundError:
        raise RunError(f"no such run: {shown / rel}") from None
    link = stat.S_ISLNK(st.st_mode)
    if compress and link:
        raise RunError(f"{shown / rel} is a symbolic link: archive it without compression (the link is moved)")
    if not link:
        _check_run(src, shown / rel, force, compress)
    base = Path(ARCHIVE_DIR) / rel
    for taken in (base, *compressed_parts(base)):
        if os.path.lexists(root_abs / taken):
            raise RunError(f"{shown / taken} already exists: {shown / rel} is not archived over it")
    if not compress:
        if st.st_dev != os.lstat(root_abs).st_dev:
            raise RunError(f"{shown / rel} is on another filesystem than {shown}: it cannot be moved into archive/")
        data = {"src": rel_text(rel), "dst": rel_text(base), "compress": False}
        with operation(root, "archive", [rel_text(rel), rel_text(base)], data) as op:
            _check_free(op, base, *compressed_parts(base))
            make_folders(root_abs, base.parent)
            try:
                move(src, root_abs / base)
            except FileExistsError:
                raise RunError(f"{shown / base} appeared meanwhile: {shown / rel} is not archived over it") from None
            op.phase("moved")
        return root_abs / base
    return _archive_compressed(root, root_abs, shown, rel, base, progress)


def _check_free(op: Op, *rels: Path) -> None:
    for rel in rels:
        if os.path.lexists(op.root / rel):
            raise RunError(f"{op.show(rel)} already exists")


def _archive_compressed(root: str | os.PathLike, root_abs: Path, shown: Path, rel: Path, base: Path,
                        progress: Progress | None) -> Path:
    from .tarzst import verify_archive, write_archive, write_manifest

    tar, manifest_path = compressed_parts(base)
    if os.lstat(root_abs / rel).st_dev != os.lstat(root_abs).st_dev:
        raise RunError(f"{shown / rel} is on another filesystem than {shown}: its original cannot be removed safely")
    with operation(root, "archive", [rel_text(rel), rel_text(base)], {"src": rel_text(rel), "compress": True}) as op:
        _check_free(op, base, tar, manifest_path)
        tmp_tar = tar.with_name(f".{tar.name}.{op.id}.tmp")
        tmp_manifest = manifest_path.with_name(f".{manifest_path.name}.{op.id}.tmp")
        op.phase("writing", tar=rel_text(tar), manifest=rel_text(manifest_path), tmp_tar=rel_text(tmp_tar),
                 tmp_manifest=rel_text(tmp_manifest))
        make_folders(root_abs, tar.parent)
        manifest = write_archive(root_abs / rel, root_abs / tmp_tar, progress=progress)
        kill_point("archive.written")
        write_manifest(manifest, root_abs / tmp_manifest)
        fsync_tree(root_abs / tmp_tar)
        fsync_tree(root_abs / tmp_manifest)
        verify_archive(root_abs / tmp_tar, manifest, progress=progress)
        st = os.stat(root_abs / tmp_tar)
        op.phase("verified", tar_bytes=st.st_size, tar_mtime_ns=st.st_mtime_ns)
        if not _finish_archive(op):
            raise RunError(f"the archive of {shown / rel} changed before it was put in place: the run was left "
                           f"as it was")
    return root_abs / tar


def _finish_archive(op: Op) -> bool:
    """From a verified temporary archive: rename it into place, then remove the original (through staging).
    False when what is there is not the archive verified: then it is removed and the original left as it was."""
    d, root = op.data, op.root
    for tmp, final in ((d["tmp_tar"], d["tar"]), (d["tmp_manifest"], d["manifest"])):
        if os.path.lexists(root / tmp) and not os.path.lexists(root / final):
            move(root / tmp, root / final)
    try:
        st = os.stat(root / d["tar"])
        whole = (st.st_size, st.st_mtime_ns) == (d["tar_bytes"], d["tar_mtime_ns"]) \
            and os.path.isfile(root / d["manifest"])
    except OSError:
        whole = False
    if not whole:  # not what was verified
        if os.path.lexists(op.staging / "original"):  # out of sight already: everything stays for a person to see
            raise RunError(f"the archive of {op.show(d['src'])} is not the one verified; the run is kept in "
                           f"{op.show(op.staging.relative_to(root) / 'original')}")
        _drop_partial(op)  # the original stays, whatever this is goes
        return False
    if not op.reached("placed"):
        op.phase("placed")
    src, staged = root / d["src"], op.staging / "original"
    if not op.reached("staged") and os.path.lexists(src) and not os.path.lexists(staged):
        op.make_staging()
        move(src, staged)
        op.phase("staged")
    remove_tree(staged)
    op.drop_staging()
    return True


def _drop_partial(op: Op) -> None:
    """Remove what a compressed archive left before it was verified and placed (never the original)."""
    d = op.data
    for key in ("tmp_tar", "tmp_manifest"):
        if key in d:
            tmp = op.root / d[key]
            remove_tree(tmp)
            # the manifest is itself written through a temp file and rename: `.<name>.<pid>.tmp`
            with contextlib.suppress(OSError):
                for name in os.listdir(tmp.parent):
                    if name.startswith(f".{tmp.name}.") and name.endswith(".tmp"):
                        remove_tree(tmp.parent / name)
    if op.reached("verified") and not op.reached("placed"):
        for key in ("manifest", "tar"):  # renamed into place by this operation, nothing else could be there
            remove_tree(op.root / d[key])


def restore_run(root: str | os.PathLike, archived_path: str | os.PathLike, *,
                progress: Progress | None = None) -> Path:
    """Put an archived run back where it came from (`archive/<rel>` -> `<rel>`); the restored path.

    `archived_path` is a plain archive's folder or file, or a compressed archive's `.tar.zst`, its manifest or its
    path without suffix. Contents, modes, links and mtimes come back exactly. Raises RunError when the origin is
    taken again, or the path is no archived run; Busy when another runyard acts on it.
    """
    shown, root_abs = _root(root)
    text = os.fspath(archived_path)
    for suffix in (TAR_SUFFIX, MANIFEST_SUFFIX):
        if text.endswith(suffix):
            text = text[:-len(suffix)]
            break
    path = inside_root(root_abs, text)
    rel = path.relative_to(root_abs)
    if not is_archived(rel):
        raise RunError(f"{shown / rel} is not an archived run (those are under {shown / ARCHIVE_DIR})")
    origin = archived_origin(rel)
    tar, manifest_path = compressed_parts(rel)
    compressed = not os.path.lexists(path) and os.path.lexists(root_abs / tar)
    if not compressed and not os.path.lexists(path):
        raise RunError(f"no archived run at {shown / rel}")
    if os.path.lexists(root_abs / origin):
        raise RunError(f"cannot restore {shown / rel}: {shown / origin} exists (move it away first)")
    inside_root(root_abs, root_abs / origin)
    targets = [rel_text(rel), rel_text(origin)]
    if not compressed:
        with operation(root, "restore", targets, {"src": rel_text(rel), "dst": rel_text(origin),
                                                  "compress": False}) as op:
            _check_free(op, origin)
            if origin.parent.parts:
                make_folders(root_abs, origin.parent)
            try:
                move(path, root_abs / origin)
            except FileExistsError:
                raise RunError(f"cannot restore {shown / rel}: {shown / origin} exists again") from None
            op.phase("moved")
        return root_abs / origin
    from .tarzst import extract_archive, read_manifest

    if not os.path.isfile(root_abs / manifest_path):
        raise RunError(f"{shown / tar} has no manifest ({manifest_path.name}): it cannot be restored exactly")
    data = {"tar": rel_text(tar), "manifest": rel_text(manifest_path), "dst": rel_text(origin), "compress": True}
    with operation(root, "restore", targets, data) as op:
        _check_free(op, origin)
        manifest = read_manifest(root_abs / manifest_path)
        item = op.make_staging() / "item"
        extract_archive(root_abs / tar, manifest, item, progress=progress)
        fsync_tree(item)
        op.phase("extracted")
        _finish_restore(op)
    return root_abs / origin


def _finish_restore(op: Op) -> None:
    """From a complete extraction in staging: rename it into place, then remove the archive (through staging)."""
    d, root = op.data, op.root
    item, dst = op.staging / "item", root / d["dst"]
    if os.path.lexists(item):
        if Path(d["dst"]).parent.parts:
            make_folders(root, Path(d["dst"]).parent)
        try:
            move(item, dst)
        except FileExistsError:  # the extraction stays until the recovery sees both and drops it, archive kept
            raise RunError(f"cannot restore {op.show(d['tar'])}: {op.show(d['dst'])} exists again") from None
    elif not os.path.lexists(dst):
        raise RunError(f"the restored copy of {op.show(d['tar'])} is gone; the archive is kept")
    if not op.reached("placed"):
        op.phase("placed")
    for key in ("manifest", "tar"):  # the manifest first: a tar without it is listed nowhere
        part = root / d[key]
        if os.path.lexists(part):
            op.make_staging()
            move(part, op.staging / part.name)
    op.drop_staging()


# ----- recovery -----------------------------------------------------------------------------------------------

def _recover_archive(op: Op) -> str:
    d = op.data
    src = op.show(d["src"])
    if not d.get("compress"):
        return _recover_rename(op, d["src"], d["dst"], f"archiving {src}")
    if not op.reached("verified"):
        _drop_partial(op)
        op.drop_staging()
        return f"archiving {src} was interrupted before its archive was verified: undone, the run is where it was"
    if not _finish_archive(op):
        return f"archiving {src} was interrupted and its archive is not the one verified: undone, the run is " \
               f"where it was"
    return f"archiving {src} was interrupted: finished, it is in {op.show(d['tar'])}"


def _recover_restore(op: Op) -> str:
    d = op.data
    if not d.get("compress"):
        return _recover_rename(op, d["src"], d["dst"], f"restoring {op.show(d['src'])}")
    item, dst = op.staging / "item", op.root / d["dst"]
    gone = not op.reached("placed") and not os.path.lexists(item) and not os.path.lexists(dst)
    if not op.reached("extracted") or gone:  # the archive is where it was: only the extraction goes
        op.drop_staging()
        return f"restoring {op.show(d['tar'])} was interrupted: undone, it is still archived"
    if os.path.lexists(item) and os.path.lexists(dst):  # its place was taken meanwhile
        op.drop_staging()
        return f"restoring {op.show(d['tar'])} was interrupted and {op.show(d['dst'])} is taken: undone"
    _finish_restore(op)
    return f"restoring {op.show(d['tar'])} was interrupted: finished, it is back at {op.show(d['dst'])}"


def _recover_rename(op: Op, src: str, dst: str, what: str) -> str:
    """A plain archive or restore is one rename: it happened, or it did not."""
    at_src, at_dst = os.path.lexists(op.root / src), os.path.lexists(op.root / dst)
    if at_dst and not at_src:
        return f"{what} was interrupted: finished, it is at {op.show(dst)}"
    if at_src:
        return f"{what} was interrupted: undone, it is at {op.show(src)}"
    # one rename cannot lose it: something else took it away
    return f"{what} was interrupted, and it is neither at {op.show(src)} nor at {op.show(dst)}: nothing to finish"


RECOVER = {"archive": _recover_archive, "restore": _recover_restore}
