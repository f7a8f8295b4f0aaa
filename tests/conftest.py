"""Shared fixtures: a runs root per test and a helper that runs a tracker script in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "SLURM_PROCID", "WORLD_SIZE")}
    env["PYTHONPATH"] = str(PROJECT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def start_script(tmp_path: Path, code: str, **env: str) -> subprocess.Popen:
    """Start a Python child running `code` in `tmp_path`, stdout piped line by line."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=child_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def only_run(root: Path) -> Path:
    runs = [p for p in root.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture
def count_feeds(monkeypatch):
    """`count_feeds(ReaderClass)` -> the list that each later `feed` of that reader class appends its byte count to."""

    def counting(reader_class):
        fed: list[int] = []
        original = reader_class.feed

        def feed(self, data):
            fed.append(len(data))
            return original(self, data)

        monkeypatch.setattr(reader_class, "feed", feed)
        return fed

    return counting
