"""A run's end status and durability across crashes, signals, resumes and distributed ranks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest

import runyard
from runyard.writer.run import read_rows
from tests.conftest import child_env, only_run, start_script
from tests.contract import check_run_dir

pytestmark = pytest.mark.slow

LOGGING_CHILD = """
import sys, runyard
run = runyard.init("victim", root="runs", heartbeat_interval=0.2, console=False)
print(run.path, flush=True)
step = 0
while True:
    run.log({"loss": 1.0 / (step + 1), "acc": step * 0.001}, step=step)
    print(step, flush=True)   # only after log() has returned
    step += 1
"""


def _wait_for_steps(proc: subprocess.Popen, n: int) -> tuple[str, int]:
    path = proc.stdout.readline().strip()
    last = -1
    while last < n:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        last = int(line)
    return path, last


def test_sigkill_loses_no_row_that_log_returned(tmp_path):
    proc = start_script(tmp_path, LOGGING_CHILD)
    path, last_reported = _wait_for_steps(proc, 2000)
    proc.kill()
    proc.wait()
    run_dir = tmp_path / path
    steps = [r["step"] for r in read_rows(run_dir / "metrics.jsonl")]
    assert steps[: last_reported + 1] == list(range(last_reported + 1))
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "running" and info["ended"] is None
    time.sleep(0.8)  # > 3 heartbeat intervals: nobody refreshes it any more
    beat = datetime.fromisoformat(info["heartbeat"]).timestamp()
    assert json.loads((run_dir / "run.json").read_text())["heartbeat"] == info["heartbeat"]
    assert time.time() - beat > 3 * info["heartbeat_interval"]
    check_run_dir(run_dir, finished=False)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signals_mark_the_run_interrupted(tmp_path, signum):
    proc = start_script(tmp_path, LOGGING_CHILD)
    path, _ = _wait_for_steps(proc, 50)
    proc.send_signal(signum)
    proc.wait(timeout=20)
    assert proc.returncode != 0
    info = check_run_dir(tmp_path / path)
    assert info["status"] == "interrupted"
    log = (tmp_path / path / "training.log").read_text()
    assert f"received {signum.name}" in log and "interrupted" in log.splitlines()[-1]
    assert json.loads((tmp_path / path / "summary.json").read_text())["status"] == "interrupted"


def test_sigterm_inside_with_block_unwinds_through_finally(tmp_path):
    proc = start_script(tmp_path, """
        import time, runyard
        with runyard.init("graceful", root="runs", console=False) as run:
            try:
                print("ready", flush=True)
                time.sleep(60)
            finally:
                run.logger.info("cleanup ran")
    """)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 143
    run_dir = only_run(tmp_path / "runs")
    assert check_run_dir(run_dir)["status"] == "interrupted"
    assert "cleanup ran" in (run_dir / "training.log").read_text()


def test_exception_marks_failed_with_traceback(tmp_path):
    proc = start_script(tmp_path, """
        import runyard
        with runyard.init("broken", root="runs", console=False) as run:
            run.log({"loss": 1.0})
            raise RuntimeError("exploding gradients")
    """)
    proc.wait(timeout=30)
    assert proc.returncode == 1
    run_dir = only_run(tmp_path / "runs")
    assert check_run_dir(run_dir)["status"] == "failed"
    log = (run_dir / "training.log").read_text()
    assert "RuntimeError: exploding gradients" in log and "Traceback" in log


def test_uncaught_exception_without_with_block_marks_failed(tmp_path):
    proc = start_script(tmp_path, """
        import runyard
        run = runyard.init("nowith", root="runs", console=False)
        run.log({"loss": 1.0})
        1 / 0
    """)
    proc.wait(timeout=30)
    run_dir = only_run(tmp_path / "runs")
    assert check_run_dir(run_dir)["status"] == "failed"
    assert "ZeroDivisionError" in (run_dir / "training.log").read_text()


def test_script_end_without_finish_marks_finished(tmp_path):
    proc = start_script(tmp_path, """
        import runyard
        run = runyard.init("plain", root="runs", console=False)
        run.log({"loss": 1.0})
    """)
    assert proc.wait(timeout=30) == 0
    assert check_run_dir(only_run(tmp_path / "runs"))["status"] == "finished"


def test_resume_appends_to_the_same_folder_and_supersedes_rows(tmp_path):
    proc = start_script(tmp_path, """
        import sys, runyard
        run = runyard.init("long", config={"lr": 0.1}, root="runs", console=False)
        for step in range(30):
            run.log({"loss": 10.0 - step * 0.1}, step=step)
            if step == 20:
                run.add_checkpoint(__file__, step=20)
        print(run.path, flush=True)
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    path = tmp_path / proc.stdout.readline().strip()
    proc.wait(timeout=30)
    assert json.loads((path / "run.json").read_text())["status"] == "running"

    with runyard.init(resume=path, root=tmp_path / "runs", console=False) as run:
        assert run.path == path and run.config == {"lr": 0.1} and run.resume_step == 20
        for step in range(21, 25):
            run.log({"loss": 5.0}, step=step)
    info = check_run_dir(path)
    assert info["status"] == "finished" and len(info["restarts"]) == 1
    assert info["restarts"][0]["previous_status"] == "running"
    lines = [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]
    assert {"_event": "resume", "step": 21, "time": lines[30]["time"]} == lines[30]
    rows = read_rows(path / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(25))
    assert [r["loss"] for r in rows[21:]] == [5.0] * 4
    summary = json.loads((path / "summary.json").read_text())
    assert summary["metrics"]["loss"]["count"] == 25 and summary["steps"] == 24
    assert "resumed (restart 1)" in (path / "training.log").read_text()
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [path.name]


