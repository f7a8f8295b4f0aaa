"""Output nobody reads to the end: `runyard ... | head -1`, a reader that already left, a closed stdout.

The command ends quietly with exit status 0 (the reader has what it wanted, as `head` expects; a closed stdout
takes the output the way Python's `print` does): never a traceback, never a silent 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import runyard
from tests.conftest import PROJECT, child_env

CLI = [sys.executable, "-m", "runyard.tui.cli"]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A run with more to print than a pipe holds (64 KiB), but for its plot: a long config, a long log."""
    root = tmp_path_factory.mktemp("pipes") / "runs"
    config = {f"layer_{i:04d}": {"width": i, "dropout": 0.1, "name": f"block number {i}"} for i in range(500)}
    with runyard.init("big", root=root, config=config, console=False, system_metrics=False) as run:
        for step in range(3000):
            run.log({"train/loss": 1.0 / (step + 1)}, step=step)
            run.logger.info("step %d of a long log line that goes on and on for a while %s", step, "x" * 40)
    return root


def env(tmp_path: Path) -> dict[str, str]:
    return child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache"), COLUMNS="120")


ARGS = {
    "ls": ["ls", "{root}", "-o", "table", "--wide"],
    "show": ["show", "big", "--root", "{root}", "--wide"],
    "tail": ["tail", "big", "--root", "{root}", "-n", "3000"],
    "plot": ["plot", "big", "--root", "{root}", "--width", "200", "--height", "100"],
    "show --json": ["show", "big", "--root", "{root}", "--json"],
}


def args_of(name: str, root: Path) -> list[str]:
    return [a.format(root=root) for a in ARGS[name]]


@pytest.mark.parametrize("name", ["show", "tail", "plot"])
def test_piped_into_head(root, tmp_path, name):
    """`runyard ... | head -1`: head prints the first line and leaves; runyard exits 0 and says nothing."""
    script = 'set -o pipefail; "$@" 2>"$ERR" | head -1; echo "status=${PIPESTATUS[0]}"'
    done = subprocess.run(["bash", "-c", script, "_", *CLI, *args_of(name, root)], cwd=PROJECT,
                          env={**env(tmp_path), "ERR": str(tmp_path / "err")}, capture_output=True, text=True,
                          timeout=120)
    first, status = done.stdout.splitlines()
    assert first.strip() and status == "status=0", done.stdout
    assert (tmp_path / "err").read_text() == ""


@pytest.mark.parametrize("name", ["ls", "show", "tail", "plot", "show --json"])
def test_a_reader_already_gone(root, tmp_path, name):
    """The pipe's reading end is closed before runyard writes a byte: every write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([*CLI, *args_of(name, root)], cwd=PROJECT, env=env(tmp_path), stdout=write,
                              stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr.decode()) == (0, "")


@pytest.mark.parametrize("name", ["ls", "show", "tail", "plot"])
def test_stdout_closed(root, tmp_path, name):
    """`runyard ... >&-`: the output goes nowhere, the command still succeeds, stderr stays empty."""
    done = subprocess.run(["bash", "-c", '"$@" >&-', "_", *CLI, *args_of(name, root)], cwd=PROJECT,
                          env=env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    assert (done.returncode, done.stderr.decode()) == (0, "")
    assert not list((tmp_path / "cache").glob("crash-*")), "no crash report either"


def test_errors_still_reach_stderr_with_stdout_closed(root, tmp_path):
    done = subprocess.run(["bash", "-c", '"$@" >&-', "_", *CLI, "show", "nosuchrun", "--root", str(root)],
                          cwd=PROJECT, env=env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=120)
    assert done.returncode == 1 and done.stderr.decode().startswith("runyard: error: no run 'nosuchrun'")
