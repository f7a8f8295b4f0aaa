"""How values look on screen, shared by the command line and the app: times, durations, numbers, statuses."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
from rich.text import Text

from runyard import clean_field

STATUS_STYLE = {
    "running": "bold green", "finished": "blue", "failed": "bold red", "interrupted": "yellow",
    "crashed": "bold magenta", "stalled": "bold yellow", "unknown": "dim",
}
# Curve colours as RGB (plotext takes no theme variables); the same order in the CLI and the app.
PALETTE = [(86, 156, 214), (230, 145, 56), (106, 190, 106), (220, 90, 90), (170, 120, 220), (200, 200, 90),
           (80, 200, 200), (230, 120, 180)]
# Marks on the top and bottom edge of a plot's frame where a curve leaves its y-range (the CLI's and the app's).
OFF_SCALE_ABOVE, OFF_SCALE_BELOW = "▲", "▼"
# Beside a status: the run's own clock visibly differs from this machine's (`RunInfo.clock_ahead`).
CLOCK_MARK = "◷"
STATUS_ICON = {
    "running": "●", "finished": "✓", "failed": "✗", "interrupted": "‖", "crashed": "☠", "stalled": "◌",
    "unknown": "?",
}


def fmt_time(ts: float | None) -> str:
    """Local date and time to the minute; today's runs show only the time."""
    if ts is None or not math.isfinite(ts):
        return "-"
    if time.strftime("%Y%m%d", time.localtime(ts)) == time.strftime("%Y%m%d"):
        return time.strftime("%H:%M:%S", time.localtime(ts))
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def fmt_duration(seconds: float | None) -> str:
    """`42s`, `3m05s`, `2h07m`, `3d04h`."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def fmt_number(value: float | int | None) -> str:
    """Compact number: 4 significant digits, NaN and infinities spelled out."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


