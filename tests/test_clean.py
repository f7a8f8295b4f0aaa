"""Cleanup plans: what each policy removes and keeps, and why; the checkpoints that must never go."""

from __future__ import annotations

import itertools
import math
import os
import time
from pathlib import Path

import pytest

import runyard
from runyard.ops.clean import Policy, judge_checkpoints, plan_clean, resume_points
from runyard.ops.diskusage import path_usage, reclaimable

NAN = math.nan
DAY = 86400.0


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def ckpt_run(root: Path, name: str, values: list[float], *, status: str = "finished", mode: str = "min",
             size: int = 8192, finish: bool = True):
    """A runyard run with one checkpoint per value, at steps 100, 200, ..., ranked by val/loss."""
    run = runyard.init(name, root=root, console=False, system_metrics=False)
    for i, value in enumerate(values):
        step = (i + 1) * 100
        run.log({"val/loss": value}, step=step)
        path = run.path / "checkpoints" / f"step_{step}.pt"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(size))
        run.add_checkpoint(path, step=step, metrics={"val/loss": value}, best=("val/loss", mode))
    if finish:
        run.finish(status)
    return run


def scan(root: Path):
    return list(runyard.scan(root, use_cache=False))


def names(items) -> set[str]:
    return {Path(i.path).name for i in items}


def kept_reasons(plan, name: str) -> list[str]:
    return next(k.reasons for k in plan.kept if Path(k.path).name == name)


def removed(plan) -> set[str]:
    return {a.path.name for a in plan.actions}


VALUES = [3.0, 2.0, NAN, 2.0, 2.5, 4.0, 3.5]  # best: step 200 (2.0, older than step 400's 2.0); latest: 700


