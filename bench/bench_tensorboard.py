"""Reading TensorBoard event files: runyard's tensorboard layout against tensorboard's EventAccumulator.

One run of `--points` scalars (torch `SummaryWriter.add_scalar`, one tag, steps 0..N-1) is read by
`TensorBoardRun.metrics()` and by `EventAccumulator(path, size_guidance={"scalars": 0}).Reload()`; then
`--runs` small runs of `--small-points` scalars each are read both ways, as a reload of a runs tree would.
Writing the files is setup and is not timed against anything, but its duration is reported.

    python bench/bench_tensorboard.py [--points N] [--runs R] [--small-points P] [--repeat K]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

TAG = "train/loss"


def write_run(folder: Path, points: int) -> float:
    """Write `points` scalars of one tag with torch's SummaryWriter; return the seconds it took."""
    from torch.utils.tensorboard import SummaryWriter

    start = time.perf_counter()
    with SummaryWriter(str(folder)) as writer:
        add = writer.add_scalar
        for step in range(points):
            add(TAG, 1.0 / (step + 1), step)
    return time.perf_counter() - start


def best_of(repeat: int, fn: Callable[[], int]) -> tuple[float, int]:
    """Fastest of `repeat` calls of `fn` in seconds, and what the last call returned (a point count)."""
    best, result = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def read_ours(folders: list[Path]) -> int:
    """Scalar points found by the tensorboard layout, each run read from scratch."""
    from runyard.layouts.tensorboard import detect

    points = 0
    for folder in folders:
        detection = detect(folder, os.listdir(folder))
        assert detection is not None
        points += int(detection.runs[0].metrics()[TAG].notna().sum())
    return points


def read_accumulator(folders: list[Path]) -> int:
    """Scalar points found by tensorboard's EventAccumulator, keeping every point."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    points = 0
    for folder in folders:
        accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        accumulator.Reload()
        points += len(accumulator.Scalars(TAG))
    return points


def compare(label: str, folders: list[Path], expected: int, repeat: int, repeat_theirs: int) -> dict[str, float]:
    """Time both readers on `folders` (best of some calls each), check they find every point, print the result."""
    ours, ours_points = best_of(repeat, lambda: read_ours(folders))
    theirs, their_points = best_of(repeat_theirs, lambda: read_accumulator(folders))
    assert ours_points == their_points == expected, (ours_points, their_points, expected)
    ratio = theirs / ours
    print(f"{label}: ours {ours:.3f} s, EventAccumulator {theirs:.3f} s, {ratio:.1f}x faster")
    return {"ours_s": ours, "event_accumulator_s": theirs, "ratio": ratio}


def environment() -> dict[str, str | int | None]:
    """What the numbers depend on: interpreter, protobuf backend, CPUs."""
    import google.protobuf
    import tensorboard
    from google.protobuf.internal import api_implementation

    return {"python": platform.python_version(), "protobuf": google.protobuf.__version__,
            "protobuf_backend": api_implementation.Type(), "tensorboard": tensorboard.version.VERSION,
            "cpus": os.cpu_count()}


def main() -> int:
    """Write the runs, time both readers, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="scalars in the big run")
    parser.add_argument("--runs", type=int, default=200, help="number of small runs")
    parser.add_argument("--small-points", type=int, default=100, help="scalars in each small run")
    parser.add_argument("--repeat", type=int, default=3, help="timings per reader, the best is kept "
                        "(EventAccumulator on the big run: once)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big"
        print(f"writing {args.points:,} points with SummaryWriter ...", flush=True)
        write_big = write_run(big, args.points)
        print(f"  took {write_big:.1f} s ({args.points / write_big:,.0f} points/s)")
        small = [Path(tmp) / "small" / f"run{i:03d}" for i in range(args.runs)]
        write_small = sum(write_run(folder, args.small_points) for folder in small)
        print(f"writing {args.runs} runs of {args.small_points} points took {write_small:.1f} s")
        event_file_bytes = sum(p.stat().st_size for p in big.iterdir())

        big_result = compare(f"{args.points:,} points", [big], args.points, args.repeat, 1)
        small_result = compare(f"{args.runs} runs x {args.small_points} points", small,
                               args.runs * args.small_points, args.repeat, args.repeat)

    result = {
        "points": args.points, "event_file_bytes": event_file_bytes,
        "write_big_s": write_big, "write_small_s": write_small,
        "big": big_result,
        "small_runs": {"runs": args.runs, "points_each": args.small_points, **small_result},
        "environment": environment(),
    }
    checks = {"ours at least 20x faster on the big run": big_result["ratio"] >= 20}
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISS'}] {label}")
    out = PROJECT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_tensorboard.json").write_text(json.dumps(result, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
