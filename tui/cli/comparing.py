"""`runyard compare`: runs side by side, best and last of each metric, the leader of each marked.

On a terminal the table fits its width as `ls` does (the least important columns go first and are named below
it); piped without a format flag it is tab-separated values with fixed columns; `--json`, `--csv` and `--md`
give the whole comparison for scripts and notes. Below the table: the metric names matched across runs, and
how to set a direction that was only guessed.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text

from runyard import CompareTable, aliases_for, clean_field, compare_runs, parse_alias, read_aliases, select_runs

from ..formatting import fmt_duration
from .listing import status_text
from .tables import Column, Fitted, fit_table, safe, tsv

LEADER = "★"
ARROW = {"min": "↓", "max": "↑"}


def compare(refs: Sequence[str], root: Path, metrics: Sequence[str], sort_key: str | None, filter_text: str,
            aliases: Sequence[str], goals: Sequence[str], fmt: str | None, *, width: int | None,
            console: Callable[[int | None, int], Any], json_out: Callable[[Any], None],
            warn: Callable[[str], None]) -> None:
    """Select the runs, compare them and print the comparison in `fmt` (json, csv, md, tsv, or None: a table
    on a terminal and TSV when piped). `console(width, needed)` gives a Rich console to print the table on."""
    given = dict(parse_alias(text) for text in aliases)
    directions = dict(_parse_goal(text) for text in goals)
    records = select_runs(root, filter_text or None, refs)
    if not records:
        where = f"under {root}" if not refs else "named"
        raise ValueError(f"no run {where} matches the filter {filter_text!r}" if filter_text
                         else f"no runs under {root} to compare")
    for problem in read_aliases(root)[1]:
        warn(problem)
    table = compare_runs(records, list(metrics) or None, aliases=aliases_for(root, given), directions=directions,
                         sort=sort_key or None)
    fmt = fmt or ("table" if sys.stdout.isatty() else "tsv")
    if fmt == "json":
        json_out(table.to_json())
    elif fmt == "csv":
        sys.stdout.write(compare_csv(table))
    elif fmt == "md":
        sys.stdout.write(compare_md(table))
    elif fmt == "tsv":
        sys.stdout.write(compare_tsv(table))
    else:
        fitted = compare_table(table, width)
        out = console(width, fitted.width)
        out.print(fitted.table)
        for line in below_table(table, fitted):
            out.print(line)


def _parse_goal(text: str) -> tuple[str, str]:
    metric, sep, direction = text.rpartition("=")
    if not sep or not metric or direction.strip().lower() not in ("min", "max", "minimize", "maximize"):
        raise ValueError(f"--goal {text!r}: write it as METRIC=min or METRIC=max")
    return metric, direction.strip()


def fmt_value(value: float | int | None) -> str:
    """A metric's value with 5 significant digits (one more than `ls`: close runs must be told apart); NaN and
    infinities spelled out, a step as the integer it is."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
        return f"{value:.4e}"
    return f"{value:.5g}"


def goal_mark(table: CompareTable, metric: str) -> str:
    """`↓` (lower is better) or `↑`, with `?` where it was only guessed from the name."""
    goal = table.goals[metric]
    return ARROW.get(goal.direction, "?") + ("?" if goal.guessed else "")


