"""A CS336 `ExperimentTracker` run that crashed at step 2500 and was resumed an hour later, as the tool leaves it:
metrics.csv appended by the second life (its `elapsed_time` counting from the restart), and a summary.json
written by the second life alone (its wallclock that life's, its best checkpoint the one it resumed from)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

START = 1_711_290_000.0   # the first life's first row
RESTART = START + 3600.0  # the second life's first row, an hour after the crash
SECONDS_PER_STEP = 0.25
CHECKPOINT_LOSS = {2500: 1.699, 3000: 1.62, 3500: 1.55, 4000: 1.52, 4500: 1.49, 5000: 1.47}
LAST_TIME = RESTART + SECONDS_PER_STEP * 2500


def make(folder: Path) -> Path:
    """Write the run into `folder` and return it."""
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"experiment_name": folder.name, "max_steps": 5000}))
    with open(folder / "metrics.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["step", "wallclock_time", "elapsed_time", "train_loss", "val_loss"])
        for step in range(0, 2501, 50):
            elapsed = SECONDS_PER_STEP * step
            out.writerow([step, START + elapsed, elapsed, 4.0 - step / 2000, ""])
        for step in range(2550, 5001, 50):
            elapsed = SECONDS_PER_STEP * (step - 2500)
            val = CHECKPOINT_LOSS.get(step, "")
            out.writerow([step, RESTART + elapsed, elapsed, 4.0 - step / 2000, val])
    for step, loss in CHECKPOINT_LOSS.items():
        (folder / "checkpoints" / f"checkpoint_step_{step}.pt").write_bytes(b"weights")
        (folder / "checkpoints" / f"checkpoint_step_{step}.json").write_text(json.dumps({"step": step,
                                                                                         "val_loss": loss}))
    (folder / "summary.json").write_text(json.dumps({
        "experiment_name": folder.name, "total_steps": 5000,
        "total_wallclock_time": SECONDS_PER_STEP * 2500,  # the second life's only
        "best_checkpoint": {"step": 2500, "val_loss": 1.699},
    }))
    return folder
