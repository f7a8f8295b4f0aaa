"""`runyard diff`: the configs (and origins) of several runs side by side, only the keys that differ by default.

One column per run, headed by its short distinguishing name; one row per key, nested keys as dotted paths,
origin rows (git, command line, versions, host, start) in a group of their own. A key a run lacks is `—`;
numbers are lined up on their decimal point; long values fold within their column.

Runs that do not fit the terminal side by side are turned, not cut: a sweep of forty runs differs in a few
keys, and forty rows of a few columns are read down a column, one key across all runs, which is what a diff is
for. Only when the turned table does not fit either (many runs and many keys) is the diff printed in pages of
as many runs as fit, the key column repeated on each. Piped, it is tab-separated values (section, key,
differs, one column per run; a missing key is an empty field), nothing cut; `--json`, `--csv` and `--md` give
the same for scripts and notes.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runyard import MISSING, align_numbers, clean_field, fold, format_value

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from runyard import ConfigDiff, DiffKey, KeyImportance, RunRecord

RUN_COLUMN_MAX = 28  # a run's column folds values wider than this
FOLD_MIN = 12  # and on a narrow terminal, values down to this width, before runs turn into rows
KEY_FOLD_MIN = 24
KEY_COLUMN_MAX = 36
MISSING_STYLE = "dim"


# -- run names ----------------------------------------------------------------------------------------------------

def short_names(records: Sequence[RunRecord]) -> list[str]:
    """A distinct, short column header per run: its name (where names repeat, with its id, or else as much of
    its path as tells it apart: `a/run`, `b/run`), less the words every name shares (`runyard.short_names`,
    as the comparison's legends have them)."""
    from runyard import short_names as shortest

    counts = Counter(r.info.name for r in records)
    ids = Counter(r.info.id for r in records)
    distinct = []
    for r in records:
        name, rid = r.info.name, r.info.id
        if counts[name] == 1:
            distinct.append(name)
        elif ids[rid] == 1 and rid != name:
            distinct.append(f"{name} {rid}")
        else:
            distinct.append(_path_tail(r, records))
    return shortest(distinct)


def _path_tail(record: RunRecord, records: Sequence[RunRecord]) -> str:
    """The fewest trailing parts of the run's path that no other run's path ends with."""
    parts = Path(record.info.path).parts
    others = [Path(r.info.path).parts for r in records if r is not record]
    for k in range(1, len(parts) + 1):
        tail = parts[-k:]
        if all(o[-k:] != tail for o in others):
            return "/".join(tail)
    return "/".join(parts)


# -- cells --------------------------------------------------------------------------------------------------------

def row_texts(row: DiffKey) -> list[str]:
    """The values of one row as shown: cleaned of escapes, numbers with a shared number of decimals."""
    return [clean_field(t).strip() if v is not MISSING else t for t, v in zip(align_numbers(row.values), row.values,
                                                                              strict=True)]


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _cell(text: str, value: Any, width: int) -> Text:
    """A value folded to `width`, numbers right-aligned, a missing key dim."""
    from rich.text import Text

    lines = fold(text, width)
    cell = Text("\n").join(Text(line) for line in lines)
    if value is MISSING:
        cell.stylize(MISSING_STYLE)
    if _is_number(value):
        cell.justify = "right"
    return cell


def _natural(texts: Sequence[str], header: str, cap: int) -> int:
    """A column's width with nothing folded but what is wider than `cap`."""
    from rich.cells import cell_len

    widest = max([cell_len(header), *(cell_len(t) for t in texts)])
    return max(1, min(widest, cap))


def _floor(texts: Sequence[str], values: Sequence[Any], natural: int) -> int:
    """The narrowest a column may be folded to: `FOLD_MIN`, but never so narrow that a number breaks."""
    from rich.cells import cell_len

    numbers = [cell_len(t) for t, v in zip(texts, values, strict=True) if _is_number(v)]
    return min(natural, max([FOLD_MIN, *numbers]))


def squeeze(naturals: Sequence[int], floors: Sequence[int], budget: int) -> list[int] | None:
    """Column widths that fit `budget` cells: each at most its natural width and at least its floor, the widest
    narrowed first (one cap for all); None when even the floors do not fit."""
    if sum(floors) > budget:
        return None
    if sum(naturals) <= budget:
        return list(naturals)

    def fitted(cap: int) -> list[int]:
        return [max(f, min(n, cap)) for n, f in zip(naturals, floors, strict=True)]

    low, high = 1, max(naturals)
    while low < high:
        mid = (low + high + 1) // 2
        if sum(fitted(mid)) <= budget:
            low = mid
        else:
            high = mid - 1
    return fitted(low)


def _overhead(columns: int) -> int:
    return columns * 2 + columns + 1  # padding of one each side, and the rules


@dataclass
class Rendered:
    """What `diff` prints on a terminal: the tables, and a note on what is left out or how it was laid out."""

    parts: list[Any]
    width: int


def diff_table(diff: ConfigDiff, rows: list[DiffKey], names: list[str], width: int | None,
               same: int = 0) -> Rendered:
    """The diff for a terminal `width` wide (None: as wide as it needs): runs as columns where they fit (long
    values folded, down to `FOLD_MIN` columns), else turned (runs as rows), else in pages of runs."""
    from rich.cells import cell_len
    from rich.text import Text

    texts = [row_texts(r) for r in rows]
    keys = [clean_field(r.key) for r in rows]
    key_natural = min(KEY_COLUMN_MAX, max([cell_len("key"), *(cell_len(k) for k in keys)]))
    key_floor = min(key_natural, KEY_FOLD_MIN)  # the keys are what a reader scans: folded last
    run_naturals = [_natural([t[i] for t in texts], names[i], RUN_COLUMN_MAX) for i in range(len(names))]
    run_floors = [_floor([t[i] for t in texts], [r.values[i] for r in rows], run_naturals[i])
                  for i in range(len(names))]
    notes: list[str] = []
    widths = [key_natural, *run_naturals] if width is None else squeeze(
        [key_natural, *run_naturals], [key_floor, *run_floors], width - _overhead(len(names) + 1))
    if widths is not None:
        tables = [_by_key(rows, texts, names, range(len(names)), widths[0], dict(enumerate(widths[1:])))]
        used = sum(widths) + _overhead(len(names) + 1)
    else:
        turned, used = _turned(rows, texts, names, width)
        if turned is not None:
            tables = [turned]
            notes.append(f"{len(names)} runs do not fit side by side in {width} columns: one row per run, one "
                         "column per key")
        else:
            tables, used = _pages(rows, texts, names, (key_natural, key_floor), run_naturals, run_floors, width)
            notes.append(f"{len(names)} runs in {len(tables)} tables of up to "
                         f"{math.ceil(len(names) / len(tables))} runs, to fit {width} columns: --wide prints one")
    if same:
        notes.append(f"{same} key{'s' if same != 1 else ''} the same in every run: --all shows "
                     f"{'them' if same != 1 else 'it'}")
    parts: list[Any] = list(tables)
    parts += [Text(note, style="dim") for note in notes]
    return Rendered(parts, used)


def _table(title: str | None = None) -> Table:
    from rich import box as boxes
    from rich.table import Table

    from .tables import safe

    return Table(title=safe(title) if title else None, title_justify="left", header_style="bold",
                 box=boxes.HEAVY_HEAD, padding=(0, 1), show_edge=True)


def _by_key(rows: list[DiffKey], texts: list[list[str]], names: list[str], runs: Sequence[int], key_width: int,
            run_widths: Mapping[int, int], title: str | None = None) -> Table:
    """Keys as rows, the runs `runs` as columns; origin rows in a group of their own below the config."""
    from rich.text import Text

    table = _table(title)
    table.add_column("key", width=key_width, style="cyan", overflow="fold")
    for i in runs:
        table.add_column(Text("\n").join(Text(line) for line in fold(clean_field(names[i]), run_widths[i])),
                         width=run_widths[i], overflow="fold")
    section = "config"
    for row, values in zip(rows, texts, strict=True):
        if row.section != section:
            section = row.section
            table.add_section()
            table.add_row(Text(section, style="bold"), *("" for _ in runs))
        key = Text("\n").join(Text(line) for line in fold(clean_field(row.key), key_width))
        if row.note:
            key.append(f"\n({row.note})", style="dim")
        cells = [_cell(values[i], row.values[i], run_widths[i]) for i in runs]
        if not row.differs:  # with --all: what is the same in every run steps back
            key.stylize("dim")
            for cell in cells:
                cell.stylize("dim")
        table.add_row(key, *cells)
    return table


def _turned(rows: list[DiffKey], texts: list[list[str]], names: list[str], width: int) -> tuple[Table | None, int]:
    """Runs as rows, keys as columns, where that fits `width`."""
    from rich.cells import cell_len
    from rich.text import Text

    shown = [clean_field(n) for n in names]
    name_natural = min(RUN_COLUMN_MAX, max(cell_len(n) for n in shown))
    naturals = [name_natural, *(_natural(t, clean_field(r.key), RUN_COLUMN_MAX) for r, t in zip(rows, texts,
                                                                                               strict=True))]
    floors = [min(name_natural, FOLD_MIN), *(_floor(t, r.values, n) for r, t, n in zip(rows, texts, naturals[1:],
                                                                                        strict=True))]
    widths = squeeze(naturals, floors, width - _overhead(len(rows) + 1))
    if widths is None:
        return None, sum(floors) + _overhead(len(rows) + 1)
    table = _table()
    table.add_column("run", width=widths[0], overflow="fold")
    for row, w in zip(rows, widths[1:], strict=True):
        header = Text("\n").join(Text(line) for line in fold(clean_field(row.key), w))
        if row.section != "config":
            header.stylize("italic")
        if not row.differs:
            header.stylize("dim")
        table.add_column(header, width=w, overflow="fold")
    for i, name in enumerate(shown):
        table.add_row(Text("\n").join(Text(line) for line in fold(name, widths[0])),
                      *(_cell(t[i], r.values[i], w) for r, t, w in zip(rows, texts, widths[1:], strict=True)))
    return table, sum(widths) + _overhead(len(rows) + 1)


def _pages(rows: list[DiffKey], texts: list[list[str]], names: list[str], key: tuple[int, int],
           naturals: list[int], floors: list[int], width: int) -> tuple[list[Table], int]:
    """Keys as rows, as many runs per table as fit `width` folded (at least one, cut to fit if it must)."""
    key_natural, key_floor = key
    tables, used, start = [], 0, 0
    while start < len(names):
        stop, widths = start + 1, None
        while stop <= len(names):
            trial = squeeze([key_natural, *naturals[start:stop]], [key_floor, *floors[start:stop]],
                            width - _overhead(stop - start + 1))
            if trial is None:
                break
            widths, stop = trial, stop + 1
        stop -= 1
        if widths is None:  # one run alone is wider than the terminal even folded: its cells fold at any width
            stop = start + 1
            budget = max(2, width - _overhead(2))
            widths = [max(1, min(key_natural, budget // 3)), max(1, budget - min(key_natural, budget // 3))]
        title = f"runs {start + 1}–{stop} of {len(names)}"
        tables.append(_by_key(rows, texts, names, range(start, stop), widths[0],
                              dict(zip(range(start, stop), widths[1:], strict=True)), title))
        used, start = max(used, sum(widths) + _overhead(stop - start + 1)), stop
    return tables, used


# -- for scripts --------------------------------------------------------------------------------------------------

def plain_rows(rows: list[DiffKey]) -> list[list[str]]:
    """section, key, differs, then each run's value as written (a missing key: an empty field)."""
    return [[row.section, row.key, "true" if row.differs else "false",
             *("" if v is MISSING else format_value(v) for v in row.values)] for row in rows]


def diff_tsv(rows: list[DiffKey], names: list[str]) -> str:
    """Tab-separated values with a header line; each field cleaned so a tab or line break cannot shift it."""
    lines = [["section", "key", "differs", *names], *plain_rows(rows)]
    return "".join("\t".join(clean_field(f) for f in line) + "\n" for line in lines)


def diff_csv(rows: list[DiffKey], names: list[str]) -> str:
    """The same columns as the TSV, as CSV (RFC 4180 quoting; values in full)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "key", "differs", *names])
    writer.writerows(plain_rows(rows))
    return out.getvalue()


def diff_markdown(rows: list[DiffKey], names: list[str], importance: list[KeyImportance] | None = None) -> str:
    """A Markdown table per section (config, origin), missing keys as —, for notes and pull requests."""
    def cell(text: str) -> str:
        return clean_field(text).replace("\\", "\\\\").replace("|", "\\|") or " "

    out: list[str] = []
    for section in ("config", "origin"):
        part = [r for r in rows if r.section == section]
        if not part:
            continue
        out += [f"**{section}**", "", "| key | " + " | ".join(cell(n) for n in names) + " |",
                "|---|" + "---|" * len(names)]
        for row in part:
            values = [format_value(v) for v in row.values]
            out.append(f"| {cell(row.key)} | " + " | ".join(cell(v) for v in values) + " |")
        out.append("")
    if importance:
        out += ["**importance**", "", "| key | kind | score | n | better | note |", "|---|---|---:|---:|---|---|"]
        for imp in importance:
            out.append(f"| {cell(imp.key)} | {imp.kind} | {_score(imp)} | {imp.n} | "
                       f"{cell(_better(imp))} | {cell(imp.note or '')} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def diff_json(diff: ConfigDiff, rows: list[DiffKey], names: list[str],
              importance: list[KeyImportance] | None = None) -> dict[str, Any]:
    """The runs (each with the column name it has in `values`), and per key its section, whether it differs and
    each run's value by column name; a run that lacks the key is absent from `values` (null is a value)."""
    runs = [{"column": n, "id": r.info.id, "name": r.info.name, "format": r.info.format, "path": str(r.info.path)}
            for n, r in zip(names, diff.records, strict=True)]
    keys = []
    for row in rows:
        entry: dict[str, Any] = {"key": row.key, "section": row.section, "differs": row.differs,
                                 "values": {n: v for n, v in zip(names, row.values, strict=True) if v is not MISSING}}
        if row.note:
            entry["note"] = row.note
        keys.append(entry)
    data: dict[str, Any] = {"runs": runs, "keys": keys, "same": len(diff.same())}
    if importance is not None:
        data["importance"] = [{"key": i.key, "kind": i.kind, "score": i.score, "strength": i.strength, "n": i.n,
                               "better": i.better, "note": i.note} for i in importance]
    return data


# -- importance ---------------------------------------------------------------------------------------------------

def _score(imp: KeyImportance) -> str:
    if imp.score is None:
        return "—"
    return f"ρ {imp.score:+.2f}" if imp.kind == "numeric" else f"ε² {imp.score:.2f}"


def _better(imp: KeyImportance) -> str:
    if imp.better is None:
        return ""
    return f"{imp.better} is better" if imp.kind == "numeric" else f"best: {format_value(imp.better)}"


def importance_table(importance: list[KeyImportance], metric: str) -> Table:
    """The keys that go with a better `metric`, strongest first (ρ: Spearman, ε²: Kruskal–Wallis)."""
    from .tables import safe

    table = _table(f"which keys matter for {metric}")
    table.add_column("key", style="cyan", overflow="fold", max_width=KEY_COLUMN_MAX)
    table.add_column("score", justify="right")
    table.add_column("runs", justify="right")
    table.add_column("", overflow="fold")
    for imp in importance:
        say = imp.note or _better(imp)
        table.add_row(safe(imp.key), _score(imp), str(imp.n),
                      safe(say, style="dim" if imp.note else ""))
    return table


def render_terminal(diff: ConfigDiff, rows: list[DiffKey], names: list[str], width: int | None, same: int,
                    importance: list[KeyImportance] | None, metric: str | None) -> Rendered:
    """Everything `diff` prints on a terminal."""
    from rich.text import Text

    if not rows:
        parts: list[Any] = [Text(f"no differences among {len(names)} runs"
                                 + (f" ({same} keys the same: --all shows them)" if same else ""))]
        rendered = Rendered(parts, 0)
    else:
        rendered = diff_table(diff, rows, names, width, same)
    if importance is not None and metric is not None:
        rendered.parts.append(importance_table(importance, metric))
    return rendered


def run_diff(refs: Sequence[str], root: Path, filter_text: str, show_all: bool, metric: str | None, wide: bool,
             output: str | None, *, fit_width: Any, console: Any, json_out: Any) -> None:
    """`runyard diff`: the runs as `runyard compare` picks them (those named, or every run under `root`, kept
    where `filter_text` holds), diffed and printed as asked (a table on a terminal, TSV when piped)."""
    import sys

    from runyard import config_diff, key_importance, select_runs

    records = select_runs(root, filter_text, list(refs))
    if not records:
        raise ValueError(f"no run under {root}" + (f" matches {filter_text!r}" if filter_text else ""))
    if len(records) == 1:
        raise ValueError(f"nothing to compare: only {records[0].info.name} (a diff takes two or more runs)")
    diff = config_diff(records)
    rows = diff.all() if show_all else diff.differing()
    names = short_names(records)
    importance = key_importance(records, metric, diff=diff) if metric else None
    if output is None and not sys.stdout.isatty():
        output = "tsv"
    if output == "json":
        json_out(diff_json(diff, rows, names, importance))
    elif output == "csv":
        sys.stdout.write(diff_csv(rows, names))
    elif output == "md":
        sys.stdout.write(diff_markdown(rows, names, importance))
    elif output == "tsv":
        sys.stdout.write(diff_tsv(rows, names))
        if importance is not None:
            sys.stdout.write("\n" + importance_tsv(importance))
    else:
        width = fit_width(wide)
        rendered = render_terminal(diff, rows, names, width, 0 if show_all else len(diff.same()), importance,
                                   metric)
        out = console(width, rendered.width)
        for part in rendered.parts:
            out.print(part)


def importance_tsv(importance: list[KeyImportance]) -> str:
    """The importance ranking as TSV: key, kind, score, strength, n, better, note."""
    lines = [["key", "kind", "score", "strength", "n", "better", "note"]]
    for i in importance:
        lines.append([i.key, i.kind, "" if i.score is None else repr(i.score),
                      "" if i.strength is None else repr(i.strength), str(i.n),
                      "" if i.better is None else format_value(i.better), i.note or ""])
    return "".join("\t".join(clean_field(f) for f in line) + "\n" for line in lines)
