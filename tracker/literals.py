"""Text that stands for a value (`3`, `1e-3`, `[1, 2]`, `true`): read as the literal it is, never executed.

Shared by the writer (command-line overrides) and the readers of text layouts (config lines in logs and folder
names), so `lr: 3e-4` in a nanoGPT log and `--lr=3e-4` on a command line mean the same value.
"""

from __future__ import annotations

import ast
from typing import Any


def parse_value(raw: str) -> Any:
    """A command-line value as a Python literal where it is one (3, 1e-3, [1, 2], True), else the string."""
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return raw
