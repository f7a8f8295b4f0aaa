"""runyard/1: the tracker's own run folders (see DESIGN.md for the contract)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from .. import contract as L
from ..jsonl import as_float, as_int, decode_metrics, read_records
from ..model import DECLARED, Checkpoint, Goal, MetricSummary, RunInfo, Sample
from ..ops.best import mark_best, ranking_metric
from ..reading.goals import resolve_goal
from .base import Detection, MetricColumns, RunSource, metric_column
from .common import mtime, read_json_file, read_yaml_file


def detect(directory: Path, names: list[str]) -> Detection | None:
    """A folder with a run.json is a runyard run; its subfolders (checkpoints/) belong to it."""
    if L.RUN_JSON in names:
        return Detection([RunyardSource(directory)], descend=False)
    return None


class RunyardSource(RunSource):
    format = L.FORMAT

    _KEYS = (L.RUN_JSON, L.SUMMARY_JSON, L.CONFIG_YAML, L.METRICS_JSONL)
    # summary.json may lag the rows (a live run refreshes it every few seconds, a killed one never again): where
    # it does not stand (`own_summary` is None) the rows give the statistics and the extent `read_info` took.
    summary_may_lag = True

    def key_files(self) -> list[Path]:
        return [self.path / n for n in self._KEYS]

    def key_paths(self) -> list[str]:
        base = str(self.path)
        return [f"{base}/{n}" for n in self._KEYS]

    def read_info(self) -> RunInfo:
        raw = read_json_file(self.path / L.RUN_JSON)
        if not isinstance(raw, dict):
            raise ValueError("run.json does not hold an object")
        status = str(raw.get("status") or "unknown")
        self._stated = status
        info = RunInfo(
            id=str(raw.get("id") or self.path.name), name=str(raw.get("name") or self.path.name),
            path=self.path, format=str(raw.get("format") or L.FORMAT), status=status,
            created=L.parse_iso(raw.get("created")), ended=L.parse_iso(raw.get("ended")),
            heartbeat=L.parse_iso(raw.get("heartbeat")), heartbeat_interval=as_float(raw.get("heartbeat_interval")),
            host=raw.get("host"), pid=raw.get("pid") if isinstance(raw.get("pid"), int) else None,
            user=raw.get("user"), tags=[str(t) for t in raw.get("tags") or []], notes=str(raw.get("notes") or ""),
            restarts=len(raw.get("restarts") or []),
        )
        info.heartbeat_write = mtime(self.path / L.RUN_JSON)
        try:
            info.last_write = (self.path / L.METRICS_JSONL).stat().st_mtime
        except OSError:
            info.last_write = info.heartbeat_write
        # The extent as summary.json last had it: exact once the run ended, else up to a few seconds behind,
        # and replaced by the rows' when a listing reads them (see `summary_may_lag`).
        summary = self._summary_json()
        info.last_step, info.rows = summary.get("steps"), summary.get("rows")
        info.interval_median = as_float(summary.get("interval_median"))
        wallclock = as_float(summary.get("wallclock"))
        if info.created is not None and wallclock:
            info.last_time = info.created + wallclock
        info.extra = {k: raw.get(k) for k in ("git", "env", "hardware", "argv", "cwd", "world_size", "config_file",
                                            L.DROPPED)}
        return info

    def origin(self) -> dict[str, Any]:
        """git, argv, versions and host from run.json (what `read_info` keeps in `extra`, which a listing's cache
        does not hold)."""
        raw = read_json_file(self.path / L.RUN_JSON)
        if not isinstance(raw, dict):
            return {}
        git = raw.get("git") if isinstance(raw.get("git"), dict) else {}
        env = raw.get("env") if isinstance(raw.get("env"), dict) else {}
        facts = {"git.commit": git.get("commit"), "git.dirty": git.get("dirty"), "argv": raw.get("argv"),
                 "python": env.get("python"), "torch": env.get("torch"), "host": raw.get("host")}
        return {k: v for k, v in facts.items() if v is not None}

    _summary: tuple[tuple[int, int], dict[str, Any]] | None = None
    _stated: str | None = None  # run.json's status, as the last `read_info` found it

    def _summary_json(self) -> dict[str, Any]:
        """summary.json, parsed once per version of the file (a listing asks for it twice per run)."""
        path = self.path / L.SUMMARY_JSON
        try:
            st = path.stat()
            version = (st.st_size, st.st_mtime_ns)
            if self._summary is not None and self._summary[0] == version:
                return self._summary[1]
            data = read_json_file(path)
        except (OSError, ValueError):
            return {}
        data = data if isinstance(data, dict) else {}
        self._summary = (version, data)
        return data

    def _standing_summary(self) -> dict[str, Any] | None:
        """summary.json where it speaks for every row: the run ended (the writer's last act is to write it) and
        no row came after it. A run killed outright leaves the one of up to five seconds before its end, and one
        killed in its first seconds leaves none: then the rows decide."""
        stated = self._stated
        if stated is None:
            try:
                raw = read_json_file(self.path / L.RUN_JSON)
            except (OSError, ValueError):
                return None
            stated = raw.get("status") if isinstance(raw, dict) else None
        if stated in (None, "running"):
            return None
        data = self._summary_json()
        if not data or self._summary is None:
            return None
        try:
            st = (self.path / L.METRICS_JSONL).stat()
        except OSError:
            st = None
        # rows that cannot be read (missing, or a FIFO in the file's place) cannot outvote the summary
        rows_written = st.st_mtime_ns if st is not None and stat.S_ISREG(st.st_mode) else 0
        return data if self._summary[0][1] >= rows_written else None

    def own_summary(self) -> dict[str, MetricSummary] | None:
        """The writer's own statistics from summary.json, where they speak for every row (see
        `_standing_summary`); None sends the reader to the rows."""
        summary = self._standing_summary()
        if summary is None:
            return None
        metrics = summary.get("metrics") or {}
        fields = set(MetricSummary.__dataclass_fields__)
        return {metric_column(name): MetricSummary(**{k: v for k, v in decode_metrics(stats).items() if k in fields})
                for name, stats in metrics.items() if isinstance(stats, dict)}

    def goals(self) -> dict[str, Goal]:
        """summary.json `goals` (from `define_metric` and `best=`); runs written before it existed declared
        theirs only through `best_checkpoint`."""
        summary = self._summary_json()
        declared: dict[str, Goal] = {}
        best = summary.get("best_checkpoint")
        mode = L.goal_direction(best.get("mode")) if isinstance(best, dict) else None
        if mode is not None and isinstance(best.get("metric"), str):
            declared[metric_column(best["metric"])] = Goal(mode, DECLARED)
        goals = summary.get("goals")
        for name, value in (goals.items() if isinstance(goals, dict) else ()):
            direction = L.goal_direction(value)
            if direction is not None:
                declared[metric_column(name)] = Goal(direction, DECLARED)
        return declared

    def metrics_data(self) -> MetricColumns:
        """metrics.jsonl through its fast, cached reader; `end` is where `metrics_tail` takes over."""
        from ..reading.metrics_jsonl import load

        return load(self.path / L.METRICS_JSONL).columns()

    def metrics_tail(self, offset: int = 0):
        """Rows appended to metrics.jsonl after `offset` (the end of what `metrics_data` read)."""
        from ..reading.tail import MetricsTail

        return MetricsTail(self.path / L.METRICS_JSONL, offset=offset)

    def config(self) -> dict[str, Any]:
        data = read_yaml_file(self.path / L.CONFIG_YAML)
        return data if isinstance(data, dict) else {}

    def log_path(self) -> Path | None:
        return self.path / L.TRAINING_LOG

    def checkpoints(self) -> list[Checkpoint]:
        """From checkpoints/index.jsonl: deletions applied, missing files dropped, the best one marked.

        The best is judged by the values each index line records (see `ops.best`), by the metric and mode of
        the run's latest `best=` policy; without one, by its main recorded metric in that metric's direction.
        """
        index = self.path / L.CHECKPOINTS_DIR / L.CHECKPOINT_INDEX
        entries: dict[str, Checkpoint] = {}
        flagged = None
        policy: tuple[str, str | None] | None = None
        for rec in _records(index):
            name = str(rec.get("file"))
            if rec.get(L.EVENT) == L.DELETE:
                entries.pop(name, None)
                continue
            path = Path(name) if Path(name).is_absolute() else self.path / name
            metrics = decode_metrics(rec.get("metrics") or {})
            metric = rec.get("best_metric")
            if isinstance(metric, str):
                policy = (metric, L.goal_direction(rec.get("best_mode")))
                value = as_float(rec.get("best_value"))
                if metric not in metrics and value is not None:  # what the writer judged this line by
                    metrics[metric] = value
            entries[name] = Checkpoint(path=path, step=as_int(rec.get("step")), bytes=as_int(rec.get("bytes")),
                                       metrics=metrics, time=as_float(rec.get("time")))
            if rec.get("is_best"):
                flagged = name
        found = [c for c in sorted(entries.values(), key=lambda c: c.step or 0) if c.path.exists()]
        metric, mode = policy if policy is not None else (ranking_metric(found), None)
        note = None
        if metric is not None:
            declared = resolve_goal(self, metric)
            if mode is None:
                mode = declared.direction
            elif declared.source == DECLARED and declared.direction != mode:
                note = f"ranked by {metric} {mode} as the checkpoint index says; the run declares {declared.direction}"
        claimed = entries.get(flagged) if flagged is not None else None
        mark_best(found, metric, mode, claimed=claimed if any(c is claimed for c in found) else None,
                  claimed_by="checkpoints/index.jsonl", note=note)
        return found

    def samples(self) -> list[Sample]:
        out = []
        for rec in _records(self.path / L.SAMPLES_JSONL):
            extra = {k: v for k, v in rec.items() if k not in ("text", "step", "time", "prompt")}
            out.append(Sample(text=str(rec.get("text", "")), step=as_int(rec.get("step")),
                              time=as_float(rec.get("time")), prompt=rec.get("prompt"), extra=extra))
        return out


def _records(path: Path) -> list[dict[str, Any]]:
    """The records of one of the run's small JSONL files; an unreadable file has none."""
    try:
        return read_records(path)
    except OSError:
        return []
