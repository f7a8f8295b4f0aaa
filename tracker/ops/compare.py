"""The comparison of runs: one row per run, its best and last value of each metric, and which run leads.

Built from the records a scan returns (their summaries hold min, max, last and their steps), so no metrics
file is read and comparing a hundred runs costs what listing them does. Metrics are matched across runs by
`metricmatch` (`val_loss` of a CSV run and `val/loss` of a W&B run are one column). Each metric is judged in
one direction for every run: the strongest word the runs' files give (declared, W&B, runyard.toml), else a
guess from the name, shown as guessed; a caller's `directions` override any of them.

Values are what was logged: a NaN is never best (a run whose every value is NaN has no best, only its last), a
run without a metric has no cell (missing, not zero), and of equal bests the run given earlier leads.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..contract import goal_direction
from ..errors import TrackerError
from ..model import GOAL_SOURCES, GUESSED, Goal
from ..reading.metricnames import _rank as metric_rank
from ..reading.metricnames import main_metrics
from ..reading.records import RunRecord
from .metricmatch import MetricMatch, load_aliases, match_metrics

OVERRIDE = "override"  # the source of a direction a person chose for this comparison
RUN_COLUMNS = ("name", "label", "status", "duration", "steps", "steps_per_s")
STATS = ("best", "best_step", "last", "last_step")
_ASCENDING = {"name", "label", "status", "best_step", "last_step"}  # the other columns sort largest first


class CompareError(TrackerError):
    """A comparison that cannot be made as asked (a metric no run has, a column that is not one)."""


@dataclass
class MetricCell:
    """One run's value of one metric: its own name for it, its best (in the table's direction) and last."""

    name: str
    best: float | None
    best_step: int | None
    last: float | None
    last_step: int | None


@dataclass
class CompareRow:
    """One run of a comparison. `key` is the run's path as a string; `label` the short name for legends."""

    key: str
    name: str
    label: str
    status: str
    duration: float | None
    steps: int | None
    steps_per_s: float | None
    cells: dict[str, MetricCell] = field(default_factory=dict)
    record: RunRecord | None = field(default=None, repr=False, compare=False)

    def value(self, column: str) -> Any:
        """The row's value in `column`: a run column, or `metric.stat` of a canonical metric (None if missing)."""
        if column in RUN_COLUMNS:
            return getattr(self, column)
        metric, _, stat = column.rpartition(".")
        cell = self.cells.get(metric)
        return getattr(cell, stat) if cell is not None else None


