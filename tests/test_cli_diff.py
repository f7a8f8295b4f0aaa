"""`runyard diff`: the differing keys of fixture runs, --all, --filter, --json/--csv/--md, TSV when piped, the
table on a terminal (side by side, turned, or in pages), importance, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

import runyard
from runyard.tui.cli import main
from runyard.tui.cli.diffing import render_terminal, short_names, squeeze

FIX = Path(__file__).parent / "fixtures"
WANDB_RUNS = sorted((FIX / "foreign" / "wandb_offline" / "wandb").glob("offline-run-*"))
TB_RUN = FIX / "tensorboard" / "torch_spread" / "run"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "runs"
    configs = {
        "alpha": {"lr": 1e-3, "model": {"n_layer": 2, "n_embd": 64}, "optimizer": "adam"},
        "beta": {"lr": 1e-2, "model": {"n_layer": 2, "n_embd": 64}, "optimizer": "adam"},
        "gamma": {"lr": 1e-3, "model": {"n_layer": 4, "n_embd": 64}, "optimizer": "adam", "dropout": 0.1},
    }
    for name, config in configs.items():
        with runyard.init(name, root=root, config=config, console=False, system_metrics=False) as run:
            for s in range(5):
                run.log({"val/loss": 3.0 - s * 0.1 - config["lr"] * 10}, step=s)
    return root


def run_cli(capsys, *args):
    code = main(["diff", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def ok(capsys, *args):
    code, out, err = run_cli(capsys, *args)
    assert code == 0, err
    return out


def test_piped_output_is_tsv_with_the_differing_keys(root, capsys):
    code, out, err = run_cli(capsys, "alpha", "beta", "gamma", "--root", root)
    assert code == 0 and err == ""
    lines = [line.split("\t") for line in out.splitlines()]
    assert lines[0] == ["section", "key", "differs", "alpha", "beta", "gamma"]
    config = {line[1]: line[3:] for line in lines[1:] if line[0] == "config"}
    assert config == {"lr": ["0.001", "0.01", "0.001"], "model.n_layer": ["2", "2", "4"], "dropout": ["", "", "0.1"]}
    assert all(line[2] == "true" for line in lines[1:])


def test_all_shows_the_keys_that_are_the_same_too(root, capsys):
    out = ok(capsys, "alpha", "beta", "--root", root, "--all")
    rows = {tuple(line.split("\t")[:3]) for line in out.splitlines()[1:]}
    assert ("config", "model.n_embd", "false") in rows and ("config", "optimizer", "false") in rows
    assert ("config", "lr", "true") in rows
    assert any(section == "origin" and key == "python" for section, key, _ in rows)


def test_json_values_by_column_and_missing_left_out(root, capsys):
    out = ok(capsys, "alpha", "gamma", "--root", root, "--json")
    data = json.loads(out)
    assert [r["column"] for r in data["runs"]] == ["alpha", "gamma"]
    assert [r["format"] for r in data["runs"]] == ["runyard/1", "runyard/1"]
    keys = {(k["section"], k["key"]): k for k in data["keys"]}
    assert keys["config", "model.n_layer"]["values"] == {"alpha": 2, "gamma": 4}
    assert keys["config", "dropout"]["values"] == {"gamma": 0.1}  # alpha has no dropout: absent, not null
    assert ("config", "lr") not in keys  # the same in both
    assert data["same"] >= 3


def test_csv_and_markdown(root, capsys):
    out = ok(capsys, "alpha", "beta", "gamma", "--root", root, "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["section", "key", "differs", "alpha", "beta", "gamma"]
    assert ["config", "dropout", "true", "", "", "0.1"] in rows
    out = ok(capsys, "alpha", "beta", "gamma", "--root", root, "--md")
    assert "| key | alpha | beta | gamma |" in out
    assert "| lr | 0.001 | 0.01 | 0.001 |" in out
    assert "| dropout | — | — | 0.1 |" in out
    out = ok(capsys, "alpha", "beta", "--root", root, "--md", "--all")
    assert out.index("**config**") < out.index("**origin**") and "| python |" in out


def test_filter_picks_runs_under_root(root, capsys):
    out = ok(capsys, "--root", root, "--filter", "lr<5e-3")
    assert out.splitlines()[0].split("\t")[3:] == ["alpha", "gamma"]
    out = ok(capsys, "gamma", "beta", "alpha", "--root", root, "--filter", "lr<5e-3", "--json")
    assert [r["name"] for r in json.loads(out)["runs"]] == ["gamma", "alpha"]  # the runs named, as the filter keeps
    out = ok(capsys, "--root", root)  # neither: every run under the root
    assert out.splitlines()[0].split("\t")[3:] == ["alpha", "beta", "gamma"]


def test_unknown_run_is_one_line_and_exit_1(root, capsys):
    code, out, err = run_cli(capsys, "alpha", "nope", "--root", root)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("runyard: error: ") and "nope" in err


def test_one_run_is_nothing_to_compare(root, capsys):
    code, _, err = run_cli(capsys, "alpha", "--root", root)
    assert code == 1 and "nothing to compare" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, "--root", root, "--filter", "lr>5e-3")
    assert code == 1 and "nothing to compare" in err
    code, _, err = run_cli(capsys, "--root", root, "--filter", "lr>1")
    assert code == 1 and "no run" in err
    code, _, err = run_cli(capsys, "alpha", "beta", "--root", root, "--importance", "val/acc")
    assert code == 1 and err == "runyard: error: no run has a metric 'val/acc'\n"


def test_wandb_runs_differ_in_layers_and_learning_rate(capsys):
    out = ok(capsys, *WANDB_RUNS, "--json")
    data = json.loads(out)
    config = [k["key"] for k in data["keys"] if k["section"] == "config"]
    assert config == ["model.num_layers", "training.learning_rate"]
    assert [r["column"] for r in data["runs"]] == ["transformer-training", "lr-ablation-0.001"]


def test_mixed_layouts_side_by_side(root, capsys):
    out = ok(capsys, WANDB_RUNS[0], TB_RUN, root / next(p.name for p in root.iterdir()
                                                                     if p.name.startswith("alpha")), "--json")
    data = json.loads(out)
    assert [r["format"] for r in data["runs"]] == ["wandb", "tensorboard", "runyard/1"]
    keys = {(k["section"], k["key"]): k["values"] for k in data["keys"]}
    assert keys["config", "lr"] == {"run": 0.001, "alpha": 0.001}  # the W&B run has no `lr`
    assert keys["config", "optimizer"] == {"run": "adam", "alpha": "adam"}
    assert keys["origin", "host"]["run"] == "vm" and keys["origin", "python"]["transformer-training"] == "3.11.7"


def test_importance_ranks_the_key_that_drives_the_metric(tmp_path, capsys):
    root = tmp_path / "sweep"
    for i in range(6):
        config = {"lr": 1e-4 * 3 ** i, "seed": (i * 7) % 6}
        with runyard.init(f"s{i}", root=root, config=config, console=False, system_metrics=False) as run:
            run.define_metric("val/loss", goal="min")
            run.log({"val/loss": 1.0 + i}, step=0)
    out = ok(capsys, "--root", root, "--filter", "s", "--importance", "val/loss", "--json")
    ranking = json.loads(out)["importance"]
    assert ranking[0]["key"] == "lr" and ranking[0]["score"] == pytest.approx(1.0)
    assert ranking[0]["better"] == "lower" and ranking[0]["n"] == 6
    out = ok(capsys, "--root", root, "--filter", "s", "--importance", "val/loss")
    assert "key\tkind\tscore" in out


def render(diff_records, width, show_all=False, importance=None, metric=None):
    diff = runyard.config_diff(diff_records)
    rows = diff.all() if show_all else diff.differing()
    rendered = render_terminal(diff, rows, short_names(diff_records), width, len(diff.same()), importance, metric)
    console = Console(width=width or 300, record=True, color_system=None, legacy_windows=False)
    for part in rendered.parts:
        console.print(part)
    return console.export_text()


def test_terminal_table_side_by_side_with_missing_and_origin_group(root):
    records = [r for r in runyard.scan(root)]
    text = render(records, 160)
    header = next(line for line in text.splitlines() if "alpha" in line)
    assert header.index("alpha") < header.index("beta") < header.index("gamma")
    dropout = next(line for line in text.splitlines() if "dropout" in line)
    assert dropout.count("—") == 2 and "0.1" in dropout
    assert "the same in every run: --all shows them" in text
    everything = render(records, 160, show_all=True).splitlines()
    keys = [line.split("│")[1].strip() if "│" in line else "" for line in everything]
    assert keys.index("origin") > keys.index("dropout") and keys.index("python") > keys.index("origin")


def test_too_many_runs_turn_the_table(tmp_path):
    records = [runyard.RunRecord(runyard.RunInfo(id=f"r{i}", name=f"sweep{i:02d}", path=tmp_path / f"r{i}",
                                                 format="runyard/1"), config={"lr": 10.0 ** -i, "seed": i % 3})
               for i in range(30)]
    text = render(records, 80)
    lines = text.splitlines()
    assert any("sweep29" in line for line in lines)  # every run a row
    assert sum("sweep" in line for line in lines) == 30
    assert "one row per run" in text
    assert all(len(line) <= 80 for line in lines)


def test_many_runs_and_many_keys_go_in_pages(tmp_path):
    records = [runyard.RunRecord(runyard.RunInfo(id=f"r{i}", name=f"run{i:02d}", path=tmp_path / f"r{i}",
                                                 format="runyard/1"),
                                 config={f"key_{k}": i * k + 0.5 for k in range(20)}) for i in range(12)]
    text = render(records, 100)
    assert "runs 1–" in text and "of 12" in text
    assert all(len(line) <= 100 for line in text.splitlines())
    for i in range(12):
        assert f"run{i:02d}" in text


def test_long_values_fold_within_their_column(tmp_path):
    long = "python train.py " + " ".join(f"--opt{i}=value{i}" for i in range(12))
    records = [runyard.RunRecord(runyard.RunInfo(id=n, name=n, path=tmp_path / n, format="runyard/1"),
                                 config={"cmd": long + n}) for n in ("a", "b")]
    text = render(records, 100)
    assert all(len(line) <= 100 for line in text.splitlines())
    assert "--opt11=value11a" in text.replace("\n", " ") or "value11a" in text


def test_column_headers_are_short_and_distinct(tmp_path):
    def record(name, rid, path):
        return runyard.RunRecord(runyard.RunInfo(id=rid, name=name, path=tmp_path / path, format="tensorboard"))

    sweep = [record("gpt2_lr1e-3_seed0", "a", "a"), record("gpt2_lr1e-3_seed1", "b", "b")]
    assert short_names(sweep) == ["seed0", "seed1"]
    same = [record("run", "run", "x/run"), record("run", "run", "y/run"), record("solo", "solo", "z/solo")]
    assert short_names(same) == ["x/run", "y/run", "solo"]
    by_id = [record("run", "r1", "p/1"), record("run", "r2", "p/2")]
    assert short_names(by_id) == ["r1", "r2"]  # the shared word "run" left out


def test_squeeze_narrows_the_widest_first_and_never_below_a_floor():
    assert squeeze([10, 20, 30], [5, 5, 5], 100) == [10, 20, 30]  # room for all
    assert squeeze([10, 20, 30], [5, 5, 5], 40) == [10, 15, 15]
    assert squeeze([10, 20, 30], [10, 12, 12], 36) == [10, 13, 13]
    assert squeeze([10, 20, 30], [10, 12, 20], 42) == [10, 12, 20]  # just the floors
    assert squeeze([10, 20, 30], [10, 20, 20], 45) is None  # even the floors do not fit
