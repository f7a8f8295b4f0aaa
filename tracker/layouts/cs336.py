"""CS336 `ExperimentTracker` folders: config.json, metrics.csv, summary.json, checkpoints/ with sidecars."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..files import open_binary
from ..jsonl import as_float
from ..model import FINISHED, INTERRUPTED, RUNNING, Checkpoint, RunInfo
from ..ops.best import mark_best, ranking_metric
from ..reading.goals import resolve_goal
from .base import Detection, MetricColumns, RunSource
from .common import mtime, read_json_file

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

        data = self.metrics_data()
        summary = self._json("summary.json")
        config = self.config()
        times = data.time[np.isfinite(data.time)]
        created = float(times.min()) if len(times) else None
        last = float(times.max()) if len(times) else None
        steps = data.step
        return RunInfo(
            id=self.path.name, name=str(config.get("experiment_name") or self.path.name), path=self.path,
            format=self.format, status=FINISHED if summary else RUNNING, quiet_status=INTERRUPTED,
            created=created, ended=last if summary else None, last_time=last, last_logged=last,
            last_write=mtime(self.path / "metrics.csv"), rows=len(data),
            last_step=int(steps[-1]) if len(steps) else None, notes=str(config.get("description") or ""),
            max_step=config.get("max_steps") if isinstance(config.get("max_steps"), int) else None,
            skipped_lines=data.skipped,
        )

    def config(self) -> dict[str, Any]:
        return self._json("config.json")

    def metrics_data(self) -> MetricColumns:
        """metrics.csv row by row: `wallclock_time` is the time, `elapsed_time` is recomputed by the reader.

        Every row is read (Python's csv module, which is what writes these files): an empty field is a metric
        not logged in that row, `nan`/`inf` are logged values. Writers add fields as new metrics appear, so a
        field beyond the header's is a metric from its row on, named `column_N` (N counting from 1) when no
        header names it, and a header line written again mid-file names the fields of the rows after it. A row
        without an integer step is skipped and counted.
        """
        try:
            # utf-8-sig: a byte-order mark some spreadsheet tools write is not part of the first field's name.
            with io.TextIOWrapper(open_binary(self.path / "metrics.csv"), encoding="utf-8-sig", errors="replace",
                                  newline="") as fh:
                return _csv_columns(csv.reader(fh))
        except (OSError, csv.Error):
            return MetricColumns([], [])

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


def _csv_columns(reader: Iterator[list[str]]) -> MetricColumns:
    """The metric rows of a CS336 metrics.csv (see `CS336Source.metrics_data`)."""
    header: list[str] = []
    steps: list[int] = []
    times: list[float | None] = []
    rows: list[dict[str, float]] = []
    skipped = 0
    for fields in reader:
        if not any(field.strip() for field in fields):
            continue
        named = dict(zip(header, fields, strict=False))
        step = _csv_step(named.get("step"))
        if step is None:
            if "step" in (field.strip() for field in fields):  # the header, first or written again
                header = [field.strip() for field in fields]
            elif header:
                skipped += 1
            continue
        names = header + [f"column_{i + 1}" for i in range(len(header), len(fields))]
        row: dict[str, float] = {}
        for name, field in zip(names, fields, strict=False):
            value = _csv_number(field)
            if value is not None and name not in ("step", "wallclock_time", "elapsed_time"):
                row[name] = value
        steps.append(step)
        times.append(_csv_number(named.get("wallclock_time", "")))
        rows.append(row)
    return MetricColumns.from_rows(steps, times, rows, skipped=skipped)


def _csv_step(field: str | None) -> int | None:
    """A step as written (an integer, or an integral float); None for anything else."""
    if field is None:
        return None
    try:
        return int(field)
    except ValueError:
        number = _csv_number(field)
        return int(number) if number is not None and number.is_integer() else None


def _csv_number(field: str) -> float | None:
    """A metric value (`nan` and `inf` included); None for an empty field or text."""
    try:
        return float(field)
    except ValueError:
        return None
