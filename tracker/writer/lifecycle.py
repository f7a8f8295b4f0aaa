"""Process-wide hooks that give every live run an end status: signals, uncaught exceptions and exit.

SIGTERM and SIGINT are noted on each live run and then handled as before (SIGINT raises KeyboardInterrupt;
SIGTERM with no handler of the script's own raises SystemExit(143)), so the stack unwinds through `with`
blocks and `finally` clauses. An uncaught exception marks runs failed; leaving the interpreter finishes
any run still open. Hooks act only in the process that created the run, never in forked workers.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from typing import Any, Protocol


class _LiveRun(Protocol):
    def _note_signal(self, name: str) -> None: ...
    def _end_from_exception(self, exc: BaseException) -> None: ...
    def _end_at_exit(self) -> None: ...
    def _owned_here(self) -> bool: ...


_live: list[_LiveRun] = []
_previous: dict[int, Any] = {}
_installed = False
_previous_excepthook = sys.excepthook


def register(run: _LiveRun) -> None:
    """Track `run` until it ends; installs the hooks on first use."""
    _install()
    _live.append(run)


def unregister(run: _LiveRun) -> None:
    if run in _live:
        _live.remove(run)


def _install() -> None:
    global _installed, _previous_excepthook
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN:
                continue
            _previous[signum] = previous
            signal.signal(signum, _on_signal)


def _on_signal(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    for run in list(_live):
        if run._owned_here():
            run._note_signal(name)
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif signum == signal.SIGINT:
        raise KeyboardInterrupt
    else:
        raise SystemExit(128 + signum)


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
    for run in list(_live):
        if run._owned_here():
            run._end_from_exception(exc)
    _previous_excepthook(exc_type, exc, tb)


def _at_exit() -> None:
    for run in list(_live):
        if run._owned_here():
            run._end_at_exit()
