"""`Run`: the training side of a run folder. Every `log()` row reaches the operating system before it returns.

Rows go to `metrics.jsonl` with one `os.write` on an O_APPEND descriptor (no user-space buffer to lose on
SIGKILL); summary and heartbeat are refreshed by a background thread; the end of the run is fsynced. The
folder is held open and every file is written relative to it, so a run whose folder is renamed or moved
while it trains keeps writing into it (see `folder`). A full disk never stops the training and never tears a
file: rows it refuses are held in memory and written when it takes them again (see `appendfile`), the run warns
once, and what had to be dropped is counted in run.json (`dropped`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..contract import (
    CONFIG_YAML,
    DROPPED,
    EVENT,
    FORMAT,
    METRICS_JSONL,
    RESERVED_KEYS,
    RESUME,
    RUN_JSON,
    SAMPLES_JSONL,
    SUMMARY_JSON,
    TRAINING_LOG,
    goal_direction,
    iso_now,
    parse_iso,
    standing_rows,
)
from ..errors import RunError
from ..jsonl import decode_value, dumps_line, encode_float, encode_tree, read_records
from ..liveness import interval_median
from . import lifecycle
from .appendfile import LOG_HELD, METRICS_HELD, SAMPLES_HELD, AppendFile
from .checkpoints import CheckpointBook
from .folder import RunFolder
from .heartbeat import Heartbeat
from .logsetup import RunLogging
from .running_stats import MetricStats

_INT64 = 2**63


def as_number(name: str, value: Any) -> int | float:
    """A logged value as a plain int or float: numpy and torch scalars via `.item()`; bools as 0/1."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -_INT64 < value < _INT64 else float(value)
    if isinstance(value, float):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return as_number(name, item())
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"metric {name!r}: {type(value).__name__} is not a single number ({exc})") from None
    raise TypeError(f"metric {name!r}: expected a number, got {type(value).__name__}")


def as_step(step: Any) -> int:
    """A step as a non-negative int (torch and numpy integers accepted)."""
    try:
        value = int(step)
    except (TypeError, ValueError):
        raise TypeError(f"step must be an integer, got {type(step).__name__}") from None
    if value < 0:
        raise ValueError(f"step must be 0 or more, got {value}")
    return value


