"""Metric names matched across runs written by different tools, so a comparison lines up the same metric.

Built in is only what cannot change a metric's meaning: case and separators. `val_loss`, `val/loss`,
`Val-Loss` and `val.loss` are one metric (their key is the words `val`, `loss`). Anything beyond that is the
user's word: an `[aliases]` table in runyard.toml (looked up as the `[metrics]` table is: the runs root's
file first, then the user's own), or the same mapping given in Python or on the command line:

    [aliases]
    "val/loss" = ["Loss/val", "loss/validation", "eval_loss"]

Each alias, like each name, is matched by its key, so `loss/Validation` is an alias as well. Two names of one
run are never merged into one metric: where they would be (a run logging both `val_loss` and `val/loss`, or a
name and its alias), that metric is matched more strictly (without the aliases, then by exact name only) and
the conflict is noted, so that no run's value is silently dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import tomllib

from ..files import read_bytes
from ..reading.patterns import config_files

_SEPARATORS = re.compile(r"[\s/_.\-:]+")


def metric_key(name: str) -> str:
    """The key under which names match: lower case, words joined by `/` (`Val-Loss` -> `val/loss`)."""
    words = [w for w in _SEPARATORS.split(name.casefold()) if w]
    return "/".join(words) if words else name.casefold()


@dataclass
class MetricMatch:
    """Which names of which runs are one metric.

    `groups`: canonical name -> {run key -> that run's own name}, in order of first appearance. `matched`: per
    metric whose runs spell it in more than one way, the canonical name and the other spellings lined up under
    it (`("val/loss", ["val_loss", "Loss/val"])`). `conflicts`: (run key, its names that would have been one
    metric) for each run whose names were kept apart. `problems`: aliases that could not be used.
    """

    groups: dict[str, dict[str, str]] = field(default_factory=dict)
    matched: list[tuple[str, list[str]]] = field(default_factory=list)
    conflicts: list[tuple[str, list[str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _by_name: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)
    _aliases: dict[str, str] = field(default_factory=dict, repr=False)

    def canonical_of(self, run: str, name: str) -> str | None:
        """The canonical name under which run `run` lists its metric `name`; None if it has no such metric."""
        return self._by_name.get((run, name))

    def resolve(self, name: str) -> str | None:
        """The canonical metric a person means by `name`; None when no run has it or it could be several (see
        `candidates`)."""
        found = self.candidates(name)
        return found[0] if len(found) == 1 else None

    def candidates(self, name: str) -> list[str]:
        """The canonical metrics `name` may mean, the likeliest first: a canonical name itself, else the one
        metric of any run spelled so, else the metrics whose name, or whose runs' names, match it by key
        (then by alias)."""
        if name in self.groups:
            return [name]
        owners = list(dict.fromkeys(canon for (_, own), canon in self._by_name.items() if own == name))
        if owners:
            return owners
        key = metric_key(name)
        for test in (lambda canon, members: metric_key(canon) == key,
                     lambda canon, members: any(metric_key(own) == key for own in members.values()),
                     lambda canon, members: any(self._key(own) == self._aliases.get(key, key)
                                                for own in members.values())):
            found = [canon for canon, members in self.groups.items() if test(canon, members)]
            if found:
                return found
        return []

    def _key(self, name: str) -> str:
        key = metric_key(name)
        return self._aliases.get(key, key)

    def notes(self, metrics: Iterable[str] | None = None) -> list[str]:
        """What a face says below a comparison of `metrics` (default: all): the names matched, the names kept
        apart, the aliases that could not be used."""
        shown = set(self.groups if metrics is None else metrics)
        lines = [f"{canon} ← {', '.join(names)}" for canon, names in self.matched if canon in shown]
        lines += [f"{Path(run).name}: {', '.join(names)} kept apart (one run logs them all)"
                  for run, names in self.conflicts if any(self._by_name.get((run, n)) in shown for n in names)]
        return lines + list(self.problems)


def _alias_keys(aliases: Mapping[str, Sequence[str]] | None) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """(alias key -> canonical key, canonical key -> the canonical name as the user wrote it, problems)."""
    keys: dict[str, str] = {}
    spelled: dict[str, str] = {}
    problems: list[str] = []
    for canonical, names in (aliases or {}).items():
        target = metric_key(canonical)
        if keys.get(target, target) != target:
            problems.append(f"alias {canonical!r} is itself an alias of {spelled[keys[target]]!r}: left out")
            continue
        spelled.setdefault(target, canonical)
        keys[target] = target
        for name in [names] if isinstance(names, str) else names:
            key = metric_key(str(name))
            if keys.get(key, target) != target:
                problems.append(f"alias {name!r} of {canonical!r} is already one of "
                                f"{spelled[keys[key]]!r}: left out")
                continue
            keys[key] = target
    return keys, spelled, problems


def match_metrics(names_by_run: Mapping[str, Iterable[str]],
                  aliases: Mapping[str, Sequence[str]] | None = None) -> MetricMatch:
    """Group the metric names of runs (run key -> its names) into metrics, by key and by the user's `aliases`
    (canonical name -> other names). The canonical name of a metric is the alias table's where it names it,
    else the spelling most runs use (of equals, the first run's)."""
    alias_of, spelled, problems = _alias_keys(aliases)
    runs = {run: list(dict.fromkeys(names)) for run, names in names_by_run.items()}
    members = [(run, name) for run, names in runs.items() for name in names]
    levels = (lambda n: alias_of.get(metric_key(n), metric_key(n)), metric_key, lambda n: n)
    out = MetricMatch(problems=problems, _aliases=alias_of)
    conflicts: dict[str, set[str]] = {}
    order = {member: i for i, member in enumerate(members)}
    found = _split(members, levels, 0, spelled, conflicts)
    found.sort(key=lambda lg: min(order[m] for m in lg[1]))  # in order of first appearance
    for level, group in found:
        canon = _canonical(group, level, spelled, levels[0](group[0][1]))
        base, n = canon, 2
        while canon in out.groups:  # cannot happen with names as they are; kept so no group is ever lost
            canon, n = f"{base}#{n}", n + 1
        out.groups[canon] = dict(group)
        for run, name in group:
            out._by_name[(run, name)] = canon
        others = list(dict.fromkeys(name for _, name in group if name != canon))
        if others:
            out.matched.append((canon, others))
    out.conflicts = [(run, [n for n in names if n in conflicts[run]]) for run, names in runs.items()
                     if run in conflicts]
    return out


def _split(members: list[tuple[str, str]], levels: Sequence, level: int, spelled: Mapping[str, str],
           conflicts: dict[str, set[str]]) -> list[tuple[int, list[tuple[str, str]]]]:
    """Members grouped by the key of `level`. Where one run has several names in a group, the runs with one
    name make the group, and of the other run's names only the one spelled as the group's canonical name (else
    the one that alone matches it by the next, stricter key) joins them; its other names are grouped again by
    the next level (the last level, the exact name, never puts two names of one run together)."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for run, name in members:
        groups.setdefault(levels[level](name), []).append((run, name))
    out: list[tuple[int, list[tuple[str, str]]]] = []
    for key, group in groups.items():
        runs = [run for run, _ in group]
        crowded = [r for r in dict.fromkeys(runs) if runs.count(r) > 1]
        if not crowded:
            out.append((level, group))
            continue
        for run in crowded:
            conflicts.setdefault(run, set()).update(name for r, name in group if r == run)
        core = [(r, n) for r, n in group if r not in crowded]
        if not core:
            out.extend(_split(group, levels, level + 1, spelled, conflicts))
            continue
        canon = _canonical(core, level, spelled, key if level == 0 else levels[0](core[0][1]))
        stricter = levels[min(level + 1, len(levels) - 1)]
        left: list[tuple[str, str]] = []
        for run in crowded:
            names = [n for r, n in group if r == run]
            pick = canon if canon in names else None
            if pick is None:
                close = [n for n in names if stricter(n) == stricter(canon)]
                pick = close[0] if len(close) == 1 else None
            if pick is not None:
                core.append((run, pick))
            left += [(run, n) for n in names if n != pick]
        out.append((level, core))
        out.extend(_split(left, levels, level + 1, spelled, conflicts))
    return out


def _canonical(group: list[tuple[str, str]], level: int, spelled: Mapping[str, str], key: str) -> str:
    """The alias table's name for the group where the group is that alias's metric (matched by alias, or by key
    once the aliases were set aside), else the name most of its runs use (of equals, the first)."""
    named = spelled.get(key)
    if named is not None and (level == 0 or (level == 1 and metric_key(group[0][1]) == metric_key(named))):
        return named
    counts: dict[str, int] = {}
    for _, name in group:
        counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda n: counts[n])  # max keeps the first of equals


def load_aliases(root: Path | None) -> dict[str, list[str]]:
    """The `[aliases]` tables of the runyard.toml files that apply to runs under `root` (its own first, then the
    user's): canonical name -> other names. Problems (a file that does not parse) are left out; see
    `read_aliases` for them."""
    return read_aliases(root)[0]


def read_aliases(root: Path | None) -> tuple[dict[str, list[str]], list[str]]:
    """`load_aliases` and the problems found reading the tables; read again only when a file changes."""
    versions = []
    for path in config_files(root):
        try:
            st = os.stat(path)
        except OSError:
            continue
        versions.append((str(path), st.st_size, st.st_mtime_ns))
    aliases, problems = _read(tuple(versions))
    return {k: list(v) for k, v in aliases.items()}, list(problems)


@lru_cache(maxsize=32)
def _read(versions: tuple[tuple[str, int, int], ...]) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    aliases: dict[str, tuple[str, ...]] = {}
    problems: list[str] = []
    for name, _, _ in versions:
        try:
            table = tomllib.loads(read_bytes(name).decode("utf-8-sig")).get("aliases", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        if not isinstance(table, dict):
            problems.append(f"{name}: [aliases] must be a table of metric = [\"other name\", ...]")
            continue
        for canonical, others in table.items():
            if isinstance(others, str):
                others = [others]
            if not isinstance(others, list) or not all(isinstance(o, str) for o in others):
                problems.append(f"{name}: [aliases] {canonical!r} must be a list of metric names")
                continue
            if canonical not in aliases:  # the runs root's file is read first and wins
                aliases[canonical] = tuple(others)
    return aliases, tuple(problems)


def parse_alias(text: str) -> tuple[str, list[str]]:
    """`val/loss=Loss/val,eval_loss` (as given on the command line) -> ("val/loss", ["Loss/val", "eval_loss"])."""
    canonical, sep, others = text.partition("=")
    names = [n.strip() for n in others.split(",") if n.strip()]
    if not sep or not canonical.strip() or not names:
        raise ValueError(f"alias {text!r}: write it as METRIC=OTHER[,OTHER...]")
    return canonical.strip(), names
