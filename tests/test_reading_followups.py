"""Reading details found by trying the cases as a user: a logged `time`, listings under another time zone,
and runs whose metrics runyard has no name for."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import runyard
from runyard import main_metrics
from tests.conftest import PROJECT, child_env

CASES = Path(__file__).parent / "fixtures" / "cases" / "reading"


def test_a_text_log_keeps_a_metric_it_named_time(tmp_path):
    log = shutil.copy(CASES / "reserved_names" / "textlog" / "train.log", tmp_path / "train.log")
    view = runyard.open_run(log)
    assert {"elapsed_", "time_"} <= set(view.metrics().columns)
    assert view.series("time_")["value"].tolist()[0] == 0.2
    assert view.series("time_")["time"].iloc[0] > 1e9  # the row's own time is still the line's stamp


def test_runs_with_unknown_metric_names_still_show_one():
    assert main_metrics(["grad_norm"]) == ["grad_norm"]
    assert main_metrics(["loss", "value"]) == ["loss", "value"]
    assert main_metrics(["loss", "value"], limit=1) == ["loss"]
    assert main_metrics(["sys/rss_mb", "grad_norm"], limit=2) == ["grad_norm"]


def test_a_listing_read_under_one_time_zone_is_not_reused_under_another(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    (root / "train.log").write_text("2026-06-01 12:00:00 step 1: loss=2.0\n2026-06-01 12:00:01 step 2: loss=1.9\n")
    code = "import json, sys, runyard; print(json.dumps([r.info.created for r in runyard.scan(sys.argv[1])]))"
    created = {}
    for tz in ("Asia/Kolkata", "UTC"):
        out = subprocess.run([sys.executable, "-c", code, str(root)], cwd=PROJECT, check=True, text=True,
                             capture_output=True, env=child_env(TZ=tz, RUNYARD_CACHE_DIR=str(tmp_path / "cache")))
        created[tz] = json.loads(out.stdout)[0]
    assert created["UTC"] - created["Asia/Kolkata"] == 5.5 * 3600
