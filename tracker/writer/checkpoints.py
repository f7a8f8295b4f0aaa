"""The checkpoint book of a run: durable saves, `checkpoints/index.jsonl`, the best one, and retention.

The index is append-only: a save adds `{"step", "time", "file", "bytes", "metrics", ...}`, a removal adds
`{"_event": "delete", "file": ...}`, so readers can list and rank checkpoints without opening any of them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, NamedTuple

from ..contract import CHECKPOINT_INDEX, CHECKPOINTS_DIR, DELETE, EVENT, fsync_dir, open_append, write_all
from ..errors import RunError
from ..jsonl import as_int, dumps_line, encode_tree, read_records


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

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.dir = run_dir / CHECKPOINTS_DIR
        self.entries: list[CheckpointEntry] = []
        self.best: BestPolicy | None = None
        self._fd: int | None = None
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

    def _append(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            self.dir.mkdir(exist_ok=True)
            self._fd = open_append(self.dir / CHECKPOINT_INDEX)
        write_all(self._fd, dumps_line(encode_tree(record)))
        os.fsync(self._fd)

    def save(self, state: Any, step: int) -> Path:
        """`torch.save` to a temp file, fsync, rename to `step_<N>.pt`; return the final path."""
        try:
            import torch
        except ImportError as exc:
            raise RunError(
                "save_checkpoint needs torch (pip install 'runyard[torch]'); "
                "or save the file yourself and call run.add_checkpoint(path, step=...)"
            ) from exc
        self.dir.mkdir(exist_ok=True)
        final = self.dir / f"step_{step:08d}.pt"
        tmp = self.dir / f".{final.name}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as fh:
                torch.save(state, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(self.dir)
        return final

    def register(self, path: Path, step: int, metrics: dict[str, Any],
                 best: tuple[str, str] | None, best_value: float | None) -> CheckpointEntry:
        """Record a checkpoint file in the index and update the best holder."""
        if not path.is_file():
            raise RunError(f"checkpoint file not found: {path}")
        try:
            rel = str(path.resolve().relative_to(self.run_dir.resolve()))
        except ValueError:
            rel = str(path.resolve())
        entry = CheckpointEntry(step, rel, path.stat().st_size, metrics)
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
            (self.run_dir / entry.file).unlink(missing_ok=True)
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
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
