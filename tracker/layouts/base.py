"""The interface every layout reader implements, and the helpers they share.

A layout module exposes `detect(directory, names) -> Detection | None`: given a folder and the names in it,
the runs that folder holds in this layout and whether the scan should look deeper. Each run is a
`RunSource`, which reads only what it is asked for, so that listing a tree never loads metric series.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..model import Checkpoint, Goal, MetricSummary, RunInfo, Sample

if TYPE_CHECKING:
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

    @abstractmethod
    def metrics(self) -> pd.DataFrame:
        """Columns `step` (int64), `time` (float64 Unix seconds), then one float64 column per metric.

        One row per logged record, in file order; a metric absent from a record is NaN.
        """

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

    def metrics_tail(self, offset: int = 0) -> MetricsTail | None:
        """A reader of metric rows appended after byte `offset`, for layouts that can be followed row by row;
        None where a change means reading the metrics again."""
        return None

    def own_summary(self) -> dict[str, MetricSummary] | None:
        """Per-metric statistics the layout keeps itself, cheaper than reading the metrics; None if none."""
        return None

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


def empty_metrics() -> pd.DataFrame:
    """A metrics frame with no rows and only the two fixed columns."""
    import pandas as pd

    return pd.DataFrame({"step": pd.Series([], dtype="int64"), "time": pd.Series([], dtype="float64")})


def frame_from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A metrics frame from dicts holding `step`, `time` and metric values (small inputs only)."""
    import pandas as pd

    if not records:
        return empty_metrics()
    df = pd.DataFrame.from_records(records)
    df["step"] = pd.to_numeric(df["step"], errors="coerce").fillna(-1).astype("int64")
    df["time"] = pd.to_numeric(df.get("time"), errors="coerce").astype("float64")
    for col in df.columns:
        if col not in ("step", "time"):
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df[["step", "time", *[c for c in df.columns if c not in ("step", "time")]]]
