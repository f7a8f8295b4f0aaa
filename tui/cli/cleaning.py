"""`runyard du` and `runyard clean`: disk usage per run, and a cleanup plan shown before anything moves.

Sizes are bytes on disk (as `du`): human (`4.0K 12M 1.2G`) in tables, exact bytes in `--json` and in the
tab-separated output of a pipe. Every path and reason printed goes through the tables' `safe`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runyard import du_size, iec_size

from .roots import enter_root

# rich and the table machinery are imported where a table is drawn: `du --json` of ten thousand runs is asked
# by scripts, and their start-up is a good part of its time.

def human(n: int | None) -> str:
    """Bytes as `du -h` shows them (`4.0K`, `1.2G`); `-` when unknown."""
    return "-" if n is None else du_size(n)


spoken = iec_size  # bytes in a sentence: `3.2 GiB`


def _shown(root: Path, path: Path | str) -> str:
    """`path` relative to `root` where it lies inside (as text: ten thousand runs are shown in a blink)."""
    prefix = str(root).rstrip(os.sep) + os.sep
    text = str(path)
    return text[len(prefix):] if text.startswith(prefix) else text  # outside the root: in full


# ----- du ---------------------------------------------------------------------------------------------------

DU_TSV_COLUMNS = ("run", "total", "checkpoints", "logs", "other", "files", "format")


def du(root: Path, as_json: bool, output: str | None, width: int | None, *, console: Callable[..., Any],
       json_out: Callable[[Any], None], warn: Callable[[str], None]) -> None:
    """`runyard du`: every run under `root`, biggest first, and the tree's total (hard links counted once)."""
    from runyard import tree_usage

    enter_root(root)
    if not os.path.isdir(root):  # as `ls` says it: an empty table would read as "nothing here"
        raise FileNotFoundError(f"no such folder: {root}")
    tree = tree_usage(root)
    output = "json" if as_json else output or ("table" if sys.stdout.isatty() else "tsv")
    if output == "json":  # plain text and ints only: straight to orjson, as ten thousand runs ask
        import orjson

        data = {"root": str(root), "total": tree.total.to_json(), "unreadable": tree.unreadable,
                "runs": [{"path": r.text, "run": _shown(root, r.text), "format": r.format, **r.usage.to_json()}
                         for r in tree.runs]}
        try:
            text = orjson.dumps(data, option=orjson.OPT_INDENT_2)
        except orjson.JSONEncodeError:  # a file name that is not UTF-8: escaped as the standard library does
            import json

            text = json.dumps(data, indent=2).encode()
        sys.stdout.buffer.write(text + b"\n")
    elif output == "tsv":
        from .tables import tsv

        sys.stdout.write(tsv(DU_TSV_COLUMNS, [
            [_shown(root, r.text), r.usage.total, r.usage.checkpoints, r.usage.logs, r.usage.other, r.usage.files,
             r.format] for r in tree.runs]))
    else:
        from rich.text import Text

        from .tables import Column, fit_table

        columns = [Column("run", flex="cut", comfort=40, minimum=12), Column("total", "right"),
                   Column("checkpoints", "right", priority=60), Column("logs", "right", priority=50),
                   Column("other", "right", priority=40)]
        rows = [[_shown(root, r.text), *(human(n) for n in (r.usage.total, r.usage.checkpoints, r.usage.logs,
                                                             r.usage.other))] for r in tree.runs]
        total = tree.total
        rows.append([Text("total (hard links once)", style="bold"), Text(human(total.total), style="bold"),
                     human(total.checkpoints), human(total.logs), human(total.other)])
        fitted = fit_table(columns, rows, width, title=f"{len(tree.runs)} runs under {root}, biggest first")
        out = console(width, fitted.width)
        out.print(fitted.table)
        note = fitted.hidden_note()
        if note is not None:
            out.print(note)
    if tree.unreadable:
        from .listing import unreadable_note

        note = unreadable_note(tree.unreadable)
        if note is not None:
            warn(note)


# ----- clean ------------------------------------------------------------------------------------------------

def plan_tables(plan: Any, width: int | None) -> list[Any]:
    """The plan as restic's `forget --dry-run` shows it: what goes (and where, and why), what stays and why."""
    from rich.text import Text

    from .tables import Column, fit_table

    root = plan.root
    parts = []
    if plan.actions:
        columns = [Column("action"), Column("path", flex="cut", comfort=24, minimum=12),
                   Column("size", "right", priority=90), Column("reason", flex="fold", comfort=28, minimum=20)]
        rows = [[Text("REMOVE" if a.action == "trash" else "ARCHIVE",
                      style="bold red" if a.action == "trash" else "bold yellow"),
                 _shown(root, a.path), human(a.bytes), a.reason] for a in plan.actions]
        parts.append(fit_table(columns, rows, width, title=f"{len(plan.actions)} to remove or archive"))
    if plan.kept:
        columns = [Column("keep", priority=70), Column("path", flex="cut", comfort=24, minimum=12),
                   Column("size", "right", priority=60), Column("reasons", flex="fold", comfort=20, minimum=20)]
        rows = [[Text("KEEP", style="bold green"), _shown(root, k.path), human(k.bytes), ", ".join(k.reasons)]
                for k in plan.kept]
        parts.append(fit_table(columns, rows, width, title=f"{len(plan.kept)} kept"))
    return parts


