"""The filter and sort language shared by `runyard ls` and the app's runs table.

A filter is words separated by spaces. A word with an operator is a condition on a config key, a metric or a
run field: `lr<1e-3`, `model.n_layer>=4`, `val/loss.min<1.5`, `status=running`, `tags~base` (`~` means
"contains"). A metric compares its last value unless a statistic is named (`.first .last .min .max .mean`, or
`.best`: the min or the max, whichever way the metric is better).
Any other word must appear in the run's name, path, tags, notes, format or status. All words must hold.
"""

from __future__ import annotations

import difflib
import operator
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .configtree import flatten
from .metricnames import best_of
from .records import RunRecord

_COND = re.compile(r"^(?P<key>[^<>=!~]+?)(?P<op><=|>=|==|!=|<|>|=|~)(?P<value>.*)$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "=": operator.eq, "==": operator.eq, "!=": operator.ne,
}
_STATS = ("first", "last", "min", "max", "mean", "count")
_INFO_KEYS = ("status", "format", "name", "host", "user", "id", "notes", "tags", "archived", "restarts",
              "last_step", "rows", "created", "duration")


class FilterError(ValueError):
    """A filter or sort key that cannot be understood; the message says which word."""


def lookup(record: RunRecord, key: str) -> Any:
    """The value `key` names for a run: a config key, a metric (statistic), or a run field; None if none."""
    flat = record.__dict__.setdefault("_flat", flatten(record.config))
    if key in flat:
        return flat[key]
    metric, _, stat = key.rpartition(".")
    if stat in _STATS and metric in record.summary:
        return getattr(record.summary[metric], stat)
    if stat == "best" and metric in record.summary:
        return best_of(record.summary, metric)
    if key in record.summary:
        return record.summary[key].last
    if key in _INFO_KEYS:
        value = getattr(record.info, key)
        return ",".join(value) if isinstance(value, list) else value
    leaves = [v for k, v in flat.items() if k.rsplit(".", 1)[-1] == key]
    return leaves[0] if len(leaves) == 1 else None


@dataclass
class Condition:
    key: str
    op: str
    value: str

    def holds(self, record: RunRecord) -> bool:
        actual = lookup(record, self.key)
        if actual is None:
            return False
        if self.op == "~":
            return self.value.lower() in str(actual).lower()
        want = _number(self.value)
        have = _number(actual) if not isinstance(actual, bool) else None
        if want is not None and have is not None:
            return _OPS[self.op](have, want)
        if self.op in ("=", "==", "!="):
            same = str(actual).lower() == self.value.lower()
            return same if self.op != "!=" else not same
        return False


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def compile_filter(text: str) -> Callable[[RunRecord], bool]:
    """A predicate for the filter `text`; FilterError for an unparseable word."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise FilterError(f"filter {text!r}: {exc}") from exc
    conditions: list[Condition] = []
    terms: list[str] = []
    for word in words:
        m = _COND.match(word)
        if m:
            if not m.group("value"):
                raise FilterError(f"filter word {word!r} has no value after {m.group('op')}")
            conditions.append(Condition(m.group("key"), m.group("op"), m.group("value")))
        else:
            terms.append(word.lower())

    def predicate(record: RunRecord) -> bool:
        if terms:
            info = record.info
            hay = " ".join([info.name, str(info.path), info.format, info.status, info.notes, *info.tags]).lower()
            if not all(t in hay for t in terms):
                return False
        return all(c.holds(record) for c in conditions)

    return predicate


def unknown_keys(text: str, records: list[RunRecord], sort_key: str = "") -> list[str]:
    """What to tell a user whose filter (or sort key) names a key no run has: one message per such key, with
    the closest config key, metric or run field (`no run has key 'lr_rate'; did you mean 'lr'?`).

    A condition on such a key holds for no run, so without a word the listing would just come back empty.
    """
    if not records:
        return []
    try:
        words = shlex.split(text)
    except ValueError:
        return []
    asked = [(m.group("key"), "") for m in map(_COND.match, words) if m]
    sort_key = sort_key.lstrip("-+")
    if sort_key and sort_key not in ("start", "steps"):
        asked.append((sort_key, " to sort by"))
    missing = [(key, role) for key, role in dict.fromkeys(asked) if not any(_has(r, key) for r in records)]
    if not missing:
        return []
    known = set(_INFO_KEYS)
    for r in records:
        flat = r.__dict__.setdefault("_flat", flatten(r.config))
        known.update(flat)
        known.update(k.rsplit(".", 1)[-1] for k in flat)
        known.update(r.summary)
    messages = []
    for key, role in missing:
        metric, _, stat = key.rpartition(".")
        if stat in (*_STATS, "best") and metric:
            close = [f"{m}.{stat}" for m in difflib.get_close_matches(metric, known, n=1, cutoff=0.6)]
        else:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        messages.append(f"no run has key {key!r}{role}{hint}")
    return messages


def _has(record: RunRecord, key: str) -> bool:
    """Whether `key` names anything in this run (a config key or leaf, a metric or its statistic, a field)."""
    flat = record.__dict__.setdefault("_flat", flatten(record.config))
    if key in flat or key in record.summary or key in _INFO_KEYS:
        return True
    metric, _, stat = key.rpartition(".")
    if stat in (*_STATS, "best") and metric in record.summary:
        return True
    return any(k.rsplit(".", 1)[-1] == key for k in flat)


def sort_records(records: list[RunRecord], key: str) -> list[RunRecord]:
    """Sorted by `key` (any filter key; `-key` for descending); runs without a value go last."""
    descending = key.startswith("-")
    key = key.lstrip("-+") or "created"
    aliases = {"start": "created", "steps": "last_step"}
    key = aliases.get(key, key)
    present = [(lookup(r, key), r) for r in records]
    known = [(v, r) for v, r in present if v is not None]
    missing = [r for v, r in present if v is None]
    numeric = all(_number(v) is not None for v, _ in known)
    known.sort(key=lambda vr: _number(vr[0]) if numeric else str(vr[0]).lower(), reverse=descending)
    return [r for _, r in known] + missing
