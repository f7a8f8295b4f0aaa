"""`tracker.init`: resolve the config, pick or reopen the run folder, and hand back a `Run`."""

from __future__ import annotations

import os
import string
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract import (
    CHECKPOINT_INDEX,
    CHECKPOINTS_DIR,
    CONFIG_YAML,
    FORMAT,
    METRICS_JSONL,
    RUN_JSON,
    SAMPLES_JSONL,
    SUMMARY_JSON,
    end_partial_line,
    goal_direction,
    iso_now,
    make_run_dir,
    parse_iso,
    utf8_text,
)
from ..errors import RunError
from ..jsonl import as_float, loads
from .logsetup import null_logger
from .ranks import global_rank, world_size
from .run import Run, one_line, read_rows

if TYPE_CHECKING:
    from .config import ResolvedConfig

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    """A short random id (8 of 36 symbols, from os.urandom): stable for the run's life, wherever it moves."""
    return "".join(_ID_ALPHABET[b % 36] for b in os.urandom(8))


def init(name: str | None = None, *, config: Any = None, argv: Iterable[str] | None = None,
         root: str | os.PathLike = "runs", tags: Iterable[str] = (), notes: str = "",
         resume: str | os.PathLike | None = None, tensorboard: bool = False, system_metrics: bool = True,
         heartbeat_interval: float = 10.0, console: bool = True, all_ranks: bool = False) -> Run | NullRun:
    """Start (or with `resume=` reopen) a run and return it; see the README for every argument.

    `config` is a dict, Namespace, dataclass or a YAML/JSON/Python file path; `argv` (a script's
    `sys.argv[1:]`) may name a config file and `--key=value` overrides. Ranks other than 0 of a
    distributed job get a `NullRun` that writes nothing, unless `all_ranks=True`.
    """
    from .config import resolve

    resolved = resolve(config, argv)
    rank = global_rank()
    if rank != 0 and not all_ranks:
        return NullRun(resolved.values)
    options = dict(tensorboard=tensorboard, system_metrics=system_metrics,
                   heartbeat_interval=heartbeat_interval, console=console)
    if resume is not None:
        return _reopen(find_run_dir(resume, Path(root)), resolved, options)
    name = utf8_text(str(name or (resolved.source.stem if resolved.source else None) or _script_stem()))
    if all_ranks and rank != 0:
        name = f"{name}_rank{rank}"
    try:
        path = make_run_dir(Path(root), name)
    except OSError as exc:
        # Nothing could be recorded: better the job stops here, saying why, than trains with nothing logged.
        raise RunError(f"cannot create a run folder in {Path(root).resolve()}: "
                       f"{(exc.strerror or str(exc)).lower()} (pass root= a folder this user can write)") from None
    from .environment import capture

    now = time.time()
    info: dict[str, Any] = {
        "format": FORMAT, "id": new_id(), "name": name, "created": iso_now(now), "status": "running",
        "ended": None, "heartbeat": iso_now(now), "heartbeat_interval": heartbeat_interval,
        **capture(),
        "world_size": world_size(), "rank": rank,
        "config_file": str(resolved.source) if resolved.source else None,
        "tags": [utf8_text(str(t)) for t in tags], "notes": utf8_text(str(notes)), "restarts": [],
    }
    run = Run(path, info, resolved.values, config_yaml=_config_yaml(resolved.values), **options)
    _log_header(run, resolved)
    return run


def _script_stem() -> str:
    script = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] not in ("", "-c", "-m") else ""
    return script or "run"


def _config_yaml(values: dict[str, Any]) -> bytes:
    """The resolved config as config.yaml holds it (the run writes it, so a full disk does not stop the start)."""
    import yaml

    return yaml.safe_dump(values, sort_keys=False, default_flow_style=False, allow_unicode=True).encode("utf-8")


def _log_header(run: Run, resolved: ResolvedConfig, restart: int | None = None) -> None:
    import yaml

    info = run.info
    git = info.get("git") or {}
    what = f"resumed (restart {restart})" if restart else "started"
    run.logger.info("==== run %s (%s) %s in %s ====", one_line(run.name), run.id, what, run.path)
    run.logger.info("host %s, pid %s, python %s, torch %s, git %s%s", info.get("host"), info.get("pid"),
                    info["env"].get("python"), info["env"].get("torch") or "-",
                    (git.get("commit") or "-")[:12], " (dirty)" if git.get("dirty") else "")
    dump = yaml.safe_dump(run.config, sort_keys=False, default_flow_style=False, allow_unicode=True)
    run.logger.info("config%s:\n%s", f" from {resolved.source}" if resolved.source else "",
                    "\n".join("    " + line for line in dump.rstrip().splitlines()) or "    {}")
    for note in resolved.notes:
        run.logger.warning("config: %s", note)


