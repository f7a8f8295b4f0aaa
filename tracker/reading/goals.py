"""A metric's direction (is lower or higher better?) and where it came from, settled once for every face.

Precedence, highest first: declared by the writer (`run.define_metric`, `save_checkpoint(best=...)`); W&B's
metric definitions (`define_metric(..., summary="max")`); the `[metrics]` table of a `runyard.toml` in the runs
root or in the user config folder (looked up as the `[[patterns]]` table is); and last a guess from the name,
which is marked as guessed. A user's table names metrics exactly or with shell-style patterns:

    [metrics]
    "val/acc" = "max"
    "*bleu*" = "max"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..contract import goal_direction
from ..model import DECLARED, GOAL_SOURCES, GUESSED, USER, WANDB, Goal, MetricSummary
from .metricnames import guess_direction
from .patterns import settings_tables, settings_versions

if TYPE_CHECKING:
    from ..layouts.base import RunSource

_OWN = frozenset({DECLARED, WANDB})  # what a run's own files say, and so may be cached with its listing
_PATTERN_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class UserGoals:
    """The `[metrics]` tables of the runyard.toml files that apply: exact names first, then patterns."""

    exact: Mapping[str, str] = field(default_factory=dict)
    patterns: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = ()
    # name -> its goal when the run's own files say nothing: the same few names recur in every run of a scan
    settled: dict[str, Goal] = field(default_factory=dict, compare=False, repr=False)

    def get(self, name: str) -> Goal | None:
        """The user's direction for `name`, if the table names it or a pattern matches it."""
        found = self.exact.get(name)
        if found is None:
            found = next((d for pattern, d in self.patterns if fnmatchcase(name, pattern)), None)
        return None if found is None else Goal(found, USER)


def user_goals(root: Path | None) -> UserGoals:
    """The user's directions for runs under `root` (its runyard.toml first, then the user's own); read again
    only when one of those files changes."""
    return _read_user_goals(settings_versions(root))


@lru_cache(maxsize=32)
def _read_user_goals(versions: tuple[tuple[str, int, int], ...]) -> UserGoals:
    exact: dict[str, str] = {}
    patterns: list[tuple[str, str]] = []
    tables, problems = settings_tables(versions, "metrics", ' of metric = "min" or "max"')
    for name, table in tables:
        for metric, value in table.items():
            direction = goal_direction(value)
            if direction is None:
                problems.append(f"{name}: [metrics] {metric!r} = {value!r}: the direction must be \"min\" or \"max\"")
            elif _PATTERN_CHARS & set(metric):
                patterns.append((metric, direction))
            else:
                exact.setdefault(metric, direction)  # the runs root's file is read first and wins
    return UserGoals(exact, tuple(patterns), tuple(problems))


def goal_for(name: str, own: Mapping[str, Goal], user: UserGoals) -> Goal:
    """The direction of `name` by precedence: the run's own files, then the user's table, then a guess."""
    found = [goal for goal in (own.get(name), user.get(name)) if goal is not None]
    found.append(Goal(guess_direction(name), GUESSED))
    return min(found, key=lambda goal: GOAL_SOURCES.index(goal.source))


def run_goals(source: RunSource | None) -> dict[str, Goal]:
    """The directions a run's own files state; none when they cannot be read (the listing goes on)."""
    if source is None:
        return {}
    try:
        return dict(source.goals())
    except Exception:
        return {}


def resolve_goal(source: RunSource | None, name: str) -> Goal:
    """The direction of metric `name` of the run read by `source`, whether or not it has been logged yet."""
    user = user_goals(getattr(source, "root", None))
    return goal_for(name, run_goals(source), user)


def settle_goals(summary: Mapping[str, MetricSummary], own: Mapping[str, Goal] | None, user: UserGoals) -> None:
    """Give every metric of `summary` its direction and the direction's source.

    With `own` None the run's own directions already in the summary (a cached listing) are kept and the
    others settled again, so a change to runyard.toml shows on the next scan without reading the run.
    """
    for name, stats in summary.items():
        if own is None and stats.direction_source in _OWN:
            continue
        goal = own.get(name) if own is not None else None
        goal = goal_for(name, own, user) if goal is not None else _unsaid(name, user)
        stats.direction, stats.direction_source = goal.direction, goal.source


def _unsaid(name: str, user: UserGoals) -> Goal:
    """`goal_for` a metric the run's own files say nothing about, remembered for the scan."""
    goal = user.settled.get(name)
    if goal is None:
        if len(user.settled) > 4096:
            user.settled.clear()
        goal = user.settled[name] = goal_for(name, {}, user)
    return goal
