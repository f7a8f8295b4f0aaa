"""Cost of logging 3 scalars per step for 100,000 steps: runyard's tracker against two references.

Baseline: one `json.dumps` line per call to a line-buffered file (the cheapest durable-enough JSONL logger).
Reference: `torch.utils.tensorboard.SummaryWriter.add_scalar`, 3 calls per step. Tracker and baseline run
interleaved in chunks so that noise on a shared machine hits both alike; numbers are reported as ratios.
Also: wall time of `import runyard` (and of loading the writer) in fresh interpreters.

    python bench/bench_log.py [--steps N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))


def values(step: int) -> tuple[float, float, float]:
    return 1.0 / (step + 1), 0.001 * step, 3.0e-4


def time_tracker(run, start: int, stop: int, out: list[float]) -> None:
    clock, log = time.perf_counter_ns, run.log
    for step in range(start, stop):
        a, b, c = values(step)
        t0 = clock()
        log({"train/loss": a, "val/acc": b, "lr": c}, step=step)
        out.append(clock() - t0)


def time_baseline(fh, start: int, stop: int, out: list[float]) -> None:
    clock, dumps, now, write = time.perf_counter_ns, json.dumps, time.time, fh.write
    for step in range(start, stop):
        a, b, c = values(step)
        t0 = clock()
        write(dumps({"step": step, "time": now(), "train/loss": a, "val/acc": b, "lr": c}) + "\n")
        out.append(clock() - t0)


def time_summarywriter(folder: Path, steps: int, out: list[float]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(folder))
    clock, add = time.perf_counter_ns, writer.add_scalar
    for step in range(steps):
        a, b, c = values(step)
        t0 = clock()
        add("train/loss", a, step)
        add("val/acc", b, step)
        add("lr", c, step)
        out.append(clock() - t0)
    writer.close()


def import_times(repeat: int = 7) -> dict[str, float]:
    code = ("import time; t=time.perf_counter(); import runyard; a=time.perf_counter(); runyard.init; "
            "b=time.perf_counter(); import sys; "
            "print(a-t, b-t, ','.join(m for m in ('pandas','textual','watchdog','plotext') if m in sys.modules))")
    imp, full, heavy = [], [], set()
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True,
                             check=True).stdout.split()
        imp.append(float(out[0]) * 1e3)
        full.append(float(out[1]) * 1e3)
        heavy.update(x for x in out[2:3] if x)
    return {"import_ms": statistics.median(imp), "import_with_writer_ms": statistics.median(full),
            "heavy_modules": sorted(heavy)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    args = parser.parse_args()
    import runyard

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = runyard.init("bench", root=tmp / "runs", console=False)
        ours: list[float] = []
        base: list[float] = []
        with open(tmp / "baseline.jsonl", "a", buffering=1) as fh:
            for start in range(0, args.steps, args.chunk):
                stop = min(args.steps, start + args.chunk)
                time_tracker(run, start, stop, ours)
                time_baseline(fh, start, stop, base)
        run.finish()
        rows = (run.path / "metrics.jsonl").read_bytes().count(b"\n")
        tb: list[float] = []
        time_summarywriter(tmp / "tb", args.steps, tb)

    med = {name: statistics.median(xs) / 1e3 for name, xs in (("tracker", ours), ("baseline", base),
                                                               ("summarywriter", tb))}
    mean = {name: statistics.fmean(xs) / 1e3 for name, xs in (("tracker", ours), ("baseline", base),
                                                               ("summarywriter", tb))}
    imports = import_times()
    result = {
        "steps": args.steps, "rows_written": rows,
        "median_us_per_step": med, "mean_us_per_step": mean,
        "tracker_vs_baseline": med["tracker"] / med["baseline"],
        "summarywriter_vs_tracker": med["summarywriter"] / med["tracker"],
        **imports,
    }
    checks = {
        "tracker within 1.5x of baseline (median)": result["tracker_vs_baseline"] <= 1.5,
        "tracker at least 20x below SummaryWriter (median)": result["summarywriter_vs_tracker"] >= 20,
        "import runyard under 50 ms": imports["import_ms"] < 50,
        "import loads none of pandas/textual/watchdog/plotext": not imports["heavy_modules"],
    }
    print(f"log() cost, {args.steps:,} steps x 3 scalars (median / mean µs per step)")
    for name in ("tracker", "baseline", "summarywriter"):
        print(f"  {name:14s} {med[name]:8.2f} / {mean[name]:8.2f}")
    print(f"  tracker / baseline       = {result['tracker_vs_baseline']:.2f}x")
    print(f"  SummaryWriter / tracker  = {result['summarywriter_vs_tracker']:.1f}x")
    print(f"import runyard: {imports['import_ms']:.1f} ms (with the writer loaded: "
          f"{imports['import_with_writer_ms']:.1f} ms)")
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISS'}] {label}")
    out = PROJECT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_log.json").write_text(json.dumps(result, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
