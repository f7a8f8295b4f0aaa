"""Hostile ground, more of it: a plain-text log rotated under a run (its curve goes on from step 0), `runyard tail -f`
whose reader went away, a FIFO where the log should be, a runs folder closed to this user, `-n` out of range,
a full disk behind stdout, a run folder replaced by a file, and a sort key no run has.
"""

from __future__ import annotations

import gzip
import logging
import logging.handlers
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runyard
from runyard.layouts.textlog import TextLogSource, parse_log, rotated_logs
from runyard.tui.app import RunyardApp
from runyard.tui.cli import main
from runyard.tui.messages import FilesChanged
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.log_view import LogView
from runyard.tui.widgets.metric_plot import MetricPlot
from tests.conftest import PROJECT, child_env
from tests.test_app import make_run, wait_for, wait_until
from tests.test_regular_files import fifo_in_place_of
from tests.test_rotation import Writer
from tests.test_unreadable import assert_one_line_error, runyard_cli, tree  # noqa: F401 (a fixture)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def step_line(step: int) -> str:
    return f"2026-11-30 14:{step // 60:02d}:{step % 60:02d},000 - INFO - step {step} loss={1 / (step + 1):.4f}"


def write_steps(writer: Writer, steps: range) -> None:
    writer.lines([step_line(s) for s in steps])


def steps_of(log: Path) -> list[int]:
    return runyard.open_run(log).metrics().step.tolist()


def scanned(folder: Path) -> list[tuple[str, int | None, int | None]]:
    return [(r.info.name, r.info.last_step, r.info.rows) for r in runyard.scan(folder, use_cache=False)]


# ----- 1. a text log's rotated predecessors are part of its run ---------------------------------------------

def test_rename_and_create_keeps_the_steps_from_before_the_rotation(tmp_path):
    log = tmp_path / "r5" / "train.log"
    log.parent.mkdir()
    writer = Writer(log)
    write_steps(writer, range(8))
    writer.rename_away()
    writer.line(step_line(8))  # to the old file, after the rename: the race logrotate's `create` has
    assert steps_of(log.with_name("train.log.1")) == list(range(9))
    source = TextLogSource(log)  # as the app holds it: renamed away, not created again yet, what it held counts
    assert source.metrics_data().step.tolist() == list(range(9)) and source.read_info().last_step == 8
    writer.reopen()  # created again, nothing in it yet: still the run's log, listed and opened as before
    assert scanned(tmp_path) == [("train", 8, 9)] and steps_of(log) == list(range(9))
    write_steps(writer, range(9, 12))
    assert steps_of(log) == list(range(12))
    assert scanned(tmp_path) == [("train", 11, 12)]  # one run: the rotated file is not a run of its own
    _, lines = parse_log(log)
    assert lines[0] == step_line(0) and lines[-1] == step_line(11)
    writer.close()


def test_copytruncate_keeps_the_steps_and_repeats_none(tmp_path):
    log = tmp_path / "train.log"
    writer = Writer(log)
    write_steps(writer, range(8))
    shutil.copyfile(log, log.with_name("train.log.1"))  # copied, not truncated yet: the same rows twice on disk
    assert steps_of(log) == list(range(8))
    os.truncate(log, 0)
    assert steps_of(log) == list(range(8))
    write_steps(writer, range(8, 12))
    assert steps_of(log) == list(range(12))
    os.replace(log.with_name("train.log.1"), log.with_name("train.log.2"))  # and again, numbered as logrotate does
    writer.copytruncate(".1")
    write_steps(writer, range(12, 14))
    assert steps_of(log) == list(range(14))
    writer.close()


def test_rotating_file_handler_with_three_backups_reads_as_one_series(tmp_path):
    log = tmp_path / "train.log"
    handler = logging.handlers.RotatingFileHandler(log, maxBytes=200, backupCount=3)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"runyard-test-{tmp_path.name}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for step in range(12):
            logger.info(step_line(step))
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.log", "train.log.1", "train.log.2", "train.log.3"]
    assert [p.name for p in rotated_logs(log)] == ["train.log.3", "train.log.2", "train.log.1"]
    assert steps_of(log) == list(range(12))
    assert scanned(tmp_path) == [("train", 11, 12)]
    done = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "show", str(log), "--json"], env=child_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and '"last_step": 11' in done.stdout, done.stderr


