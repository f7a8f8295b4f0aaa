"""Scanning a tree full of other files: 100,000 small .txt documents in nested folders beside three runs (a runyard
run, a plain text log and a TensorBoard run), each figure against a baseline measured in the same run.

1. scan: `scan()` of the tree, first (empty cache) and again (cached: as a new process has it, the cache file
   parsed, and as the app has it, the parsed cache kept in memory). Baseline: a bare stat walk, os.scandir
   recursion that stats every file (the least a scan that notices a changed file must do); a walk that only
   lists (as `find` does, no stat) is shown too. Target: cached scan within 3x the stat walk.
2. ls: `runyard ls` as a subprocess, cached. Baseline: `runyard ls` of an empty folder (Python and imports),
   and the stat walk. Target: the time beyond start-up within 3x the stat walk.
3. idle: CPU of the app in a 120x40 tmux terminal on the tree, sampled from /proc/PID/stat over windows of 10 s
   once its first scan is done (warm cache, as a reopened app has it), for a minute: the periodic rescan comes
   every 5 s on a small tree and, on one costly to list, as seldom as keeps it under 1% of a core, so a single
   window either holds one or none. Baseline: the same app on the three runs alone. Target: < 2% of a core.

The tree is generated in bench/out for reuse; runyard's caches go to a temporary folder.

    python bench/bench_tree.py [--docs N] [--repeat N] [--windows N]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
OUT = PROJECT / "bench" / "out"
RUNYARD = Path(sys.executable).parent / "runyard"
WORDS = ("the", "of", "model", "data", "a", "training", "value", "report", "page", "and", "results", "table")
RUN_NAMES = ("small", "train", "tb_run")


def timed(fn, repeat: int = 1) -> float:
    """The best of `repeat` wall times, in seconds (the minimum is the least noisy on a shared machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ----- the tree ---------------------------------------------------------------------------------------------

def make_runs(runs: Path) -> None:
    """A finished runyard run, a finished plain text log and a TensorBoard run, all written long enough ago."""
    import runyard

    with runyard.init("small", root=runs, console=False, system_metrics=False) as run:
        for step in range(50):
            run.log({"train/loss": 3.0 / (step + 1)}, step=step)
    log = runs / "textlog" / "train.log"
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"2026-11-01 10:{i // 60:02d}:{i % 60:02d},000 - INFO - epoch {i}: loss={2 - i / 50:.3f}\n"
                           for i in range(50)) + "2026-11-01 10:01:00,000 - INFO - training done\n")
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(runs / "tb_run"))
    start = time.time() - 86400
    for step in range(50):
        value = summary_pb2.Summary.Value(tag="loss", simple_value=1.0 / (step + 1))
        writer.add_event(event_pb2.Event(wall_time=start + step, step=step, summary=summary_pb2.Summary(value=[value])))
    writer.close()
    old = time.time() - 86400  # quiet for a day: every run is over, nothing is followed
    for path in runs.rglob("*"):
        os.utime(path, (old, old))


def make_docs(corpus: Path, docs: int) -> None:
    """`docs` small text documents (a few hundred bytes of prose each) in nested folders of 1,000."""
    rnd = random.Random(7)
    for i in range(docs):
        folder = corpus / f"part{i // 10000:02d}" / f"shard{i // 1000 % 10}"
        if i % 1000 == 0:
            folder.mkdir(parents=True)
        words = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(20, 80)))
        (folder / f"doc_{i:06d}.txt").write_text(f"Document {i}.\n{words}.\n")


def trees(docs: int) -> tuple[Path, Path]:
    """(the tree with the documents, the same runs alone), generated once in bench/out."""
    base = OUT / f"tree_{docs}"
    full, alone = base / "full", base / "runs_only"
    if not (base / ".done").exists():
        shutil.rmtree(base, ignore_errors=True)
        make_runs(full / "runs")
        shutil.copytree(full / "runs", alone / "runs")
        make_docs(full / "corpus", docs)
        (base / ".done").touch()
    return full, alone


# ----- walks ------------------------------------------------------------------------------------------------

def stat_walk(folder: str) -> int:
    """os.scandir recursion that stats every file: the baseline."""
    count = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                count += stat_walk(entry.path)
            else:
                entry.stat(follow_symlinks=False)
                count += 1
    return count


def list_walk(folder: str) -> int:
    """os.scandir recursion without a stat: what `find` does."""
    count = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            count += list_walk(entry.path) if entry.is_dir(follow_symlinks=False) else 1
    return count


