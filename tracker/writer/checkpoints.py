"""The checkpoint book of a run: durable saves, `checkpoints/index.jsonl`, the best one, and retention.

The index is append-only: a save adds `{"step", "time", "file", "bytes", "metrics", ...}`, a removal adds
`{"_event": "delete", "file": ...}`, so readers can list and rank checkpoints without opening any of them.
Files are written relative to the run folder's descriptor, so they land in the folder wherever it was moved.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ..contract import CHECKPOINT_INDEX, CHECKPOINTS_DIR, DELETE, EVENT
from ..errors import RunError
from ..jsonl import as_int, dumps_line, encode_tree, read_records
from .appendfile import INDEX_HELD, AppendFile
from .folder import RunFolder

_INDEX = f"{CHECKPOINTS_DIR}/{CHECKPOINT_INDEX}"


class CheckpointEntry(NamedTuple):
    """One registered checkpoint file (`file` is relative to the run folder when it lies inside it)."""

    step: int
    file: str
    bytes: int
    metrics: dict[str, Any]


class BestPolicy:
    """Which metric decides the best checkpoint, in which direction, and the current holder."""

    def __init__(self, metric: str, mode: str) -> None:
        self.metric, self.mode = metric, mode
        self.value: float | None = None
        self.file: str | None = None
        self.step: int | None = None

    def beats(self, value: float) -> bool:
        """True if `value` is better than the best so far (NaN never is)."""
        if value != value:
            return False
        if self.value is None:
            return True
        return value < self.value if self.mode == "min" else value > self.value


class CheckpointBook:
    """Saves, registers and prunes the checkpoints of one run folder."""

    def __init__(self, folder: RunFolder, on_trouble: Callable[[str, OSError], None] | None = None) -> None:
        self.folder = folder
        self.entries: list[CheckpointEntry] = []
        self.best: BestPolicy | None = None
        # opened at the first checkpoint: a run that saves none gets no checkpoints/ folder
        self.index = AppendFile(folder, _INDEX, limit=INDEX_HELD, open_now=False, on_trouble=on_trouble)
        self._load_index()

    def _load_index(self) -> None:
        """Rebuild entries and the best holder from an existing index (for a resumed run)."""
        for rec in read_records(self.dir / CHECKPOINT_INDEX):
            if rec.get(EVENT) == DELETE:
                self.entries = [e for e in self.entries if e.file != rec.get("file")]
                continue
            if not isinstance(rec.get("file"), str):
                continue
            entry = CheckpointEntry(as_int(rec.get("step")) or 0, rec["file"], as_int(rec.get("bytes")) or 0,
                                    rec.get("metrics") or {})
            self.entries = [e for e in self.entries if e.file != entry.file] + [entry]
            if rec.get("best_metric"):
                if self.best is None or self.best.metric != rec["best_metric"]:
                    self.best = BestPolicy(rec["best_metric"], rec.get("best_mode", "min"))
                if rec.get("is_best"):
                    self.best.value = rec.get("best_value")
                    self.best.file, self.best.step = entry.file, entry.step

    @property
    def run_dir(self) -> Path:
        """The run folder where it is now."""
        return self.folder.path

    @property
    def dir(self) -> Path:
        """The checkpoints folder where it is now."""
        return self.folder.path / CHECKPOINTS_DIR

    def _append(self, record: dict[str, Any]) -> None:
        """One index line, fsynced; a line the disk refuses is held and written with the next one."""
        if self.index.write(dumps_line(encode_tree(record))):
            self.index.sync()

    def save(self, state: Any, step: int) -> str:
        """`torch.save` to a temp file, fsync, rename to `step_<N>.pt`; return its name in the run folder.

        A save the disk refuses raises the OSError and leaves neither the temp file nor a half-written checkpoint.
        """
        try:
            import torch
        except ImportError as exc:
            raise RunError(
                "save_checkpoint needs torch (pip install 'runyard[torch]'); "
                "or save the file yourself and call run.add_checkpoint(path, step=...)"
            ) from exc
        self.folder.mkdir(CHECKPOINTS_DIR)
        name = f"step_{step:08d}.pt"
        final, tmp = f"{CHECKPOINTS_DIR}/{name}", f"{CHECKPOINTS_DIR}/.{name}.{os.getpid()}.tmp"
        try:
            with self.folder.open_file(tmp, "wb") as fh:
                sink = _WriteErrors(fh)
                try:
                    torch.save(state, sink)
                except Exception:
                    if sink.error is not None:  # torch reports a refused write as its own RuntimeError
                        raise sink.error from None
                    raise
                fh.flush()
                os.fsync(fh.fileno())
            self.folder.replace(tmp, final)
        finally:
            with contextlib.suppress(OSError):
                self.folder.unlink(tmp)
        self.folder.fsync(CHECKPOINTS_DIR)
        return final

    def register(self, path: Path | str, step: int, metrics: dict[str, Any],
                 best: tuple[str, str] | None, best_value: float | None) -> CheckpointEntry:
        """Record a checkpoint file in the index and update the best holder; `path` is a file anywhere, or a
        name in the run folder as `save` gives it."""
        rel = path if isinstance(path, str) else self._relative(path)
        try:
            st = self.folder.stat(rel) if not os.path.isabs(rel) else os.stat(rel)
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            raise RunError(f"checkpoint file not found: {path}")
        entry = CheckpointEntry(step, rel, st.st_size, metrics)
        record: dict[str, Any] = {"step": step, "time": time.time(), "file": rel, "bytes": entry.bytes,
                                  "metrics": metrics}
        if best is not None:
            metric, mode = best
            if mode not in ("min", "max"):
                raise RunError(f"best=({metric!r}, {mode!r}): the direction must be 'min' or 'max'")
            if self.best is None or self.best.metric != metric or self.best.mode != mode:
                self.best = BestPolicy(metric, mode)
            record.update(best_metric=metric, best_mode=mode, best_value=best_value, is_best=False)
            if best_value is not None and self.best.beats(best_value):
                self.best.value, self.best.file, self.best.step = best_value, rel, step
                record["is_best"] = True
        self.entries = [e for e in self.entries if e.file != rel] + [entry]
        self._append(record)
        return entry

    def _relative(self, path: Path) -> str:
        """A checkpoint file's name in the run folder where it lies inside it, else its absolute path."""
        try:
            return str(path.resolve().relative_to(self.run_dir.resolve()))
        except ValueError:
            return str(path.resolve())

    def prune(self, keep_last: int) -> list[str]:
        """Delete all but the newest `keep_last` checkpoints inside the run folder, always sparing the best."""
        if keep_last < 0:
            raise RunError("keep_last must be 0 or more")
        inside = [e for e in self.entries if not os.path.isabs(e.file)]
        inside.sort(key=lambda e: e.step)
        doomed = inside[: max(0, len(inside) - keep_last)]
        removed = []
        for entry in doomed:
            if self.best is not None and entry.file == self.best.file:
                continue
            self.folder.unlink(entry.file)
            self.entries.remove(entry)
            self._append({EVENT: DELETE, "file": entry.file, "time": time.time()})
            removed.append(entry.file)
        return removed

    def latest(self) -> CheckpointEntry | None:
        """The checkpoint with the highest step, if any."""
        return max(self.entries, key=lambda e: e.step, default=None)

    def best_record(self) -> dict[str, Any] | None:
        """The summary.json `best_checkpoint` section."""
        b = self.best
        if b is None or b.file is None:
            return None
        return {"file": b.file, "step": b.step, "metric": b.metric, "mode": b.mode, "value": b.value}

    def close(self) -> None:
        self.index.retry()
        self.index.sync()
        self.index.close()


class _WriteErrors:
    """A file for `torch.save` that remembers the OSError of a write the disk refused (torch turns it into a
    RuntimeError that no longer says the disk was full)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self._fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self._fh.flush()