def test_dated_and_compressed_predecessors_are_read_oldest_first(tmp_path):
    timed = tmp_path / "timed"
    timed.mkdir()
    (timed / "train.log.2026-11-29").write_text("".join(step_line(s) + "\n" for s in range(0, 3)))
    (timed / "train.log.2026-11-30_14-00-00").write_text("".join(step_line(s) + "\n" for s in range(3, 6)))
    (timed / "train.log").write_text("".join(step_line(s) + "\n" for s in range(6, 9)))
    assert steps_of(timed / "train.log") == list(range(9))
    zipped = tmp_path / "zipped"  # logrotate's `compress` with `delaycompress`: .1 plain, older ones gzipped
    zipped.mkdir()
    (zipped / "train.log.2.gz").write_bytes(gzip.compress("".join(step_line(s) + "\n" for s in range(3)).encode()))
    (zipped / "train.log.1").write_text("".join(step_line(s) + "\n" for s in range(3, 6)))
    (zipped / "train.log.1.gz").write_bytes(b"half written")  # compression under way: the plain one is read
    (zipped / "train.log").write_text("".join(step_line(s) + "\n" for s in range(6, 9)))
    assert steps_of(zipped / "train.log") == list(range(9))
    dateext = tmp_path / "dateext"  # logrotate's `dateext`
    dateext.mkdir()
    (dateext / "train.log-20261129").write_text(step_line(0) + "\n")
    (dateext / "train.log").write_text(step_line(1) + "\n")
    assert steps_of(dateext / "train.log") == [0, 1]
    assert [name for name, _, _ in scanned(tmp_path)] == ["train", "train", "train"]


def test_a_predecessor_that_is_not_this_runs_is_left_out(tmp_path):
    """A script that rolls its log over when it starts leaves the previous run's log as `.1`: steps start over
    in the new file, which is a run of its own. A run resumed from an earlier checkpoint re-logs some steps:
    the new rows supersede the old ones from there on, as a resume marker does for runyard runs."""
    log = tmp_path / "train.log"
    (tmp_path / "train.log.1").write_text("".join(step_line(s) + "\n" for s in range(20)))
    log.write_text("".join(step_line(s) + "\n" for s in range(5)))
    assert steps_of(log) == list(range(5))
    resumed = tmp_path / "resumed.log"
    (tmp_path / "resumed.log.1").write_text("".join(step_line(s) + "\n" for s in range(8)))
    resumed.write_text("".join(step_line(s) + "\n" for s in range(5, 10)))
    assert steps_of(resumed) == list(range(10))


def test_a_predecessor_that_cannot_be_read_leaves_a_gap_not_an_error(tmp_path):
    log = tmp_path / "train.log"
    (tmp_path / "train.log.2").touch()
    fifo_in_place_of(tmp_path / "train.log.2")
    (tmp_path / "train.log.1").write_text("".join(step_line(s) + "\n" for s in range(3, 6)))
    log.write_text("".join(step_line(s) + "\n" for s in range(6, 9)))
    assert steps_of(log) == list(range(3, 9))


async def test_the_app_following_a_text_log_keeps_its_curve_through_rotations(tmp_path):
    root = tmp_path / "runs"
    (root / "r5").mkdir(parents=True)
    log = root / "r5" / "train.log"
    writer = Writer(log)
    write_steps(writer, range(8))
    app = RunyardApp(root, open_path=log, poll=True)  # the real watcher, polling: as on a network filesystem

    def curve_steps() -> list[int]:
        if not isinstance(app.screen, RunScreen):
            return []
        traces = app.screen.query_one(MetricPlot).traces
        return [int(x) for x in traces[0].x] if traces else []

    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: curve_steps() == list(range(8)), timeout=20)
        writer.rename_away()  # logrotate `create`
        writer.reopen()
        write_steps(writer, range(8, 12))
        await wait_until(pilot, lambda: curve_steps()[-1:] == [11], timeout=20)
        assert curve_steps() == list(range(12))
        os.replace(log.with_name("train.log.1"), log.with_name("train.log.2"))  # then `copytruncate`, numbered on
        writer.copytruncate()
        write_steps(writer, range(12, 14))
        await wait_until(pilot, lambda: curve_steps()[-1:] == [13], timeout=20)
        assert curve_steps() == list(range(14))
        log_pane = app.screen.query_one(LogView)  # the pane keeps the lines it showed, the new ones follow
        await wait_until(pilot, lambda: step_line(13) in log_pane.lines, timeout=20)
        assert [line for line in log_pane.lines if line.startswith("2026")] == [step_line(s) for s in range(14)]
    writer.close()


# ----- 2. `runyard tail -f RUN | head -1` ends when head does ---------------------------------------------------

