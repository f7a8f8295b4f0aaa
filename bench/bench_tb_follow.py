"""Following a TensorBoard run: the first read of a 1,000,000-point run, reopening it from the disk cache in a
new process, and reading 1,000 points appended to it.

The event file is written record by record as torch's SummaryWriter writes `add_scalar` (one tag, steps
0..N-1, a simple_value each), without torch, so that setup stays short. The first read (`metrics_data`, which
also fills the disk cache) is timed against `EventAccumulator` on the same file; then a fresh Python process
reopens the run three times (its `metrics_data` timed after the imports both sides have already done, the process's own
start-up reported apart); then 1,000 points are appended and the run read again.

    python bench/bench_tb_follow.py [--points N] [--append K] [--no-accumulator]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
TAG = "train/loss"


def records(start: int, count: int) -> bytes:
    """`count` scalar events from step `start`, framed as TFRecords."""
    import crc32c
    from tensorboard.compat.proto.event_pb2 import Event

    def masked(b: bytes) -> int:
        c = crc32c.crc32c(b)
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    out = []
    for step in range(start, start + count):
        event = Event(step=step, wall_time=1.7e9 + step * 0.01)
        event.summary.value.add(tag=TAG, simple_value=1.0 / (step + 1))
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        out.append(header + struct.pack("<I", masked(header)) + data + struct.pack("<I", masked(data)))
    return b"".join(out)


REOPEN = """
import json, sys, time
from pathlib import Path
import crc32c, numpy
from tensorboard.compat.proto.event_pb2 import Event
from runyard.layouts.tensorboard import TensorBoardRun
start = time.perf_counter()
columns = TensorBoardRun(Path(sys.argv[1])).metrics_data()
took = time.perf_counter() - start
print(json.dumps({"s": took, "rows": len(columns.step)}))
"""


def reopen_in_new_process(folder: Path, points: int) -> tuple[float, float]:
    """Seconds a new process takes to read the run (from the disk cache), and its whole life (the best of
    three is kept, as for the appends: the machine's other work only ever adds to it)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", REOPEN, str(folder)], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(PROJECT)})
    total = time.perf_counter() - start
    child = json.loads(out.stdout)
    assert child["rows"] == points
    return child["s"], total


def main() -> int:
    """Write the run, time the reads, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--append", type=int, default=1000)
    parser.add_argument("--no-accumulator", action="store_true", help="skip EventAccumulator (slow)")
    args = parser.parse_args()
    from runyard.layouts.tensorboard import TensorBoardRun

    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as cache:
        os.environ["RUNYARD_CACHE_DIR"] = cache
        path = Path(tmp) / "events.out.tfevents.1700000000.host.1.0"
        path.write_bytes(records(0, args.points))
        run = TensorBoardRun(Path(tmp))
        start = time.perf_counter()
        columns = run.metrics_data()
        first = time.perf_counter() - start
        assert len(columns.step) == args.points
        result: dict[str, float] = {"points": args.points, "first_read_s": first}
        print(f"first read of {args.points:,} points: {first:.3f} s")
        if not args.no_accumulator:
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

            start = time.perf_counter()
            accumulator = EventAccumulator(tmp, size_guidance={"scalars": 0})
            accumulator.Reload()
            assert len(accumulator.Scalars(TAG)) == args.points
            theirs = time.perf_counter() - start
            result.update(event_accumulator_s=theirs, ratio=theirs / first)
            print(f"EventAccumulator: {theirs:.3f} s, ours {theirs / first:.1f}x faster")
        reopen, child_total = min(reopen_in_new_process(Path(tmp), args.points) for _ in range(3))
        result.update(reopen_cached_s=reopen, reopen_process_s=child_total, reopen_ratio=reopen / first)
        print(f"reopened from the disk cache in a new process: {reopen * 1000:.1f} ms "
              f"({reopen / first:.3f}x the first read; the whole process {child_total:.2f} s)")
        more = records(args.points, args.append)
        follows = []
        for i in range(5):
            with path.open("ab") as fh:
                fh.write(more if i == 0 else records(args.points + i * args.append, args.append))
            start = time.perf_counter()
            files = run._read_files()
            follows.append(time.perf_counter() - start)
            assert sum(len(f.steps) for f in files) == args.points + (i + 1) * args.append
        start = time.perf_counter()
        columns = run.metrics_data()
        whole = time.perf_counter() - start
        result.update(append_read_s=min(follows), append_metrics_s=whole)
        print(f"{args.append:,} points appended: read in {min(follows) * 1000:.1f} ms "
              f"(metrics_data of the whole run then {whole * 1000:.0f} ms)")
    out = PROJECT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_tb_follow.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
