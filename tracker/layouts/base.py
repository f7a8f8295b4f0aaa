"""The interface every layout reader implements, and the helpers they share.

A layout module exposes `detect(directory, names) -> Detection | None`: given a folder and the names in it,
the runs that folder holds in this layout and whether the scan should look deeper. Each run is a
`RunSource`, which reads only what it is asked for, so that listing a tree never loads metric series.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..model import Checkpoint, Goal, MetricSummary, RunInfo, Sample

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..reading.tail import MetricsTail


class RunSource(ABC):
    """One run in one layout. `path` is the run's folder, or its file for one-file layouts (nanoGPT logs)."""

    format: ClassVar[str]
    root: Path | None = None  # the runs root it was found under, whose runyard.toml applies; None if opened alone

    def __init__(self, path: Path) -> None:
        self.path = path

    @abstractmethod
    def key_files(self) -> list[Path]:
        """Files whose size and mtime, when unchanged, mean a cached listing of this run is still right."""

    def key_paths(self) -> list[str]:
        """`key_files` as strings: what the scan stats on every rescan, so layouts may make it cheap."""
        return [str(p) for p in self.key_files()]

    @abstractmethod
    def read_info(self) -> RunInfo:
        """Identity and status as the layout records them (the staleness rules are applied by the caller)."""

    def first_info(self) -> RunInfo:
        """Identity and status for a screen that opens on the run at once, before it is read whole: the same as
        `read_info()` except in layouts whose info needs every record (a W&B log), which answer from a first
        part and the run's end, leaving `rows` unknown (None)."""
        return self.read_info()

    def first_config(self) -> dict[str, Any]:
        """The configuration as far as `first_info`'s look tells (the same as `config()` in most layouts)."""
        return self.config()

    @abstractmethod
    def metrics_data(self) -> MetricColumns:
        """Every metric row, in file order, with which rows logged each metric (see `MetricColumns`)."""

    def metrics(self) -> pd.DataFrame:
        """Columns `step` (int64), `time` (float64 Unix seconds), then one float64 column per metric.

        One row per logged record, in file order; a metric absent from a record is NaN.
        """
        return self.metrics_data().frame()

    def config(self) -> dict[str, Any]:
        """The run's configuration as a nested dict (empty when the layout holds none)."""
        return {}

    def log_path(self) -> Path | None:
        """The run's text log, if it has one."""
        return None

    def checkpoints(self) -> list[Checkpoint]:
        """Checkpoints known from index, sidecar files or names; never opened."""
        return []

    def samples(self) -> list[Sample]:
        """Generated text samples, if the layout records any."""
        return []

    def metrics_upto(self, budget: int) -> MetricColumns:
        """The metric rows read so far, after reading at most about `budget` more bytes of the run's files:
        `complete` is False while more remain, and the next call goes on from there. A first look at a big run
        that draws what is read while the rest loads; layouts that read in one go return `metrics_data()`."""
        return self.metrics_data()

    def metrics_tail(self, offset: int = 0) -> MetricsTail | None:
        """A reader of metric rows appended after byte `offset`, for layouts that can be followed row by row;
        None where a change means reading the metrics again."""
        return None

    def own_summary(self) -> dict[str, MetricSummary] | None:
        """Per-metric statistics the layout keeps itself, cheaper than reading the metrics; None if none."""
        return None

    def origin(self) -> dict[str, Any]:
        """Where and how the run started, as far as the layout records it, for a config diff: any of `git.commit`,
        `git.dirty` (bool), `argv` (a list, or the command line as one string), `python`, `torch`, `host`. Cheap: a
        small file, never the metrics; a fact the layout does not record is absent."""
        return {}

    def goals(self) -> dict[str, Goal]:
        """Directions of metrics as the run's own files state them (the writer's declarations, W&B's metric
        definitions); cheap, read without the metrics. Metrics not named here get theirs from `reading.goals`."""
        return {}


@dataclass
class Detection:
    """What one layout found in one folder."""

    runs: list[RunSource] = field(default_factory=list)
    descend: bool = True  # False: the folder belongs to the run(s); do not look for runs inside it
    claimed: list[str] = field(default_factory=list)  # sub-folders (relative paths) that belong to the runs


# The columns a metrics frame computes itself; a metric of the same name is kept under another (`metric_column`).
COMPUTED_COLUMNS = ("step", "time", "elapsed")


