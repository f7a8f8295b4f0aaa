"""The command palette: every action of the current screen, found by its description."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen


def screen_commands(app: App, screen: Screen) -> Iterable[SystemCommand]:
    """One palette entry per binding of the screen and its focused widget chain."""
    seen: set[str] = set()
    nodes = [screen, *(list(screen.focused.ancestors_with_self) if screen.focused else [])]
    for node in nodes:
        for binding in getattr(node, "BINDINGS", []):
            b = binding if isinstance(binding, Binding) else Binding(*binding)
            if not b.description or b.description in seen:
                continue
            seen.add(b.description)
            yield SystemCommand(b.description, f"key: {b.key}", partial(node.run_action, b.action))
