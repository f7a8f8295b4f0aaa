"""A metric's direction is data: declared by the writer, taken from W&B's metric definitions or the user's
runyard.toml, and only last guessed from the name (and then marked as guessed). Every reader and face that shows
a best value follows it, and it survives the scan cache."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard import Goal, best_of, compile_filter, direction, open_run, scan, sort_records
from runyard.errors import RunError
from runyard.model import DECLARED, GUESSED, USER, WANDB, MetricSummary
from runyard.reading import scanner
from runyard.reading.goals import UserGoals, goal_for, user_goals
from runyard.writer.start import NullRun
from tests.contract import check_run_dir
from tests.test_layout_wandb import exit_record, history_record, run_record, write_run

# Metrics whose names mislead the guess: "margin" reads as lower-is-better, "acc_gap" as higher-is-better.
MARGIN, GAP = "val/margin", "val/acc_gap"


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache and a user config folder of the test's own (no one's real runyard.toml leaks in)."""
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "runyard"


def toml(folder: Path, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "runyard.toml"
    path.write_text(textwrap.dedent(text))
    os.utime(path, ns=(path.stat().st_mtime_ns, path.stat().st_mtime_ns + 1_000_000))  # a new version for sure


def logged_run(root: Path, declare: bool = True, name: str = "dir") -> Path:
    with runyard.init(name, root=root, console=False, system_metrics=False) as run:
        if declare:
            run.define_metric(MARGIN, goal="max")
            run.define_metric(GAP, goal="minimize")
        for step, (margin, gap, loss) in enumerate([(0.1, 0.5, 3.0), (0.4, 0.2, 2.0), (0.3, 0.3, 2.5)]):
            run.log({MARGIN: margin, GAP: gap, "train/loss": loss, "val/acc": 1 - loss / 4}, step=step)
    return run.path


# ----- the writer declares ---------------------------------------------------------------------------------

def test_define_metric_is_written_and_read_back(tmp_path):
    path = logged_run(tmp_path / "runs")
    check_run_dir(path)
    summary_json = json.loads((path / "summary.json").read_text())
    assert summary_json["goals"] == {MARGIN: "max", GAP: "min"}
    summary = open_run(path).summary
    assert summary[MARGIN].goal == Goal("max", DECLARED) and not summary[MARGIN].goal.guessed
    assert summary[GAP].goal == Goal("min", DECLARED)
    assert summary["train/loss"].goal == Goal("min", GUESSED) and summary["train/loss"].goal.guessed
    assert summary["val/acc"].goal == Goal("max", GUESSED)
    assert best_of(summary, MARGIN) == 0.4 and best_of(summary, GAP) == 0.2


def test_define_metric_checks_its_arguments_and_the_run(tmp_path):
    run = runyard.init("args", root=tmp_path / "runs", console=False, system_metrics=False)
    with pytest.raises(ValueError, match="'min' or 'max'"):
        run.define_metric("val/acc", goal="up")
    with pytest.raises(ValueError, match="reserved"):
        run.define_metric("step", goal="max")
    run.define_metric("later", goal="MAX")
    assert run.goals == {"later": "max"}
    run.finish()
    with pytest.raises(RunError, match="has ended"):
        run.define_metric("val/acc", goal="max")
    null = NullRun({})
    null.define_metric("val/acc", goal="max")
    assert null.goals == {}


def test_checkpoint_best_declares_and_follows_the_declared_goal(tmp_path):
    root = tmp_path / "runs"
    with runyard.init("best", root=root, console=False, system_metrics=False) as run:
        run.define_metric(MARGIN, goal="max")
        weights = tmp_path / "w.bin"
        weights.write_bytes(b"w")
        run.log({MARGIN: 0.1, "val/loss": 2.0}, step=1)
        run.add_checkpoint(weights, step=1, metrics={MARGIN: 0.1, "val/loss": 2.0}, best=MARGIN)
        run.add_checkpoint(weights, step=2, metrics={MARGIN: 0.5, "val/loss": 1.0}, best=MARGIN)
        run.add_checkpoint(weights, step=3, metrics={MARGIN: 0.3, "val/loss": 0.5}, best=("val/loss", "min"))
        with pytest.raises(RunError, match="define_metric"):
            run.add_checkpoint(weights, step=4, best="undeclared")
        run.add_checkpoint(weights, step=5, metrics={MARGIN: 0.2}, best=(MARGIN, "min"))  # against its declaration
    check_run_dir(run.path)
    assert run.goals == {MARGIN: "max", "val/loss": "min"}
    assert "was declared 'max'" in (run.path / "training.log").read_text()
    checkpoints = open_run(run.path).checkpoints
    assert (checkpoints[-1].best_metric, checkpoints[-1].best_mode) == (MARGIN, "min")
    view = open_run(run.path)
    assert view.goal(MARGIN) == Goal("max", DECLARED) and view.goal("val/loss") == Goal("min", DECLARED)


def test_checkpoint_model_keeps_the_metric_and_mode_it_was_ranked_by(tmp_path):
    root = tmp_path / "runs"
    with runyard.init("ckpt", root=root, console=False, system_metrics=False) as run:
        for step, acc in enumerate([0.5, 0.7, 0.6]):
            weights = tmp_path / f"w{step}.bin"
            weights.write_bytes(b"w")
            run.add_checkpoint(weights, step=step, metrics={"val/acc": acc}, best=("val/acc", "max"))
    checkpoints = open_run(run.path).checkpoints
    assert [(c.step, c.best, c.best_metric, c.best_mode) for c in checkpoints] == \
        [(0, False, "val/acc", "max"), (1, True, "val/acc", "max"), (2, False, "val/acc", "max")]


def test_declared_goals_survive_a_resume(tmp_path):
    root = tmp_path / "runs"
    path = logged_run(root)
    with runyard.init(resume=path, root=root, console=False, system_metrics=False) as again:
        assert again.goals == {MARGIN: "max", GAP: "min"}
        again.log({MARGIN: 0.9}, step=3)
    assert json.loads((path / "summary.json").read_text())["goals"] == {MARGIN: "max", GAP: "min"}


def test_runs_written_before_goals_existed_declare_through_their_best_checkpoint(tmp_path):
    path = logged_run(tmp_path / "runs", declare=False)
    summary = json.loads((path / "summary.json").read_text())
    del summary["goals"]
    summary["best_checkpoint"] = {"file": "x.pt", "step": 1, "metric": MARGIN, "mode": "max", "value": 0.4}
    (path / "summary.json").write_text(json.dumps(summary))
    assert open_run(path).summary[MARGIN].goal == Goal("max", DECLARED)
    assert open_run(path).summary[GAP].goal == Goal("max", GUESSED)


# ----- W&B metric definitions ------------------------------------------------------------------------------

def metric_record(pb: Any, name: str = "", glob: str = "", summary: tuple[str, ...] = (), goal: int = 0) -> Any:
    """A metric record as wandb 0.31's `run.define_metric(name, summary=...)` writes it."""
    record = pb.Record()
    if name:
        record.metric.name = name
    if glob:
        record.metric.glob_name = glob
    record.metric.options.defined = True
    for kind in summary:
        setattr(record.metric.summary, kind, True)
    record.metric.goal = goal
    return record


def wandb_run(tmp_path: Path, pb: Any) -> Path:
    values = {MARGIN: 0.1, GAP: 0.5, "train/loss": 3.0, "train/acc": 0.2, "both": 1, "plain": 2, "val/acc": 0.3}
    records = [run_record(pb, run_id="goals1", display_name="goals"),
               metric_record(pb, name=MARGIN, summary=("max",)),
               metric_record(pb, glob="train/*", summary=("min",)),
               metric_record(pb, name="both", summary=("min", "max")),
               metric_record(pb, name="plain", summary=("last",)),
               metric_record(pb, name=GAP, summary=("best",), goal=pb.MetricRecord.GOAL_MINIMIZE),
               history_record(pb, 0, values), history_record(pb, 1, {**values, MARGIN: 0.4}), exit_record(pb, 0)]
    return write_run(tmp_path / "runs", records, run_id="goals1")


def test_wandb_metric_definitions_give_directions(tmp_path):
    pb = pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb is not installed")
    folder = wandb_run(tmp_path, pb)
    view = open_run(folder)
    assert view.source.goals() == {MARGIN: Goal("max", WANDB), GAP: Goal("min", WANDB),
                                   "train/loss": Goal("min", WANDB), "train/acc": Goal("min", WANDB)}
    summary = view.summary
    assert summary[MARGIN].goal == Goal("max", WANDB) and best_of(summary, MARGIN) == 0.4
    assert summary["train/acc"].goal == Goal("min", WANDB)  # the pattern says so, whatever the name suggests
    assert summary["both"].goal.guessed and summary["plain"].goal.guessed and summary["val/acc"].goal.guessed


# ----- the user's runyard.toml -------------------------------------------------------------------------------

def test_runyard_toml_in_the_root_and_the_user_folder(tmp_path, private_config):
    root = tmp_path / "runs"
    logged_run(root, declare=False)
    toml(root, """
        [metrics]
        "val/margin" = "max"
        "*gap*" = "min"
    """)
    toml(private_config, """
        [metrics]
        "val/margin" = "min"
        "train/loss" = "max"
        "val/acc" = "sideways"
    """)
    (record,) = scan(root)
    assert record.summary[MARGIN].goal == Goal("max", USER)  # the runs root's file comes first
    assert record.summary[GAP].goal == Goal("min", USER)
    assert record.summary["train/loss"].goal == Goal("max", USER)
    assert record.summary["val/acc"].goal == Goal("max", GUESSED)
    assert any("sideways" in p for p in user_goals(root).problems)
    view = runyard.find_run(str(record.info.path), root)
    assert view.direction("train/loss") == "max" and view.summary[MARGIN].goal == Goal("max", USER)
    assert open_run(record.info.path).goal(MARGIN) == Goal("min", USER)  # opened alone: only the user's file


def test_precedence_declared_over_wandb_over_toml_over_guess():
    user = UserGoals({"a": "max", "b": "max", "c": "max"})
    own = {"a": Goal("min", DECLARED), "b": Goal("min", WANDB)}
    assert goal_for("a", own, user) == Goal("min", DECLARED)
    assert goal_for("b", own, user) == Goal("min", WANDB)
    assert goal_for("c", own, user) == Goal("max", USER)
    assert goal_for("d/loss", own, user) == Goal("min", GUESSED)
    assert goal_for("d/reward", {}, UserGoals()) == Goal("max", GUESSED)


def test_precedence_end_to_end(tmp_path):
    root = tmp_path / "runs"
    logged_run(root)
    toml(root, """
        [metrics]
        "val/margin" = "min"
        "val/acc_gap" = "max"
        "train/loss" = "max"
    """)
    pb = pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb is not installed")
    wandb_run(tmp_path, pb)
    by_format = {r.info.format: r for r in scan(root)}
    declared, from_wandb = by_format["runyard/1"], by_format["wandb"]
    assert declared.summary[MARGIN].goal == Goal("max", DECLARED)
    assert declared.summary["train/loss"].goal == Goal("max", USER)
    assert from_wandb.summary[MARGIN].goal == Goal("max", WANDB)
    assert from_wandb.summary["train/loss"].goal == Goal("min", WANDB)
    assert from_wandb.summary["val/acc"].goal == Goal("max", GUESSED)


# ----- the scan cache ------------------------------------------------------------------------------------

def test_directions_round_trip_through_the_scan_cache(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    logged_run(root)
    first = {n: s.goal for n, s in scan(root)[0].summary.items()}
    cached = json.loads(next((tmp_path / "cache" / "scan").glob("*.json")).read_bytes())
    (entry,) = cached["runs"].values()
    assert entry["summary"][MARGIN]["direction"] == "max" and entry["summary"][MARGIN]["direction_source"] == DECLARED

    def no_reading(source):
        raise AssertionError("read instead of taken from the cache")

    monkeypatch.setattr(scanner, "read_record", no_reading)
    assert {n: s.goal for n, s in scan(root)[0].summary.items()} == first
    toml(root, """
        [metrics]
        "val/margin" = "min"
        "train/loss" = "max"
    """)
    again = scan(root)[0].summary  # still from the cache: the run did not change, runyard.toml did
    assert again[MARGIN].goal == Goal("max", DECLARED) and again["train/loss"].goal == Goal("max", USER)
    assert again["val/acc"].goal == Goal("max", GUESSED)


# ----- what the faces call -------------------------------------------------------------------------------

def test_best_of_direction_and_filters_follow_the_data(tmp_path):
    root = tmp_path / "runs"
    declared_path = logged_run(root, name="declared")
    logged_run(root, declare=False, name="guessed")
    records = {r.info.name: r for r in scan(root)}
    declared, guessed = records["declared"], records["guessed"]
    assert best_of(declared.summary, MARGIN) == 0.4 and best_of(guessed.summary, MARGIN) == 0.1
    assert direction(MARGIN) == "min"  # the name alone
    assert direction(MARGIN, declared.summary) == direction(MARGIN, declared) == "max"
    assert direction(MARGIN, declared.open()) == direction(MARGIN, open_run(declared_path)) == "max"
    assert direction(MARGIN, {MARGIN: MetricSummary()}) == "min"
    assert declared.goal("val/not_yet") == Goal("min", GUESSED)
    keep = compile_filter("val/margin.best>0.3")
    assert [r.info.name for r in records.values() if keep(r)] == ["declared"]
    assert [r.info.name for r in sort_records(list(records.values()), "-val/margin.best")] == ["declared", "guessed"]


def test_live_best_follows_the_declared_direction(tmp_path):
    from runyard.tui.live.runstate import LiveRun

    root = tmp_path / "runs"
    run = runyard.init("live", root=root, console=False, system_metrics=False)
    try:
        run.define_metric(MARGIN, goal="max")
        for step, value in enumerate([0.1, 0.4, 0.3]):
            run.log({MARGIN: value, "val/other_margin": value}, step=step)
        live = LiveRun(open_run(run.path))
        live.apply(live.read())
        assert live.best(MARGIN) == 0.4 and live.best("val/other_margin") == 0.1
        run.define_metric("val/other_margin", goal="max")  # declared while the app follows the run
        assert live.best("val/other_margin") == 0.4
    finally:
        run.finish()
