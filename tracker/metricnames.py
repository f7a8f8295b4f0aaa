"""Conventions about metric names: which way is better, and which metrics a listing should show."""

from __future__ import annotations

import re

_HIGHER = re.compile(r"acc|accuracy|f1|auc|bleu|rouge|score|reward|return|precision|recall|map\b|iou|psnr|ssim|"
                     r"tokens_per_sec|throughput|mfu", re.IGNORECASE)


def direction(name: str) -> str:
    """"max" for metrics where higher is better (accuracy, reward, ...), else "min" (losses, perplexity, ...)."""
    return "max" if _HIGHER.search(name.rsplit("/", 1)[-1]) else "min"


def _rank(name: str) -> tuple[int, str]:
    low = name.lower()
    if low.startswith("sys/"):
        return (9, name)
    is_val = any(k in low for k in ("val", "valid", "eval", "test"))
    if "loss" in low:
        return (0 if is_val else 1, name)
    if _HIGHER.search(low) and not low.startswith(("tokens", "throughput")):
        return (2 if is_val else 3, name)
    if "ppl" in low or "perplexity" in low:
        return (4, name)
    return (8, name)


def main_metrics(names: list[str] | set[str], limit: int = 2) -> list[str]:
    """The metrics a listing shows first: validation loss, training loss, then accuracy-like ones."""
    ranked = sorted((_rank(n), n) for n in names)
    return [n for r, n in ranked if r[0] < 8][:limit]
