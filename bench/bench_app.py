"""The runyard app (tui/) against the issue's targets, each figure with a baseline measured in the same run.

1. startup: wall time from launching `runyard ROOT` (1,000 runs) in a 120x40 tmux terminal until the title
   says "1000 runs" and the table's rows are on screen, cold (empty runyard cache; the OS page cache is warm)
   and warm. Baseline: a minimal Textual app (one Static, a 1-row DataTable) in the same terminal, i.e. Python
   + Textual start-up. Both after an untimed first launch, with bytecode cached as an installed app has it.
   Target: < 1.5 s.
2. latency: in-process (`run_test`, real watcher), from `run.log()` returning to the row's step being in the
   runs table's facts, and in the run screen's live series. Baseline: a `MetricsTail` polled every 5 ms by the
   benchmark, interleaved sample by sample. Target: median < 0.5 s (the watcher coalesces for 0.2 s by design).
3. redraw: a run screen on a 1,000,000-row run (120x40): one point appended to every series, then
   `screen.redraw()` + the plot's `render()` (traces rebuilt, downsampled, drawn by plotext), and a cursor move
   (cached points). Baseline: plotext's build (+ the widget's ANSI parse) of the very figure drawn, timed
   right after each redraw: the irreducible drawing cost. Full garbage collections (they fall on every other
   redraw or so, in phase with the loop) are taken out of the medians and reported apart, amortized per
   redraw. Target: < 50 ms per redraw, checked on training-like curves; white noise (bench_read's big run) is
   reported as the worst case: plotext's cost grows with the lines' lengths.
4. cpu: the app in tmux following 100 live runs that a writer process logs to twice a second each, spread
   evenly. Baselines: the same app while the writer is paused (no new rows, heartbeats go on) and the writer's
   own CPU. Also checks that the steps on screen keep increasing. Target: < 10% of one core.
5. memory: RSS of a fresh process (spawned) holding the app with 10,000 runs listed and three 1,000,000-row
   runs open in one run screen, as is and after pyarrow's pool releases what its allocator kept from the loads
   (it keeps 0-250 MB, by chance). Baseline: RSS of that process after importing textual, pandas and pyarrow
   and running an empty App. Target: < 500 MB.

Generated trees and runs are kept in bench/out for reuse; runyard's caches go to a temporary folder.

    python bench/bench_app.py [--only startup|latency|redraw|cpu|memory ...] [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean, median, quantiles
from typing import Any

import psutil

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
OUT = PROJECT / "bench" / "out"
RUNYARD = Path(sys.executable).parent / "runyard"
COLS, LINES = 120, 40
SCREEN_POLL = 0.02   # seconds between tmux captures
PARTS = ("startup", "latency", "redraw", "cpu", "memory")

FLOOR_APP = textwrap.dedent("""\
    from textual.app import App
    from textual.widgets import DataTable, Static


    class Floor(App):
        def compose(self):
            yield Static("floor ready")
            yield DataTable()

        def on_mount(self):
            table = self.query_one(DataTable)
            table.add_columns("name", "value")
            table.add_row("floor-row", "1")


    Floor().run()
""")

# 100 live runs, each logging twice a second at its own phase; no rows while the pause file exists; gone with
# the benchmark, even if that was killed.
WRITER = textwrap.dedent("""\
    import os, sys, time
    from pathlib import Path

    import runyard

    root, count, pause, ready = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    parent = os.getppid()
    runs = [runyard.init(f"live{i:03d}", root=root, console=False, system_metrics=False) for i in range(count)]
    steps = [0] * count
    for run in runs:
        run.log({"train/loss": 1.0, "lr": 1e-3}, step=0)
    ready.touch()
    period, due, paused = 0.5 / count, time.monotonic(), False
    while os.getppid() == parent:
        for i, run in enumerate(runs):
            due += period
            time.sleep(max(0.0, due - time.monotonic()))
            if not paused:
                steps[i] += 1
                run.log({"train/loss": 1.0 / (steps[i] + 1), "lr": 1e-3}, step=steps[i])
        paused = pause.exists()
""")


@dataclass
class Figure:
    """One reported number, its same-run baseline, and the target it must stay under (if any)."""

    part: str
    label: str
    value: float
    baseline: float | None
    unit: str
    limit: float | None = None

    @property
    def ratio(self) -> float | None:
        """How many times the baseline the figure is (None without a baseline)."""
        return self.value / self.baseline if self.baseline else None

    def show(self, value: float | None) -> str:
        """`value` in this figure's unit, for the table."""
        if value is None:
            return "-"
        formats = {"s": "{:.3f} s", "ms": "{:.1f} ms", "%": "{:.1f} %", "MB": "{:.0f} MB"}
        return formats[self.unit].format(value)


