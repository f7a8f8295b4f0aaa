"""A big run's first read in parts (`RunSource.metrics_upto`): the run screen draws what is read while the rest
loads, says how far it got, then follows the run as usual; a part never holds the turn of full reads."""

from __future__ import annotations

import re
import threading

import pytest

import runyard
from runyard.layouts.base import MetricColumns
from runyard.layouts.runyard import RunyardSource
from runyard.tui.app import RunyardApp
from runyard.tui.live import runstate
from runyard.tui.live.runstate import LiveRun, Snapshot
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.metric_plot import MetricPlot

from .test_app import wait_for, wait_until

STEPS = 40


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def make_run(root, name="big"):
    run = runyard.init(name, root=root, config={"max_steps": 100}, console=False, system_metrics=False)
    for s in range(STEPS):
        run.log({"train/loss": 3.0 - s * 0.05}, step=s)
    run.finish()
    return next(p for p in root.iterdir() if p.name.startswith(name))


class Parted:
    """`metrics_upto` in parts for runyard runs: a quarter of the rows per part, `complete` only with the last.

    `budgets` records what each call asked for; `gate`, when set up, holds every part after the first until
    the test opens it; `turn_free` records whether the full reads' turn was free between parts.
    """

    def __init__(self, monkeypatch, gated: bool = False) -> None:
        self.budgets: list[int] = []
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.calls: dict[int, int] = {}
        parted = self

        def metrics_upto(source, budget):
            parted.budgets.append(budget)
            done = parted.calls[id(source)] = parted.calls.get(id(source), 0) + 1
            if done > 1:
                assert parted.gate.wait(30)
            data = source.metrics_data()
            if done >= 4:
                return data
            n = len(data) * done // 4
            return MetricColumns(data.step[:n], data.time[:n],
                                 {k: (v[:n], None if data.logged[k] is None else data.logged[k][:n])
                                  for k, v in data.values.items()}, end=0, complete=False)

        monkeypatch.setattr(RunyardSource, "metrics_upto", metrics_upto)


def test_a_first_read_comes_in_parts_without_holding_the_turn(tmp_path, monkeypatch):
    run_dir = make_run(tmp_path / "runs")
    parted = Parted(monkeypatch)
    record = runyard.read_record(runyard.find_source(run_dir))
    live = LiveRun(record.open())
    firsts: list[Snapshot] = []
    free: list[bool] = []

    def part(snapshot: Snapshot) -> None:
        firsts.append(snapshot)
        took = runstate._FULL_READS.acquire(blocking=False)  # between parts another run may read
        free.append(took)
        if took:
            runstate._FULL_READS.release()

    last = live.read(full=True, part=part)
    assert [len(s.rows) for s in firsts] == [STEPS // 4, STEPS // 2, 3 * STEPS // 4]
    assert all(s.loading is not None and 0 <= s.loading < 1 for s in firsts)
    assert [s.loading for s in firsts] == sorted(s.loading for s in firsts)
    assert free == [True, True, True]
    assert isinstance(last, Snapshot) and last.loading is None and len(last.rows) == STEPS
    assert last.tailed == "metrics.jsonl"  # then followed row by row, as any runyard run
    first = runstate.FIRST_PART
    assert parted.budgets == [first, first * 4, first * 16, min(first * 64, runstate.LAST_PART)]
    for snapshot in [*firsts, last]:
        live.apply(snapshot)
    assert live.loading is None and len(live.series["train/loss"]) == STEPS
    # a read after the first is never in parts: a full read again replaces the curves at once
    again = live.read(full=True, part=part)
    assert isinstance(again, Snapshot) and len(firsts) == 3 and len(again.rows) == STEPS
    live.close()


async def test_the_run_screen_draws_the_first_part_then_the_whole_run(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    run_dir = make_run(root)
    parted = Parted(monkeypatch, gated=True)
    total = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())
    monkeypatch.setattr(runstate, "FIRST_PART", max(1, total // 3))  # a share below 100% to show
    app = RunyardApp(root, open_path=run_dir, watch=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted, 20)
        screen = app.screen
        plot = screen.query_one(MetricPlot)
        title = screen.query_one("#run-title")
        # the first part is drawn while the rest waits, and the title says it is still loading
        await wait_until(pilot, lambda: plot.traces and len(plot.traces[0].y) == STEPS // 4, 20)
        await wait_until(pilot, lambda: "loading" in str(title.render()), 10)
        assert re.search(r"loading \d{1,2}%", str(title.render()))
        live = app.live[str(run_dir)]
        assert live.loading is not None and live.last_step() == STEPS // 4 - 1
        parted.gate.set()
        await wait_until(pilot, lambda: plot.traces and len(plot.traces[0].y) == STEPS, 20)
        await wait_until(pilot, lambda: "loading" not in str(title.render()), 10)
        assert live.loading is None and live.tailed == "metrics.jsonl"
        assert f"step {STEPS - 1}" in str(title.render())
        # then followed row by row: an appended row arrives without another full read
        await wait_for(app, pilot)
        assert parted.calls == {id(live.view.source): 4}


async def test_a_run_opened_directly_shows_before_any_read_of_all_its_rows(tmp_path, monkeypatch):
    """`runyard path/to/run`: the screen opens on the run's info and config; what reads every row (its metric
    summary, its series) comes behind it."""
    root = tmp_path / "runs"
    run_dir = make_run(root)
    gate = threading.Event()
    whole = RunyardSource.metrics_data

    def metrics_data(source):
        assert gate.wait(30)
        return whole(source)

    monkeypatch.setattr(RunyardSource, "metrics_data", metrics_data)
    monkeypatch.setattr(RunyardSource, "own_summary", lambda source: None)  # the summary reads every row
    app = RunyardApp(root, open_path=run_dir, watch=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted, 20)
        assert not gate.is_set() and app.screen.records[0].info.name == "big"
        gate.set()
        plot = app.screen.query_one(MetricPlot)
        await wait_until(pilot, lambda: plot.traces and len(plot.traces[0].y) == STEPS, 20)
        await wait_until(pilot, lambda: "train/loss" in app.records[str(run_dir)].summary, 20)
