"""Cleaning up a runs tree by policy: a plan first (what goes, what stays, and why), then the moves.

Nothing here deletes. Whatever a plan removes goes to the trash (`ops.trash`, restorable until it is emptied)
or, for runs, to the archive (`ops.archive`); the plan says how many bytes emptying the trash would free.

The rules, as `runyard clean` applies them:

Checkpoint policies, per run (`keep_best`, `keep_last`):
- `keep_best K` keeps the K best checkpoints by the run's own ranking metric and direction (the ones `show`
  marks the best by: `ops.best`). A NaN is never best; of equal values the older checkpoint ranks first.
  `keep_last K` keeps the K latest by step (by time where they have no steps). What either keeps is kept
  (the kept sets are ORed, as restic's rules are); the rest goes to the trash: "not among best 2 by val/loss
  nor last 3".
- Always kept, whatever the policy, each with its reason: the best checkpoint by the tracked metric ("best
  val/loss"), the latest ("latest"), a checkpoint a resumed run started from ("resumed from at restart 2":
  run.json records it since this version; for older runs it is the checkpoint at the step of the resume
  marker, else the latest before it), and anything whose real path lies outside the root, or is reached
  through a symlinked folder ("outside the root"). Under `keep_best` alone, a checkpoint that records no value
  of the ranking metric is kept ("no val/loss recorded"), and so are all of a run with no metric to rank by.
  A symlinked checkpoint is moved as a link: what it points at is never touched.

Run policies (whole runs):
- `failed_shorter_than D`: failed, crashed or interrupted runs that trained (ran from start to their last
  sign) less than D seconds go to the trash: "failed after 4m12s (< 10m)". Junk is never archived.
- `older_than AGE`: runs whose end (or last activity) lies more than AGE before now go to the trash, or to
  the archive with `archive`: "last active 97 days ago (> 90d): archive". A time in the future is never old.
- `filter` (the `ls --filter` language): alone, it selects runs to remove (trash, or archive with `archive`):
  "matches --filter 'status=failed'". With any other policy it only scopes them: the other policies apply to
  the runs it matches, and runs it does not match are not looked at.
- A run removed as a whole takes its checkpoints that live outside its folder (ChatGoT's sibling
  `models/<run>_epoch_N.pt`) to the trash with it; an archived run leaves them where they are.
- A running run (live heartbeat or pid) is never touched: it is listed as kept, "running". Runs under
  `archive/` are left alone by every policy (neither re-archived nor trashed); they are listed as kept,
  "archived", where a run policy would have chosen them.
- An empty policy is refused: cleaning without a rule would be a guess.

`apply_plan` checks each action again just before it acts: the path must still be the file or folder the plan
saw (same inode; a file also unchanged since), the run must not have started running since, and a checkpoint
must not since have become its run's best, latest or resume point. What changed is skipped and reported, never
forced.
"""

from __future__ import annotations

import math
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract import EVENT, METRICS_JSONL, RESUME, RUN_JSON
from ..errors import RunError
from ..model import CRASHED, FAILED, INTERRUPTED, RUNNING, STALLED, Checkpoint
from .best import _age, recorded_value
from .diskusage import UsageCache, path_usage, reclaimable, run_entries, run_files, within

FAILED_STATUSES = (FAILED, CRASHED, INTERRUPTED)
LIVE_STATUSES = (RUNNING, STALLED)


@dataclass
class Policy:
    """What to clean: checkpoint rules (keep_best, keep_last: counts), run rules (failed_shorter_than,
    older_than: seconds), `archive` (old runs to the archive instead of the trash) and `filter` (an `ls`
    filter: alone it selects runs, with other rules it scopes them)."""

    keep_best: int | None = None
    keep_last: int | None = None
    failed_shorter_than: float | None = None
    older_than: float | None = None
    archive: bool = False
    filter: str | None = None

    @property
    def empty(self) -> bool:
        """True when no rule is given (`archive` alone says where, not what)."""
        return (self.keep_best is None and self.keep_last is None and self.failed_shorter_than is None
                and self.older_than is None and not self.filter)

    @property
    def checkpoint_rules(self) -> bool:
        return self.keep_best is not None or self.keep_last is not None

    @property
    def run_rules(self) -> bool:
        return self.failed_shorter_than is not None or self.older_than is not None


