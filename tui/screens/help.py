"""Help: every key of every screen, read from the bindings themselves so the list cannot go stale."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


def key_label(binding: Binding) -> str:
    names = {"slash": "/", "question_mark": "?", "right_square_bracket": "]", "left_square_bracket": "[",
             "escape": "esc", "space": "space", "backspace": "⌫"}
    return ", ".join(names.get(k, k) for k in binding.key.split(","))


def binding_sections() -> list[tuple[str, list[Binding]]]:
    """(section, bindings) for the app, the runs screen and table, the run screen and the log."""
    from ..app import RunyardApp
    from ..widgets.log_view import LogView
    from ..widgets.runs_table import RunsTable
    from .run import RunScreen
    from .runs import RunsScreen

    def as_bindings(items: list) -> list[Binding]:
        return [b if isinstance(b, Binding) else Binding(*b) for b in items]

    return [("everywhere", as_bindings(RunyardApp.BINDINGS)),
            ("runs", as_bindings(RunsScreen.BINDINGS) + as_bindings(RunsTable.BINDINGS)),
            ("run", as_bindings(RunScreen.BINDINGS)), ("log", as_bindings(LogView.BINDINGS))]


class HelpScreen(ModalScreen[None]):
    """Every key, by screen."""

    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 76; max-width: 95%; height: 90%; border: thick $primary; background: $surface; }
    HelpScreen DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("runyard keys — esc closes; ctrl+p finds any action by name", style="bold"))
            yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("where", "key", "does")
        for section, bindings in binding_sections():
            for b in bindings:
                table.add_row(Text(section, style="dim"), Text(key_label(b), style="bold"), Text(b.description))
        table.focus()