def cut_middle(text: str, width: int) -> str:
    """`text` in at most `width` terminal cells, cut in the middle (`long_run…_seed3`) when longer: runs named
    alike mostly differ at the end (a seed, a stamp), so both ends stay in sight."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:max(width, 0)]
    tail_room = (width - 1) // 2
    head_room = width - 1 - tail_room
    head, used = [], 0
    for char in text:
        used += cell_len(char)
        if used > head_room:
            break
        head.append(char)
    tail, used = [], 0
    for char in reversed(text):
        used += cell_len(char)
        if used > tail_room:
            break
        tail.append(char)
    return "".join(head) + "…" + "".join(reversed(tail))


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def time_ticks(lo: float, hi: float, x_axis: str, count: int = 5) -> tuple[list[float], list[str]]:
    """Tick positions and labels for a time axis: clock time, or an elapsed duration."""
    step = (hi - lo) / (count - 1) if count > 1 else 0.0
    ticks = [lo + i * step for i in range(count)]
    if x_axis == "time":
        fmt = "%H:%M" if hi - lo > 120 else "%H:%M:%S"
        if hi - lo > 86400:
            fmt = "%m-%d %H:%M"
        return ticks, [time.strftime(fmt, time.localtime(t)) for t in ticks]
    return ticks, [fmt_duration(t) for t in ticks]


def log_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], list[str]]:
    """Tick positions and labels for a log10-transformed y axis (see `on_axis`), labelled with the real values."""
    step = (hi - lo) / (count - 1) if count > 1 else 0.0
    ticks = [lo + i * step for i in range(count - 1)] + [hi]  # as numpy's linspace: the ends exact
    return ticks, [fmt_number(float(10**t)) for t in ticks]


def frame_columns(frame_line: str, lo: float, hi: float, xs: Iterable[float]) -> list[int]:
    """Text columns inside a plotext frame where the x values `xs` fall, from a line holding the frame's corners.

    plotext puts `lo` (its pinned x limit) in the first column inside the frame and `hi` in the last, so marks
    drawn over a built figure (a cursor, off-scale points) land where the curves are.
    """
    corners = [i for i in (frame_line.find("┌"), frame_line.find("└")) if i >= 0]
    right = max(frame_line.rfind("┐"), frame_line.rfind("┘"))
    if not corners or right - min(corners) < 2 or not hi > lo:
        return []
    left = min(corners)
    inner = right - left - 2
    return sorted({min(max(left + 1 + round((x - lo) / (hi - lo) * inner), left + 1), right - 1)
                   for x in xs if math.isfinite(x)})


# Non-finite values are marked as red crosses on the frame's edge (NaN and +inf on top, -inf below): on the edge,
# not inside the frame, where plotext's legend (always at the top left) would hide them.
NONFINITE_MARK, NONFINITE_COLOR = "x", (255, 60, 60)
EdgeMark = tuple[Any, str, tuple[int, int, int]]  # (x values, glyph, colour)


def edge_marks(followed: Iterable[tuple[Any, tuple[int, int, int]]], raws: Iterable[Any],
               limits: tuple[float, float] | None) -> tuple[list[EdgeMark], list[EdgeMark]]:
    """The marks on a plot frame's top and bottom edges, in drawing order (a later one wins a column).

    `followed` holds (`Prepared` points, colour) of the curves drawn: ▲/▼ where the y-range `limits` cuts
    their points off. `raws` holds each series' `Prepared` raw points: an x at each of its non-finite values.
    """
    top: list[EdgeMark] = []
    bottom: list[EdgeMark] = []
    if limits is not None:
        for points, color in followed:
            above, below = points.off_scale(*limits)
            if above.size:
                top.append((above, OFF_SCALE_ABOVE, color))
            if below.size:
                bottom.append((below, OFF_SCALE_BELOW, color))
    for raw in raws:
        if raw.nan_x.size or raw.posinf_x.size:
            top.append(([*raw.nan_x.tolist(), *raw.posinf_x.tolist()], NONFINITE_MARK, NONFINITE_COLOR))
        if raw.neginf_x.size:
            bottom.append((raw.neginf_x, NONFINITE_MARK, NONFINITE_COLOR))
    return top, bottom


def set_y_range(plt: Any, limits: tuple[float, float] | None, log_y: bool, marked_x: Iterable[float] = ()) -> None:
    """A plotext figure's y-range; with nothing finite to draw, an empty 0-1 frame without y ticks, whose x ticks
    span `marked_x` (the non-finite values' x: their marks on its edges and the notes say what there is)."""
    if limits is None:
        plt.ylim(0.0, 1.0)
        plt.yticks([], [])
        xs = [x for x in marked_x if math.isfinite(x)]
        if xs:  # blank points: plotext gives a frame x ticks only for something drawn
            plt.scatter(xs, [0.5] * len(xs), marker=" ")
        return
    plt.ylim(*limits)
    if log_y:
        plt.yticks(*log_ticks(*limits))


def draw_curve(plt: Any, x: Any, y: Any, color: tuple[int, int, int], label: str) -> None:
    """Draw a bright curve with its legend label; a curve with no points is not drawn (plotext's legend fails on
    an empty labelled curve, as a series of only non-finite values gives)."""
    if len(x):
        plt.plot(x.tolist(), y.tolist(), color=color, marker="braille", label=label)


def pinned_span(span: tuple[float, float] | None) -> tuple[float, float] | None:
    """The x limits to pin for a span of x values: widened by half a step each way when it is a single x; None
    when even that leaves no width (steps beyond 2**53 that one float holds): plotext then picks its own."""
    if span is None or span[1] > span[0]:
        return span
    wider = (span[0] - 0.5, span[1] + 0.5)
    return wider if wider[1] > wider[0] else None


def clean_text(text: Text) -> Text:
    """`text` with every span's characters made safe to show (`clean_field`), its styles kept.

    For a line built from several values, some from a run's files (a title with a run's name and error).
    """
    if text.plain.isprintable():
        return text
    out = text.blank_copy()
    offsets = sorted({offset for span in text.spans for offset in (span.start, span.end)})
    for part in text.divide(offsets):
        piece = Text(clean_field(part.plain))
        for span in part.spans:
            piece.stylize(span.style)
        out.append_text(piece)
    return out
