"""End to end in a real terminal: tmux runs the app while a training process writes a run.

The issue's promise: a new run appears and its step count advances on screen within 2 s of being written, a
log line reaches the run screen within 2 s, and quitting leaves the terminal clean (main screen, cursor shown,
mouse reporting off, tty modes as before, a shell that echoes).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conftest import PROJECT, child_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

if shutil.which("tmux") is None:
    pytest.skip("tmux is not on PATH: the end-to-end tests drive the app through tmux", allow_module_level=True)

LATENCY = 2.0         # the promise, in seconds
PATIENCE = 10.0       # how long to keep looking before calling something missing (so the failure shows the latency)
STARTUP = 20.0        # Python + Textual start-up on a busy machine (pytest -n 2)
POLL = 0.05
WIDTH, HEIGHT = 120, 40
PROMPT = "READY$"
RUN_NAME = "e2e"

# The training process: a real tracker run. `periodic` logs a row every 0.15 s; `stdin` logs a row and a log
# line for every line it reads. After each write returns it prints what it wrote and the wallclock time.
WRITER = textwrap.dedent("""\
    import sys, time
    import runyard

    root, mode = sys.argv[1], sys.argv[2]
    run = runyard.init("e2e", root=root, console=False, system_metrics=False)
    run.logger.info("hello from the e2e writer")
    print("init", time.time(), run.path, flush=True)
    if mode == "periodic":
        for i in range(100_000):
            run.log({"train/loss": 1.0 / (i + 1), "val/loss": 2.0 / (i + 1)}, step=i)
            print("step", time.time(), i, flush=True)
            time.sleep(0.15)
    else:
        step = 0
        for line in sys.stdin:
            run.log({"train/loss": 1.0 / (step + 1)}, step=step)
            run.logger.info("%s", line.strip())
            print("line", time.time(), line.strip(), flush=True)
            step += 1
""")

T = TypeVar("T")


# ----- tmux --------------------------------------------------------------------------------------------------

def tmux(sock: str, *args: str) -> str:
    """Run one tmux command against the test's own server and return its stdout."""
    done = subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise AssertionError(f"tmux {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def capture(sock: str, join: bool = False) -> list[str]:
    """The visible pane, one string per screen line (with `join`, lines the terminal wrapped are joined)."""
    return [line.rstrip() for line in tmux(sock, "capture-pane", "-p", *(["-J"] if join else [])).split("\n")]


def pane_flag(sock: str, name: str) -> str:
    """A tmux format variable of the pane, e.g. alternate_on or cursor_flag."""
    return tmux(sock, "display-message", "-p", f"#{{{name}}}").strip()


def wait_for(sock: str, predicate: Callable[[list[str]], T | None], timeout: float,
             join: bool = False) -> tuple[T | None, float, list[str]]:
    """Capture the pane every POLL seconds until `predicate(lines)` is truthy: (its value, time seen, lines)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = capture(sock, join)
        seen = time.time()
        value = predicate(lines)
        if value or time.monotonic() > deadline:
            return value, seen, lines
        time.sleep(POLL)


def screen(lines: list[str]) -> str:
    """The pane as text for a failure message."""
    return "\n".join(f"  |{line}" for line in lines)


@pytest.fixture
def app_env(tmp_path: Path) -> dict[str, str]:
    """What the tmux server (and so every pane) runs with: a private cache, a known terminal, no shell history."""
    env = child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache"), TERM="xterm-256color",
                    HISTFILE=str(tmp_path / "bash_history"))
    for name in ("TMUX", "TMUX_PANE", "COLUMNS", "LINES", "PROMPT_COMMAND"):
        env.pop(name, None)
    return env


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[str]:
    """A tmux server of this test's own (own socket, our tmux.conf not the user's), killed at teardown."""
    name = f"runyard-e2e-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g default-terminal xterm-256color\nset -g status off\nset -g escape-time 0\n")
    try:
        yield name
    finally:
        found = subprocess.run(["tmux", "-L", name, "display-message", "-p", "#{socket_path}"], capture_output=True,
                               text=True, timeout=10)
        subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True, timeout=10)
        if found.returncode == 0 and found.stdout.strip():
            Path(found.stdout.strip()).unlink(missing_ok=True)  # tmux leaves its socket file behind


def new_session(sock: str, env: dict[str, str], conf: Path, command: str) -> None:
    """Start the session of a WIDTHxHEIGHT pane running `command` in the project folder."""
    done = subprocess.run(["tmux", "-L", sock, "-f", str(conf), "new-session", "-d", "-x", str(WIDTH),
                           "-y", str(HEIGHT), "-c", str(PROJECT), "-s", "app", command],
                          env=env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"tmux new-session failed: {done.stderr.strip()}"


# ----- the training process ----------------------------------------------------------------------------------

class Writer:
    """A training process writing a run under `root`; its report lines are `kind time rest`."""

    def __init__(self, tmp_path: Path, root: Path, mode: str) -> None:
        script = tmp_path / "train_e2e.py"
        script.write_text(WRITER)
        self.out = tmp_path / f"writer-{mode}.out"
        self.err = tmp_path / f"writer-{mode}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, str(script), str(root), mode], cwd=tmp_path,
                                         env=child_env(), stdin=subprocess.PIPE, stdout=out, stderr=err, text=True)

    def reports(self, kind: str) -> list[tuple[float, str]]:
        """(time, rest) of every complete report line of this kind so far."""
        text = self.out.read_text()
        lines = text.split("\n")[:-1]  # the last piece is empty or not yet complete
        out = []
        for line in lines:
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == kind:
                out.append((float(parts[1]), parts[2]))
        return out

    def wait_report(self, kind: str, accept: Callable[[str], bool] = lambda _: True,
                    timeout: float = STARTUP) -> tuple[float, str]:
        """The latest report of `kind` that `accept`s, waiting for one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.reports(kind) if accept(r[1])]
            if found:
                return found[-1]
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the training process reported no {kind!r} line (exit {self.proc.poll()}):\n"
                                     f"{self.out.read_text()}{self.err.read_text()}")
            time.sleep(0.02)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        """Terminate, then kill if it lingers."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@pytest.fixture
def writers() -> Iterator[list[Writer]]:
    """Training processes started by a test, stopped at teardown."""
    started: list[Writer] = []
    try:
        yield started
    finally:
        for writer in started:
            writer.stop()


# ----- reading the screen ------------------------------------------------------------------------------------

def runs_rows(lines: list[str]) -> list[list[str]]:
    """The runs table's rows as whitespace tokens: the lines between its header and the preview's rule."""
    for i, line in enumerate(lines):
        if line.split()[:3] == ["status", "name", "step"]:
            rows = []
            for row in lines[i + 1:]:
                if row.lstrip().startswith("─"):
                    break
                if row.strip():
                    rows.append(row.split())
            return rows
    return []


def steps_of(lines: list[str], name: str = RUN_NAME) -> int | None:
    """The step column of the run called `name` (None while it is not listed or shows '-')."""
    for tokens in runs_rows(lines):
        if name in tokens and tokens.index(name) + 1 < len(tokens):
            cell = tokens[tokens.index(name) + 1].replace(",", "")
            return int(cell) if cell.isdigit() else None
    return None


def listed(lines: list[str], name: str = RUN_NAME) -> bool:
    return any(name in tokens for tokens in runs_rows(lines))


def title(lines: list[str]) -> str:
    return lines[0] if lines else ""


def last_text(lines: list[str]) -> str:
    """The bottom-most non-blank line."""
    return next((line for line in reversed(lines) if line.strip()), "")


def wait_prompt(sock: str, timeout: float = STARTUP) -> list[str]:
    """Wait for the shell's prompt on the last non-blank line, ready for a command."""
    ok, _, lines = wait_for(sock, lambda ls: last_text(ls) == PROMPT, timeout, join=True)
    assert ok, f"the shell prompt did not come back:\n{screen(lines)}"
    return lines


