"""How values look on screen, shared by the command line and the app: times, durations, numbers, statuses,
and what the output can draw (glyphs its encoding lacks get ASCII stand-ins; curve colours and markers as the
terminal allows)."""

from __future__ import annotations

import codecs
import contextlib
import math
import re
import sys
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TextIO

from rich.cells import cell_len
from rich.text import Text

from runyard import clean_field, iec_size

STATUS_STYLE = {
    "running": "bold green", "finished": "blue", "failed": "bold red", "interrupted": "yellow",
    "crashed": "bold magenta", "stalled": "bold yellow", "unknown": "dim",
}
Colour = Any  # a curve colour as plotext takes it: an RGB tuple, a 0-255 palette index, or "default" (none)
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


def fmt_number(value: float | int | None, digits: int = 4) -> str:
    """Compact number: `digits` significant digits (scientific beyond them), NaN and infinities spelled out."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value != 0 and (abs(value) >= 10.0 ** (digits + 1) or abs(value) < 10.0 ** (1 - digits)):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}"


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
    """Bytes in a sentence or a list: `52.0 KiB`, `3.2 GiB`; `-` when unknown. Table cells use `du_size`."""
    return "-" if n is None else iec_size(n)


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


def step_ticks(lo: float, hi: float, count: int = 5) -> tuple[list[int], list[str]]:
    """Tick positions and labels for a step axis: integers at a round spacing (1, 2 or 5 × 10^k) within
    [lo, hi], labelled as the integers they are (a step is never "149.5")."""
    if not hi > lo:
        return [round(lo)], [fmt_number(round(lo))]
    wanted = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(wanted)) if wanted >= 1 else 1
    spacing = max(1, int(max((m * magnitude for m in (1, 2, 5) if m * magnitude <= wanted), default=1)))
    ticks = list(range(math.ceil(lo / spacing) * spacing, math.floor(hi) + 1, spacing))
    return ticks, [_round_step(t) for t in ticks]


def _round_step(step: int) -> str:
    """A round tick step, short: 200k, 1.5M (exact: ticks sit on multiples of their spacing); else as is."""
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if step and abs(step) >= unit and (step * 10) % unit == 0:
            return f"{step / unit:g}{suffix}"
    return str(step)


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
EdgeMark = tuple[Any, str, Colour]  # (x values, glyph, colour)


def edge_marks(followed: Iterable[tuple[Any, Colour]], raws: Iterable[Any],
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


def draw_curve(plt: Any, x: Any, y: Any, color: Any, label: str, marker: str | None = None) -> None:
    """Draw a bright curve with its legend label (plotext shows the marker beside it); a curve with no points is
    not drawn (plotext's legend fails on an empty labelled curve, as a series of only non-finite values gives)."""
    if len(x):
        plt.plot(x.tolist(), y.tolist(), color=color, marker=marker or curve_marker(), label=label)


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


# ----- what the output can draw ------------------------------------------------------------------------------
# Under a locale without UTF-8 (Latin-1, C with UTF-8 mode off) the output's encoding lacks most glyphs drawn
# here, by Rich (boxes, "…") and by Textual (borders, scroll bars). Every such character reaches the terminal as
# an ASCII stand-in of the same width, so nothing fails to print and no layout shifts: the output streams encode
# with the STAND_IN error handler (`draw_with_stand_ins`), and code that picks a glyph ahead asks `can_draw`.

STAND_IN = "runyard-stand-in"  # the codec error handler's name
STAND_INS = {
    "…": "~", "·": ".", "•": "*", "●": "*", "✓": "v", "✔": "v", "✗": "x", "✘": "x", "‖": "=", "☠": "!",
    "◌": "o", "⌂": "^", "▶": ">", "◀": "<", "▲": "^", "▼": "v", "★": "*", "☆": "*", "⚠": "!", "⌫": "<",
    "—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "×": "x", "«": "<", "»": ">", "°": "o",
    "▔": "-", "▁": "_", "▏": "|", "▎": "|", "▕": "|", "░": ":", "▒": "%",
}
_DIRECTIONS = (("LEFTWARDS", "<"), ("RIGHTWARDS", ">"), ("UPWARDS", "^"), ("DOWNWARDS", "v"))
_BRAILLE_TOP, _BRAILLE_BOTTOM = 0b00011011, 0b11100100  # dots 1, 2, 4, 5 and dots 3, 6, 7, 8


def output_encoding() -> str:
    """The encoding text reaches the terminal in: the CLI's stdout, or (inside the app, which swaps stdout
    for a capture that has none) the stderr Textual's driver writes to."""
    for stream in (sys.stdout, sys.__stderr__):
        encoding = getattr(stream, "encoding", None)
        if isinstance(encoding, str) and encoding:
            return encoding
    return "utf-8"


@lru_cache(maxsize=4096)
def can_draw(text: str, encoding: str | None = None) -> bool:
    """Whether `text` can be written in `encoding` (default: the output's) as it is."""
    try:
        text.encode(encoding or output_encoding())
    except UnicodeEncodeError:
        return False
    except LookupError:  # an encoding Python does not know: let the stream decide
        return True
    return True


def glyph(text: str, encoding: str | None = None) -> str:
    """`text` as the output can draw it: itself, or with each character it cannot encode stood in for."""
    encoding = encoding or output_encoding()
    if can_draw(text, encoding):
        return text
    return "".join(char if can_draw(char, encoding) else stand_in(char) for char in text)


@lru_cache(maxsize=4096)
def stand_in(char: str) -> str:
    """ASCII for one character, as many cells wide: `✓` -> `v`, `┌` -> `+`, `é` -> `e`, `日` -> `??`."""
    from rich.cells import cell_len

    width = cell_len(char)
    if char in STAND_INS:
        return STAND_INS[char]
    if width == 0:
        return ""
    code = ord(char)
    name = unicodedata.name(char, "")
    if 0x2800 <= code <= 0x28FF:  # braille: where its dots are
        dots = code - 0x2800
        top, bottom = bool(dots & _BRAILLE_TOP), bool(dots & _BRAILLE_BOTTOM)
        return ":" if top and bottom else "'" if top else "." if bottom else " "
    if name.startswith("BOX DRAWINGS"):
        across = any(w in name for w in ("HORIZONTAL", "LEFT", "RIGHT"))
        upright = any(w in name for w in ("VERTICAL", " UP", "DOWN"))
        if "DIAGONAL" in name:
            return "X" if "CROSS" in name else "/" if "UPPER RIGHT" in name else "\\"
        if across and not upright:
            return "=" if "DOUBLE HORIZONTAL" in name else "-"
        return "|" if upright and not across else "+"
    if 0x2580 <= code <= 0x259F:  # block elements: ink
        return "#"
    for word, arrow in _DIRECTIONS:
        if word in name:
            return arrow
    if "CIRCLE" in name:
        return "o"
    base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    if len(base) == width and base.isprintable():
        return base
    return "?" * width


def _stand_in_error(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(stand_in(c) for c in error.object[error.start:error.end]), error.end


codecs.register_error(STAND_IN, _stand_in_error)


def draw_with_stand_ins(*streams: TextIO | None) -> None:
    """Make text streams write what their encoding lacks as ASCII stand-ins, instead of failing (stdout) or
    printing `\\u2713` escapes that also break the layout (stderr, where Textual draws the app)."""
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) != STAND_IN:
            with contextlib.suppress(ValueError, OSError):  # closed or detached: nothing is written through it
                reconfigure(errors=STAND_IN)


def curve_marker(encoding: str | None = None) -> str:
    """plotext's marker for a curve: braille (two by four dots a cell) where the output can draw it, else `*`."""
    return "braille" if can_draw("⣿", encoding) else "*"


# ----- colours as the terminal allows ------------------------------------------------------------------------
# Colour depth is Rich's decision (the one `runyard ls` follows): none when not a terminal, NO_COLOR or TERM=dumb
# (FORCE_COLOR makes any output a terminal); 24-bit with COLORTERM=truecolor/24bit; 256 with TERM=*-256color;
# else 16. Curves take distinct colours while there are; when they run out, markers tell the curves apart.

BASIC = [12, 11, 10, 9, 13, 14]  # 16-colour terminals: blue, yellow, green, red, magenta, cyan (the bright ones)
FAINT_BASIC = 8                  # grey: the raw curve behind a smoothed one
CURVE_MARKERS = ("o", "+", "#", "@", "%", "&", "=", "$")  # after the first, which is braille where it can be


def colour_system(console: Any = None) -> str | None:
    """The colours the CLI's output may use: None, "standard" (16), "256" or "truecolor", as Rich decides."""
    if console is None:
        from rich.console import Console

        console = Console()
    if console.no_color or console.color_system is None:
        return None
    return "standard" if console.color_system == "windows" else console.color_system


@dataclass(frozen=True)
class CurveStyle:
    """How one curve is drawn: its colour, the fainter one of its raw points behind smoothing, its marker."""

    color: Colour
    faint: Colour
    marker: str


def curve_styles(count: int, colours: str | None = "truecolor", encoding: str | None = None) -> list[CurveStyle]:
    """Styles for `count` curves, told apart by colour while the terminal has distinct ones, then by marker too
    (without colour, by marker alone); the order of `PALETTE` throughout."""
    if colours is None:
        palette: list[tuple[Colour, Colour]] = [("default", "default")]
    elif colours == "standard":
        palette = [(c, FAINT_BASIC) for c in BASIC]
    elif colours == "256":
        palette = [(_index_256(c), _index_256(tuple(v // 2 for v in c))) for c in PALETTE]
    else:
        palette = [(c, tuple(v // 2 for v in c)) for c in PALETTE]
    markers = curve_markers(encoding)
    return [CurveStyle(*palette[i % len(palette)], markers[(i // len(palette)) % len(markers)])
            for i in range(count)]


def curve_markers(encoding: str | None = None) -> tuple[str, ...]:
    """The markers that tell curves apart where colours cannot, in the order they are handed out."""
    return (curve_marker(encoding), *CURVE_MARKERS)


def _index_256(rgb: tuple[int, ...]) -> int:
    from rich.color import Color, ColorSystem

    return Color.from_rgb(*rgb).downgrade(ColorSystem.EIGHT_BIT).number or 0


def _index_16(rgb: tuple[int, ...]) -> int:
    from rich.color import Color, ColorSystem

    return Color.from_rgb(*rgb).downgrade(ColorSystem.STANDARD).number or 0


def sgr(color: Colour, colours: str | None, bold: bool = False) -> str:
    """The escape sequence that starts text in `color` (see `Colour`) on a terminal of `colours`; "" without."""
    if colours is None or color == "default":
        return ""
    codes = ["1"] if bold else []
    if isinstance(color, tuple) and colours == "truecolor":
        codes.append("38;2;{};{};{}".format(*color))
    else:
        if isinstance(color, tuple):
            color = _index_256(color) if colours == "256" else _index_16(color)
        if colours == "standard" and color < 16:
            codes.append(str(30 + color if color < 8 else 90 + color - 8))
        else:
            codes.append(f"38;5;{color}")
    return f"\x1b[{';'.join(codes)}m"


_PALETTE_SGR = re.compile(r"\x1b\[38;5;(\d+)m")


def basic_sgr(text: str) -> str:
    """plotext's output for a 16-colour terminal: it writes the basic colours as 256-colour codes."""
    return _PALETTE_SGR.sub(lambda m: sgr(int(m[1]), "standard") if int(m[1]) < 16 else m[0], text)
