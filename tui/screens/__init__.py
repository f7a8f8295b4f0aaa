"""The app's screens: the runs list, a run (or several) in detail, runs compared side by side, the best
checkpoints, cleaning up, and help.

`catalogue()` lists the main screens with the widgets whose keys they offer, so the help screen can show the
keys of screens that are not open without importing the app (screens are imported only when asked for).
"""

from __future__ import annotations

from textual.dom import DOMNode


def catalogue() -> list[tuple[str, list[type[DOMNode]]]]:
    """(title, [screen class, widget classes with keys of their own]) for each main screen."""
    from ..widgets.log_view import LogView
    from ..widgets.runs_table import RunsTable
    from .best import BestScreen
    from .compare import CompareScreen
    from .manage import CleanupScreen
    from .run import RunScreen
    from .runs import RunsScreen

    return [("runs", [RunsScreen, RunsTable]), ("run", [RunScreen, LogView]), ("compare", [CompareScreen]),
            ("best", [BestScreen]), ("cleanup", [CleanupScreen])]
