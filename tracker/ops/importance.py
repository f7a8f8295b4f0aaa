"""Which config keys go with a better metric: a rank statistic per differing key, across runs.

For each config key that differs among the runs, the runs that have both the key and a best value of the metric
(in the metric's direction; a NaN is never a best value, so a run whose metric is only NaN does not count; a run
that spells the metric otherwise but for case and separators, `val_loss` for `val/loss`, counts) are ranked, and
the key's association with the metric is measured on ranks only, so a metric's scale, outliers and a log-spaced
learning rate do not matter:

- a numeric key (every value a number, or a string spelling one): Spearman's rank correlation ρ between the key
  and the metric's best value, ties given their average rank; `score` is ρ (-1..1, its sign saying whether more
  of the key goes with more of the metric) and `better` says which way of the key goes with the better metric;
- any other key (text, bools, lists, mixed kinds): the Kruskal–Wallis ε² of the metric's ranks grouped by the
  key's value, which is the share of the rank variance the groups explain (η² on ranks, 0..1); `better` names
  the value whose runs have the best mean rank.

Keys are sorted by `strength`: ρ² for numeric keys and ε² for the others, both the share of rank variance
explained, so the two kinds sort on one scale. Below `MIN_RUNS` runs a key gets the note "too few runs to tell":
with four runs Spearman's ρ takes few values and even a perfect ordering turns up by chance one time in twelve
(2/4!), so five runs (2/5! = 1 in 60) is the least that can tell a ranking from luck. A key with one value among
the runs that have the metric, or a metric with one value, cannot be told apart either and is noted as such.
Numbers come from numpy alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..reading.records import RunRecord
from .configdiff import CONFIG, MISSING, ConfigDiff, comparable, config_diff
from .metricmatch import metric_key

MIN_RUNS = 5
TOO_FEW = "too few runs to tell"


@dataclass(frozen=True)
class KeyImportance:
    """How strongly one config key goes with a metric's best value across runs (see the module's rules)."""

    key: str
    kind: str                  # "numeric" (Spearman's ρ) or "categorical" (Kruskal–Wallis ε²)
    score: float | None        # ρ in -1..1, or ε² in 0..1; None with a note
    strength: float | None     # ρ² or ε²: what keys are sorted by
    n: int                     # runs that have both the key and a best value of the metric
    better: Any = None         # numeric: "higher" or "lower" (the key's way to a better metric); else the value
    note: str | None = None    # why there is no score: too few runs, one value only


def metric_in(record: RunRecord, metric: str) -> str | None:
    """The run's own name for `metric`: the name itself, else its one metric spelled the same but for case and
    separators (`val_loss` for `val/loss`, as a comparison matches names); None if it has none, or several."""
    if metric in record.summary:
        return metric
    key = metric_key(metric)
    found = [name for name in record.summary if metric_key(name) == key]
    return found[0] if len(found) == 1 else None


def best_values(records: Sequence[RunRecord], metric: str) -> list[float | None]:
    """Each run's best value of `metric` (see `metric_in`) in the metric's direction (the run's goal for it);
    None where the run has no finite value of it."""
    out: list[float | None] = []
    for record in records:
        name = metric_in(record, metric)
        stats = record.summary.get(name) if name is not None else None
        if stats is None:
            out.append(None)
            continue
        value = stats.max if record.direction(name) == "max" else stats.min
        out.append(float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None)
    return out


def key_importance(records: Sequence[RunRecord], metric: str, *, diff: ConfigDiff | None = None) -> list[KeyImportance]:
    """For each differing config key of `records`, its rank association with `metric`'s best value, strongest
    first (keys with a note last, by name). A ValueError when no run has the metric."""
    import numpy as np

    records = list(records)
    if diff is None or list(diff.records) != records:
        diff = config_diff(records, include_origin=False)
    if not any(metric_in(r, metric) is not None for r in records):
        raise ValueError(f"no run has a metric {metric!r}")
    best = best_values(records, metric)
    maximise = _direction(records, metric) == "max"
    out: list[KeyImportance] = []
    for row in diff.differing():
        if row.section != CONFIG:
            continue
        pairs = [(v, b) for v, b in zip(row.values, best, strict=True) if v is not MISSING and b is not None]
        n = len(pairs)
        numbers = [_number(v) for v, _ in pairs]
        numeric = n > 0 and all(x is not None for x in numbers)
        kind = "numeric" if numeric else "categorical"
        metric_values = np.array([b for _, b in pairs], dtype=np.float64)
        groups = [comparable(v) for v, _ in pairs]
        note = None
        if n < MIN_RUNS:
            note = TOO_FEW
        elif len(set(groups)) < 2:
            note = f"one value among the runs with {metric}"
        elif np.unique(metric_values).size < 2:
            note = f"{metric} is the same in every run"
        elif not numeric and len(set(groups)) == n:
            note = "every run has its own value"
        if note is not None:
            out.append(KeyImportance(row.key, kind, None, None, n, None, note))
            continue
        if numeric:
            rho = spearman(np.array(numbers, dtype=np.float64), metric_values)
            better = None
            if rho != 0 and math.isfinite(rho):
                better = "higher" if (rho > 0) == maximise else "lower"
            out.append(KeyImportance(row.key, kind, rho, rho * rho, n, better))
        else:
            eps, best_group = kruskal_epsilon(groups, metric_values, maximise)
            value = next(v for (v, _), g in zip(pairs, groups, strict=True) if g == best_group)
            out.append(KeyImportance(row.key, kind, eps, eps, n, value))
    out.sort(key=lambda k: (k.strength is None, -(k.strength or 0.0), k.key))
    return out


def _direction(records: Sequence[RunRecord], metric: str) -> str:
    """The metric's direction as most runs that log it have it (runs may disagree only where one declared it)."""
    votes = [r.direction(name) for r in records if (name := metric_in(r, metric)) is not None]
    if not votes:
        return "min"
    return "max" if votes.count("max") > len(votes) / 2 else "min"


def _number(value: Any) -> float | None:
    """A key's value as a number for a rank correlation: numbers and numeric strings (not bools, not NaN)."""
    canon = comparable(value)
    if canon[0] != "num" or canon[1] == "nan":
        return None
    number = float(canon[1])
    return number if not math.isnan(number) else None


def ranks(values: Any) -> Any:
    """Ranks 1..n of `values`, ties given the average of the ranks they span (as Spearman's ρ wants)."""
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    average = (starts + ends + 1) / 2.0  # ranks start..end-1 (0-based) -> mean of start+1..end
    out = np.empty(len(values), dtype=np.float64)
    out[order] = np.repeat(average, ends - starts)
    return out


def spearman(x: Any, y: Any) -> float:
    """Spearman's rank correlation of two equally long arrays (Pearson's r of their tied ranks); NaN where either
    is constant."""
    import numpy as np

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = math.sqrt(float(np.dot(rx, rx)) * float(np.dot(ry, ry)))
    return float(np.dot(rx, ry)) / denominator if denominator else math.nan


def kruskal_epsilon(groups: Sequence[Any], values: Any, maximise: bool = False) -> tuple[float, Any]:
    """Kruskal–Wallis ε² of `values` grouped by `groups` (H / (n - 1) with the tie correction: the share of the
    rank variance between groups, 0..1), and the group with the best mean rank (highest if `maximise`)."""
    import numpy as np

    r = ranks(values)
    n = len(r)
    labels = list(dict.fromkeys(groups))
    index = np.array([labels.index(g) for g in groups])
    counts = np.bincount(index, minlength=len(labels))
    sums = np.bincount(index, weights=r, minlength=len(labels))
    means = sums / counts
    grand = (n + 1) / 2.0
    total = float(np.sum((r - grand) ** 2))
    between = float(np.sum(counts * (means - grand) ** 2))
    epsilon = between / total if total else math.nan  # H/(n-1) with ties corrected is exactly this ratio
    best = labels[int(np.argmax(means) if maximise else np.argmin(means))]
    return epsilon, best
