"""The reading API: `open_run(path)` gives a `RunView` of a run in any layout; `scan(root)` lists a tree."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import TrackerError
from .layouts.base import RunSource
from .model import Checkpoint, MetricSummary, RunInfo, Sample
from .scanner import RunRecord, _detectors, read_record, scan, settle

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RunRecord", "RunView", "UnknownLayout", "find_run", "open_run", "scan"]


class UnknownLayout(TrackerError):
    """A path holds no run of any layout runyard reads."""


def find_source(path: Path) -> RunSource:
    """The single run at `path` (a run folder, or a run's file such as a nanoGPT log)."""
    from .layouts import textlog

    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    directory, names = (path.parent, [path.name]) if path.is_file() else (path, sorted(os.listdir(path)))
    runs: list[RunSource] = []
    for detect in _detectors():
        found = detect(directory, names)
        if found:
            runs.extend(found.runs)
    if not runs and path.is_file():
        runs = [textlog.TextLogSource(path)]
    if path.is_file():
        runs = [r for r in runs if r.path == path]
    if len(runs) == 1:
        return runs[0]
    if not runs:
        raise UnknownLayout(f"{path}: not a run folder of any layout runyard reads")
    listing = ", ".join(r.path.name for r in runs[:5])
    raise UnknownLayout(f"{path} holds {len(runs)} runs ({listing}...): name one")


def open_run(path: str | os.PathLike) -> RunView:
    """A view of the run at `path`, whatever tool wrote it."""
    return RunView(find_source(Path(path)))


class RunView:
    """One run: info, config, metrics, summary, log, checkpoints and samples, each read when first asked."""

    def __init__(self, source: RunSource, info: RunInfo | None = None) -> None:
        self.source = source
        self._info = info

    def __repr__(self) -> str:
        return f"<RunView {self.source.format} {self.source.path}>"

    @property
    def path(self) -> Path:
        return self.source.path

    @cached_property
    def record(self) -> RunRecord:
        return read_record(self.source, self.source.path.parent)

    @property
    def info(self) -> RunInfo:
        """Identity and lifecycle; the status is derived as of now (crashed, stalled...)."""
        info = self._info or self.record.info
        settle(info)
        return info

    @cached_property
    def config(self) -> dict[str, Any]:
        return self.source.config()

    def metrics(self) -> pd.DataFrame:
        """`step`, `time` (Unix seconds), `elapsed` (seconds since the run started) and one column per metric."""
        df = self.source.metrics()
        df.insert(2, "elapsed", df["time"] - self._start(df))
        return df

    def _frame_and_presence(self) -> tuple[pd.DataFrame, dict[str, Any] | None]:
        """The metrics frame and, where the layout can tell, which rows really logged each metric."""
        data = getattr(self.source, "metrics_data", None)
        if callable(data):
            loaded = data()
            return loaded.frame(), loaded.present()
        return self.source.metrics(), None

    @cached_property
    def summary(self) -> dict[str, MetricSummary]:
        """Per metric: first, last, min, max, mean, count, steps of min and max (computed from the rows)."""
        from .summarize import summarize

        return summarize(*self._frame_and_presence())

    def series(self, metric: str) -> pd.DataFrame:
        """`step`, `time`, `elapsed` and `value` of the rows that logged `metric` (a logged NaN stays in)."""
        df, present = self._frame_and_presence()
        if metric not in df.columns:
            raise KeyError(f"{self.path.name} has no metric {metric!r}")
        mask = present[metric] if present is not None else df[metric].notna().to_numpy()
        out = df.loc[mask, ["step", "time", metric]].rename(columns={metric: "value"}).reset_index(drop=True)
        out.insert(2, "elapsed", out["time"] - self._start(df))
        return out

    def _start(self, df: pd.DataFrame) -> float:
        start = self.info.created
        if start is None and len(df):
            start = float(df["time"].iloc[0])
        return start if start is not None else float("nan")

    @property
    def log_path(self) -> Path | None:
        path = self.source.log_path()
        return path if path is not None and path.exists() else None

    @property
    def checkpoints(self) -> list[Checkpoint]:
        """Known from index, sidecars and names; never loaded (a checkpoint is an untrusted pickle)."""
        return self.source.checkpoints()

    def samples(self) -> list[Sample]:
        return self.source.samples()


def find_run(ref: str, root: str | os.PathLike = "runs") -> RunView:
    """A run named by path, or by id or name (or a unique prefix of either) under `root`."""
    path = Path(ref)
    if path.exists():
        return open_run(path)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no run at {ref} and no runs folder {root}")
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
