"""The best checkpoint of a run: one rule for every layout, judged by what is recorded per checkpoint.

A run's checkpoints each record values (an index line, a sidecar file, the numbers in a file name); the best
is the one whose value of the ranking metric is best in that metric's direction. A tool's own claim (a summary
naming a best step, a flag in an index) is only a second source: where it names another checkpoint, the values
recorded per checkpoint win and the disagreement is noted on the best one, so a face can show it. A NaN is never
best, and of equal values the older checkpoint keeps the mark.

Across a tree (`checkpoint_ranking`, `rank_checkpoints`): every checkpoint of every run ranked by one metric,
matched across layouts (`val/loss` = `val_loss`), by the same rule; `link_ranking` lays the ranking out as
symlinks for an evaluation script. Nothing here opens a checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import fsync_dir, goal_direction, safe_name, write_atomic
from ..errors import TrackerError
from ..model import GOAL_SOURCES, Checkpoint, Goal
from ..reading.metricnames import main_metrics
from ..reading.records import RunRecord
from .metricmatch import load_aliases, match_metrics


def _age(checkpoint: Checkpoint) -> tuple[float, float]:
    """Order of saving: by step, then by time; a checkpoint with neither comes last, in its given place."""
    return (math.inf if checkpoint.step is None else checkpoint.step,
            math.inf if checkpoint.time is None else checkpoint.time)


def recorded_value(checkpoint: Checkpoint, metric: str) -> float | None:
    """The value of `metric` recorded for `checkpoint`; None when it records none, a NaN or an infinity (a run
    that diverged to -inf loss is not the best one; comparison tables hold the same rule)."""
    value = checkpoint.metrics.get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
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


# ----- the best checkpoints across a tree of runs ------------------------------------------------------------

GIVEN = "given"  # the source of a direction a person chose for this ranking (`--mode`, `f` in the app)
# What a checkpoint's name records to tell it apart rather than to judge it (ChatGoT's `_epoch_N`): a checkpoint
# recording only these records no value.
_IDENTITY = frozenset({"epoch"})
LINKS_RECORD = ".runyard-links.json"  # in a --link folder: the names of the links runyard made there


class BestError(TrackerError):
    """A ranking that cannot be made as asked: a metric no checkpoint records, or no checkpoints at all."""


class NoCheckpoints(BestError):
    """None of the runs given has a checkpoint whose file is there."""


@dataclass
class RankedCheckpoint:
    """One checkpoint in a ranking across runs.

    `rank` is 1 for the best; None for a checkpoint of a run that knows the metric but has no value for it at
    that checkpoint (`reason` says why: "NaN", "no value recorded", or several values logged at its step).
    `value` is the value ranked by (NaN where that was logged), `metric` the run's own name of the metric,
    `value_source` where the value comes from: "checkpoint" (its index line, sidecar or name) or "series" (the
    run logged it at the checkpoint's step, and the checkpoint records no value of its own). `direction` and
    `direction_source` are the ranking's, the same for every entry. `bytes` and `time` are the file's size and
    the checkpoint's recorded time (else the file's mtime), as found when ranked.
    """

    rank: int | None
    record: RunRecord
    checkpoint: Checkpoint
    metric: str | None
    value: float | None
    value_source: str | None
    direction: str
    direction_source: str
    bytes: int | None
    path: Path
    time: float | None = None
    reason: str | None = None

    @property
    def step(self) -> int | None:
        return self.checkpoint.step

    @property
    def run(self) -> str:
        """The run's name, as every reader shows it."""
        return self.record.info.name

    def to_json(self) -> dict[str, Any]:
        """Plain values for `--json`: the run by name, id and folder; the checkpoint by path, step, size, time."""
        info = self.record.info
        return {"rank": self.rank, "run": info.name, "run_id": info.id, "run_path": str(info.path),
                "format": info.format, "step": self.step, "metric": self.metric, "value": self.value,
                "value_source": self.value_source, "bytes": self.bytes, "time": self.time,
                "path": str(self.path), "reason": self.reason}


