"""The bundled demo trains for real: its loss falls and its run folder follows the contract."""

import json
import subprocess
import sys

import pytest

from runyard.writer.run import read_rows
from tests.conftest import PROJECT, child_env, only_run
from tests.contract import check_run_dir

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("config", ["configs/small.yaml", "configs/tiny_fast.py"])
def test_demo_training_loss_falls(tmp_path, config):
    root = tmp_path / "runs"
    subprocess.run([sys.executable, "-m", "demo.train", str(PROJECT / config), "--max_steps=200",
                    "--eval_interval=100", "--sample_interval=100", f"--root={root}"],
                   cwd=PROJECT, env=child_env(), check=True, capture_output=True, timeout=300)
    run_dir = only_run(root)
    check_run_dir(run_dir)
    rows = read_rows(run_dir / "metrics.jsonl")
    val = [r["val/loss"] for r in rows if "val/loss" in r]
    assert len(val) == 3 and val[-1] < val[0] - 1.0
    assert {"train/loss", "lr", "tokens_per_sec"} <= {k for r in rows for k in r}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_checkpoint"]["metric"] == "val/loss"
    assert (run_dir / "samples.jsonl").read_text().count("\n") == 2
