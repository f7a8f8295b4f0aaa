"""The layouts runyard reads, in order of precedence: each is asked in turn which runs a folder holds.

To add a layout, write its module in this package (a `detect(directory, names) -> Detection | None` and a
`RunSource`) and list its `detect` here: a folder belongs to the first layout that claims it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import archived, cs336, fpn, nanogpt, runyard, tensorboard
from .base import Detection


def detectors() -> list[Callable[[Path, list[str]], Detection | None]]:
    """Layout detectors in order of precedence (the W&B reader is optional). Compressed archives come first: that
    layout also asks the others about the rest of its folder."""
    found = [runyard.detect]
    try:
        from ..layouts import wandb

        found.append(wandb.detect)
    except ImportError:
        pass
    others = [*found, fpn.detect, cs336.detect, tensorboard.detect, nanogpt.detect]
    return [archived.detector(others), *others]