def find_run_dir(ref: str | os.PathLike, root: Path) -> Path:
    """The folder of a run to resume, given as a path or as its id (searched under `root`).

    The reading side's `runyard.find_run` answers a different question (a `RunView` of any layout, by path,
    id or name); the writer reopens only its own folders.
    """
    path = Path(ref)
    if (path / RUN_JSON).is_file():
        return path
    if root.is_dir():
        for candidate in root.rglob(RUN_JSON):
            try:
                if loads(candidate.read_bytes()).get("id") == str(ref):
                    return candidate.parent
            except (OSError, ValueError, AttributeError):
                continue
    raise RunError(f"cannot resume {ref!s}: no run folder there and no run with that id under {root}")


def _reopen(path: Path, resolved: ResolvedConfig, options: dict[str, Any]) -> Run:
    """Reopen a run folder: record the restart, keep its config unless a new one was given."""
    try:
        info = loads((path / RUN_JSON).read_bytes())
    except (OSError, ValueError) as exc:
        raise RunError(f"cannot resume {path}: run.json unreadable ({exc})") from exc
    if info.get("format") != FORMAT:
        raise RunError(f"cannot resume {path}: not a {FORMAT} run")
    _refuse_if_alive(path, info)
    from .environment import capture

    previous = info.get("status")
    now = time.time()
    fresh = capture()
    restart = {"time": iso_now(now), "previous_status": previous, "host": fresh["host"], "pid": fresh["pid"],
               "argv": fresh["argv"]}
    info.update(status="running", ended=None, heartbeat=iso_now(now), host=fresh["host"], pid=fresh["pid"],
                heartbeat_interval=options["heartbeat_interval"])
    info["restarts"] = [*info.get("restarts", []), restart]
    config = resolved.values
    config_yaml = _config_yaml(config) if config else None
    if not config:
        import yaml

        try:
            config = yaml.safe_load((path / CONFIG_YAML).read_text(encoding="utf-8")) or {}
        except (OSError, ValueError):
            config = {}
    for name in (METRICS_JSONL, SAMPLES_JSONL, f"{CHECKPOINTS_DIR}/{CHECKPOINT_INDEX}"):
        end_partial_line(path / name)
    rows = read_rows(path / METRICS_JSONL)
    run = Run(path, info, config, replay=rows, goals=_declared_goals(path), config_yaml=config_yaml, **options)
    latest = run.checkpoints.latest()
    if latest is not None:  # what this life starts from (`resume_step`): cleanup never removes it
        restart["checkpoint"] = {"file": latest.file, "step": latest.step}
        run._write_run_json()
    _log_header(run, resolved, restart=len(info["restarts"]))
    run.logger.info("previous status %s; latest checkpoint at step %s", previous, run.resume_step)
    return run


def _declared_goals(path: Path) -> dict[str, str]:
    """The directions an earlier life of the run declared, from its summary.json."""
    try:
        goals = loads((path / SUMMARY_JSON).read_bytes()).get("goals")
    except (OSError, ValueError, AttributeError):
        return {}
    if not isinstance(goals, dict):
        return {}
    return {name: d for name, value in goals.items() if (d := goal_direction(value)) is not None}


def _refuse_if_alive(path: Path, info: dict[str, Any]) -> None:
    """Two writers on one folder would interleave rows: refuse while the old process still beats."""
    if info.get("status") != "running":
        return
    from ..liveness import heartbeat_stale, pid_alive, this_host

    beat = parse_iso(info.get("heartbeat"))
    fresh = beat is not None and not heartbeat_stale(beat, as_float(info.get("heartbeat_interval")), time.time())
    alive = info.get("host") == this_host() and pid_alive(info.get("pid"))
    if alive and fresh:
        raise RunError(f"cannot resume {path}: its process {info.get('pid')} is still running")


class NullRun:
    """What ranks other than 0 get: the same API, writing nothing anywhere."""

    path = None
    id = None
    name = None
    status = "running"
    resume_step = None
    latest_checkpoint = None

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.step: int | None = None
        self.logger = null_logger()
        self.info: dict[str, Any] = {}

    def log(self, metrics: Any, step: int | None = None) -> None:
        self.step = (0 if self.step is None else self.step + 1) if step is None else int(step)

    def log_sample(self, *args: Any, **kwargs: Any) -> None:
        pass

    def define_metric(self, name: str, *, goal: str) -> None:
        pass

    @property
    def goals(self) -> dict[str, str]:
        return {}

    def save_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        pass

    def add_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        pass

    def summary(self) -> dict[str, Any]:
        return {}

    def finish(self, status: str = "finished") -> None:
        pass

    def __enter__(self) -> NullRun:
        return self

    def __exit__(self, *exc: Any) -> bool:
        return False