@dataclass
class CheckpointRanking:
    """The checkpoints of a tree ranked by one metric.

    `metric` is the metric's canonical name (runs may spell it otherwise: `val/loss`, `val_loss`), `goal` the
    direction it is ranked in and who said so (`GIVEN` for a mode chosen by hand). `ranked`: best first, ranks
    1, 2, ...; `unranked`: checkpoints of runs that know the metric but have no value for it at that checkpoint.
    `metrics`: every metric the checkpoints could be ranked by, the main one first. `runs`: how many runs have
    checkpoints; `notes`: names matched across runs, runs whose checkpoints could not be read.
    """

    metric: str
    goal: Goal
    ranked: list[RankedCheckpoint]
    unranked: list[RankedCheckpoint]
    metrics: list[str]
    runs: int
    checkpoints: int
    notes: list[str] = field(default_factory=list)

    def why_not_ranked(self) -> str:
        """How many checkpoints are not ranked, and why, so that every one counted is accounted for:
        `2 NaN, 4 no value recorded, 10 in runs that record no val/loss`; empty when all are ranked."""
        reasons: dict[str, int] = {}
        for entry in self.unranked:
            reasons[entry.reason or "no value"] = reasons.get(entry.reason or "no value", 0) + 1
        other = self.checkpoints - len(self.ranked) - len(self.unranked)
        if other > 0:
            reasons[f"in runs that record no {self.metric}"] = other
        return ", ".join(f"{n} {reason}" for reason, n in reasons.items())

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "direction": self.goal.direction, "direction_source": self.goal.source,
                "ranked": [r.to_json() for r in self.ranked], "unranked": [r.to_json() for r in self.unranked],
                "runs": self.runs, "checkpoints": self.checkpoints, "notes": list(self.notes)}


@dataclass
class _Found:
    """A run's checkpoints whose files are there, with each one's size and age."""

    record: RunRecord
    checkpoints: list[tuple[Checkpoint, int | None, float | None]]

    def records_nothing(self, checkpoint: Checkpoint) -> bool:
        return not (set(checkpoint.metrics) - _IDENTITY)

    def names(self) -> list[str]:
        """The metrics this run's checkpoints can be ranked by: those they record, and those the run logs where a
        checkpoint with a step records none (its value is then the one logged at that step)."""
        names = [n for c, _, _ in self.checkpoints for n in c.metrics if n not in _IDENTITY]
        if any(c.step is not None and self.records_nothing(c) for c, _, _ in self.checkpoints):
            names += list(self.record.summary)
        return list(dict.fromkeys(names))


def rank_checkpoints(records: Iterable[RunRecord], metric: str | None, *, mode: str | None = None,
                     top: int | None = None, aliases: Mapping[str, Sequence[str]] | None = None,
                     ) -> list[RankedCheckpoint]:
    """Every checkpoint of every run in `records` (any layout), ranked by the value of `metric` recorded for it.

    Ranked ones come first (rank 1 is the best), then those of runs that know the metric but have no value for it
    at that checkpoint (rank None); `top` keeps only the best `top`. See `checkpoint_ranking` for the rules and
    the errors.
    """
    ranking = checkpoint_ranking(records, metric, mode=mode, aliases=aliases)
    if top is not None:
        return ranking.ranked[:max(0, top)]
    return ranking.ranked + ranking.unranked


