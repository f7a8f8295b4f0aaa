"""kill -9 at the kill points of every operation that changes a runs tree, in a real child process: at the
kill instant every copy of the run that can be seen is whole, and after recovery the run exists exactly once —
at its origin or as its verified archive or trash copy — with every file's sha256, link, mode, mtime and hard
link as before; the link pointing out of the root and the file it points at are untouched, nothing is left in
`.runyard/`. A sample of the points here; `make soak-moves` (bench/soak_moves.py) kills at every one of them
and at random instants."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench.soak_moves import OPS, count_points, make_template, trial

pytestmark = pytest.mark.slow


def sample(count: int, size: int, rng: random.Random) -> list[int]:
    """The first and last points, and a spread of the others."""
    if count <= size:
        return list(range(1, count + 1))
    middle = sorted(rng.sample(range(2, count), size - 2))
    return [1, *middle, count]


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SOAK_CACHE", str(tmp_path / "cache"))


CASES = [(op, "folder") for op in OPS] + [("archive-z", "file"), ("restore-z", "file"), ("trash-empty", "file")]


@pytest.mark.parametrize(("op", "subject"), CASES, ids=[f"{op}-{subject}" for op, subject in CASES])
def test_killed_at_its_kill_points_the_run_survives_whole_and_once(tmp_path: Path, op: str, subject: str) -> None:
    if op.endswith("-z"):
        pytest.importorskip("runyard.ops.tarzst")
    rng = random.Random(f"{op}-{subject}")
    template = make_template(tmp_path, op, subject, mb=0.25)
    names, _ = count_points(template, op, tmp_path)
    assert f"{op.removesuffix('-z')}.begin" in names
    ended = set()
    for point in sample(len(names), 6, rng):
        killed, place = trial(template, op, tmp_path, point=point, rng=rng)
        assert killed, f"{op} was not killed at point {point} ({names[point - 1]})"
        ended.add(place)
    # a kill before the first change undoes it, one after the last finishes it
    assert len(ended) == 2, ended
    killed, _ = trial(template, op, tmp_path, point=len(names) + 1)
    assert not killed