# ----- the idle app -----------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(root: Path, env: dict[str, str], windows: int, tmp: Path) -> list[float]:
    """CPU of the app in tmux on `root`, in % of a core, per 10 s window once its first scan is listed."""
    socket = f"bench-tree-{os.getpid()}-{root.name}"  # a server of its own per tree

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-L", socket, "-f", "/dev/null", *args], capture_output=True, text=True,
                              timeout=10).stdout

    command = " ".join(["env", *(f"{k}={v}" for k, v in env.items()), str(RUNYARD), str(root)])
    tmux("new-session", "-d", "-s", "app", "-x", "120", "-y", "40", command)
    try:
        pid = int(tmux("list-panes", "-t", "app", "-F", "#{pane_pid}").strip())
        deadline = time.monotonic() + 120
        while f"{len(RUN_NAMES)} runs" not in tmux("capture-pane", "-p", "-t", "app"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app did not list the runs:\n{tmux('capture-pane', '-p', '-t', 'app')}")
            time.sleep(0.2)
        time.sleep(2)  # the first scan's aftermath (preview, gc) settles
        shares = []
        for _ in range(windows):
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(10)
            shares.append(100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0))
        return shares
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, timeout=10)


# ----- main -------------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--windows", type=int, default=6, help="10 s windows of idle CPU to sample")
    args = parser.parse_args()

    t0 = time.perf_counter()
    full, alone = trees(args.docs)
    print(f"tree: {args.docs:,} documents and {len(RUN_NAMES)} runs in {full} "
          f"(ready in {time.perf_counter() - t0:.1f} s)")
    tmp = Path(tempfile.mkdtemp(prefix="bench-tree-"))
    env = {"RUNYARD_CACHE_DIR": str(tmp / "cache"), "XDG_CONFIG_HOME": str(tmp / "config")}
    os.environ.update(env)
    try:
        import runyard
        from runyard.reading import scanner

        def scan_checked() -> None:
            names = sorted(r.info.name for r in runyard.scan(full))
            assert len(names) == len(RUN_NAMES) and not [r for r in runyard.scan(full) if r.info.error], names

        files = stat_walk(str(full))
        listing = timed(lambda: list_walk(str(full)), args.repeat)
        walk = timed(lambda: stat_walk(str(full)), args.repeat)

        def first() -> None:
            shutil.rmtree(tmp / "cache", ignore_errors=True)
            scanner._memo.clear()
            runyard.scan(full)

        first_scan = timed(first, 2)
        scan_checked()

        def cached_new_process() -> None:
            scanner._memo.clear()
            runyard.scan(full)

        cached_file = timed(cached_new_process, args.repeat)
        runyard.scan(full)
        cached_memory = timed(lambda: runyard.scan(full), args.repeat)

        def ls(root: Path) -> None:
            out = subprocess.run([str(RUNYARD), "ls", str(root)], capture_output=True, text=True, check=True,
                                 env={**os.environ, "COLUMNS": "200"})
            assert root == empty or all(name in out.stdout for name in RUN_NAMES), out.stdout

        empty = tmp / "empty"
        empty.mkdir()
        ls(full)
        startup = timed(lambda: ls(empty), args.repeat)
        ls_warm = timed(lambda: ls(full), args.repeat)

        print(f"\n{files:,} files. Baselines: stat walk {walk * 1e3:.0f} ms; listing walk (no stat, as find) "
              f"{listing * 1e3:.0f} ms; `runyard ls` of an empty folder {startup * 1e3:.0f} ms")
        rows = [("scan(), first (empty cache)", first_scan, None),
                ("scan(), cached, new process (cache file parsed)", cached_file, 3.0),
                ("scan(), cached, in the app (cache kept in memory)", cached_memory, 3.0),
                ("`runyard ls`, cached, beyond start-up", ls_warm - startup, 3.0)]
        print(f"{'':52} {'ms':>8} {'x stat walk':>12} {'x listing':>10}  target")
        for label, seconds, target in rows:
            verdict = "" if target is None else ("ok" if seconds / walk <= target else "MISSED") + f" (<= {target:g}x)"
            print(f"{label:52} {seconds * 1e3:8.0f} {seconds / walk:12.2f} {seconds / listing:10.2f}  {verdict}")
        print(f"{'`runyard ls`, cached, whole command':52} {ls_warm * 1e3:8.0f}")

        if shutil.which("tmux") is None:
            print("\nidle: tmux is not installed, skipped")
            return
        runyard.scan(alone)
        base = idle_cpu(alone, env, args.windows, tmp)
        shares = idle_cpu(full, env, args.windows, tmp)
        mean = sum(shares) / len(shares)
        print(f"\nidle app, % of a core per 10 s window: {', '.join(f'{s:.2f}' for s in shares)} "
              f"(mean {mean:.2f}: {'ok' if mean < 2 else 'MISSED'}, target < 2)")
        print(f"baseline, the three runs alone: {', '.join(f'{s:.2f}' for s in base)} "
              f"(mean {sum(base) / len(base):.2f})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
