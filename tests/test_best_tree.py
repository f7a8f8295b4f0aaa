"""The best checkpoints across a tree: every checkpoint of every layout ranked by one metric, by one rule (the
metric's direction, NaN never ranked, ties to the older checkpoint), values as each layout records them, and the
ranking laid out as symlinks that a second run replaces without touching anything else."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest

import runyard
from runyard import BestError, NoCheckpoints, checkpoint_ranking, link_ranking, rank_checkpoints
from runyard.ops.best import LINKS_RECORD

FIX = Path(__file__).parent / "fixtures" / "foreign"
SNAPSHOT_RUNS = Path(__file__).parent / "fixtures" / "snapshot" / "runs"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def _runyard_run(root: Path, weights: Path, name: str, checkpoints: list[tuple[int, dict]],
                 logged: dict[int, dict] | None = None, best: tuple[str, str] | None = None) -> Path:
    """A runyard run whose checkpoints (step, metrics) are files of `weights`, saved in the order given."""
    weights.mkdir(parents=True, exist_ok=True)
    with runyard.init(name, root=root, console=False, system_metrics=False) as run:
        for step, row in sorted((logged or {}).items()):
            run.log(row, step=step)
        for step, metrics in checkpoints:
            path = weights / f"{name.replace('/', '_').replace(chr(10), '_')}_{step}.pt"
            path.write_bytes(b"w" * (100 + step))
            run.add_checkpoint(path, step=step, metrics=metrics, best=best if metrics else None)
    return run.path


def best_tree(tmp_path: Path) -> Path:
    """CS336, ChatGoT and FPN fixtures beside two runyard runs.

    alpha (val/loss declared min by its `best=`): step 100 1.5, 200 1.1, 300 NaN, 400 1.5 (a tie with 100);
    beta, made after alpha: step 50 1.5 (a tie with alpha's older ones, at a lower step), step 60 records no value
    but beta logged val/loss 1.3 at step 60.
    """
    root = tmp_path / "runs"
    root.mkdir()
    for name in ("cs336", "chatgot", "fpn_compression"):
        shutil.copytree(FIX / name, root / name)
    weights = tmp_path / "weights"
    _runyard_run(root, weights, "alpha", [(100, {"val/loss": 1.5, "val/acc": 0.6}),
                                          (200, {"val/loss": 1.1, "val/acc": 0.7}),
                                          (300, {"val/loss": math.nan, "val/acc": 0.2}),
                                          (400, {"val/loss": 1.5, "val/acc": 0.8})], best=("val/loss", "min"))
    _runyard_run(root, weights, "beta", [(50, {"val/loss": 1.5}), (60, {})],
                 logged={50: {"val/loss": 1.5}, 60: {"val/loss": 1.3, "train/loss": 1.0}})
    return root


@pytest.fixture
def tree(tmp_path) -> Path:
    return best_tree(tmp_path)


def _rows(entries) -> list[tuple]:
    return [(e.rank, e.run, e.step, e.value, e.value_source) for e in entries]


def test_every_layout_ranked_by_one_metric_matched_across_formats(tree):
    ranking = checkpoint_ranking(runyard.scan(tree), "val/loss")
    assert ranking.metric == "val/loss" and (ranking.goal.direction, ranking.goal.source) == ("min", "declared")
    assert _rows(ranking.ranked[:10]) == [
        (1, "alpha", 200, 1.1, "checkpoint"),
        (2, "beta", 60, 1.3, "series"),              # beta logged 1.3 at the step of a checkpoint recording none
        (3, "higher_lr", 5000, 1.475, "checkpoint"),  # CS336's val_loss sidecars are val/loss
        (4, "baseline_17m", 4500, 1.4778, "checkpoint"),
        (5, "baseline_17m", 5000, 1.4821, "checkpoint"),
        (6, "higher_lr", 4000, 1.4891, "checkpoint"),
        (7, "higher_lr", 4500, 1.4955, "checkpoint"),
        (8, "alpha", 100, 1.5, "checkpoint"),         # three 1.5s: the older checkpoints first ...
        (9, "alpha", 400, 1.5, "checkpoint"),
        (10, "beta", 50, 1.5, "checkpoint"),          # ... by time, though beta's step is the lowest
    ]
    assert [e.metric for e in ranking.ranked[:3]] == ["val/loss", "val/loss", "val_loss"]
    assert len(ranking.ranked) == 3 + 2 + 20  # alpha's NaN is not ranked
    (nan,) = ranking.unranked
    assert (nan.rank, nan.run, nan.step, nan.reason) == (None, "alpha", 300, "NaN") and math.isnan(nan.value)
    assert ranking.runs == 8 and ranking.checkpoints == 6 + 20 + 6 + 4
    first = ranking.ranked[0]
    assert first.path == tree.parent / "weights" / "alpha_200.pt" and first.bytes == 300
    assert [e.rank for e in ranking.ranked] == list(range(1, 26))


def test_mode_flips_the_ranking_and_says_it_was_given(tree):
    ranking = checkpoint_ranking(runyard.scan(tree), "val_loss", mode="max")
    assert (ranking.goal.direction, ranking.goal.source) == ("max", "given")
    assert _rows(ranking.ranked[:3]) == [(1, "baseline_17m", 500, 3.2452, "checkpoint"),
                                         (2, "higher_lr", 500, 3.2396, "checkpoint"),
                                         (3, "baseline_17m", 1000, 2.5359, "checkpoint")]
    assert [e.run for e in ranking.ranked if e.value == 1.5] == ["alpha", "alpha", "beta"]  # ties: still older first
    assert ranking.unranked[0].reason == "NaN"


def test_top_keeps_the_best_and_leaves_out_the_unranked(tree):
    top = rank_checkpoints(runyard.scan(tree), "val/loss", top=2)
    assert _rows(top) == [(1, "alpha", 200, 1.1, "checkpoint"), (2, "beta", 60, 1.3, "series")]
    every = rank_checkpoints(runyard.scan(tree), "val/loss")
    assert len(every) == 26 and every[-1].rank is None


def test_a_direction_runyard_toml_gives_beats_a_guess(tmp_path):
    root = tmp_path / "runs"
    shutil.copytree(FIX / "cs336", root / "cs336")
    (root / "runyard.toml").write_text('[metrics]\n"val_loss" = "max"\n')
    ranking = checkpoint_ranking(runyard.scan(root), "val_loss")
    assert (ranking.goal.direction, ranking.goal.source) == ("max", "runyard.toml")
    assert ranking.ranked[0].value == 3.2452


def test_fpn_ranks_by_the_loss_in_its_names(tree):
    ranking = checkpoint_ranking(runyard.scan(tree / "fpn_compression"), "loss")
    assert _rows(ranking.ranked) == [
        (1, "run_20241216_143022_lambda_2.50e-04_lr_5.00e-05_bs_4", 18, 0.0969, "checkpoint"),
        (2, "run_20241216_145030_lambda_1.00e-03_lr_5.00e-05_bs_4", 20, 0.1131, "checkpoint")]
    assert {(e.path.name, e.reason) for e in ranking.unranked} == {("best_model.pth", "no value recorded")}
    assert (ranking.goal.direction, ranking.goal.source) == ("min", "guessed")


def test_chatgot_final_checkpoints_take_the_value_logged_at_the_last_step_epoch_ones_none(tree):
    ranking = checkpoint_ranking(runyard.scan(tree / "chatgot"), "Loss/val")
    assert [(e.rank, e.run, e.step, e.value_source, e.path.name) for e in ranking.ranked] == [
        (1, "chatgot_small_char_20250325_091500", 3000, "series", "chatgot_small_char_20250325_091500_final.pt"),
        (2, "chatgot_small_char_20250324_134501", 3000, "series", "chatgot_small_char_20250324_134501_final.pt")]
    assert ranking.ranked[0].value == pytest.approx(1.45655, abs=1e-5)
    assert ranking.ranked[1].value == pytest.approx(1.49479, abs=1e-5)  # as the log says at step 3000
    assert sorted((e.path.name.rsplit("_", 2)[-2:], e.step, e.reason) for e in ranking.unranked) == [
        (["epoch", "1.pt"], None, "no value recorded"), (["epoch", "1.pt"], None, "no value recorded"),
        (["epoch", "2.pt"], None, "no value recorded"), (["epoch", "2.pt"], None, "no value recorded")]


def test_the_default_metric_is_the_main_one_the_checkpoints_record(tree):
    ranking = checkpoint_ranking(runyard.scan(tree), None)
    assert ranking.metric == "val/loss"
    assert ranking.metrics[:3] == ["val/loss", "loss", "val/acc"]  # then by how many runs' checkpoints record it
    assert "Loss/val" in ranking.metrics  # ChatGoT's final checkpoints can be ranked by what its runs log


def test_the_accuracy_of_alpha_is_ranked_highest_first(tree):
    ranking = checkpoint_ranking(runyard.scan(tree), "val-acc")
    assert (ranking.metric, ranking.goal.direction, ranking.goal.source) == ("val/acc", "max", "guessed")
    assert [(e.step, e.value) for e in ranking.ranked] == [(400, 0.8), (200, 0.7), (100, 0.6), (300, 0.2)]
    assert ranking.unranked == []  # beta logs no val/acc: its checkpoints are not in this ranking at all


def test_a_checkpoint_whose_file_is_gone_is_left_out(tree):
    (tree / "cs336/runs/higher_lr/checkpoints/checkpoint_step_5000.pt").unlink()
    (tree.parent / "weights" / "alpha_200.pt").unlink()
    ranking = checkpoint_ranking(runyard.scan(tree), "val/loss")
    assert _rows(ranking.ranked[:3]) == [(1, "beta", 60, 1.3, "series"),
                                         (2, "baseline_17m", 4500, 1.4778, "checkpoint"),
                                         (3, "baseline_17m", 5000, 1.4821, "checkpoint")]
    assert all(e.path.exists() for e in ranking.ranked + ranking.unranked)


def test_a_checkpoint_is_never_opened(tree):
    """A FIFO in place of a checkpoint: opening it would block the ranking for good."""
    fifo = tree / "cs336/runs/higher_lr/checkpoints/checkpoint_step_5000.pt"
    fifo.unlink()
    os.mkfifo(fifo)
    ranking = checkpoint_ranking(runyard.scan(tree), "val/loss")
    assert [(e.run, e.step) for e in ranking.ranked[2:4]] == [("higher_lr", 5000), ("baseline_17m", 4500)]


def test_several_values_logged_at_a_checkpoint_s_step_give_it_none(tmp_path):
    root = tmp_path / "runs"
    folder = _runyard_run(root, tmp_path / "w", "twice", [(5, {})], logged={5: {"val/loss": 2.0}})
    with (folder / "metrics.jsonl").open("a") as out:  # a second row of step 5 with another value
        out.write(json.dumps({"step": 5, "time": 1.0, "val/loss": 3.0}) + "\n")
    ranking = checkpoint_ranking(runyard.scan(root), "val/loss")
    assert ranking.ranked == [] and ranking.unranked[0].reason == "2 values logged at step 5"


def test_errors_say_what_is_wrong_in_one_line(tree):
    records = runyard.scan(tree)
    with pytest.raises(BestError, match=r"no checkpoint records 'val_lss'; did you mean 'val_loss'"):
        checkpoint_ranking(records, "val_lss")
    with pytest.raises(BestError, match="mode 'up': write min or max"):
        checkpoint_ranking(records, "val/loss", mode="up")
    with pytest.raises(NoCheckpoints, match="none of the 4 runs has a checkpoint"):
        checkpoint_ranking(runyard.scan(SNAPSHOT_RUNS), "val/loss")


def test_json_shape(tree):
    data = json.loads(json.dumps(runyard.to_jsonable(checkpoint_ranking(runyard.scan(tree), "val/loss").to_json())))
    assert set(data) == {"metric", "direction", "direction_source", "ranked", "unranked", "runs", "checkpoints",
                         "notes"}
    first = data["ranked"][0]
    assert set(first) == {"rank", "run", "run_id", "run_path", "format", "step", "metric", "value", "value_source",
                          "bytes", "time", "path", "reason"}
    assert (first["rank"], first["run"], first["step"], first["value"], first["format"]) == (1, "alpha", 200, 1.1,
                                                                                           "runyard/1")
    assert data["unranked"][0]["value"] == "nan" and data["unranked"][0]["reason"] == "NaN"
    assert data["notes"] == ["val/loss ← val_loss"]


# ----- links --------------------------------------------------------------------------------------------------


def test_links_by_rank_run_and_step_and_a_rerun_replaces_only_its_own(tree, tmp_path):
    dest = tmp_path / "eval" / "best"
    top = rank_checkpoints(runyard.scan(tree), "val/loss", top=3)
    made = link_ranking(top, dest)
    assert [p.name for p in made] == ["01_alpha_step200.pt", "02_beta_step60.pt", "03_higher_lr_step5000.pt"]
    assert os.readlink(made[0]) == str(tree.parent / "weights" / "alpha_200.pt")
    assert all(os.path.isabs(os.readlink(p)) and p.resolve().is_file() for p in made)
    notes = dest / "notes.txt"
    notes.write_text("mine")
    mine = dest / "mine.pt"
    mine.symlink_to(made[0].resolve())

    again = link_ranking(rank_checkpoints(runyard.scan(tree), "val_loss", mode="max", top=1), dest)
    assert [p.name for p in again] == ["01_baseline_17m_step500.pt"]
    assert sorted(p.name for p in dest.iterdir()) == [LINKS_RECORD, "01_baseline_17m_step500.pt", "mine.pt",
                                                      "notes.txt"]
    assert os.readlink(again[0]).endswith("cs336/runs/baseline_17m/checkpoints/checkpoint_step_500.pt")
    assert notes.read_text() == "mine" and mine.is_symlink()


def test_a_name_taken_by_a_file_or_a_foreign_link_is_refused_and_nothing_changes(tree, tmp_path):
    dest = tmp_path / "best"
    top = rank_checkpoints(runyard.scan(tree), "val/loss", top=2)
    link_ranking(top, dest)
    taken = dest / "02_beta_step60.pt"
    taken.unlink()
    taken.write_text("a regular file")
    with pytest.raises(BestError, match=r"02_beta_step60\.pt is a file runyard did not make"):
        link_ranking(top, dest)
    assert taken.read_text() == "a regular file" and (dest / "01_alpha_step200.pt").is_symlink()
    fresh = tmp_path / "other"
    fresh.mkdir()
    (fresh / "01_alpha_step200.pt").symlink_to("/nowhere")
    with pytest.raises(BestError, match="is a link runyard did not make"):
        link_ranking(top, fresh)
    assert os.readlink(fresh / "01_alpha_step200.pt") == "/nowhere" and not (fresh / LINKS_RECORD).exists()
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(BestError, match="is not a folder"):
        link_ranking(top, not_a_folder)


def test_link_names_are_safe_and_keep_the_suffix(tmp_path):
    root = tmp_path / "runs"
    _runyard_run(root, tmp_path / "w", "a/b\nc d", [(7, {"val/loss": 1.0})])
    (entry,) = rank_checkpoints(runyard.scan(root), "val/loss")
    (made,) = link_ranking([entry], tmp_path / "links")
    assert made.name == "01_a-b-c-d_step7.pt"
