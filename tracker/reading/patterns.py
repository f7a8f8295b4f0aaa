"""The table of named patterns that turn plain log lines into metric rows.

Each pattern is a regular expression (matched case-insensitively anywhere in a line) with a named group
`step` (or `epoch`) and one named group per metric, or, with `kv = true`, a step anchor after which
`Name: value` / `name=value` pairs are all taken (`Train Loss: 0.71 - LR: 5e-05` gives `train_loss`, `lr`).
Users add their own in `runyard.toml`, in the runs root or in the user config folder:

    [[patterns]]
    name = "my_eval"
    regex = 'epoch (?P<step>\\d+) .* acc=(?P<val_acc>[0-9.]+)'

Patterns from runyard.toml are tried before the built-in ones; runyard.toml files beside a log and in the
folders above it (up to the runs root) apply to it, the nearest first.

A line redrawn with carriage returns (a tqdm progress bar) is read as its last drawing, the state the log
shows. A tqdm bar is read by its own rule: its counter is the step (`epoch * total + n` when its description
names an epoch, as Lightning's `Epoch 3: ...| 40/100` does) and its postfix `name=value` pairs are the metrics,
except labels: a postfix field that holds the same whole number in every drawing of every bar (Lightning's
version number `v_num`, a seed, a device index) identifies the run and is not a metric. A bar drawn on
after a line break (a nested bar such as Lightning's validation bar breaks it) is still one bar: the drawing
before the break is superseded when no other row came between and the counter did not go back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tomllib

from ..files import is_regular, read_bytes
from .textsafe import clean_block

NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)"

BUILTIN = (
    ("nanogpt_eval", rf"\bstep (?P<step>\d+): train loss (?P<train_loss>{NUM}), val loss (?P<val_loss>{NUM})", False),
    ("nanogpt_iter", rf"\biter (?P<step>\d+): loss (?P<train_loss>{NUM})(?:, time (?P<iter_ms>{NUM})ms)?"
                     rf"(?:, mfu (?P<mfu>{NUM})%)?", False),
    ("epoch_kv", r"\bepoch[ :=]+(?P<step>\d+)(?:/\d+)?\b", True),
    ("step_kv", r"\b(?:step|iter|iteration)[ :=]+(?P<step>\d+)\b", True),
)

_KV = re.compile(rf"([A-Za-z][A-Za-z0-9_./ ]{{0,40}}?)\s*[:=]\s*({NUM})(?![\w.])", re.IGNORECASE)

# tqdm's own drawing: `desc: 45%|####      | 45/100 [00:04<00:05, 9.80it/s, loss=1.2, v_num=0]`, or without a
# total `45it [00:04, 9.80it/s, loss=1.2]`; the postfix follows the rate.
_BAR = re.compile(
    r"(?:(?<!\d)\d{1,3}%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)|(?<![\w.])(?P<count>\d+)it)"
    r" \[[\d:]+(?:<[\d:?]+)?, [^,\]]*(?:, (?P<postfix>[^\]]*))?\]")
_BAR_EPOCH = re.compile(r"\bepoch\s*(\d+)", re.IGNORECASE)
_PAIR = re.compile(rf"([A-Za-z_][\w./-]*)=({NUM})(?=,|\s*$)", re.IGNORECASE)


@dataclass(frozen=True)
class Pattern:
    """One named line pattern."""

    name: str
    regex: re.Pattern[str]
    kv: bool = False

    def match(self, line: str) -> dict[str, float] | None:
        """Metrics (with `step`) from a line, or None when the line is not of this pattern."""
        m = self.regex.search(line)
        if m is None:
            return None
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        step = groups.pop("step", None) or groups.pop("epoch", None)
        if step is None:
            return None
        row = {"step": float(step)}
        for key, value in groups.items():
            row[key] = float(value)
        if self.kv:
            for name, value in _KV.findall(line[m.end():]):
                key = metric_name(name)
                if key and key not in ("step", "epoch"):
                    row[key] = float(value)
            if len(row) == 1:
                return None
        return row


class BarRow(dict):
    """A row read from a progress bar's postfix (its fields may be labels; see `read_rows`); `bar` tells one
    bar from another (its description and total)."""

    bar: tuple[str, str | None] = ("", None)


@dataclass(frozen=True)
class ProgressBar:
    """tqdm's progress bar as a line pattern: the step from its counter, the metrics from its postfix."""

    name: str = "progress_bar"

    def match(self, line: str) -> BarRow | None:
        """The bar's row, or None when the line is no bar or its postfix holds no number."""
        if "[" not in line or ("%|" not in line and "it [" not in line):  # most lines: no bar, no regex search
            return None
        m = _BAR.search(line)
        if m is None or not m["postfix"]:
            return None
        pairs = _PAIR.findall(m["postfix"])
        if not pairs:
            return None
        if m["count"] is not None:
            step = int(m["count"])
        else:
            epoch = _BAR_EPOCH.search(line, 0, m.start())
            step = int(m["n"]) + (int(epoch[1]) * int(m["total"]) if epoch else 0)
        row = BarRow(step=float(step))
        row.bar = (line[: m.start()].strip(), m["total"])
        for name, value in pairs:
            key = metric_name(name)
            if key and key not in ("step", "epoch"):
                row[key] = float(value)
        return row if len(row) > 1 else None


