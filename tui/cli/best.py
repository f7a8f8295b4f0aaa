"""`runyard best`: the best checkpoints across a runs tree, ranked by one metric, and laid out for evaluation.

On a terminal a table fitted to its width (as `ls`): rank, run, step, value, size, path, then the checkpoints
of runs that know the metric but have no value for it, and notes below. Piped, tab-separated values of the
ranked checkpoints with fixed columns (`BEST_COLUMNS`); `--json` the whole ranking. `--link DIR` makes a
symlink per ranked checkpoint (`01_<run>_step2500.pt`) for an evaluation script.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text

from runyard import (
    BestError,
    CheckpointRanking,
    NoCheckpoints,
    RankedCheckpoint,
    checkpoint_ranking,
    compile_filter,
    in_archive,
    link_ranking,
    scan,
    unknown_keys,
)

from ..formatting import fmt_bytes, fmt_number
from .listing import enter_root, unreadable_note
from .tables import Column, Fitted, fit_table, safe, tsv

BEST_COLUMNS = ("rank", "run", "step", "metric", "value", "value_source", "bytes", "path", "run_path")
ARROW = {"min": "↓", "max": "↑"}
FROM_SERIES = "*"  # after a value the run logged at the checkpoint's step (the checkpoint records none)


def best(root: Path, metric: str | None, mode: str | None, top: int | None, filter_text: str, link: Path | None,
         output: str | None, *, width: int | None, console: Callable[[int | None, int], Any],
         json_out: Callable[[Any], None], say: Callable[[str], None], warn: Callable[[str], None]) -> None:
    """Rank the checkpoints of the runs under `root` (kept where `filter_text` holds) by `metric` and print the
    ranking in `output` (json, tsv, table; None: a table on a terminal, TSV when piped) with a table fitted to
    `width`; with `link`, make the symlinks first."""
    keep = compile_filter(filter_text) if filter_text else None  # a filter that cannot be read fails first
    enter_root(root)
    if not root.is_dir():
        raise BestError(f"no such folder: {root}")
    records = scan(root)
    unreadable = unreadable_note(records.unreadable)
    for message in unknown_keys(filter_text, records):
        warn(message)
    if keep is not None:
        records = [r for r in records if keep(r)]
    if not records:
        raise BestError(f"no run under {root} matches the filter {filter_text!r}" if filter_text
                        else f"no runs under {root}")
    try:
        ranking = checkpoint_ranking(records, metric, mode=mode)
    except NoCheckpoints:
        runs = f"{len(records)} run{'s' if len(records) != 1 else ''}"
        raise BestError(f"no checkpoints under {root} ({runs}{' the filter keeps' if filter_text else ''}, "
                        "none with a checkpoint file there)") from None
    if not ranking.ranked:
        raise BestError(f"no checkpoint has a value of {ranking.metric} to rank by ({unranked_note(ranking)})")
    shown = ranking.ranked[:top] if top else ranking.ranked
    if link is not None:
        made = link_ranking(shown, link)
        packed = sum(1 for entry in shown if in_archive(entry.path) is not None)
        also = f"; {packed} in compressed archives not linked (restore the run first)" if packed else ""
        say(f"linked {len(made)} checkpoint{'s' if len(made) != 1 else ''} in {link} (best first){also}")
    output = output or ("table" if sys.stdout.isatty() else "tsv")
    if output == "json":
        data = ranking.to_json()
        data["ranked"] = [entry.to_json() for entry in shown]
        json_out(data)
    elif output == "tsv":
        sys.stdout.write(best_tsv(shown))
    else:
        fitted = best_table(ranking, shown, root, width, unranked=top is None)
        out = console(width, fitted.width)
        out.print(fitted.table)
        for line in below_table(ranking, shown, fitted):
            out.print(line)
    if unreadable is not None:
        warn(unreadable)


def goal_mark(ranking: CheckpointRanking) -> str:
    """`↓` (lower is better) or `↑`, with `?` where the direction was only guessed from the name."""
    return ARROW.get(ranking.goal.direction, "?") + ("?" if ranking.goal.guessed else "")


def shown_path(path: Path, root: Path | None) -> str:
    """A checkpoint's path under the runs root where it is there (shorter), else as found."""
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)


def value_text(entry: RankedCheckpoint) -> Text:
    """The value with five significant digits, `*` after one taken from the run's series; why there is none."""
    if entry.rank is None:  # short: the column stays as narrow as the numbers (the notes below say more)
        return Text("nan" if entry.reason == "NaN" else "no value", style="dim")
    text = Text(fmt_number(entry.value, digits=5))
    if entry.value_source == "series":
        text.append(FROM_SERIES, style="dim")
    return text


