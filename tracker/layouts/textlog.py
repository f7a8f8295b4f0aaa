"""Plain text logs: metrics taken from log lines by the pattern table (see `tracker.reading.patterns`).

Used on its own for any `.log`/`.txt` file whose first lines hold metrics, and by the nanoGPT and FPN
layouts for their log files. Times come from each line's leading timestamp when it has one. Files are decoded
by `reading.textcodec` (UTF-8, or UTF-16 by its byte-order mark); lines end at `\n` (a `\r\n` ending too), and
a line redrawn with `\r` reads as its last drawing, as the log view shows it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ..files import open_binary
from ..model import FINISHED, INTERRUPTED, RUNNING, RunInfo
from ..reading.patterns import (
    PatternTable,
    ProgressBar,
    config_files,
    final_state,
    match_line,
    patterns_for,
    read_rows,
)
from ..reading.textcodec import decode_text, read_text
from .base import Detection, MetricColumns, RunSource
from .common import last_line_time, line_time

_SNIFF = 64 * 1024
_SUFFIXES = (".log", ".txt")
# Names no training log has: a project's documents and a tokenizer's word lists sit beside runs and checkpoints
# (some of them large), and are never read to find out.
_NEVER_LOGS = frozenset({"readme", "license", "licence", "notice", "authors", "contributors", "copying",
                         "changelog", "cmakelists", "robots", "vocab", "merges", "requirements", "constraints"})
# Every line a built-in pattern reads holds one of these words and, in lower case, matches this: a head that does
# not holds no metric line, which a few substring searches of the whole head tell far sooner than the patterns.
_HINT_WORDS = ("step", "iter", "epoch", "%|", "it [")
_BUILTIN_HINT = re.compile(r"\b(?:step|iter(?:ation)?|epoch)[ :=]+\d|%\||\dit \[")
# Letters that match `s` or `i` when case is ignored but do not lower to them: a head holding one goes to the patterns.
_CASE_ODD = re.compile("[\u0130\u0131\u017f]")


def parse_log(path: Path, root: Path | None = None) -> tuple[list[dict[str, float]], list[str]]:
    """(metric rows, all lines as shown) of a text log; read-only results, shared while the file is unchanged.

    A listing needs a log twice (its info, then its metrics for the summary): it is parsed once. The patterns
    are those of the runyard.toml files beside the log and above it up to `root` (see `patterns.config_files`).
    """
    st = path.stat()
    return _parse_log(path, root, st.st_size, st.st_mtime_ns, patterns_for(root, path.parent))


@lru_cache(maxsize=8)
def _parse_log(path: Path, root: Path | None, size: int, mtime_ns: int,
               table: tuple) -> tuple[list[dict[str, float]], list[str]]:
    patterns, _ = table
    raw = split_lines(read_text(path))
    lines = [final_state(line) for line in raw] if any("\r" in x or "\x1b" in x for x in raw) else raw
    stamps = [line_time(line) for line in lines]
    rows = []
    last_time = None
    at = 0
    for i, row in read_rows(raw, patterns):
        while at <= i:  # a line without a stamp is as old as the last stamped line before it
            if stamps[at] is not None:
                last_time = stamps[at]
            at += 1
        if "time" in row:  # a metric the line logged as `time`: the row's own `time` is the line's stamp
            row[LOGGED_TIME] = row.pop("time")
        row["time"] = stamps[i] if stamps[i] is not None else last_time
        rows.append(row)
    return rows, lines


def split_lines(text: str) -> list[str]:
    """A log's lines as the tail reader cuts them: at `\n` only, a `\r\n` ending taken off (a lone `\r` is a
    redraw, kept for `patterns.drawings`)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if "\r\n" in text:
        lines = [line.removesuffix("\r") for line in lines]
    return lines


# Where a row keeps a metric the log itself named `time` (its column is then `time_`, see `metric_column`).
LOGGED_TIME = "\x00time"


