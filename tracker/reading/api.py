"""The reading API: `open_run(path)` gives a `RunView` of a run in any layout; `scan(root)` lists a tree."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import TrackerError
from ..files import open_regular
from ..layouts.base import RunSource
from ..layouts.registry import detectors
from .records import RunRecord, RunView
from .scanner import scan

__all__ = ["RunRecord", "RunView", "UnknownLayout", "find_run", "open_run", "scan"]


class UnknownLayout(TrackerError):
    """A path holds no run of any layout runyard reads."""


def find_source(path: Path, root: Path | None = None) -> RunSource:
    """The single run at `path` (a run folder, or a run's file such as a nanoGPT log); `root`, the runs folder it
    belongs to, lends a text log the patterns of its runyard.toml. UnknownLayout says why `path` is no run."""
    from ..layouts import textlog

    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if not path.is_dir() and not path.is_file():  # a FIFO, a device: said to be one (NotRegularFile), never waited on
        os.close(open_regular(path))
    directory, names = (path.parent, [path.name]) if path.is_file() else (path, sorted(os.listdir(path)))
    runs: list[RunSource] = []
    for detect in detectors():
        found = detect(directory, names)
        if found:
            runs.extend(found.runs)
    if path.is_file():
        runs = [r for r in runs if r.path == path] or _run_whose_log_is(path)
        if not runs:  # a file no layout claims is a run only if it reads as a log with metrics
            why = textlog.not_a_log(path, root)
            if why is not None:
                raise UnknownLayout(f"{path}: not a run: {why}")
            runs = [textlog.TextLogSource(path, root)]
    elif not runs:  # a folder no layout claims may hold plain logs, as a scan finds them
        found = textlog.detect_files(path, [n for n in names if (path / n).is_file()], root)
        runs = found.runs if found else []
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise UnknownLayout(f"{path}: not a run folder of any layout runyard reads")
    listing = ", ".join(r.path.name for r in runs[:5])
    raise UnknownLayout(f"{path} holds {len(runs)} runs ({listing}...): name one")


def _enter_folder(folder: Path) -> None:
    """Raise the OSError that says why `folder` cannot be entered or listed (another user's folder), if it cannot:
    looking for a run there would otherwise find none, and say only that."""
    os.stat(os.path.join(folder, "."))  # entering it takes search permission
    with os.scandir(folder):             # listing it, read permission
        pass


def _run_whose_log_is(path: Path) -> list[RunSource]:
    """The run whose folder holds `path` as its log (a runyard run's training.log, a W&B run's output.log): the
    log of a run names that run, not a text log of its own."""
    for directory in (path.parent, path.parent.parent):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for detect in detectors():
            found = detect(directory, names)
            if found:
                owned = [r for r in found.runs if r.log_path() == path]
                if owned:
                    return owned
    return []


def open_run(path: str | os.PathLike, root: str | os.PathLike | None = None) -> RunView:
    """A view of the run at `path`, whatever tool wrote it; `root`, the runs folder it belongs to, lends it the
    settings of its runyard.toml. A path that holds no run raises UnknownLayout saying why."""
    root = Path(root) if root is not None else None
    source = find_source(Path(path), root)
    if root is not None:
        source.root = root
    return RunView(source)


def find_run(ref: str, root: str | os.PathLike = "runs") -> RunView:
    """A run named by path, or by id or name (or a unique prefix of either) under `root`."""
    path = Path(ref)
    root = Path(root)
    if path.exists():
        inside = root.is_dir() and path.resolve().is_relative_to(root.resolve())
        return open_run(path, root if inside else None)
    if not root.is_dir():
        raise FileNotFoundError(f"no run at {ref} and no runs folder {root}")
    _enter_folder(root)
    records = [r for r in scan(root) if r.source is not None]
    for match in (lambda r: ref in (r.info.id, r.info.name, r.source.path.name),
                  lambda r: r.info.id.startswith(ref) or r.source.path.name.startswith(ref)):
        found = [r for r in records if match(r)]
        if len(found) == 1:
            return found[0].open()
        if len(found) > 1:
            names = ", ".join(str(r.source.path.relative_to(root)) for r in found[:5])
            raise TrackerError(f"{ref!r} matches {len(found)} runs under {root} ({names}): be more specific")
    raise FileNotFoundError(f"no run {ref!r} under {root}")
