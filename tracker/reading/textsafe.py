"""Making untrusted log text safe to show: no terminal escape sequence or control character gets through.

Text shown in the app additionally goes in as `rich.text.Text` / Textual `Content`, never as markup, so
`[bold red]` in a log line is shown literally.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), DCS/SOS/PM/APC strings, and two-byte ESC sequences.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
MAX_LINE = 10_000


def clean_line(text: str) -> str:
    """One log line as plain printable text: escapes removed, `\\r` progress redraws collapsed, tabs expanded."""
    if "\r" in text:
        parts = [p for p in text.split("\r") if p]
        text = parts[-1] if parts else ""
    text = _ESCAPES.sub("", text)
    text = _CONTROLS.sub("\ufffd", text).expandtabs(4)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


def clean_block(text: str) -> str:
    """Several lines with escape sequences removed (for output that is not going to a terminal)."""
    return _ESCAPES.sub("", text)
