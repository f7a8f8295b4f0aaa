"""What a run screen's other tabs show (config, checkpoints, samples, info), read in one go off the app's thread.

The tabs used to open the run again on every redraw; now a read lane reads these once per change of the run and
the screen fills its tables from the result. Nothing here imports Textual.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runyard import Checkpoint, RunView, Sample, clean_field, flatten, last_beat, unreadable_reason

from ..formatting import fmt_duration, fmt_number, fmt_time

SAMPLES_SHOWN = 50  # the most recent samples only: a long run logs thousands


@dataclass
class RunDetails:
    """A run's config (flattened), checkpoints, last samples and info rows; `problems` says, by tab, why one could
    not be read ("cannot enter <run folder>: permission denied"), and `error` joins them in one line."""

    config: dict[str, str] = field(default_factory=dict)  # shown as is: keys and values made safe to show
    checkpoints: list[Checkpoint] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    info: list[tuple[str, str]] = field(default_factory=list)  # made safe to show, as `config`
    problems: dict[str, str] = field(default_factory=dict)  # tab -> why it shows nothing (or less), safe to show
    error: str | None = None


def read_details(view: RunView) -> RunDetails:
    """Everything the other tabs show, read now (on a reading thread); a part that fails leaves the others.

    A run folder closed to this user reads as empty in places (layouts take an unreadable index for a missing
    one), so it is asked once whether the folder can be entered, and every tab says so if not.
    """
    details = RunDetails()
    closed = folder_problem(view.path)
    for part, read in (("config", lambda: shown_config(view.config)), ("checkpoints", lambda: view.checkpoints),
                       ("samples", lambda: view.samples()[-SAMPLES_SHOWN:]),
                       ("info", lambda: shown_rows(info_rows(view)))):
        try:
            setattr(details, part, read())
        except OSError as exc:  # one unreadable file must not blank the other tabs
            details.problems[part] = unreadable_reason(exc)
        except Exception as exc:
            details.problems[part] = clean_field(str(exc) or type(exc).__name__)
        if closed is not None:
            details.problems.setdefault(part, closed)
    details.error = "; ".join(f"{part}: {why}" for part, why in details.problems.items()) or None
    return details


def folder_problem(path: Path) -> str | None:
    """Why the run at `path` cannot be entered ("cannot enter <folder>: permission denied"), or None if it can
    (or is gone): looking up "." in a folder needs the permission to enter it, as every file in it does."""
    try:
        os.stat(os.path.join(path, ".") if os.path.isdir(path) else path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return unreadable_reason(exc, path)
    return None


def shown_config(config: dict[str, Any]) -> dict[str, str]:
    """A run's config flattened, keys and values as text safe to show (no escape sequence from the file)."""
    return {clean_field(str(key)): clean_field(str(value)) for key, value in flatten(config).items()}


def shown_rows(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(field, value) rows as text safe to show: names, tags, notes and errors come from a run's files."""
    return [(clean_field(key), clean_field(value)) for key, value in rows]


def info_rows(view: RunView) -> list[tuple[str, str]]:
    """The info tab's (field, value) rows."""
    info = view.info
    rows = [("name", info.name), ("id", info.id), ("status", info.status), ("format", info.format),
            ("path", str(view.path)), ("started", fmt_time(info.created)), ("ended", fmt_time(info.ended)),
            ("duration", fmt_duration(info.duration)), ("last step", fmt_number(info.last_step)),
            ("host", info.host or "-"), ("pid", str(info.pid or "-")), ("user", info.user or "-"),
            ("restarts", str(info.restarts)), ("tags", ", ".join(info.tags) or "-"), ("notes", info.notes or "-")]
    if info.heartbeat:
        # the age by when the beat was written as this machine sees it: the run's own stamp may come from a host
        # whose clock runs ahead or behind
        age = time.time() - last_beat(info)
        rows.append(("heartbeat", f"{fmt_time(info.heartbeat)} ({fmt_duration(round(max(age, 0.0)))} ago)"))
        if info.clock_ahead:
            rows.append(("clock", f"the run's host clock is {fmt_duration(round(abs(info.clock_ahead)))} "
                                  f"{'ahead of' if info.clock_ahead > 0 else 'behind'} ours"))
    if info.error:
        rows.append(("error", info.error))
    if info.skipped_lines:
        rows.append(("skipped lines", str(info.skipped_lines)))
    for key, value in flatten({k: v for k, v in (info.extra or {}).items() if v not in (None, {}, [])}).items():
        rows.append((key, str(value)))
    return rows
