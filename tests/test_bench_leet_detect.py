"""The screen readers of bench/bench_leet.py on saved 200x50 captures of both tools (no tmux, no wandb needed).

The captures: LEET and runyard on the finished fixture run (400 steps) and on a 200,000-step run, LEET before
it drew anything and while loading a 50,000-row run, runyard's runs table and its run screen before the run was
read, and both following a live run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_leet import (
    curve_cells,
    leet_first_curve,
    leet_last_step,
    runyard_first_curve,
    runyard_last_step,
)

CAPTURES = Path(__file__).parent / "fixtures" / "leet"


def capture(name: str) -> list[str]:
    return (CAPTURES / f"{name}.txt").read_text().split("\n")


@pytest.mark.parametrize(("name", "curve", "step"), [
    ("leet_finished", True, 399),
    ("leet_starting", False, None),
    ("leet_loading", True, 2997),
    ("leet_following", True, 3551),
    ("leet_200k", True, 199_999),
])
def test_leet_screens(name: str, curve: bool, step: int | None) -> None:
    lines = capture(name)
    assert leet_first_curve(lines) is curve
    assert leet_last_step(lines) == step


@pytest.mark.parametrize(("name", "curve", "step"), [
    ("runyard_finished", True, 399),
    ("runyard_table", False, None),    # the runs table before the run is found: no step, no chart
    ("runyard_waiting", False, None),  # the run screen before its metrics are read: `step -`, an empty frame
    ("runyard_following", True, 3540),
    ("runyard_200k", True, 199_999),  # `step 199,999`
])
def test_runyard_screens(name: str, curve: bool, step: int | None) -> None:
    lines = capture(name)
    assert runyard_first_curve(lines) is curve
    assert runyard_last_step(lines) == step


def test_one_tool_is_not_read_as_the_other() -> None:
    """Each reader looks where its own tool prints: another tool's screen reads as nothing shown."""
    assert runyard_last_step(capture("leet_finished")) is None
    assert not runyard_first_curve(capture("leet_finished"))
    assert leet_last_step(capture("runyard_finished")) is None
    assert not leet_first_curve(capture("runyard_finished"))


def test_runyard_legend_swatches_alone_are_not_a_curve() -> None:
    """The legend's braille swatches (`⢕⢕`) show before any point is drawn; only the curve's cells count."""
    lines = capture("runyard_finished")
    only_legend = ["".join(ch for ch in line if ch == "⢕" or not 0x2800 <= ord(ch) <= 0x28FF) for line in lines]
    assert curve_cells(only_legend) > 0
    assert not runyard_first_curve(only_legend)


def test_runyard_step_with_thousands_and_target() -> None:
    """Past 10,000 runyard groups digits, and a configured last step follows after a slash."""
    head = [" big  running  step 199,999/200,000  12.5 steps/s" + " " * 60 + "x=step  EMA 0.60"]
    assert runyard_last_step(head) == 199_999
    assert runyard_last_step([" big  running  step -" + " " * 60 + "x=step  EMA 0.60"]) is None


def test_leet_braille_outside_its_charts_is_not_a_curve() -> None:
    """Braille in LEET's run overview (left column), after its metrics column, or outside a chart box is not a
    metric curve; inside a box it is."""
    lines = [" Run Overview       │ Metrics [1-1 of 1]        │ System Metrics",
             " Notes: ⣿⣿⣿⣿ drawn  │ ╭──────────────────────╮  │",
             " _step   12         │ │epoch         │       │  │ ⣿⣿⣿⣿⣿⣿",
             "                    │ ╰──────────────────────╯  │",
             " ⣀⣀⣀⣀⣀⣀⣀⣀           │ │ ⣀⣀⣀⣀⣀                 │"]
    assert not leet_first_curve(lines)
    assert leet_last_step(lines) == 12
    lines[2] = " _step   12         │ │epoch  ⣀⣀⣠⠤⠒⠉ │       │  │"
    assert leet_first_curve(lines)


def test_last_step_on_disk_of_a_wandb_log() -> None:
    """The bench's floor for following: the last history step read from the tail of a real `.wandb` file."""
    pytest.importorskip("wandb")
    from bench.bench_leet import disk_last_step

    run = Path(__file__).parent / "fixtures" / "foreign" / "wandb_offline" / "wandb" / \
        "offline-run-20261122_145303-l1kbyplv"
    assert disk_last_step(run / "run-l1kbyplv.wandb") == 399
    assert disk_last_step(run / "run-l1kbyplv.wandb", blocks=1) == 399


def test_keeping_up_is_judged_against_the_disk() -> None:
    """A tool keeps up when its lag stays near the lag of what is on disk; far behind or falling behind, not."""
    from bench.bench_leet import Following

    def verdict(lags: list[float], advanced: bool = True) -> str:
        return Following("t", lags=lags, floor=[0.6] * len(lags), advanced=advanced).verdict()

    assert verdict([0.9, 1.1, 0.8, 1.0]).startswith("yes (lag 0.95 s, on disk 0.60 s")
    assert verdict([46.0, 46.5, 49.0, 49.5]).startswith("no (")    # steady, but 48 s behind
    assert verdict([0.5, 0.6, 3.5, 4.0]).startswith("no (")        # falling behind
    assert verdict([0.5, 0.5], advanced=False) == "no (last step never advanced)"
    assert verdict([]) == "no (last step never advanced)"