class Run:
    """A live run writing its folder. Create it with `tracker.init(...)`; use it as a context manager."""

    def __init__(self, path: Path, info: dict[str, Any], config: dict[str, Any], *,
                 heartbeat_interval: float = 10.0, summary_interval: float = 5.0, system_metrics: bool = True,
                 tensorboard: bool = False, console: bool = True,
                 replay: list[dict[str, Any]] | None = None, goals: Mapping[str, str] | None = None,
                 config_yaml: bytes | None = None) -> None:
        self._folder = RunFolder(path)
        self.config = config
        self._info = info
        self._created = parse_iso(info.get("created")) or time.time()
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._closed = False
        self._signal: str | None = None
        self._stats = MetricStats()
        self._known: set[str] = set()
        self._last_step: int | None = None
        self._last_time = 0.0
        self._rows = 0
        self._row_times: deque[float] = deque(maxlen=65)  # wallclock of recent log() rows, for their pace
        self._dirty = True
        self._replay = replay  # rows of an earlier life, folded in when the resumed run first logs
        if replay is not None:
            self._fold_rows(replay)
        self._dropped_before = _counts(info.get(DROPPED))  # what an earlier life of a resumed run lost
        self._disk_warned = threading.Lock()  # taken once, by the first write a disk refuses; never released
        self._unwritten: dict[str, bytes] = {}  # whole files a disk refused, tried again at each heartbeat
        trouble = self._disk_trouble
        self._metrics = AppendFile(self._folder, METRICS_JSONL, limit=METRICS_HELD, on_trouble=trouble)
        self._samples = AppendFile(self._folder, SAMPLES_JSONL, limit=SAMPLES_HELD, open_now=False,
                                   on_trouble=trouble)
        self._log_file = AppendFile(self._folder, TRAINING_LOG, limit=LOG_HELD, on_trouble=trouble)
        self._logging = RunLogging(info["id"], self._log_file, console)
        self.checkpoints = CheckpointBook(self._folder, on_trouble=trouble)
        self._goals: dict[str, str] = dict(goals or {})  # metric -> "min"/"max", as declared (summary.json goals)
        if self.checkpoints.best is not None:  # a resumed run whose index names a best policy declared it
            self._goals.setdefault(self.checkpoints.best.metric, self.checkpoints.best.mode)
        self._tb = None
        if tensorboard:
            from .tbmirror import TensorBoardMirror

            self._tb = TensorBoardMirror(self._folder, on_trouble=trouble)
        if config_yaml is not None:
            self._replace_file(CONFIG_YAML, config_yaml, keep=True)
        self._write_run_json()
        self._write_summary()
        sampler = self._make_sampler() if system_metrics else None
        self._heartbeat = Heartbeat(
            interval=heartbeat_interval, flush_interval=summary_interval,
            sample_interval=heartbeat_interval if sampler else None,
            beat=self._beat, flush=self._flush_files,
            sample=(lambda: self._log_system(sampler)) if sampler else None,
            on_error=self._background_error,
        )
        lifecycle.register(self)
        self._heartbeat.start()

    # ----- identity -------------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The run folder where it is now: renamed or moved while the run lives, it is followed."""
        return self._folder.path

    @property
    def id(self) -> str:
        return self._info["id"]

    @property
    def name(self) -> str:
        return self._info["name"]

    @property
    def info(self) -> dict[str, Any]:
        """A copy of what run.json holds."""
        return dict(self._info)

    @property
    def logger(self):
        """A `logging.Logger` whose records go to training.log and the console."""
        return self._logging.logger

    @property
    def step(self) -> int | None:
        """The step of the last logged row (None before the first)."""
        return self._last_step

    @property
    def status(self) -> str:
        return self._info["status"]

    @property
    def resume_step(self) -> int | None:
        """For a resumed run: the step of its latest checkpoint, where training should pick up."""
        latest = self.checkpoints.latest()
        return latest.step if latest else None

    @property
    def latest_checkpoint(self) -> Path | None:
        """The path of the checkpoint with the highest step, if any."""
        latest = self.checkpoints.latest()
        return (self.path / latest.file) if latest else None

    def __repr__(self) -> str:
        return f"<Run {self.name} {self.id} {self.status} at {self.path}>"

    # ----- logging rows ---------------------------------------------------------------------------------

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Append one row of metrics at `step` (the previous step + 1 when omitted), stamped with wallclock."""
        if self._closed:
            raise RunError(f"run {self.name} has ended ({self.status}); log() needs a live run")
        if step is None:
            step = 0 if self._last_step is None else self._last_step + 1
        elif type(step) is not int or step < 0:
            step = as_step(step)
        row: dict[str, Any] = {"step": step, "time": 0.0}
        values = []
        known = self._known
        for name, value in metrics.items():
            if name not in known:
                self._check_name(name)
            if type(value) is not float:
                value = as_number(name, value)
            values.append((name, value))
            row[name] = value if value - value == 0 else encode_float(value)
        if self._replay is not None:
            self._begin_after_resume(step)
        self._write_row(row)
        self._row_times.append(row["time"])
        update = self._stats.update
        for name, value in values:
            update(name, value, step)
        self._last_step = step
        if self._tb is not None:
            self._tb.scalars(dict(values), step, row["time"])

    def _write_row(self, row: dict[str, Any]) -> None:
        """Stamp the time (never earlier than the previous row) and append the row in one write."""
        with self._lock:
            now = time.time()
            if now < self._last_time:
                now = self._last_time
            self._last_time = row["time"] = now
            self._metrics.write(dumps_line(row))  # on a full disk: held, written with a later row, never raised
            self._rows += 1
            self._dirty = True

    def _check_name(self, name: Any) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"metric names must be non-empty strings, got {name!r}")
        if name in RESERVED_KEYS:
            raise ValueError(f"metric name {name!r} is reserved by the run format; choose another")
        self._known.add(name)

    def log_sample(self, text: str, step: int | None = None, prompt: str | None = None, **extra: Any) -> None:
        """Append generated text to samples.jsonl (at the current step when `step` is omitted)."""
        if self._closed:
            raise RunError(f"run {self.name} has ended ({self.status}); log_sample() needs a live run")
        step = (self._last_step or 0) if step is None else as_step(step)
        record: dict[str, Any] = {"step": step, "time": time.time(), "text": str(text)}
        if prompt is not None:
            record["prompt"] = str(prompt)
        for key in extra:
            if key in record:
                raise ValueError(f"log_sample: {key!r} is a field of its own; pass it by name")
        from .config import to_plain

        record.update(encode_tree(to_plain(extra, "sample")))
        with self._lock:
            self._samples.write(dumps_line(record))
        if self._tb is not None:
            self._tb.text("samples", record["text"], step, record["time"])

    def _log_system(self, sampler) -> None:
        """A `sys/...` row at the current step, from the heartbeat thread; skipped until a resume settles."""
        if self._closed or self._replay is not None:
            return
        values = sampler.sample()
        step = self._last_step or 0
        row: dict[str, Any] = {"step": step, "time": 0.0}
        row.update((k, encode_float(v)) for k, v in values.items())
        self._write_row(row)
        with self._lock:
            for name, value in values.items():
                self._stats.update(name, value, step)

    @staticmethod
    def _make_sampler():
        try:
            from .sysmetrics import SystemSampler

            return SystemSampler()
        except Exception:  # psutil missing or /proc unreadable: no system metrics, training goes on
            return None

    # ----- what the metrics mean ------------------------------------------------------------------------

    def define_metric(self, name: str, *, goal: str) -> None:
        """Declare which way is better for metric `name`: `goal="min"` (losses) or `"max"` (accuracy, reward).

        Recorded in summary.json, so every reader ranks the run's best value and checkpoints the same way
        instead of guessing from the name. It may come before or after the metric's first row.
        """
        if self._closed:
            raise RunError(f"run {self.name} has ended ({self.status}); define_metric() needs a live run")
        direction = goal_direction(goal)
        if direction is None:
            raise ValueError(f"define_metric({name!r}, goal={goal!r}): the goal must be 'min' or 'max'")
        if name not in self._known:
            self._check_name(name)
        with self._lock:
            self._goals[name] = direction
            self._dirty = True
        self._flush_summary()

    @property
    def goals(self) -> dict[str, str]:
        """The declared directions, metric -> "min" or "max"."""
        return dict(self._goals)

    # ----- checkpoints ----------------------------------------------------------------------------------

    def save_checkpoint(self, state: Any, *, step: int, metrics: Mapping[str, Any] | None = None,
                        best: tuple[str, str] | str | None = None, keep_last: int | None = None) -> Path | None:
        """Save `state` durably as a checkpoint of `step`, index it, track the best, apply retention.

        Returns its path; None when the disk refused it (the training goes on: the next save may succeed, and
        no older checkpoint is removed for it).
        """
        step = as_step(step)
        if self._closed:
            raise RunError(f"run {self.name} has ended ({self.status}); checkpoints need a live run")
        try:
            name = self.checkpoints.save(state, step)
        except OSError as exc:
            self._disk_trouble(f"checkpoint of step {step}", exc)
            self.logger.warning("checkpoint of step %d not saved: %s", step, exc)
            return None
        self._register(name, step, metrics, best, keep_last)
        return self.path / name

    def add_checkpoint(self, path: str | os.PathLike, *, step: int, metrics: Mapping[str, Any] | None = None,
                       best: tuple[str, str] | str | None = None, keep_last: int | None = None) -> Path:
        """Register a checkpoint file the script saved itself."""
        path = Path(path)
        self._register(path, as_step(step), metrics, best, keep_last)
        return path

    def _register(self, path: Path | str, step: int, metrics: Mapping[str, Any] | None,
                  best: tuple[str, str] | str | None, keep_last: int | None) -> None:
        if self._closed:
            raise RunError(f"run {self.name} has ended ({self.status}); checkpoints need a live run")
        best = self._best_policy(best)
        plain = {k: as_number(k, v) for k, v in (metrics or {}).items()}
        best_value = None
        if best is not None:
            metric = best[0]
            if metric in plain:
                best_value = float(plain[metric])
            elif metric in self._stats.by_name:
                best_value = float(self._stats.by_name[metric][1])
        entry = self.checkpoints.register(path, step, plain, best, best_value)
        if keep_last is not None:
            for removed in self.checkpoints.prune(keep_last):
                self.logger.info("removed checkpoint %s (keep_last=%d)", removed, keep_last)
        self.logger.info("checkpoint %s at step %d (%.1f MB)", entry.file, step, entry.bytes / 1e6)
        self._dirty = True
        self._flush_summary()

    def _best_policy(self, best: tuple[str, str] | str | None) -> tuple[str, str] | None:
        """`best` as (metric, mode): a bare metric name takes its declared goal; a new mode declares one."""
        if best is None:
            return None
        if isinstance(best, str):
            if best not in self._goals:
                raise RunError(f"best={best!r}: say best=({best!r}, 'min' or 'max'), or define_metric() it first")
            return best, self._goals[best]
        metric, mode = best
        direction = goal_direction(mode)
        if direction is None:
            raise RunError(f"best=({metric!r}, {mode!r}): the direction must be 'min' or 'max'")
        declared = self._goals.setdefault(metric, direction)
        if declared != direction:
            self.logger.warning("best=(%r, %r) ranks checkpoints, but %s was declared %r: readers take %r",
                                metric, mode, metric, declared, declared)
        return metric, direction

    # ----- files refreshed in the background ------------------------------------------------------------

    def _write_run_json(self) -> None:
        with self._lock:
            self._info["heartbeat"] = iso_now()
            dropped = self._dropped()
            if dropped:
                self._info[DROPPED] = dropped
            data = dumps_line(encode_tree(self._info))
        self._replace_file(RUN_JSON, data, fsync=self._info["status"] != "running")

    def _beat(self) -> None:
        if not self._closed:
            for name, data in list(self._unwritten.items()):
                self._replace_file(name, data, keep=True)
            self._write_run_json()

    def summary(self) -> dict[str, Any]:
        """What summary.json holds now: per-metric statistics, best checkpoint and totals."""
        with self._lock:
            metrics = self._stats.as_dict()
            last_time = self._last_time
        created = self._created
        return {
            "format": FORMAT,
            "status": self._info["status"],
            "updated": iso_now(),
            "steps": self._last_step,
            "rows": self._rows,
            "wallclock": max(0.0, (last_time or created) - created),
            "interval_median": interval_median(list(self._row_times)),
            "metrics": metrics,
            "goals": dict(self._goals),
            "best_checkpoint": self.checkpoints.best_record(),
            "checkpoints": len(self.checkpoints.entries),
        }

    def _write_summary(self, fsync: bool = False) -> None:
        self._dirty = False
        if not self._replace_file(SUMMARY_JSON, dumps_line(encode_tree(self.summary())), fsync=fsync):
            self._dirty = True  # written again at the next flush

    def _flush_summary(self) -> None:
        if self._dirty and not self._closed:
            self._write_summary()

    def _replace_file(self, name: str, data: bytes, *, fsync: bool = False, keep: bool = False) -> bool:
        """Write a whole file (temp file + rename); False if the disk refused it. With `keep`, a refused file is
        tried again at each heartbeat and at the end (run.json and summary.json are written afresh anyway)."""
        try:
            self._folder.write_atomic(name, data, fsync=fsync)
        except OSError as exc:
            if keep:
                self._unwritten[name] = data
            self._disk_trouble(name, exc)
            return False
        self._unwritten.pop(name, None)
        return True

    # ----- a disk that refuses writes -------------------------------------------------------------------

    def _disk_trouble(self, what: str, exc: OSError) -> None:
        """Warn once per run that a write failed, on the console and (if it can still take it) in training.log.

        Called from any thread and from inside the log handler itself, so it takes no lock the writers hold:
        the first caller takes `_disk_warned` for good, the others return at once.
        """
        if not self._disk_warned.acquire(blocking=False):
            return
        message = (f"cannot write {what}: {exc.strerror or exc}. The training goes on: what the disk refuses is "
                   f"kept in memory (up to {METRICS_HELD / 2**20:g} MiB of rows) and written when it takes writes "
                   "again; beyond that the oldest is dropped and counted in run.json. This is said once.")
        logging_ = getattr(self, "_logging", None)
        if logging_ is not None:
            logging_.logger.warning("runyard: %s", message)
        if logging_ is None or not logging_.has_console:
            print(f"runyard: {message}", file=sys.stderr, flush=True)

    def _background_error(self, label: str, exc: BaseException) -> None:
        """A failure of the heartbeat thread's work: a refused write is the disk warning, anything else its own."""
        if isinstance(exc, OSError):
            self._disk_trouble(label, exc)
        else:
            self.logger.warning("runyard %s failed: %s", label, exc)

    def _append_files(self) -> list[AppendFile]:
        files = [self._metrics, self._samples, self._log_file, self.checkpoints.index]
        return files if self._tb is None else [*files, self._tb.file]

    def _dropped(self, *, earlier: bool = True) -> dict[str, int]:
        """Lines (TensorBoard events) lost per file, by earlier lives of the run too unless `earlier` is False;
        once the run has ended, those still held are lost too."""
        ending = self._closed
        counts = dict(self._dropped_before) if earlier else {}
        for file in self._append_files():
            lost = file.dropped + (file.held_units if ending else 0)
            if lost:
                counts[file.name] = counts.get(file.name, 0) + lost
        return counts

    def _flush_files(self) -> None:
        """The background thread's periodic flush: summary.json, and the TensorBoard mirror's buffer."""
        self._flush_summary()
        if self._tb is not None and not self._closed:
            self._tb.flush()

    # ----- resume ---------------------------------------------------------------------------------------

    def _fold_rows(self, rows: list[dict[str, Any]]) -> None:
        """Rebuild statistics from the rows of an earlier life that stand."""
        self._stats = MetricStats()
        self._last_step = None
        for row in rows:
            step = row["step"]
            for name, value in row.items():
                if name not in ("step", "time") and isinstance(value, (int, float)):
                    self._stats.update(name, value, step)
            self._last_step = step if self._last_step is None else max(self._last_step, step)
            self._last_time = max(self._last_time, row.get("time") or 0.0)
        self._rows = len(rows)

    def _begin_after_resume(self, step: int) -> None:
        """First row after a resume: write the marker and drop the earlier rows it supersedes."""
        replay, self._replay = self._replay, None
        with self._lock:
            self._last_time = max(self._last_time, time.time())
            marker = {EVENT: RESUME, "step": step, "time": self._last_time}
            self._metrics.write(dumps_line(marker))
        self._fold_rows(standing_rows([*(replay or []), marker]))
        self.logger.info("resumed at step %d; earlier rows from step %d on are superseded", step, step)

    # ----- the end --------------------------------------------------------------------------------------

    def finish(self, status: str = "finished") -> None:
        """End the run: footer in training.log, final summary.json and run.json, all fsynced. Idempotent."""
        if status not in ("finished", "failed", "interrupted"):
            raise ValueError(f"status must be finished, failed or interrupted, not {status!r}")
        with self._lock:
            if self._closed:
                return
            self._closed = True
        lifecycle.unregister(self)
        self._heartbeat.stop()
        ended = time.time()
        self._info.update(status=status, ended=iso_now(ended))
        # what a full disk held back gets its last chance, in order, before the end is written; a write that
        # still fails is counted in run.json and the end goes on: finish() never raises for a disk
        with self._lock:
            self._metrics.retry()
            self._samples.retry()
        self.checkpoints.close()
        if self._tb is not None:
            self._tb.close()
        for name, data in list(self._unwritten.items()):
            self._replace_file(name, data, keep=True)
        self._write_footer(status, ended)
        self._write_summary(fsync=True)
        self._write_run_json()
        for file in (self._metrics, self._samples):
            file.sync()
            file.close()
        self._logging.close()
        self._folder.close()

    def _write_footer(self, status: str, ended: float) -> None:
        duration = ended - self._created
        last = {k: v["last"] for k, v in self._stats.as_dict().items() if not k.startswith("sys/")}
        shown = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in last.items())
        dropped = self._dropped(earlier=False)
        if dropped:
            lost = ", ".join(f"{n:,} line{'s' * (n != 1)} of {name}" for name, n in dropped.items())
            message = (f"runyard: the disk refused and {lost} were dropped "
                       "(counted in run.json if it can still be written)")
            self.logger.warning("%s", message)
            if not self._logging.has_console:  # training.log may be on the very disk that is full: say it here too
                print(message, file=sys.stderr, flush=True)
        self.logger.log(
            logging.INFO if status == "finished" else logging.WARNING,
            "==== run %s %s: %s steps in %s%s ====", one_line(self.name), status,
            "no" if self._last_step is None else self._last_step, _duration(duration),
            f"; last {shown}" if shown else "",
        )
        self._log_file.retry()
        self._log_file.sync()

    def _end_status(self) -> str:
        return "interrupted" if self._signal else "finished"

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            self.finish(self._end_status())
        else:
            self._end_from_exception(exc)
        return False

    # ----- called by the lifecycle hooks ----------------------------------------------------------------

    def _owned_here(self) -> bool:
        return os.getpid() == self._pid and not self._closed

    def _note_signal(self, name: str) -> None:
        self._signal = self._signal or name
        self.logger.warning("received %s", name)

    def _end_from_exception(self, exc: BaseException) -> None:
        if self._closed:
            return
        if isinstance(exc, KeyboardInterrupt):
            self.finish("interrupted")
        elif isinstance(exc, SystemExit):
            ok = exc.code in (0, None)
            self.finish(self._end_status() if ok or self._signal else "failed")
        else:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
            self.logger.error("run failed with %s: %s\n%s", type(exc).__name__, exc, text)
            self.finish("failed")

    def _end_at_exit(self) -> None:
        self.finish(self._end_status())


def one_line(name: str) -> str:
    """A run's name for a line of training.log: a newline or control character in it escaped, not obeyed."""
    return name if name.isprintable() else repr(name)[1:-1]


def _counts(value: Any) -> dict[str, int]:
    """run.json `dropped` as an earlier life wrote it: file -> lines lost (anything else ignored)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if type(v) is int and v > 0}


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of an existing metrics.jsonl that stand (the resume rule applied), values decoded; bad lines skipped."""
    return [{k: decode_value(v) for k, v in row.items()} for row in standing_rows(read_records(path))]