def p90(xs: list[float]) -> float:
    """The 90th percentile: how bad the slow tenth gets."""
    return quantiles(xs, n=10)[-1] if len(xs) > 1 else xs[0]


# ----- generated data (kept in bench/out) ---------------------------------------------------------------------

def generated(target: Path, build: Callable[[Path], None]) -> Path:
    """`target`, built once through a `.partial` folder so an interrupted build is never reused."""
    if not target.exists():
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        print(f"  generating {target} (kept for later runs)...", flush=True)
        build(partial)
        partial.rename(target)
    return target


def tree_of(runs: int, rows: int) -> Path:
    """bench_read's tree of `runs` finished runs of `rows` rows."""
    from bench.bench_read import make_tree

    return generated(OUT / f"tree_{runs}x{rows}", lambda p: make_tree(p, runs, rows))


def make_curves(folder: Path, rows: int) -> None:
    """Training-like metrics.jsonl: noisy decaying train/loss, lr and tokens_per_sec every row, val/loss every 1,000."""
    import numpy as np
    import orjson

    rng = np.random.default_rng(0)
    progress = np.arange(rows) / rows
    trend = 1.0 + 2.5 * np.exp(-5 * progress)
    columns = {"time": 1.79e9 + np.cumsum(rng.random(rows) * 0.1), "train/loss": trend + rng.normal(0, 0.08, rows),
               "lr": 1.5e-4 * (1 + np.cos(np.pi * progress)), "tokens_per_sec": rng.normal(9e4, 2e3, rows)}
    names, arrays, val = list(columns), [c.tolist() for c in columns.values()], (trend + 0.05).tolist()
    with open(folder / "metrics.jsonl", "wb") as fh:
        for step, values in enumerate(zip(*arrays, strict=True)):
            row = {"step": step, **dict(zip(names, values, strict=True))}
            if step % 1000 == 0:
                row["val/loss"] = val[step]
            fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def make_noise(folder: Path, rows: int) -> None:
    """bench_read's metrics.jsonl: four uniform white-noise metrics, the worst case for line drawing."""
    from bench.bench_read import make_big_run

    make_big_run(folder, rows)
    (folder / "metrics.csv").unlink()


def big_root(rows: int, kind: str = "curves") -> Path:
    """A root holding one finished runyard run `big` of `rows` rows, of training-like curves or white noise."""
    def build(root: Path) -> None:
        run = root / "big"
        run.mkdir(parents=True)
        (make_curves if kind == "curves" else make_noise)(run, rows)
        info = {"format": "runyard/1", "id": "big", "name": "big", "status": "finished",
                "created": "2026-11-01T00:00:00+00:00", "ended": "2026-11-02T00:00:00+00:00", "heartbeat": None,
                "heartbeat_interval": 10.0, "host": "bench", "pid": 1, "tags": ["bench"], "restarts": []}
        (run / "run.json").write_text(json.dumps(info))
        (run / "training.log").write_text("2026-11-01 00:00:00,000 - INFO - ==== run started ====\n")

    return generated(OUT / f"app_{kind}_{rows}", build)


def memory_root(runs: int, rows: int) -> Path:
    """`runs` runs of 500 rows plus three `rows`-row runs (big0..2) under one root, hard-linked from the others."""
    def build(root: Path) -> None:
        shutil.copytree(tree_of(runs, 500), root, copy_function=os.link)
        for i in range(3):
            shutil.copytree(big_root(rows) / "big", root / f"big{i}", copy_function=os.link)

    return generated(OUT / f"app_mem_{runs}_{rows}", build)


# ----- a private tmux server ----------------------------------------------------------------------------------

