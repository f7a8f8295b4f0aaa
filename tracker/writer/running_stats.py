"""Running per-metric statistics, kept by the writer as rows are logged and dumped to summary.json."""

from __future__ import annotations

from typing import Any

from ..jsonl import encode_float

# Slots of a stats list (a list, not an object, because `update` runs on every log() call).
FIRST, LAST, MIN, MAX, TOTAL, COUNT, MIN_STEP, MAX_STEP, NONFINITE, LAST_STEP = range(10)


class MetricStats:
    """first, last, min, max, mean, count and the steps of min and max, per metric name."""

    __slots__ = ("by_name",)

    def __init__(self) -> None:
        self.by_name: dict[str, list] = {}

    def update(self, name: str, value: float, step: int) -> None:
        """Fold one value in; NaN and infinities count as `last` but stay out of min, max and mean."""
        s = self.by_name.get(name)
        finite = value - value == 0
        if s is None:
            s = self.by_name[name] = [value, value, None, None, 0.0, 0, None, None, 0, step]
        s[LAST] = value
        s[LAST_STEP] = step
        if not finite:
            s[NONFINITE] += 1
            return
        s[TOTAL] += value
        s[COUNT] += 1
        if s[MIN] is None or value < s[MIN]:
            s[MIN] = value
            s[MIN_STEP] = step
        if s[MAX] is None or value > s[MAX]:
            s[MAX] = value
            s[MAX_STEP] = step

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The summary.json `metrics` section, with non-finite values encoded as the contract says."""
        out = {}
        for name, s in list(self.by_name.items()):
            count = s[COUNT]
            out[name] = {
                "first": encode_float(float(s[FIRST])),
                "last": encode_float(float(s[LAST])),
                "min": s[MIN],
                "max": s[MAX],
                "mean": s[TOTAL] / count if count else None,
                "count": count + s[NONFINITE],
                "nonfinite": s[NONFINITE],
                "min_step": s[MIN_STEP],
                "max_step": s[MAX_STEP],
                "last_step": s[LAST_STEP],
            }
        return out
