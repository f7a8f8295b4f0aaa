"""runyard's tracker: write standard run folders from a training loop, and read runs of many layouts.

`import tracker` is cheap: names are loaded on first use (as `textual.widgets` does), the writer needs only
the standard library and orjson, and the reading side (pandas and friends) loads only when asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "init": ".start",
    "NullRun": ".start",
    "Run": ".run",
    "ConfigError": ".errors",
    "RunError": ".errors",
    "TrackerError": ".errors",
}

__all__ = ["ConfigError", "NullRun", "Run", "RunError", "TrackerError", "init"]

if TYPE_CHECKING:
    from .errors import ConfigError, RunError, TrackerError
    from .run import Run
    from .start import NullRun, init


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tracker' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
