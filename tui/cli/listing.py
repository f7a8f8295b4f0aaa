"""Renderings of runs for the command line: the runs table (or TSV), one run's details, and their JSON.

Every string a run's files supply reaches the terminal through `tables.safe` (cells, headers, titles, lines),
so escape sequences are removed and Rich markup in a name prints literally.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.text import Text

from runyard import RunRecord, best_of, main_metrics

from ..formatting import CLOCK_MARK, STATUS_ICON, STATUS_STYLE, fmt_bytes, fmt_duration, fmt_number, fmt_time
from .roots import enter_root  # noqa: F401 (where ls, show and best find it)
from .tables import Column, Fitted, fit_table, join_safe, safe, tsv


def status_text(status: str, archived: bool = False, clock_ahead: float | None = None) -> Text:
    text = join_safe((f"{STATUS_ICON.get(status, '?')} {status}", STATUS_STYLE.get(status, "")))
    if archived:
        text.append(" ⌂", style="dim")
    if clock_ahead is not None:
        text.append(f" {CLOCK_MARK}", style="yellow")
    return text


def clock_note(clock_ahead: float | None) -> str | None:
    """"clock ahead by 2h00m" (or behind) for a run whose own clock visibly differs from this machine's."""
    if clock_ahead is None:
        return None
    return f"clock {'ahead' if clock_ahead > 0 else 'behind'} by {fmt_duration(round(abs(clock_ahead)))}"


def _main_metric(record: RunRecord) -> str | None:
    found = main_metrics(record.summary, limit=1)
    return found[0] if found else None


def handles(records: list[RunRecord], root: Path) -> dict[int, str] | None:
    """What tells runs apart where names repeat: each run's id, or its folder under `root` where ids repeat
    too (both are accepted by `show` and `plot`); None when every name is unique."""
    names = Counter(r.info.name for r in records)
    if all(n == 1 for n in names.values()):
        return None
    ids = Counter(r.info.id for r in records)
    out = {}
    for r in records:
        if ids[r.info.id] == 1:
            out[id(r)] = r.info.id
        else:
            try:
                out[id(r)] = str(r.info.path.relative_to(root))
            except ValueError:
                out[id(r)] = str(r.info.path)
    return out


def runs_table(records: list[RunRecord], root: Path, width: int | None) -> Fitted:
    """The `runyard ls` table: status, name, (id), format, start, duration, steps, main metric, tags.

    Narrower than its content, it leaves out tags, format, duration, start... in that order, never the name.
    """
    mains = {id(r): _main_metric(r) for r in records}
    shared = {m for m in mains.values() if m}
    only = next(iter(shared)) if len(shared) == 1 else ""
    ids = handles(records, root)
    columns = [Column("status", priority=90), Column("name", flex="cut", comfort=28, minimum=10,
                                                      first_line_only=True)]
    if ids is not None:
        columns.append(Column("id", flex="cut", priority=85, comfort=16))
    columns += [Column("format", priority=30), Column("start", priority=50),
                Column("duration", justify="right", priority=40), Column("steps", justify="right", priority=60)]
    needs = ""
    if len(shared) > 1:  # a column naming each run's main metric: its values mean nothing without it
        columns.append(Column("metric", flex="cut", priority=75, comfort=16))
        needs = "metric"
    columns += [Column(f"{only} last".strip(), justify="right", priority=80, needs=needs),
                Column(f"{only} best".strip(), justify="right", priority=70, needs=needs),
                Column("tags", flex="cut", priority=20, comfort=16)]
    rows = []
    for r in records:
        info = r.info
        name = safe(info.name)
        if info.error:
            name.append("\n").append_text(safe(info.error, style="red"))
        cells: list[Any] = [status_text(info.status, info.archived, info.clock_ahead), name]
        if ids is not None:  # left blank where it would only repeat the name
            cells.append(ids[id(r)] if ids[id(r)] != info.name else "")
        cells += [info.format, fmt_time(info.created), fmt_duration(info.duration), fmt_number(info.last_step)]
        metric = mains[id(r)]
        if len(shared) > 1:
            cells.append(metric or "-")
        stats = r.summary.get(metric) if metric else None
        best = best_of(r.summary, metric) if metric else None
        cells += [fmt_number(stats.last if stats else None), fmt_number(best), ", ".join(info.tags)]
        rows.append(cells)
    return fit_table(columns, rows, width, title=f"{len(records)} runs under {root}")


