"""`runyard du` and `runyard clean` on the command line: sizes, the plan before anything, one-line refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import runyard
from runyard import parse_duration
from runyard.tui.cli import cli
from runyard.tui.cli.cleaning import human, plan_summary, spoken
from tests.test_cli_reading import on_terminal, widest


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COLUMNS", raising=False)


def invoke(*args: str, columns: int | None = None, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args],
                              env={"COLUMNS": str(columns) if columns else None}, **kwargs)


def tree(root: Path) -> list[Path]:
    """Two finished runs with four and three checkpoints of rising size, ranked by val/loss; their folders."""
    folders = []
    for name, values in (("alpha", [3.0, 2.0, 2.5, 2.7]), ("beta", [1.0, 0.5, 0.7])):
        run = runyard.init(name, root=root, console=False, system_metrics=False)
        for i, value in enumerate(values):
            step = (i + 1) * 100
            run.log({"val/loss": value}, step=step)
            path = run.path / "checkpoints" / f"step_{step}.pt"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(os.urandom(100_000 * (i + 1)))
            run.add_checkpoint(path, step=step, metrics={"val/loss": value}, best=("val/loss", "min"))
        run.finish()
        folders.append(run.path)
    return folders


def test_durations_and_sizes() -> None:
    assert parse_duration("30d") == 30 * 86400
    assert parse_duration("12h") == 12 * 3600
    assert parse_duration("90m") == 5400
    assert parse_duration("2w") == 14 * 86400
    assert parse_duration("1d12h") == parse_duration("1d 12h") == 36 * 3600
    for bad in ("", "30", "5x", "d", "1d foo", "-3d"):
        with pytest.raises(ValueError, match="is not a duration"):
            parse_duration(bad)
    assert [human(n) for n in (0, 512, 4096, 12 * 1024, 340 * 1024**2, int(1.2 * 1024**3))] == [
        "0B", "512B", "4.0K", "12K", "340M", "1.2G"]
    assert spoken(int(3.2 * 1024**3)) == "3.2 GiB"


def test_du_piped_is_tsv_in_exact_bytes_biggest_first(tmp_path: Path) -> None:
    alpha, beta = tree(tmp_path / "runs")
    result = invoke("du", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert lines[0] == ["run", "total", "checkpoints", "logs", "other", "files", "format"]
    assert [row[0] for row in lines[1:]] == [alpha.name, beta.name]
    usage = runyard.path_usage(alpha)
    assert lines[1][1:6] == [str(usage.total), str(usage.checkpoints), str(usage.logs), str(usage.other),
                             str(usage.files)]


def test_du_json_has_the_total(tmp_path: Path) -> None:
    alpha, beta = tree(tmp_path / "runs")
    os.link(alpha / "checkpoints" / "step_400.pt", beta / "shared.pt")
    data = json.loads(invoke("du", tmp_path / "runs", "--json").output)
    assert [r["run"] for r in data["runs"]] == [alpha.name, beta.name]
    shared = os.lstat(beta / "shared.pt").st_blocks * 512
    assert data["total"]["total"] == sum(r["total"] for r in data["runs"]) - shared


def test_du_on_a_terminal_fits_and_says_the_total(tmp_path: Path) -> None:
    tree(tmp_path / "runs")
    text = on_terminal("du", tmp_path / "runs", columns=60)
    assert widest(text) <= 60
    assert "total (hard links once)" in text and "biggest first" in text
    assert "K" in text or "M" in text


def test_clean_without_a_rule_is_one_line(tmp_path: Path) -> None:
    tree(tmp_path / "runs")
    result = invoke("clean", tmp_path / "runs")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "clean needs a rule" in result.output
    result = invoke("clean", tmp_path / "runs", "--older-than", "90")
    assert result.exit_code == 1 and "--older-than: '90' is not a duration" in result.output
    result = invoke("clean", tmp_path / "runs", "--filter", "lr<")
    assert result.exit_code == 1 and result.output.count("\n") == 1


def test_clean_shows_the_plan_and_does_nothing_without_yes(tmp_path: Path) -> None:
    alpha, _ = tree(tmp_path / "runs")
    before = sorted(p for p in (tmp_path / "runs").rglob("*"))
    result = invoke("clean", tmp_path / "runs", "--keep-last", "1", columns=120)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "REMOVE" in out and "KEEP" in out
    assert f"{alpha.name}/checkpoints/step_100.pt" in out and "not among last 1" in out
    assert "best val/loss" in out and "latest" in out
    assert "would free" in out and "(3 checkpoints to the trash)" in out
    assert "nothing done: run again with --yes" in out
    assert sorted(p for p in (tmp_path / "runs").rglob("*")) == before


def test_clean_asks_on_a_terminal_and_no_is_the_default(tmp_path: Path, monkeypatch) -> None:
    import click

    tree(tmp_path / "runs")
    asked = []
    from runyard.tui.cli import cleaning

    monkeypatch.setattr(cleaning, "interactive", lambda: True)
    monkeypatch.setattr(click, "confirm", lambda text, default=None: asked.append((text, default)) or False)
    before = sorted((tmp_path / "runs").rglob("*"))
    invoke("clean", tmp_path / "runs", "--keep-last", "1")
    assert asked == [("Apply this plan?", False)]
    assert sorted((tmp_path / "runs").rglob("*")) == before


def test_clean_json_is_the_plan(tmp_path: Path) -> None:
    alpha, _ = tree(tmp_path / "runs")
    data = json.loads(invoke("clean", tmp_path / "runs", "--keep-best", "1", "--json").output)
    assert data["reclaim"] == sum(a["bytes"] for a in data["actions"]) > 0
    assert {Path(a["path"]).name for a in data["actions"] if Path(a["run"]) == alpha} == {"step_100.pt",
                                                                                         "step_300.pt"}
    assert data["summary"].startswith("would free ")
    assert "results" not in data


def test_plan_summary_words() -> None:
    from runyard import CleanPlan, PlanAction

    plan = CleanPlan(Path("/r"), total=10 * 1024**3)
    assert plan_summary(plan) == "nothing to clean in 10.0 GiB"
    plan.actions = [PlanAction("checkpoint", Path("/r/a/c.pt"), Path("/r/a"), "trash", 2**30, "x"),
                    PlanAction("run", Path("/r/b"), Path("/r/b"), "archive", 2**30, "y")]
    plan.reclaim = 2**30
    assert plan_summary(plan) == "would free 1.0 GiB of 10.0 GiB (1 checkpoint to the trash; 1 run, 1.0 GiB " \
                                 "to the archive)"


def test_clean_yes_applies_and_reports(tmp_path: Path) -> None:
    alpha, beta = tree(tmp_path / "runs")
    result = invoke("clean", tmp_path / "runs", "--keep-last", "1", "--yes", columns=120)
    assert result.exit_code == 0, result.output
    assert f"trashed {alpha.name}/checkpoints/step_100.pt" in result.output
    assert "done: 3 of 3 moved" in result.output and "runyard trash empty" in result.output
    assert sorted(p.name for p in (alpha / "checkpoints").glob("*.pt")) == ["step_200.pt", "step_400.pt"]
    assert sorted(p.name for p in (beta / "checkpoints").glob("*.pt")) == ["step_200.pt", "step_300.pt"]
    listed = invoke("trash", "list", tmp_path / "runs", "--json")
    assert listed.output.count("not among last 1") == 3
    again = invoke("clean", tmp_path / "runs", "--keep-last", "1", "--yes", columns=120)
    assert "nothing to clean" in again.output


def test_clean_json_yes_says_what_was_done(tmp_path: Path) -> None:
    tree(tmp_path / "runs")
    data = json.loads(invoke("clean", tmp_path / "runs", "--keep-best", "1", "--yes", "--json").output)
    assert len(data["results"]) == len(data["actions"]) == 3
    assert all(r["done"] and r["trash_id"] for r in data["results"])


@pytest.mark.parametrize("columns", [80, 100])
def test_the_plan_fits_the_width_and_keeps_action_and_size(tmp_path: Path, columns: int) -> None:
    tree(tmp_path / "runs")
    out = invoke("clean", tmp_path / "runs", "--keep-best", "1", "--keep-last", "1", columns=columns).output
    plan = out.split("kept")[0]
    assert widest(plan) <= columns
    assert "REMOVE" in plan and "size" in plan and "hidden" not in plan
    assert "not among best 1 by" in plan
