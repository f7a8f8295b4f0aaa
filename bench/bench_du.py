"""`runyard du` of a generated tree of 10,000 runyard runs (each with two checkpoints and an index), warm cache,
against a bare stat walk of the same tree, measured in the same run, like with like.

The floor is an os.scandir walk that stats every file (Python, the least a `du` that never serves a stale size
must do; `find ROOT -printf '%s\\n'`, the same in C, is shown for scale). Two ratios, each against the walk done
the same way:

- in-process: `tree_usage()` (the runs found from its cache, then a stat of every file of every run) against the
  walk as a function call;
- subprocess: `runyard du ROOT --json` as a user has it, against a fresh `python -c` running the same walk: both
  pay an interpreter's start-up, `runyard du` its imports too (shown alone: `du` of an empty folder).

Contenders are timed in interleaved rounds (each once per round, so every one meets the same shifting load of a
shared machine) and each one's median is kept. Target: warm `runyard du` within 3x the stat walk.

The tree is generated in bench/out for reuse; runyard's caches go to a temporary folder.

    python bench/bench_du.py [--runs N] [--repeat N]
"""

from __future__ import annotations

import argparse
import inspect
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
OUT = PROJECT / "bench" / "out"
RUNYARD = Path(sys.executable).parent / "runyard"

from bench.bench_read import make_tree, stat_floor  # noqa: E402

# The walk as a child runs it: the very function timed in-process, nothing else imported.
WALK_CHILD = (f"from __future__ import annotations\nimport os, sys\n{inspect.getsource(stat_floor)}\n"
              "stat_floor(sys.argv[1])\n")


def add_checkpoints(root: Path) -> None:
    """Two small checkpoints and their index in every run folder, old enough to be settled."""
    import orjson

    for run in sorted(p for p in root.iterdir() if p.is_dir()):
        folder = run / "checkpoints"
        folder.mkdir()
        lines = []
        for step in (100, 200):
            (folder / f"step_{step}.pt").write_bytes(b"\0" * 6000)
            lines.append(orjson.dumps({"step": step, "time": 1.79e9 + step, "file": f"checkpoints/step_{step}.pt",
                                       "bytes": 6000, "metrics": {"val/loss": 1.0 / step}}))
        (folder / "index.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    old = time.time() - 86400
    for path in [root, *root.rglob("*")]:
        os.utime(path, (old, old))


def child(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=True, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds (the median of each is kept)")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    tree = OUT / f"du_tree_{args.runs}"
    if not tree.exists():
        print(f"  generating {args.runs:,} runs in {tree} (kept for later runs)...", flush=True)
        make_tree(tree, args.runs, 50)
        add_checkpoints(tree)
    with tempfile.TemporaryDirectory() as tmp_name:
        os.environ["RUNYARD_CACHE_DIR"] = str(Path(tmp_name) / "cache")
        env = dict(os.environ)
        from runyard.ops.diskusage import tree_usage

        files = stat_floor(tree)  # the page cache warm for every contender alike
        t0 = time.perf_counter()
        usage = tree_usage(tree)
        cold = time.perf_counter() - t0
        child([str(RUNYARD), "du", str(tree), "--json"], env)  # the CLI's cache (the same root, as given)
        empty = Path(tmp_name) / "empty"
        empty.mkdir()
        contenders = {
            "find": lambda: child(["find", str(tree), "-printf", "%s\n"], env),
            "walk": lambda: stat_floor(tree),
            "warm": lambda: tree_usage(tree),
            "walk_child": lambda: child([sys.executable, "-c", WALK_CHILD, str(tree)], env),
            "du_child": lambda: child([str(RUNYARD), "du", str(tree), "--json"], env),
            "startup": lambda: child([str(RUNYARD), "du", str(empty), "--json"], env),
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.repeat):
            for name, fn in contenders.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        median = {name: statistics.median(values) for name, values in times.items()}
    r = {"runs": len(usage.runs), "files": files, "total_bytes": usage.total.total, "rounds": args.repeat,
         "find_s": median["find"], "scandir_walk_s": median["walk"], "tree_usage_cold_s": cold,
         "tree_usage_warm_s": median["warm"], "scandir_walk_child_s": median["walk_child"],
         "runyard_du_s": median["du_child"], "runyard_du_empty_s": median["startup"],
         "in_process_vs_walk": median["warm"] / median["walk"],
         "subprocess_vs_walk": median["du_child"] / median["walk_child"],
         "du_vs_find": median["du_child"] / median["find"]}
    print(f"{r['runs']:,} runs, {r['files']:,} files, {r['total_bytes'] / 2**20:.1f} MiB on disk; "
          f"medians of {args.repeat} interleaved rounds")
    print(f"stat walk: find {r['find_s']:.3f} s, os.scandir {r['scandir_walk_s']:.3f} s in-process, "
          f"{r['scandir_walk_child_s']:.3f} s as a python child")
    print(f"in-process: tree_usage warm {r['tree_usage_warm_s']:.3f} s (cold {r['tree_usage_cold_s']:.2f} s) "
          f"= {r['in_process_vs_walk']:.2f}x the scandir walk")
    print(f"subprocess: runyard du --json warm {r['runyard_du_s']:.3f} s = {r['subprocess_vs_walk']:.2f}x the "
          f"scandir walk's child ({r['du_vs_find']:.2f}x find); its start-up alone (empty root) "
          f"{r['runyard_du_empty_s']:.3f} s")
    checks = {"warm tree_usage within 3x the stat walk (in-process)": r["in_process_vs_walk"] <= 3,
              "warm runyard du within 3x the stat walk (subprocess, both paying start-up)":
                  r["subprocess_vs_walk"] <= 3}
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISS'}] {label}")
    (OUT / "bench_du.json").write_text(json.dumps(r, indent=2))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
