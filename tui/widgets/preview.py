"""The runs screen's preview of the highlighted run: a small curve of its main metric and its last log lines."""

from __future__ import annotations

from collections import deque
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from runyard import clean_line, main_metrics

from ..formatting import STATUS_STYLE
from .metric_plot import MetricPlot, Trace, colour


def last_lines(path: Path | None, count: int, max_bytes: int = 64 * 1024) -> list[str]:
    """The last `count` lines of a log, reading only its tail, cleaned for display."""
    if path is None:
        return []
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes:
        lines = lines[1:]  # the first one is probably cut
    return [clean_line(x) for x in deque(lines, maxlen=count)]


class Preview(Horizontal):
    """A compact curve and log tail of one run, refreshed when the run changes."""

    DEFAULT_CSS = """
    Preview { height: 9; border-top: solid $primary-darken-2; }
    Preview > MetricPlot { width: 1fr; min-width: 30; }
    Preview > #preview-log { width: 1fr; height: 100%; padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield MetricPlot(id="preview-plot")
        yield Static(id="preview-log", markup=False)

    def show(self, live, log_path: Path | None, status: str, message: str = "") -> None:
        """Draw `live`'s main metric (a LiveRun, or None while loading) and the tail of `log_path`."""
        plot = self.query_one(MetricPlot)
        traces = []
        if live is not None:
            names = main_metrics(list(live.series), limit=1)
            for i, name in enumerate(names):
                s = live.series[name]
                traces.append(Trace(name, colour(i), s.steps, s.value.view, nonfinite=live.nonfinite.get(name, 0)))
        plot.show(traces, x_axis="step", log_y=False, ignore_outliers=True, message=message or "no metrics")
        height = max(1, self.size.height - 1)
        text = Text(no_wrap=True, overflow="ellipsis")
        for line in last_lines(log_path, height):
            text.append(line + "\n")
        if not text.plain:
            text.append("no log", style=STATUS_STYLE.get(status, "dim"))
        self.query_one("#preview-log", Static).update(text, layout=False)  # fixed size: skip the layout pass
