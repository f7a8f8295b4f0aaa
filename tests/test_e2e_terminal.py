"""End to end in a real terminal: the app ended by a signal, and the app under a locale without UTF-8.

`kill -TERM` or `kill -HUP` while the app runs must give the terminal back as `q` does (main screen, cursor
shown, mouse reporting off) with the exit status a shell expects of a process that signal ended (128 + N). Under
a Latin-1 locale (the C locale where none can be had) the app draws ASCII stand-ins, never `\\u2713` escapes.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import time
from pathlib import Path

import pytest

from runyard.tui.app import EXIT_GRACE
from tests import test_e2e_tmux
from tests.locales import latin1_env
from tests.test_app import make_run
from tests.test_e2e_tmux import (
    PATIENCE,
    PROMPT,
    STARTUP,
    last_text,
    new_session,
    pane_flag,
    screen,
    title,
    tmux,
    wait_for,
    wait_prompt,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# the tmux server and its environment: the fixtures of the other end-to-end tests
sock, app_env = test_e2e_tmux.sock, test_e2e_tmux.app_env

MODES = ("cursor_flag", "mouse_any_flag", "mouse_all_flag", "mouse_button_flag", "mouse_standard_flag",
         "mouse_sgr_flag", "alternate_on")


def shell(sock: str, app_env: dict[str, str], tmp_path: Path) -> None:
    """A bash in the pane with a known prompt (tmux runs it through `$SHELL -c`, which would drop PS1)."""
    new_session(sock, app_env, tmp_path / "tmux.conf", shlex.join(["env", f"PS1={PROMPT} ", "bash", "--norc",
                                                                   "--noprofile"]))
    wait_prompt(sock)


def start_app(sock: str, tmp_path: Path, root: Path, env: dict[str, str] | None = None) -> Path:
    """Type the command that runs the app on `root` (with `env` set for it alone); the file its pid goes to."""
    pid_file = tmp_path / "app.pid"
    launcher = tmp_path / "app.sh"
    setting = shlex.join([f"{k}={v}" for k, v in (env or {}).items()])
    launcher.write_text(f"echo $$ > {shlex.quote(str(pid_file))}\n"
                        f"exec env {setting} {shlex.join([sys.executable, '-m', 'runyard.tui.cli', str(root)])}\n")
    tmux(sock, "send-keys", f"sh {shlex.quote(str(launcher))}", "Enter")
    return pid_file


def app_up(lines: list[str]) -> bool:
    """The runs screen lists both runs (rows told by their status: the rule below them may be ASCII)."""
    return "runyard" in title(lines) and sum(" finished " in line for line in lines) == 2


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_signal_ends_the_app_and_gives_the_terminal_back(tmp_path: Path, sock: str, app_env: dict[str, str],
                                                           signum: int) -> None:
    root = tmp_path / "runs"
    make_run(root, "alpha", 0.001)
    make_run(root, "beta", 0.01)
    shell(sock, app_env, tmp_path)
    pid_file = start_app(sock, tmp_path, root)
    up, _, lines = wait_for(sock, app_up, STARTUP)
    assert up, f"the app did not come up:\n{screen(lines)}"
    assert (pane_flag(sock, "alternate_on"), pane_flag(sock, "mouse_any_flag")) == ("1", "1")

    os.kill(int(pid_file.read_text()), signum)
    back, _, lines = wait_for(sock, lambda ls: last_text(ls) == PROMPT and pane_flag(sock, "alternate_on") == "0",
                              PATIENCE, join=True)
    assert back, f"after kill -{signum} the prompt did not come back on the main screen:\n{screen(lines)}"
    flags = {name: pane_flag(sock, name) for name in MODES}
    want = {name: "1" if name == "cursor_flag" else "0" for name in MODES}
    assert flags == want, f"terminal modes left behind after kill -{signum}: {flags}, want {want}"
    assert "Traceback" not in "\n".join(lines)

    tmux(sock, "send-keys", 'echo "exit=$?"', "Enter")
    status = f"exit={128 + signum}"
    echoed, _, lines = wait_for(sock, lambda ls: status in ls and last_text(ls) == PROMPT, PATIENCE, join=True)
    assert echoed, f"the app ended by signal {signum} should exit with {128 + signum}:\n{screen(lines)}"


def test_the_app_ends_when_its_terminal_goes_away(tmp_path: Path, sock: str, app_env: dict[str, str]) -> None:
    """The terminal closes under the app (an SSH session dropped; here the tmux server goes): the app gets
    SIGHUP with nowhere left to draw, and must still end, not linger as an orphan."""
    root = tmp_path / "runs"
    make_run(root, "alpha", 0.001)
    make_run(root, "beta", 0.01)
    shell(sock, app_env, tmp_path)
    pid_file = start_app(sock, tmp_path, root)
    up, _, lines = wait_for(sock, app_up, STARTUP)
    assert up, f"the app did not come up:\n{screen(lines)}"
    pid = int(pid_file.read_text())
    tmux(sock, "kill-server")
    deadline = time.monotonic() + EXIT_GRACE + PATIENCE
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    alive = _alive(pid)
    if alive:
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"the app was still running {EXIT_GRACE + PATIENCE:.0f} s after its terminal went away"
    assert not list((tmp_path / "cache").glob("crash-*")), "and it left no crash report"


def _alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie, ended but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state != "Z"


def test_the_app_under_a_latin1_locale_draws_ascii(tmp_path: Path, sock: str, app_env: dict[str, str]) -> None:
    root = tmp_path / "runs"
    make_run(root, "alpha", 0.001)
    make_run(root, "beta", 0.01, log_line="naïve — 日本語 ✓")
    locale = {k: v for k, v in latin1_env(tmp_path / "locale").items()
              if k in ("LC_ALL", "LOCPATH", "PYTHONUTF8", "PYTHONIOENCODING")}
    shell(sock, app_env, tmp_path)  # tmux itself stays in UTF-8: only the app runs under the locale
    start_app(sock, tmp_path, root, {**locale, "LANG": locale["LC_ALL"]})
    up, _, lines = wait_for(sock, lambda ls: app_up(ls) and any("v finished" in line for line in ls), STARTUP)
    assert up, f"the runs should be listed with an ASCII status (v finished):\n{screen(lines)}"
    time.sleep(1.0)  # the preview draws its curve and log lines a moment later
    lines = wait_for(sock, lambda ls: any("+---" in line for line in ls), PATIENCE)[2]
    text = "\n".join(lines)
    assert "\\u" not in text, f"escapes in place of glyphs:\n{screen(lines)}"
    assert "\u2713" not in text and "\u2500" not in text  # nor the glyphs themselves: the locale cannot draw them

    tmux(sock, "send-keys", "q")
    back, _, lines = wait_for(sock, lambda ls: last_text(ls) == PROMPT and pane_flag(sock, "alternate_on") == "0",
                              PATIENCE, join=True)
    assert back, f"q did not give the prompt back:\n{screen(lines)}"
    tmux(sock, "send-keys", 'echo "exit=$?"', "Enter")
    echoed, _, lines = wait_for(sock, lambda ls: "exit=0" in ls and last_text(ls) == PROMPT, PATIENCE, join=True)
    assert echoed, f"the app should exit 0 under the locale:\n{screen(lines)}"