def drawings(line: str) -> list[str]:
    """The states a line redrawn with carriage returns went through, last (the one the log shows) last;
    terminal escape sequences removed. A line without `\\r` is its one state."""
    if "\x1b" in line or "\x9b" in line:
        line = clean_block(line)
    if "\r" not in line:
        return [line]
    parts = [p for p in line.split("\r") if p]
    return parts or [""]


def final_state(line: str) -> str:
    """What a redrawn line finally shows (see `drawings`)."""
    return drawings(line)[-1]


def read_rows(lines: Iterable[str], patterns: tuple[Pattern | ProgressBar, ...]) -> list[tuple[int, dict[str, float]]]:
    """(line index, metric row) for each line of a log that matches a pattern, reading each line's last drawing;
    progress-bar labels (see the module's docstring) are left out."""
    rows: list[tuple[int, dict[str, float]]] = []
    bar_values: dict[str, set[float]] = {}
    for i, line in enumerate(lines):
        states = drawings(line)
        row = match_line(states[-1], patterns)
        if row is None:
            continue
        if type(row) is BarRow and rows and _drawn_on(rows[-1][1], row):
            rows.pop()  # the same bar drawn on again after a line break (a nested bar's): its last drawing counts
        rows.append((i, row))
        if type(row) is BarRow:
            for state in states:  # every drawing is evidence of which fields never change
                drawn = row if state is states[-1] else _BAR_READER.match(state)
                for key, value in (drawn or {}).items():
                    bar_values.setdefault(key, set()).add(value)
    labels = {key for key, values in bar_values.items()
              if key != "step" and len(values) == 1 and next(iter(values)).is_integer()}
    if not labels:
        return rows
    kept = []
    for i, row in rows:
        if type(row) is BarRow:
            row = {k: v for k, v in row.items() if k not in labels}
            if len(row) == 1:
                continue
        kept.append((i, row))
    return kept


def _drawn_on(before: dict[str, float], row: BarRow) -> bool:
    """True if `row` is the bar of the row `before` drawn further (same bar, its counter not gone back)."""
    return type(before) is BarRow and before.bar == row.bar and row["step"] >= before["step"]


@lru_cache(maxsize=4096)
def metric_name(text: str) -> str:
    """`Train Loss` -> `train_loss`, `val/loss` stays (memoised: a log names the same metrics on every line)."""
    return _NOT_NAME.sub("_", text.strip().lower()).strip("_")


_NOT_NAME = re.compile(r"[^a-z0-9/._]+")


def _compile(name: str, regex: str, kv: bool) -> Pattern:
    return Pattern(name, re.compile(regex, re.IGNORECASE), kv)


