"""The runs table's size column: each run's bytes on disk, measured off the app's thread after the first paint,
shown as `du -h` does, sorted by bytes, measured again (throttled) as a run grows, the first column to give way."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import pytest

from runyard import path_usage
from runyard.tui.app import RunyardApp
from runyard.tui.live import manage
from runyard.tui.live.manage import SizeBook, human_size, run_paths
from runyard.tui.messages import FilesChanged
from runyard.tui.widgets.runs_table import COLUMN_KEYS, COLUMNS, NAME, cells_of, plan_layout
from tests.test_app import make_run, table, wait_for, wait_until

BLOCK = 4096


def same_size_anywhere(path: Path) -> int:
    """A run's size as a filesystem of 4 KiB blocks counts it, from apparent sizes: the same on any filesystem
    (snapshots must not depend on how the disk they run on allocates blocks)."""
    total = 0
    for top in run_paths(Path(path)):
        if not top.is_dir() or top.is_symlink():
            total += BLOCK * max(1, math.ceil(os.lstat(top).st_size / BLOCK))
            continue
        for where, _, files in os.walk(top):
            total += BLOCK  # the folder's own block
            for name in files:
                total += BLOCK * max(1, math.ceil(os.lstat(os.path.join(where, name)).st_size / BLOCK))
    return total


def same_sizes(root: Path, records: list) -> dict[str, int]:
    """`measure_runs` as `same_size_anywhere` counts: what the app shows of each run in a snapshot."""
    return {str(r.info.path): same_size_anywhere(r.info.path) for r in records}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def size_text(app, key: str) -> str:
    return cells_of(table(app).facts[key])[COLUMN_KEYS.index("size")][0][0]


def test_sizes_read_as_du_h_shows_them():
    assert [human_size(n) for n in (None, 0, 512, 4096, 12 * 1024, 340 << 20, int(1.2 * (1 << 30)), 5 << 40)] == \
        ["…", "0B", "512B", "4.0K", "12K", "340M", "1.2G", "5.0T"]
    assert human_size(10 * 1024 - 1) == "10K"  # never "10.0K": at most four characters


async def test_sizes_fill_in_after_the_first_paint_and_never_hold_it_up(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    runs = [make_run(root, name, 0.001).path for name in ("alpha", "beta")]
    (runs[1] / "big.bin").write_bytes(os.urandom(300_000))
    gate = threading.Event()
    measure_runs = manage.measure_runs

    def slow_measure(root: Path, records: list) -> dict[str, int]:
        gate.wait(10)
        return measure_runs(root, records)

    monkeypatch.setattr(manage, "measure_runs", slow_measure)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 2)
        await pilot.pause(0.2)
        assert [size_text(app, str(p)) for p in runs] == ["…", "…"]  # listed, sizes still being measured
        assert "size" in table(app).render_line(0).text
        gate.set()
        await wait_until(pilot, lambda: all(f.size is not None for f in table(app).facts.values()))
        for path in runs:
            assert table(app).facts[str(path)].size == path_usage(path).total  # on disk, as du counts
            assert size_text(app, str(path)) == human_size(path_usage(path).total)
        assert table(app).facts[str(runs[1])].size > 300_000


async def test_the_size_column_sorts_by_bytes_not_by_text(tmp_path):
    root = tmp_path / "runs"
    small, middle, big = (make_run(root, name, 0.001).path for name in ("small", "middle", "big"))
    (middle / "part.bin").write_bytes(os.urandom(200 * 1024))   # "2xxK" sorts above "1.xM" as text
    (big / "part.bin").write_bytes(os.urandom(1536 * 1024))
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 3
                       and all(f.size is not None for f in table(app).facts.values()))
        table(app).sort_by("size")  # largest first, as every number column starts
        order = [table(app).key_at(i) for i in range(3)]
        assert order == [str(big), str(middle), str(small)]
        assert size_text(app, str(big)).endswith("M") and size_text(app, str(middle)).endswith("K")
        table(app).sort_by("size")
        assert [table(app).key_at(i) for i in range(3)] == [str(small), str(middle), str(big)]


def test_the_size_column_is_the_first_to_give_way():
    natural = tuple(5 if c.key != "name" else 30 for c in COLUMNS)
    wide = plan_layout(sum(w + 1 for w in natural) + 1, natural)
    assert "size" in [COLUMN_KEYS[i] for i, _ in wide.columns]
    narrower = plan_layout(sum(w + 1 for w in natural) - 8, natural)  # the name is 7 short of all it needs
    shown = [COLUMN_KEYS[i] for i, _ in narrower.columns]
    assert "size" not in shown and "tags" in shown and NAME in [i for i, _ in narrower.columns]


def test_a_changing_run_is_measured_again_at_most_every_few_seconds():
    now = [100.0]
    book = SizeBook(every=5.0, clock=lambda: now[0])
    assert book.wanted(["a", "b"]) == ["a", "b"] and book.wanted(["a", "b", "c"]) == ["c"]  # asked once each
    assert book.got({"a": 10, "b": 20}) == {"a", "b"}
    book.changed(["a"])
    assert book.due() == []  # measured a moment ago
    now[0] += 5.0
    assert book.due() == ["a"] and book.due() == []  # asked for, not twice
    book.changed(["a"])  # changed again while being measured: measured once more, later
    assert book.got({"a": 10}) == set()  # same size: nothing to redraw
    now[0] += 5.0
    assert book.due() == ["a"]
    book.moved("b", "b2")
    assert book.get("b2") == 20 and book.get("b") is None


async def test_a_growing_run_gets_its_new_size(tmp_path):
    root = tmp_path / "runs"
    path = make_run(root, "growing", 0.001).path
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(160, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).facts.get(str(path)) is not None
                       and table(app).facts[str(path)].size is not None)
        before = table(app).facts[str(path)].size
        app.sizes.every = 0.0
        (path / "checkpoints").mkdir(exist_ok=True)
        (path / "checkpoints" / "step_1.pt").write_bytes(os.urandom(512 * 1024))
        app.post_message(FilesChanged({str(path / "checkpoints" / "step_1.pt")}, False))
        await wait_until(pilot, lambda: (table(app).facts[str(path)].size or 0) > before + 500_000)
        assert size_text(app, str(path)) == human_size(path_usage(path).total)