def checkpoint_ranking(records: Iterable[RunRecord], metric: str | None = None, *, mode: str | None = None,
                       aliases: Mapping[str, Sequence[str]] | None = None) -> CheckpointRanking:
    """Rank every checkpoint of `records` by `metric` (None: the main metric the checkpoints record).

    Checkpoints are listed by their layout (index, sidecars, names) and never opened; one whose file is gone is
    left out. `metric` is matched across runs as a comparison matches it (`val/loss` = `val_loss`, and
    `aliases`, default the runs' runyard.toml). A checkpoint's value is the one recorded with it; a checkpoint
    that records none but has a step takes the value its run logged at that step, when the run logged exactly
    one there (ChatGoT's `_final.pt`); an epoch checkpoint (ChatGoT's `_epoch_N.pt`) has no step, so no value.
    `mode` ("min"/"max") overrides the metric's direction, which is otherwise the strongest the runs' files give
    (declared, W&B, runyard.toml), else guessed from the name. A NaN is never ranked; of equal values the older
    checkpoint (earlier recorded time or mtime, then lower step) ranks first.

    Raises NoCheckpoints when no run has a checkpoint, BestError for a metric no checkpoint can be ranked by
    (naming the nearest ones) or one that could be several, and for a mode that is not min or max.
    """
    direction = None
    if mode is not None:
        direction = goal_direction(mode)
        if direction is None:
            raise BestError(f"mode {mode!r}: write min or max")
    records = [r for r in records if r.source is not None]
    found, notes = _read_checkpoints(records)
    if not found:
        raise NoCheckpoints(f"none of the {len(records)} runs has a checkpoint" if len(records) != 1
                            else "the run has no checkpoint")
    keyed = {str(f.record.info.path): f for f in found}
    if aliases is None:  # the runs' own runyard.toml files (the first root's of names given twice)
        aliases = {}
        for root in dict.fromkeys(getattr(r.source, "root", None) for r in records):
            for canonical, names in load_aliases(root).items():
                aliases.setdefault(canonical, names)
    match = match_metrics({key: f.names() for key, f in keyed.items()}, aliases)
    metrics = _rankable(match, keyed)
    canon = _chosen(match, metric, metrics)
    members = match.groups[canon]
    goal, note = (Goal(direction, GIVEN), None) if direction is not None else \
        _goal(canon, [(keyed[k].record, own) for k, own in members.items()])
    notes = match.notes([canon]) + ([note] if note else []) + notes
    ranked, unranked = [], []
    for key, own in members.items():
        for entry in _values(keyed[key], own, goal):
            (ranked if entry.reason is None else unranked).append(entry)
    sign = -1.0 if goal.direction == "max" else 1.0
    ranked.sort(key=lambda e: (sign * e.value, math.inf if e.time is None else e.time,
                               math.inf if e.step is None else e.step, str(e.path)))
    for i, entry in enumerate(ranked, 1):
        entry.rank = i
    return CheckpointRanking(canon, goal, ranked, unranked, metrics, runs=len(found),
                             checkpoints=sum(len(f.checkpoints) for f in found), notes=notes)


def _read_checkpoints(records: list[RunRecord]) -> tuple[list[_Found], list[str]]:
    """Each run's checkpoints whose files are there (a file gone since its index line was written is left out),
    with size and age; runs without any are left out, and a run whose checkpoints cannot be read is noted."""
    found, notes = [], []
    for record in records:
        try:
            checkpoints = record.source.checkpoints()
        except Exception as exc:  # one run's broken index must not hide the others' checkpoints
            notes.append(f"{record.info.name}: checkpoints not read ({type(exc).__name__}: {exc})")
            continue
        present = []
        for checkpoint in checkpoints:
            try:
                st = os.stat(checkpoint.path)
            except (OSError, ValueError):
                packed = in_archive(checkpoint.path)
                if packed is None:
                    continue
                # inside a compressed archive: ranked by what it recorded, sized and dated as the manifest says
                st = os.stat_result((stat.S_IFREG, 0, 0, 1, 0, 0, checkpoint.bytes or 0, 0, 0, 0))
            size = checkpoint.bytes if stat.S_ISDIR(st.st_mode) else st.st_size
            present.append((checkpoint, size, checkpoint.time if checkpoint.time is not None else st.st_mtime))
        if present:
            found.append(_Found(record, present))
    return found, notes


def _rankable(match: Any, keyed: Mapping[str, _Found]) -> list[str]:
    """The canonical metrics the checkpoints can be ranked by, the main one first, then the others by how many
    runs' checkpoints record them and by name. A metric only a run's series gives (no checkpoint records it)
    counts only for the checkpoints that record nothing."""
    recorded: dict[str, int] = {}
    logged: set[str] = set()
    for canon, members in match.groups.items():
        for key, own in members.items():
            found = keyed[key]
            if any(own in c.metrics for c, _, _ in found.checkpoints):
                recorded[canon] = recorded.get(canon, 0) + 1
            else:
                logged.add(canon)
    only_logged = sorted(logged - set(recorded))
    ordered = [*sorted(recorded, key=lambda m: (-recorded[m], m)), *main_metrics(only_logged, len(only_logged)),
               *only_logged]
    main = main_metrics(list(recorded), limit=1, fill=False) or main_metrics(sorted(logged), limit=1, fill=False)
    return list(dict.fromkeys(main + ordered))