def unreadable_note(unreadable: dict[str, str], shown: int = 3) -> str | None:
    """`ls`'s one line on the folders a scan could not read: how many, why, and the first few of them."""
    if not unreadable:
        return None
    paths = sorted(unreadable)
    listed = ", ".join(paths[:shown]) + (f" and {len(paths) - shown} more" if len(paths) > shown else "")
    reasons = ", ".join(sorted(set(unreadable.values())))
    folders = "1 folder" if len(paths) == 1 else f"{len(paths)} folders"
    return f"{folders} could not be read ({reasons}): {listed}"


TSV_COLUMNS = ("id", "name", "status", "format", "created", "duration", "steps", "metric", "last", "best",
               "tags", "path")


def runs_tsv(records: list[RunRecord]) -> str:
    """`runyard ls` for scripts: one line per run, the same columns whatever the width, values in full.

    Times are ISO 8601 in UTC, durations in seconds, numbers as Python prints them (`nan`, `inf`), tags joined
    by commas; a missing value is an empty field.
    """
    rows = []
    for r in records:
        info = r.info
        metric = _main_metric(r)
        stats = r.summary.get(metric) if metric else None
        rows.append([info.id, info.name, info.status, info.format, _iso(info.created), _num(info.duration),
                     _num(info.last_step), metric, _num(stats.last if stats else None),
                     _num(best_of(r.summary, metric) if metric else None), ",".join(info.tags), info.path])
    return tsv(TSV_COLUMNS, rows)


def _iso(ts: float | None) -> str | None:
    if ts is None or not math.isfinite(ts):
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _num(value: float | int | None) -> str | None:
    """In full: an int exactly (steps near 2**63 too), a float as the shortest text that reads back the same."""
    if value is None:
        return None
    return repr(float(value)) if isinstance(value, float) else str(value)


def record_json(record: RunRecord) -> dict[str, Any]:
    info = asdict(record.info)
    info["path"] = str(record.info.path)
    info["duration"] = record.info.duration
    return {"info": info, "config": record.config, "summary": {k: asdict(v) for k, v in record.summary.items()}}


def records_json(records: list[RunRecord]) -> list[dict[str, Any]]:
    return [record_json(r) for r in records]


def run_json(view: Any) -> dict[str, Any]:
    """`runyard show --json`: info, config, summary, checkpoints, log path."""
    info = asdict(view.info)
    info["path"] = str(view.path)
    info["duration"] = view.info.duration
    return {
        "info": info, "config": view.config,
        "summary": {k: asdict(v) for k, v in view.summary.items()},
        "checkpoints": [{**asdict(c), "path": str(c.path)} for c in view.checkpoints],
        "log": str(view.log_path) if view.log_path else None,
    }


def _config_table(config: dict[str, Any], width: int | None) -> Fitted:
    from runyard import flatten

    rows = [(key, repr(value) if isinstance(value, str) and not value else str(value))
            for key, value in flatten(config).items()]
    columns = [Column("key", flex="fold", comfort=32, minimum=12, style="cyan"),
               Column("value", flex="fold", comfort=40, minimum=12)]
    return fit_table(columns, rows, width, title="config", box=None, padding=1, show_header=False)


