"""A checker for the runyard/1 run-folder contract, used by the tracker's tests."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import yaml

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - ")
RUN_KEYS = {"format", "id", "name", "created", "status", "ended", "heartbeat", "host", "pid", "user", "argv",
            "cwd", "git", "env", "hardware", "world_size", "tags", "notes", "restarts"}


def _number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or value in ("nan", "inf", "-inf")


def check_run_dir(path: Path, *, finished: bool = True) -> dict:
    """Assert every file of a run folder follows the contract; return run.json."""
    info = json.loads((path / "run.json").read_text())
    assert set(info) >= RUN_KEYS, RUN_KEYS - set(info)
    assert info["format"] == "runyard/1"
    assert re.fullmatch(r"[a-z0-9]{8}", info["id"])
    assert info["status"] in ("running", "finished", "failed", "interrupted")
    assert datetime.fromisoformat(info["created"]).tzinfo is not None
    if finished:
        assert info["status"] != "running" and datetime.fromisoformat(info["ended"]).tzinfo is not None
    assert isinstance(info["restarts"], list) and isinstance(info["tags"], list)

    config = yaml.safe_load((path / "config.yaml").read_text())
    assert isinstance(config, dict)

    last_time = 0.0
    for line in (path / "metrics.jsonl").read_text().splitlines():
        row = json.loads(line)
        if "_event" in row:
            assert row["_event"] == "resume" and isinstance(row["step"], int)
            continue
        assert isinstance(row["step"], int) and row["step"] >= 0
        assert row["time"] >= last_time, "times must not decrease"
        last_time = row["time"]
        assert all(_number(v) for k, v in row.items() if k not in ("step", "time")), row

    log = (path / "training.log").read_text().splitlines()
    assert LOG_LINE.match(log[0]) and "started" in log[0]
    records = [line for line in log if LOG_LINE.match(line)]
    assert len(records) >= 3, "header lines are records"  # other lines continue a multi-line record
    if finished:
        assert "====" in log[-1] and info["status"] in log[-1]

    summary = json.loads((path / "summary.json").read_text())
    for stats in summary["metrics"].values():
        assert {"first", "last", "min", "max", "mean", "count", "min_step", "max_step"} <= set(stats)
    goals = summary.get("goals", {})
    assert isinstance(goals, dict) and all(isinstance(k, str) and v in ("min", "max") for k, v in goals.items())
    best = summary.get("best_checkpoint")
    if best is not None:
        assert best["mode"] in ("min", "max") and goals.get(best["metric"]) in (None, "min", "max")

    samples = path / "samples.jsonl"
    if samples.exists():
        for line in samples.read_text().splitlines():
            rec = json.loads(line)
            assert isinstance(rec["text"], str) and isinstance(rec["step"], int) and rec["time"] > 0

    index = path / "checkpoints" / "index.jsonl"
    if index.exists():
        for line in index.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("_event") == "delete":
                continue
            assert {"step", "time", "file", "bytes", "metrics"} <= set(rec)
            if "best_metric" in rec:
                assert rec["best_mode"] in ("min", "max") and isinstance(rec["is_best"], bool)
    return info