PatternTable = tuple[tuple[Pattern | ProgressBar, ...], tuple[str, ...]]  # (patterns in order, problems found)


def config_files(root: Path | None, near: Path | None = None) -> list[Path]:
    """The runyard.toml files that apply, first to last: in the folder `near` (a log's) and each folder above it up
    to the runs root, in the runs root, then in the user config folder (`$XDG_CONFIG_HOME/runyard/`)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    folders = [] if near is None else [near, *_folders_up_to(near, root)]
    if root is not None and root not in folders:
        folders.append(root)
    files = [folder / "runyard.toml" for folder in folders] + [Path(base) / "runyard" / "runyard.toml"]
    return [f for f in files if is_regular(f)]  # an unreadable folder (another user's home) holds none


def settings_versions(root: Path | None) -> tuple[tuple[str, int, int], ...]:
    """The runyard.toml files that apply to runs under `root`, each with its size and mtime: a key that changes
    when a file does, for caches of what was read from them."""
    versions = []
    for path in config_files(root):
        try:
            st = os.stat(path)
        except OSError:
            continue
        versions.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(versions)


def settings_tables(versions: tuple[tuple[str, int, int], ...], table: str,
                    shape: str = "") -> tuple[list[tuple[str, dict]], list[str]]:
    """The `[table]` of each settings file in `versions` (first to last), and the problems met: a file that does
    not read or parse, or a `table` that is not a table (`shape` says what it should hold)."""
    found: list[tuple[str, dict]] = []
    problems: list[str] = []
    for name, _, _ in versions:
        try:
            value = tomllib.loads(read_bytes(name).decode("utf-8-sig")).get(table, {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        if not isinstance(value, dict):
            problems.append(f"{name}: [{table}] must be a table{shape}")
            continue
        found.append((name, value))
    return found, problems


def _folders_up_to(folder: Path, root: Path | None) -> list[Path]:
    """The folders above `folder`, up to and including `root` when `folder` lies inside it; none otherwise."""
    if root is None:
        return []
    if not folder.is_relative_to(root):
        folder, root = folder.resolve(), root.resolve()
        if not folder.is_relative_to(root):
            return []
    return list(folder.parents)[: len(folder.parts) - len(root.parts)]


def patterns_for(root: Path | None, near: Path | None = None) -> PatternTable:
    """The pattern table for a log in folder `near` under runs root `root`: user patterns first (see
    `config_files`), then the built-ins; plus problems found. Read again when a runyard.toml changes."""
    stamps = []
    for path in config_files(root, near):
        try:
            st = path.stat()
        except OSError:
            continue
        stamps.append((path, st.st_size, st.st_mtime_ns))
    return _table(tuple(stamps))


@lru_cache(maxsize=32)
def _table(files: tuple[tuple[Path, int, int], ...]) -> PatternTable:
    user: list[Pattern] = []
    problems: list[str] = []
    for path, _, _ in files:
        try:
            data = tomllib.loads(read_bytes(path).decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        for i, entry in enumerate(data.get("patterns", [])):
            try:
                pattern = _compile(str(entry.get("name", f"user{i}")), str(entry["regex"]), bool(entry.get("kv")))
            except (KeyError, re.error, AttributeError) as exc:
                problems.append(f"{path}: pattern {i + 1}: {exc}")
                continue
            if not ({"step", "epoch"} & set(pattern.regex.groupindex)):
                problems.append(f"{path}: pattern {pattern.name!r} has no (?P<step>...) or (?P<epoch>...) group")
                continue
            user.append(pattern)
    return (*user, _BAR_READER, *_BUILTIN), tuple(problems)


def match_line(line: str, patterns: tuple[Pattern | ProgressBar, ...]) -> dict[str, float] | None:
    """The first pattern's reading of a line."""
    for pattern in patterns:
        row = pattern.match(line)
        if row is not None:
            return row
    return None


_BAR_READER = ProgressBar()
_BUILTIN = tuple(_compile(*b) for b in BUILTIN)
