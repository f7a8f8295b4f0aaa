"""Conventions about metric names: which way is better, and which metrics a listing should show.

A metric's direction is data: the writer's declaration, W&B's metric definitions or the user's runyard.toml
settle it into each `MetricSummary` (see `goals`). The name is only the last resort, and marked as a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_HIGHER = re.compile(r"acc|accuracy|f1|auc|bleu|rouge|score|reward|return|precision|recall|map\b|iou|psnr|ssim|"
                     r"tokens_per_sec|throughput|mfu", re.IGNORECASE)


def guess_direction(name: str) -> str:
    """"max" for names of metrics where higher is usually better (accuracy, reward, ...), else "min" (losses...)."""
    return "max" if _HIGHER.search(name.rsplit("/", 1)[-1]) else "min"


def direction(name: str, of: Any = None) -> str:
    """"max" or "min" for metric `name`: what `of` says where it says something, else a guess from the name.

    `of` is a run (a `RunView` or `RunRecord`: its declared, W&B or runyard.toml direction) or a summary dict
    of `MetricSummary`; without it, only the name is looked at.
    """
    if of is None:
        return guess_direction(name)
    goal = getattr(of, "goal", None)
    if callable(goal):
        return goal(name).direction
    stats = of.get(name) if isinstance(of, Mapping) else None
    settled = getattr(stats, "direction", None)
    return settled if settled in ("min", "max") else guess_direction(name)


_HELD_OUT = {"val", "valid", "validation", "eval", "evaluation", "test", "dev", "holdout"}
_TRAINING = {"train", "training", "trn"}


def is_held_out(name: str) -> bool:
    """True for validation/test metrics, judged by name parts: `val/loss`, `eval_acc`; not `train/eval_loss`."""
    tokens = [t for t in re.split(r"[/_.\-\s]+", name.lower()) if t]
    if not tokens or tokens[0] in _TRAINING:
        return False
    return any(t in _HELD_OUT for t in tokens)


def best_of(summary: Mapping[str, Any], name: str) -> float | None:
    """The best value of a metric in a summary: its max where higher is better, else its min."""
    stats = summary.get(name)
    if stats is None:
        return None
    return stats.max if direction(name, summary) == "max" else stats.min


def _rank(name: str) -> tuple[int, int, str]:
    """(kind, number of name parts, name): held-out loss first, plainer names before longer ones."""
    low = name.lower()
    parts = len([t for t in re.split(r"[/_.\-\s]+", low) if t])
    if low.startswith("sys/"):
        return (9, parts, name)
    is_val = is_held_out(name)
    if "loss" in low:
        return (0 if is_val else 1, parts, name)
    if _HIGHER.search(low) and not low.startswith(("tokens", "throughput")):
        return (2 if is_val else 3, parts, name)
    if "ppl" in low or "perplexity" in low:
        return (4, parts, name)
    return (8, parts, name)


def _is_curve(name: str, points: int | None = None) -> bool:
    """False for a metric that is a final figure rather than a curve: one point, or under `hparam/` (what
    TensorBoard's `add_hparams` logs, one value per run)."""
    return points != 1 and not name.lower().startswith("hparam/")


def _points(stats: Any) -> int | None:
    """How many points a summary (`MetricSummary.count`) or a series (its length) holds; None if unknown."""
    count = getattr(stats, "count", None)
    if isinstance(count, int):
        return count
    if isinstance(stats, int):
        return stats
    try:
        return len(stats)
    except TypeError:
        return None


_COUNTERS = {"epoch", "epochs", "iter", "iters", "iteration", "global_step", "step", "batch", "batch_idx"}


def main_metrics(names: Iterable[str] | Mapping[str, Any], limit: int = 2, *, fill: bool = True) -> list[str]:
    """The metrics a listing shows first: validation loss, training loss, then accuracy-like ones.

    Curves come first: a one-point series or an `hparam/` final figure is chosen only when no curve is. Where
    too few metrics are of a known kind, the run's other curves (`grad_norm`, `value`) fill the rest, so a run
    whose metrics runyard has no name for still shows one (`fill=False`: known kinds only, as for judging which
    checkpoint is best). Given
    a mapping of name to summary (`MetricSummary`), series or point count, one-point series are known too.
    """
    points = {n: _points(v) for n, v in names.items()} if isinstance(names, Mapping) else {}
    ordered = sorted((_rank(n), n) for n in names)
    ranked = [n for r, n in ordered if r[0] < 8]
    curves = [n for n in ranked if _is_curve(n, points.get(n))]
    chosen = (curves or ranked)[:limit]
    if fill and len(chosen) < limit:  # too few known kinds: the run's other curves fill the rest (not counters)
        others = [n for r, n in ordered if r[0] == 8 and _is_curve(n, points.get(n))
                  and re.split(r"[/.]", n.lower())[-1].rstrip("_") not in _COUNTERS]
        chosen += others[: limit - len(chosen)]
    return chosen