def test_tail_follow_ends_when_the_reader_of_its_output_goes_away(tmp_path):
    run = make_run(tmp_path / "runs", "quiet", 0.001, steps=3, log_line="the last line")
    command = (f"{sys.executable} -m runyard.tui.cli tail -f -n 3 {run.path} | head -1; "
               'echo "status ${PIPESTATUS[0]}" >&2')
    started = time.monotonic()
    shell = subprocess.Popen(["bash", "-c", command], env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        out, err = shell.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(shell.pid, signal.SIGKILL)  # the whole pipeline, `runyard tail -f` included
        shell.communicate()
        raise AssertionError("`runyard tail -f RUN | head -1` did not end") from None
    took = time.monotonic() - started
    assert took < 2 + STARTUP, f"took {took:.1f}s"
    assert len(out.splitlines()) == 1 and "status 0" in err, err
    assert "Traceback" not in err and "error" not in err


STARTUP = 3.0  # seconds an interpreter may take to start and import runyard on a loaded machine


# ----- 3. a FIFO in place of the log ------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["run", "log"])
@pytest.mark.parametrize("follow", [False, True], ids=["tail", "tail -f"])
def test_tail_of_a_fifo_log_says_it_is_one(tmp_path, target, follow):
    run = make_run(tmp_path / "runs", "piped", 0.001, steps=3)
    log = fifo_in_place_of(run.path / "training.log")
    done = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "tail", *(["-f"] if follow else []),
                           str(run.path if target == "run" else log)], env=child_env(), capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "runyard: error: cannot read training.log: a FIFO, not a regular file\n"


def test_opening_a_fifo_by_its_path_says_what_it_is(tmp_path, capsys):
    (tmp_path / "train.log").touch()
    fifo = fifo_in_place_of(tmp_path / "train.log")
    for args in (["show", str(fifo)], [str(fifo)]):
        assert main(args) == 1
        assert capsys.readouterr().err == "runyard: error: cannot read train.log: a FIFO, not a regular file\n"


# ----- 4. a folder closed to this user, named on the command line -------------------------------------------------

@pytest.mark.slow
def test_a_closed_folder_named_on_the_command_line_is_one_line_not_a_usage_error(tree):  # noqa: F811
    shut = tree["base"] / "closed_dir"  # another user's runs: neither listed nor entered (mode 0o700, not ours)
    shutil.copytree(tree["good"], shut / tree["good"].name)
    shut.chmod(0o700)
    for args in ([str(shut)], ["ls", str(shut)], ["show", "good", "--root", str(shut)],
                 ["tail", "good", "--root", str(shut)], ["plot", "good", "--root", str(shut)]):
        assert_one_line_error(runyard_cli(tree, *args), "cannot enter closed_dir: permission denied")
    # listed but not entered: `ls` of it says so too, not an empty table
    assert_one_line_error(runyard_cli(tree, "ls", str(tree["locked"])),
                          f"cannot enter {tree['locked'].name}: permission denied")
    done = runyard_cli(tree, "ls", str(tree["root"]))  # a root that can be read lists what it can
    assert done.returncode == 0 and "\tgood\t" in done.stdout and "\tlocked_" in done.stdout, done.stderr


# ----- 5. `-n` out of range ------------------------------------------------------------------------------------

def test_tail_lines_out_of_range(tmp_path):
    run = make_run(tmp_path / "runs", "counted", 0.001, steps=3, log_line="the last line")
    every = (run.path / "training.log").read_text().splitlines()
    done = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "tail", str(run.path), "-n",
                           "99999999999999999999"], env=child_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.splitlines() == every, done.stderr  # a huge -n: everything
    done = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "tail", str(run.path), "-n", "-5"],
                          env=child_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert "-5 is not in the range x>=0" in done.stderr and "crash" not in done.stderr


# ----- 6. errors read like the others ----------------------------------------------------------------------------

@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("args", [["ls", "{root}"], ["ls", "{root}", "-o", "json"], ["show", "{run}"]])
def test_a_full_disk_behind_stdout_is_one_line(tmp_path, args):
    run = make_run(tmp_path / "runs", "full", 0.001, steps=3)
    argv = [a.format(root=tmp_path / "runs", run=run.path) for a in args]
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "runyard.tui.cli", *argv], env=child_env(), stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60, cwd=PROJECT)
    assert done.returncode == 1
    assert done.stderr == "runyard: error: cannot write the output: no space left on device\n"


async def test_a_run_folder_replaced_by_a_file_says_so_in_the_title(tmp_path):
    root = tmp_path / "runs"
    run = make_run(root, "replaced", 0.001, steps=5)
    app = RunyardApp(root, open_path=run.path, watch=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen)
                       and bool(app.screen.query_one(MetricPlot).traces))
        shutil.rmtree(run.path)
        run.path.write_text("not a folder any more\n")
        app.post_message(FilesChanged({run.path / "run.json"}, rescan=False))
        title = app.screen.query_one("#run-title")
        await wait_until(pilot, lambda: "⚠" in str(title.render()))
        shown = str(title.render())
        assert "⚠ cannot read run.json: not a directory" in shown, shown
        assert "Errno" not in shown and str(tmp_path) not in shown


# ----- 7. a sort key no run has ----------------------------------------------------------------------------------

def test_ls_sort_by_a_key_no_run_has_warns_and_still_lists(tmp_path):
    make_run(tmp_path / "runs", "listed", 0.001, steps=3)
    done = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "ls", "--sort", "nosuch"], cwd=tmp_path,
                          env=child_env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2 and "\tlisted\t" in done.stdout
    assert done.stderr == "runyard: warning: no run has key 'nosuch' to sort by\n"
