"""`runyard best`: the ranking as a table fitted to the terminal, TSV when piped, JSON; `--link DIR` for an
evaluation script; one-line errors. The tree is tests/test_best_tree.py's: CS336, ChatGoT and FPN fixtures beside
two runyard runs."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

from runyard.ops.best import LINKS_RECORD
from runyard.tui.cli import cli
from runyard.tui.cli.best import BEST_COLUMNS
from tests.test_best_tree import best_tree
from tests.test_cli_reading import ANSI, on_terminal


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture
def tree(tmp_path):
    return best_tree(tmp_path)


def best(*args, columns: int | None = None):
    result = CliRunner().invoke(cli, ["best", *map(str, args)], env={"COLUMNS": str(columns) if columns else None})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_piped_it_is_tsv_of_the_ranked_checkpoints(tree):
    result = best(tree, "-m", "val/loss")
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert tuple(lines[0]) == BEST_COLUMNS
    assert [line[:6] for line in lines[1:4]] == [["1", "alpha", "200", "val/loss", "1.1", "checkpoint"],
                                                 ["2", "beta", "60", "val/loss", "1.3", "series"],
                                                 ["3", "higher_lr", "5000", "val_loss", "1.475", "checkpoint"]]
    assert lines[1][6] == "300" and lines[1][7] == str(tree.parent / "weights" / "alpha_200.pt")
    assert len(lines) == 1 + 25  # the NaN is not a row of the ranking


def test_the_table_fits_the_terminal_and_says_what_is_not_ranked(tree):
    result = best(tree, "-m", "Loss/val", "-o", "table", columns=80)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), result.output
    assert lines[0].startswith("checkpoints by Loss/val: 2 ranked of 36 checkpoints in 8 runs under")
    rows = [line for line in lines if line.startswith("│")]
    cells = [[c.strip() for c in row.strip("│").split("│")] for row in rows]
    assert [c[:4] for c in cells] == [["1", "chatgot_small_char_20250325_091500", "3000", "1.4566*"],
                                      ["2", "chatgot_small_char_20250324_134501", "3000", "1.4948*"],
                                      ["-", "chatgot_small_char_20250324_134501", "ep 1", "no value"],
                                      ["-", "chatgot_small_char_20250324_134501", "ep 2", "no value"],
                                      ["-", "chatgot_small_char_20250325_091500", "ep 1", "no value"],
                                      ["-", "chatgot_small_char_20250325_091500", "ep 2", "no value"]]
    text = " ".join(lines)
    assert "* logged by the run at the checkpoint's step" in text and "not ranked: 4 no value recorded" in text
    assert "↓? direction guessed from the name: --mode min|max sets it" in text


def test_top_and_mode(tree):
    result = best(tree, "-m", "val_loss", "--mode", "max", "--top", "2", "-o", "table", columns=120)
    assert result.exit_code == 0, result.output
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in result.output.splitlines()
            if line.startswith("│")]
    assert [r[:4] for r in rows] == [["1", "baseline_17m", "500", "3.2452"], ["2", "higher_lr", "500", "3.2396"]]
    assert "val/loss ↑" in result.output and "23 more ranked below these (--top)" in result.output
    assert "not ranked: 1 NaN" in result.output


def test_json_is_the_whole_ranking(tree):
    result = best(tree, "--json", "--top", "1")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["metric"], data["direction"], data["direction_source"]) == ("val/loss", "min", "declared")
    (first,) = data["ranked"]
    assert (first["rank"], first["run"], first["step"], first["value"], first["bytes"]) == (1, "alpha", 200, 1.1, 300)
    assert [(u["run"], u["step"], u["reason"]) for u in data["unranked"]] == [("alpha", 300, "NaN")]
    assert data["runs"] == 8 and data["checkpoints"] == 36


def test_filter_keeps_the_runs_it_matches(tree):
    result = best(tree, "-m", "val/loss", "--filter", "format=cs336", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {r["run"] for r in data["ranked"]} == {"baseline_17m", "higher_lr"} and data["runs"] == 2
    assert data["ranked"][0]["value"] == 1.475


def test_link_makes_ranked_symlinks_and_a_rerun_replaces_them(tree, tmp_path):
    dest = tmp_path / "eval"
    result = best(tree, "-m", "val/loss", "--top", "3", "--link", dest)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(dest)) == [LINKS_RECORD, "01_alpha_step200.pt", "02_beta_step60.pt",
                                        "03_higher_lr_step5000.pt"]
    assert os.readlink(dest / "03_higher_lr_step5000.pt") == str(
        tree / "cs336/runs/higher_lr/checkpoints/checkpoint_step_5000.pt")
    result = best(tree, "-m", "loss", "--link", dest)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(dest)) == [LINKS_RECORD,
                                        "01_run_20241216_143022_lambda_2.50e-04_lr_5.00e-05_bs_4_step18.pth",
                                        "02_run_20241216_145030_lambda_1.00e-03_lr_5.00e-05_bs_4_step20.pth"]
    (dest / "01_alpha_step200.pt").write_text("my notes")
    result = best(tree, "-m", "val/loss", "--top", "1", "--link", dest)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"runyard: error: {dest / '01_alpha_step200.pt'} is a file runyard did not make: it is left as it is, "
        "and no link was made"]
    assert (dest / "01_alpha_step200.pt").read_text() == "my notes"


@pytest.mark.parametrize(("args", "message"), [
    (["-m", "val_lss"], "no checkpoint records 'val_lss'; did you mean 'val_loss'"),
    (["-m", "val/loss", "--filter", "lr<"], "filter"),
    (["-m", "val/loss", "--filter", "nothing-matches-this"], "no run under"),
])
def test_errors_are_one_line(tree, args, message):
    result = best(tree, *args)
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith("runyard: error: ") and message in line


def test_no_checkpoints_and_no_folder(tmp_path):
    from tests.test_best_tree import SNAPSHOT_RUNS

    result = best(SNAPSHOT_RUNS)
    assert result.exit_code == 1
    assert result.output.strip() == (f"runyard: error: no checkpoints under {SNAPSHOT_RUNS} (4 runs, none with a "
                                     "checkpoint file there)")
    result = best(tmp_path / "nowhere")
    assert result.exit_code == 1 and result.output == f"runyard: error: no such folder: {tmp_path / 'nowhere'}\n"


def test_on_a_terminal_80_columns(tree):
    out = ANSI.sub("", on_terminal("best", str(tree), "--top", "5", columns=80))
    lines = out.splitlines()
    assert all(cell_len(line) <= 80 for line in lines), out
    assert any("│  1 │ alpha" in line or "│ 1 │ alpha" in line for line in lines), out
    assert "Traceback" not in out
