"""The non-interactive command line: ls, show, tail, plot, their --json, and one-line errors."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runyard
from runyard.tui.cli import main
from tests.conftest import PROJECT, child_env

FIX = Path(__file__).parent / "fixtures" / "foreign"


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "runs"
    for name, lr in (("alpha", 1e-3), ("beta", 1e-2)):
        with runyard.init(name, root=root, config={"lr": lr}, tags=[name[0]], console=False,
                          system_metrics=False) as run:
            for s in range(20):
                run.log({"train/loss": 3 - s * 0.1 * (1 + lr * 100), "val/loss": 3.2 - s * 0.1}, step=s)
            run.logger.info("done with [bold red]x[/] and \x1b[31mred\x1b[0m \x1b]0;title\x07")
    return root


def test_ls_table_and_json(root, capsys):
    assert main(["ls", str(root)]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "beta" in out and "runyard/1" in out and "val/loss" in out
    assert main(["ls", str(root), "--json", "--filter", "lr>1e-3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["info"]["name"] for r in data] == ["beta"]
    assert data[0]["summary"]["val/loss"]["min"] == pytest.approx(1.3)
    assert main(["ls", str(root), "--json", "--sort", "-name"]) == 0
    assert [r["info"]["name"] for r in json.loads(capsys.readouterr().out)] == ["beta", "alpha"]


def test_ls_of_foreign_history(capsys):
    assert main(["ls", str(FIX), "--json"]) == 0
    formats = sorted({r["info"]["format"] for r in json.loads(capsys.readouterr().out)})
    assert formats == ["cs336", "fpn", "nanogpt", "tensorboard", "textlog", "wandb"]


def test_show_by_name_and_json(root, capsys):
    assert main(["show", "alpha", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "alpha" in out and "lr" in out and "summary" in out
    assert main(["show", "beta", "--root", str(root), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"] == {"lr": 0.01} and data["summary"]["train/loss"]["count"] == 20


def test_tail_strips_escapes_and_keeps_markup_literal(root, capsys):
    assert main(["tail", "alpha", "--root", str(root), "-n", "5"]) == 0
    out = capsys.readouterr().out
    assert "[bold red]x[/]" in out and "\x1b" not in out and "red" in out and "title" not in out


def test_tail_follow_prints_new_lines(root):
    run_dir = next(p for p in root.iterdir() if p.name.startswith("alpha"))
    proc = subprocess.Popen([sys.executable, "-m", "runyard.tui.cli", "tail", str(run_dir), "-f", "-n", "0"],
                            cwd=PROJECT,
                            env=child_env(), stdout=subprocess.PIPE, text=True)
    try:
        # `tail -f` starts at the end of the file whenever its interpreter is up (seconds on a loaded machine):
        # keep appending until a line comes through, so the test does not race the start-up.
        deadline = time.monotonic() + 30
        line = ""
        while not line and time.monotonic() < deadline:
            with open(run_dir / "training.log", "a") as fh:
                fh.write("2026-01-01 00:00:00,000 - INFO - appended later\n")
            if select.select([proc.stdout], [], [], 0.5)[0]:
                line = proc.stdout.readline()
        assert line.strip().endswith("appended later")
    finally:
        proc.terminate()
        proc.wait()


def test_plot_draws_and_json(root, capsys):
    assert main(["plot", "alpha", "beta", "--root", str(root), "-m", "train/loss", "--width", "60",
                 "--height", "15"]) == 0
    out = capsys.readouterr().out
    assert "alpha:train/loss" in out and len(out.splitlines()) >= 15
    assert main(["plot", "alpha", "--root", str(root), "--x", "relative", "--smooth", "0.6", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["x"] == "relative" and data["series"][0]["metric"] == "val/loss"


@pytest.mark.parametrize("argv, message", [
    (["show", "nosuch", "--root", "RUNS"], "no run 'nosuch'"),
    (["ls", "/no/such/dir"], "no such folder"),
    (["plot", "alpha", "--root", "RUNS", "-m", "nope"], "no run here has the metric nope"),
    (["plot", "alpha", "--root", "RUNS", "--smooth", "1.5"], "--smooth"),
    (["ls", "RUNS", "--filter", "lr<"], "no value"),
    (["show", "EMPTY"], "not a run folder"),
])
def test_errors_are_one_line(root, tmp_path, capsys, argv, message):
    (tmp_path / "empty").mkdir()
    argv = [str(root) if a == "RUNS" else str(tmp_path / "empty") if a == "EMPTY" else a for a in argv]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("runyard: error:") and message in err and "\n" not in err


def test_console_script_runs(root):
    out = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "ls", str(root)], cwd=PROJECT, env=child_env(),
                         capture_output=True, text=True, check=True).stdout
    assert "alpha" in out
