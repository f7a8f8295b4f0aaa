"""runyard's app and W&B's own terminal viewer (`wandb beta leet`) side by side on the same W&B offline runs.

Each tool runs alone, as a fresh process, in a real terminal: a tmux pane of WIDTHxHEIGHT with
TERM=xterm-256color (runyard with an empty disk cache). The pane is captured every POLL seconds and the tool's
whole process tree (LEET starts wandb-core, a Go binary) sampled with psutil at the same pace:

- first curve: launch to the first capture with curve glyphs (braille, both tools) inside a chart;
- full curve: launch to the first capture whose chart shows the run's last step (the step each tool prints:
  runyard's header `step N`, LEET's summary `_step N`, see `last_step_*`) with curve glyphs drawn;
- peak MB: the largest summed RSS of the tree until then;
- following: a real wandb process logs a step every PACE seconds into an offline run that already has
  LIVE_ROWS rows; once the tool shows those, its tree's CPU seconds per wall second over FOLLOW seconds, and the
  lag: how long ago the writer logged the step the screen shows (median and last of the samples).

The machine is shared and noisy: the ratios runyard/LEET, measured in the same run, are the figures to trust.

    python bench/bench_leet.py [--steps 200000] [--live-rows 50000] [--follow 40] [--save-captures DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

WIDTH, HEIGHT = 200, 50
POLL = 0.05
PACE = 0.02
LIVE_ROWS = 50_000
LAG_SLACK = 2.0  # s a tool may show a step later than it reached the disk and still be said to keep up
STARTUP_LIMIT = 300.0  # seconds before a tool that shows nothing is given up on

# ----- what the screens show (pure functions of a capture, unit-tested on saved captures) --------------------

BRAILLE = re.compile("[\u2801-\u28ff]")  # U+2800 is the blank braille cell: not a curve
_RUNYARD_HEADER = re.compile(r"\bstep (\d[\d,]*)\b")
_LEET_STEP = re.compile(r"^\s*_step\s+(\d+)\b")


def curve_cells(lines: list[str]) -> int:
    """How many braille cells (both tools draw curves in braille) the capture holds."""
    return sum(len(BRAILLE.findall(line)) for line in lines)


def runyard_chart_rows(lines: list[str]) -> list[str]:
    """runyard's chart: the lines between its frame's top (`┌`) and its x axis (`└┬`), left edge included."""
    top = next((i for i, line in enumerate(lines) if line.lstrip().startswith("┌")), None)
    if top is None:
        return []
    bottom = next((i for i in range(top + 1, len(lines)) if lines[i].lstrip().startswith("└")), None)
    return lines[top + 1:bottom] if bottom is not None else []


def runyard_first_curve(lines: list[str]) -> bool:
    """A curve is drawn in runyard's chart: braille beyond the legend's colour swatches (`⢕⢕`)."""
    rows = runyard_chart_rows(lines)
    return curve_cells([line.replace("⢕", "") for line in rows]) >= 4


def runyard_last_step(lines: list[str]) -> int | None:
    """The last step runyard's run screen says it has read: `step N` in its header line."""
    for line in lines[:2]:
        found = _RUNYARD_HEADER.search(line)
        if found:
            return int(found.group(1).replace(",", ""))
    return None


def leet_chart_cells(lines: list[str]) -> int:
    """Braille cells inside LEET's metric charts: rounded boxes (`╭`...`╰`) in its middle column, between the
    `│` that part it from the run overview (left) and the system metrics (right)."""
    cells, inside = 0, False
    for line in lines:
        if "╭" in line:
            inside = True
        elif "╰" in line:
            inside = False
        elif inside:
            parts = line.split("│")
            if len(parts) >= 3:
                cells += curve_cells(parts[1:-1])
    return cells


def leet_first_curve(lines: list[str]) -> bool:
    """A curve is drawn in one of LEET's metric charts."""
    return leet_chart_cells(lines) >= 4


def leet_last_step(lines: list[str]) -> int | None:
    """The last step LEET shows: `_step N` in its run overview's summary (the overview is the left column)."""
    for line in lines:
        found = _LEET_STEP.match(line.split("│")[0])
        if found:
            return int(found.group(1))
    return None


# ----- the real W&B writer for the following test --------------------------------------------------------------