def _chosen(match: Any, metric: str | None, metrics: list[str]) -> str:
    """The canonical metric meant by `metric` (None: the main one the checkpoints record)."""
    if metric is None:
        main = metrics[0] if metrics and main_metrics(metrics[:1], limit=1, fill=False) else None
        if main is None:
            listed = ", ".join(metrics[:6]) + (", ..." if len(metrics) > 6 else "")
            raise BestError("the checkpoints record no loss or accuracy to rank by" +
                            (f"; name one of: {listed}" if metrics else ""))
        return main
    canon = match.resolve(metric)
    if canon is not None:
        return canon
    found = match.candidates(metric)
    if found:
        raise BestError(f"metric {metric!r} could be any of {', '.join(found)}: name one")
    import difflib

    known = list(dict.fromkeys([*match.groups, *(own for m in match.groups.values() for own in m.values())]))
    close = difflib.get_close_matches(metric, known, n=3, cutoff=0.5)
    if close:
        named = [repr(c) for c in close]
        hint = f"; did you mean {' or '.join(named) if len(named) < 3 else ', '.join(named[:-1]) + ' or ' + named[-1]}?"
    elif metrics:
        hint = f"; they record {', '.join(metrics[:6])}{', ...' if len(metrics) > 6 else ''}"
    else:
        hint = ""
    raise BestError(f"no checkpoint records {metric!r}{hint}")


def _goal(metric: str, runs: list[tuple[RunRecord, str]]) -> tuple[Goal, str | None]:
    """The direction `metric` is ranked in for every run, as a comparison judges it: the strongest source among
    the runs (declared, W&B, runyard.toml; the first run's of equals), else a guess from the name; and a note
    where the runs' own words disagree."""
    said = []
    for record, own in runs:
        stats = record.summary.get(own)
        said.append((stats.goal if stats is not None and stats.goal is not None else record.goal(own), record))
    strength = {source: i for i, source in enumerate(GOAL_SOURCES)}
    goal = min((g for g, _ in said), key=lambda g: strength.get(g.source, len(strength)))
    others = [r.info.name for g, r in said if not g.guessed and g.direction != goal.direction]
    note = None
    if others and not goal.guessed:
        note = (f"{metric}: ranked {goal.direction} ({goal.source}), but {', '.join(others[:3])}"
                f"{' ...' if len(others) > 3 else ''} say{'s' if len(others) == 1 else ''} otherwise")
    return goal, note


def _values(found: _Found, own: str, goal: Goal) -> list[RankedCheckpoint]:
    """One run's checkpoints with their value of `own` (its own name of the metric), unranked ones with why."""
    logged = None
    out = []
    for checkpoint, size, age in found.checkpoints:
        entry = RankedCheckpoint(None, found.record, checkpoint, own, None, None, goal.direction, goal.source,
                                 size, checkpoint.path, age)
        raw = checkpoint.metrics.get(own)
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            entry.value, entry.value_source = float(raw), "checkpoint"
        elif checkpoint.step is not None and found.records_nothing(checkpoint):
            if logged is None:
                logged = _logged_at(found.record, own, [c.step for c, _, _ in found.checkpoints])
            value = logged.get(checkpoint.step)
            if isinstance(value, str):
                entry.reason = value
            elif value is not None:
                entry.value, entry.value_source = value, "series"
        if entry.reason is None:
            if entry.value is None:
                entry.reason = "no value recorded"
            elif math.isnan(entry.value):
                entry.reason = "NaN"
            elif math.isinf(entry.value):
                entry.reason = "infinite"
        out.append(entry)
    return out