def compare_table(table: CompareTable, width: int | None) -> Fitted:
    """The comparison as a table fitted to `width`: run, status, steps, time, steps/s, then per metric its best
    (`@step` of the best, ★ on the leader) and its last value. Narrow, it leaves out the run's full name, the
    speed, the last values, the time and the status before any metric's best."""
    differ = any(row.label != row.name for row in table.rows)
    columns = [Column("run", flex="cut", comfort=24, minimum=8, first_line_only=True)]
    if differ:
        columns.append(Column("name", flex="cut", priority=15, comfort=28))
    columns += [Column("status", priority=50), Column("steps", "right", 60), Column("time", "right", 40),
                Column("steps/s", "right", 30)]
    for i, metric in enumerate(table.metrics):
        columns.append(Column(f"{metric} {goal_mark(table, metric)}", "right", max(61, 90 - i)))
        columns.append(Column(f"{metric} last", "right", max(20, 45 - i)))
    rows = []
    for row in table.rows:
        cells: list[Any] = [row.label]
        if differ:
            cells.append(row.name if row.name != row.label else "")
        cells += [status_text(row.status), fmt_value(row.steps), fmt_duration(row.duration),
                  fmt_value(row.steps_per_s) if row.steps_per_s is None else f"{row.steps_per_s:.3g}"]
        for metric in table.metrics:
            cell = row.cells.get(metric)
            if cell is None:  # the run has no such metric: missing, not a value
                cells += [Text("-", style="dim"), Text("-", style="dim")]
                continue
            best = safe(fmt_value(cell.best))
            if cell.best_step is not None:
                best.append(f" @{cell.best_step}", style="dim")
            if table.leader.get(metric) == row.key:
                best.append(f" {LEADER}", style="bold yellow")
            cells += [best, fmt_value(cell.last)]
        rows.append(cells)
    title = f"{len(table.rows)} runs"
    if table.sort is not None:
        column, descending = table.sort
        title += f", sorted by {column} ({'descending' if descending else 'ascending'})"
    return fit_table(columns, rows, width, title=title)


def below_table(table: CompareTable, fitted: Fitted | None = None) -> list[Text]:
    """The lines under the table: names matched across runs, notes, guessed directions, columns left out."""
    lines = [safe(f"matched: {note}" if "←" in note else note, style="dim") for note in table.notes]
    guessed = [m for m in table.metrics if table.goals[m].guessed]
    if guessed:
        lines.append(Text(f"? direction guessed from the name ({', '.join(guessed[:4])}"
                          f"{', ...' if len(guessed) > 4 else ''}): --goal METRIC=min|max sets it", style="dim"))
    if table.leader:
        lines.append(Text(f"{LEADER} the best run (of equal values, the one given first)", style="dim"))
    note = fitted.hidden_note() if fitted is not None else None
    if note is not None:
        lines.append(note)
    return lines


def _field(value: Any) -> str:
    """A value in full for TSV and CSV: an int exactly, a float as the shortest text that reads back the same."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def compare_tsv(table: CompareTable) -> str:
    """Tab-separated values, a header line first: `CompareTable.columns()`, a missing value an empty field."""
    columns = table.columns()
    return tsv(columns, [[_field(record.get(c)) for c in columns] for record in table.to_records()])


def compare_csv(table: CompareTable) -> str:
    """CSV (RFC 4180), the columns of the TSV; every string cleaned of control characters."""
    columns = table.columns()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in table.to_records():
        writer.writerow([clean_field(_field(record.get(c))) for c in columns])
    return out.getvalue()


def compare_md(table: CompareTable) -> str:
    """A Markdown table as the terminal shows it (every column), the notes below it as a list."""
    head = ["run", "name", "status", "steps", "time", "steps/s"]
    for metric in table.metrics:
        head += [f"{metric} {goal_mark(table, metric)}", f"{metric} last"]
    lines = [_md_row(head), "|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|"]
    for row in table.rows:
        cells = [row.label, row.name, row.status, fmt_value(row.steps), fmt_duration(row.duration),
                 "-" if row.steps_per_s is None else f"{row.steps_per_s:.3g}"]
        for metric in table.metrics:
            cell = row.cells.get(metric)
            if cell is None:
                cells += ["-", "-"]
                continue
            best = fmt_value(cell.best) + (f" @{cell.best_step}" if cell.best_step is not None else "")
            if table.leader.get(metric) == row.key:
                best += f" {LEADER}"
            cells += [best, fmt_value(cell.last)]
        lines.append(_md_row(cells))
    notes = [line.plain for line in below_table(table)]
    return "\n".join(lines) + "\n" + "".join(f"\n- {clean_field(n)}" for n in notes) + ("\n" if notes else "")


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_md_escape(c) for c in cells) + " |"


def _md_escape(text: str) -> str:
    """A cell that cannot break the table: control characters gone, `|` escaped, markup characters literal."""
    text = clean_field(str(text))
    for char in "\\|*`[]<>":
        text = text.replace(char, "\\" + char)
    return text