class Tmux:
    """A tmux server on its own socket, without user config; `close` ends every session and process in it."""

    def __init__(self, tmp: Path) -> None:
        self.socket = f"runyard-bench-{os.getpid()}"
        self.tmp = tmp
        # bytecode cached (here, not in the repo) as an installed app has it, whatever PYTHONDONTWRITEBYTECODE says
        self.env = {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
        self.sessions: set[str] = set()
        self._count = 0
        self("start-server", ";", "set-option", "-g", "exit-empty", "off",
             ";", "set-option", "-g", "remain-on-exit", "on")
        self.socket_path = Path(self("display-message", "-p", "#{socket_path}").strip())

    def __call__(self, *args: str) -> str:
        """Run one tmux command on this server; its stdout."""
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True, text=True,
                              check=True, timeout=10).stdout

    def __enter__(self) -> Tmux:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def launch(self, argv: list[str], env: dict[str, str]) -> tuple[str, float]:
        """Start `argv` in a new COLSxLINES session (its shell records the pid, then execs it): (name, start)."""
        self._count += 1
        name = f"s{self._count}"
        command = f"echo $$ > {shlex.quote(str(self.tmp / f'{name}.pid'))}; exec {shlex.join(argv)}"
        options = [a for key, value in {**self.env, **env}.items() for a in ("-e", f"{key}={value}")]
        t0 = time.perf_counter()
        self("new-session", "-d", "-s", name, "-x", str(COLS), "-y", str(LINES), *options, command)
        self.sessions.add(name)
        return name, t0

    def screen(self, name: str) -> str:
        """What the session's pane shows now, as text."""
        return self("capture-pane", "-p", "-t", name)

    def pid(self, name: str) -> int:
        """The pid of the program started in the session."""
        return int((self.tmp / f"{name}.pid").read_text())

    def wait_screen(self, name: str, t0: float, ready: Callable[[str], bool], timeout: float = 30.0) -> float:
        """Seconds from `t0` until a capture of the pane satisfies `ready`."""
        while True:
            text = self.screen(name)
            elapsed = time.perf_counter() - t0
            if ready(text):
                return elapsed
            if elapsed > timeout:
                raise TimeoutError(f"screen not ready after {timeout:.0f} s; it shows:\n{text}")
            time.sleep(SCREEN_POLL)

    def stop(self, name: str) -> None:
        """Kill the session and make sure its process is gone before the next measurement."""
        pid = None
        with contextlib.suppress(OSError, ValueError):
            pid = self.pid(name)
        subprocess.run(["tmux", "-L", self.socket, "kill-session", "-t", name], capture_output=True, timeout=10)
        self.sessions.discard(name)
        if pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc = psutil.Process(pid)
                try:
                    proc.wait(5)
                except psutil.TimeoutExpired:
                    proc.kill()

    def close(self) -> None:
        """Stop every session left, then the server, and remove its socket."""
        for name in list(self.sessions):
            self.stop(name)
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)
        self.socket_path.unlink(missing_ok=True)


# ----- 1. startup ---------------------------------------------------------------------------------------------

def table_ready(runs: int) -> Callable[[str], bool]:
    """The title counts every run and the table's rows fill the screen (or all runs are shown)."""
    def ready(text: str) -> bool:
        rows = sum(" finished " in line for line in text.splitlines())
        return f" {runs} runs " in text and rows >= min(20, runs)

    return ready


def preview_ready(text: str) -> bool:
    """The preview pane has drawn its plot (axis ticks)."""
    return "┤" in text


def bench_startup(tmp: Path, runs: int, repeat: int) -> tuple[dict, list[Figure]]:
    """Launch to full screen, cold and warm, interleaved with the floor app's launch to screen."""
    tree = tree_of(runs, 200)
    floor_py = tmp / "floor_app.py"
    floor_py.write_text(FLOOR_APP)
    floor_cmd, app_cmd = [sys.executable, str(floor_py)], [str(RUNYARD), str(tree)]
    warm_env = {"RUNYARD_CACHE_DIR": str(tmp / "startup-warm")}
    ready = table_ready(runs)
    floor, cold, warm, cold_preview, warm_preview = [], [], [], [], []
    with Tmux(tmp) as tmux:

        def floor_once() -> float:
            """Seconds until the floor app shows its Static and its row."""
            name, t0 = tmux.launch(floor_cmd, {})
            try:
                return tmux.wait_screen(name, t0, lambda s: "floor ready" in s and "floor-row" in s)
            finally:
                tmux.stop(name)

        def app_once(env: dict[str, str]) -> tuple[float, float]:
            """Seconds until the runs table is on screen, and until the preview plot is too."""
            name, t0 = tmux.launch(app_cmd, env)
            try:
                return tmux.wait_screen(name, t0, ready), tmux.wait_screen(name, t0, preview_ready)
            finally:
                tmux.stop(name)

        floor_once()
        app_once(warm_env)  # untimed: fills the warm cache, compiles bytecode, pages the tree in
        for i in range(repeat):
            floor.append(floor_once())
            table, preview = app_once({"RUNYARD_CACHE_DIR": str(tmp / f"startup-cold-{i}")})
            cold.append(table)
            cold_preview.append(preview)
            table, preview = app_once(warm_env)
            warm.append(table)
            warm_preview.append(preview)
    data = {"runs": runs, "repeat": repeat, "floor_s": floor, "cold_s": cold, "warm_s": warm,
            "cold_preview_s": cold_preview, "warm_preview_s": warm_preview}
    base = median(floor)
    return data, [
        Figure("startup", f"cold, {runs} runs on screen", median(cold), base, "s", 1.5),
        Figure("startup", f"warm, {runs} runs on screen", median(warm), base, "s", 1.5),
        Figure("startup", "cold, preview plot drawn too", median(cold_preview), base, "s"),
        Figure("startup", "warm, preview plot drawn too", median(warm_preview), base, "s"),
    ]


