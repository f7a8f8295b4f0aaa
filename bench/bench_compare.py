"""Comparing many runs from the command line: `runyard compare --filter ... --json` over 50 runyard runs of
10,000 rows each, from a warm scan cache, as a subprocess (start-up included, as a user has it).

Baseline, measured in the same run on the same tree: `runyard ls ROOT -o json` (the listing the comparison is
built on: the same scan, the same start-up). Figures: the best of `--repeat` wall times of each, their ratio,
and the absolute time of compare (target: under 1 s); the in-process `compare_runs` over the 50 records and
the start-up of `runyard ls` on an empty folder put them in context.

The runs are written once into a temporary folder by runyard's own writer (train/loss every step, val/loss
and val/acc every 100), named as a sweep is (`gpt2_lr1e-3_seed0`...); caches go to the same folder.

    python bench/bench_compare.py [--runs N] [--rows N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
RUNYARD = Path(sys.executable).parent / "runyard"
FILTER = "lr>0 seed>=0"  # every run, through the filter language (each condition is evaluated on each run)


def make_runs(root: Path, runs: int, rows: int) -> None:
    """`runs` finished runyard runs of `rows` rows each: a sweep over learning rate and seed."""
    import runyard

    for i in range(runs):
        lr, seed = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)[i % 5], i // 5
        with runyard.init(f"gpt2_lr{lr:g}_seed{seed}", root=root, config={"lr": lr, "seed": seed, "model": "gpt2"},
                          console=False, system_metrics=False) as run:
            run.define_metric("val/acc", goal="max")
            for step in range(rows):
                loss = 3.0 * math.exp(-step * lr / 10) + 0.01 * seed + 0.5
                row = {"train/loss": loss}
                if step % 100 == 0:
                    row.update({"val/loss": loss + 0.1, "val/acc": 1 / (1 + loss)})
                run.log(row, step=step)


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, bytes]:
    """The best of `repeat` wall times of a subprocess (the minimum is the least noisy on a shared machine),
    and its output."""
    best, out = float("inf"), b""
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, check=True)
        best = min(best, time.perf_counter() - t0)
        out = done.stdout
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    env = {**os.environ, "RUNYARD_CACHE_DIR": str(tmp / "cache"), "XDG_CONFIG_HOME": str(tmp / "config"),
           "COLUMNS": "200"}
    os.environ.update({k: env[k] for k in ("RUNYARD_CACHE_DIR", "XDG_CONFIG_HOME")})
    try:
        root, empty = tmp / "runs", tmp / "empty"
        empty.mkdir()
        t0 = time.perf_counter()
        make_runs(root, args.runs, args.rows)
        print(f"tree: {args.runs} runyard runs of {args.rows:,} rows in {root} "
              f"(written in {time.perf_counter() - t0:.1f} s)")

        ls = [str(RUNYARD), "ls", str(root), "-o", "json"]
        compare = [str(RUNYARD), "compare", "--root", str(root), "--filter", FILTER, "--json"]
        subprocess.run(ls, env=env, capture_output=True, check=True)  # the scan cache, warm from here on
        startup, _ = timed([str(RUNYARD), "ls", str(empty), "-o", "json"], env, args.repeat)
        base, listed = timed(ls, env, args.repeat)
        took, out = timed(compare, env, args.repeat)
        data = json.loads(out)
        assert len(json.loads(listed)) == args.runs and len(data["runs"]) == args.runs, "every run is compared"
        assert [m["name"] for m in data["metrics"]] == ["val/loss", "train/loss"], data["metrics"]

        import runyard

        records = runyard.select_runs(root, FILTER, [])
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            runyard.compare_runs(records)
            best = min(best, time.perf_counter() - t0)

        print(f"runyard ls -o json (baseline)      {base * 1000:8.0f} ms")
        print(f"runyard compare --filter .. --json {took * 1000:8.0f} ms   {took / base:.2f}x the baseline   "
              f"target < 1000 ms: {'met' if took < 1 else 'NOT met'}")
        print(f"  of which start-up (ls of empty)  {startup * 1000:8.0f} ms")
        print(f"  compare_runs in process          {best * 1000:8.1f} ms   ({args.runs} records)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
