"""Runs this user may not read: another user's folder that can be listed but not entered, a log without read
permission. The app says why in place and keeps running; `runyard tail/show/plot` say why in one line on stderr
and exit 1.

Root reads everything, so the real cases run as an unprivileged user: as root (as tests here usually run), the
child is started as `nobody` with setpriv; as anyone else, as that user, whom the modes below shut out as well.
The tree is built in a folder of its own that others may enter, since pytest's own temporary folder is private.
One more test injects the PermissionError in-process, for machines where neither is possible.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import runyard
from runyard.tui.app import RunyardApp
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.log_view import LogView
from runyard.tui.widgets.metric_plot import MetricPlot
from tests.conftest import PROJECT, child_env
from tests.test_app import table, wait_for

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
DENIED = "permission denied"


def unprivileged(cmd: list[str]) -> list[str]:
    """`cmd` as a user the permission bits apply to: nobody when we are root, else ourselves."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: no user to whom a permission applies")
    return [*NOBODY, *cmd]


@pytest.fixture
def tree() -> Iterator[dict[str, Path]]:
    """runs/good (readable), runs/locked (listed, not entered: mode 0o644), runs/nolog (training.log mode 0o200),
    plus a home and a cache the unprivileged user may write."""
    base = Path(tempfile.mkdtemp(prefix="runyard-unreadable-"))
    base.chmod(0o755)
    made: dict[str, Path] = {"base": base, "root": base / "runs"}
    try:
        for name in ("good", "locked", "nolog"):
            run = runyard.init(name, root=made["root"], config={"lr": 0.1}, console=False, system_metrics=False)
            for step in range(5):
                run.log({"loss": 1.0 / (step + 1)}, step=step)
            run.logger.info("hello from %s", name)
            run.finish()
            made[name] = run.path
        for folder, _, files in os.walk(base):  # everything readable by all, then the two exceptions
            os.chmod(folder, 0o755)
            for file in files:
                os.chmod(os.path.join(folder, file), 0o644)
        for writable in ("home", "cache"):
            made[writable] = base / writable
            made[writable].mkdir(mode=0o777)
            made[writable].chmod(0o777)
        made["log"] = made["nolog"] / "training.log"
        made["log"].chmod(0o200)           # only its owner may write it; nobody may read it
        made["locked"].chmod(0o644)        # its names can be listed; nobody may enter it (no x)
        probe = subprocess.run(unprivileged([sys.executable, "-c", "import runyard.tui.app"]), env=env_for(made),
                               cwd=base, capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            pytest.skip(f"an unprivileged user cannot run this interpreter here: {probe.stderr.strip()[-300:]}")
        yield made
    finally:
        for folder, dirs, _ in os.walk(base):
            for d in dirs:
                os.chmod(os.path.join(folder, d), 0o755)
        made.get("log", base).chmod(0o644)
        shutil.rmtree(base, ignore_errors=True)


def env_for(made: dict[str, Path]) -> dict[str, str]:
    home = made["base"] / "home"
    return child_env(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), RUNYARD_CACHE_DIR=str(made["base"] /
                     "cache"), COLUMNS="120")


def runyard_cli(made: dict[str, Path], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(unprivileged([sys.executable, "-m", "runyard.tui.cli", *args]), env=env_for(made),
                          cwd=made["base"], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(done: subprocess.CompletedProcess[str], reason: str) -> None:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert done.stderr == f"runyard: error: {reason}\n", done.stderr
    assert done.stdout == ""


@pytest.mark.slow
@pytest.mark.parametrize("follow", [False, True], ids=["tail", "tail -f"])
def test_tail_of_an_unreadable_log_says_why_and_exits_1(tree, follow):
    flags = ["-f"] if follow else []
    for target in (tree["log"], tree["nolog"]):  # the log named, or its run
        assert_one_line_error(runyard_cli(tree, "tail", *flags, str(target)), f"cannot read training.log: {DENIED}")


@pytest.mark.slow
def test_tail_show_and_plot_of_a_folder_that_cannot_be_entered_say_why_and_exit_1(tree):
    closed = f"cannot enter {tree['locked'].name}: {DENIED}"
    for args in (["tail", str(tree["locked"])], ["tail", "-f", str(tree["locked"])],
                 ["tail", str(tree["locked"] / "training.log")], ["show", str(tree["locked"])],
                 ["plot", str(tree["locked"])]):
        assert_one_line_error(runyard_cli(tree, *args), closed)
    done = runyard_cli(tree, "tail", str(tree["good"]))  # the same user reads a readable run as usual
    assert done.returncode == 0 and "hello from good" in done.stdout, done.stderr


@pytest.mark.slow
def test_the_app_shows_why_a_run_cannot_be_read_and_keeps_running(tree):
    done = subprocess.run(unprivileged([sys.executable, "-m", "tests.unreadable_app", str(tree["root"]),
                                        str(tree["locked"]), str(tree["nolog"]), str(tree["good"])]),
                          env=env_for(tree), cwd=PROJECT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert done.stdout.rstrip().endswith("passed"), done.stdout
    assert "Traceback" not in done.stderr and "PermissionError" not in done.stderr, done.stderr


async def test_a_permission_error_on_a_runs_files_is_shown_in_place(tmp_path, monkeypatch):
    """The same, with the refusal injected where the kernel gives it (opening the file), for any machine."""
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "runs"
    run = runyard.init("shut", root=root, console=False, system_metrics=False)
    run.log({"loss": 1.0}, step=0)
    run.logger.info("never shown")
    run.finish()
    refused = {str(run.path / "training.log"), str(run.path / "metrics.jsonl")}
    real_open = os.open

    def kernel_says_no(path, flags, *args, **kwargs):
        if os.fspath(path) in refused and not flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", kernel_says_no)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 1)
        preview = app.screen.query_one("#preview-log")
        await wait_for(app, pilot, lambda: f"cannot read training.log: {DENIED}" in str(preview.render()))
        await pilot.press("enter")
        await wait_for(app, pilot, lambda: isinstance(app.screen, RunScreen))
        log = app.screen.query_one(LogView)
        await wait_for(app, pilot, lambda: log.render_line(0).text.strip() == f"cannot read training.log: {DENIED}")
        plot = app.screen.query_one(MetricPlot)
        await wait_for(app, pilot, lambda: f"cannot read metrics.jsonl: {DENIED}" in str(plot.render()))
        await pilot.press("x")
        assert app.screen.x_axis == "time" and app.is_running
        refused.clear()  # read permission given back: the next look shows the log
        log.poll()
        await wait_for(app, pilot, lambda: "never shown" in "\n".join(log.lines))


def test_the_reason_is_one_clean_line_naming_the_file(tmp_path):
    from runyard import unreadable_reason

    assert unreadable_reason(PermissionError(13, "Permission denied", str(tmp_path / "training.log"))) == \
        f"cannot read training.log: {DENIED}"
    assert unreadable_reason(OSError(5, "Input/output error"), tmp_path / "metrics.jsonl") == \
        "cannot read metrics.jsonl: input/output error"
    hostile = unreadable_reason(PermissionError(13, "Permission denied", str(tmp_path / "\x1b[2Jrun\nlog")))
    assert "\x1b" not in hostile and "\n" not in hostile and hostile.endswith(f": {DENIED}")
