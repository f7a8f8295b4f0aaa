"""The best checkpoint of every layout is judged by the values recorded per checkpoint (index lines, sidecars,
file names), by one rule: the metric's direction, NaN never best, ties to the older; where the run's own summary
or index names another, the recorded values win and the disagreement is noted."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

import runyard
from runyard.model import Checkpoint
from runyard.ops.best import best_checkpoint, mark_best
from tests import resumed_cs336
from tests.test_layouts import FIX


def _ck(step: int | None, value: float | None, name: str | None = None) -> Checkpoint:
    metrics = {} if value is None else {"val/loss": value}
    return Checkpoint(Path(name or f"step_{step}.pt"), step=step, metrics=metrics)


def test_the_rule_nan_never_best_ties_to_the_older_direction_as_given():
    a, b, c, d = _ck(300, 0.5), _ck(100, 0.5), _ck(200, math.nan), _ck(400, None)
    assert best_checkpoint([a, b, c, d], "val/loss", "min") is b  # 0.5 twice: the older, whatever the order
    assert best_checkpoint([c, d], "val/loss", "min") is None
    assert best_checkpoint([_ck(1, -math.inf), _ck(2, 1.0)], "val/loss", "max").step == 2
    assert best_checkpoint([a, _ck(200, 0.7)], "val/loss", "max").step == 200
    assert best_checkpoint([], "val/loss", "min") is None


def test_marking_notes_where_the_run_named_another():
    checkpoints = [_ck(1, 2.0), _ck(2, 1.0), _ck(3, 1.5)]
    best = mark_best(checkpoints, "val/loss", "min", claimed=checkpoints[2], claimed_by="summary.json")
    assert best is checkpoints[1] and [c.best for c in checkpoints] == [False, True, False]
    assert {(c.best_metric, c.best_mode) for c in checkpoints} == {("val/loss", "min")}
    assert best.note == ("summary.json names step 3 (val/loss 1.5) as best; by the value recorded with each "
                         "checkpoint, step 2 (val/loss 1) is (min val/loss)")
    unranked = [_ck(1, None), _ck(2, None)]
    assert mark_best(unranked, "val/loss", "min", claimed=unranked[0]) is unranked[0]  # nothing to judge by
    assert unranked[0].note is None


def test_a_resumed_cs336_run_stars_its_best_checkpoint_not_the_summary_s(tmp_path):
    folder = resumed_cs336.make(tmp_path / "resumed")
    checkpoints = runyard.open_run(folder).checkpoints
    assert [c.step for c in checkpoints] == [2500, 3000, 3500, 4000, 4500, 5000]
    (best,) = [c for c in checkpoints if c.best]
    assert (best.step, best.metrics["val_loss"], best.best_metric, best.best_mode) == (5000, 1.47, "val_loss", "min")
    assert "summary.json names step 2500 (val_loss 1.699)" in best.note
    assert all(c.note is None for c in checkpoints if not c.best)


def test_cs336_fixture_agrees_with_its_summary():
    checkpoints = runyard.open_run(FIX / "cs336/runs/baseline_17m").checkpoints
    assert [(c.step, c.note) for c in checkpoints if c.best] == [(4500, None)]


def test_cs336_direction_comes_from_the_metric(tmp_path):
    folder = resumed_cs336.make(tmp_path / "acc")
    for i, side in enumerate(sorted((folder / "checkpoints").glob("*.json"))):
        side.write_text(json.dumps({"val_acc": [0.5, 0.9, 0.7, 0.9, 0.6, math.nan][i]}))
    (folder / "summary.json").write_text(json.dumps({"best_checkpoint": {"step": 3000, "val_acc": 0.9}}))
    checkpoints = runyard.open_run(folder).checkpoints
    by_step = {c.step: c for c in checkpoints}
    assert [c.step for c in checkpoints if c.best] == [3000] and by_step[3000].best_mode == "max"
    assert by_step[3000].note is None


def test_fpn_stars_the_lowest_loss_in_the_names(tmp_path):
    src = FIX / "fpn_compression/checkpoints/fpn_compression/run_20241216_145030_lambda_1.00e-03_lr_5.00e-05_bs_4"
    folder = tmp_path / src.name
    shutil.copytree(src, folder)
    for old in folder.glob("*.pth"):
        old.unlink()
    for name in ("best_model_epoch_12_loss_0.0950_20241216_160000.pth", "best_model_epoch_20_loss_0.1131_20241216_"
                 "170000.pth", "best_model.pth"):
        (folder / name).write_bytes(b"w")
    checkpoints = runyard.open_run(folder).checkpoints
    (best,) = [c for c in checkpoints if c.best]
    assert (best.step, best.metrics, best.best_metric, best.best_mode) == (12, {"loss": 0.095}, "loss", "min")
    assert "step 20 (loss 0.1131)" in best.note


def test_runyard_ranks_what_its_index_records(tmp_path):
    root = tmp_path / "runs"
    with runyard.init("ck", root=root, console=False, system_metrics=False) as run:
        for step, loss in enumerate([2.0, 1.0, 1.0, math.nan, 1.5]):
            weights = tmp_path / f"w{step}.bin"
            weights.write_bytes(b"w")
            run.add_checkpoint(weights, step=step, metrics={"val/loss": loss}, best=("val/loss", "min"))
    (tmp_path / "w1.bin").unlink()  # the best file removed by hand: the next best holds the mark
    checkpoints = runyard.open_run(run.path).checkpoints
    assert [c.step for c in checkpoints] == [0, 2, 3, 4]
    assert [c.step for c in checkpoints if c.best] == [2]  # a tie with the removed one; NaN never best


def test_runyard_without_a_policy_ranks_by_its_main_metric(tmp_path):
    with runyard.init("plain", root=tmp_path / "runs", console=False, system_metrics=False) as run:
        for step, acc in enumerate([0.5, 0.8, 0.7]):
            weights = tmp_path / f"w{step}.bin"
            weights.write_bytes(b"w")
            run.add_checkpoint(weights, step=step, metrics={"val/acc": acc, "lr": 0.1})
    checkpoints = runyard.open_run(run.path).checkpoints
    assert [(c.step, c.best_metric, c.best_mode) for c in checkpoints if c.best] == [(1, "val/acc", "max")]


def test_runyard_notes_a_mode_that_differs_from_the_declaration(tmp_path):
    with runyard.init("declared", root=tmp_path / "runs", console=False, system_metrics=False) as run:
        run.define_metric("val/margin", goal="max")
        for step, margin in enumerate([0.2, 0.4]):
            weights = tmp_path / f"w{step}.bin"
            weights.write_bytes(b"w")
            run.add_checkpoint(weights, step=step, metrics={"val/margin": margin}, best=("val/margin", "min"))
    checkpoints = runyard.open_run(run.path).checkpoints
    (best,) = [c for c in checkpoints if c.best]
    assert (best.step, best.best_mode) == (0, "min")  # the index records how they were ranked
    assert best.note == "ranked by val/margin min as the checkpoint index says; the run declares max"


@pytest.mark.parametrize("layout", ["runyard", "cs336", "fpn", "tensorboard"])
def test_every_layout_marks_through_the_one_rule(layout):
    text = (Path(runyard.__file__).parent / "layouts" / f"{layout}.py").read_text()
    assert "mark_best(" in text and "best=True" not in text