def _summary_table(summary: dict[str, Any], width: int | None) -> Fitted:
    columns = [Column("metric", flex="fold", comfort=24, minimum=10), Column("goal", priority=85),
               Column("first", "right", 50),
               Column("last", "right", 90), Column("min", "right", 80), Column("max", "right", 79),
               Column("mean", "right", 40), Column("count", "right", 60), Column("min@step", "right", 45),
               Column("max@step", "right", 44)]
    rows = [[name, _goal_text(s.goal), *(fmt_number(v) for v in (s.first, s.last, s.min, s.max, s.mean)),
             str(s.count), fmt_number(s.min_step), fmt_number(s.max_step)] for name, s in summary.items()]
    return fit_table(columns, rows, width, title="summary")


def _goal_text(goal: Any) -> Text | str:
    """Which way is better for a metric, and "guessed" where only its name said so (a declared or configured
    direction is shown plainly)."""
    if goal is None:
        return "-"
    if goal.guessed:
        return Text.assemble(goal.direction, (" (guessed)", "dim"))
    return goal.direction


def _checkpoint_table(view: Any, width: int | None) -> Fitted:
    columns = [Column("", priority=90), Column("step", "right", 80), Column("file", flex="cut", comfort=32),
               Column("size", "right", 50), Column("metrics", flex="fold", priority=60, comfort=24)]
    rows = []
    for c in view.checkpoints:
        try:
            shown = c.path.relative_to(view.path)
        except ValueError:
            shown = c.path
        metrics = ", ".join(f"{k}={fmt_number(v)}" for k, v in c.metrics.items())
        if c.best and c.best_metric:
            metrics = f"{metrics}  (best by {c.best_metric}, {c.best_mode})"
        if c.note:
            metrics = f"{metrics}  {c.note}"
        rows.append([Text("★", style="bold yellow") if c.best else "", fmt_number(c.step), str(shown),
                     fmt_bytes(c.bytes), metrics])
    return fit_table(columns, rows, width, title="checkpoints")


def show_run(view: Any, width: int | None) -> tuple[list[Any], list[tuple[str, list[str]]], int]:
    """`runyard show`: a header of who/where/when, then config, summary and checkpoints, each fitted to
    `width` (None: nothing cut). Returns what to print, the columns left out (table title, headers) and the
    width of the widest table."""
    info = view.info
    head = join_safe((info.name, "bold"), (f"  {info.id}  ", "dim"))
    head.append_text(status_text(info.status, info.archived))
    clock = clock_note(info.clock_ahead)
    if clock is not None:  # its times are its own clock's: shown as they are, and said so
        head.append(f"  {clock}", style="bold yellow")
    lines = [head, join_safe((f"{info.format}  {view.path}", "dim")),
             safe(f"started {fmt_time(info.created)}, ran {fmt_duration(info.duration)}, "
                  f"{fmt_number(info.last_step)} steps, {info.restarts} restarts"
                  + (f", host {info.host}" if info.host else ""))]
    if info.tags or info.notes:
        lines.append(safe(f"tags: {', '.join(info.tags) or '-'}   notes: {info.notes or '-'}"))
    if info.error:
        lines.append(safe(f"error: {info.error}", style="red"))
    if info.skipped_lines:
        lines.append(safe(f"{info.skipped_lines} unreadable lines skipped", style="yellow"))
    dropped = (info.extra or {}).get("dropped")
    if isinstance(dropped, dict) and dropped:  # rows the tracker could not write (a full disk) and had to let go
        counts = ", ".join(f"{count} in {name}" for name, count in sorted(dropped.items()))
        lines.append(safe(f"lost to a full disk: {counts}", style="red"))
    tables = [_config_table(view.config, width), _summary_table(view.summary, width)]
    if view.checkpoints:
        tables.append(_checkpoint_table(view, width))
    out: list[Any] = [Group(*lines), *(fitted.table for fitted in tables)]
    if view.log_path:
        out.append(safe(f"log: {view.log_path}", style="dim"))
    hidden = [(_title(fitted), fitted.hidden) for fitted in tables if fitted.hidden]
    return out, hidden, max(fitted.width for fitted in tables)


def _title(fitted: Fitted) -> str:
    title = fitted.table.title
    return title.plain if isinstance(title, Text) else str(title or "")
