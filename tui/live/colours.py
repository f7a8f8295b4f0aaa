"""One colour per run across the whole app: the runs table's mark, the preview, the run screen and the compare
screen draw a run in the same colour, for as long as the run is in use (marked, pinned or shown).

A run takes the first colour of the palette that no run in use holds, and keeps it while it stays in use, so
marking a fourth run never repaints the other three. Colours are palette indexes (the widgets turn them into
colours and, where colour is off, markers). No Textual here.
"""

from __future__ import annotations

from collections.abc import Iterable


class RunHues:
    """Palette indexes handed out to runs by key; `keep` lets go of the runs no longer in use."""

    def __init__(self, size: int) -> None:
        self.size = size  # colours in the palette: beyond that many runs in use, indexes wrap around
        self._hues: dict[str, int] = {}

    def of(self, key: str) -> int:
        """The run's palette index, assigning the first free one if it has none."""
        hue = self._hues.get(key)
        if hue is None:
            taken = set(self._hues.values())
            hue = next((i for i in range(len(taken) + 1) if i not in taken), len(taken))
            self._hues[key] = hue
        return hue

    def get(self, key: str) -> int | None:
        """The run's palette index if it holds one (assigns nothing)."""
        return self._hues.get(key)

    def keep(self, keys: Iterable[str]) -> None:
        """Runs in use are `keys`: the others give their colour back."""
        wanted = set(keys)
        for key in [k for k in self._hues if k not in wanted]:
            del self._hues[key]

    def moved(self, old: str, new: str) -> None:
        """A run's folder moved: it keeps its colour under its new key."""
        if old in self._hues:
            self._hues[new] = self._hues.pop(old)
