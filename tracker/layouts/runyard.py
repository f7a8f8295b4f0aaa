"""runyard/1: the tracker's own run folders (see DESIGN.md for the contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import contract as L
from ..jsonl import as_float, as_int, decode_metrics, read_records
from ..model import DECLARED, Checkpoint, Goal, MetricSummary, RunInfo, Sample
from .base import Detection, MetricColumns, RunSource, metric_column
from .common import read_json_file, read_yaml_file


def detect(directory: Path, names: list[str]) -> Detection | None:
    """A folder with a run.json is a runyard run; its subfolders (checkpoints/) belong to it."""
    if L.RUN_JSON in names:
        return Detection([RunyardSource(directory)], descend=False)
    return None


class RunyardSource(RunSource):
    format = L.FORMAT

    _KEYS = (L.RUN_JSON, L.SUMMARY_JSON, L.CONFIG_YAML, L.METRICS_JSONL)

    def key_files(self) -> list[Path]:
        return [self.path / n for n in self._KEYS]

    def key_paths(self) -> list[str]:
        base = str(self.path)
        return [f"{base}/{n}" for n in self._KEYS]

    def read_info(self) -> RunInfo:
        raw = read_json_file(self.path / L.RUN_JSON)
        if not isinstance(raw, dict):
            raise ValueError("run.json does not hold an object")
        summary = self._summary_json()
        info = RunInfo(
            id=str(raw.get("id") or self.path.name), name=str(raw.get("name") or self.path.name),
            path=self.path, format=str(raw.get("format") or L.FORMAT), status=str(raw.get("status") or "unknown"),
            created=L.parse_iso(raw.get("created")), ended=L.parse_iso(raw.get("ended")),
            heartbeat=L.parse_iso(raw.get("heartbeat")), heartbeat_interval=as_float(raw.get("heartbeat_interval")),
            host=raw.get("host"), pid=raw.get("pid") if isinstance(raw.get("pid"), int) else None,
            user=raw.get("user"), tags=[str(t) for t in raw.get("tags") or []], notes=str(raw.get("notes") or ""),
            restarts=len(raw.get("restarts") or []),
            last_step=summary.get("steps"), rows=summary.get("rows"),
            interval_median=as_float(summary.get("interval_median")),
        )
        wallclock = as_float(summary.get("wallclock"))
        if info.created is not None and wallclock:
            info.last_time = info.created + wallclock
        try:
            info.last_write = (self.path / L.METRICS_JSONL).stat().st_mtime
        except OSError:
            info.last_write = info.heartbeat
        info.extra = {k: raw.get(k) for k in ("git", "env", "hardware", "argv", "cwd", "world_size", "config_file")}
        return info

    _summary: tuple[tuple[int, int], dict[str, Any]] | None = None

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

    def own_summary(self) -> dict[str, MetricSummary]:
        """The writer's own statistics from summary.json (refreshed every few seconds while it runs)."""
        metrics = self._summary_json().get("metrics") or {}
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
        """From checkpoints/index.jsonl: deletions applied, missing files dropped, the best one marked."""
        index = self.path / L.CHECKPOINTS_DIR / L.CHECKPOINT_INDEX
        entries: dict[str, Checkpoint] = {}
        best_file = None
        for rec in _records(index):
            name = str(rec.get("file"))
            if rec.get(L.EVENT) == L.DELETE:
                entries.pop(name, None)
                continue
            path = Path(name) if Path(name).is_absolute() else self.path / name
            metric = rec.get("best_metric")
            entries[name] = Checkpoint(path=path, step=as_int(rec.get("step")), bytes=as_int(rec.get("bytes")),
                                       metrics=decode_metrics(rec.get("metrics") or {}), time=as_float(rec.get("time")),
                                       best_metric=metric if isinstance(metric, str) else None,
                                       best_mode=L.goal_direction(rec.get("best_mode")) if metric else None)
            if rec.get("is_best"):
                best_file = name
        if best_file in entries:
            entries[best_file].best = True
        return [c for c in sorted(entries.values(), key=lambda c: c.step or 0) if c.path.exists()]

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
