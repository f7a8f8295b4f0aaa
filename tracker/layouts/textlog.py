"""Plain text logs: metrics taken from log lines by the pattern table (see `tracker.patterns`).

Used on its own for any `.log`/`.txt` file whose first lines hold metrics, and by the nanoGPT and FPN
layouts for their log files. Times come from each line's leading timestamp when it has one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..model import RunInfo
from ..reading.patterns import match_line, patterns_for
from .base import Detection, MetricColumns, RunSource
from .common import is_stale, last_line_time, line_time

_SNIFF = 64 * 1024
_SUFFIXES = (".log", ".txt")


def parse_log(path: Path, root: Path | None = None) -> tuple[list[dict[str, float]], list[str]]:
    """(metric rows, all lines) of a text log; read-only results, shared while the file is unchanged.

    A listing needs a log twice (its info, then its metrics for the summary): it is parsed once.
    """
    st = path.stat()
    return _parse_log(path, root, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=8)
def _parse_log(path: Path, root: Path | None, size: int, mtime_ns: int) -> tuple[list[dict[str, float]], list[str]]:
    patterns, _ = patterns_for(root)
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    rows = []
    last_time = None
    for line in lines:
        stamp = line_time(line)
        if stamp is not None:
            last_time = stamp
        row = match_line(line, patterns)
        if row is not None:
            row["time"] = stamp if stamp is not None else last_time
            rows.append(row)
    return rows, lines


def log_columns(rows: list[dict[str, float]]) -> MetricColumns:
    """Rows from `parse_log` as metric columns: each row logged the metrics its line named."""
    return MetricColumns.from_rows([int(row["step"]) for row in rows], [row.get("time") for row in rows],
                                   [{k: v for k, v in row.items() if k not in ("step", "time")} for row in rows])


def sniff(path: Path, root: Path | None) -> bool:
    """True if the head of a text file holds at least one metric line."""
    patterns, _ = patterns_for(root)
    try:
        with open(path, "rb") as fh:
            head = fh.read(_SNIFF).decode("utf-8", errors="replace")
    except OSError:
        return False
    return any(match_line(line, patterns) for line in head.splitlines())


def detect_files(directory: Path, names: list[str], root: Path | None) -> Detection | None:
    """Every unclaimed `.log`/`.txt` file in a folder whose first lines hold metrics is a run."""
    runs = [TextLogSource(directory / n, root) for n in sorted(names)
            if n.endswith(_SUFFIXES) and not n.startswith(".") and sniff(directory / n, root)]
    return Detection(runs, descend=True) if runs else None


class TextLogSource(RunSource):
    format = "textlog"

    def __init__(self, path: Path, root: Path | None = None) -> None:
        super().__init__(path)
        self.root = root

    def key_files(self) -> list[Path]:
        return [self.path]

    def read_info(self) -> RunInfo:
        rows, lines = parse_log(self.path, self.root)
        times = [line_time(x) for x in lines[:50]]
        created = next((t for t in times if t is not None), None)
        last_write = self.path.stat().st_mtime
        status = "interrupted" if is_stale(self.path, last_line_time(lines)) else "running"
        if lines and any(w in lines[-1].lower() for w in ("complete", "finished", "done", "ended")):
            status = "finished"
        return RunInfo(id=self.path.stem, name=self.path.stem, path=self.path, format=self.format, status=status,
                       created=created, last_write=last_write, rows=len(rows),
                       last_step=int(rows[-1]["step"]) if rows else None)

    def metrics_data(self) -> MetricColumns:
        return log_columns(parse_log(self.path, self.root)[0])

    def log_path(self) -> Path | None:
        return self.path
