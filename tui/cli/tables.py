"""Tables for the command line: every cell shown inert, and the whole fitted to the terminal's width.

Every cell, header and title goes through `safe`, so a string from a run's files (a name, a metric, a tag, a
config key) reaches the terminal through `clean_field` as `rich.text.Text`: no escape sequence gets through
and `[bold]` prints literally. A table that is wider than the terminal drops its columns of lowest priority
(and says which) rather than squeezing any to nothing; the column that names the row is never dropped, only
cut in the middle as a last resort.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich import box as boxes
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from runyard import clean_field

from ..formatting import cut_middle

KEEP = 1_000  # the priority of a column never dropped


def safe(value: Any, style: str = "") -> Text:
    """Any value from a run's files as inert Text on one line: escapes and controls gone, markup literal.

    A `Text` is taken as built from safe parts (its line breaks are kept), and is checked all the same: one
    that holds an escape or a control character is rebuilt from its cleaned plain text.
    """
    if isinstance(value, Text):
        plain = value.plain
        cleaned = clean_field(plain, newlines=True)
        return value if cleaned == plain else Text(cleaned, style=value.style)
    return Text(clean_field("" if value is None else str(value)), style=style)


def join_safe(*parts: Any, sep: str = "") -> Text:
    """Parts (a value, or a `(value, style)` pair) each made safe and joined into one Text."""
    out = Text()
    for i, part in enumerate(parts):
        if i and sep:
            out.append(sep)
        out.append_text(safe(*part) if isinstance(part, tuple) else safe(part))
    return out


@dataclass
class Column:
    """A column: its header, alignment, and how it gives way when the terminal is narrow.

    `priority`: columns of lower priority are dropped first (KEEP: never). `flex`: the column may be narrower
    than its content, cut in the middle (`cut`, for names that differ at the end) or folded onto more lines
    (`fold`, for values). `comfort`: the width a flexible column is given before others are dropped for it.
    """

    header: str
    justify: Literal["left", "right"] = "left"
    priority: int = KEEP
    flex: Literal["", "cut", "fold"] = ""
    comfort: int = 24
    minimum: int = 8
    style: str = ""
    first_line_only: bool = False  # later lines of a cell (an error under a name) wrap, they don't widen it
    needs: str = ""  # the header of a column without which this one means nothing (a value needs its metric)


@dataclass
class Fitted:
    """A table ready to print, the headers of the columns left out, and its width in cells."""

    table: Table
    hidden: list[str]
    width: int

    def hidden_note(self, flag: str = "--wide") -> Text | None:
        """`3 columns hidden (format, duration, tags): --wide shows them`, or None when all are shown."""
        if not self.hidden:
            return None
        count = len(self.hidden)
        return Text(f"{count} column{'s' if count > 1 else ''} hidden ({', '.join(self.hidden)}): "
                    f"{flag} shows {'them' if count > 1 else 'it'}", style="dim")


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int | None, *,
              title: Any = None, box: boxes.Box | None = boxes.HEAVY_HEAD, padding: int = 1,
              show_header: bool = True) -> Fitted:
    """A Rich table of `rows` (cells are made `safe`) no wider than `width` (None: as wide as its content).

    Widths are computed here and fixed on the columns, so Rich never squeezes a column to nothing; columns are
    dropped in order of priority until the rest fit, then the flexible ones share what is left.
    """
    cells = [[safe(c) for c in row] for row in rows]
    heads = [clean_field(c.header) for c in columns]
    natural = []
    for i, col in enumerate(columns):
        widest = cell_len(heads[i]) if show_header else 0
        for row in cells:
            lines = row[i].plain.split("\n")
            for line in lines[:1] if col.first_line_only else lines:
                widest = max(widest, cell_len(line))
        natural.append(max(widest, 1))

    def overhead(n: int) -> int:
        return n * 2 * padding + ((n + 1) if box is not None else 0)

    shown = list(range(len(columns)))
    hidden: list[int] = []
    widths = list(natural)
    if width is not None:
        def floor(idx: list[int], soft: bool) -> int:
            total = overhead(len(idx))
            for i in idx:
                col = columns[i]
                room = max(col.comfort if soft else col.minimum, cell_len(heads[i]) if show_header else 1)
                total += min(natural[i], room) if col.flex else natural[i]
            return total

        droppable = sorted((i for i in shown if columns[i].priority < KEEP), key=lambda i: columns[i].priority)
        while droppable and floor(shown, soft=True) > width:
            i = droppable.pop(0)
            shown.remove(i)
            hidden.append(i)
            for k in [k for k in shown if columns[k].needs == columns[i].header]:
                shown.remove(k)
                hidden.append(k)
                droppable.remove(k)
        flexible = [i for i in shown if columns[i].flex]
        rigid = sum(natural[i] for i in shown if not columns[i].flex)
        spare = width - overhead(len(shown)) - rigid
        if flexible and sum(natural[i] for i in flexible) > spare:
            # each flexible column gets its minimum, then what is left goes to the most important first
            for i in flexible:
                widths[i] = min(natural[i], max(columns[i].minimum, cell_len(heads[i]) if show_header else 1))
            left = max(0, spare - sum(widths[i] for i in flexible))
            for i in sorted(flexible, key=lambda i: -columns[i].priority):
                extra = min(natural[i] - widths[i], left)
                widths[i] += extra
                left -= extra
    table = Table(title=safe(title) if title is not None else None, title_justify="left", header_style="bold",
                  box=box, padding=(0, padding), show_header=show_header, show_edge=box is not None)
    for i in shown:
        col = columns[i]
        table.add_column(Text(heads[i]), justify=col.justify, width=widths[i], style=col.style,
                         no_wrap=col.flex != "fold" and not col.first_line_only,
                         overflow="fold" if col.flex == "fold" or col.first_line_only else "ellipsis")
    for row in cells:
        table.add_row(*(_cut(row[i], widths[i]) if columns[i].flex == "cut" else row[i] for i in shown))
    total = sum(widths[i] for i in shown) + overhead(len(shown))
    return Fitted(table, [heads[i] for i in sorted(hidden)], total)


def _cut(cell: Text, width: int) -> Text:
    """The cell's first line cut in the middle to `width` cells (later lines are left to fold)."""
    lines = cell.split("\n", allow_blank=True)
    first = lines[0]
    if cell_len(first.plain) > width:
        lines[0] = Text(cut_middle(first.plain, width), style=first.style)
    return Text("\n").join(lines) if len(lines) > 1 else lines[0]


def tsv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Tab-separated values, a header line first: each field cleaned, so a tab or line break in a name cannot
    shift a column (None is an empty field)."""
    def field(value: Any) -> str:
        return "" if value is None else clean_field(str(value))

    return "".join("\t".join(field(v) for v in line) + "\n" for line in [list(headers), *rows])
