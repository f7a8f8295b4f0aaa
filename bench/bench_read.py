"""Reading-side benchmarks, each against a baseline measured in the same run.

1. `scan` of a generated tree of 10,000 runyard runs (500 rows each): first scan and rescan, against the
   time to merely `os.scandir` the tree and `stat` every file. Targets: rescan within 3x; first scan < 10 s.
2. `metrics()` of a 1,000,000-row, 4-metric run, against the faster of pandas.read_csv's C and pyarrow
   engines on the same data as CSV. Targets: first load within 3x; reopening (cache) at most 0.5x.
3. Reading 1,000 appended rows incrementally from a 1,000,000-row file (and from a 10,000-row one, to show
   the cost does not depend on the file's size). Target: under 10 ms.

    python bench/bench_read.py [--runs N] [--rows N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
OUT = PROJECT / "bench" / "out"


def timed(fn, repeat: int = 1) -> float:
    """The best of `repeat` wall times, in seconds (the minimum is the least noisy on a shared machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ----- trees ------------------------------------------------------------------------------------------------

def make_tree(root: Path, runs: int, rows: int) -> None:
    """`runs` runyard run folders written directly in the contract's format (faster than 10,000 inits)."""
    import orjson

    root.mkdir(parents=True)
    now = time.time() - 86400
    for i in range(runs):
        run = root / f"exp{i % 50:02d}_{20261101 + i // 1000:08d}_{i:06d}"
        run.mkdir()
        created = now + i
        info = {"format": "runyard/1", "id": f"r{i:07d}", "name": f"exp{i % 50:02d}", "status": "finished",
                "created": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(created)),
                "ended": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(created + rows)),
                "heartbeat": None, "heartbeat_interval": 10.0, "host": "bench", "pid": 1, "user": "u",
                "argv": ["train.py"], "cwd": "/", "git": None, "env": {}, "hardware": {}, "world_size": 1,
                "tags": ["bench"], "notes": "", "restarts": []}
        (run / "run.json").write_bytes(orjson.dumps(info))
        (run / "config.yaml").write_text(f"lr: {1e-3 * (1 + i % 7)}\nmodel:\n  n_layer: {2 + i % 4}\n  n_embd: 64\n")
        lines = [orjson.dumps({"step": s, "time": created + s, "train/loss": 3.0 / (s + 1), "lr": 1e-3})
                 for s in range(rows)]
        (run / "metrics.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        summary = {"format": "runyard/1", "status": "finished", "steps": rows - 1, "rows": rows, "wallclock": rows,
                   "interval_median": 1.0, "metrics": {
                       "train/loss": {"first": 3.0, "last": 3.0 / rows, "min": 3.0 / rows, "max": 3.0,
                                      "mean": 0.1, "count": rows, "min_step": rows - 1, "max_step": 0},
                       "lr": {"first": 1e-3, "last": 1e-3, "min": 1e-3, "max": 1e-3, "mean": 1e-3, "count": rows,
                              "min_step": 0, "max_step": 0}}}
        (run / "summary.json").write_bytes(orjson.dumps(summary))
        (run / "training.log").write_text("2026-11-01 00:00:00,000 - INFO - ==== run started ====\n")


def stat_floor(root: Path) -> int:
    """Walk the tree with os.scandir and stat every file: the least any scan must do."""
    count = 0
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


def bench_scan(tmp: Path, runs: int, rows: int, repeat: int) -> dict:
    from runyard.reading.scanner import scan

    tree = OUT / f"tree_{runs}x{rows}"
    if not tree.exists():
        print(f"  generating {runs:,} runs x {rows} rows in {tree} (kept for later runs)...", flush=True)
        make_tree(tree, runs, rows)
    os.environ["RUNYARD_CACHE_DIR"] = str(tmp / "scan-cache")
    stat_floor(tree)  # warm the page cache for every contender alike
    floor = timed(lambda: stat_floor(tree), repeat)
    first = timed(lambda: scan(tree), 1)
    found = len(scan(tree))
    rescan = timed(lambda: scan(tree), repeat)
    shutil.rmtree(tmp / "scan-cache")
    return {"runs": found, "floor_s": floor, "first_scan_s": first, "rescan_s": rescan,
            "rescan_vs_floor": rescan / floor}


# ----- one big run ------------------------------------------------------------------------------------------

