"""The N-way config diff: every run's config (nested keys as dotted paths) and origin side by side, each key
marked as differing or not by the meaning of its values.

Equality is by meaning, not by spelling, so that the same setting written by two tools is not a difference:

- numbers compare as numbers: `3 == 3.0`, `1e-3 == 0.001`; a NaN equals a NaN (a diff asks "same setting?");
- a string that is exactly a number as a config file or command line spells one (`"3"`, `"0.001"`, `"1e-3"`,
  not `"007"`, `" 3"`, `"nan"` or `"v3"`) compares as that number, in every layout: W&B configs of argparse
  string options and TensorBoard hparams stringified before `add_hparams` hold such strings, and a value shown
  as `3` in one column and `3` in another must not be called different. It is shown as written;
- a bool stays a bool: `True != 1`. torch's `add_hparams` stores a bool as the number 1.0 or 0.0 (its number
  branch catches bools first) and the TensorBoard reader reads that as the int 1 or 0, so such a run's `True`
  is a 1: the row differs, and its `note` says why;
- `None` (YAML's null) is a value; a key a run does not have is `MISSING`, shown as "—", never as None or "";
- lists (and mappings inside them) are compared as whole values, element by element by the same rules.

A run's origin (git commit and dirty state, command line, Python and torch versions, host, start time) is part
of the diff, in its own section, from what each layout records (`RunSource.origin`). Everything else comes from
the records a scan already holds, so a thousand runs diff in a few tens of milliseconds.
"""

from __future__ import annotations

import math
import re
import shlex
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..reading.configtree import flatten
from ..reading.records import RunRecord

CONFIG, ORIGIN = "config", "origin"
Section = Literal["config", "origin"]
MISSING_TEXT = "—"
# The origin rows, in the order they are shown.
ORIGIN_KEYS = ("git.commit", "git.dirty", "argv", "python", "torch", "host", "started")
SHORT_COMMIT = 7  # git's own default abbreviation


class _Missing:
    """The value of a key a run does not have: distinct from None (a value) and from "" (a value too)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __str__(self) -> str:
        return MISSING_TEXT

    def __reduce__(self) -> str:
        return "MISSING"  # copies and pickles stay the one sentinel


MISSING: Any = _Missing()


@dataclass(frozen=True)
class DiffKey:
    """One row of the diff: a dotted key, its value in each run (`MISSING` where a run lacks it), whether those
    values differ by meaning, its section ("config" or "origin") and a note where the difference needs one."""

    key: str
    values: list[Any]
    differs: bool
    section: Section = CONFIG
    note: str | None = None

    @property
    def missing(self) -> int:
        """How many runs lack this key."""
        return sum(1 for v in self.values if v is MISSING)

    def texts(self) -> list[str]:
        """The values as shown: numbers aligned on the decimal point, missing as "—"."""
        return align_numbers(self.values)


@dataclass
class ConfigDiff:
    """The diff of several runs: `keys` in config order (the order keys first appear across the runs, config
    section first, then the origin rows), each with one value per run, in the order of `records`."""

    records: list[RunRecord]
    keys: list[DiffKey] = field(default_factory=list)

    def differing(self) -> list[DiffKey]:
        """Only the keys whose values differ: the default view."""
        return [k for k in self.keys if k.differs]

    def all(self) -> list[DiffKey]:
        """Every key, differing or not."""
        return list(self.keys)

    def same(self) -> list[DiffKey]:
        """The keys every run has with one value (what "only what differs" leaves out)."""
        return [k for k in self.keys if not k.differs]

    def section(self, name: Section) -> list[DiffKey]:
        """The keys of one section, "config" or "origin"."""
        return [k for k in self.keys if k.section == name]

    def get(self, key: str, section: Section = CONFIG) -> DiffKey | None:
        """The row for `key` in `section`, None if no run has it."""
        for k in self.keys:
            if k.key == key and k.section == section:
                return k
        return None

    def __len__(self) -> int:
        return len(self.keys)


def config_diff(records: Sequence[RunRecord], *, include_origin: bool = True) -> ConfigDiff:
    """The diff of `records`' configs (nested keys flattened to dotted paths) and, with `include_origin`, of where
    and how each run started; one value per run in each row, `MISSING` where a run lacks the key."""
    records = list(records)
    flats = [flatten(r.config) if isinstance(r.config, dict) else {} for r in records]
    order: dict[str, None] = {}
    for flat in flats:
        order.update(dict.fromkeys(flat))
    tensorboard = [r.info.format == "tensorboard" for r in records]
    keys = [_row(key, [flat.get(key, MISSING) for flat in flats], CONFIG, tensorboard) for key in order]
    if include_origin:
        origins = [origin_of(r) for r in records]
        keys += [_row(key, [o.get(key, MISSING) for o in origins], ORIGIN, tensorboard)
                 for key in ORIGIN_KEYS if any(key in o for o in origins)]
    return ConfigDiff(records, keys)


_PLAIN = (str, int, float, bool)


def _row(key: str, values: list[Any], section: Section, tensorboard: list[bool]) -> DiffKey:
    first = values[0] if values else None
    kind = type(first)
    # the common case, one value of one plain type in every run, needs no stand-ins (NaN != NaN takes the long way)
    if kind in _PLAIN and all(type(v) is kind and v == first for v in values):
        return DiffKey(key, values, False, section)
    canon = [comparable(v) for v in values]
    differs = any(c != canon[0] for c in canon)
    note = None
    if differs and any(tensorboard):
        note = _bool_note(values, tensorboard)
    return DiffKey(key, values, differs, section, note)


def _bool_note(values: list[Any], tensorboard: list[bool]) -> str | None:
    """Why a bool differs from a TensorBoard run's 1 or 0, where that is all that differs."""
    kinds = {("bool" if type(v) is bool else "01" if type(v) is int and v in (0, 1) and tb else "other")
             for v, tb in zip(values, tensorboard, strict=True) if v is not MISSING}
    if kinds == {"bool", "01"}:
        return "TensorBoard stores a bool hparam as 1 or 0"
    return None