# ----- the tests ---------------------------------------------------------------------------------------------

def test_new_run_appears_and_steps_advance_then_quit_is_clean(tmp_path: Path, sock: str, app_env: dict[str, str],
                                                             writers: list[Writer]) -> None:
    """A training process starts writing a run under the root the app follows: the run shows up and its step
    count keeps up within 2 s; `q` then gives back a clean terminal to the shell the app ran in."""
    root = tmp_path / "runs"
    root.mkdir()
    # tmux starts the command through `$SHELL -c`, and a non-interactive bash drops PS1: hand it to bash via env.
    new_session(sock, app_env, tmp_path / "tmux.conf", shlex.join(["env", f"PS1={PROMPT} ", "bash", "--norc",
                                                                   "--noprofile"]))
    wait_prompt(sock)
    before, after = tmp_path / "stty-before", tmp_path / "stty-after"
    tmux(sock, "send-keys", f"stty -g > {shlex.quote(str(before))}", "Enter")
    wait_for(sock, lambda _: before.exists() and before.read_text().strip(), STARTUP)
    wait_prompt(sock)
    # Typed through a short script: a typed command exactly as wide as the pane would make the terminal join the
    # prompt that returns after `q` onto the command's line.
    launcher = tmp_path / "app.sh"
    launcher.write_text(shlex.join([sys.executable, "-m", "runyard.tui.cli", str(root)]) + "\n")
    command = f"sh {shlex.quote(str(launcher))}"
    tmux(sock, "send-keys", command, "Enter")

    up, _, lines = wait_for(sock, lambda ls: "runyard" in title(ls) and " 0 runs" in title(ls)
                            and runs_rows(ls) == [], STARTUP)
    assert up, f"the app did not come up on the empty root within {STARTUP} s:\n{screen(lines)}"
    assert pane_flag(sock, "alternate_on") == "1", "the app should draw on the alternate screen"

    writer = Writer(tmp_path, root, "periodic")
    writers.append(writer)
    t_init, _ = writer.wait_report("init")
    shown, t_seen, lines = wait_for(sock, listed, max(0.0, t_init + PATIENCE - time.time()))
    appear = t_seen - t_init if shown else float("inf")
    assert appear <= LATENCY, (f"the new run {RUN_NAME!r} appeared {appear:.2f} s after runyard.init returned "
                               f"(promised: {LATENCY} s); the screen then:\n{screen(lines)}")

    latencies: list[tuple[int, float, int | None]] = []  # (step written, seconds until shown, step on screen)
    k = -1
    for _ in range(3):
        t_k, rest = writer.wait_report("step", lambda r, low=k + 3: int(r) >= low)
        k = int(rest)
        caught_up, t_seen, lines = wait_for(sock, lambda ls, k=k: (steps_of(ls) or -1) >= k,
                                            max(0.0, t_k + PATIENCE - time.time()))
        latencies.append((k, t_seen - t_k if caught_up else float("inf"), steps_of(lines)))
        last_lines = lines
    report = ", ".join(f"step {k} after {lat:.2f} s (screen: {s})" for k, lat, s in latencies)
    print(f"run appeared after {appear:.2f} s; {report}")
    assert all(lat <= LATENCY for _, lat, _ in latencies), (
        f"the step count lagged behind the training process by more than {LATENCY} s: {report}; "
        f"the screen at the last check:\n{screen(last_lines)}")

    tmux(sock, "send-keys", "q")
    back, _, lines = wait_for(sock, lambda ls: last_text(ls) == PROMPT and pane_flag(sock, "alternate_on") == "0",
                              PATIENCE, join=True)
    assert back, (f"after q the shell prompt did not return on the main screen (alternate_on="
                  f"{pane_flag(sock, 'alternate_on')}):\n{screen(lines)}")
    flags = {name: pane_flag(sock, name) for name in ("cursor_flag", "mouse_any_flag", "mouse_all_flag",
                                                      "mouse_button_flag", "mouse_standard_flag", "mouse_sgr_flag",
                                                      "keypad_cursor_flag", "insert_flag")}
    want = {name: "1" if name == "cursor_flag" else "0" for name in flags}
    assert flags == want, f"terminal modes left behind by the app (tmux pane flags): {flags}, want {want}"
    shell_lines = [line for line in lines if line.strip()]
    expected = [f"{PROMPT} stty -g > {shlex.quote(str(before))}", f"{PROMPT} {command}", PROMPT]
    assert shell_lines == expected, f"after quitting the pane should hold only the shell session:\n{screen(lines)}"

    tmux(sock, "send-keys", 'echo "exit=$? ok-$((6*7))"', "Enter")
    echoed, _, lines = wait_for(sock, lambda ls: "exit=0 ok-42" in ls and last_text(ls) == PROMPT, PATIENCE,
                                join=True)
    assert echoed, ("a command typed after quitting should echo, run and print on a line of its own with exit "
                    f"status 0 from the app:\n{screen(lines)}")
    tmux(sock, "send-keys", f"stty -g > {shlex.quote(str(after))}", "Enter")
    wait_for(sock, lambda _: after.exists() and after.read_text().strip(), PATIENCE)
    assert after.read_text() == before.read_text(), (
        f"the tty modes changed across the app (stty -g before vs after):\n{before.read_text()}{after.read_text()}")


