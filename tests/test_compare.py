"""Comparing runs: the table of best and last values, directions, leaders, sorting, and choosing the runs."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

import runyard
from runyard import (
    CompareError,
    MetricSummary,
    RunInfo,
    RunRecord,
    TrackerError,
    compare_runs,
    select_runs,
    short_names,
)

FIX = Path(__file__).parent / "fixtures" / "foreign"
NAN = float("nan")
# what the fixture runs logged (read with `runyard show`)
WANDB_A = "offline-run-20261122_145303-l1kbyplv"  # transformer-training
WANDB_B = "offline-run-20261122_145303-lssbftrw"  # lr-ablation-0.001
TB = "chatgot_small_char_20250325_091500"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))


@pytest.fixture
def mixed(tmp_path) -> Path:
    """A runs root holding a W&B offline folder, a TensorBoard run and a runyard run two folders down."""
    root = tmp_path / "runs"
    shutil.copytree(FIX / "wandb_offline" / "wandb", root / "wandb")
    shutil.copytree(FIX / "chatgot" / "runs" / TB, root / "tb" / TB)
    with runyard.init("mine", root=root / "exp" / "nested", console=False, system_metrics=False) as run:
        run.define_metric("score", goal="min")  # a name that would be guessed "max"
        for step, value in enumerate([2.0, NAN, 1.2, 1.5]):
            run.log({"val_loss": value, "score": value * 10}, step=step * 100)
    return root


def _row(table, name):
    return next(r for r in table.rows if r.name == name)


def test_mixed_layouts_are_compared_by_matched_metric(mixed):
    table = compare_runs(select_runs(mixed, None, []))
    assert {r.name for r in table.rows} == {"mine", TB, "transformer-training", "lr-ablation-0.001"}
    # val_loss (runyard) and val/loss (W&B) are one metric by separators; TensorBoard's Loss/val is not, unasked
    assert table.metrics[:2] == ["val/loss", "Loss/val"]
    assert table.match.groups["val/loss"][str(mixed / "wandb" / WANDB_A)] == "val/loss"
    wandb = _row(table, "transformer-training").cells["val/loss"]
    assert (wandb.name, wandb.best, wandb.best_step, wandb.last, wandb.last_step) == (
        "val/loss", 1.535215164170128, 300, 1.536118408550721, 350)
    mine = _row(table, "mine").cells["val/loss"]
    assert (mine.name, mine.best, mine.best_step, mine.last, mine.last_step) == ("val_loss", 1.2, 200, 1.5, 300)
    assert "val/loss" not in _row(table, TB).cells  # missing, not zero
    assert table.leader["val/loss"] == str(_row(table, "mine").key)
    assert _row(table, "mine").steps == 300 and isinstance(_row(table, "mine").steps, int)
    assert any(n.startswith("val/loss ← val_loss") for n in table.notes)


def test_aliases_bring_in_what_case_and_separators_do_not(mixed):
    records = select_runs(mixed, None, [])
    table = compare_runs(records, ["val/loss"], aliases={"val/loss": ["Loss/val"]})
    assert table.metrics == ["val/loss"]
    tb = _row(table, TB).cells["val/loss"]
    assert (tb.name, tb.best, tb.best_step) == ("Loss/val", 1.4565516710281372, 3000)
    assert table.match.matched == [("val/loss", ["val_loss", "Loss/val"])]
    # the same table from runyard.toml, as the screen and the command line get it
    (mixed / "runyard.toml").write_text('[aliases]\n"val/loss" = ["Loss/val"]\n')
    assert compare_runs(select_runs(mixed, None, []), ["val/loss"]).match.groups == table.match.groups


def test_direction_declared_beats_guess_and_an_override_beats_both(mixed):
    records = select_runs(mixed, None, [])
    table = compare_runs(records, ["score", "val_loss"])
    assert table.goals["score"] == runyard.Goal("min", "declared")
    assert table.goals["val/loss"].guessed and table.goals["val/loss"].direction == "min"
    mine = _row(table, "mine")
    assert (mine.cells["score"].best, mine.cells["score"].best_step) == (12.0, 200)
    flipped = compare_runs(records, ["score", "val/loss"], directions={"score": "max", "VAL_LOSS": "maximize"})
    assert flipped.goals["score"] == runyard.Goal("max", "override")
    assert flipped.goals["val/loss"].direction == "max"
    mine = _row(flipped, "mine")
    assert (mine.cells["score"].best, mine.cells["score"].best_step) == (20.0, 0)  # NaN is never best, nor max
    assert flipped.leader["val/loss"] == str(mixed / "wandb" / WANDB_B)  # 4.404 at step 0 is the largest
    with pytest.raises(CompareError, match="write min or max"):
        compare_runs(records, ["score"], directions={"score": "up"})


def test_runyard_toml_direction_is_used_and_shown_as_such(mixed):
    (mixed / "runyard.toml").write_text('[metrics]\n"val/loss" = "max"\n')
    table = compare_runs(select_runs(mixed, None, []), ["val/loss"])
    assert table.goals["val/loss"] == runyard.Goal("max", "runyard.toml")


def _record(name: str, **metrics: MetricSummary) -> RunRecord:
    info = RunInfo(id=name, name=name, path=Path("/runs") / name, format="runyard/1", status="finished",
                   created=1000.0, ended=1100.0, last_step=500)
    return RunRecord(info, summary=dict(metrics))


def _stats(lo, lo_step, hi, hi_step, last, last_step=500, direction=None, source=None) -> MetricSummary:
    return MetricSummary(first=None, last=last, min=lo, max=hi, min_step=lo_step, max_step=hi_step,
                         last_step=last_step, count=10, direction=direction, direction_source=source)


def test_nan_is_never_best_and_a_run_of_nans_leads_nothing():
    records = [_record("all_nan", loss=_stats(None, None, None, None, NAN)),
               _record("some", loss=_stats(0.5, 100, 2.0, 0, NAN)),
               _record("fine", loss=_stats(0.7, 300, 2.1, 0, 0.8))]
    table = compare_runs(records, ["loss"])
    cell = table.rows[0].cells["loss"]
    assert cell.best is None and cell.best_step is None and math.isnan(cell.last)
    assert table.leader["loss"] == "/runs/some"
    assert [r.name for r in table.sorted_by("loss").rows] == ["some", "fine", "all_nan"]
    assert [r.name for r in table.sorted_by("-loss").rows] == ["fine", "some", "all_nan"]  # missing last both ways
    assert [r.name for r in table.sorted_by("loss.last").rows] == ["fine", "all_nan", "some"]
    # a NaN in the summary's min itself (a layout that does not filter) is not best either
    odd = compare_runs([_record("odd", loss=_stats(NAN, 3, NAN, 3, NAN)), _record("ok", loss=_stats(1, 1, 1, 1, 1))])
    assert odd.rows[0].cells["loss"].best is None and odd.leader["loss"] == "/runs/ok"


def test_a_missing_metric_is_no_cell_and_no_record_key():
    records = [_record("a", loss=_stats(0.5, 1, 1, 0, 0.6)), _record("b", acc=_stats(0.1, 0, 0.9, 7, 0.8))]
    table = compare_runs(records, ["loss", "acc"])
    assert "acc" not in table.rows[0].cells and "loss" not in table.rows[1].cells
    first, second = table.to_records()
    assert "acc.best" not in first and first["loss.best"] == 0.5 and first["loss.best_step"] == 1
    assert second["acc.best"] == 0.9 and second["acc.best_step"] == 7  # guessed max from the name
    assert table.leader == {"loss": "/runs/a", "acc": "/runs/b"}
    assert [r.name for r in table.sorted_by("loss").rows] == ["a", "b"]
    assert [r.name for r in table.sorted_by("-loss").rows] == ["a", "b"]
    assert table.columns()[-1] == "path" and "acc.last_step" in table.columns()


def test_ties_keep_the_earlier_run_as_leader():
    a, b = _record("a", loss=_stats(0.5, 1, 1, 0, 0.6)), _record("b", loss=_stats(0.5, 9, 1, 0, 0.5))
    assert compare_runs([a, b], ["loss"]).leader["loss"] == "/runs/a"
    assert compare_runs([b, a], ["loss"]).leader["loss"] == "/runs/b"
    table = compare_runs([a, b], ["loss"], sort="-loss.last")
    assert [r.name for r in table.rows] == ["a", "b"] and table.leader["loss"] == "/runs/a"  # sorting keeps it


def test_sorting_by_any_column():
    records = [_record("b", loss=_stats(0.5, 1, 1, 0, 0.6)), _record("a", loss=_stats(0.2, 4, 1, 0, 0.3)),
               _record("c", loss=_stats(0.9, 2, 1, 0, 0.9))]
    records[0].info.last_step, records[0].info.ended = 900, 1300.0
    table = compare_runs(records, ["loss"])
    assert [r.name for r in table.sorted_by("name").rows] == ["a", "b", "c"]
    assert [r.name for r in table.sorted_by("-name").rows] == ["c", "b", "a"]
    assert [r.name for r in table.sorted_by("steps").rows] == ["b", "a", "c"]  # largest first
    assert [r.name for r in table.sorted_by("steps", descending=False).rows] == ["a", "c", "b"]
    assert [r.name for r in table.sorted_by("duration").rows] == ["b", "a", "c"]
    assert table.rows[0].duration == 300.0 and table.rows[0].steps_per_s == 3.0
    assert [r.name for r in table.sorted_by("steps_per_s").rows] == ["a", "c", "b"]  # 5, 5, 3 steps a second
    assert [r.name for r in table.sorted_by("loss.best_step").rows] == ["b", "c", "a"]
    assert table.sorted_by("Loss").sort == ("loss.best", False)
    assert [r.name for r in compare_runs(records, ["loss"], sort="loss").rows] == ["a", "b", "c"]
    with pytest.raises(CompareError, match="no column 'lr'"):
        table.sorted_by("lr")


def test_sorting_by_a_metric_not_asked_for_shows_it():
    records = [_record("a", loss=_stats(0.5, 1, 1, 0, 0.6), acc=_stats(0.1, 0, 0.5, 3, 0.5)),
               _record("b", loss=_stats(0.2, 1, 1, 0, 0.6), acc=_stats(0.1, 0, 0.7, 3, 0.7))]
    table = compare_runs(records, ["loss"], sort="acc")
    assert table.metrics == ["loss", "acc"] and [r.name for r in table.rows] == ["b", "a"]


def test_unknown_metric_is_one_clear_error():
    records = [_record("a", val_loss=_stats(0.5, 1, 1, 0, 0.6))]
    with pytest.raises(CompareError, match="no run has metric 'val_los'; did you mean 'val_loss'"):
        compare_runs(records, ["val_los"])


def test_a_run_given_twice_is_one_row():
    a = _record("a", loss=_stats(0.5, 1, 1, 0, 0.6))
    assert len(compare_runs([a, a], ["loss"]).rows) == 1


def test_short_names():
    assert short_names(["gpt2_lr1e-3_seed0", "gpt2_lr1e-3_seed1"]) == ["seed0", "seed1"]
    assert short_names(["gpt2_lr1e-3_seed0", "gpt2_lr1e-2_seed0"]) == ["lr1e-3", "lr1e-2"]
    assert short_names(["base", "base_lr2"]) == ["base", "base_lr2"]  # never empty
    assert short_names(["run", "run", "other"]) == ["run", "run#2", "other"]
    assert short_names(["a_b", "a-b"]) == ["a_b", "a-b"]  # shortened alike, so kept whole
    assert short_names(["only_one"]) == ["only_one"]
    assert short_names(["", ""]) == ["?", "?#2"]
    assert short_names(["x/lr=0.1, seed=1", "x/lr=0.1, seed=2"]) == ["seed=1", "seed=2"]


def test_labels_are_short_names_of_the_runs(mixed):
    table = compare_runs(select_runs(mixed, None, []))
    assert {r.label for r in table.rows} == {"mine", TB, "transformer-training", "lr-ablation-0.001"}
    records = [_record("gpt2_seed0", loss=_stats(1, 1, 1, 1, 1)), _record("gpt2_seed1", loss=_stats(1, 1, 1, 1, 1))]
    assert [r.label for r in compare_runs(records).rows] == ["seed0", "seed1"]


def test_select_runs_by_name_id_path_and_filter(mixed):
    mine = next(p for p in (mixed / "exp" / "nested").iterdir())
    by_name = select_runs(mixed, None, ["transformer-training", "mine"])
    assert [r.info.name for r in by_name] == ["transformer-training", "mine"]
    assert [r.info.name for r in select_runs(mixed, None, [str(mine)])] == ["mine"]
    assert [r.info.name for r in select_runs(mixed, None, [f"tb/{TB}"])] == [TB]  # a folder under the root
    assert [r.info.name for r in select_runs(mixed, None, ["lssbf"])] == ["lr-ablation-0.001"]  # id prefix
    assert len(select_runs(mixed, None, ["mine", "mine", str(mine)])) == 1
    # the filter is `ls`'s: it names a metric exactly as the run does
    assert {r.info.name for r in select_runs(mixed, "val/loss.min<1.54", [])} == {"transformer-training"}
    assert {r.info.name for r in select_runs(mixed, "chatgot", [])} == {TB}
    assert [r.info.name for r in select_runs(mixed, "format=wandb", ["mine", "lssbftrw"])] == ["lr-ablation-0.001"]
    with pytest.raises(FileNotFoundError, match="no run 'nope'"):
        select_runs(mixed, None, ["nope"])
    with pytest.raises(TrackerError, match="matches 2 runs"):
        select_runs(mixed, None, ["offline-run"])


def test_select_runs_takes_a_run_outside_the_root(mixed, tmp_path):
    runs = select_runs(tmp_path / "elsewhere", None, [str(FIX / "cs336" / "runs" / "higher_lr")])
    assert [r.info.name for r in runs] == ["higher_lr"] and runs[0].info.status == "finished"
    cell = compare_runs(runs, ["val_loss"]).rows[0].cells["val_loss"]
    assert (cell.best, cell.best_step, cell.last) == (1.475, 5000, 1.475)


def test_no_cap_on_the_number_of_runs():
    records = [_record(f"run{i:03d}", loss=_stats(1 / (i + 1), i, 1, 0, 1)) for i in range(150)]
    table = compare_runs(records, ["loss"])
    assert len(table.rows) == 150 and table.leader["loss"] == "/runs/run149"