def _logged_at(record: RunRecord, metric: str, steps: list[int | None]) -> dict[int, float | str]:
    """The value of `metric` the run logged at each of `steps` where it logged exactly one there (a NaN too); a
    step with several different values maps to why it has none. Empty when the run's series cannot be read."""
    wanted = {s for s in steps if s is not None}
    try:
        series = record.open().series(metric)
    except Exception:  # a series that cannot be read gives no values; the checkpoints stay, unranked
        return {}
    out: dict[int, float | str] = {}
    step_col, value_col = series["step"].to_numpy(), series["value"].to_numpy()
    for step in wanted:
        values = value_col[step_col == step]
        if not len(values):
            continue
        distinct = {"nan" if v != v else float(v) for v in values}
        if len(distinct) == 1:
            out[step] = float(values[0])
        else:
            out[step] = f"{len(distinct)} values logged at step {step}"
    return out


def in_archive(path: Path) -> Path | None:
    """The compressed run archive (`archive/<run>.tar.zst`) that `path` names a member of, else None: such a
    checkpoint is ranked but cannot be linked or loaded until its run is restored."""
    for parent in Path(path).parents:
        if parent.name.endswith(".tar.zst"):
            return parent if os.path.isfile(parent) else None
    return None


def link_ranking(ranking: Iterable[RankedCheckpoint], dest_dir: Path) -> list[Path]:
    """Symlinks in `dest_dir` (created if need be) to the ranked checkpoints, named by rank, run and step
    (`01_baseline_step2500.pt`, keeping the checkpoint's suffix) and pointing at its absolute path.

    Links runyard made there before (listed in `LINKS_RECORD`) are replaced; a name taken by anything else (a
    file, a folder, a link runyard did not make) is refused with BestError before anything changes. A checkpoint
    inside a compressed archive gets no link (nothing on disk to point at). Returns the links made, best first.
    """
    entries = [e for e in ranking if e.rank is not None and in_archive(e.path) is None]
    dest = Path(dest_dir)
    if dest.exists() and not dest.is_dir():
        raise BestError(f"{dest} is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    width = max(2, len(str(max((e.rank for e in entries), default=1))))
    wanted = {_link_name(e, width): os.path.abspath(e.path) for e in entries}
    ours = _made_before(dest)
    for name in wanted:
        path = dest / name
        if os.path.lexists(path) and not (name in ours and path.is_symlink()):
            what = "a link" if path.is_symlink() else "a folder" if path.is_dir() else "a file"
            raise BestError(f"{path} is {what} runyard did not make: it is left as it is, and no link was made")
    _record_links(dest, sorted(ours | set(wanted)))  # first: a kill from here on leaves nothing unaccounted for
    for name in sorted(ours - set(wanted)):
        path = dest / name
        if path.is_symlink():  # a file put there since is not runyard's to remove
            path.unlink()
    made = []
    for name, target in wanted.items():
        tmp = dest / f".{name}.runyard-tmp"
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, dest / name)
        made.append(dest / name)
    _record_links(dest, sorted(wanted))
    fsync_dir(dest)
    return made


def _link_name(entry: RankedCheckpoint, width: int) -> str:
    """`01_<run>_step2500.pt`: rank, the run's name made safe as a file name, the step (else the file's stem)."""
    where = f"step{entry.step}" if entry.step is not None else safe_name(entry.path.stem)
    suffix = "" if entry.path.is_dir() else entry.path.suffix
    return f"{entry.rank:0{width}d}_{safe_name(entry.run)}_{where}{suffix}"


def _made_before(dest: Path) -> set[str]:
    """The names of the links an earlier `link_ranking` made in `dest` (none if its record is gone or broken)."""
    try:
        data = json.loads((dest / LINKS_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    links = data.get("links") if isinstance(data, dict) else None
    return {n for n in links if isinstance(n, str) and n and "/" not in n and n not in (".", "..")} \
        if isinstance(links, list) else set()


def _record_links(dest: Path, names: list[str]) -> None:
    data = {"made_by": "runyard best --link", "links": names}
    write_atomic(dest / LINKS_RECORD, (json.dumps(data, indent=1) + "\n").encode(), fsync=True)