def test_best_and_latest_survive_every_policy_combination(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    ckpt_run(root, "a", VALUES)
    ckpt_run(root, "b", [1.0, NAN, 0.5, 0.7], mode="max")  # best by max: step 100 (1.0); latest 400
    records = scan(root)
    counts = (None, 0, 1, 2, 3)
    for keep_best, keep_last, failed, older, archive in itertools.product(
            counts, counts, (None, 600.0), (None, 90 * DAY), (False, True)):
        policy = Policy(keep_best, keep_last, failed, older, archive)
        if policy.empty:
            continue
        plan = plan_clean(root, records, policy)
        gone = {(a.run.name.split("_")[0], a.path.name) for a in plan.actions}
        whole = {a.run.name.split("_")[0] for a in plan.actions if a.kind == "run"}
        for run, must in (("a", {"step_200.pt", "step_700.pt"}), ("b", {"step_100.pt", "step_400.pt"})):
            if run not in whole:  # a run removed whole goes to the trash whole; else its best and latest stay
                assert not {(run, name) for name in must} & gone, policy
        for k in plan.kept:
            assert k.reasons, k
        # every kept or removed checkpoint is accounted for exactly once
        for run in records:
            ckpts = {p.name for p in (run.info.path / "checkpoints").glob("*.pt")}
            listed = {Path(k.path).name for k in plan.kept if k.run == run.info.path and k.kind == "checkpoint"}
            acted = {a.path.name for a in plan.actions if a.run == run.info.path and a.kind == "checkpoint"}
            assert not listed & acted
            if policy.checkpoint_rules:
                assert listed | acted == ckpts, policy
    plan = plan_clean(root, records, Policy(keep_best=0, keep_last=0))
    a_kept = {Path(k.path).name: k.reasons for k in plan.kept if k.run.name.startswith("a_")}
    assert a_kept == {"step_200.pt": ["best val/loss"], "step_700.pt": ["latest"]}
    b_kept = {Path(k.path).name: k.reasons for k in plan.kept if k.run.name.startswith("b_")}
    assert b_kept == {"step_100.pt": ["best val/loss"], "step_400.pt": ["latest"]}


def test_ties_keep_the_older_and_nan_is_never_best(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    ckpt_run(root, "a", VALUES)
    plan = plan_clean(root, scan(root), Policy(keep_best=2))
    assert kept_reasons(plan, "step_200.pt") == ["best val/loss"]
    assert kept_reasons(plan, "step_400.pt") == ["2nd best by val/loss"]  # equal to step 200, and younger
    assert kept_reasons(plan, "step_700.pt") == ["latest"]
    assert removed(plan) == {"step_100.pt", "step_300.pt", "step_500.pt", "step_600.pt"}
    why = {a.path.name: a.reason for a in plan.actions}
    assert why["step_100.pt"] == "not among best 2 by val/loss"
    assert why["step_300.pt"] == "not among best 2 by val/loss (val/loss is NaN)"
    plan = plan_clean(root, scan(root), Policy(keep_best=1))
    assert "step_400.pt" in removed(plan) and "step_200.pt" not in removed(plan)


def test_a_nan_first_checkpoint_is_not_best(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    ckpt_run(root, "a", [NAN, 5.0, 6.0])
    plan = plan_clean(root, scan(root), Policy(keep_best=1))
    assert kept_reasons(plan, "step_200.pt") == ["best val/loss"]
    assert removed(plan) == {"step_100.pt"}


def test_keep_sets_are_ored_and_reasons_say_which(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    ckpt_run(root, "a", VALUES)
    plan = plan_clean(root, scan(root), Policy(keep_best=2, keep_last=3))
    assert kept_reasons(plan, "step_500.pt") == ["among last 3"]
    assert kept_reasons(plan, "step_600.pt") == ["among last 3"]
    assert kept_reasons(plan, "step_400.pt") == ["2nd best by val/loss"]
    assert removed(plan) == {"step_100.pt", "step_300.pt"}
    assert {a.reason for a in plan.actions} == {"not among best 2 by val/loss nor last 3",
                                                "not among best 2 by val/loss nor last 3 (val/loss is NaN)"}
    assert plan.reclaim == sum(a.bytes for a in plan.actions) > 0
    assert all(a.action == "trash" for a in plan.actions)


def test_keep_best_alone_keeps_checkpoints_without_a_value(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = ckpt_run(root, "a", [2.0, 1.0, 3.0], finish=False)
    extra = run.path / "checkpoints" / "extra.pt"
    extra.write_bytes(b"x" * 5000)
    run.add_checkpoint(extra, step=250, metrics={"train/loss": 1.0})
    run.finish()
    plan = plan_clean(root, scan(root), Policy(keep_best=1))
    assert kept_reasons(plan, "extra.pt") == ["no val/loss recorded"]
    plan = plan_clean(root, scan(root), Policy(keep_best=1, keep_last=1))
    assert "extra.pt" in removed(plan)


def test_a_running_run_is_never_touched(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    live = ckpt_run(root, "live", [3.0, 2.0, 1.0, 4.0], status="failed", finish=False)
    try:
        live.info_path = None
        old = time.time() + 400 * DAY  # as old as can be, and failed-short by any measure: still running
        plan = plan_clean(root, scan(root), Policy(keep_best=0, keep_last=0, older_than=DAY,
                                                   failed_shorter_than=1e9), now=old)
        assert plan.actions == []
        assert [(k.kind, k.reasons) for k in plan.kept] == [("run", ["running"])]
    finally:
        live.finish()


def linked_run(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A run whose index names a symlink to a file outside the root, a symlink to one of its own checkpoints,
    and (as the writer records a link it is given) the outside file itself: root, run folder, outside file."""
    import orjson

    root = tmp_path / "runs"
    outside = tmp_path / "elsewhere" / "big.pt"
    outside.parent.mkdir()
    outside.write_bytes(b"y" * 50_000)
    run = ckpt_run(root, "a", [3.0, 2.0, 1.0, 0.5])
    folder = run.path / "checkpoints"
    (folder / "linked.pt").symlink_to(outside)
    (folder / "alias.pt").symlink_to(folder / "step_100.pt")
    with open(folder / "index.jsonl", "ab") as f:
        for step, name in ((150, "checkpoints/linked.pt"), (160, "checkpoints/alias.pt"), (170, str(outside))):
            f.write(orjson.dumps({"step": step, "time": time.time(), "file": name, "metrics": {"val/loss": 9.0}})
                    + b"\n")
    return root, run.path, outside


def test_a_checkpoint_outside_the_root_is_kept_and_a_link_is_a_link(tmp_path: Path) -> None:
    root, _, _ = linked_run(tmp_path)
    plan = plan_clean(root, scan(root), Policy(keep_last=1))
    assert kept_reasons(plan, "linked.pt") == ["outside the root"]
    assert kept_reasons(plan, "big.pt") == ["outside the root"]
    alias = next(a for a in plan.actions if a.path.name == "alias.pt")
    assert alias.bytes == path_usage(alias.path).total < 4096 * 2  # the link itself, never its target
    assert plan.reclaim == reclaimable(a.path for a in plan.actions)
    assert removed(plan) == {"step_100.pt", "step_200.pt", "step_300.pt", "alias.pt"}


def test_failed_short_runs_and_old_runs(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    short = runyard.init("short", root=root, console=False, system_metrics=False)
    short.log({"loss": 1.0}, step=0)
    short.finish("failed")
    long = runyard.init("long", root=root, console=False, system_metrics=False)
    long.log({"loss": 1.0}, step=0)
    long.finish("failed")
    fine = runyard.init("fine", root=root, console=False, system_metrics=False)
    fine.finish()
    records = scan(root)
    for r in records:  # `long` trained an hour
        if r.info.name == "long":
            r.info.created -= 3600
    plan = plan_clean(root, records, Policy(failed_shorter_than=600))
    assert [(a.kind, a.run.name.split("_")[0], a.action) for a in plan.actions] == [("run", "short", "trash")]
    reason = plan.actions[0].reason
    assert reason.startswith("failed after ") and reason.endswith("s (< 10m)")
    now = time.time() + 97 * DAY
    plan = plan_clean(root, records, Policy(older_than=90 * DAY, archive=True), now=now)
    assert {a.run.name.split("_")[0] for a in plan.actions} == {"short", "long", "fine"}
    assert {a.action for a in plan.actions} == {"archive"}
    assert plan.actions[0].reason == "last active 97 days ago (> 90d): archive"
    assert plan.reclaim == 0  # archiving frees nothing the trash would
    # failed-and-short junk goes to the trash even with --archive
    plan = plan_clean(root, records, Policy(older_than=90 * DAY, failed_shorter_than=600, archive=True), now=now)
    assert {(a.run.name.split("_")[0], a.action) for a in plan.actions} == {
        ("short", "trash"), ("long", "archive"), ("fine", "archive")}
    # a time in the future is never old
    plan = plan_clean(root, records, Policy(older_than=DAY), now=time.time() - 10 * DAY)
    assert plan.actions == []


def test_a_filter_alone_selects_and_with_rules_scopes(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    ckpt_run(root, "keepme", [3.0, 2.0, 1.0])
    ckpt_run(root, "dropme", [3.0, 2.0, 1.0])
    records = scan(root)
    plan = plan_clean(root, records, Policy(filter="dropme"))
    assert [(a.kind, a.run.name.split("_")[0]) for a in plan.actions] == [("run", "dropme")]
    assert plan.actions[0].reason == "matches --filter 'dropme': trash"
    assert plan.actions[0].bytes == path_usage(plan.actions[0].path).total
    plan = plan_clean(root, records, Policy(keep_last=1, filter="dropme"))
    assert {a.run.name.split("_")[0] for a in plan.actions} == {"dropme"}
    assert {a.kind for a in plan.actions} == {"checkpoint"}


def test_an_empty_policy_is_refused(tmp_path: Path) -> None:
    assert Policy().empty and Policy(archive=True).empty and not Policy(keep_last=3).empty
    with pytest.raises(ValueError, match="no cleanup rule"):
        plan_clean(tmp_path, [], Policy(archive=True))


def test_archived_runs_are_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = ckpt_run(root / "archive", "old", [3.0, 2.0, 1.0])
    plan = plan_clean(root, list(runyard.scan(root, use_cache=False)), Policy(older_than=DAY, keep_last=1),
                      now=time.time() + 30 * DAY)
    assert plan.actions == []
    assert [(Path(k.path), k.reasons) for k in plan.kept] == [(run.path, ["archived"])]


def test_a_whole_run_takes_its_checkpoints_outside_its_folder(tmp_path: Path) -> None:
    """ChatGoT keeps checkpoints in a `models/` folder beside its runs: they go with their run, and count."""
    import shutil

    src = Path(__file__).parent / "fixtures" / "foreign" / "chatgot"
    root = tmp_path / "chatgot"
    shutil.copytree(src, root)
    records = [r for r in scan(root) if r.info.format == "tensorboard"]
    name = records[0].info.path.name
    plan = plan_clean(root, records[:1], Policy(filter=name))
    paths = {a.path.relative_to(root).as_posix(): a.kind for a in plan.actions}
    assert paths == {f"runs/{name}": "run", f"models/{name}_epoch_1.pt": "checkpoint",
                     f"models/{name}_epoch_2.pt": "checkpoint", f"models/{name}_final.pt": "checkpoint"}
    assert plan.reclaim == reclaimable(a.path for a in plan.actions)
    assert plan.total == plan.reclaim
    archive = plan_clean(root, records[:1], Policy(filter=name, archive=True))
    assert [a.kind for a in archive.actions] == ["run"]
    assert {Path(k.path).name for k in archive.kept} == {f"{name}_epoch_1.pt", f"{name}_epoch_2.pt",
                                                         f"{name}_final.pt"}


def test_a_resumed_run_keeps_the_checkpoint_it_resumed_from(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = ckpt_run(root, "a", [3.0, 2.0, 2.5], status="failed")
    again = runyard.init(resume=run.path, root=root, console=False, system_metrics=False)
    entry = again._info["restarts"][-1]
    assert entry["checkpoint"] == {"file": "checkpoints/step_300.pt", "step": 300}
    for step, value in ((400, 2.8), (500, 2.9)):
        again.log({"val/loss": value}, step=step)
        path = again.path / "checkpoints" / f"step_{step}.pt"
        path.write_bytes(b"z" * 4096)
        again.add_checkpoint(path, step=step, metrics={"val/loss": value}, best=("val/loss", "min"))
    again.finish()
    import orjson

    saved = orjson.loads((run.path / "run.json").read_bytes())["restarts"][0]["checkpoint"]
    assert saved == {"file": "checkpoints/step_300.pt", "step": 300}
    plan = plan_clean(root, scan(root), Policy(keep_best=1, keep_last=1))
    assert kept_reasons(plan, "step_300.pt") == ["resumed from at restart 1"]
    assert removed(plan) == {"step_100.pt", "step_400.pt"}


def test_an_older_run_s_resume_point_is_inferred_from_its_markers(tmp_path: Path) -> None:
    import orjson

    root = tmp_path / "runs"
    run = ckpt_run(root, "a", [3.0, 2.0, 2.5, 2.6], status="failed")
    info = orjson.loads((run.path / "run.json").read_bytes())
    info["restarts"] = [{"time": info["created"], "previous_status": "failed"},
                        {"time": info["created"], "previous_status": "failed"}]
    (run.path / "run.json").write_bytes(orjson.dumps(info))
    with open(run.path / "metrics.jsonl", "ab") as f:
        f.write(b'{"_event": "resume", "step": 300, "time": 1.0}\n{"step": 300, "time": 2.0, "val/loss": 2.4}\n')
        f.write(b'{"_event": "resume", "step": 350, "time": 3.0}\n')
    records = scan(root)
    points = resume_points(records[0].source, records[0].info)
    assert points == [(1, None, 300), (2, None, 350)]
    plan = plan_clean(root, records, Policy(keep_last=1))
    assert kept_reasons(plan, "step_300.pt") == ["resumed from at restart 1", "resumed from at restart 2"]
    assert removed(plan) == {"step_100.pt"}  # 200 is best, 400 latest


def test_judging_without_a_ranking_metric(tmp_path: Path) -> None:
    from runyard import Checkpoint

    root = tmp_path
    files = []
    for i in range(3):
        p = tmp_path / f"epoch_{i}.pt"
        p.write_bytes(b"e")
        files.append(Checkpoint(p, time=1000.0 + i))
    verdicts = judge_checkpoints(root, tmp_path, files, [], keep_best=1, keep_last=None)
    assert [v.reasons for v in verdicts] == [["no metric to rank by"], ["no metric to rank by"], ["latest"]]
    verdicts = judge_checkpoints(root, tmp_path, files, [], keep_best=1, keep_last=1)
    assert [v.remove for v in verdicts] == ["not among best (no metric to rank by) nor last 1"] * 2 + [None]


# ----- applying ---------------------------------------------------------------------------------------------

def test_apply_moves_the_plan_to_the_trash_and_the_trash_gives_it_back(tmp_path: Path) -> None:
    from runyard import apply_plan, empty_trash, list_trash, restore_from_trash

    root, folder, outside = linked_run(tmp_path)
    before = outside.read_bytes()
    plan = plan_clean(root, scan(root), Policy(keep_last=1))
    results = apply_plan(root, plan)
    assert [r.done for r in results] == [True] * len(plan.actions), [r.message for r in results]
    left = {p.name for p in (folder / "checkpoints").iterdir()}
    assert left == {"index.jsonl", "linked.pt", "step_400.pt"}
    assert outside.read_bytes() == before  # the link's target, outside the root, untouched
    trashed = list_trash(root)
    assert {e.path.name for e in trashed} == {"step_100.pt", "step_200.pt", "step_300.pt", "alias.pt"}
    assert {e.reason for e in trashed} == {"not among last 1"}
    assert {e.kind for e in trashed} == {"checkpoint"} and {e.run for e in trashed} == {folder.relative_to(root)}
    restore_from_trash(root, [e.id for e in trashed])
    assert (folder / "checkpoints" / "alias.pt").is_symlink()  # moved, and back, as a link
    assert empty_trash(root) == 0


def test_apply_refuses_a_run_that_started_running_since_the_plan(tmp_path: Path) -> None:
    from runyard import apply_plan

    root = tmp_path / "runs"
    run = ckpt_run(root, "a", [3.0, 2.0, 1.0, 0.5], status="failed")
    plan = plan_clean(root, scan(root), Policy(keep_last=1))
    assert len(plan.actions) == 3
    again = runyard.init(resume=run.path, root=root, console=False, system_metrics=False)
    try:
        results = apply_plan(root, plan)
    finally:
        again.finish()
    assert [(r.done, r.message) for r in results] == [(False, "started running since the plan: left alone")] * 3
    assert len(list((run.path / "checkpoints").glob("*.pt"))) == 4


def test_apply_leaves_a_checkpoint_that_became_a_resume_point(tmp_path: Path) -> None:
    from runyard import apply_plan

    root = tmp_path / "runs"
    run = ckpt_run(root, "a", [3.0, 2.0, 2.5, 2.6], status="failed")
    plan = plan_clean(root, scan(root), Policy(keep_last=1))
    assert removed(plan) == {"step_100.pt", "step_300.pt"}
    (run.path / "checkpoints" / "step_400.pt").unlink()  # gone: a restart now picks up from step 300
    again = runyard.init(resume=run.path, root=root, console=False, system_metrics=False)
    again.finish()
    results = {r.action.path.name: (r.done, r.message) for r in apply_plan(root, plan)}
    assert results["step_300.pt"] == (False, "now kept: latest, resumed from at restart 1")
    assert results["step_100.pt"][0] is True


def test_apply_skips_a_path_replaced_since_the_plan(tmp_path: Path) -> None:
    from runyard import apply_plan

    root = tmp_path / "runs"
    run = ckpt_run(root, "a", [3.0, 2.0, 1.0])
    plan = plan_clean(root, scan(root), Policy(keep_last=1))
    target = run.path / "checkpoints" / "step_100.pt"
    target.unlink()
    target.write_bytes(b"new")
    results = {r.action.path.name: r for r in apply_plan(root, plan)}
    assert not results["step_100.pt"].done and results["step_100.pt"].message == "changed since the plan: left alone"
    assert target.read_bytes() == b"new"


def test_archiving_old_runs(tmp_path: Path) -> None:
    from runyard import apply_plan

    root = tmp_path / "runs"
    run = ckpt_run(root, "a", [3.0, 2.0])
    plan = plan_clean(root, scan(root), Policy(older_than=DAY, archive=True), now=time.time() + 3 * DAY)
    [result] = apply_plan(root, plan)
    assert result.done and result.dest == root / "archive" / run.path.name
    again = plan_clean(root, scan(root), Policy(older_than=DAY, archive=True), now=time.time() + 3 * DAY)
    assert again.actions == [] and [k.reasons for k in again.kept] == [["archived"]]


RECLAIM = """
import json, os, sys, time
from pathlib import Path
import runyard
from runyard import Policy, apply_plan, empty_trash, plan_clean

disk = Path(sys.argv[1])
root = disk / "runs"
outside = disk / "elsewhere.pt"
outside.write_bytes(os.urandom(300_000))
paths = []
for name, n in (("a", 5), ("b", 4), ("c", 3)):
    run = runyard.init(name, root=root, console=False, system_metrics=False)
    for i in range(n):
        step = (i + 1) * 100
        run.log({"val/loss": 1.0 / (i + 1) if i % 2 else 2.0}, step=step)
        p = run.path / "checkpoints" / f"step_{step}.pt"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(os.urandom(50_000 * (i + 1)))
        run.add_checkpoint(p, step=step, metrics={"val/loss": 1.0 / (i + 1) if i % 2 else 2.0},
                           best=("val/loss", "min"))
    run.finish("failed" if name == "c" else "finished")
    paths.append(run.path)
# hard links: one into a kept checkpoint's name (frees nothing), one pair both removed (frees once)
os.link(paths[0] / "checkpoints" / "step_100.pt", paths[1] / "shared_with_a.bin")
os.link(paths[0] / "checkpoints" / "step_200.pt", paths[0] / "checkpoints" / "twin.bin")
(paths[1] / "checkpoints" / "link_out.pt").symlink_to(outside)
records = list(runyard.scan(root, use_cache=False))
plan = plan_clean(root, records, Policy(keep_best=1, keep_last=1, failed_shorter_than=3600))
os.sync()
before = os.statvfs(disk)
results = apply_plan(root, plan)
freed = empty_trash(root)
os.sync()
after = os.statvfs(disk)
print(json.dumps({"reclaim": plan.reclaim, "freed": freed, "done": [r.done for r in results],
                  "growth": (after.f_bfree - before.f_bfree) * after.f_frsize,
                  "actions": len(plan.actions), "outside": outside.stat().st_size}))
"""


def test_the_preview_is_what_emptying_the_trash_frees_on_a_real_filesystem(tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess
    import sys

    from tests.conftest import PROJECT, child_env

    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {disk}"],
                           capture_output=True)
    if probe.returncode:
        pytest.skip("cannot mount a tmpfs here")
    script = tmp_path / "reclaim.py"
    script.write_text(RECLAIM)
    env = child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run(["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o size=32m tmpfs "{disk}" && '
                          f'exec "{sys.executable}" "{script}" "{disk}"'], cwd=PROJECT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert all(result["done"]) and result["actions"] > 5
    assert result["reclaim"] == result["freed"] == result["growth"] > 0
    assert result["outside"] == 300_000
