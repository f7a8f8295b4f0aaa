"""`runyard compare`: the table, TSV when piped, --json/--csv/--md, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

import runyard
from runyard.tui.cli import main

FIX = Path(__file__).parent / "fixtures" / "foreign"
CS336 = FIX / "cs336" / "runs"  # baseline_17m and higher_lr, val_loss logged every 500 steps
TB = "chatgot_small_char_20250325_091500"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def mixed(tmp_path) -> Path:
    root = tmp_path / "runs"
    shutil.copytree(FIX / "wandb_offline" / "wandb", root / "wandb")
    shutil.copytree(FIX / "chatgot" / "runs" / TB, root / "tb" / TB)
    with runyard.init("mine", root=root / "exp", console=False, system_metrics=False) as run:
        run.define_metric("val/acc", goal="max")
        for step, (loss, acc) in enumerate([(2.0, 0.1), (float("nan"), 0.5), (1.2, 0.4), (1.5, 0.45)]):
            run.log({"val_loss": loss, "val/acc": acc}, step=step * 100)
    return root


def test_json_has_known_best_last_and_steps(capsys):
    assert main(["compare", "baseline_17m", "higher_lr", "--root", str(CS336), "-m", "val_loss", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"] == [{"name": "val_loss", "direction": "min", "source": "guessed",
                                "leader": str(CS336 / "higher_lr"),
                                "names": {str(CS336 / "baseline_17m"): "val_loss",
                                          str(CS336 / "higher_lr"): "val_loss"}}]
    base, high = data["runs"]
    assert base["name"] == "baseline_17m" and base["steps"] == 5000 and base["duration"] == 1250.0
    assert (base["val_loss.best"], base["val_loss.best_step"], base["val_loss.last"]) == (1.4778, 4500, 1.4821)
    assert (high["val_loss.best"], high["val_loss.best_step"], high["val_loss.last"]) == (1.475, 5000, 1.475)
    assert base["label"] == "baseline_17m" and base["path"] == str(CS336 / "baseline_17m")


def test_csv_and_sort(capsys):
    assert main(["compare", "--root", str(CS336), "-m", "val_loss", "-m", "tokens_per_sec", "--sort",
                 "tokens_per_sec", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["name"] for r in rows] == ["baseline_17m", "higher_lr"]  # higher tokens/s first (guessed max)
    assert rows[0]["tokens_per_sec.best"] == "8782.8" and rows[0]["tokens_per_sec.best_step"] == "150"
    assert rows[1]["val_loss.best"] == "1.475" and rows[1]["val_loss.best_step"] == "5000"
    assert list(rows[0])[:6] == ["name", "label", "status", "duration", "steps", "steps_per_s"]
    assert main(["compare", "--root", str(CS336), "-m", "val_loss", "--sort", "-val_loss", "--csv"]) == 0
    assert [r["name"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))] == ["baseline_17m", "higher_lr"]


def test_markdown(capsys):
    assert main(["compare", "--root", str(CS336), "-m", "val_loss", "--md"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == ("| run | name | status | steps | time | steps/s | val_loss ↓? | val_loss last |")
    assert lines[1].startswith("|---|---|---|---:|")
    assert "| higher_lr | higher_lr | finished | 5000 | 20m50s | 4 | 1.475 @5000 ★ | 1.475 |" in lines
    assert "| baseline_17m | baseline_17m | finished | 5000 | 20m50s | 4 | 1.4778 @4500 | 1.4821 |" in lines
    assert "- ? direction guessed from the name (val_loss): --goal METRIC=min|max sets it" in lines


def test_piped_without_a_format_is_tsv(capsys):
    assert main(["compare", "--root", str(CS336), "-m", "val_loss"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:7] == ["name", "label", "status", "duration", "steps", "steps_per_s",
                                        "val_loss.best"]
    assert lines[1].split("\t")[6:10] == ["1.4778", "4500", "1.4821", "5000"]


def test_table_marks_leader_guess_and_matched_names(mixed, capsys):
    assert main(["compare", "--root", str(mixed), "-m", "val/loss", "-m", "val/acc", "--alias",
                 "val/loss=Loss/val", "-o", "table"]) == 0
    out = capsys.readouterr().out
    assert "val/loss ↓?" in out and "val/acc ↑" in out and "val/acc ↑?" not in out  # declared: no "?"
    assert "matched: val/loss ← val_loss, Loss/val" in out  # W&B's own spelling names it: two of three runs
    mine = next(line for line in out.splitlines() if "mine" in line)
    assert "1.2 @200 ★" in mine and "0.5 @100 ★" in mine and "1.5" in mine
    tb = next(line for line in out.splitlines() if TB[-6:] in line)
    assert "1.4566 @3000" in tb and tb.count(" - ") >= 2  # no val/acc: shown missing
    assert "direction guessed from the name (val/loss)" in out


def test_goal_flips_a_metric_from_the_table(mixed, capsys):
    assert main(["compare", "--root", str(mixed), "-m", "val_loss", "--goal", "val/loss=max", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"][0]["source"] == "override" and data["metrics"][0]["direction"] == "max"
    mine = next(r for r in data["runs"] if r["name"] == "mine")
    assert (mine["val/loss.best"], mine["val/loss.best_step"]) == (2.0, 0)
    assert main(["compare", "--root", str(mixed), "--goal", "val/loss=up"]) == 1
    assert "write it as METRIC=min or METRIC=max" in capsys.readouterr().err


def test_filter_picks_runs_and_nan_stays_nan(mixed, capsys):
    assert main(["compare", "--root", str(mixed), "--filter", "format=runyard/1", "-m", "val_loss", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in data["runs"]] == ["mine"]
    assert data["runs"][0]["val_loss.best"] == 1.2  # the NaN at step 100 is not best


def test_unknown_run_and_metric_are_one_line_and_exit_1(mixed, capsys):
    assert main(["compare", "nope", "--root", str(mixed)]) == 1
    err = capsys.readouterr().err
    assert err == f"runyard: error: no run 'nope' under {mixed}\n"
    assert main(["compare", "mine", "--root", str(mixed), "-m", "val_los"]) == 1
    err = capsys.readouterr().err
    assert err == "runyard: error: no run has metric 'val_los'; did you mean 'val_loss'?\n"
    assert main(["compare", "--root", str(mixed), "--filter", "lr>1"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["compare", "--root", str(mixed), "--sort", "nothing"]) == 1
    assert "no column 'nothing' to sort by" in capsys.readouterr().err


def test_help_lists_compare(capsys):
    assert main(["--help"]) == 0
    assert "compare" in capsys.readouterr().out
