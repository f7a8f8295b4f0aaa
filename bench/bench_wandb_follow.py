"""Reading W&B offline runs: the first read of a 200,000-step run (logged by wandb itself) and of a 1,000,000-row
run (its records repeated, see `bench.wandb_runs`), reopening from the disk cache, a first part with
`metrics_upto`, and 1,000 rows appended to runs of 50,000 and 1,000,000 rows.

Every read that says "fresh process" runs in a new Python process with the log's pages dropped from the page
cache (`posix_fadvise(DONTNEED)`) and, for a first read, an empty disk cache; its time is `read_info()` +
`metrics_data()` after the imports, its peak RSS the process's. The baseline is the record-by-record reader
(wandb's protobuf classes parsing every record, as runyard read W&B logs before), timed in the same way on the
same run: the machine is shared and noisy, so the ratios are what to trust.

    python bench/bench_wandb_follow.py [--no-baseline] [--no-million]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from bench.wandb_runs import Framer, history_rows, offline_run, records, wandb_file  # noqa: E402

CHILD = """
import json, os, resource, sys, time
from pathlib import Path
path, mode = Path(sys.argv[1]), sys.argv[2]
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
import numpy, orjson
from google.protobuf.message import DecodeError
from wandb.proto import wandb_internal_pb2
from runyard.layouts import wandb as layout
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if mode == "baseline":
    state = layout._reference_load(path)
    rows = len(state.steps)
    layout.MetricColumns.from_rows(state.steps, state.times, state.values)
elif mode == "upto":
    run = layout.WandbRun(path.parent, path)
    columns = run.metrics_upto(8 << 20)
    rows = len(columns)
    assert not columns.complete
else:
    run = layout.WandbRun(path.parent, path)
    run.read_info()
    rows = len(run.metrics_data())
took = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"s": took, "rows": rows, "peak_mb": peak / 1024, "growth_mb": (peak - base) / 1024}))
"""


def child(path: Path, mode: str, cache: str) -> dict[str, float]:
    """One read of `path` in a fresh process (see the module docstring)."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "RUNYARD_CACHE_DIR": cache}
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), mode], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout)


def copy_run(folder: Path, into: Path) -> Path:
    """The run's log copied into `into` (a run folder of its own, so that its disk cache entry is its own)."""
    target = into / folder.name
    target.mkdir(parents=True)
    shutil.copyfile(wandb_file(folder), target / wandb_file(folder).name)
    return wandb_file(target)


def prefix_run(folder: Path, rows: int, into: Path) -> Path:
    """A run of the first `rows` history rows of `folder`'s run (its records up to there, framed again)."""
    from wandb.proto import wandb_internal_pb2

    payloads = records(wandb_file(folder))
    out, seen = [], 0
    for payload in payloads:
        if wandb_internal_pb2.Record.FromString(payload).WhichOneof("record_type") == "history":
            if seen == rows:
                break
            seen += 1
        out.append(payload)
    target = into / folder.name
    target.mkdir(parents=True)
    path = target / wandb_file(folder).name
    path.write_bytes(Framer().frame(out))
    return path


def appended_rows(path: Path, template: bytes, summary: bytes, start: int, count: int) -> None:
    """`count` more steps (a history and a summary record each, as wandb writes them) appended to the log."""
    payloads = []
    for record in history_rows(template, start, count, 0.01):
        payloads += [record, summary]
    with path.open("ab") as fh:
        fh.write(Framer(path.stat().st_size).frame(payloads))


def follow_appends(path: Path, rows: int, cache: str, times: int = 5) -> tuple[float, float]:
    """Median seconds to take in 1,000 appended rows (the reader brought up to date), and `metrics_data()`
    of the whole run after them; the run is opened from the disk cache its fresh-process read left."""
    from wandb.proto import wandb_internal_pb2

    from runyard.layouts.wandb import WandbRun

    os.environ["RUNYARD_CACHE_DIR"] = cache
    payloads = records(path) if path.stat().st_size < 64 << 20 else _head_records(path)
    kinds = [wandb_internal_pb2.Record.FromString(p).WhichOneof("record_type") for p in payloads]
    template = payloads[kinds.index("history")]
    summary = payloads[kinds.index("summary")]
    run = WandbRun(path.parent, path)
    assert len(run.metrics_data()) == rows
    took = []
    for i in range(times):
        appended_rows(path, template, summary, 10**7 + i * 1000, 1000)
        start = time.perf_counter()
        run._reader()
        took.append(time.perf_counter() - start)
    start = time.perf_counter()
    assert len(run.metrics_data()) == rows + times * 1000
    return statistics.median(took), time.perf_counter() - start