# ----- 2. latency ---------------------------------------------------------------------------------------------

async def wait_until(pilot: Any, done: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run (5 ms pauses) until `done()` holds."""
    end = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > end:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(0.005)


def tail_saw(tail: Any, step: int) -> Callable[[], bool]:
    """A check that reads what the tail has gained and says whether a row of `step` was among it."""
    return lambda: any(row.get("step") == step for row in tail.read().rows)


async def sample_latencies(pilot: Any, run: Any, tail: Any, steps: list[int],
                           shown: Callable[[int], bool]) -> tuple[list[float], list[float]]:
    """Per step pair: a row timed to the tail (baseline), then a row timed to `shown`; the app settles between."""
    rng = random.Random(0)
    app_times, tail_times = [], []
    for k in steps:
        t0 = time.perf_counter()
        run.log({"train/loss": 1.0 / k}, step=2 * k)
        await wait_until(pilot, tail_saw(tail, 2 * k))
        tail_times.append(time.perf_counter() - t0)
        await wait_until(pilot, lambda k=k: shown(2 * k))
        await pilot.pause(rng.uniform(0.02, 0.1))
        t0 = time.perf_counter()
        run.log({"train/loss": 1.0 / k}, step=2 * k + 1)
        await wait_until(pilot, lambda k=k: shown(2 * k + 1))
        app_times.append(time.perf_counter() - t0)
        tail.read()
        await pilot.pause(rng.uniform(0.02, 0.1))
    return app_times, tail_times


async def _latency(root: Path, samples: int) -> dict:
    """One live run followed by the app: latencies in the runs table, then in its run screen."""
    import runyard
    from runyard.reading.tail import MetricsTail
    from runyard.tui.app import RunyardApp
    from runyard.tui.screens.run import RunScreen
    from runyard.tui.widgets.runs_table import RunsTable

    run = runyard.init("live", root=root, console=False, system_metrics=False)
    try:
        run.log({"train/loss": 1.0}, step=0)
        key, metrics = str(run.path), run.path / "metrics.jsonl"
        tail = MetricsTail(metrics, offset=metrics.stat().st_size)
        app = RunyardApp(root)
        async with app.run_test(size=(COLS, LINES)) as pilot:
            table = app.screen.query_one(RunsTable)
            await wait_until(pilot, lambda: key in table.facts and table.facts[key].last_step == 0, 30)
            in_table, tail_a = await sample_latencies(
                pilot, run, tail, list(range(1, samples + 1)), lambda k: table.facts[key].last_step == k)
            await pilot.press("enter")
            await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted)
            screen = app.screen
            in_run, tail_b = await sample_latencies(
                pilot, run, tail, list(range(samples + 1, 2 * samples + 1)),
                lambda k: screen.lives[0].last_step() == k)
        tail.close()
    finally:
        run.finish()
    return {"table_s": in_table, "run_screen_s": in_run, "tail_s": tail_a + tail_b}


def bench_latency(tmp: Path, samples: int) -> tuple[dict, list[Figure]]:
    """Row to runs table and to run screen, against a 5 ms tail poll."""
    root = tmp / "latency-root"
    root.mkdir()
    data = asyncio.run(_latency(root, samples))
    base = median(data["tail_s"])
    ms = {k: [x * 1e3 for x in v] for k, v in data.items()}
    return data, [
        Figure("latency", "row to runs table, median", median(ms["table_s"]), base * 1e3, "ms", 500),
        Figure("latency", "row to runs table, p90", p90(ms["table_s"]), p90(ms["tail_s"]), "ms"),
        Figure("latency", "row to run screen, median", median(ms["run_screen_s"]), base * 1e3, "ms", 500),
        Figure("latency", "row to run screen, p90", p90(ms["run_screen_s"]), p90(ms["tail_s"]), "ms"),
    ]


# ----- 3. redraw ----------------------------------------------------------------------------------------------

class FullCollections:
    """Seconds the garbage collector spends in full (generation 2) passes, seen through `gc.callbacks`."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        """gc's hook, called at the start and the stop of every collection."""
        if info["generation"] == 2:
            if phase == "start":
                self._start = time.perf_counter()
            else:
                self.seconds += time.perf_counter() - self._start

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    def time(self, fn: Callable[[], object]) -> tuple[float, float]:
        """(wall seconds of `fn()`, the part of them spent in full collections)."""
        before, t0 = self.seconds, time.perf_counter()
        fn()
        return time.perf_counter() - t0, self.seconds - before


def build_time(plot: Any, full: FullCollections) -> tuple[float, float]:
    """plotext's build of the figure just drawn, and the widget's parse of it: the irreducible part."""
    from rich.text import Text

    plot._draw()
    plot.plt.plotsize(plot.size.width, plot.size.height)
    return full.time(lambda: Text.from_ansi(plot.plt.build()))


async def _redraw(root: Path, repeat: int) -> dict:
    """The run screen of the one run under `root`: timed redraws after new data and after cursor moves."""
    from runyard.tui.app import RunyardApp
    from runyard.tui.screens.run import RunScreen
    from runyard.tui.widgets.metric_plot import MetricPlot

    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(COLS, LINES)) as pilot:
        await wait_until(pilot, lambda: app.first_scan_done, 60)
        t0 = time.perf_counter()
        app.open_runs(list(app.records.values()))
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted
                         and all(live.loaded for live in app.screen.lives), 120)  # series are read off-thread
        await pilot.pause()
        opened = time.perf_counter() - t0
        screen = app.screen
        plot, live = screen.query_one(MetricPlot), screen.lives[0]
        new_data, new_floor, cursor, cursor_floor = [], [], [], []
        with FullCollections() as full:
            for _ in range(repeat):
                row = len(live.rows)  # one new logged row, as LiveRun.poll adds it
                live.rows.step.extend([live.rows.step.view[-1] + 1])
                live.rows.time.extend([live.rows.time.view[-1] + 0.05])
                for series in live.series.values():
                    series.append([row], [series.value.view[-1]])
                new_data.append(full.time(lambda: (screen.redraw(), plot.render())))
                new_floor.append(build_time(plot, full))
                await pilot.pause()
                cursor.append(full.time(lambda: (screen.action_move_cursor(-1), plot.render())))
                cursor_floor.append(build_time(plot, full))
                await pilot.pause()
        drawn = plot.render().plain
        if "cannot draw" in drawn:
            raise RuntimeError(drawn)
        size, points = list(plot.size), [t.prepared(max(10, plot.size.width))[0].x.size for t in plot.traces]
    return {"rows": len(live.rows), "plot_size": size, "points_per_curve": points, "open_s": opened,
            "new_data": new_data,
            "new_data_floor": new_floor, "cursor": cursor, "cursor_floor": cursor_floor}