WRITER = r"""
import math, os, sys, time
os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DISABLE_GIT="true",
                  WANDB_DISABLE_CODE="true", WANDB_CONSOLE="off")
import wandb
folder, fast, pace, report = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
run = wandb.init(mode="offline", dir=folder, project="bench", config={"lr": 3e-4, "batch_size": 64},
                 settings=wandb.Settings(disable_git=True, save_code=False, console="off",
                                         x_disable_stats=True, x_disable_meta=True))
out = open(report, "w", buffering=1)
out.write(f"run {run.dir}\n")

def row(step):
    loss = 4.0 * math.exp(-step / 20000) + 0.05 * math.sin(step / 50.0) + 1.0
    return {"train/loss": loss, "train/lr": 3e-4, "train/grad_norm": 0.5 + 0.3 * math.cos(step / 37.0),
            "perf/tokens_per_sec": 51234.5 + (step % 97), "epoch": step // 10000}

step = 0
while step < fast:
    run.log(row(step), step=step, commit=True)
    step += 1
out.write(f"fast {step - 1} {time.time()}\n")
next_at = time.monotonic()
while True:  # the live pace, until killed
    run.log(row(step), step=step, commit=True)
    out.write(f"step {step} {time.time()}\n")
    step += 1
    next_at += pace
    time.sleep(max(0.0, next_at - time.monotonic()))
"""


