"""The runs folder a command was given: entered first, so that a folder closed to this user is an error in one line.

Kept apart from the table modules: `du --json` of ten thousand runs is asked by scripts, and rich's import is a
good part of its time.
"""

from __future__ import annotations

import os
from pathlib import Path


def enter_root(root: Path) -> None:
    """Raise the OSError that says why the runs folder `root` cannot be entered or listed (a folder closed to this
    user): a listing of it is then an error in one line, as `show` and `tail` make it, not an empty table. A
    missing folder is left to the caller, which says so in its own words."""
    try:
        os.stat(os.path.join(root, "."))  # entering it takes search permission
        with os.scandir(root):             # listing it, read permission
            pass
    except (FileNotFoundError, NotADirectoryError):
        return