def without_gc(samples: list[tuple[float, float]]) -> float:
    """Median milliseconds of the samples, full collections taken out."""
    return median([wall - collecting for wall, collecting in samples]) * 1e3


def gc_share(samples: list[tuple[float, float]]) -> float:
    """Milliseconds of full collections per sample, on average."""
    return fmean(collecting for _, collecting in samples) * 1e3


def bench_redraw(rows: int, repeat: int) -> tuple[dict, list[Figure]]:
    """Redraws of a `rows`-point run screen, training-like and white noise, against plotext's own share."""
    data = {kind: asyncio.run(_redraw(big_root(rows, kind), repeat)) for kind in ("curves", "noise")}
    figures = []
    for kind, label, limit in (("curves", "training curves", 50), ("noise", "white noise", None)):
        d = data[kind]
        figures += [
            Figure("redraw", f"{label}, new data + smoothing", without_gc(d["new_data"]),
                   without_gc(d["new_data_floor"]), "ms", limit),
            Figure("redraw", f"{label}, cursor move (cached points)", without_gc(d["cursor"]),
                   without_gc(d["cursor_floor"]), "ms", limit),
            Figure("redraw", f"{label}, full GC passes, per redraw", gc_share(d["new_data"] + d["cursor"]),
                   gc_share(d["new_data_floor"] + d["cursor_floor"]), "ms"),
            Figure("redraw", f"{label}, opening the run screen", d["open_s"], None, "s"),
        ]
    return data, figures