def test_resume_by_id_and_refusal_while_alive(root):
    run = runyard.init("alive", root=root, console=False)
    try:
        with pytest.raises(runyard.RunError, match="still running"):
            runyard.init(resume=run.id, root=root, console=False)
    finally:
        run.finish("interrupted")
    again = runyard.init(resume=run.id, root=root, console=False)
    assert again.path == run.path
    again.finish()
    with pytest.raises(runyard.RunError, match="cannot resume"):
        runyard.init(resume="nosuchid", root=root, console=False)


def test_rank_other_than_zero_writes_nothing(tmp_path):
    proc = start_script(tmp_path, """
        import runyard
        with runyard.init("dist", root="runs", config={"a": 1}) as run:
            run.log({"loss": 1.0})
            run.log_sample("x")
            run.save_checkpoint({"a": 1}, step=1)
            run.logger.info("quiet")
            print(type(run).__name__, run.config, flush=True)
    """, RANK="1", WORLD_SIZE="2")
    out, err = proc.communicate(timeout=30)
    assert out.strip() == "NullRun {'a': 1}" and "quiet" not in err
    assert not (tmp_path / "runs").exists()


def test_rank_zero_records_world_size(tmp_path):
    proc = start_script(tmp_path, """
        import runyard
        with runyard.init("dist", root="runs", console=False) as run:
            run.log({"loss": 1.0})
    """, RANK="0", WORLD_SIZE="4")
    assert proc.wait(timeout=30) == 0
    info = check_run_dir(only_run(tmp_path / "runs"))
    assert info["world_size"] == 4 and info["rank"] == 0


def test_eight_processes_same_name_same_second_get_distinct_folders(tmp_path):
    start_at = int(time.time()) + 2
    code = f"""
import time, runyard
time.sleep(max(0, {start_at} - time.time()))
run = runyard.init("same", root="runs", console=False)
run.log({{"x": 1.0}})
run.finish()
print(run.path, run.id, flush=True)
"""
    script = tmp_path / "child.py"
    script.write_text(code)
    procs = [subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=child_env(),
                              stdout=subprocess.PIPE, text=True) for _ in range(8)]
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    paths = {o[0] for o in outputs}
    ids = {o[1] for o in outputs}
    assert len(paths) == 8 and len(ids) == 8
    stamps = {p.split("same_", 1)[1][:15] for p in paths}
    assert len(stamps) <= 2  # they really did start together
    for p in paths:
        check_run_dir(tmp_path / p)
