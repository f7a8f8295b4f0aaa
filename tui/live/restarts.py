"""Curves of restarted runs: one segment per life, with a gap at each restart rather than a line across the pause.

A run resumed from a checkpoint (a runyard resume marker) or restarted with a purge step (TensorBoard) begins a
new life at a known step. Its points are prepared life by life, so no downsampled column mixes two lives, and
the drawn points get a NaN between the lives, where plotext breaks the line. Plain numpy: the app's curves and
`runyard plot` draw restarts the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from runyard import Prepared, ema_debiased, prepare


def life_masks(steps: np.ndarray, restarts: Sequence[int]) -> list[np.ndarray]:
    """Which points belong to each life: steps from one restart up to the next (lives without points left out)."""
    steps = np.asarray(steps)
    edges = [None, *sorted(restarts), None]
    masks = []
    for lo, hi in pairwise(edges):
        mask = np.ones(steps.size, dtype=bool)
        if lo is not None:
            mask &= steps >= lo
        if hi is not None:
            mask &= steps < hi
        if mask.any():
            masks.append(mask)
    return masks


def prepare_lives(x: np.ndarray, y: np.ndarray, buckets: int, *, steps: np.ndarray | None,
                  restarts: Sequence[int], smooth_y: np.ndarray | None = None, smoothing: float = 0.0,
                  clean: bool = False) -> tuple[Prepared, Prepared | None, list[float]]:
    """(raw, smoothed, edges): `prepare` run on each life, joined; `edges` are the x where a life after the first
    begins (see `broken`). Smoothed values are `smooth_y` as given, else smoothed here with weight `smoothing`
    over the whole run (a restart does not start the EMA over). Without restarts this is `prepare` itself."""
    x = np.asarray(x, dtype=np.float64)
    masks = life_masks(steps, restarts) if steps is not None and len(restarts) else []
    if len(masks) < 2:
        if smooth_y is None:
            raw, smooth = prepare(x, y, buckets, smoothing, clean=clean)
            return raw, smooth, []
        raw, _ = prepare(x, y, buckets, clean=clean)
        return raw, prepare(x, smooth_y, buckets, clean=clean)[0], []
    if smooth_y is None and smoothing > 0:
        smooth_y = ema_debiased(np.asarray(y, dtype=np.float64), smoothing)
    finite_x = x[np.isfinite(x)]
    span = float(finite_x.max() - finite_x.min()) if finite_x.size else 0.0
    raws: list[Prepared] = []
    smooths: list[Prepared] = []
    edges: list[float] = []
    for k, mask in enumerate(masks):
        lx = x[mask]
        own = lx[np.isfinite(lx)]
        share = float(own.max() - own.min()) / span if own.size and span > 0 else 1.0 / len(masks)
        cols = max(1, round(buckets * share))
        raws.append(prepare(lx, y[mask], cols, clean=clean)[0])
        if smooth_y is not None:
            smooths.append(prepare(lx, smooth_y[mask], cols, clean=clean)[0])
        if k and own.size:
            edges.append(float(own.min()))
    return _joined(raws), (_joined(smooths) if smooth_y is not None else None), edges


def _joined(parts: list[Prepared]) -> Prepared:
    """The lives' prepared points as one series, in x order."""
    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts]) if parts else np.empty(0)

    x, y = cat("x"), cat("y")
    order = np.argsort(x, kind="stable")
    return Prepared(x[order], y[order], cat("nan_x"), cat("posinf_x"), cat("neginf_x"))


def broken(x: np.ndarray, y: np.ndarray, edges: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Points sorted by x with a NaN point before each edge that has points on both sides: plotext draws no
    line across a NaN, so the curve shows a gap there."""
    if not len(edges) or x.size < 2:
        return x, y
    at = np.unique(np.searchsorted(x, np.asarray(edges, dtype=np.float64), side="left"))
    at = at[(at > 0) & (at < x.size)]
    if not at.size:
        return x, y
    middle = (x[at - 1] + x[at]) / 2
    return np.insert(x, at, middle), np.insert(y.astype(np.float64), at, np.nan)
