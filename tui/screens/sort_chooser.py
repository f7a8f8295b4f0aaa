"""A small list of the runs table's columns to sort by: enter picks one, esc keeps the current order."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class SortChooser(ModalScreen[str | None]):
    """Pick a sort column; dismisses with its key, or None when cancelled."""

    BINDINGS = [Binding("escape,q", "dismiss(None)", "Cancel")]
    DEFAULT_CSS = """
    SortChooser { align: center middle; }
    SortChooser > Vertical { width: 38; height: auto; max-height: 90%; border: thick $primary; background: $surface; }
    SortChooser #sort-hint { padding: 0 1; color: $text-muted; }
    SortChooser OptionList, SortChooser OptionList:focus { height: auto; max-height: 20; border: none; }
    """

    def __init__(self, columns: list[tuple[str, str]], current: str, reverse: bool) -> None:
        """`columns` as (key, label); the current sort column is marked with its direction."""
        super().__init__()
        self.columns = columns
        self.current = current
        self.reverse = reverse

    def compose(self) -> ComposeResult:
        arrow = "▼" if self.reverse else "▲"
        with Vertical():
            yield Static("sort by (the same again reverses)", id="sort-hint")
            yield OptionList(*(Option(f"{label} {arrow}" if key == self.current else label, id=key)
                               for key, label in self.columns))

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        keys = [key for key, _ in self.columns]
        if self.current in keys:
            options.highlighted = keys.index(self.current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