# ----- 4. cpu -------------------------------------------------------------------------------------------------

def cpu_percent(procs: list[psutil.Process], seconds: float) -> list[float]:
    """Each process's CPU (user + system, all threads) over `seconds` of wall time, in % of one core."""
    before = [sum(p.cpu_times()[:2]) for p in procs]
    t0 = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    return [100 * (sum(p.cpu_times()[:2]) - b) / wall for p, b in zip(procs, before, strict=True)]


def steps_on_screen(text: str) -> int:
    """The highest step shown in a running row of the runs table."""
    found = [int(m.replace(",", "")) for m in re.findall(r"running\s+live\d+\s+([\d,]+)\s", text)]
    return max(found, default=-1)


def bench_cpu(tmp: Path, runs: int, window: float) -> tuple[dict, list[Figure]]:
    """The app's CPU following `runs` live runs, alternating windows of writing and of a paused writer."""
    root, pause, ready = tmp / "cpu-root", tmp / "cpu-pause", tmp / "cpu-writer-ready"
    writer_py = tmp / "writer.py"
    writer_py.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    writer = subprocess.Popen([sys.executable, str(writer_py), str(root), str(runs), str(pause), str(ready)], env=env)
    live, paused, writing, advanced = [], [], [], []
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if writer.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the writer did not start its {runs} runs (exit status {writer.poll()})")
            time.sleep(0.1)
        with Tmux(tmp) as tmux:
            name, t0 = tmux.launch([str(RUNYARD), str(root)], {"RUNYARD_CACHE_DIR": str(tmp / "cpu-cache")})
            tmux.wait_screen(name, t0, lambda s: f"{runs} running" in s, 60)
            time.sleep(5)  # settle_status: live series loaded, watches added
            app, wproc = psutil.Process(tmux.pid(name)), psutil.Process(writer.pid)
            for _ in range(2):
                pause.unlink(missing_ok=True)
                time.sleep(2)
                first = steps_on_screen(tmux.screen(name))
                app_pct, writer_pct = cpu_percent([app, wproc], window)
                advanced.append(steps_on_screen(tmux.screen(name)) > first >= 0)
                live.append(app_pct)
                writing.append(writer_pct)
                pause.touch()
                time.sleep(2)
                paused += cpu_percent([app], window)
    finally:
        writer.terminate()
        try:
            writer.wait(10)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()
    data = {"runs": runs, "window_s": window, "app_live_pct": live, "app_paused_pct": paused,
            "writer_pct": writing, "screen_advanced": advanced}
    return data, [
        Figure("cpu", f"app, {runs} runs logging 2/s", fmean(live), fmean(paused), "%", 10),
        Figure("cpu", "app vs the writer's own CPU", fmean(live), fmean(writing), "%"),
        Figure("cpu", "app, writer paused", fmean(paused), None, "%"),
    ]


# ----- 5. memory ----------------------------------------------------------------------------------------------

def rss_mb() -> float:
    """This process's resident memory, in MiB."""
    return psutil.Process().memory_info().rss / 2**20


async def _empty_app_rss() -> float:
    """RSS with textual, pandas and pyarrow imported and an empty App running: the floor."""
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    from textual.app import App

    async with App().run_test(size=(COLS, LINES)) as pilot:
        await pilot.pause()
        return rss_mb()


async def _app_rss(root: Path, expected: int, rows: int) -> dict:
    """RSS with every run listed, then with big0..2 open in one run screen (as is, then with arrow's pool trimmed)."""
    import pyarrow

    from runyard.tui.app import RunyardApp
    from runyard.tui.screens.run import RunScreen
    from runyard.tui.widgets.runs_table import RunsTable

    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(COLS, LINES)) as pilot:
        await wait_until(pilot, lambda: app.first_scan_done and app.screen.query_one(RunsTable).row_count == expected,
                         300)
        listed = rss_mb()
        app.open_runs([app.records[str(root / f"big{i}")] for i in range(3)])
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted
                         and all(live.loaded for live in app.screen.lives), 300)  # series are read off-thread
        await pilot.pause()
        loaded = [max(len(s) for s in live.series.values()) for live in app.screen.lives]
        if loaded != [rows] * 3:
            raise RuntimeError(f"the big runs loaded {loaded} rows, not {rows}")
        opened = rss_mb()
        pyarrow.default_memory_pool().release_unused()  # its allocator may keep the loads' freed pages, or not
        return {"listed_mb": listed, "open_mb": opened, "released_mb": rss_mb()}