def test_run_opened_directly_follows_its_log(tmp_path: Path, sock: str, app_env: dict[str, str],
                                             writers: list[Writer]) -> None:
    """`runyard RUN_DIR` on a run a training process is writing: the run screen shows its log, and a line the
    process logs reaches the screen within 2 s."""
    root = tmp_path / "runs"
    writer = Writer(tmp_path, root, "stdin")
    writers.append(writer)
    _, run_dir = writer.wait_report("init")
    new_session(sock, app_env, tmp_path / "tmux.conf", shlex.join([sys.executable, "-m", "runyard.tui.cli", run_dir]))

    def log_line(text: str) -> Callable[[list[str]], bool]:
        return lambda lines: any(line.rstrip().endswith(f" - INFO - {text}") for line in lines)

    up, _, lines = wait_for(sock, lambda ls: title(ls).split()[:2] == [RUN_NAME, "running"]
                            and log_line("hello from the e2e writer")(ls), STARTUP)
    assert up, (f"`runyard {run_dir}` should open the run screen (title '{RUN_NAME} running ...') with the line the "
                f"writer logged:\n{screen(lines)}")

    latencies: list[float] = []
    for n in range(3):
        text = f"e2e line {n} {uuid.uuid4().hex[:6]}"
        writer.send(text)
        t_written, _ = writer.wait_report("line", lambda r, text=text: r == text)
        shown, t_seen, lines = wait_for(sock, log_line(text), max(0.0, t_written + PATIENCE - time.time()))
        latencies.append(t_seen - t_written if shown else float("inf"))
        assert latencies[-1] <= LATENCY, (
            f"log line {text!r} reached the screen {latencies[-1]:.2f} s after it was written (promised: "
            f"{LATENCY} s; so far: {', '.join(f'{x:.2f}' for x in latencies)}):\n{screen(lines)}")
    print(f"log line latencies: {', '.join(f'{x:.2f} s' for x in latencies)}")
