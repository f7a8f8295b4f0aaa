"""nanoGPT `TrainingLogger` files: `log_run_YYYYMMDD_HHMMSS.txt`, one run per file.

A header gives the start time and a `key: value` configuration between dashed rules; `[time] step N: train
loss X, val loss Y` lines carry the metrics; a footer `Training run ended at ...` closes a finished run. A file
without its footer that was not written for ten minutes is an interrupted run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..literals import parse_value
from ..model import FINISHED, INTERRUPTED, RUNNING, RunInfo
from .base import Detection, MetricColumns, RunSource
from .textlog import LogRead, LogReading

_NAME = re.compile(r"^log_run_(\d{8}_\d{6})\.txt$")
_STARTED = re.compile(r"Training run started at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")
_ENDED = re.compile(r"Training run ended at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def detect(directory: Path, names: list[str]) -> Detection | None:
    """Each `log_run_*.txt` in a folder is a run; the folder may hold other runs too."""
    runs = [NanoGPTSource(directory / n) for n in sorted(names) if _NAME.match(n)]
    return Detection(runs, descend=True) if runs else None


def _stamp(match: re.Match[str] | None) -> float | None:
    from datetime import datetime

    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").timestamp() if match else None


class NanoGPTSource(RunSource):
    format = "nanogpt"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._log = LogReading()  # the log as read so far, kept for the next change

    def key_files(self) -> list[Path]:
        return [self.path]

    def _read(self) -> LogRead:
        return self._log.read(self.path, self.root)

    def read_info(self) -> RunInfo:
        read = self._read()
        lines = read.lines
        text_head, text_tail = "\n".join(lines[:5]), "\n".join(lines[-5:])
        ended = _stamp(_ENDED.search(text_tail))
        cfg = self.config()
        return RunInfo(
            id=self.path.stem, name=self.path.stem.removeprefix("log_"), path=self.path, format=self.format,
            status=FINISHED if ended is not None else RUNNING, quiet_status=INTERRUPTED,
            last_logged=read.last_time(),
            created=_stamp(_STARTED.search(text_head)), ended=ended,
            last_write=self.path.stat().st_mtime, rows=len(read), last_step=int(read.step[-1]) if len(read) else None,
            max_step=cfg.get("max_iters") if isinstance(cfg.get("max_iters"), int) else None,
        )

    def config(self) -> dict[str, Any]:
        """The `key: value` lines between the dashed rules after `Configuration:`."""
        config: dict[str, Any] = {}
        inside = False
        for line in self._read().lines[:400]:
            if line.strip().startswith("Configuration:"):
                inside = None  # the opening rule comes next
                continue
            if inside is None and line.startswith("---"):
                inside = True
                continue
            if inside and line.startswith("---"):
                break
            if inside and ":" in line:
                key, value = line.split(":", 1)
                config[key.strip()] = parse_value(value.strip())
        return config

    def metrics_data(self) -> MetricColumns:
        """The log's metric rows; a log that grew is read from where the last read stopped (`LogFollower`)."""
        return self._read().columns()

    def log_path(self) -> Path | None:
        return self.path
