"""Curves rasterised into braille cells with numpy, placed as plotext places them.

plotext draws a line by walking it point by point in Python, which costs a few milliseconds a curve: fine for the
handful of curves of one run, far too slow for twenty runs overlaid (a compare screen redrawn after a smoothing
change). This does the same walk for all points at once: the same mapping of values to dots (plotext's
`get_matrix_data`), the same line between two dots (`get_line`: as many steps as the longer side, truncated to
whole dots), and, as plotext does, the last curve to touch a cell gives the cell its dots and colour. A curve
with a marker of its own (`o`, `+`, ... where colours run out) is drawn as plotext draws markers, one character a
cell. The plot widget draws the frame, ticks and labels with plotext and lays these cells inside its frame. No
Textual here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Braille dot bits by (column in the cell, row in the cell from the top): dots 1 2 3 7 and 4 5 6 8, in the order
# column * 4 + row.
_WEIGHTS = np.array([0x01, 0x02, 0x04, 0x40, 0x08, 0x10, 0x20, 0x80], dtype=np.int32)


def to_dots(values: np.ndarray, lo: float, hi: float, dots: int) -> np.ndarray:
    """Values as dot positions 0..dots-1 across [lo, hi], as plotext maps data to its canvas (floats: NaN stays)."""
    return np.floor(np.round(0.5 + (dots - 1) * (values - lo) / (hi - lo), 8))


def line_dots(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every dot on the lines joining consecutive points (dot positions; a NaN in either breaks the line there)."""
    ok = np.isfinite(x) & np.isfinite(y)
    joined = np.flatnonzero(ok[:-1] & ok[1:])
    xs_out, ys_out = [x[ok]], [y[ok]]  # the points themselves: line ends and lone points
    if joined.size:
        x0, y0 = x[joined], y[joined]
        dx, dy = x[joined + 1] - x0, y[joined + 1] - y0
        steps = np.maximum(np.abs(dx), np.abs(dy)).astype(np.int64)  # dots along the line, its end left out
        inner = steps > 0
        x0, y0, dx, dy, steps = x0[inner], y0[inner], dx[inner], dy[inner], steps[inner]
        if steps.size:
            which = np.repeat(np.arange(steps.size), steps)
            k = np.arange(which.size) - np.repeat(np.cumsum(steps) - steps, steps)
            # plotext's linspace, to the last bit: start + k * (difference / steps)
            xs_out.append(np.trunc(x0[which] + k * (dx / steps)[which]))
            ys_out.append(np.trunc(y0[which] + k * (dy / steps)[which]))
    return np.concatenate(xs_out), np.concatenate(ys_out)


def braille_cells(curves: Sequence[tuple[np.ndarray, np.ndarray, str | None]], width: int, height: int,
                  x_range: tuple[float, float], y_range: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(glyphs, owner): per cell of a `height` x `width` canvas (top row first), the code point it shows and the
    index of the curve that drew it last (-1: none), for curves given as (x, y, marker) in drawing order.

    A curve without a marker is drawn in braille dots (two across, four down a cell); one with a marker (where
    colours ran out, or there are none) in that character, one per cell, as plotext draws its markers.
    """
    glyphs = np.zeros(height * width, dtype=np.int32)
    owner = np.full(height * width, -1, dtype=np.int32)
    if width < 1 or height < 1 or not x_range[1] > x_range[0] or not y_range[1] > y_range[0]:
        return glyphs.reshape(height, width), owner.reshape(height, width)
    for index, (x, y, marker) in enumerate(curves):
        if len(x) == 0:
            continue
        across, down = (2, 4) if marker is None else (1, 1)
        px, py = line_dots(to_dots(np.asarray(x, dtype=np.float64), *x_range, across * width),
                           to_dots(np.asarray(y, dtype=np.float64), *y_range, down * height))
        inside = (px >= 0) & (px < across * width) & (py >= 0) & (py < down * height)
        px, py = px[inside].astype(np.int64), py[inside].astype(np.int64)
        if not px.size:
            continue
        cell = (height - 1 - py // down) * width + px // across  # dot rows count up from the bottom
        if marker is None:  # which of its 8 dots each cell has: counted, not sorted
            dot = (px % 2) * 4 + 3 - py % 4
            present = np.bincount(cell * 8 + dot, minlength=height * width * 8).reshape(-1, 8) > 0
            touched = np.flatnonzero(present.any(axis=1))
            glyphs[touched] = 0x2800 + present[touched].astype(np.int32) @ _WEIGHTS
        else:
            touched = np.flatnonzero(np.bincount(cell, minlength=height * width))
            glyphs[touched] = ord(marker[0])
        owner[touched] = index
    return glyphs.reshape(height, width), owner.reshape(height, width)