def run_text(entry: RankedCheckpoint) -> Text:
    text = safe(entry.run)
    if entry.record.info.archived:
        text.append(" ⌂", style="dim")
    return text


def best_row(entry: RankedCheckpoint, root: Path | None) -> list[Any]:
    """rank, run, step, value, size, path of one checkpoint (the faces' shared cells)."""
    rank = Text(str(entry.rank), style="bold") if entry.rank is not None else Text("-", style="dim")
    return [rank, run_text(entry), step_text(entry), value_text(entry), fmt_bytes(entry.bytes),
            shown_path(entry.path, root)]


def step_text(entry: RankedCheckpoint) -> str:
    """The checkpoint's step; an epoch checkpoint without one shows its epoch (`ep 2`)."""
    epoch = entry.checkpoint.metrics.get("epoch")
    if entry.step is None and isinstance(epoch, (int, float)) and epoch == epoch and abs(epoch) < 1e15:
        return f"ep {int(epoch)}"
    return fmt_number(entry.step)


def best_table(ranking: CheckpointRanking, shown: list[RankedCheckpoint], root: Path, width: int | None, *,
               unranked: bool = True) -> Fitted:
    """The ranking as a table no wider than `width`: narrow, it leaves out the size, then the step, then the
    path; never the rank, the run or the value."""
    columns = [Column("#", justify="right"), Column("run", flex="cut", comfort=24, minimum=8),
               Column("step", justify="right", priority=60), Column(f"{ranking.metric} {goal_mark(ranking)}",
                                                                    justify="right"),
               Column("size", justify="right", priority=40),
               Column("path", flex="cut", priority=50, comfort=20, minimum=12)]
    rows = [best_row(entry, root) for entry in shown]
    if unranked:
        rows += [best_row(entry, root) for entry in ranking.unranked]
    title = f"checkpoints by {ranking.metric}: {ranking_title(ranking, shown)} under {root}"
    return fit_table(columns, rows, width, title=title)


def ranking_title(ranking: CheckpointRanking, shown: list[RankedCheckpoint]) -> str:
    """`the best 3 of 20 ranked of 30 checkpoints in 6 runs`, or `20 ranked of 30 checkpoints in 6 runs`."""
    count = (f"the best {len(shown)} of {len(ranking.ranked)} ranked" if len(shown) < len(ranking.ranked)
             else f"{len(ranking.ranked)} ranked")
    runs = f"{ranking.runs} run{'s' if ranking.runs != 1 else ''}"
    return f"{count} of {ranking.checkpoints} checkpoint{'s' if ranking.checkpoints != 1 else ''} in {runs}"


def unranked_note(ranking: CheckpointRanking) -> str:
    """How many checkpoints have no value to rank by, and why: `2 NaN, 4 no value recorded`."""
    return ranking.why_not_ranked() or "none"


def below_table(ranking: CheckpointRanking, shown: list[RankedCheckpoint], fitted: Fitted | None = None) -> list[Text]:
    """The lines under the table: names matched, how the direction was settled, what was left out and why."""
    lines = [safe(f"matched: {note}" if "←" in note else note, style="dim") for note in ranking.notes]
    if any(entry.value_source == "series" for entry in shown):
        lines.append(Text(f"{FROM_SERIES} logged by the run at the checkpoint's step (the checkpoint records no "
                          "value of its own)", style="dim"))
    if ranking.goal.guessed:
        lines.append(Text(f"{goal_mark(ranking)} direction guessed from the name: --mode min|max sets it",
                          style="dim"))
    left = len(ranking.ranked) - len(shown)
    if left:
        lines.append(Text(f"{left} more ranked below these (--top)", style="dim"))
    if len(ranking.ranked) < ranking.checkpoints:
        lines.append(Text(f"not ranked: {unranked_note(ranking)}", style="dim"))
    if any(entry.reason == "no value recorded" and entry.step is None for entry in ranking.unranked):
        lines.append(Text("a checkpoint without a step (an epoch's) records no value, and its run's series "
                          "cannot say which step it is", style="dim"))
    note = fitted.hidden_note() if fitted is not None else None
    if note is not None:
        lines.append(note)
    return lines


def best_tsv(shown: list[RankedCheckpoint]) -> str:
    """Tab-separated values of the ranked checkpoints, a header line first (`BEST_COLUMNS`), values in full."""
    rows = [[entry.rank, entry.run, entry.step, entry.metric, _full(entry.value), entry.value_source, entry.bytes,
             entry.path, entry.record.info.path] for entry in shown]
    return tsv(BEST_COLUMNS, rows)


def _full(value: float | None) -> str | None:
    """A float as the shortest text that reads back the same (`nan`, `inf` too)."""
    return None if value is None else repr(float(value))
