"""Runs' metrics as one CSV table: a row per (run, step), a column per metric of any of the runs.

What is written is what was logged. A metric a row did not log is an empty field; a logged NaN is `nan` and an
infinity `inf`/`-inf`, so a NaN stays a NaN (pandas reads both as NaN by default; read with
`keep_default_na=False, na_values=["nan"]` to keep them apart). A step is an integer, written in full (never
`5.0`, exact beyond 2**53); a value is written in the fewest digits that read back to the same float.
`time` is ISO 8601 in UTC with its offset (`2026-01-01T00:00:00.500000+00:00`): an instant, to the
microsecond, that no reader takes for local time; empty where a layout records no wallclock.

Several rows of one run at one step (a TensorBoard run that logs each tag on its own) are one row: per metric,
the value logged last at that step, and the time of the last row at that step.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..reading.textsafe import clean_field

FIXED = ("run", "step", "time")


def write_metrics_csv(views: Sequence[Any], out: TextIO | str | os.PathLike[str]) -> int:
    """Write the metrics of `views` (RunViews) as CSV (see the module's notes) to `out`, a text stream or a file
    path (written whole or not at all: a temporary file beside it is renamed over it); the rows written.

    Columns: `run` (the run's name; where names repeat among `views`, with its id in brackets), `step`, `time`,
    then every metric of any run, in the order first met. A metric named `run` (or `run_`...) is written with one
    `_` more, as the reader names a metric called `step` or `time`.
    """
    views = list(views)
    if not views:
        raise ValueError("no runs to export")
    if not hasattr(out, "write"):
        with _replacing(Path(out)) as stream:
            return write_metrics_csv(views, stream)
    names = [clean_field(v.info.name) for v in views]
    repeated = {n for n in names if names.count(n) > 1}
    runs = [f"{n} [{clean_field(v.info.id)}]" if n in repeated else n for n, v in zip(names, views, strict=True)]
    metrics: dict[str, str] = {}  # metric -> column name
    for view in views:
        for metric in view.summary:
            metrics.setdefault(metric, _column(metric))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIXED, *metrics.values()])
    rows = 0
    for run, view in zip(runs, views, strict=True):
        steps, times, columns = _merged(view, list(metrics))
        stamps = [_iso(t) for t in times.tolist()]
        writer.writerows(zip([run] * len(steps), [str(s) for s in steps.tolist()], stamps, *columns, strict=True))
        rows += len(steps)
    return rows


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[TextIO]:
    """A UTF-8 text file to write `path` through: a temporary file beside it, renamed over it when the block ends
    without an error, removed when it fails (a full disk, Ctrl-C), so `path` is never left half-written."""
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"no such folder: {path.parent}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the umask decides, as for any new file
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _column(metric: str) -> str:
    """The column a metric is written under: its name, cleaned of escapes, out of the way of `run`."""
    name = clean_field(metric)
    return name + "_" if name.rstrip("_") == "run" else name


def _merged(view: Any, metrics: list[str]) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """One run's steps (int64, ascending), the time of each (last row at the step) and each metric's fields."""
    frame = view.metrics()[["step", "time"]]
    per_step = frame.groupby("step", sort=True)["time"].last()  # the last row's time that is known
    steps = per_step.index.to_numpy(dtype=np.int64)
    times = per_step.to_numpy(dtype=np.float64)
    columns: list[list[str]] = []
    summary = view.summary
    for metric in metrics:
        if metric not in summary:
            columns.append([""] * steps.size)
            continue
        series = view.series(metric).drop_duplicates("step", keep="last")
        at = np.searchsorted(steps, series["step"].to_numpy(dtype=np.int64))
        fields = [""] * steps.size
        for i, value in zip(at.tolist(), series["value"].to_numpy(dtype=np.float64).tolist(), strict=True):
            fields[i] = repr(value)  # shortest round-trip text: 0.1, 1e-05, nan, inf, -inf
        columns.append(fields)
    return steps, times, columns


def _iso(seconds: float) -> str:
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return ""
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="microseconds")