def log_columns(rows: list[dict[str, float]]) -> MetricColumns:
    """Rows from `parse_log` as metric columns: each row logged the metrics its line named."""
    return MetricColumns.from_rows([int(row["step"]) for row in rows], [row.get("time") for row in rows],
                                   [{("time" if k == LOGGED_TIME else k): v for k, v in row.items()
                                     if k not in ("step", "time")} for row in rows])


def could_be_log(name: str) -> bool:
    """True for a file name a plain text log may have (`.log`/`.txt`, not hidden, not a README or a tokenizer's
    vocab.txt): decided from the name alone, so only such files are ever read to find out."""
    if not name.endswith(_SUFFIXES) or name.startswith("."):
        return False
    stem = name[:-4].lower()
    return stem not in _NEVER_LOGS and not stem.startswith(("requirements", "constraints"))


def sniff(path: Path | str, root: Path | None, table: PatternTable | None = None) -> bool:
    """True if the head of a text file holds at least one metric line (`table`: the patterns of its folder, when
    the caller has them already)."""
    return not_a_log(path, root, table) is None


def not_a_log(path: Path | str, root: Path | None = None, table: PatternTable | None = None) -> str | None:
    """Why a file is not a text log runyard reads (one line), or None when its head holds a metric line."""
    try:
        with open_binary(path) as fh:
            head = fh.read(_SNIFF)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not head:
        return "the file is empty"
    text = decode_text(head)
    patterns, _ = table if table is not None else patterns_for(root, Path(path).parent)
    if _may_hold_metrics(text, patterns) and any(match_line(final_state(line), patterns)
                                                 for line in split_lines(text)):
        return None
    if "\x00" in text:
        return "a binary file, not a text log"
    return f"no line in its first {_SNIFF // 1024} KiB reads as a step with metric values"


def _may_hold_metrics(text: str, patterns: tuple) -> bool:
    """False when no line of `text` can match: only the built-in patterns apply and their words are not there.
    Lines with escape sequences are read cleaned, so those always go to the patterns."""
    if type(patterns[0]) is not ProgressBar or "\x1b" in text or "\x9b" in text:  # a user pattern comes first
        return True
    if not text.isascii() and _CASE_ODD.search(text):
        return True
    low = text.lower()
    return any(word in low for word in _HINT_WORDS) and _BUILTIN_HINT.search(low) is not None


def detect_files(directory: Path, names: list[str], root: Path | None) -> Detection | None:
    """Every unclaimed `.log`/`.txt` file in a folder whose first lines hold metrics is a run."""
    candidates = [n for n in sorted(names) if could_be_log(n)]
    table = patterns_for(root, directory) if candidates else None  # once per folder, not per file
    runs = [TextLogSource(directory / n, root) for n in candidates if sniff(directory / n, root, table)]
    return Detection(runs, descend=True) if runs else None


class TextLogSource(RunSource):
    format = "textlog"

    def __init__(self, path: Path, root: Path | None = None) -> None:
        super().__init__(path)
        self.root = root

    def key_files(self) -> list[Path]:
        """The log, and the runyard.toml files whose patterns read it."""
        return [self.path, *config_files(self.root, self.path.parent)]

    def read_info(self) -> RunInfo:
        rows, lines = parse_log(self.path, self.root)
        times = [line_time(x) for x in lines[:50]]
        created = next((t for t in times if t is not None), None)
        last_write = self.path.stat().st_mtime
        ended = lines and any(w in lines[-1].lower() for w in ("complete", "finished", "done", "ended"))
        # Without a closing line the run is live until the log goes quiet, then interrupted (see `liveness`).
        return RunInfo(id=self.path.stem, name=self.path.stem, path=self.path, format=self.format,
                       status=FINISHED if ended else RUNNING, quiet_status=INTERRUPTED,
                       last_logged=last_line_time(lines), created=created, last_write=last_write, rows=len(rows),
                       last_step=int(rows[-1]["step"]) if rows else None)

    def metrics_data(self) -> MetricColumns:
        return log_columns(parse_log(self.path, self.root)[0])

    def log_path(self) -> Path | None:
        return self.path
