"""Line-oriented files followed as they grow: where the complete lines of a piece end, and the lines kept of a log.

CSV files and text logs are read by readers fed in pieces (see `reading.follow`): a reader consumes whole lines
only, so a line still being written is read again, whole, with its rest. A log's lines are not all kept: its
callers read the first lines (a config header, the start time) and the last ones (a closing line, the last
stamp), so a reader keeps `HEAD` and `TAIL` of them and counts the rest.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any, overload

from .follow import Grow

HEAD = 400   # first lines kept: a nanoGPT config header is read from these
TAIL = 200   # last lines kept: the last stamp is looked for among these

_NEWLINES = {"utf-8": b"\n", "utf-16-le": b"\n\x00", "utf-16-be": b"\x00\n"}


def complete_end(data: bytes, codec: str = "utf-8") -> int:
    """The length of the complete lines at the start of `data` (through its last newline) in `codec`; `data`
    starts on a character boundary (a UTF-16 newline is one at an even position)."""
    newline = _NEWLINES.get(codec, b"\n")
    if len(newline) == 1:
        return data.rfind(newline) + 1
    at = data.rfind(newline)
    while at > 0 and at % 2:  # a newline's bytes straddling two characters: not a newline
        at = data.rfind(newline, 0, at + 1)
    return at + 2 if at >= 0 else 0


class KeptLines(Sequence[str]):
    """A log's lines as shown, of which the first `HEAD` and last `TAIL` are kept: indexing or slicing within
    them works as on a list; a line between them raises IndexError (it was counted, not kept)."""

    __slots__ = ("count", "head", "tail")

    def __init__(self, head: list[str] | None = None, tail: Iterable[str] = (), count: int = 0) -> None:
        self.head = head if head is not None else []
        self.tail: deque[str] = deque(tail, maxlen=TAIL)
        self.count = count

    def add(self, line: str) -> None:
        """Append a line."""
        if len(self.head) < HEAD:
            self.head.append(line)
        self.tail.append(line)
        self.count += 1

    def copy(self) -> KeptLines:
        return KeptLines(list(self.head), self.tail, self.count)

    @classmethod
    def joined(cls, parts: Iterable[KeptLines]) -> KeptLines:
        """Logs read one after another as one (rotated predecessors, then the log)."""
        out = cls()
        for part in parts:
            out.head.extend(part.head[:HEAD - len(out.head)])  # a part longer than its head fills the head
            # the part's own head beyond what fits is counted, its tail carries on the joined tail
            out.tail.extend(part.head if part.count == len(part.head) else part.tail)
            out.count += part.count
        return out

    def __len__(self) -> int:
        return self.count

    def _at(self, i: int) -> str:
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError("line index out of range")
        if i < len(self.head):
            return self.head[i]
        first_tail = self.count - len(self.tail)
        if i >= first_tail:
            return self.tail[i - first_tail]
        raise IndexError(f"line {i} of {self.count} is not kept")

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(self.count))]
        return self._at(index)

    def __iter__(self):  # type: ignore[override]
        return iter(self[:])

    def __repr__(self) -> str:
        return f"<KeptLines {self.count} lines, {len(self.head)} first and {len(self.tail)} last kept>"


class DenseColumns:
    """Per metric a float64 column of every row (NaN where the row did not log it) and its logged mask, grown
    from a reader's sparse columns (rows, values) as they grow, so that handing out `MetricColumns` after an
    append costs the rows appended, not the run. A metric every row logged is its values as they are (no copy,
    no mask) until a row does not.

    The sparse columns must only have grown since the last `update` (a reader that takes a row back starts a
    new `DenseColumns`); views handed out stay valid, as `Grow`'s do.
    """

    __slots__ = ("columns",)

    def __init__(self) -> None:
        self.columns: dict[str, tuple[Any, Any, int]] = {}  # name -> (values Grow, logged Grow, points taken)

    def update(self, rows: int, points: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
        """Per metric of `points` (in its order), (values, logged or None when every row logged it) over `rows`
        rows."""
        import numpy as np

        out: dict[str, tuple[Any, Any]] = {}
        for name, (where, values) in points.items():
            column = self.columns.get(name)
            if column is None:
                if len(where) == rows:
                    out[name] = (values, None)
                    continue
                dense, logged, done = Grow.of(np.full(rows, np.nan)), Grow.of(np.zeros(rows, dtype=bool)), 0
            else:
                dense, logged, done = column
            add = rows - dense.size
            if add:
                dense.extend(np.full(add, np.nan))
                logged.extend(np.zeros(add, dtype=bool))
            if len(where) > done:
                dense.data[where[done:]] = values[done:]
                logged.data[where[done:]] = True
            self.columns[name] = (dense, logged, len(where))
            out[name] = (dense.view(), logged.view())
        return out


def pack_columns(columns: dict[str, tuple[Grow, Grow]], rows: int) -> tuple[list[str], list[tuple[str, Any]]]:
    """A reader's metric columns (name -> (rows, values)) as the disk cache keeps them: their names, and arrays
    `v<i>` and, for a metric not logged in all `rows` rows, `r<i>` (one logged in every row needs no rows)."""
    names = list(columns)
    arrays: list[tuple[str, Any]] = []
    for i, name in enumerate(names):
        where, values = columns[name]
        if where.size != rows:
            arrays.append((f"r{i}", where.view()))
        arrays.append((f"v{i}", values.view()))
    return names, arrays


def unpack_columns(names: list[str], arrays: dict[str, Any], rows: int) -> dict[str, tuple[Grow, Grow]]:
    """`pack_columns` undone for a reader of `rows` rows; ValueError for a column that does not line up."""
    import numpy as np

    columns: dict[str, tuple[Grow, Grow]] = {}
    for i, name in enumerate(names):
        values = Grow.of(arrays[f"v{i}"])
        where = Grow.of(arrays[f"r{i}"] if f"r{i}" in arrays else np.arange(values.size, dtype=np.int64))
        if where.size != values.size or (where.size and not 0 <= where.data[where.size - 1] < rows):
            raise ValueError("a column does not line up with the rows")
        columns[str(name)] = (where, values)
    return columns
