"""The compare screen against the issue's target, with a baseline measured in the same run.

redraw: the compare screen of 20 runs of 100,000 rows each (120x40), after a smoothing change (`]`, then `[`,
alternately): every series smoothed afresh at the new weight, downsampled, and every panel built by plotext
(`action_smoother` + each panel's `render()`). Baseline: the run screen of one such run, timed the same way in
the same process. Also reported: the same redraw with the runs grouped by a key and drawn as each group's mean
and min-max band (`G`), and the x axis changed (`x`, no new smoothing). Full garbage collections are taken out
of the medians and reported apart, amortized per redraw (as bench_app does); the CPU time of the app's thread is
reported beside the wall time (on a shared machine, wall time also holds what other processes took). Target:
< 100 ms per redraw.

The runs are generated in bench/out for reuse (training-like curves: a noisy decaying train/loss every row,
val/loss every 1,000, lr; each run with its own seed and learning rate); runyard's caches go to a temporary
folder.

    python bench/bench_compare_screen.py [--runs N] [--rows N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.bench_app import (  # noqa: E402 (the project goes on the path first)
    OUT,
    Figure,
    FullCollections,
    gc_share,
    generated,
    print_table,
    wait_until,
    without_gc,
)

COLS, LINES = 120, 40
LIMIT_MS = 100.0


def make_run(folder: Path, rows: int, seed: int) -> None:
    """One finished runyard run of `rows` rows: its own noise, learning rate and speed of decay."""
    import numpy as np
    import orjson

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lr = (1e-4, 3e-4, 1e-3, 3e-3)[seed % 4]
    progress = np.arange(rows) / rows
    trend = 0.9 + 2.5 * np.exp(-(3 + seed % 4) * progress) + 0.02 * (seed // 4)
    columns = {"time": 1.79e9 + np.cumsum(rng.random(rows) * 0.1), "train/loss": trend + rng.normal(0, 0.08, rows),
               "lr": lr * (1 + np.cos(np.pi * progress)) / 2}
    names, arrays, val = list(columns), [c.tolist() for c in columns.values()], (trend + 0.05).tolist()
    with open(folder / "metrics.jsonl", "wb") as fh:
        for step, values in enumerate(zip(*arrays, strict=True)):
            row = {"step": step, **dict(zip(names, values, strict=True))}
            if step % 1000 == 0:
                row["val/loss"] = val[step]
            fh.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
    name = f"sweep_lr{lr:g}_seed{seed // 4}"
    info = {"format": "runyard/1", "id": f"cmp{seed:02d}", "name": name, "status": "finished",
            "created": "2026-11-01T00:00:00+00:00", "ended": "2026-11-02T00:00:00+00:00", "heartbeat": None,
            "heartbeat_interval": 10.0, "host": "bench", "pid": 1, "tags": ["bench"], "restarts": []}
    (folder / "run.json").write_text(json.dumps(info))
    (folder / "config.yaml").write_text(f"lr: {lr}\nseed: {seed // 4}\nmax_steps: {rows}\n")
    (folder / "training.log").write_text("2026-11-01 00:00:00,000 - INFO - ==== run started ====\n")


def compare_root(runs: int, rows: int) -> Path:
    """A root of `runs` such runs (kept in bench/out)."""
    def build(root: Path) -> None:
        for i in range(runs):
            make_run(root / f"run{i:02d}", rows, i)

    return generated(OUT / f"compare_{runs}x{rows}", build)


def _render(screen) -> None:
    """Build every curve panel of the screen, as the next frame would."""
    from runyard.tui.widgets.metric_plot import MetricPanels

    for plot in screen.query_one(MetricPanels).plots:
        text = plot.render()
        if "cannot draw" in getattr(text, "plain", ""):
            raise RuntimeError(text.plain)


CPU: dict[str, list[float]] = {}  # thread CPU seconds of each timed redraw, by what was timed


async def _timed_redraws(pilot, screen, action, repeat: int, full: FullCollections, name: str
                         ) -> list[tuple[float, float]]:
    """(wall, full-GC) seconds of `repeat` redraws; their CPU seconds on this thread go to CPU[name] (on a shared
    machine the wall time also holds the time other processes had the core)."""
    samples, cpu = [], CPU.setdefault(name, [])
    for i in range(repeat):
        started = time.thread_time()
        samples.append(full.time(lambda i=i: (action(i), _render(screen))))
        cpu.append(time.thread_time() - started)
        await pilot.pause()
    return samples


async def _measure(root: Path, runs: int, repeat: int) -> dict:
    from runyard.tui.app import RunyardApp
    from runyard.tui.screens.compare import CompareScreen
    from runyard.tui.screens.run import RunScreen
    from runyard.tui.widgets.metric_plot import MetricPanels

    def smoother(screen):
        return lambda i: screen.action_smoother(0.1 if i % 2 == 0 else -0.1)

    app = RunyardApp(root, watch=False)
    out: dict = {}
    async with app.run_test(size=(COLS, LINES)) as pilot:
        await wait_until(pilot, lambda: app.first_scan_done and len(app.records) == runs, 120)
        records = sorted(app.records.values(), key=lambda r: r.info.name)
        with FullCollections() as full:
            # the baseline: one such run in the run screen
            t0 = time.perf_counter()
            app.open_runs(records[:1])
            await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.is_mounted
                             and all(live.loaded for live in app.screen.lives), 120)
            out["open_run_s"] = time.perf_counter() - t0
            screen = app.screen
            await pilot.pause()
            _render(screen)
            out["run_screen"] = await _timed_redraws(pilot, screen, smoother(screen), repeat, full, "run_screen")
            out["run_screen_panels"] = len(screen.query_one(MetricPanels).plots)
            app.pop_screen()
            await pilot.pause()

            # the compare screen of all of them
            t0 = time.perf_counter()
            app.open_compare(records)
            await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.is_mounted, 60)
            screen = app.screen
            await wait_until(pilot, lambda: screen.table is not None and screen.diff is not None
                             and all(live is not None and live.loaded for live in screen.lives), 300)
            out["open_compare_s"] = time.perf_counter() - t0
            screen.redraw()
            await pilot.pause()
            _render(screen)
            plots = screen.query_one(MetricPanels).plots
            out["panels"] = [plot.title for plot in plots]
            out["curves"] = sum(len(plot.traces) for plot in plots)
            out["points"] = sum(int(live.rows.step.size) for live in screen.lives)
            out["compare"] = await _timed_redraws(pilot, screen, smoother(screen), repeat, full, "compare")
            out["compare_x"] = await _timed_redraws(pilot, screen, lambda i: screen.action_cycle_x(), repeat, full,
                                                    "compare_x")
            while screen.x_axis != "step":
                screen.action_cycle_x()
            screen.group_key = "lr"
            screen.aggregated = True
            screen.redraw()
            _render(screen)
            out["compare_mean"] = await _timed_redraws(pilot, screen, smoother(screen), repeat, full, "compare_mean")
    return out


def main() -> int:
    """Run the benchmark, print the table and the check, write bench/out/bench_compare_screen.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    root = compare_root(args.runs, args.rows)
    with tempfile.TemporaryDirectory(prefix="bench_compare_") as tmp:
        os.environ["RUNYARD_CACHE_DIR"] = str(Path(tmp) / "cache")
        data = asyncio.run(_measure(root, args.runs, args.repeat))
    base = without_gc(data["run_screen"])
    label = f"{args.runs} runs x {args.rows:,}"
    figures = [
        Figure("redraw", f"compare, {label}, smoothing change", without_gc(data["compare"]), base, "ms", LIMIT_MS),
        Figure("redraw", f"compare, {label}, x axis change", without_gc(data["compare_x"]), base, "ms"),
        Figure("redraw", f"compare, {label}, by lr, mean+band, smoothing", without_gc(data["compare_mean"]), base,
               "ms"),
        Figure("redraw", "the same smoothing change, CPU of the app's thread", median(CPU["compare"]) * 1e3,
               median(CPU["run_screen"]) * 1e3, "ms"),
        Figure("redraw", "mean+band smoothing change, CPU of the app's thread", median(CPU["compare_mean"]) * 1e3,
               median(CPU["run_screen"]) * 1e3, "ms"),
        Figure("redraw", "full GC passes, per compare redraw", gc_share(data["compare"] + data["compare_mean"]),
               gc_share(data["run_screen"]), "ms"),
        Figure("open", "compare screen, all series read", data["open_compare_s"], data["open_run_s"], "s"),
    ]
    print(f"baseline: the run screen of one {args.rows:,}-row run ({data['run_screen_panels']} panel(s)), "
          f"{base:.1f} ms per smoothing change; compare: panels {data['panels']}, {data['curves']} curves, "
          f"{data['points']:,} rows")
    print_table(figures)
    checks = {f"{f.part}: {f.label} < {f.show(f.limit)}": f.value < f.limit for f in figures if f.limit is not None}
    for check, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISS'}] {check}")
    summary = [{"part": f.part, "figure": f.label, "value": f.value, "baseline": f.baseline, "unit": f.unit,
                "ratio": f.ratio, "target": f.limit} for f in figures]
    raw = {**data, "cpu_s": CPU}
    raw["medians_ms"] = {k: median(w for w, _ in v) * 1e3 for k, v in data.items()
                         if isinstance(v, list) and v and isinstance(v[0], tuple)}
    (OUT / "bench_compare_screen.json").write_text(json.dumps({"summary": summary, "checks": checks, "data": raw},
                                                              indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
