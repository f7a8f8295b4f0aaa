"""The app following live TensorBoard runs: its CPU, in % of one core, while 20 writers log, per screen.

20 writer processes (tensorboard's own `EventFileWriter`, flush_secs=1, one event per scalar as torch's
`SummaryWriter.add_scalar` writes them) each log loss, lr and grad_norm every 100-200 ms, and val/loss every
50 steps, into one runs root; each run starts with a history (an earlier event file of `--steps` steps, as a
restarted run has). The real app (`runyard ROOT`) runs in a 200x50 tmux terminal, as kept open over SSH, and
its process's CPU seconds per wall second are measured with psutil, after a warm-up, in each mode:

- runs: the runs screen listing the 20 live runs;
- run: one run open on the run screen, its curves drawn;
- compare: the compare screen with four runs;
- idle (baseline): the runs screen, the writers stopped, in the same run.

Each mode also checks the app keeps up: the latest step on screen (read with `tmux capture-pane`) advances.
Generated histories are kept in ~/.cache/runyard-bench/follow-tb-app; runyard's own caches go to a temporary
folder.

    python bench/bench_follow_tb_app.py [--runs 20] [--steps 30000] [--window 60] [--warmup 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

PROJECT = Path(__file__).resolve().parent.parent
RUNYARD = PROJECT / ".venv" / "bin" / "runyard"
CACHE = Path.home() / ".cache" / "runyard-bench" / "follow-tb-app"
COLS, LINES = 200, 50
TAGS = ("train/loss", "train/lr", "train/grad_norm")
VAL_EVERY = 50
T0 = 1.7e9

WRITER = r"""
import math, random, sys, time
from pathlib import Path
from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.summary.writer.event_file_writer import EventFileWriter

folder, step, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
writer = EventFileWriter(str(folder), flush_secs=1)

def scalar(tag, value, step):
    event = Event(step=step, wall_time=time.time())
    event.summary.value.add(tag=tag, simple_value=value)
    writer.add_event(event)

while True:
    step += 1
    scalar("train/loss", 3.0 / math.sqrt(step + 1) + rng.random() * 0.05, step)
    scalar("train/lr", 3e-4 * min(1.0, step / 2000), step)
    scalar("train/grad_norm", 1.0 + rng.random(), step)
    if step % 50 == 0:
        scalar("val/loss", 3.1 / math.sqrt(step + 1), step)
    time.sleep(rng.uniform(0.1, 0.2))
"""


def _masked(data: bytes) -> int:
    import crc32c

    c = crc32c.crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _frame(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", _masked(header)) + data + struct.pack("<I", _masked(data))


def history(steps: int, seed: int) -> bytes:
    """An event file of `steps` steps written as torch writes them: a version header, one event per scalar."""
    import math
    import random

    from tensorboard.compat.proto.event_pb2 import Event

    rng = random.Random(seed)
    start = time.time() - steps * 0.15  # it ends when it is generated, at the live writers' pace
    out = [_frame(Event(wall_time=start, file_version="brain.Event:2").SerializeToString())]
    for step in range(steps):
        wall = start + step * 0.15
        values = {"train/loss": 3.0 / math.sqrt(step + 1) + rng.random() * 0.05,
                  "train/lr": 3e-4 * min(1.0, step / 2000), "train/grad_norm": 1.0 + rng.random()}
        if step and step % VAL_EVERY == 0:
            values["val/loss"] = 3.1 / math.sqrt(step + 1)
        for tag, value in values.items():
            event = Event(step=step, wall_time=wall)
            event.summary.value.add(tag=tag, simple_value=value)
            out.append(_frame(event.SerializeToString()))
    return b"".join(out)


def histories(runs: int, steps: int) -> list[Path]:
    """One history event file per run, generated once and kept in the cache folder."""
    folder = CACHE / f"history-{steps}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(runs):
        path = folder / f"h{i:02d}"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(history(steps, i))
            tmp.rename(path)
        paths.append(path)
    return paths


def make_root(root: Path, sources: list[Path]) -> list[Path]:
    """A runs root of one folder per run, each holding its history as an event file named before today's."""
    folders = []
    for i, source in enumerate(sources):
        folder = root / f"tb{i:02d}"
        folder.mkdir(parents=True)
        shutil.copyfile(source, folder / f"events.out.tfevents.{int(T0)}.benchhost.{1000 + i}.0")
        folders.append(folder)
    return folders


