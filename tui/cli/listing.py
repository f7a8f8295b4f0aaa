"""Rich renderings of runs for the command line: the runs table and one run's details, plus their JSON."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from runyard import RunRecord, best_of, main_metrics

from ..formatting import STATUS_ICON, STATUS_STYLE, fmt_bytes, fmt_duration, fmt_number, fmt_time


def status_text(status: str, archived: bool = False) -> Text:
    text = Text(f"{STATUS_ICON.get(status, '?')} {status}", style=STATUS_STYLE.get(status, ""))
    if archived:
        text.append(" ⌂", style="dim")
    return text


def runs_table(records: list[RunRecord], root: Path) -> Table:
    """The `runyard ls` table: status, name, format, start, duration, steps, main metrics, tags."""
    mains = {id(r): main_metrics(r.summary, limit=1) for r in records}
    shared = {m[0] for m in mains.values() if m}
    table = Table(title=f"{len(records)} runs under {root}", title_justify="left", header_style="bold")
    for col in ("status", "name", "format", "start", "duration", "steps"):
        table.add_column(col, justify="right" if col in ("steps", "duration") else "left", no_wrap=col != "name")
    if len(shared) > 1:
        table.add_column("metric")
    only = next(iter(shared)) if len(shared) == 1 else ""
    table.add_column(f"{only}\nlast".strip(), justify="right")
    table.add_column(f"{only}\nbest".strip(), justify="right")
    table.add_column("tags")
    for r in records:
        info = r.info
        name = Text(info.name)
        if info.error:
            name.append(f"\n{info.error}", style="red")
        cells: list[Any] = [status_text(info.status, info.archived), name, info.format, fmt_time(info.created),
                            fmt_duration(info.duration), fmt_number(info.last_step)]
        metric = mains[id(r)][0] if mains[id(r)] else None
        if len(shared) > 1:
            cells.append(Text(metric or "-"))
        stats = r.summary.get(metric) if metric else None
        best = best_of(r.summary, metric) if metric else None
        cells += [fmt_number(stats.last if stats else None), fmt_number(best)]
        cells.append(Text(", ".join(info.tags)))
        table.add_row(*cells)
    return table


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


def _config_table(config: dict[str, Any]) -> Table:
    from runyard import flatten

    table = Table(title="config", title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="cyan")
    table.add_column()
    for key, value in flatten(config).items():
        table.add_row(Text(key), Text(repr(value) if isinstance(value, str) and not value else str(value)))
    return table


def _summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title="summary", title_justify="left", header_style="bold")
    for col in ("metric", "first", "last", "min", "max", "mean", "count", "min@step", "max@step"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for name, s in summary.items():
        table.add_row(Text(name), *(fmt_number(v) for v in (s.first, s.last, s.min, s.max, s.mean)),
                      str(s.count), fmt_number(s.min_step), fmt_number(s.max_step))
    return table


def _checkpoint_table(view: Any) -> Table:
    table = Table(title="checkpoints", title_justify="left", header_style="bold")
    for col in ("", "step", "file", "size", "metrics"):
        table.add_column(col)
    for c in view.checkpoints:
        try:
            shown = c.path.relative_to(view.path)
        except ValueError:
            shown = c.path
        metrics = ", ".join(f"{k}={fmt_number(v)}" for k, v in c.metrics.items())
        table.add_row(Text("★", style="bold yellow") if c.best else "", fmt_number(c.step), Text(str(shown)),
                      fmt_bytes(c.bytes), Text(metrics))
    return table


def show_run(console: Console, view: Any) -> None:
    """`runyard show`: a header of who/where/when, then config, summary and checkpoints."""
    info = view.info
    head = Text()
    head.append(info.name, style="bold")
    head.append(f"  {info.id}  ", style="dim")
    head.append_text(status_text(info.status, info.archived))
    lines = [head, Text(f"{info.format}  {view.path}", style="dim"),
             Text(f"started {fmt_time(info.created)}, ran {fmt_duration(info.duration)}, "
                  f"{fmt_number(info.last_step)} steps, {info.restarts} restarts"
                  + (f", host {info.host}" if info.host else ""))]
    if info.tags or info.notes:
        lines.append(Text(f"tags: {', '.join(info.tags) or '-'}   notes: {info.notes or '-'}"))
    if info.error:
        lines.append(Text(f"error: {info.error}", style="red"))
    if info.skipped_lines:
        lines.append(Text(f"{info.skipped_lines} unreadable lines skipped", style="yellow"))
    console.print(Group(*lines))
    console.print(_config_table(view.config))
    console.print(_summary_table(view.summary))
    if view.checkpoints:
        console.print(_checkpoint_table(view))
    if view.log_path:
        console.print(Text(f"log: {view.log_path}", style="dim"))