@dataclass
class PlanAction:
    """One thing the plan moves: a run (folder or file) or a checkpoint, to the trash or the archive.

    `bytes`: its size on disk (as `du`); `run`: the run's path; `stamp`: what identified it when planned, so a
    path replaced or rewritten since is not taken for it."""

    kind: str
    path: Path
    run: Path
    action: str
    bytes: int
    reason: str
    stamp: tuple[int, ...] | None = field(default=None, repr=False)
    with_run: bool = False  # a checkpoint outside its run's folder that goes because its run goes


@dataclass
class Kept:
    """A run or checkpoint the plan keeps, and every reason why."""

    path: Path
    run: Path
    kind: str
    bytes: int
    reasons: list[str]


@dataclass
class CleanPlan:
    """What `apply_plan` would do: `actions`, what is `kept` (with reasons), `reclaim` (bytes freed once the
    trash is emptied, hard links counted only when all their links go) and `total` (bytes of the runs
    looked at, hard links once)."""

    root: Path
    actions: list[PlanAction] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    reclaim: int = 0
    total: int = 0

    @property
    def archived_bytes(self) -> int:
        return sum(a.bytes for a in self.actions if a.action == "archive")

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root), "reclaim": self.reclaim, "total": self.total,
            "actions": [{"kind": a.kind, "path": str(a.path), "run": str(a.run), "action": a.action,
                         "bytes": a.bytes, "reason": a.reason} for a in self.actions],
            "kept": [{"kind": k.kind, "path": str(k.path), "run": str(k.run), "bytes": k.bytes,
                      "reasons": k.reasons} for k in self.kept],
        }


@dataclass
class ActionResult:
    """What became of one action: `done`, and `message` (where it went, or why it was skipped)."""

    action: PlanAction
    done: bool
    message: str
    entry: Any = None   # the TrashEntry of a move to the trash
    dest: Path | None = None  # where an archived run went


# ----- wording ----------------------------------------------------------------------------------------------

_UNITS = (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def compact(seconds: float) -> str:
    """A threshold as a person writes it: `10m`, `90d`, `2w`, `1d12h`."""
    left = round(seconds)
    if left <= 0:
        return "0s"
    parts = []
    for unit, size in _UNITS:
        if left >= size and (unit != "w" or left % size == 0):
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts[:2])


