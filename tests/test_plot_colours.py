"""`runyard plot` uses the colours the terminal has, decided as Rich decides them for `runyard ls`.

Each case runs the command on a pseudo-terminal with the environment a user's terminal would give it, and reads
the legend of four overlaid runs: its colour codes (none, 16-colour, 256-colour or 24-bit) and its markers. The
app's overlaid curves, drawn in one colour under NO_COLOR, are told apart by marker the same way.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

import runyard
from runyard.tui.app import RunyardApp
from runyard.tui.formatting import BASIC, PALETTE, colour_system, curve_styles
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.metric_plot import MetricPlot
from tests.conftest import PROJECT, child_env
from tests.test_app import make_run, table, wait_for, wait_until
from tests.test_cli_reading import on_pty

RUNS = ("alpha", "beta", "gamma", "delta")
SGR = re.compile(r"\x1b\[([0-9;]*)m")
# a legend entry: the curve's marker twice, in its colour (or none), then the curve's label
LEGEND = re.compile(r"(?:\x1b\[([0-9;]*)m)?(\S)\2(?:\x1b\[0m)? (\w+):train/loss")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("colours") / "runs"
    for i, name in enumerate(RUNS):
        with runyard.init(name, root=root, console=False, system_metrics=False) as run:
            for step in range(30):
                run.log({"train/loss": 3.0 - step * 0.02 * (i + 1)}, step=step)
    return root


def plot_on_terminal(root: Path, tmp_path: Path, **env: str) -> str:
    """`runyard plot` of the four runs on a 100x30 pseudo-terminal whose environment is `env` (and nothing of
    ours about colours); what it wrote, escape codes and all."""
    environ = child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache"))
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR", "COLORTERM", "TERM"):
        environ.pop(name, None)
    environ.update(env)
    return on_pty(["plot", *RUNS, "--root", str(root), "--height", "14"], environ, columns=100, rows=30)


def legend(text: str) -> dict[str, tuple[str, str]]:
    """Each run's (colour code, marker) in the plot's legend."""
    found = {m[3]: (m[1] or "", m[2]) for m in LEGEND.finditer(text)}
    assert sorted(found) == sorted(RUNS), text
    return found


@pytest.mark.parametrize("env", [{"TERM": "xterm-256color", "NO_COLOR": "1"}, {"TERM": "dumb"}],
                         ids=["NO_COLOR", "TERM=dumb"])
def test_no_colour_at_all_and_runs_told_apart_by_marker(root, tmp_path, env):
    text = plot_on_terminal(root, tmp_path, **env)
    assert SGR.search(text) is None, repr(text[:400])
    entries = legend(text)
    assert len({marker for _, marker in entries.values()}) == 4, entries


@pytest.mark.parametrize(("env", "kind"), [
    ({"TERM": "xterm"}, "16"),
    ({"TERM": "xterm-256color"}, "256"),
    ({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, "24bit"),
    ({"TERM": "xterm", "COLORTERM": "24bit"}, "24bit"),
], ids=["TERM=xterm", "TERM=xterm-256color", "COLORTERM=truecolor", "COLORTERM=24bit"])
def test_colours_as_deep_as_the_terminal_and_distinct(root, tmp_path, env, kind):
    text = plot_on_terminal(root, tmp_path, **env)
    codes = {code for code in SGR.findall(text) if code not in ("0", "")}
    if kind == "16":
        assert codes and all(re.fullmatch(r"(1;)?(3[0-7]|9[0-7])", c) for c in codes), codes
    elif kind == "256":
        assert codes and all(re.fullmatch(r"(1;)?38;5;\d+", c) for c in codes), codes
    else:
        assert codes and all(re.fullmatch(r"(1;)?38;2;\d+;\d+;\d+", c) for c in codes), codes
    entries = legend(text)
    assert len({colour for colour, _ in entries.values()}) == 4, entries  # four runs, four colours


def test_force_color_colours_a_pipe(root, tmp_path):
    environ = child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache"), TERM="xterm-256color", FORCE_COLOR="1")
    environ.pop("NO_COLOR", None)
    environ.pop("COLORTERM", None)
    piped = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "plot", *RUNS, "--root", str(root), "--width",
                            "80", "--height", "14"], cwd=PROJECT, env=environ, capture_output=True, timeout=60)
    assert piped.returncode == 0 and piped.stderr == b""
    assert len({colour for colour, _ in legend(piped.stdout.decode()).values()}) == 4
    del environ["FORCE_COLOR"]
    plain = subprocess.run([sys.executable, "-m", "runyard.tui.cli", "plot", *RUNS, "--root", str(root), "--width",
                            "80", "--height", "14"], cwd=PROJECT, env=environ, capture_output=True, timeout=60)
    assert b"\x1b" not in plain.stdout  # piped without FORCE_COLOR: no colour, as `ls` prints no colour either


def test_the_plot_follows_the_colour_system_rich_gives_ls():
    for env, want in (({"TERM": "xterm"}, "standard"), ({"TERM": "xterm-256color"}, "256"),
                      ({"TERM": "xterm", "COLORTERM": "truecolor"}, "truecolor"), ({"TERM": "dumb"}, None),
                      ({"TERM": "xterm-256color", "NO_COLOR": "1"}, None)):
        console = Console(force_terminal=True, _environ=env)
        assert colour_system(console) == want, env


def test_curves_stay_distinct_when_colours_run_out():
    def distinct(styles):
        return len({(s.color, s.marker) for s in styles}) == len(styles)

    basic = curve_styles(8, "standard", encoding="utf-8")
    assert [s.color for s in basic[:6]] == BASIC and distinct(basic)  # six basic colours first, then markers
    assert basic[6].marker != basic[0].marker
    none = curve_styles(9, None, encoding="ascii")
    assert {s.color for s in none} == {"default"} and distinct(none) and "braille" not in {s.marker for s in none}
    full = curve_styles(len(PALETTE), "truecolor", encoding="utf-8")
    assert [s.color for s in full] == PALETTE and {s.marker for s in full} == {"braille"}
    assert len({s.color for s in curve_styles(len(PALETTE), "256")}) == len(PALETTE)


async def test_the_app_tells_overlaid_runs_apart_by_marker_under_no_color(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_COLOR", "1")  # Textual then draws everything in one colour
    root = tmp_path / "runs"
    for name in ("alpha", "beta", "gamma"):
        make_run(root, name, 0.001)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 3)
        app.open_runs(list(app.records.values()))
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen)
                         and len([t for p in app.screen.query(MetricPlot) for t in p.traces]) >= 3)
        plot = app.screen.query(MetricPlot).first()
        markers = [t.marker for t in plot.traces]
        assert len(set(markers)) == len(markers) >= 3, markers
        legend = str(plot.render())
        assert "oo " in legend and "++ " in legend  # the legend shows each curve's marker beside its name
