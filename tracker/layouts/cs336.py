"""CS336 `ExperimentTracker` folders: config.json, metrics.csv, summary.json, checkpoints/ with sidecars."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..files import open_binary
from ..jsonl import as_float
from ..model import FINISHED, INTERRUPTED, RUNNING, Checkpoint, RunInfo
from ..ops.best import mark_best, ranking_metric
from ..reading.goals import resolve_goal
from .base import Detection, RunSource, empty_metrics
from .common import mtime, read_json_file

if TYPE_CHECKING:
    import pandas as pd

_CKPT = re.compile(r"^checkpoint_step_(\d+)\.pt$")


def detect(directory: Path, names: list[str]) -> Detection | None:
    """A folder with config.json and metrics.csv is one run."""
    if "config.json" in names and "metrics.csv" in names:
        return Detection([CS336Source(directory)], descend=False)
    return None


class CS336Source(RunSource):
    format = "cs336"

    def key_files(self) -> list[Path]:
        return [self.path / n for n in ("config.json", "metrics.csv", "summary.json")]

    def _json(self, name: str) -> dict[str, Any]:
        try:
            data = read_json_file(self.path / name)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def read_info(self) -> RunInfo:
        """Identity and lifecycle. Start and end are the first and last rows' `wallclock_time`, the run's own
        clock; summary.json (written when training ends) says only that it ended: its `total_wallclock_time`
        counts the last life of a resumed run alone."""
        import numpy as np

        df = self.metrics()
        summary = self._json("summary.json")
        config = self.config()
        times = df["time"].to_numpy()
        times = times[np.isfinite(times)]
        created = float(times.min()) if len(times) else None
        last = float(times.max()) if len(times) else None
        steps = df["step"].to_numpy()
        return RunInfo(
            id=self.path.name, name=str(config.get("experiment_name") or self.path.name), path=self.path,
            format=self.format, status=FINISHED if summary else RUNNING, quiet_status=INTERRUPTED,
            created=created, ended=last if summary else None, last_time=last, last_logged=last,
            last_write=mtime(self.path / "metrics.csv"), rows=len(df),
            last_step=int(steps[-1]) if len(steps) else None, notes=str(config.get("description") or ""),
            max_step=config.get("max_steps") if isinstance(config.get("max_steps"), int) else None,
        )

    def config(self) -> dict[str, Any]:
        return self._json("config.json")

    def metrics(self) -> pd.DataFrame:
        """metrics.csv: `wallclock_time` is the time; `elapsed_time` is recomputed by the reader."""
        import pandas as pd

        try:
            with open_binary(self.path / "metrics.csv") as fh:
                df = pd.read_csv(fh, on_bad_lines="skip")
        except (OSError, ValueError, pd.errors.ParserError):
            return empty_metrics()
        if "step" not in df.columns:
            return empty_metrics()
        df = df.rename(columns={"wallclock_time": "time"}).drop(columns=["elapsed_time"], errors="ignore")
        df = df[pd.to_numeric(df["step"], errors="coerce").notna()]
        df["step"] = df["step"].astype("int64")
        for col in df.columns:
            if col != "step":
                df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        if "time" not in df.columns:
            df["time"] = float("nan")
        return df[["step", "time", *[c for c in df.columns if c not in ("step", "time")]]].reset_index(drop=True)

    def log_path(self) -> Path | None:
        path = self.path / "training.log"
        return path if path.exists() else None

    def checkpoints(self) -> list[Checkpoint]:
        """`checkpoint_step_N.pt` with the metrics of its `.json` sidecar; the best judged by those (see
        `ops.best`). summary.json's `best_checkpoint` names the metric; the step it names is only a claim, wrong
        on a resumed run, whose summary knows its last life alone."""
        claim = self._json("summary.json").get("best_checkpoint")
        claim = claim if isinstance(claim, dict) else {}
        out = []
        folder = self.path / "checkpoints"
        for path in folder.glob("checkpoint_step_*.pt") if folder.is_dir() else []:
            m = _CKPT.match(path.name)
            if not m:
                continue
            step = int(m.group(1))
            try:
                side = read_json_file(path.with_suffix(".json"))
            except (OSError, ValueError):
                side = {}
            metrics = {k: number for k, v in (side if isinstance(side, dict) else {}).items()
                       if k != "step" and (number := as_float(v)) is not None}
            out.append(Checkpoint(path, step=step, bytes=path.stat().st_size, metrics=metrics))
        out.sort(key=lambda c: c.step or 0)
        named = next((k for k in claim if k != "step" and as_float(claim[k]) is not None), None)
        metric = ranking_metric(out, named)
        claimed = next((c for c in out if c.step == claim.get("step")), None)
        mark_best(out, metric, resolve_goal(self, metric).direction if metric else None,
                  claimed=claimed, claimed_by="summary.json")
        return out
