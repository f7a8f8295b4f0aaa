"""Preparing a metric series for a small screen: smoothing, downsampling, y-range and non-finite markers.

Order matters: smoothing runs on the full series and downsampling after it, so a curve does not change
with its length (TensorBoard smooths after sampling, TB#1518). Downsampling keeps each column's min and max,
so spikes survive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def ema_debiased(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: EMA started at 0, divided by 1 - w**n (n counts finite points).

    Non-finite values pass through untouched; a constant series is returned as is (TB#786). Computed in
    blocks with closed-form powers (each block's EMA from zero at once, as one 2-d array), then each block's
    carry from the one before, so a million points take milliseconds, not a Python loop over points.
    """
    values = np.asarray(values, dtype=np.float64)
    every = math.isfinite(float(values.sum()))  # a NaN or an infinity would make the sum one (one quick pass)
    finite = np.isfinite(values) if not every else None
    every = every or bool(finite.all())  # a sum too large for a float: look value by value
    x = values if every else values[finite]
    if weight <= 0 or x.size == 0 or (x[0] == x[-1] and np.all(x == x[0])):  # a constant series stays as is
        return values.copy()
    weight = min(weight, 0.999999)
    block = max(1, min(4096, int(100 / -math.log10(weight))))  # weight**-block stays far from overflow
    blocks = -(-x.size // block)
    flat = np.empty(blocks * block)  # worked on in place: each pass over a long series costs
    flat[: x.size] = x
    flat[x.size:] = 0.0
    inner = flat.reshape(blocks, block)
    k = np.arange(block)
    inner *= weight ** (-k)
    np.cumsum(inner, axis=1, out=inner)
    inner *= weight ** k * (1 - weight)
    carry, last, decay = np.empty(blocks), 0.0, weight ** block  # each block starts from the one before's end
    for i, end in enumerate(inner[:, -1].tolist()):
        carry[i] = last
        last = decay * last + end
    inner += carry[:, None] * weight ** (k + 1)
    smoothed = flat[: x.size]
    # Debias: divide by 1 - w**n, which is exactly 1.0 once w**n is below float64's half epsilon.
    biased = min(x.size, math.ceil(-17 / math.log10(weight)) + 1)
    smoothed[:biased] /= 1 - weight ** np.arange(1, biased + 1)
    if every:
        return smoothed
    out = values.copy()
    out[finite] = smoothed
    return out


@dataclass
class Prepared:
    """A series ready to draw: (x, y) points at most a few per column, and where non-finite values were."""

    x: np.ndarray
    y: np.ndarray
    nan_x: np.ndarray = field(default_factory=lambda: np.empty(0))
    posinf_x: np.ndarray = field(default_factory=lambda: np.empty(0))
    neginf_x: np.ndarray = field(default_factory=lambda: np.empty(0))

    def off_scale(self, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
        """x of the points above `hi` and below `lo`: what a y-range (such as `robust_range`'s) leaves out."""
        return self.x[self.y > hi], self.x[self.y < lo]


def minmax_downsample(x: np.ndarray, y: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """At most 2 points per bucket of equal x width (x sorted ascending): each bucket's min and max.

    Bucket edges come from `searchsorted` and the extremes from `reduceat`, so a million points cost a few
    milliseconds. Each bucket's two points sit at its first and last x, in the order the values move
    (falling: max then min), so spikes survive and the line stays continuous.
    """
    n = x.size
    if n <= 2 * buckets or buckets < 1:
        return x, y
    lo, hi = float(x[0]), float(x[-1])
    if hi <= lo:
        return x[[0, -1]], y[[0, -1]]
    inner = np.searchsorted(x, np.linspace(lo, hi, buckets + 1)[1:-1], side="left")
    starts = np.unique(np.concatenate(([0], inner)))
    starts = starts[starts < n]
    ends = np.append(starts[1:], n) - 1
    mins = np.minimum.reduceat(y, starts)
    maxs = np.maximum.reduceat(y, starts)
    falling = y[starts] >= y[ends]
    xs = np.empty(starts.size * 2)
    ys = np.empty(starts.size * 2)
    xs[0::2], xs[1::2] = x[starts], x[ends]
    ys[0::2] = np.where(falling, maxs, mins)
    ys[1::2] = np.where(falling, mins, maxs)
    return xs, ys


def prepare(x: np.ndarray, y: np.ndarray, buckets: int, smoothing: float = 0.0, *,
            clean: bool = False) -> tuple[Prepared, Prepared | None]:
    """(raw, smoothed) series downsampled to `buckets` columns; smoothed is None without smoothing.

    Points are sorted by x first (a resumed or multi-writer run can step back); non-finite values are
    taken out of the curves and returned as marker positions, so they are shown, not silently dropped.
    `clean=True` promises sorted, NaN-free x and finite y, as live series can tell without looking.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if clean:  # the caller knows x is sorted and NaN-free and y finite: skip three passes over the data
        raw = Prepared(*minmax_downsample(x, y, buckets))
        if smoothing <= 0:
            return raw, None
        return raw, Prepared(*minmax_downsample(x, ema_debiased(y, smoothing), buckets))
    if np.isnan(x).any():  # copies only when something must go: a million points are redrawn often
        keep = ~np.isnan(x)
        x, y = x[keep], y[keep]
    if x.size > 1 and not bool(np.all(x[1:] >= x[:-1])):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    finite = np.isfinite(y)
    if finite.all():
        raw = Prepared(*minmax_downsample(x, y, buckets))
    else:
        markers = dict(nan_x=_thin(x[np.isnan(y)], buckets), posinf_x=_thin(x[y == np.inf], buckets),
                       neginf_x=_thin(x[y == -np.inf], buckets))
        raw = Prepared(*minmax_downsample(x[finite], y[finite], buckets), **markers)
    if smoothing <= 0:
        return raw, None
    smooth_y = ema_debiased(y, smoothing)
    if finite.all():
        return raw, Prepared(*minmax_downsample(x, smooth_y, buckets))
    return raw, Prepared(*minmax_downsample(x[finite], smooth_y[finite], buckets))


def _thin(xs: np.ndarray, buckets: int) -> np.ndarray:
    """At most `buckets` marker positions."""
    if xs.size <= buckets:
        return xs
    return xs[np.linspace(0, xs.size - 1, buckets).astype(np.int64)]


_FLAT = 1e-6  # a y span this small against the values' magnitude is no span (see `robust_range`)


def robust_range(ys: list[np.ndarray], ignore_outliers: bool = True, log: bool = False) -> tuple[float, float] | None:
    """y limits for the curves: the 5th-95th percentile span (padded) when ignoring outliers, else min-max."""
    finite = [y[np.isfinite(y) & ((y > 0) if log else True)] for y in ys]
    values = np.concatenate(finite) if finite else np.empty(0)
    if values.size == 0:
        return None
    if ignore_outliers and values.size >= 20:
        lo, hi = np.percentile(values, [5, 95])
        pad = (hi - lo) * 0.15 or abs(hi) * 0.1 or 1.0
        lo, hi = max(lo - pad, values.min()), min(hi + pad, values.max())
    else:
        lo, hi = float(values.min()), float(values.max())
    if hi - lo <= _FLAT * max(abs(lo), abs(hi)):
        # Flat to six significant digits (a constant learning rate smoothed into float noise): drawn as flat.
        # A span of that noise (1e-14 of the value) would have every other point tens of thousands of plot
        # heights away, and the plotter draws each segment through all of them.
        mid = (lo + hi) / 2
        lo, hi = mid - (abs(mid) * 0.1 or 1.0), mid + (abs(mid) * 0.1 or 1.0)
    if log:
        lo = max(lo, float(values.min()))
    return float(lo), float(hi)


def on_axis(x: np.ndarray, y: np.ndarray, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """Points as drawn: on a log scale, log10 of the positive values (plotext's own log mode is fragile)."""
    if not log_y:
        return x, y
    keep = y > 0
    return x[keep], np.log10(y[keep])


def x_span(xs_all: list[np.ndarray]) -> tuple[float, float] | None:
    """The finite x span of several curves, or None when they have no finite x."""
    finite = [x[np.isfinite(x)] for x in xs_all if x.size]
    finite = [x for x in finite if x.size]
    if not finite:
        return None
    return min(float(x.min()) for x in finite), max(float(x.max()) for x in finite)
