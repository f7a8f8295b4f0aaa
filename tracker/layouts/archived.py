"""Runs archived compressed: `<name>.tar.zst` with `<name>.manifest.json` beside it (see `ops.tarzst`).

A listing reads the manifest only: the run's info, config and summary as they were when it was archived, no
decompression. Opening the run (its metrics, log, checkpoints) reads an extraction into the cache folder,
outside the runs tree, made once per version of the archive and checked against the manifest as it is made;
checkpoint files are made there with their size but without their data (a restore gives them back), so opening
a run of many gigabytes costs no more disk than its logs. The run is read-only, as everything in the archive is.

A manifest without its archive, an archive without its manifest (in an `archive/` folder; it may still be
being written), or either one damaged is listed as an unreadable run with the reason in one line.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..jsonl import as_float, as_int, decode_metrics, decode_value
from ..model import CRASHED, DECLARED, Checkpoint, Goal, MetricSummary, RunInfo, Sample
from ..ops.tarformat import ARCHIVE_DIR, MANIFEST_SUFFIX, TAR_SUFFIX, Entry, Manifest, extract_archive, read_manifest
from .base import Detection, MetricColumns, RunSource, metric_column

SHOWN_AS = "archived (compressed)"
# Files a reader never opens: checkpoints and tensors, extracted for reading as their size without their data.
HOLLOW_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".bin", ".safetensors", ".npy", ".npz", ".h5", ".hdf5",
                             ".pkl", ".pickle", ".msgpack", ".onnx", ".gguf", ".model", ".tar", ".zip"})
HOLLOW_FROM = 64 << 10  # bytes: a small file is extracted whole whatever its name
Detect = Callable[[Path, list[str]], Detection | None]


def _stem(name: str) -> str | None:
    """`x` of `x.tar.zst` or `x.manifest.json` (never a hidden temp file's name); None for other names."""
    if name.startswith("."):
        return None
    for suffix in (TAR_SUFFIX, MANIFEST_SUFFIX):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[:-len(suffix)]
    return None


def detector(others: list[Detect]) -> Detect:
    """The detector of compressed archives, which hands the rest of a folder to `others` (the other layouts, in
    order of precedence): a folder of archives may also hold runs archived plain."""

    def detect(directory: Path, names: list[str]) -> Detection | None:
        """Each archive with its manifest is a run (anywhere); in an `archive/` folder, one of the two alone is
        listed too, as unreadable. The folder's other runs are found as if the archives were not there."""
        runs, taken = _archives(directory, names, others)
        if not runs:
            return None
        return _with_others(directory, [n for n in names if n not in taken], runs, others)

    return detect


def _archives(directory: Path, names: list[str], others: list[Detect]) -> tuple[list[RunSource], set[str]]:
    stems: dict[str, set[str]] = {}
    for name in names:
        stem = _stem(name)
        if stem is not None:
            stems.setdefault(stem, set()).add(name)
    if not stems:
        return [], set()
    in_archive = ARCHIVE_DIR in directory.parts
    runs: list[RunSource] = []
    for stem, found in sorted(stems.items()):
        tar, manifest = stem + TAR_SUFFIX, stem + MANIFEST_SUFFIX
        paired = len(found) == 2 or (tar in found and os.path.lexists(directory / manifest))
        if paired or in_archive:
            runs.append(ArchivedSource(directory / tar, others))
    return runs, {n for found in stems.values() for n in found}


def _with_others(directory: Path, names: list[str], runs: list[RunSource], others: list[Detect]) -> Detection:
    """The archived runs, and what the first other layout (else the plain-log reader) finds in the folder."""
    from . import textlog

    for other in others:
        found = other(directory, names)
        if found is not None:
            return Detection([*runs, *found.runs], found.descend, found.claimed)
    logs = [n for n in names if textlog.could_be_log(n) and _is_file(directory / n)]
    found = textlog.detect_files(directory, logs, None) if logs else None
    return Detection([*runs, *(found.runs if found else [])], descend=True)


def _is_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


class ArchivedSource(RunSource):
    """A run archived compressed: `path` is its `.tar.zst`; the manifest beside it tells what a listing needs."""

    format = "archived"

    def __init__(self, path: Path, layouts: list[Detect]) -> None:
        super().__init__(path)
        self._layouts = layouts  # the other layouts: one of them reads the extracted run
        self.manifest_path = path.with_name(path.name[:-len(TAR_SUFFIX)] + MANIFEST_SUFFIX)
        self._manifest: tuple[tuple[int, int, int], Manifest] | None = None
        self._inner: RunSource | None = None
        self._lock = threading.Lock()

    def key_files(self) -> list[Path]:
        return [self.manifest_path, self.path]

    def manifest(self) -> Manifest:
        """The manifest, read once per version of its file; an OSError or ArchiveMismatch says why not."""
        try:
            st = os.stat(self.manifest_path)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "missing (the archive is being written, or was left unfinished)",
                                    str(self.manifest_path)) from None
        version = (st.st_size, st.st_mtime_ns, st.st_ino)
        if self._manifest is not None and self._manifest[0] == version:
            return self._manifest[1]
        manifest = read_manifest(self.manifest_path)
        self._manifest = (version, manifest)
        return manifest

    def read_info(self) -> RunInfo:
        manifest = self.manifest()
        if not os.path.lexists(self.path):
            raise FileNotFoundError(errno.ENOENT, "missing (only its manifest is here)", str(self.path))
        raw = manifest.info
        text = lambda key, default="": str(raw.get(key) or default)  # noqa: E731
        info = RunInfo(
            id=text("id", manifest.name), name=text("name", manifest.name), path=self.path,
            format=f"{manifest.layout} {SHOWN_AS}", status=text("status", CRASHED),
            created=_number(raw.get("created")), ended=_number(raw.get("ended")),
            last_time=_number(raw.get("last_time")), last_step=as_int(raw.get("last_step")),
            rows=as_int(raw.get("rows")), tags=[str(t) for t in _list(raw.get("tags"))],
            notes=text("notes"), host=raw.get("host") if isinstance(raw.get("host"), str) else None,
            user=raw.get("user") if isinstance(raw.get("user"), str) else None,
            restarts=as_int(raw.get("restarts")) or 0, max_step=as_int(raw.get("max_step")),
            restarts_at=[x for x in _list(raw.get("restarts_at")) if type(x) is int],
            interval_median=_number(raw.get("interval_median")), skipped_lines=as_int(raw.get("skipped_lines")) or 0,
            error=str(raw["error"]) if raw.get("error") else None, archived=True,
        )
        extra = raw.get("extra")
        info.extra = dict(extra) if isinstance(extra, dict) else {}
        info.extra["archive"] = {"file": self.path.name, "run": manifest.run, "archived": manifest.created,
                                 **{k: v for k, v in manifest.totals.items() if isinstance(v, int)}}
        return info

    def config(self) -> dict[str, Any]:
        return self.manifest().config

    def own_summary(self) -> dict[str, MetricSummary] | None:
        fields = set(MetricSummary.__dataclass_fields__)
        out = {}
        for name, stats in self.manifest().summary.items():
            if isinstance(stats, dict):
                values = {k: v for k, v in decode_metrics(stats).items() if k in fields}
                try:
                    out[metric_column(name)] = MetricSummary(**values)
                except TypeError:
                    continue
        return out

    def goals(self) -> dict[str, Goal]:
        goals = self.manifest().goals
        return {metric_column(name): Goal(d, DECLARED) for name, d in goals.items() if d in ("min", "max")}

    def origin(self) -> dict[str, Any]:
        return dict(self.manifest().origin)

    # What a listing does not need comes from the extraction.

    def inner(self) -> RunSource:
        """The run as extracted into the cache folder, read by its own layout (made on first use)."""
        with self._lock:
            if self._inner is None:
                source = _read_as(extracted(self.path, self.manifest()), self._layouts)
                source.root = self.root
                self._inner = source
            return self._inner

    def metrics_data(self) -> MetricColumns:
        return self.inner().metrics_data()

    def log_path(self) -> Path | None:
        return self.inner().log_path()

    def checkpoints(self) -> list[Checkpoint]:
        """The run's checkpoints as recorded, each named where it lies: inside the archive
        (`archive/<run>.tar.zst/checkpoints/step_9.pt`), not in the cache's extraction, whose large checkpoints
        are hollow. Using one means restoring the run, and the note on each says so."""
        inner = self.inner()
        top = inner.path
        found = []
        for checkpoint in inner.checkpoints():
            try:
                inside = checkpoint.path.relative_to(top)
            except ValueError:  # kept beside the run, not in it: not in the archive either
                continue
            checkpoint.path = self.path / inside if top.is_dir() else self.path
            note = "in a compressed archive: `runyard restore` the run to use it"
            checkpoint.note = f"{checkpoint.note}; {note}" if checkpoint.note else note
            found.append(checkpoint)
        return found

    def samples(self) -> list[Sample]:
        return self.inner().samples()


