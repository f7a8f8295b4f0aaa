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
    "open_run": ".api",
    "scan": ".api",
    "RunView": ".api",
    "RunRecord": ".api",
    "UnknownLayout": ".api",
    "find_run": ".api",
    "TailReader": ".tail",
    "MetricsTail": ".tail",
}

__all__ = ["ConfigError", "MetricsTail", "NullRun", "Run", "RunError", "RunRecord", "RunView", "TailReader",
           "TrackerError", "UnknownLayout", "find_run", "init", "open_run", "scan"]

if TYPE_CHECKING:
    from .api import RunRecord, RunView, UnknownLayout, find_run, open_run, scan
    from .errors import ConfigError, RunError, TrackerError
    from .run import Run
    from .start import NullRun, init
    from .tail import MetricsTail, TailReader


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tracker' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
