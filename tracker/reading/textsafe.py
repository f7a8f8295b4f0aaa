"""Making untrusted text from a run's files safe to show: no terminal escape sequence or control character gets
through.

Log lines go through `clean_line`; every shorter string a run's files supply (a run name, a metric name, a tag,
a config key or value, an error read from a file) goes through `clean_field`, the same filter made to fit on one
line. Text shown in the app or by the command line additionally goes in as `rich.text.Text` / Textual
`Content`, never as markup, so `[bold red]` in a log line or a name is shown literally.
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
# Invisible format characters, taken out: bidirectional overrides and isolates (they reorder what follows on the
# screen: a name could show as another), zero-width spaces and joiners, word joiners, the BOM and soft hyphen
# (terminals disagree on their width, so a row containing one shifts its later columns).
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_BREAKS = re.compile(r"\r\n|[\t\n\r\x0b\x0c]")
MAX_LINE = 10_000


def clean_line(text: str) -> str:
    """One log line as plain printable text: escapes removed, `\\r` progress redraws collapsed, tabs expanded."""
    if "\r" in text:
        parts = [p for p in text.split("\r") if p]
        text = parts[-1] if parts else ""
    text = _ESCAPES.sub("", text)
    text = _INVISIBLE.sub("", _CONTROLS.sub("\ufffd", text)).expandtabs(4)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


def clean_field(text: str, *, newlines: bool = False) -> str:
    """A name, tag, key or value from a run's files as printable text on one line (several with `newlines`).

    Escapes are removed as in `clean_line`; tabs and line breaks become spaces (so a table cell or a TSV field
    stays one cell), any other control character a visible U+FFFD. Nothing is collapsed: `a\\rb` stays
    readable as `a b`, where a log line shows only what a terminal would have left.
    """
    if text.isprintable():  # the common case, decided in C: no escape, control or line break anywhere
        return text
    text = _ESCAPES.sub("", text)
    if newlines:
        text = "\n".join(_BREAKS.sub(" ", part) for part in re.split(r"\r\n|\n", text))
    else:
        text = _BREAKS.sub(" ", text)
    text = _INVISIBLE.sub("", _CONTROLS.sub("\ufffd", text))
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


def clean_block(text: str) -> str:
    """Several lines with escape sequences removed (for output that is not going to a terminal)."""
    return _ESCAPES.sub("", text)