def metric_column(name: str) -> str:
    """The column a metric named `name` is read into: its own name, except that a name the frame computes itself
    (`step`, `time`, `elapsed`, or one of them followed by underscores) gets one `_` more.

    TensorBoard's tag `step` is thus the metric `step_`, a logged `elapsed` is `elapsed_`, and a metric already
    named `step_` is `step__`: every metric keeps a distinct name, found by one rule wherever it is read.
    """
    return name + "_" if name.rstrip("_") in COMPUTED_COLUMNS else name


class MetricColumns:
    """A run's metric rows as columns, the one form every layout reads its metrics into.

    `step` (int64) and `time` (float64 Unix seconds, NaN if unknown) per row; per metric its float64 values and
    which rows logged it (`logged[name]`, None when every row did). A logged NaN or infinity is a value with a
    place in the curve and the counts; a row that did not log the metric holds NaN in `values` and is not
    logged. Metric names are given as the run has them and stored under `metric_column(name)`.
    """

    __slots__ = ("complete", "end", "logged", "restarts", "skipped", "step", "time", "values")

    def __init__(self, step: Any, time: Any,
                 metrics: Mapping[str, tuple[np.ndarray, np.ndarray | None]] | None = None, *,
                 skipped: int = 0, end: int = 0, restarts: Sequence[int] = (), complete: bool = True) -> None:
        import numpy as np

        self.step: np.ndarray = np.asarray(step, dtype=np.int64)
        self.time: np.ndarray = np.asarray(time, dtype=np.float64)
        self.values: dict[str, np.ndarray] = {}
        self.logged: dict[str, np.ndarray | None] = {}
        for name, (values, logged) in (metrics or {}).items():
            column = metric_column(name)
            self.values[column] = np.asarray(values, dtype=np.float64)
            self.logged[column] = None if logged is None or logged.all() else np.asarray(logged, dtype=bool)
        self.skipped = skipped  # rows (lines, records) that could not be read, counted
        self.end = end          # for layouts followed row by row: byte offset just past the last row read
        # steps where a restarted run's next life began: curves break there rather than join across the pause
        self.restarts: list[int] = sorted({int(s) for s in restarts})
        self.complete = complete  # False: the rows of a first part of the run (see `RunSource.metrics_upto`)

    def __len__(self) -> int:
        return len(self.step)

    def __repr__(self) -> str:
        return f"<MetricColumns {len(self)} rows, metrics {list(self.values)}>"

    @classmethod
    def from_points(cls, step: Any, time: Any, points: Mapping[str, tuple[np.ndarray, np.ndarray]],
                    **kwargs: Any) -> MetricColumns:
        """From per-metric (row indices, values): a layout that stores each metric as its own series."""
        import numpy as np

        n = len(step)
        metrics = {}
        for name, (rows, values) in points.items():
            column, logged = np.full(n, np.nan), np.zeros(n, dtype=bool)
            column[rows] = values
            logged[rows] = True
            metrics[name] = (column, logged)
        return cls(step, time, metrics, **kwargs)

    @classmethod
    def from_rows(cls, steps: Sequence[int], times: Sequence[float | None],
                  rows: Sequence[Mapping[str, float]], **kwargs: Any) -> MetricColumns:
        """From one mapping of metric name to value per row (the keys a row holds are what it logged)."""
        import numpy as np

        points: dict[str, tuple[list[int], list[float]]] = {}
        for i, row in enumerate(rows):
            for name, value in row.items():
                where, values = points.get(name) or points.setdefault(name, ([], []))
                where.append(i)
                values.append(value)
        times = np.array([math.nan if t is None else t for t in times], dtype=np.float64)
        return cls.from_points(np.array(steps, dtype=np.int64), times,
                               {name: (np.array(where, dtype=np.int64), np.array(values, dtype=np.float64))
                                for name, (where, values) in points.items()}, **kwargs)

    def mask(self, name: str) -> np.ndarray:
        """The rows that logged metric `name` (a KeyError for a metric the run does not have)."""
        import numpy as np

        logged = self.logged[name]
        return np.ones(len(self.step), dtype=bool) if logged is None else logged

    def present(self) -> dict[str, np.ndarray]:
        """Per metric, the rows that logged it."""
        return {name: self.mask(name) for name in self.values}

    def frame(self) -> pd.DataFrame:
        """`step` (int64), `time` (float64), then one float64 column per metric, NaN where it was not logged:
        the table a script reads. Which NaN was logged is told by `logged`, not by the frame."""
        import pandas as pd

        return pd.DataFrame({"step": self.step, "time": self.time, **self.values}, copy=False)