# A string that spells a number as a config file or a command line would: an integer without leading zeros, or a
# decimal with an optional exponent. Text such as "007", "v3", " 3", "nan" or "1_000" stays text.
_NUMBER = re.compile(r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?(?:0|[1-9][0-9]*)")


def number_in(text: str) -> int | float | None:
    """The number a string spells (see `_NUMBER`), None for any other text."""
    if len(text) > 64 or not _NUMBER.fullmatch(text):
        return None
    return int(text) if _INTEGER.fullmatch(text) else float(text)


def comparable(value: Any) -> Any:
    """A hashable stand-in for `value` that is equal exactly when two values mean the same (see the module's
    rules): numbers and numeric strings by value, NaN equal to NaN, bools apart from numbers, lists by element."""
    kind = type(value)
    if kind is bool:
        return ("bool", value)
    if kind is int:
        return ("num", value)
    if kind is float:
        return ("num", "nan") if value != value else ("num", value)
    if kind is str:
        number = number_in(value)
        if number is None:
            return ("str", value)
        return ("num", "nan") if number != number else ("num", number)
    if value is None:
        return ("none",)
    if value is MISSING:
        return ("missing",)
    if isinstance(value, (list, tuple)):
        return ("list", tuple(comparable(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), comparable(v)) for k, v in value.items())))
    if isinstance(value, (int, float)) and not isinstance(value, bool):  # numpy scalars and friends
        return comparable(float(value) if isinstance(value, float) else int(value))
    if hasattr(value, "item") and callable(value.item):
        try:
            return comparable(value.item())
        except (TypeError, ValueError):
            pass
    return ("other", repr(value))


def same_value(a: Any, b: Any) -> bool:
    """True when `a` and `b` mean the same setting (see the module's rules)."""
    return comparable(a) == comparable(b)


# -- origin -------------------------------------------------------------------------------------------------------