def span(seconds: float) -> str:
    """An elapsed time, to the precision that matters: `42s`, `4m12s`, `3h05m`, `97 days`."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    days = s // 86400
    return f"{days} day{'s' if days != 1 else ''}"


def _ordinal(n: int) -> str:
    return f"{n}{'tsnrhtdd'[(n // 10 % 10 != 1) * (n % 10 < 4) * n % 10::4]}"


# ----- what a run is --------------------------------------------------------------------------------------

def last_active(info: Any) -> float | None:
    """When a run ended, or last showed life: its end, last row, last write or heartbeat, else its start."""
    for value in (info.ended, info.last_time, info.last_write, info.heartbeat, info.created):
        if value is not None and math.isfinite(value):
            return value
    return None


def _order(checkpoints: list[Checkpoint]) -> list[Checkpoint]:
    """Oldest first: by step where every checkpoint has one, else by time where every one has it (ChatGoT's
    epoch files have no step), else steps first and the rest in their given order."""
    if all(c.step is not None for c in checkpoints):
        return sorted(checkpoints, key=lambda c: (c.step, c.time if c.time is not None else math.inf))
    if all(c.time is not None for c in checkpoints):
        return sorted(checkpoints, key=lambda c: c.time)
    return sorted(checkpoints, key=_age)


def resume_points(source: Any, info: Any) -> list[tuple[int, str | None, int | None]]:
    """(restart number, checkpoint file, step) each restart of a run resumed from.

    run.json's restart entries record the checkpoint (file, step) since this version; for older restarts the
    step comes from the resume markers in metrics.jsonl (`{"_event": "resume", "step": S}`, in order), or, for
    other layouts, from the steps where their next lives began."""
    points: list[tuple[int, str | None, int | None]] = []
    restarts: list[Any] = []
    run_json = os.path.join(source.path, RUN_JSON)
    if os.path.isdir(source.path) and os.path.isfile(run_json):
        try:
            import orjson

            with open(run_json, "rb") as f:
                data = orjson.loads(f.read())
            restarts = data.get("restarts") or [] if isinstance(data, dict) else []
        except (OSError, ValueError):
            restarts = []
    if not isinstance(restarts, list):
        restarts = []
    markers: list[int] | None = None
    for n, restart in enumerate(restarts, 1):
        recorded = restart.get("checkpoint") if isinstance(restart, dict) else None
        if isinstance(recorded, dict) and (isinstance(recorded.get("file"), str) or type(recorded.get("step")) is int):
            step = recorded.get("step")
            points.append((n, recorded.get("file") if isinstance(recorded.get("file"), str) else None,
                           step if type(step) is int else None))
            continue
        if markers is None:
            markers = _resume_markers(os.path.join(source.path, METRICS_JSONL))
        if n - 1 < len(markers):
            points.append((n, None, markers[n - 1]))
    if not restarts:
        points.extend((n, None, step) for n, step in enumerate(getattr(info, "restarts_at", None) or [], 1))
    return points


def _resume_markers(path: str) -> list[int]:
    """The steps of the resume markers of a metrics.jsonl, in file order; read in blocks, only marker lines parsed."""
    import orjson

    steps: list[int] = []
    key = f'"{EVENT}"'.encode()
    try:
        with open(path, "rb") as f:
            rest = b""
            while True:
                block = f.read(1 << 20)
                if not block:
                    break
                data = rest + block
                cut = data.rfind(b"\n") + 1
                rest, data = data[cut:], data[:cut]
                start = data.find(key)
                while start != -1:
                    begin = data.rfind(b"\n", 0, start) + 1
                    end = data.find(b"\n", start)
                    try:
                        line = orjson.loads(data[begin:end])
                    except ValueError:
                        line = None
                    if isinstance(line, dict) and line.get(EVENT) == RESUME and type(line.get("step")) is int:
                        steps.append(line["step"])
                    start = data.find(key, end)
    except OSError:
        return steps
    return steps


def _resumed_from(points: list[tuple[int, str | None, int | None]], checkpoints: list[Checkpoint],
                  run_path: Path) -> dict[int, list[int]]:
    """id(checkpoint) -> the restarts that started from it (by recorded file, else step S, else latest <= S)."""
    out: dict[int, list[int]] = {}
    by_path = {os.path.abspath(c.path): c for c in checkpoints}
    for n, file, step in points:
        found = None
        if file is not None:
            found = by_path.get(os.path.abspath(os.path.join(run_path, file)))
        if found is None and step is not None:
            exact = [c for c in checkpoints if c.step == step]
            below = [c for c in checkpoints if c.step is not None and c.step <= step]
            found = exact[0] if exact else max(below, key=lambda c: c.step) if below else None
        if found is not None:
            out.setdefault(id(found), []).append(n)
    return out


def _is_nan(value: Any) -> bool:
    """A value recorded that can never be best: NaN, or an infinity (a diverged run)."""
    return isinstance(value, float) and not math.isfinite(value)


def _outside_root(root: Path, path: Path) -> bool:
    """True if `path` is reached through a symlinked folder, or its real path (through a link) lies outside root."""
    if not within(root, path):
        return True
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return not (real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep))


@dataclass
class Verdict:
    """One checkpoint's fate under the policy: `reasons` to keep it, else `remove` says why it goes."""

    checkpoint: Checkpoint
    reasons: list[str]
    remove: str | None = None
    protected: bool = False  # kept whatever the policy (best, latest, resume point, outside the root)


