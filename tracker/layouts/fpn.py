"""Timestamped run folders of the FPN-compression kind.

`run_<YYYYMMDD_HHMMSS>_<key>_<value>_..._` folders holding `train_<stamp>.log`, `config_used.yaml` and
`command_args.txt`. Parameters come from the folder name, the config from the YAML, the command from the
text file, metrics from `Epoch E/N - Name: value - ...` log lines, and the best checkpoints from their names,
`best_model_epoch_E_loss_L_<stamp>.pth`.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from ..literals import parse_value
from ..model import FINISHED, INTERRUPTED, RUNNING, Checkpoint, RunInfo
from ..ops.best import mark_best
from ..reading.goals import resolve_goal
from ..reading.textcodec import read_text
from .base import Detection, MetricColumns, RunSource
from .common import last_line_time, read_yaml_file
from .textlog import LogRead, LogReading

_FOLDER = re.compile(r"^run_(\d{8}_\d{6})((?:_[A-Za-z][A-Za-z0-9]*_[^_]+)*)$")
_PARAM = re.compile(r"_([A-Za-z][A-Za-z0-9]*)_([^_]+)")
_BEST = re.compile(r"^best_model_epoch_(\d+)_loss_([-+0-9.eE]+)_\d{8}_\d{6}\.pth?$")
_EPOCHS = re.compile(r"Epoch (\d+)/(\d+)")


def detect(directory: Path, names: list[str]) -> Detection | None:
    """A `run_<stamp>_...` folder with a `train_*.log` is one run."""
    if _FOLDER.match(directory.name) and any(n.startswith("train_") and n.endswith(".log") for n in names):
        return Detection([FPNSource(directory)], descend=False)
    return None


class FPNSource(RunSource):
    format = "fpn"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._log_read = LogReading()  # the log as read so far, kept for the next change

    def _read(self, log: Path) -> LogRead:
        return self._log_read.read(log, self.root)

    def _log(self) -> Path | None:
        logs = sorted(self.path.glob("train_*.log"))
        return logs[-1] if logs else None

    def key_files(self) -> list[Path]:
        files = [self.path / "config_used.yaml", self.path / "command_args.txt"]
        log = self._log()
        return files + ([log] if log else [])

    def folder_params(self) -> dict[str, Any]:
        """`run_20241216_145030_lambda_1.00e-03_lr_5.00e-05_bs_4` -> {lambda: 0.001, lr: 5e-05, bs: 4}."""
        m = _FOLDER.match(self.path.name)
        return {k: parse_value(v) for k, v in _PARAM.findall(m.group(2))} if m else {}

    def read_info(self) -> RunInfo:
        log = self._log()
        read = self._read(log) if log else None
        lines = read.lines if read is not None else []
        stamp = _FOLDER.match(self.path.name).group(1)
        created = datetime.strptime(stamp, "%Y%m%d_%H%M%S").timestamp()
        last = _EPOCHS.search(lines[-1]) if lines else None
        # The last epoch logged: finished. Else live until the log goes quiet, then interrupted (see `liveness`).
        status = FINISHED if last and last.group(1) == last.group(2) else INTERRUPTED if log is None else RUNNING
        epochs = _EPOCHS.search("\n".join(lines[:50]))
        return RunInfo(
            id=self.path.name, name=self.path.name, path=self.path, format=self.format, status=status,
            quiet_status=INTERRUPTED, last_logged=last_line_time(lines),
            created=created, last_write=log.stat().st_mtime if log else None,
            rows=len(read) if read is not None else 0,
            last_step=int(read.step[-1]) if read is not None and len(read) else None,
            max_step=int(epochs.group(2)) if epochs else None,
            extra={"command": self.command()},
        )

    def command(self) -> str | None:
        try:
            text = read_text(self.path / "command_args.txt")
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("Command:"):
                return line.split(":", 1)[1].strip()
        return None

    def origin(self) -> dict[str, Any]:
        """The command line `command_args.txt` recorded."""
        command = self.command()
        return {"argv": command} if command else {}

    def config(self) -> dict[str, Any]:
        data = read_yaml_file(self.path / "config_used.yaml")
        config = dict(data) if isinstance(data, dict) else {}
        config["folder"] = self.folder_params()
        command = self.command()
        if command:
            config["command"] = command
        return config

    def metrics_data(self) -> MetricColumns:
        log = self._log()
        return self._read(log).columns() if log else MetricColumns([], [])

    def log_path(self) -> Path | None:
        return self._log()

    def checkpoints(self) -> list[Checkpoint]:
        """`best_model_epoch_E_loss_L_<stamp>.pth` (epoch as step, loss as metric); `best_model.pth` too.

        Each such file was the best when it was saved, so the newest is the tool's claim; the best is judged by
        the losses in the names (see `ops.best`), in the direction runyard knows for `loss`.
        """
        out = []
        for path in sorted(self.path.glob("*.pth")):
            m = _BEST.match(path.name)
            size = path.stat().st_size
            if m:
                out.append(Checkpoint(path, step=int(m.group(1)), bytes=size, metrics={"loss": float(m.group(2))}))
            else:
                out.append(Checkpoint(path, bytes=size))
        named = [c for c in out if c.step is not None]
        claimed = max(named, key=lambda c: c.step, default=None)
        mark_best(out, "loss", resolve_goal(self, "loss").direction, claimed=claimed,
                  claimed_by="the newest best_model file")
        return out
