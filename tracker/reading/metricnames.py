"""Conventions about metric names: which way is better, and which metrics a listing should show."""

from __future__ import annotations

import re

_HIGHER = re.compile(r"acc|accuracy|f1|auc|bleu|rouge|score|reward|return|precision|recall|map\b|iou|psnr|ssim|"
                     r"tokens_per_sec|throughput|mfu", re.IGNORECASE)


def direction(name: str) -> str:
    """"max" for metrics where higher is better (accuracy, reward, ...), else "min" (losses, perplexity, ...)."""
    return "max" if _HIGHER.search(name.rsplit("/", 1)[-1]) else "min"


_HELD_OUT = {"val", "valid", "validation", "eval", "evaluation", "test", "dev", "holdout"}
_TRAINING = {"train", "training", "trn"}


def is_held_out(name: str) -> bool:
    """True for validation/test metrics, judged by name parts: `val/loss`, `eval_acc`; not `train/eval_loss`."""
    tokens = [t for t in re.split(r"[/_.\-\s]+", name.lower()) if t]
    if not tokens or tokens[0] in _TRAINING:
        return False
    return any(t in _HELD_OUT for t in tokens)


def best_of(summary: dict, name: str) -> float | None:
    """The best value of a metric in a summary: its min, or its max where higher is better."""
    stats = summary.get(name)
    if stats is None:
        return None
    return stats.max if direction(name) == "max" else stats.min


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


def main_metrics(names: list[str] | set[str], limit: int = 2) -> list[str]:
    """The metrics a listing shows first: validation loss, training loss, then accuracy-like ones."""
    ranked = sorted((_rank(n), n) for n in names)
    return [n for r, n in ranked if r[0] < 8][:limit]
