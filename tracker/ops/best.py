"""The best checkpoint of a run: one rule for every layout, judged by what is recorded per checkpoint.

A run's checkpoints each record values (an index line, a sidecar file, the numbers in a file name); the best
is the one whose value of the ranking metric is best in that metric's direction. A tool's own claim (a summary
naming a best step, a flag in an index) is only a second source: where it names another checkpoint, the values
recorded per checkpoint win and the disagreement is noted on the best one, so a face can show it. A NaN is never
best, and of equal values the older checkpoint keeps the mark. "Best checkpoints across the tree" builds on
`best_checkpoint`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from ..model import Checkpoint
from ..reading.metricnames import main_metrics


def _age(checkpoint: Checkpoint) -> tuple[float, float]:
    """Order of saving: by step, then by time; a checkpoint with neither comes last, in its given place."""
    return (math.inf if checkpoint.step is None else checkpoint.step,
            math.inf if checkpoint.time is None else checkpoint.time)


def recorded_value(checkpoint: Checkpoint, metric: str) -> float | None:
    """The value of `metric` recorded for `checkpoint`; None when it records none or a NaN."""
    value = checkpoint.metrics.get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value:
        return None
    return float(value)


def best_checkpoint(checkpoints: Iterable[Checkpoint], metric: str, direction: str) -> Checkpoint | None:
    """The checkpoint whose recorded `metric` is best in `direction` ("min" or "max"); None if none records it.

    A NaN is never best; of equal values the older checkpoint (lower step, then earlier) wins.
    """
    best, best_value = None, None
    for checkpoint in sorted(checkpoints, key=_age):
        value = recorded_value(checkpoint, metric)
        if value is None:
            continue
        if best_value is None or (value < best_value if direction == "min" else value > best_value):
            best, best_value = checkpoint, value
    return best


def ranking_metric(checkpoints: Iterable[Checkpoint], named: str | None = None) -> str | None:
    """The metric to rank by: the one the run's files name, else the main one its checkpoints record
    (validation loss first, as a listing shows them); None when they record nothing to rank by."""
    if named:
        return named
    names = {name for checkpoint in checkpoints for name in checkpoint.metrics}
    found = main_metrics(names, limit=1, fill=False)  # an unnamed figure (`epoch`) never judges checkpoints
    return found[0] if found else None


def mark_best(checkpoints: Sequence[Checkpoint], metric: str | None, direction: str | None, *,
              claimed: Checkpoint | None = None, claimed_by: str = "", note: str | None = None) -> Checkpoint | None:
    """Mark the best of `checkpoints` by `metric` and `direction` and return it.

    `claimed` is the checkpoint the run's own summary or index names best (`claimed_by` says which file): it is
    marked only when no checkpoint records a value to judge by; where it differs from the best by the recorded
    values, the best gets a note saying so. `note` is any other disagreement to show with the best (a direction
    that differs from the declared one).
    """
    for checkpoint in checkpoints:
        checkpoint.best = False
        checkpoint.best_metric, checkpoint.best_mode = (metric, direction) if metric and direction else (None, None)
    if not metric or direction not in ("min", "max"):
        return None
    best = best_checkpoint(checkpoints, metric, direction)
    notes = [note] if note else []
    if best is None:
        best = claimed
    elif claimed is not None and claimed is not best:
        claim = _label(claimed, metric)
        notes.append(f"{claimed_by or 'the run'} names {claim} as best; by the value recorded with each "
                     f"checkpoint, {_label(best, metric)} is ({direction} {metric})")
    if best is not None:
        best.best = True
        best.note = "; ".join(notes) or None
    return best


def _label(checkpoint: Checkpoint, metric: str) -> str:
    """`step 2500 (val_loss 1.699)`, or the file name where the checkpoint has no step."""
    name = f"step {checkpoint.step}" if checkpoint.step is not None else checkpoint.path.name
    value = checkpoint.metrics.get(metric)
    return f"{name} ({metric} {value:.6g})" if isinstance(value, (int, float)) else name
