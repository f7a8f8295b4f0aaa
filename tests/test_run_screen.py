"""The run screen's behaviour as a user meets it, and the cursor maths it shares with other screens, checked
without Textual."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from runyard.tui.live import cursor
from runyard.tui.live.runstate import Rows, Series

# ----- the cursor's maths, without Textual ------------------------------------------------------------------

def series(steps, times, values) -> Series:
    rows = Rows(np.asarray(steps, dtype=float), np.asarray(times, dtype=float))
    return Series(rows, None, np.asarray(values, dtype=float))


def test_cursor_maths_on_every_axis():
    s = series([0, 10, 20, 30], [100.0, 110.0, 130.0, 160.0], [4.0, 3.0, 2.0, 1.0])
    assert cursor.start_time(95.0, 100.0) == 95.0 and cursor.start_time(None, 100.0) == 100.0
    assert cursor.start_time(None, None) == 0.0
    assert list(cursor.x_values(s, "step", 95.0)) == [0, 10, 20, 30]
    assert list(cursor.x_values(s, "time", 95.0)) == [100, 110, 130, 160]
    assert list(cursor.x_values(s, "relative", 95.0)) == [5, 15, 35, 65]
    # step axis: a step's time is that of the first point at or after it; a time maps to the last step by then
    assert cursor.time_at_x(s, "step", 15, 95.0) == 130.0
    assert cursor.x_at_time(s, "step", 129.0, 95.0) == 10.0
    assert cursor.x_at_time(s, "step", 50.0, 95.0) == 0.0  # before the first row: the first step
    assert cursor.time_at_x(s, "time", 120.0, 95.0) == 120.0 and cursor.x_at_time(s, "time", 120.0, 95.0) == 120.0
    assert cursor.time_at_x(s, "relative", 35.0, 95.0) == 130.0
    assert cursor.x_at_time(s, "relative", 130.0, 95.0) == 35.0
    assert cursor.value_at_x(s, "step", 15, 95.0) == 2.0 and cursor.value_at_x(s, "step", 99, 95.0) == 1.0
    assert cursor.converted(s, 20.0, "step", "relative", 95.0) == 35.0
    assert cursor.converted(s, None, "step", "time", 95.0) is None
    empty = series([], [], [])
    assert cursor.time_at_x(empty, "step", 1, 0) is None and cursor.x_at_time(empty, "step", 1, 0) is None


def test_cursor_follows_the_first_drawn_metric_and_reads_values_there():
    rows = Rows(np.arange(5.0), np.arange(5.0) + 1000)
    every = Series(rows, None, np.array([5.0, 4, 3, 2, 1]))
    sparse = Series(rows, np.array([0, 4]), np.array([9.0, 7.0]))
    named = {"train/loss": every, "val/loss": sparse}
    assert cursor.primary(named, ["val/loss", "train/loss"]) is sparse
    assert cursor.primary(named, ["nope"]) is every  # nothing drawn: the busiest
    assert cursor.primary({}, ["x"]) is None
    assert cursor.values_at_x(named, ["train/loss", "val/loss", "nope"], "step", 2.0, 0.0) == \
        [("train/loss", 3.0), ("val/loss", 7.0)]


def test_cursor_moves_by_columns_and_stays_on_the_data():
    xs = np.array([0.0, 50.0, 100.0, np.nan])
    assert cursor.moved(xs, None, 0, 100) == 100.0  # a new cursor starts at the latest point
    assert cursor.moved(xs, 100.0, -10, 100) == 90.0
    assert cursor.moved(xs, 5.0, -10, 100) == 0.0
    assert cursor.moved(np.array([np.nan]), None, 1, 10) is None


def test_cursor_module_is_headless():
    import ast

    tree = ast.parse(Path(cursor.__file__).read_text())
    imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m.split(".")[0] in ("textual", "rich")}