def judge_checkpoints(root: Path, run_path: Path, checkpoints: list[Checkpoint], points: list[Any],
                      keep_best: int | None, keep_last: int | None) -> list[Verdict]:
    """Each checkpoint of one run judged by the checkpoint rules (see the module docstring)."""
    present = []
    for c in checkpoints:
        try:
            os.lstat(c.path)
        except OSError:
            continue  # a file the index names but the disk has not: nothing to keep or move
        present.append(c)
    ordered = _order(present)
    metric = next((c.best_metric for c in present if c.best_metric), None)
    mode = next((c.best_mode for c in present if c.best_mode), None)
    resumed = _resumed_from(points, present, run_path)
    verdicts: list[Verdict] = []
    ranked: dict[int, int] = {}
    if metric and mode in ("min", "max"):
        valued = [(v, i, c) for i, c in enumerate(sorted(present, key=_age))
                  if (v := recorded_value(c, metric)) is not None]
        valued.sort(key=lambda t: (t[0] if mode == "min" else -t[0], t[1]))  # equal values: the older first
        ranked = {id(c): rank for rank, (_, _, c) in enumerate(valued, 1)}
    last = {id(c): len(ordered) - i for i, c in enumerate(ordered)}  # 1 = latest
    for c in ordered:
        reasons: list[str] = []
        protected = False
        if c.best and metric:
            reasons.append(f"best {metric}")
        if last[id(c)] == 1:
            reasons.append("latest")
        for n in resumed.get(id(c), []):
            reasons.append(f"resumed from at restart {n}")
        if _outside_root(root, c.path):
            reasons.append("outside the root")
        protected = bool(reasons)
        rank = ranked.get(id(c))
        if keep_best is not None:
            if rank is not None and rank <= keep_best and not (rank == 1 and c.best):
                reasons.append(f"best {metric}" if rank == 1 else f"{_ordinal(rank)} best by {metric}")
            elif protected or keep_last is not None:
                pass
            elif not metric:
                reasons.append("no metric to rank by")
            elif rank is None and not _is_nan(c.metrics.get(metric)):
                reasons.append(f"no {metric} recorded")  # a NaN is recorded, and never among the best
        if keep_last is not None and last[id(c)] <= keep_last and last[id(c)] != 1:
            reasons.append(f"among last {keep_last}")
        verdict = Verdict(c, list(dict.fromkeys(reasons)), protected=protected)
        if not verdict.reasons:
            parts = []
            if keep_best is not None:
                parts.append(f"best {keep_best} by {metric}" if metric else "best (no metric to rank by)")
            if keep_last is not None:
                parts.append(f"last {keep_last}")
            verdict.remove = "not among " + " nor ".join(parts)
            if metric and keep_best is not None and _is_nan(c.metrics.get(metric)):
                value = c.metrics.get(metric)
                verdict.remove += f" ({metric} is {'NaN' if value != value else value})"
        verdicts.append(verdict)
    return verdicts


# ----- the plan ---------------------------------------------------------------------------------------------

