"""`runyard export`: runs' figures as PNG files and their metrics as one CSV table, for a write-up or a notebook.

The work is the tracker's (`export_figures`, `write_metrics_csv`); this face picks the palette the app and
`runyard plot` draw runs in and says what was written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from runyard import clean_field, export_figures, write_metrics_csv

from ..formatting import PALETTE


def export_runs(views: list[Any], png_dir: Path | None, csv_file: str | None) -> list[str]:
    """Write what was asked; the lines to tell the user (files written, notes on what a figure left out)."""
    views = list({view.path: view for view in views}.values())  # a run named twice is exported once
    said: list[str] = []
    if csv_file is not None:
        rows = _write_csv(views, csv_file)
        if csv_file != "-":
            said.append(f"wrote {clean_field(csv_file)} ({rows} row{'' if rows == 1 else 's'})")
    if png_dir is not None:
        done = export_figures(views, png_dir, palette=PALETTE)
        said += [f"wrote {clean_field(str(path))}" for path in done.written]
        said += [f"note: {note}" for note in done.notes]
        if not done.written:
            raise ValueError("no figure to write: these runs log no loss and no learning rate")
    return said


def _write_csv(views: list[Any], target: str) -> int:
    """The CSV to stdout (`-`) or to a file."""
    return write_metrics_csv(views, sys.stdout if target == "-" else target)
