"""Help: the keys of the screen beneath, its widgets and the app, read from the bindings themselves so the
list cannot go stale."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Static


def key_label(binding: Binding) -> str:
    names = {"slash": "/", "question_mark": "?", "right_square_bracket": "]", "left_square_bracket": "[",
             "escape": "esc", "space": "space", "backspace": "⌫"}
    return ", ".join(names.get(k, k) for k in binding.key.split(","))


def binding_sections(screen: Screen) -> list[tuple[str, list[Binding]]]:
    """(section, bindings) for `screen` (the one beneath the help), its widgets, and the app.

    Read from the live DOM, so a new screen or widget lists its keys here without this module knowing it.
    """
    sections: list[tuple[str, list[Binding]]] = []
    later: list[tuple[str, list[Binding]]] = []  # keys the footer does not show: after those it does, everywhere
    seen: set[type] = set()
    for node in [screen.app, screen, *screen.walk_children(with_self=False)]:
        cls = type(node)
        if cls in seen or not cls.BINDINGS or not cls.__module__.startswith("runyard"):
            continue  # Textual's own widgets (inputs, the footer) bring keys every app has: not runyard's to list
        seen.add(cls)
        own = [b if isinstance(b, Binding) else Binding(*b) for b in cls.BINDINGS]
        shown = [b for b in own if b.description and b.show]
        hidden = [b for b in own if b.description and not b.show]
        if shown:
            sections.append((_section_name(node), shown))
        if hidden:
            later.append((_section_name(node), hidden))
    sections.extend(later)
    from . import catalogue  # the other main screens, listed after the one in use

    for title, classes in catalogue():
        if type(screen) in classes:
            continue
        own = [b if isinstance(b, Binding) else Binding(*b) for cls in classes for b in cls.BINDINGS]
        own = list({(b.key, b.description): b for b in own if b.description}.values())
        sections.append((f"{title} screen", own))
    return sections


def _section_name(node: DOMNode) -> str:
    """"everywhere" for the app, else the class name without its kind: RunsScreen -> runs, LogView -> log."""
    if isinstance(node, App):
        return "everywhere"
    name = type(node).__name__
    for suffix in ("Screen", "View", "Widget"):
        if name.endswith(suffix) and name != suffix:
            name = name[: -len(suffix)]
    return "".join(f" {c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(name))


class HelpScreen(ModalScreen[None]):
    """Every key, by screen."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 76; max-width: 95%; height: 90%; border: thick $primary; background: $surface; }
    HelpScreen DataTable { height: 1fr; }
    """

    def __init__(self, beneath: Screen) -> None:
        super().__init__()
        self.beneath = beneath

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("runyard keys — esc closes; ctrl+p finds any action by name", style="bold"))
            yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("where", "key", "does")
        for section, bindings in binding_sections(self.beneath):
            for b in bindings:
                does = Text(b.description)
                if b.tooltip and not b.tooltip.startswith(b.description):  # where it works (a compare tab)
                    does.append(f" — {b.tooltip}", style="dim")
                table.add_row(Text(section, style="dim"), Text(key_label(b), style="bold"), does)
        table.focus()