@dataclass
class CompareTable:
    """Runs side by side: `rows` (one per run), `metrics` (canonical names, in column order), `goals` (the
    direction each metric is judged in, and its source), `leader` (metric -> key of the run with the best value),
    `match` (which run names are which metric) and `notes` (what a face should say below the table)."""

    rows: list[CompareRow]
    metrics: list[str]
    goals: dict[str, Goal]
    leader: dict[str, str]
    match: MetricMatch
    notes: list[str] = field(default_factory=list)
    sort: tuple[str, bool] | None = None  # the column sorted by, and whether descending

    def column(self, name: str) -> str:
        """The column `name` means: a run column (`name`, `duration`, `steps`, `steps_per_s`, ...), or a metric
        (any of its runs' names) with an optional statistic, as `metric.stat` (`val/loss` means its best)."""
        if name in RUN_COLUMNS:
            return name
        aliases = {"run": "name", "time": "duration", "steps/s": "steps_per_s", "last_step": "steps"}
        if name in aliases:
            return aliases[name]
        metric, stat = name, "best"
        head, _, tail = name.rpartition(".")
        if head and tail in STATS and self._metric(name) is None:
            metric, stat = head, tail
        canon = self._metric(metric)
        if canon is None:
            choices = ", ".join([*RUN_COLUMNS, *self.metrics])
            raise CompareError(f"no column {name!r} to sort by (columns: {choices})")
        return f"{canon}.{stat}"

    def _metric(self, name: str) -> str | None:
        if name in self.metrics:
            return name
        canon = self.match.resolve(name)
        return canon if canon in self.metrics else None

    def sorted_by(self, column: str, descending: bool | None = None) -> CompareTable:
        """The table with its rows sorted by `column` (see `column`; a leading `-` sorts descending, `+`
        ascending). By default a metric sorts best first, names and steps of a best A to Z, durations, steps
        and speeds largest first. Runs without a value (or with a NaN) go last either way; equals keep their
        order. The leaders stay as they are."""
        if column[:1] in "-+" and column[1:]:
            descending = column[0] == "-" if descending is None else descending
            column = column[1:]
        col = self.column(column)
        if descending is None:
            stat = col.rpartition(".")[2] if col not in RUN_COLUMNS else col
            if col not in RUN_COLUMNS and stat in ("best", "last"):
                descending = self.goals[col.rpartition(".")[0]].direction == "max"
            else:
                descending = stat not in _ASCENDING

        def missing(row: CompareRow) -> bool:
            v = row.value(col)
            return v is None or (isinstance(v, float) and math.isnan(v))

        present = [r for r in self.rows if not missing(r)]
        absent = [r for r in self.rows if missing(r)]
        if col in ("name", "label", "status"):
            present.sort(key=lambda r: str(r.value(col)).casefold(), reverse=descending)
        else:
            present.sort(key=lambda r: r.value(col), reverse=descending)  # sort is stable also when reversed
        return replace(self, rows=present + absent, sort=(col, descending))

    def columns(self) -> list[str]:
        """The keys of `to_records`, in order: the run's columns, each metric's statistics, then `path`."""
        return [*RUN_COLUMNS, *(f"{m}.{s}" for m in self.metrics for s in STATS), "path"]

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per row, in the table's order (for JSON, CSV, Markdown): the run's columns, then
        `metric.best`, `metric.best_step`, `metric.last`, `metric.last_step` of each metric the run has (a
        metric it lacks has no keys), then `path`."""
        out = []
        for row in self.rows:
            record: dict[str, Any] = {c: getattr(row, c) for c in RUN_COLUMNS}
            for metric in self.metrics:
                cell = row.cells.get(metric)
                if cell is not None:
                    record.update({f"{metric}.{s}": getattr(cell, s) for s in STATS})
            record["path"] = row.key
            out.append(record)
        return out

    def to_json(self) -> dict[str, Any]:
        """The whole comparison for `--json`: metrics with their goals, the leaders, the names matched, the
        rows (`to_records`) and the notes."""
        return {
            "metrics": [{"name": m, "direction": self.goals[m].direction, "source": self.goals[m].source,
                         "leader": self.leader.get(m), "names": {r.key: r.cells[m].name for r in self.rows
                                                                  if m in r.cells}}
                        for m in self.metrics],
            "sort": None if self.sort is None else {"column": self.sort[0], "descending": self.sort[1]},
            "runs": self.to_records(),
            "notes": self.notes,
        }


def short_names(names: Sequence[str]) -> list[str]:
    """The shortest name that tells each run apart, for legends: the words (split at `_`, `/`, `-`, `,` and
    spaces; not the `-` of `1e-3`) that every name begins or ends with are left out, as long as each name keeps
    one (`gpt2_lr1e-3_seed0`, `gpt2_lr1e-3_seed1` -> `seed0`, `seed1`). Equal names are told apart by `#2`,
    `#3`...; a name is never empty."""
    names = [str(n) if str(n) else "?" for n in names]
    if len(names) < 2:
        return list(names)
    split = [_words(n) for n in names]
    words = [s[0::2] for s in split]
    shortest = min(len(w) for w in words)
    prefix = 0
    while prefix < shortest - 1 and len({w[prefix] for w in words}) == 1:
        prefix += 1
    suffix = 0
    while suffix < shortest - prefix - 1 and len({w[-1 - suffix] for w in words}) == 1:
        suffix += 1
    short = []
    for name, parts in zip(names, split, strict=True):
        kept = parts[2 * prefix: len(parts) - 2 * suffix]
        short.append("".join(kept) or name)
    groups: dict[str, set[str]] = {}
    for name, label in zip(names, short, strict=True):
        groups.setdefault(label, set()).add(name)
    short = [label if len(groups[label]) == 1 else name for name, label in zip(names, short, strict=True)]  # a_b vs a-b
    seen: dict[str, int] = {}
    out = []
    for label in short:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return out


_WORD_BREAK = re.compile(r"([_/,\s]+|(?<![0-9][eE])-+)")


def _words(name: str) -> list[str]:
    """`a_b-c` -> ["a", "_", "b", "-", "c"]: words at even places, the separators between them at odd ones."""
    parts = _WORD_BREAK.split(name)
    if parts and parts[0] == "":  # a name that begins with a separator keeps it on its first word
        parts = [parts[1] + parts[2], *parts[3:]] if len(parts) > 2 else [name]
    if len(parts) > 1 and parts[-1] == "":
        parts = [*parts[:-3], parts[-3] + parts[-2]]
    return parts


def compare_runs(records: Sequence[RunRecord], metrics: Sequence[str] | None = None, *,
                 aliases: Mapping[str, Sequence[str]] | None = None, directions: Mapping[str, str] | None = None,
                 sort: str | None = None) -> CompareTable:
    """Compare runs by their summaries: one row per run (a run given twice is shown once), one column per
    metric. `metrics`: names as any run spells them (default: the runs' main metrics); `aliases`: canonical
    name -> other names, beyond case and separators (None: the `[aliases]` of the runs' runyard.toml files);
    `directions`: metric -> "min" or "max", overriding what the runs say or what was guessed; `sort`: a column
    (see `CompareTable.sorted_by`).

    Raises CompareError naming a metric no run has, or a direction that is not min or max.
    """
    unique: dict[str, RunRecord] = {}
    for record in records:
        unique.setdefault(str(record.info.path), record)
    runs = list(unique.items())
    if aliases is None:
        aliases = _toml_aliases(unique.values())
    match = match_metrics({key: list(r.summary) for key, r in runs}, aliases)
    chosen = [_resolve(match, name) for name in metrics] if metrics else _default_metrics(match, runs)
    if sort:
        bare = sort.lstrip("-+")
        head, _, tail = bare.rpartition(".")
        wanted = head if tail in STATS and head and match.resolve(bare) is None else bare
        canon = match.resolve(wanted) if wanted not in (*RUN_COLUMNS, "run", "time", "steps/s") else None
        if canon is not None and canon not in chosen:
            chosen.append(canon)  # sorting by a metric shows it
    chosen = list(dict.fromkeys(chosen))
    overrides = _overrides(match, directions or {})
    notes = match.notes(chosen)
    goals: dict[str, Goal] = {}
    for metric in chosen:
        goal, note = _goal(metric, match.groups[metric], unique, overrides.get(metric))
        goals[metric] = goal
        if note:
            notes.append(note)
    labels = short_names([r.info.name for _, r in runs])
    rows = []
    for (key, record), label in zip(runs, labels, strict=True):
        info = record.info
        duration = info.duration
        steps = int(info.last_step) if info.last_step is not None else None
        speed = steps / duration if steps is not None and duration else None
        row = CompareRow(key=key, name=info.name, label=label, status=info.status, duration=duration,
                         steps=steps, steps_per_s=speed, record=record)
        for metric in chosen:
            own = match.groups[metric].get(key)
            stats = record.summary.get(own) if own is not None else None
            if stats is not None:
                row.cells[metric] = _cell(own, stats, goals[metric].direction)
        rows.append(row)
    leader = {}
    for metric in chosen:
        best_key, best = None, None
        for row in rows:  # strictly better only: of equal values the earlier run stays the leader
            cell = row.cells.get(metric)
            value = cell.best if cell is not None else None
            if value is None:
                continue
            if best is None or (value > best if goals[metric].direction == "max" else value < best):
                best_key, best = row.key, value
        if best_key is not None:
            leader[metric] = best_key
    table = CompareTable(rows, chosen, goals, leader, match, notes)
    return table.sorted_by(sort) if sort else table


def _resolve(match: MetricMatch, name: str) -> str:
    canon = match.resolve(name)
    if canon is not None:
        return canon
    found = match.candidates(name)
    if found:
        raise CompareError(f"metric {name!r} could be any of {', '.join(found)}: name one")
    import difflib

    known = [*match.groups, *{own for members in match.groups.values() for own in members.values()}]
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise CompareError(f"no run has metric {name!r}{hint}")


def _default_metrics(match: MetricMatch, runs: list[tuple[str, RunRecord]]) -> list[str]:
    """The runs' main metrics (as `ls` shows them), matched across runs: validation loss first, then training
    loss, then the rest; of a kind, the metric more runs have first."""
    found: dict[str, int] = {}
    for key, record in runs:
        for own in main_metrics(record.summary, limit=2):
            canon = match.canonical_of(key, own)
            if canon is not None:
                found[canon] = found.get(canon, 0) + 1
    order = list(found)
    return sorted(order, key=lambda m: (metric_rank(m)[0], -found[m], order.index(m)))


def _overrides(match: MetricMatch, directions: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for name, value in directions.items():
        direction = goal_direction(value)
        if direction is None:
            raise CompareError(f"direction {value!r} of {name!r}: write min or max")
        out[_resolve(match, name)] = direction
    return out


def _goal(metric: str, members: Mapping[str, str], records: Mapping[str, RunRecord],
          override: str | None) -> tuple[Goal, str | None]:
    """The direction `metric` is judged in for every run: the override, else the strongest source among the
    runs (the first run's of equals), else a guess; and a note where the runs' own words disagree."""
    said: list[tuple[Goal, str]] = []
    for key, own in members.items():
        record = records[key]
        stats = record.summary.get(own)
        goal = stats.goal if stats is not None and stats.goal is not None else record.goal(own)
        said.append((goal, key))
    if override is not None:
        return Goal(override, OVERRIDE), None
    if not said:
        return Goal("min", GUESSED), None
    rank = min(GOAL_SOURCES.index(g.source) if g.source in GOAL_SOURCES else len(GOAL_SOURCES) for g, _ in said)
    strongest = [(g, k) for g, k in said if (GOAL_SOURCES.index(g.source) if g.source in GOAL_SOURCES
                                             else len(GOAL_SOURCES)) == rank]
    goal = strongest[0][0]
    note = None
    stated = {g.direction for g, _ in said if not g.guessed}
    if len(stated) > 1:
        others = [Path(k).name for g, k in said if not g.guessed and g.direction != goal.direction]
        note = (f"{metric}: judged {goal.direction} ({goal.source}), but {', '.join(others[:3])}"
                f"{' ...' if len(others) > 3 else ''} say{'s' if len(others) == 1 else ''} otherwise")
    return goal, note


def _cell(name: str, stats: Any, direction: str) -> MetricCell:
    best, step = (stats.max, stats.max_step) if direction == "max" else (stats.min, stats.min_step)
    if best is None or (isinstance(best, float) and math.isnan(best)):  # a NaN is never best
        best, step = None, None
    return MetricCell(name=name, best=best, best_step=step, last=stats.last, last_step=stats.last_step)


def select_runs(root: str | os.PathLike | None, filter_expr: str | None, refs: Sequence[str]) -> list[RunRecord]:
    """The runs to compare: each of `refs` (a path, or an id, name or folder under `root`, as `show` and `plot`
    find them; a unique prefix of an id or folder name too), or without refs every run under `root`; kept
    where `filter_expr` (the language of `runyard ls --filter`) holds. In the order given, each run once.

    Runs under `root` come from its scan (cached), so nothing is read twice. Raises FileNotFoundError or
    TrackerError for a ref that names no run (or several).
    """
    from ..reading.filters import compile_filter

    keep = compile_filter(filter_expr) if filter_expr else None
    root = Path(root) if root is not None else Path("runs")
    scanned: list[RunRecord] | None = None

    def tree() -> list[RunRecord]:
        nonlocal scanned
        if scanned is None:
            from ..reading.scanner import scan

            scanned = list(scan(root)) if root.is_dir() else []
        return scanned

    chosen = [_find(ref, root, tree) for ref in refs] if refs else list(tree())
    if keep is not None:
        chosen = [r for r in chosen if keep(r)]
    unique: dict[str, RunRecord] = {}
    for record in chosen:
        unique.setdefault(str(record.info.path), record)
    return list(unique.values())


def _find(ref: str, root: Path, tree: Any) -> RunRecord:
    """One run as `find_run` names it, taken from the scan of `root` where it is there (see `select_runs`)."""
    from ..reading.api import find_run
    from ..reading.records import settle_status

    path = Path(ref)
    if not path.exists() and (root / ref).exists():
        path = root / ref
    if path.exists():
        where = path.resolve()
        if root.is_dir() and where.is_relative_to(root.resolve()):
            found = next((r for r in tree() if r.info.path == path or r.info.path == where), None)
            if found is None:  # spelled another way (`./runs/x`, a symlink): compare what the paths point at
                found = next((r for r in tree() if r.info.path.resolve() == where), None)
            if found is not None:
                return found
        record = find_run(str(path), root).record
        settle_status(record.info)
        return record
    if not root.is_dir():
        raise FileNotFoundError(f"no run at {ref} and no runs folder {root}")
    records = [r for r in tree() if r.source is not None]
    # the rules of `find_run`, over one scan for all refs rather than one scan each
    for test in (lambda r: ref in (r.info.id, r.info.name, r.source.path.name),
                 lambda r: r.info.id.startswith(ref) or r.source.path.name.startswith(ref)):
        found = [r for r in records if test(r)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(_relative(r.source.path, root) for r in found[:5])
            raise TrackerError(f"{ref!r} matches {len(found)} runs under {root} ({names}): be more specific")
    raise FileNotFoundError(f"no run {ref!r} under {root}")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def aliases_for(root: str | os.PathLike | None, given: Mapping[str, Sequence[str]] | None = None,
                ) -> dict[str, list[str]]:
    """The aliases that apply: the runyard.toml tables for runs under `root`, and `given` (which wins)."""
    merged = load_aliases(Path(root) if root is not None else None)
    for canonical, names in (given or {}).items():
        merged[canonical] = list(names) if not isinstance(names, str) else [names]
    return merged


def _toml_aliases(records: Iterable[RunRecord]) -> dict[str, list[str]]:
    """The `[aliases]` of the runyard.toml files of the runs' roots (the first root's first where they differ)."""
    roots = dict.fromkeys(getattr(r.source, "root", None) for r in records)
    merged: dict[str, list[str]] = {}
    for root in roots or [None]:
        for canonical, names in load_aliases(root).items():
            merged.setdefault(canonical, names)
    return merged