def _read_as(path: Path, layouts: list[Detect]) -> RunSource:
    """The run at `path` (an extracted run's folder or file) as the first layout that claims it reads it; a file
    no layout claims is read as a plain log."""
    from . import textlog

    if os.path.isdir(path) and not os.path.islink(path):
        directory, names = path, sorted(os.listdir(path))
    else:
        directory, names = path.parent, [path.name]
    for detect in layouts:
        found = detect(directory, names)
        runs = [r for r in found.runs if r.path == path] if found is not None else []
        if runs:
            return runs[0]
    if directory != path:
        return textlog.TextLogSource(path)
    found = textlog.detect_files(path, [n for n in names if _is_file(path / n)], None)
    if found is None or len(found.runs) != 1:
        raise ValueError(f"{path.name}: no layout runyard reads holds this run any more")
    return found.runs[0]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    return as_float(decode_value(value))


def hollow(entry: Entry) -> bool:
    """True for a file the reading side never opens (a checkpoint, a tensor): extracted as its size only."""
    return entry.size >= HOLLOW_FROM and os.path.splitext(entry.path)[1].lower() in HOLLOW_SUFFIXES


def extracted(tar: Path, manifest: Manifest, *, extract: Callable[..., Path] = extract_archive) -> Path:
    """The run of `tar` extracted for reading under `<cache>/archives/`, made once per version of the archive
    (its size, mtime and inode, and the manifest's hash) and checked against the manifest as it is made.
    Extractions of older versions of the same archive are removed; two processes extracting at once each make
    their own and the first to finish is kept. Symlinks leading out of the run are left out: reading an archive
    never follows one out of it."""
    from ..reading.cachedir import cache_root

    st = os.stat(tar)
    where = hashlib.sha1(os.fsencode(os.path.abspath(tar))).hexdigest()[:16]
    version = hashlib.sha1(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{manifest.digest}".encode()).hexdigest()[:16]
    base = cache_root() / "archives"
    final = base / f"{where}-{version}"
    if os.path.isdir(final):
        return final / manifest.name
    base.mkdir(parents=True, exist_ok=True)
    temp = base / f".{where}-{version}.{os.getpid()}.{threading.get_ident()}"
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    try:
        extract(tar, manifest, temp / manifest.name, fsync=False, hollow=hollow)
        _drop_outward_links(temp, manifest)
        try:
            os.rename(temp, final)
        except OSError:
            if not os.path.isdir(final):  # another process made it first: theirs is as good
                raise
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    for old in base.glob(f"{where}-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final / manifest.name


def _drop_outward_links(top: Path, manifest: Manifest) -> None:
    """Remove each extracted symlink that resolves outside the extraction (by the kernel's rules, through every
    link on the way): a reader of the cache then never leaves it."""
    inside = os.path.realpath(top)
    links = [top / e.path for e in manifest.entries if e.type == "symlink"]
    outward = [p for p in links if not _within(os.path.realpath(p), inside)]
    for path in outward:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