def plan_summary(plan: Any) -> str:
    """`would free 3.2 GiB of 10.4 GiB (4 checkpoints, 1 run to the trash; 2 runs, 1.1 GiB to the archive)`."""
    def count(kind: str, action: str) -> int:
        return sum(1 for a in plan.actions if a.kind == kind and a.action == action)

    def noun(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n != 1 else ''}"

    trash = [noun(n, w) for w in ("checkpoint", "run") if (n := count(w, "trash"))]
    parts = []
    if trash:
        parts.append(f"{', '.join(trash)} to the trash")
    archived = count("run", "archive")
    if archived:
        parts.append(f"{noun(archived, 'run')}, {spoken(plan.archived_bytes)} to the archive")
    if not parts:
        return f"nothing to clean in {spoken(plan.total)}"
    return f"would free {spoken(plan.reclaim)} of {spoken(plan.total)} ({'; '.join(parts)})"


def clean(root: Path, policy: Any, yes: bool, as_json: bool, width: int | None, *, console: Callable[..., Any],
          json_out: Callable[[Any], None], say: Callable[[str], None], fail: Callable[[str], Exception]) -> None:
    """`runyard clean`: the plan first, always; then, with --yes or a confirmed prompt, the moves."""
    import click
    from rich.text import Text

    from runyard import FilterError, clean_field, plan_clean, scan

    if policy.empty:
        raise fail("clean needs a rule: --keep-best K, --keep-last K, --failed-shorter-than D, --older-than AGE "
                   "or --filter EXPR")
    if policy.filter:
        from runyard import compile_filter

        try:
            compile_filter(policy.filter)
        except FilterError as exc:
            raise fail(str(exc)) from exc
    enter_root(root)
    from runyard import recover_quietly

    for line in recover_quietly(root):  # what a killed runyard left half done, finished or undone first
        say(f"note: {clean_field(line)}")
    plan = plan_clean(root, scan(root), policy)
    summary = plan_summary(plan)
    if as_json:
        data = plan.to_json()
        data["summary"] = summary
        if yes and plan.actions:
            data["results"] = [_result_json(r) for r in _apply(root, plan, say, quiet=True)]
        json_out(data)
        return
    tables = plan_tables(plan, width)
    out = console(width, max((t.width for t in tables), default=0))
    for fitted in tables:
        out.print(fitted.table)
        note = fitted.hidden_note()
        if note is not None:
            out.print(note)
    out.print(Text(summary, style="bold"))
    sys.stdout.flush()  # the plan stands before anything said on stderr
    if not plan.actions:
        return
    if not yes:
        if not interactive():
            say("nothing done: run again with --yes to apply this plan")
            return
        if not click.confirm("Apply this plan?", default=False):
            say("nothing done")
            return
    results = _apply(root, plan, say, quiet=False)
    moved = [r for r in results if r.done]
    freed = sum(r.action.bytes for r in moved if r.action.action == "trash")
    skipped = len(results) - len(moved)
    tail = f"; {skipped} left alone (see above)" if skipped else ""
    archived = sum(1 for r in moved if r.action.action == "archive")
    where = [f"{spoken(freed)} in the trash"] if freed or not archived else []
    where += [f"{archived} run{'s' if archived != 1 else ''} in the archive"] if archived else []
    after = ("; `runyard trash empty` frees the space, `runyard trash restore` brings things back" if freed
             else "; `runyard restore` brings a run back" if archived else "")
    say(f"done: {len(moved)} of {len(results)} moved, {', '.join(where)}{tail}{after}")


def interactive() -> bool:
    """True when a person is there to answer: stdin and stdout are a terminal."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _apply(root: Path, plan: Any, say: Callable[[str], None], quiet: bool) -> list[Any]:
    from runyard import apply_plan, clean_field

    results = apply_plan(root, plan)
    if not quiet:
        for r in results:
            where = clean_field(_shown(root, r.action.path))
            if r.done:
                say(f"{'trashed' if r.action.action == 'trash' else 'archived'} {where} ({human(r.action.bytes)})")
            else:
                say(f"left alone: {where}: {clean_field(r.message)}")
    return results


def _result_json(result: Any) -> dict[str, Any]:
    return {"path": str(result.action.path), "action": result.action.action, "done": result.done,
            "message": result.message, "bytes": result.action.bytes,
            "trash_id": getattr(result.entry, "id", None), "archived_to": str(result.dest) if result.dest else None}

