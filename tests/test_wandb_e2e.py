"""End to end in a real terminal: a W&B offline run opened in the app shows its curves.

The fixture runs (tests/fixtures/foreign/wandb_offline, 400 steps each, written by wandb itself) are copied to a
temporary folder; tmux runs `runyard RUN_DIR` and `runyard WANDB_DIR` as a user would, with an empty cache.
The screen is read with the benchmark's readers (bench/bench_leet.py), tested on their own on saved captures.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import pytest

from bench.bench_leet import runyard_first_curve, runyard_last_step
from tests import test_e2e_tmux
from tests.test_e2e_tmux import STARTUP, new_session, screen, title, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
pytest.importorskip("wandb", reason="reading W&B offline runs needs the wandb package")
sock, app_env = test_e2e_tmux.sock, test_e2e_tmux.app_env

FIXTURE = Path(__file__).parent / "fixtures" / "foreign" / "wandb_offline" / "wandb"
RUN = "offline-run-20261122_145303-l1kbyplv"  # transformer-training: steps 0..399, val/loss and train/loss


@pytest.fixture
def wandb_dir(tmp_path: Path) -> Path:
    copy = tmp_path / "project" / "wandb"
    shutil.copytree(FIXTURE, copy)
    return copy


def test_a_wandb_run_opened_directly_shows_its_curve(tmp_path: Path, sock: str, app_env: dict[str, str],
                                                     wandb_dir: Path) -> None:
    """`runyard wandb/offline-run-...`: the run screen of the finished run, its last step and a drawn curve."""
    new_session(sock, app_env, tmp_path / "tmux.conf",
                shlex.join([sys.executable, "-m", "runyard.tui.cli", str(wandb_dir / RUN)]))
    drawn, _, lines = wait_for(sock, lambda ls: runyard_first_curve(ls) and runyard_last_step(ls) == 399, STARTUP)
    assert drawn, f"the run screen should show step 399 and a curve:\n{screen(lines)}"
    assert title(lines).split()[:2] == ["transformer-training", "finished"], screen(lines)
    chart = "\n".join(lines)
    assert "val/loss" in chart and "train/loss" in chart, f"the chart's legend names its metrics:\n{screen(lines)}"


def test_the_wandb_folder_lists_both_runs(tmp_path: Path, sock: str, app_env: dict[str, str],
                                          wandb_dir: Path) -> None:
    """`runyard wandb`: the runs table lists the folder's two offline runs by their W&B names."""
    new_session(sock, app_env, tmp_path / "tmux.conf",
                shlex.join([sys.executable, "-m", "runyard.tui.cli", str(wandb_dir)]))
    names = ("transformer-training", "lr-ablation-0.001")
    listed, _, lines = wait_for(sock, lambda ls: all(any(n in line for line in ls) for n in names)
                                and "2 runs" in ls[0], STARTUP)
    assert listed, f"the runs table should list both runs:\n{screen(lines)}"