def disk_last_step(wandb_file: Path, blocks: int = 2) -> int | None:
    """The last history step in the `.wandb` file as it is on disk now (its last `blocks` 32 KiB blocks read):
    what any reader could show at best, so the writer's own buffering is told apart from a tool's lag."""
    import struct

    from wandb.proto import wandb_internal_pb2

    size = wandb_file.stat().st_size
    start = max(0, (size // 32768 - blocks + 1) * 32768)
    with wandb_file.open("rb") as fh:
        fh.seek(start)
        data = fh.read(size - start)
    pos, parts, last = (7 if start == 0 else 0), None, None
    while pos + 7 <= len(data):
        room = 32768 - (start + pos) % 32768
        if room < 7:
            pos += room
            continue
        _, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 or pos + 7 + length > len(data):
            pos += room if kind == 0 else len(data)
            continue
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 2):  # FULL, FIRST
            parts = [chunk]
        elif parts is not None:
            parts.append(chunk)
        if kind in (1, 4) and parts is not None:  # FULL, LAST
            record = wandb_internal_pb2.Record.FromString(b"".join(parts))
            if record.WhichOneof("record_type") == "history":
                last = record.history.step.num
            parts = None
    return last


class LiveWriter:
    """A wandb process logging LIVE_ROWS steps fast into a new offline run, then one step every PACE s."""

    def __init__(self, work: Path, fast: int, pace: float = PACE) -> None:
        self.report = work / "writer.report"
        script = work / "writer.py"
        script.write_text(WRITER)
        self.err = (work / "writer.err").open("w")
        self.proc = subprocess.Popen([sys.executable, str(script), str(work / "live"), str(fast), str(pace),
                                      str(self.report)], cwd=work, stdout=subprocess.DEVNULL, stderr=self.err,
                                     env={**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"})

    def lines(self) -> list[str]:
        try:
            return self.report.read_text().splitlines()
        except FileNotFoundError:
            return []

    def wait_fast(self, timeout: float = 600.0) -> tuple[Path, int]:
        """Block until the fast phase is logged: (the run's folder, its last step)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            fast = [line for line in lines if line.startswith("fast ")]
            if fast:
                folder = Path(lines[0].split(" ", 1)[1]).parent  # run.dir is <run folder>/files
                return folder, int(fast[0].split()[1])
            if self.proc.poll() is not None:
                raise RuntimeError(f"the wandb writer stopped: {Path(self.err.name).read_text()[-500:]}")
            time.sleep(0.2)
        raise RuntimeError("the wandb writer did not log its first rows in time")

    def logged(self) -> dict[int, float]:
        """Wallclock time each live step was logged."""
        out = {}
        for line in self.lines():
            if line.startswith("step "):
                parts = line.split()
                if len(parts) == 3:
                    out[int(parts[1])] = float(parts[2])
        return out

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.err.close()


# ----- one tool in one tmux pane ------------------------------------------------------------------------------

@dataclass
class Tool:
    """How to start a tool on a run folder and read its screen."""

    name: str
    argv: Callable[[Path], list[str]]
    first_curve: Callable[[list[str]], bool]
    last_step: Callable[[list[str]], int | None]


def wandb_argv() -> list[str] | None:
    """The `wandb` command of this Python (its console script, else `python -m wandb`); None without wandb."""
    script = Path(sys.executable).parent / "wandb"
    if script.exists():
        return [str(script)]
    try:
        import wandb  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "wandb"]


def runyard_argv() -> list[str]:
    """The `runyard` command installed next to this Python."""
    script = Path(sys.executable).parent / "runyard"
    return [str(script)] if script.exists() else [sys.executable, "-m", "runyard.tui.cli"]


def tools() -> list[Tool]:
    wandb = wandb_argv() or ["wandb"]
    return [
        Tool("LEET", lambda run: [*wandb, "beta", "leet", str(run)], leet_first_curve, leet_last_step),
        Tool("runyard", lambda run: [*runyard_argv(), str(run)], runyard_first_curve, runyard_last_step),
    ]


class Pane:
    """A private tmux server running one command in a WIDTHxHEIGHT pane; its process tree sampled by psutil."""

    def __init__(self, work: Path, argv: list[str], env: dict[str, str]) -> None:
        import psutil

        self.sock = f"runyard-leet-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        conf = work / "tmux.conf"
        conf.write_text("set -g default-terminal xterm-256color\nset -g status off\nset -g escape-time 0\n"
                        "set -g remain-on-exit on\n")
        self.started = time.monotonic()
        # several arguments: tmux executes the command itself, so the pane's pid is the tool's
        subprocess.run(["tmux", "-L", self.sock, "-f", str(conf), "new-session", "-d", "-x", str(WIDTH),
                        "-y", str(HEIGHT), "-s", "bench", *argv], env=env, check=True, timeout=30, cwd=work)
        self.root = psutil.Process(int(self.tmux("display-message", "-p", "#{pane_pid}").strip()))
        self.cpu_seen: dict[int, float] = {}
        self.peak_rss = 0
        self.peak_parts: dict[str, int] = {}  # process name -> its RSS at the tree's peak

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=30,
                              check=True).stdout

    def capture(self) -> list[str]:
        """The pane's lines; none this time when tmux does not answer in time (a machine under heavy load): the
        next poll looks again."""
        try:
            return [line.rstrip() for line in self.tmux("capture-pane", "-p").split("\n")]
        except subprocess.TimeoutExpired:
            return []

    def tree(self) -> list:
        import psutil

        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def sample(self) -> tuple[int, float]:
        """(RSS of the tree in bytes, CPU seconds it has used so far, reaped children included)."""
        import psutil

        rss = 0
        parts: dict[str, int] = {}
        for proc in self.tree():
            try:
                with proc.oneshot():
                    one = proc.memory_info().rss
                    rss += one
                    parts[proc.name()] = parts.get(proc.name(), 0) + one
                    t = proc.cpu_times()
                    self.cpu_seen[proc.pid] = t.user + t.system + t.children_user + t.children_system
            except psutil.NoSuchProcess:
                pass  # its last figures stay counted
        if rss > self.peak_rss:
            self.peak_rss, self.peak_parts = rss, parts
        return rss, sum(self.cpu_seen.values())

    def close(self) -> None:
        """Kill the tool's tree by pid (a busy app may ignore the hang-up) and the tmux server."""
        import psutil

        procs = self.tree()
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(procs, timeout=10)
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=30)


@dataclass
class Result:
    tool: str
    first: float | None = None
    full: float | None = None
    peak_mb: float = 0.0
    peak_parts: dict[str, float] = field(default_factory=dict)
    captures: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""


def tool_env(work: Path) -> dict[str, str]:
    """What each tool runs with: an empty runyard cache, a known terminal, W&B offline and quiet."""
    cache = work / "runyard-cache"
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    env = {**os.environ, "RUNYARD_CACHE_DIR": str(cache), "TERM": "xterm-256color", "WANDB_MODE": "offline",
           "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
    for name in ("TMUX", "TMUX_PANE", "COLUMNS", "LINES"):
        env.pop(name, None)
    return env


def watch(pane: Pane, tool: Tool, target: int, limit: float, result: Result) -> None:
    """Poll until the tool shows `target` as its last step with a curve drawn (or `limit` s pass)."""
    while True:
        lines = pane.capture()
        pane.sample()
        now = time.monotonic() - pane.started
        drawn = tool.first_curve(lines)
        if drawn and result.first is None:
            result.first = now
            result.captures["first"] = lines
        shown = tool.last_step(lines)
        if drawn and shown is not None and shown >= target:
            result.full = now
            result.captures["full"] = lines
            return
        if now > limit:
            result.captures["last"] = lines
            result.note = f"gave up after {limit:.0f} s (last step shown: {shown})"
            return
        time.sleep(POLL)


def open_run(tool: Tool, run: Path, target: int, work: Path, limit: float) -> Result:
    """Time one fresh launch of `tool` on the finished `run` until it shows step `target`."""
    result = Result(tool.name)
    pane = Pane(work, tool.argv(run), tool_env(work))
    try:
        watch(pane, tool, target, limit, result)
    finally:
        pane.close()
    result.peak_mb = pane.peak_rss / 1e6
    result.peak_parts = {name: rss / 1e6 for name, rss in pane.peak_parts.items()}
    return result


@dataclass
class Following:
    tool: str
    caught_up: float | None = None  # s from launch until the rows written before it started were shown
    cpu: float | None = None        # CPU s per wall s of the tree while following
    lags: list[float] = field(default_factory=list)   # s between a step's logging and its showing
    floor: list[float] = field(default_factory=list)  # the same for the last step on disk (wandb buffers)
    behind: list[int] = field(default_factory=list)   # steps logged but not shown yet, at each look
    advanced: bool = False
    captures: dict[str, list[str]] = field(default_factory=dict)

    def verdict(self) -> str:
        """`yes (lag ...)` when the shown step advanced and, over the window's second half, stayed within LAG_SLACK
        s of what was on disk and of the first half's lag; else `no (...)` with the lag."""
        if not self.lags or not self.advanced:
            return "no (last step never advanced)"
        half = len(self.lags) // 2
        early, late = statistics.median(self.lags[:half] or self.lags), statistics.median(self.lags[half:])
        floor = statistics.median(self.floor) if self.floor else 0.0
        said = f"lag {statistics.median(self.lags):.2f} s, on disk {floor:.2f} s"
        if late > floor + LAG_SLACK or late > early + LAG_SLACK:  # too far behind, or falling further behind
            return f"no ({said}; {early:.1f} s -> {late:.1f} s)"
        return f"yes ({said})"


def follow(tool: Tool, work: Path, live_rows: int, seconds: float, limit: float) -> Following:
    """Start a live wandb writer, open its run in `tool` once LIVE_ROWS are logged, and watch it follow."""
    out = Following(tool.name)
    live = work / f"live-{tool.name}"
    shutil.rmtree(live, ignore_errors=True)
    live.mkdir(parents=True)
    writer = LiveWriter(live, live_rows)
    try:
        folder, fast_last = writer.wait_fast()
        wandb_file = next(folder.glob("run-*.wandb"))
        pane = Pane(work, tool.argv(folder), tool_env(work))
        try:
            while time.monotonic() - pane.started < limit:
                lines = pane.capture()
                pane.sample()
                shown = tool.last_step(lines)
                if tool.first_curve(lines) and shown is not None and shown >= fast_last:
                    out.caught_up = time.monotonic() - pane.started
                    break
                time.sleep(POLL)
            out.captures["caught_up"] = pane.capture()
            _, cpu0 = pane.sample()
            t0 = time.monotonic()
            first_shown = None
            last_shown = None
            while time.monotonic() - t0 < seconds:
                time.sleep(0.25)
                lines = pane.capture()
                seen = time.time()
                pane.sample()
                shown = tool.last_step(lines)
                if shown is None:
                    continue
                first_shown = shown if first_shown is None else first_shown
                last_shown = shown
                logged = writer.logged()
                if shown in logged:
                    out.lags.append(seen - logged[shown])
                on_disk = disk_last_step(wandb_file)
                if on_disk in logged:
                    out.floor.append(seen - logged[on_disk])
                if logged:
                    out.behind.append(max(logged) - shown)
            _, cpu1 = pane.sample()
            out.cpu = (cpu1 - cpu0) / (time.monotonic() - t0)
            out.advanced = first_shown is not None and last_shown is not None and last_shown > first_shown
            out.captures["following"] = pane.capture()
        finally:
            pane.close()
    finally:
        writer.stop()
    return out


# ----- the report --------------------------------------------------------------------------------------------

def fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


def table(opens: list[Result], follows: list[Following]) -> str:
    rows = [("tool", "first curve (s)", "full curve (s)", "peak MB", "CPU % following", "caught up (s)",
             "keeps up")]
    by_name = {f.tool: f for f in follows}
    for r in opens:
        f = by_name.get(r.tool)
        rows.append((r.tool, fmt(r.first), fmt(r.full), fmt(r.peak_mb, ".0f"),
                     fmt(None if f is None or f.cpu is None else 100 * f.cpu, ".1f"),
                     fmt(f and f.caught_up), f.verdict() if f else "-"))
    if len(opens) == 2:
        a, b = opens[1], opens[0]
        fa, fb = by_name.get(a.tool), by_name.get(b.tool)
        rows.append((f"{a.tool}/{b.tool}", ratio(a.first, b.first), ratio(a.full, b.full),
                     ratio(a.peak_mb, b.peak_mb), ratio(fa and fa.cpu, fb and fb.cpu),
                     ratio(fa and fa.caught_up, fb and fb.caught_up), ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def save(captures: dict[str, list[str]], folder: Path, prefix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in captures.items():
        (folder / f"{prefix}-{name}.txt").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000, help="steps of the finished run opened")
    parser.add_argument("--live-rows", type=int, default=LIVE_ROWS, help="rows the live run has when opened")
    parser.add_argument("--follow", type=float, default=40.0, help="seconds of following measured")
    parser.add_argument("--limit", type=float, default=STARTUP_LIMIT, help="seconds before giving a tool up")
    parser.add_argument("--run", type=Path, help="a finished offline-run-* folder of --steps steps instead")
    parser.add_argument("--only", choices=["LEET", "runyard"], action="append", help="measure only these")
    parser.add_argument("--no-follow", action="store_true", help="skip the live writer part")
    parser.add_argument("--save-captures", type=Path,
                        default=Path.home() / ".cache" / "runyard-bench" / "leet" / "captures")
    args = parser.parse_args()

    if shutil.which("tmux") is None:
        print("bench_leet: skipped, tmux is not on PATH")
        return 0
    if wandb_argv() is None:
        print("bench_leet: skipped, wandb is not installed (pip install 'runyard[wandb]')")
        return 0
    if args.run is not None:
        run = args.run
    else:
        from bench.wandb_runs import offline_run

        run = offline_run(args.steps)
    chosen = [t for t in tools() if not args.only or t.name in args.only]
    print(f"run: {run} ({args.steps} steps); pane {WIDTH}x{HEIGHT}; live: {args.live_rows} rows then a step "
          f"every {PACE * 1000:.0f} ms, {args.follow:.0f} s watched", flush=True)
    opens: list[Result] = []
    follows: list[Following] = []
    with tempfile.TemporaryDirectory(prefix="runyard-bench-leet-") as tmp:
        work = Path(tmp)
        for tool in chosen:
            result = open_run(tool, run, args.steps - 1, work, args.limit)
            opens.append(result)
            save(result.captures, args.save_captures, f"{tool.name}-open")
            print(f"  {tool.name}: opened, first curve {fmt(result.first)} s, full {fmt(result.full)} s, "
                  f"peak {result.peak_mb:.0f} MB ("
                  + ", ".join(f"{n} {mb:.0f}" for n, mb in result.peak_parts.items()) + f") {result.note}", flush=True)
        if not args.no_follow:
            for tool in chosen:
                following = follow(tool, work, args.live_rows, args.follow, args.limit)
                follows.append(following)
                save(following.captures, args.save_captures, f"{tool.name}-follow")
                print(f"  {tool.name}: following, caught up {fmt(following.caught_up)} s, "
                      f"CPU {fmt(None if following.cpu is None else 100 * following.cpu, '.1f')} %, "
                      f"{following.verdict()}", flush=True)
    print()
    print(table(opens, follows))
    out = PROJECT / "bench" / "out"
    out.mkdir(exist_ok=True)
    figures = {"run": str(run), "steps": args.steps, "live_rows": args.live_rows, "pace_s": PACE,
               "opened": [{k: getattr(r, k) for k in ("tool", "first", "full", "peak_mb", "peak_parts", "note")}
                          for r in opens],
               "following": [{"tool": f.tool, "caught_up": f.caught_up, "cpu": f.cpu, "lags": f.lags,
                              "disk_lags": f.floor, "behind": f.behind, "keeps_up": f.verdict()} for f in follows]}
    (out / "bench_leet.json").write_text(json.dumps(figures, indent=2))
    print(f"(figures in {out / 'bench_leet.json'}, captures in {args.save_captures})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