def _head_records(path: Path) -> list[bytes]:
    with path.open("rb") as fh:
        head = fh.read(4 << 20)
    tmp = path.with_suffix(".head")
    tmp.write_bytes(head)
    try:
        return records(tmp)
    finally:
        tmp.unlink()


def measure(label: str, folder: Path, tmp: Path, baseline: bool) -> dict[str, float]:
    """The figures of one run (module docstring)."""
    path = copy_run(folder, tmp / label)
    result: dict[str, float] = {"bytes": path.stat().st_size}
    cold = str(tmp / f"{label}-cache")
    first = child(path, "first", cold)
    reopen = min((child(path, "first", cold) for _ in range(3)), key=lambda r: r["s"])
    upto = child(path, "upto", str(tmp / f"{label}-upto-cache"))
    rows = int(first["rows"])
    result.update(rows=rows, first_s=first["s"], first_peak_mb=first["peak_mb"], first_growth_mb=first["growth_mb"],
                  first_s_per_million_rows=first["s"] * 1e6 / rows, reopen_s=reopen["s"],
                  reopen_ratio=reopen["s"] / first["s"], upto_8mib_s=upto["s"], upto_rows=upto["rows"])
    if baseline:
        base = child(path, "baseline", str(tmp / f"{label}-unused-cache"))
        result.update(baseline_s=base["s"], baseline_peak_mb=base["peak_mb"],
                      baseline_s_per_million_rows=base["s"] * 1e6 / rows, speedup=base["s"] / first["s"])
    follow, whole = follow_appends(path, rows, cold)
    result.update(append_1000_s=follow, metrics_after_append_s=whole)
    return result


def main() -> int:
    """Make (or find) the runs, measure, print a table and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-baseline", action="store_true", help="skip the record-by-record reader (slow)")
    parser.add_argument("--no-million", action="store_true", help="skip the 1,000,000-row run")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        real = offline_run(200_000)
        results["200k"] = measure("200k", real, tmp, baseline=not args.no_baseline)
        shutil.rmtree(tmp / "200k")
        small = prefix_run(real, 50_000, tmp / "50k")
        cache = str(tmp / "50k-cache")
        child(small, "first", cache)
        follow, whole = follow_appends(small, 50_000, cache)
        results["50k"] = {"rows": 50_000, "append_1000_s": follow, "metrics_after_append_s": whole}
        if not args.no_million:
            results["1M"] = measure("1M", offline_run(1_000_000), tmp, baseline=False)
    _table(results)
    out = PROJECT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_wandb_follow.json").write_text(json.dumps(results, indent=2))
    return 0


def _table(results: dict[str, dict[str, float]]) -> None:
    rows = [("rows", "rows", "{:,.0f}"), ("log MB", "bytes", "{:,.0f}"),
            ("first read s (fresh process, cold)", "first_s", "{:.2f}"),
            ("  per million rows s", "first_s_per_million_rows", "{:.2f}"),
            ("  peak RSS MB (growth)", "first_peak_mb", "{:.0f}"),
            ("baseline (protobuf per record) s", "baseline_s", "{:.2f}"),
            ("  per million rows s", "baseline_s_per_million_rows", "{:.2f}"),
            ("  peak RSS MB", "baseline_peak_mb", "{:.0f}"),
            ("speed-up vs baseline", "speedup", "{:.1f}x"),
            ("reopen from disk cache s", "reopen_s", "{:.3f}"), ("  ratio to first read", "reopen_ratio", "{:.3f}"),
            ("metrics_upto(8 MiB) s", "upto_8mib_s", "{:.3f}"), ("  rows in it", "upto_rows", "{:,.0f}"),
            ("1,000 appended rows ms (median)", "append_1000_s", "{:.1f}"),
            ("  metrics_data() after ms", "metrics_after_append_s", "{:.0f}")]
    names = list(results)
    print(f"{'':38}" + "".join(f"{n:>14}" for n in names))
    for label, key, fmt in rows:
        cells = []
        for n in names:
            value = results[n].get(key)
            if value is None:
                cells.append(f"{'-':>14}")
                continue
            if key == "bytes":
                value = value / 1e6
            if key in ("append_1000_s", "metrics_after_append_s"):
                value = value * 1000
            text = fmt.format(value)
            if key == "first_peak_mb":
                text += f" ({results[n]['first_growth_mb']:.0f})"
            cells.append(f"{text:>14}")
        print(f"{label:38}" + "".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