class Tmux:
    """A tmux server on its own socket without user config; `close` ends it and what runs in it."""

    def __init__(self, tmp: Path) -> None:
        self.socket, self.tmp = f"runyard-follow-{os.getpid()}", tmp

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], capture_output=True,
                              text=True, check=True, timeout=10).stdout

    def launch(self, argv: list[str], env: dict[str, str]) -> int:
        pidfile = self.tmp / "app.pid"
        command = f"echo $$ > {shlex.quote(str(pidfile))}; exec {shlex.join(argv)}"
        options = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
        self("new-session", "-d", "-s", "app", "-x", str(COLS), "-y", str(LINES), *options, command)
        deadline = time.monotonic() + 10
        while not pidfile.exists() or not pidfile.read_text().strip():
            if time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.05)
        return int(pidfile.read_text())

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "app")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "app", *keys)

    def wait(self, ready, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if ready(text):
                return text
            if time.monotonic() > deadline:
                raise TimeoutError(f"screen not ready after {timeout:.0f} s; it shows:\n{text}")
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


def table_step(text: str) -> int:
    """The highest step in a row of the runs table (run names tbNN)."""
    found = [int(m.replace(",", "")) for m in re.findall(r"\btb\d\d\s+(?:\S+\s+)*?([\d,]{2,})\s", text)]
    return max(found, default=-1)


def compare_step(text: str) -> int:
    """The highest step in the compare screen's Table tab (its `steps` column, second from the right)."""
    found = [int(line.split()[-2].replace(",", "")) for line in text.splitlines()
             if re.match(r"\s*● tb\d\d\s", line) and re.fullmatch(r"[\d,]+", line.split()[-2])]
    return max(found, default=-1)


def title_step(text: str) -> int:
    """The highest `step N` the run or compare screen's title shows."""
    found = [int(m.replace(",", "")) for m in re.findall(r"step ([\d,]+)", text)]
    return max(found, default=-1)


def measure(app: psutil.Process, tmux: Tmux, window: float, step_of) -> dict:
    """The app's CPU over `window` seconds (user + system, every thread), and the step shown before and after
    (`step_of(tmux)` reads it off the screen)."""
    first = step_of(tmux)
    before = sum(app.cpu_times()[:2])
    t0 = time.perf_counter()
    time.sleep(window)
    used, wall = sum(app.cpu_times()[:2]) - before, time.perf_counter() - t0
    last = step_of(tmux)
    return {"pct": round(100 * used / wall, 2), "step_before": first, "step_after": last,
            "advanced": last > first >= 0}


def on_screen(parse):
    """A step reader of what the pane shows now."""
    return lambda tmux: parse(tmux.screen())


def compare_table_step(tmux: Tmux) -> int:
    """The step in the compare screen's Table tab, then back to its curves (the mode measured)."""
    tmux.keys("2")
    text = tmux.wait(lambda s: compare_step(s) >= 0, 20)
    tmux.keys("1")
    return compare_step(text)


def start_writers(folders: list[Path], steps: int) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return [subprocess.Popen([sys.executable, "-c", WRITER, str(folder), str(steps), str(i)], env=env)
            for i, folder in enumerate(folders)]


def stop_writers(writers: list[subprocess.Popen]) -> None:
    for writer in writers:
        writer.terminate()
    for writer in writers:
        try:
            writer.wait(10)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--steps", type=int, default=30_000, help="history steps per run (3 scalars each)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured per mode")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before each measurement")
    parser.add_argument("--modes", default="runs,run,compare", help="of runs,run,compare (idle always)")
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        print("tmux is not installed: skipped")
        return 0
    modes = args.modes.split(",")
    sources = histories(args.runs, args.steps)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="runyard-follow-tb-") as tmp_name:
        tmp = Path(tmp_name)
        folders = make_root(tmp / "root", sources)
        writers = start_writers(folders, args.steps)
        tmux = Tmux(tmp)
        try:
            env = {"RUNYARD_CACHE_DIR": str(tmp / "cache"), "TERM": "xterm-256color"}
            app = psutil.Process(tmux.launch([str(RUNYARD), str(tmp / "root")], env))
            tmux.wait(lambda s: f"{args.runs} running" in s, 120)
            if "runs" in modes:
                time.sleep(args.warmup)
                results["runs"] = measure(app, tmux, args.window, on_screen(table_step))
            if "run" in modes:
                tmux.keys("Home", "Enter")
                tmux.wait(lambda s: title_step(s) >= 0 and "loading" not in s, 60)
                time.sleep(args.warmup)
                results["run"] = measure(app, tmux, args.window, on_screen(title_step))
                tmux.keys("Escape")
                tmux.wait(lambda s: f"{args.runs} running" in s, 30)
            if "compare" in modes:
                tmux.keys("Home", "Space", "Space", "Space", "Space", "c")
                tmux.wait(lambda s: "compare 4 runs" in s and "loading" not in s, 60)
                time.sleep(args.warmup)
                results["compare"] = measure(app, tmux, args.window, compare_table_step)
                tmux.keys("Escape")
                time.sleep(1)  # tmux would read escape and the next key as one alt+key
                tmux.keys("U")
                tmux.wait(lambda s: f"{args.runs} running" in s, 30)
            stop_writers(writers)
            writers = []
            time.sleep(args.warmup)
            results["idle"] = measure(app, tmux, args.window, on_screen(table_step))
            results["idle"]["advanced"] = None  # nothing to advance: the writers are stopped
        finally:
            stop_writers(writers)
            tmux.close()
    idle = results["idle"]["pct"]
    print(f"\nthe app following {args.runs} live TensorBoard runs ({args.steps:,} steps of history each), "
          f"{COLS}x{LINES} tmux, {args.window:.0f} s per mode; target < 10% of one core")
    print(f"{'mode':10} {'% of a core':>12} {'vs idle':>9}  step shown (before -> after)  keeps up")
    for mode, r in results.items():
        ratio = f"{r['pct'] / idle:.1f}x" if idle > 0 else "-"
        print(f"{mode:10} {r['pct']:12.2f} {ratio:>9}  {r['step_before']:>10,} -> {r['step_after']:<10,}      "
              f"{'-' if r['advanced'] is None else 'yes' if r['advanced'] else 'NO'}")
    print(json.dumps({"runs": args.runs, "steps": args.steps, "window_s": args.window, "modes": results}))
    ok = all(r["advanced"] is not False for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