def make_big_run(folder: Path, rows: int) -> Path:
    """A runyard metrics.jsonl with 4 metrics, and the same data as CSV."""
    import numpy as np
    import orjson
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "step": np.arange(rows), "time": 1.79e9 + np.cumsum(rng.random(rows) * 0.05),
        "train/loss": rng.random(rows), "val/loss": rng.random(rows), "lr": rng.random(rows) * 1e-3,
        "tokens_per_sec": rng.random(rows) * 1e5,
    })
    cols = list(df.columns)
    arrays = [df[c].tolist() for c in cols]
    with open(folder / "metrics.jsonl", "wb") as fh:
        for values in zip(*arrays, strict=True):
            fh.write(orjson.dumps(dict(zip(cols, values, strict=True)), option=orjson.OPT_APPEND_NEWLINE))
    df.to_csv(folder / "metrics.csv", index=False)
    return folder


def bench_metrics(tmp: Path, rows: int, repeat: int) -> dict:
    import pandas as pd

    from runyard.reading import metrics_jsonl as metricsio

    folder = make_big_run(tmp / "big", rows)
    jsonl, csv = folder / "metrics.jsonl", folder / "metrics.csv"
    os.environ["RUNYARD_CACHE_DIR"] = str(tmp / "metrics-cache")
    jsonl.read_bytes()
    csv.read_bytes()  # both files in the page cache before any timing
    c_engine = timed(lambda: pd.read_csv(csv), repeat)
    arrow_engine = timed(lambda: pd.read_csv(csv, engine="pyarrow"), repeat)
    baseline = min(c_engine, arrow_engine)
    first = timed(lambda: metricsio.load(jsonl, use_cache=False).frame(), repeat)
    metricsio.load(jsonl).frame()  # writes the cache
    cached = timed(lambda: metricsio.load(jsonl).frame(), repeat)
    assert len(metricsio.load(jsonl).frame()) == rows
    return {"rows": rows, "read_csv_c_s": c_engine, "read_csv_pyarrow_s": arrow_engine, "first_load_s": first,
            "cached_load_s": cached, "first_vs_csv": first / baseline, "cached_vs_csv": cached / baseline}


def bench_incremental(tmp: Path, rows: int, repeat: int) -> dict:
    from runyard.reading.tail import MetricsTail

    out = {}
    for label, size in (("big", rows), ("small", 10_000)):
        path = tmp / f"inc_{label}.jsonl"
        line = b'{"step":%d,"time":1790000000.5,"train/loss":0.123456,"val/loss":0.2,"lr":0.001,"tokens_per_sec":9e4}\n'
        with open(path, "wb") as fh:
            fh.write(b"".join(line % s for s in range(size)))
        times = []
        for r in range(max(repeat, 5)):
            tail = MetricsTail(path, offset=path.stat().st_size)
            with open(path, "ab") as fh:
                fh.write(b"".join(line % (size + r * 1000 + s) for s in range(1000)))
            t0 = time.perf_counter()
            chunk = tail.read()
            times.append(time.perf_counter() - t0)
            assert len(chunk.rows) == 1000
            tail.close()
        out[f"{label}_file_ms"] = statistics.median(times) * 1e3
    out["size_ratio"] = out["big_file_ms"] / out["small_file_ms"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print("scan ...", flush=True)
        scan_result = bench_scan(tmp, args.runs, 500, args.repeat)
        print("metrics() ...", flush=True)
        metrics_result = bench_metrics(tmp, args.rows, args.repeat)
        print("incremental ...", flush=True)
        inc_result = bench_incremental(tmp, args.rows, args.repeat)
    result = {"scan": scan_result, "metrics": metrics_result, "incremental": inc_result}
    s, m, i = scan_result, metrics_result, inc_result
    print(f"scan of {s['runs']:,} runs: floor (scandir+stat) {s['floor_s']:.3f} s, "
          f"first scan {s['first_scan_s']:.2f} s, rescan {s['rescan_s']:.3f} s = {s['rescan_vs_floor']:.2f}x floor")
    print(f"metrics() of {m['rows']:,} rows: read_csv C {m['read_csv_c_s']:.3f} s, "
          f"pyarrow {m['read_csv_pyarrow_s']:.3f} s; first load {m['first_load_s']:.3f} s = {m['first_vs_csv']:.2f}x, "
          f"cached {m['cached_load_s']:.3f} s = {m['cached_vs_csv']:.2f}x")
    print(f"1,000 appended rows: {i['big_file_ms']:.2f} ms from a {args.rows:,}-row file, {i['small_file_ms']:.2f} ms "
          f"from a 10,000-row file")
    checks = {
        "rescan within 3x of the stat floor": s["rescan_vs_floor"] <= 3,
        "first scan under 10 s": s["first_scan_s"] < 10,
        "metrics() first load within 3x of read_csv": m["first_vs_csv"] <= 3,
        "metrics() cached reopen at most 0.5x of read_csv": m["cached_vs_csv"] <= 0.5,
        "1,000 appended rows under 10 ms": i["big_file_ms"] < 10,
    }
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISS'}] {label}")
    (OUT / "bench_read.json").write_text(json.dumps(result, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
