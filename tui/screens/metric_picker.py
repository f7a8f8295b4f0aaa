"""The metric picker: a modal list of a run's metrics, to choose which ones the curves draw."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from runyard import clean_field


class MetricPicker(ModalScreen[list[str] | None]):
    """Choose which metrics to draw; dismissed with the chosen names, or None when cancelled."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"), Binding("enter", "choose", "Show", priority=True)]
    DEFAULT_CSS = """
    MetricPicker { align: center middle; }
    MetricPicker > Vertical { width: 60; max-width: 90%; height: auto; max-height: 80%; border: thick $primary; }
    MetricPicker SelectionList { height: auto; max-height: 20; }
    """

    def __init__(self, names: list[str], chosen: list[str]) -> None:
        super().__init__()
        self.names, self.chosen = names, chosen

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("metrics to draw (space toggles, enter shows)", style="bold"))
            yield SelectionList[str](*(Selection(Text(clean_field(n)), n, n in self.chosen) for n in self.names))

    def action_choose(self) -> None:
        """Dismiss with the ticked metrics."""
        self.dismiss(list(self.query_one(SelectionList).selected))