def origin_of(record: RunRecord) -> dict[str, Any]:
    """Where and how a run started, as far as its layout records it: `git.commit` (short), `git.dirty`, `argv`
    (one string), `python`, `torch`, `host`, `started` (local time). Facts a layout does not record are absent."""
    info = record.info
    facts: dict[str, Any] = {}
    if info.host:
        facts["host"] = str(info.host)
    if info.created is not None and math.isfinite(info.created):
        facts["started"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.created))
    raw: dict[str, Any] = {}
    if record.source is not None:
        try:
            raw = record.source.origin()
        except Exception:  # an origin that cannot be read is only missing: the config diff stands
            raw = {}
    commit = raw.get("git.commit")
    if isinstance(commit, str) and commit:
        facts["git.commit"] = commit[:SHORT_COMMIT]
    if isinstance(raw.get("git.dirty"), bool):
        facts["git.dirty"] = raw["git.dirty"]
    argv = raw.get("argv")
    if isinstance(argv, (list, tuple)) and argv:
        facts["argv"] = shlex.join(str(a) for a in argv)
    elif isinstance(argv, str) and argv:
        facts["argv"] = argv
    for key in ("python", "torch", "host"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            facts[key] = value
    return facts


# -- display ------------------------------------------------------------------------------------------------------

def format_value(value: Any) -> str:
    """One value as a diff shows it: as written, "—" for a missing key, `""` for an empty string, `None` for null,
    a float as the shortest text that reads back the same."""
    if value is MISSING:
        return MISSING_TEXT
    if value is None:
        return "None"
    kind = type(value)
    if kind is str:
        return value if value else '""'
    if kind is float:
        return _float_text(value)
    if kind is bool or kind is int:
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        return repr(value)
    return str(value)


def _float_text(value: float) -> str:
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def align_numbers(values: Iterable[Any]) -> list[str]:
    """The values as shown in one column, numbers lined up: each number right-aligned on its decimal point, the
    floats given the same number of decimals (0.1 and 0.25 as `0.10` and `0.25`), or, where positional text would
    be unreadable (magnitudes below 1e-4 or from 1e15), every number in scientific notation with the same number
    of significant digits. No number is rounded: each keeps the digits that tell it apart. Other values are
    `format_value`'s text, unpadded (the face aligns them)."""
    values = list(values)
    texts = [format_value(v) for v in values]
    numbers = [i for i, v in enumerate(values) if _is_number(v)]
    if not numbers:
        return texts
    finite = [values[i] for i in numbers if math.isfinite(values[i])]
    scientific = any(v != 0 and (abs(v) < 1e-4 or abs(v) >= 1e15) for v in finite)
    parts: dict[int, tuple[str, str]] = {}  # index -> (left of the point, the point and what follows)
    if scientific:
        digits = max((_significant(v) for v in finite), default=1)
        for i in numbers:
            v = values[i]
            if not math.isfinite(v):
                parts[i] = (_float_text(float(v)), "")
                continue
            text = _scientific(v, digits)
            cut = text.find(".") if "." in text else text.find("e")
            parts[i] = (text[:cut], text[cut:])
    else:
        # below 1e15 and from 1e-4 up, repr writes a float without an exponent
        decimals = max((len(repr(values[i]).partition(".")[2]) for i in numbers
                        if type(values[i]) is float and math.isfinite(values[i])), default=0)
        for i in numbers:
            v = values[i]
            if type(v) is float and math.isfinite(v):
                head, _, tail = repr(v).partition(".")
                parts[i] = (head, "." + tail.ljust(decimals, "0"))
            else:
                parts[i] = (format_value(v), "")
    left = max(len(h) for h, _ in parts.values())
    right = max(len(t) for _, t in parts.values())
    for i, (head, tail) in parts.items():
        texts[i] = head.rjust(left) + tail.ljust(right)
    return texts


def _significant(value: float | int) -> int:
    """How many significant digits the shortest text that reads back as `value` has."""
    if type(value) is int:
        return max(1, len(str(abs(value)).rstrip("0")))
    mantissa = repr(float(value)).lower().partition("e")[0].lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    return max(1, len(mantissa))


def _scientific(value: float | int, digits: int) -> str:
    """`value` in scientific notation with `digits` significant digits (`2.50e-04`)."""
    return f"{float(value):.{max(0, digits - 1)}e}"


def cell_width(text: str) -> int:
    """Columns `text` takes in a terminal: wide (East Asian) characters take two, combining marks none."""
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


_BREAK_AFTER = ",;/_-.=:"


def fold(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns for a narrow cell: broken at the last space that falls in the
    line, else after its last separator (`,` `/` `_` `-` `.` `=` `:`), else at the width; its own line breaks
    are kept."""
    width = max(1, width)
    out: list[str] = []
    for line in text.split("\n"):
        while cell_width(line) > width:
            cut, used, space, mark = 0, 0, 0, 0
            for i, char in enumerate(line):
                used += cell_width(char)
                if used > width:
                    if char == " ":
                        space = i  # a space just past the width: the line breaks there
                    break
                cut = i + 1
                if char == " " and i > 0:
                    space = i
                elif char in _BREAK_AFTER:
                    mark = i + 1
            if space:
                out.append(line[:space].rstrip(" "))
                line = line[space:].lstrip(" ")
            else:
                cut = mark or max(cut, 1)
                out.append(line[:cut])
                line = line[cut:]
        out.append(line)
    return out