def _stamp(path: Path) -> tuple[int, ...] | None:
    """What tells the thing at `path` from another put there since: a folder by its inode (a run's folder changes
    inside as it is read), a file or link by its inode and ctime too (a freed inode is soon given to a new file;
    the ctime changes with every write)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return (st.st_dev, st.st_ino)
    return (st.st_dev, st.st_ino, st.st_ctime_ns)


def _run_choice(record: Any, policy: Policy, now: float, filter_alone: bool) -> tuple[str, str] | None:
    """(action, reason) when a run rule selects the run, else None. Junk (failed and short) goes to the trash."""
    info = record.info
    if policy.failed_shorter_than is not None and info.status in FAILED_STATUSES:
        trained = info.duration
        if trained is not None and trained < policy.failed_shorter_than:
            word = "failed" if info.status == FAILED else info.status
            return "trash", f"{word} after {span(trained)} (< {compact(policy.failed_shorter_than)})"
    where = "archive" if policy.archive else "trash"
    if policy.older_than is not None:
        active = last_active(info)
        if active is not None and active <= now and now - active > policy.older_than:
            return where, f"last active {span(now - active)} ago (> {compact(policy.older_than)}): {where}"
    if filter_alone:
        return where, f"matches --filter {policy.filter!r}: {where}"
    return None


def plan_clean(root: str | os.PathLike, records: Iterable[Any], policy: Policy, *,
               now: float | None = None) -> CleanPlan:
    """The plan for cleaning `root` by `policy`: actions with sizes and reasons, what is kept and why, and the
    bytes freed once the trash is emptied. Reads checkpoints and stats files; changes nothing.

    Raises ValueError for an empty policy (nothing to go by) and FilterError for a filter it cannot read.
    """
    if policy.empty:
        raise ValueError("no cleanup rule given: name at least one of --keep-best, --keep-last, "
                         "--failed-shorter-than, --older-than or --filter")
    root = Path(root)
    now = time.time() if now is None else now
    records = list(records)
    if policy.filter:
        from ..reading.filters import compile_filter

        matches = compile_filter(policy.filter)
        records = [r for r in records if matches(r)]
    filter_alone = bool(policy.filter) and not policy.run_rules and not policy.checkpoint_rules
    plan = CleanPlan(root)
    cache = UsageCache(root)
    counted: set[tuple[int, int]] = set()
    total = 0
    for record in records:
        source = record.source
        if source is None:
            continue
        if source.root is None:
            source.root = root
        info = record.info
        run_path = Path(source.path)
        entries, outside = run_entries(source, root, cache)
        run_bytes = sum(size for size, _ in entries.values())
        for key, (size, _) in entries.items():
            if key not in counted:
                counted.add(key)
                total += size
        if info.status in LIVE_STATUSES:
            plan.kept.append(Kept(run_path, run_path, "run", run_bytes, ["running"]))
            continue
        choice = _run_choice(record, policy, now, filter_alone)
        if info.archived:  # the archive is where runs are kept: said so only where a rule would pick one
            if choice is not None:
                plan.kept.append(Kept(run_path, run_path, "run", run_bytes, ["archived"]))
            continue
        if choice is not None:
            action, reason = choice
            for p in run_files(source):
                plan.actions.append(PlanAction("run", p, run_path, action, path_usage(p).total,
                                               reason if p == run_path else f"{reason} (rotated log)", _stamp(p)))
            for p in outside:
                if action == "trash":
                    plan.actions.append(PlanAction("checkpoint", p, run_path, "trash", path_usage(p).total,
                                                   f"its run goes: {reason}", _stamp(p), with_run=True))
                else:
                    plan.kept.append(Kept(p, run_path, "checkpoint", path_usage(p).total,
                                          ["outside the run's folder: stays when the run is archived"]))
            continue
        if not policy.checkpoint_rules:
            continue
        try:
            checkpoints = source.checkpoints()
        except Exception as exc:  # unreadable checkpoints are left alone, and said so
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            plan.kept.append(Kept(run_path, run_path, "run", run_bytes, [f"checkpoints unreadable: {why}"]))
            continue
        if not checkpoints:
            continue
        points = resume_points(source, info) if info.restarts or getattr(info, "restarts_at", None) else []
        for verdict in judge_checkpoints(root, run_path, checkpoints, points, policy.keep_best, policy.keep_last):
            path = verdict.checkpoint.path
            size = path_usage(path).total
            if verdict.remove is None:
                plan.kept.append(Kept(path, run_path, "checkpoint", size, verdict.reasons))
            else:
                plan.actions.append(PlanAction("checkpoint", path, run_path, "trash", size, verdict.remove,
                                               _stamp(path)))
    _shared_checkpoints(root, plan)
    plan.total = total
    plan.reclaim = reclaimable(a.path for a in plan.actions if a.action == "trash")
    cache.save()
    return plan


def _shared_checkpoints(root: Path, plan: CleanPlan) -> None:
    """A file that one run keeps (its best, latest, a resume point) is never removed because another run lists
    it too (`add_checkpoint` of a link to it, a copied index): the action turns into a keep that says whose it
    is. A file two runs would remove is acted on once."""
    def key(path: Path) -> str:  # the file itself: folders above resolved, a link as the link (moved as one)
        return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))

    kept = {}
    for k in plan.kept:
        if k.kind == "checkpoint":
            kept.setdefault(key(k.path), k)
    seen: set[str] = set()
    actions = []
    for action in plan.actions:
        if action.kind != "checkpoint" or action.with_run:
            actions.append(action)
            continue
        where = key(action.path)
        keeper = kept.get(where)
        if keeper is not None:
            whose = _relative(root, keeper.run)
            plan.kept.append(Kept(action.path, action.run, "checkpoint", action.bytes,
                                  [f"kept by {whose}: {', '.join(keeper.reasons)}"]))
        elif where not in seen:
            seen.add(where)
            actions.append(action)
    plan.actions = actions


# ----- acting -----------------------------------------------------------------------------------------------

def _relative(root: Path, path: Path) -> Path:
    try:
        return Path(os.path.relpath(path, root))
    except ValueError:
        return path


def _recheck_run(root: Path, run: Path, now: float) -> tuple[Any, str | None]:
    """The run read afresh (its record), and why it must not be touched now (None: it may)."""
    from ..reading.api import find_source
    from ..reading.records import read_record, settle_status

    try:
        source = find_source(run, root)
    except FileNotFoundError:
        return None, "gone since the plan"
    except Exception as exc:
        return None, f"cannot be read again: {exc}"
    source.root = root
    record = read_record(source)
    settle_status(record.info, now)
    if record.info.status in LIVE_STATUSES:
        return record, "started running since the plan: left alone"
    return record, None


def apply_plan(root: str | os.PathLike, plan: CleanPlan, *,
               progress: Callable[[int, int, str], None] | None = None) -> list[ActionResult]:
    """Carry out `plan`: each checkpoint and run to the trash (`ops.trash.move_to_trash`) or the archive
    (`ops.archive.archive_run`), each checked again first (see the module docstring). Checkpoints go before
    runs. One result per action, in plan order; a failed or skipped action never stops the others."""
    root = Path(root)
    results: dict[int, ActionResult] = {}
    runs: dict[Path, tuple[Any, str | None]] = {}
    order = sorted(range(len(plan.actions)), key=lambda i: plan.actions[i].kind != "checkpoint")
    total = len(order)
    for done, i in enumerate(order):
        action = plan.actions[i]
        if progress is not None:
            progress(done, total, str(_relative(root, action.path)))
        results[i] = _apply_one(root, action, runs)
    if progress is not None:
        progress(total, total, "")
    return [results[i] for i in range(len(plan.actions))]


def _apply_one(root: Path, action: PlanAction, runs: dict[Path, tuple[Any, str | None]]) -> ActionResult:
    if action.stamp is not None and _stamp(action.path) != action.stamp:
        why = "gone since the plan" if _stamp(action.path) is None else "changed since the plan: left alone"
        return ActionResult(action, False, why)
    if action.run not in runs:
        runs[action.run] = _recheck_run(root, action.run, time.time())
    record, refusal = runs[action.run]
    if refusal is not None and not (refusal == "gone since the plan" and action.kind == "checkpoint"):
        return ActionResult(action, False, refusal)
    if action.kind == "checkpoint" and record is not None and record.source is not None:
        refusal = _recheck_checkpoint(root, record, action)
        if refusal is not None:
            return ActionResult(action, False, refusal)
    try:
        if action.action == "archive":
            from .archive import archive_run

            dest = archive_run(root, action.path)
            return ActionResult(action, True, f"archived to {_relative(root, dest)}", dest=dest)
        from .trash import move_to_trash

        entry = move_to_trash(root, action.path, reason=action.reason, kind=action.kind, run=action.run)
        return ActionResult(action, True, f"to the trash ({entry.id})", entry=entry)
    except (RunError, OSError, ValueError) as exc:
        return ActionResult(action, False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


def _recheck_checkpoint(root: Path, record: Any, action: PlanAction) -> str | None:
    """Why a checkpoint planned for the trash must stay now (it became its run's best, latest or resume point)."""
    if action.with_run:
        return None
    source = record.source
    try:
        checkpoints = source.checkpoints()
    except Exception:
        return "its run's checkpoints cannot be read again: left alone"
    points = resume_points(source, record.info)
    for verdict in judge_checkpoints(root, Path(source.path), checkpoints, points, None, None):
        if os.path.abspath(verdict.checkpoint.path) == os.path.abspath(action.path) and verdict.protected:
            return f"now kept: {', '.join(verdict.reasons)}"
    return None
