"""The table of named patterns that turn plain log lines into metric rows.

Each pattern is a regular expression (matched case-insensitively anywhere in a line) with a named group
`step` (or `epoch`) and one named group per metric, or, with `kv = true`, a step anchor after which
`Name: value` / `name=value` pairs are all taken (`Train Loss: 0.71 - LR: 5e-05` gives `train_loss`, `lr`).
Users add their own in `runyard.toml`, in the runs root or in the user config folder:

    [[patterns]]
    name = "my_eval"
    regex = 'epoch (?P<step>\\d+) .* acc=(?P<val_acc>[0-9.]+)'

Patterns from runyard.toml are tried before the built-in ones.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import tomllib

NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf)"

BUILTIN = (
    ("nanogpt_eval", rf"\bstep (?P<step>\d+): train loss (?P<train_loss>{NUM}), val loss (?P<val_loss>{NUM})", False),
    ("nanogpt_iter", rf"\biter (?P<step>\d+): loss (?P<train_loss>{NUM})(?:, time (?P<iter_ms>{NUM})ms)?"
                     rf"(?:, mfu (?P<mfu>{NUM})%)?", False),
    ("epoch_kv", r"\bepoch[ :=]+(?P<step>\d+)(?:/\d+)?\b", True),
    ("step_kv", r"\b(?:step|iter|iteration)[ :=]+(?P<step>\d+)\b", True),
)

_KV = re.compile(rf"([A-Za-z][A-Za-z0-9_./ ]{{0,40}}?)\s*[:=]\s*({NUM})(?![\w.])", re.IGNORECASE)


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
                if key and key not in ("step", "epoch", "time"):
                    row[key] = float(value)
            if len(row) == 1:
                return None
        return row


def metric_name(text: str) -> str:
    """`Train Loss` -> `train_loss`, `val/loss` stays."""
    return re.sub(r"[^a-z0-9/._]+", "_", text.strip().lower()).strip("_")


def _compile(name: str, regex: str, kv: bool) -> Pattern:
    return Pattern(name, re.compile(regex, re.IGNORECASE), kv)


def config_files(root: Path | None) -> list[Path]:
    """runyard.toml in the runs root, then in the user config folder (`$XDG_CONFIG_HOME/runyard/`)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    files = [Path(base) / "runyard" / "runyard.toml"]
    if root is not None:
        files.insert(0, root / "runyard.toml")
    return [f for f in files if f.is_file()]


@lru_cache(maxsize=32)
def patterns_for(root: Path | None) -> tuple[tuple[Pattern, ...], tuple[str, ...]]:
    """The pattern table for a runs root: user patterns first, then the built-ins; plus problems found."""
    user: list[Pattern] = []
    problems: list[str] = []
    for path in config_files(root):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
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
    return tuple(user) + tuple(_compile(*b) for b in BUILTIN), tuple(problems)


def match_line(line: str, patterns: tuple[Pattern, ...]) -> dict[str, float] | None:
    """The first pattern's reading of a line."""
    for pattern in patterns:
        row = pattern.match(line)
        if row is not None:
            return row
    return None
