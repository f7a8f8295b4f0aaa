"""Following a CSV run (CS336 metrics.csv) and a text log: the first read of 1,000,000 rows, reopening the run
from the disk cache in a new process, and reading 1,000 rows appended to it.

The CSV (step, wallclock_time, elapsed_time, loss, lr logged every third row) is read first by
`pandas.read_csv` and then by the layout (`metrics_data`, which also fills the disk cache), same file, same run.
The text log (`[stamp] step N: loss=X lr=Y` lines) is read by the layout, against the reading it replaced (the
whole file split into lines and matched line by line, kept in tests/test_follow_textlog.py as the reference)
and against a floor: one `re.finditer` over the decoded file with the pattern that reads these lines. A fresh
Python process then reopens each run three times (its `metrics_data` timed after the imports); then 1,000 rows
are appended and read, several times (the median is reported).

    python bench/bench_lines_follow.py [--rows N] [--append K] [--repeat R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
DATA = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "runyard-bench" / "lines-follow"
HEADER = "step,wallclock_time,elapsed_time,loss,lr\n"


def csv_rows(start: int, count: int) -> str:
    return "".join(f"{s},{1.7e9 + s * 0.5},{s * 0.5},{1 / (s + 1)!r},{'' if s % 3 else 0.001}\n"
                   for s in range(start, start + count))


def log_lines(start: int, count: int) -> str:
    def stamp(i: int) -> str:
        return f"2026-11-{23 + i // 86400:02d} {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}"

    return "".join(f"[{stamp(i)}] step {i}: loss={1 / (i + 1)!r} lr=0.001\n" for i in range(start, start + count))


def made(path: Path, rows: int, write) -> Path:
    """`path` holding `rows` rows, written once and kept for later runs."""
    stamp = path.with_suffix(path.suffix + ".rows")
    if not (path.exists() and stamp.exists() and stamp.read_text() == str(rows)):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            for start in range(0, rows, 100_000):
                fh.write(write(start, min(100_000, rows - start)))
        stamp.write_text(str(rows))
    return path


REOPEN = """
import json, sys, time
from pathlib import Path
import crc32c, numpy, pyarrow.csv  # what the first read had imported already (the disk cache checks with crc32c)
from runyard.layouts.cs336 import CS336Source
from runyard.layouts.textlog import TextLogSource
kind, path = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
source = CS336Source(path) if kind == "csv" else TextLogSource(path)
columns = source.metrics_data()
print(json.dumps({"s": time.perf_counter() - start, "rows": len(columns)}))
"""


def reopen(kind: str, path: Path, env: dict[str, str]) -> float:
    """The best of three fresh processes' `metrics_data` of the run, read from the disk cache."""
    times = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", REOPEN, kind, str(path)], env=env, check=True,
                             capture_output=True, text=True).stdout
        times.append(json.loads(out)["s"])
    return min(times)


def appended(source, path: Path, write, rows: int, count: int, repeat: int) -> tuple[float, int]:
    """Median seconds to read `count` rows appended to a followed run, over `repeat` appends."""
    took = []
    for k in range(repeat):
        with path.open("a") as fh:
            fh.write(write(rows + k * count, count))
        start = time.perf_counter()
        columns = source.metrics_data()
        took.append(time.perf_counter() - start)
    return statistics.median(took), len(columns)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--append", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="runyard-bench-cache-"))
    os.environ["RUNYARD_CACHE_DIR"] = str(cache)
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    import pandas as pd

    from runyard.layouts.cs336 import CS336Source
    from runyard.layouts.textlog import TextLogSource
    from runyard.reading.patterns import patterns_for
    from tests.test_follow_textlog import reference_file

    table = []
    # ----- CSV
    folder = DATA / f"csv-{args.rows}"
    csv_path = made(folder / "metrics.csv", args.rows, lambda s, n: (HEADER if s == 0 else "") + csv_rows(s, n))
    (folder / "config.json").write_text("{}")
    work = Path(tempfile.mkdtemp(prefix="runyard-bench-lines-"))
    (work / "csv").mkdir()
    (work / "csv" / "config.json").write_text("{}")
    copy = work / "csv" / "metrics.csv"
    copy.write_bytes(csv_path.read_bytes())  # appended to below; the kept one stays as generated
    base_s, frame = timed(lambda: pd.read_csv(copy))
    source = CS336Source(work / "csv")
    first_s, columns = timed(source.metrics_data)
    assert len(columns) == len(frame) == args.rows, (len(columns), len(frame))
    reopen_s = reopen("csv", work / "csv", env)
    append_s, rows = appended(source, copy, csv_rows, args.rows, args.append, args.repeat)
    assert rows == args.rows + args.append * args.repeat
    table.append(("CSV", "pandas.read_csv", base_s, first_s, reopen_s, append_s))

    # ----- text log
    log_path = made(DATA / f"log-{args.rows}" / "train.log", args.rows, log_lines)
    (work / "log").mkdir()
    copy = work / "log" / "train.log"
    copy.write_bytes(log_path.read_bytes())
    patterns = patterns_for(None, copy.parent)[0]
    old_s, (old_rows, _) = timed(lambda: reference_file(copy.read_bytes(), patterns))
    step_kv = next(p for p in patterns if getattr(p, "name", "") == "step_kv").regex

    def floor():
        text = copy.read_bytes().decode()
        return sum(1 for _ in step_kv.finditer(text))

    floor_s, found = timed(floor)
    source = TextLogSource(copy)
    first_s, columns = timed(source.metrics_data)
    assert len(columns) == len(old_rows) == found == args.rows, (len(columns), len(old_rows), found)
    del old_rows
    reopen_s = reopen("log", copy, env)
    append_s, rows = appended(source, copy, log_lines, args.rows, args.append, args.repeat)
    assert rows == args.rows + args.append * args.repeat
    table.append(("text log", "previous reading", old_s, first_s, reopen_s, append_s))

    million = 1e6 / args.rows
    print(f"{args.rows:,} rows; {args.append:,} appended, median of {args.repeat}")
    print(f"{'':9} {'baseline':17} {'base s':>7} {'first s':>8} {'s/M rows':>8} {'ratio':>6} "
          f"{'reopen s':>9} {'/first':>7} {'append ms':>10}")
    for name, baseline, base, first, again, append in table:
        print(f"{name:9} {baseline:17} {base:7.2f} {first:8.2f} {first * million:8.2f} {first / base:6.2f} "
              f"{again:9.3f} {again / first:7.3f} {append * 1e3:10.1f}")
    print(f"text log floor (re.finditer of the pattern over the decoded file): {floor_s:.2f} s, "
          f"{floor_s * million:.2f} s/M lines; first read / floor = {table[1][3] / floor_s:.1f}")


if __name__ == "__main__":
    main()