def measure_memory(root: str, expected: int, rows: int, cache: str) -> dict:
    """In a fresh (spawned) process: the baseline RSS, then the app's."""
    import resource

    os.environ["RUNYARD_CACHE_DIR"] = cache
    base = asyncio.run(_empty_app_rss())
    result = asyncio.run(_app_rss(Path(root), expected, rows))
    return {"baseline_mb": base, **result, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench_memory(tmp: Path, runs: int, rows: int) -> tuple[dict, list[Figure]]:
    """RSS with `runs` runs listed and three `rows`-row runs open, measured in a fresh process."""
    root = memory_root(runs, rows)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        data = pool.submit(measure_memory, str(root), runs + 3, rows, str(tmp / "memory-cache")).result()
    base = data["baseline_mb"]
    return data, [
        Figure("memory", f"{runs:,} runs listed, 3 x {rows:,} rows open", data["open_mb"], base, "MB", 500),
        Figure("memory", "same, pyarrow's unused pool released", data["released_mb"], base, "MB"),
        Figure("memory", f"{runs:,} runs listed, nothing open", data["listed_mb"], base, "MB"),
        Figure("memory", "peak RSS of the process", data["peak_mb"], base, "MB"),
    ]


# ----- main ---------------------------------------------------------------------------------------------------

def run_part(part: str, tmp: Path, quick: bool, repeat: int) -> tuple[dict, list[Figure]]:
    """One part at the issue's sizes, or at smoke-run sizes with `quick`."""
    if part == "startup":
        return bench_startup(tmp, 200 if quick else 1000, repeat)
    if part == "latency":
        return bench_latency(tmp, 8 if quick else 30)
    if part == "redraw":
        return bench_redraw(100_000 if quick else 1_000_000, 5 if quick else 15)
    if part == "cpu":
        return bench_cpu(tmp, 20 if quick else 100, 3.0 if quick else 10.0)
    return bench_memory(tmp, 1000 if quick else 10_000, 100_000 if quick else 1_000_000)


def print_table(figures: list[Figure]) -> None:
    """Every figure with its baseline, ratio and target, one line each."""
    print(f"{'part':8s} {'figure':44s} {'value':>10s} {'baseline':>10s} {'ratio':>8s}  target")
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        target = f"< {f.show(f.limit)}" if f.limit is not None else ""
        print(f"{f.part:8s} {f.label:44s} {f.show(f.value):>10s} {f.show(f.baseline):>10s} {ratio:>8s}  {target}")


def main() -> int:
    """Run the chosen parts, print the table and checks, write bench/out/bench_app.json; 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--repeat", type=int, default=None, help="start-ups per kind (default 5, quick 2)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (tmux, writer) as on Ctrl-C
    parts = args.only or list(PARTS)
    repeat = args.repeat or (2 if args.quick else 5)
    OUT.mkdir(exist_ok=True)
    results: dict[str, dict] = {}
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench_app_") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["RUNYARD_CACHE_DIR"] = str(tmp / "cache")
        for part in parts:
            print(f"{part} ...", flush=True)
            folder = tmp / part
            folder.mkdir()
            results[part], found = run_part(part, folder, args.quick, repeat)
            figures += found
    print_table(figures)
    checks = {f"{f.part}: {f.label} < {f.show(f.limit)}": f.value < f.limit for f in figures if f.limit is not None}
    if "cpu" in results:
        checks["cpu: steps on screen kept increasing"] = all(results["cpu"]["screen_advanced"])
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISS'}] {label}")
    summary = [{"part": f.part, "figure": f.label, "value": f.value, "baseline": f.baseline, "unit": f.unit,
                "ratio": f.ratio, "target": f.limit} for f in figures]
    (OUT / "bench_app.json").write_text(json.dumps({"quick": args.quick, "parts": results, "summary": summary,
                                                    "checks": checks}, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
