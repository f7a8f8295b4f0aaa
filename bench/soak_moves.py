"""Kill -9 soak of every operation that changes a runs tree: archive (plain and compressed), restore (both),
trash, trash restore and trash empty, each killed at every one of its kill points and at random instants.

For each operation a tree is built (a runyard run with a checkpoint, a hard link, links inside the run and one
pointing out of the root, an empty folder, a read-only file; a nanoGPT log as a one-file run; a bystander run),
the operation is run in a child process with `RUNYARD_FAULT=kill@N` for every N its `count@FILE` run reached,
and also SIGKILLed from outside at random moments. At the kill instant, every copy of the run that can be seen
(its origin, archive/, the trash) must be whole — the sha256 of every file, links, modes, mtimes, hard links;
after recovery (itself killed at a random point half of the time, then run again) the run exists exactly once,
at its origin or as its verified archive or trash copy, nothing is left in `.runyard/`, the bystander and the
file outside the root are untouched.

    python bench/soak_moves.py [--mb MB] [--random N] [--seed S] [--only OP]

`tests/test_kill_moves.py` runs a sample of the same trials; this runs all of them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

NANOGPT_LOG = PROJECT / "tests" / "fixtures" / "foreign" / "nanogpt" / "logs" / "log_run_20240716_143052.txt"
OTHER_LOG = PROJECT / "tests" / "fixtures" / "foreign" / "nanogpt" / "logs" / "log_run_20240717_091511.txt"
OPS = ("archive", "archive-z", "restore", "restore-z", "trash", "trash-restore", "trash-empty")
# where the run may be once an operation is over (killed and recovered): before it, or after it
ALLOWED = {"archive": {"origin", "archive"}, "archive-z": {"origin", "archive-z"},
           "restore": {"archive", "origin"}, "restore-z": {"archive-z", "origin"},
           "trash": {"origin", "trash"}, "trash-restore": {"trash", "origin"}, "trash-empty": {"trash", "gone"}}
PREP = {"restore": "archive", "restore-z": "archive-z", "trash-restore": "trash", "trash-empty": "trash"}

# The child: imports first, says "go", then runs one operation (or a recovery) on the tree.
RUNNER = """
import sys
from runyard.ops import archive, journal, trash
root, op, arg = sys.argv[1:4]
print("go", flush=True)
if op == "archive":
    archive.archive_run(root, arg)
elif op == "archive-z":
    archive.archive_run(root, arg, compress=True)
elif op in ("restore", "restore-z"):
    archive.restore_run(root, arg)
elif op == "trash":
    trash.move_to_trash(root, arg, reason="soak", kind="run")
elif op == "trash-restore":
    trash.restore_from_trash(root, [arg])
elif op == "trash-empty":
    trash.empty_trash(root, ids=[arg])
elif op == "recover":
    journal.recover(root)
"""


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RUNYARD_FAULT"}
    env["PYTHONPATH"] = str(PROJECT) + os.pathsep + env.get("PYTHONPATH", "")
    env["XDG_CACHE_HOME"] = env.get("SOAK_CACHE", env.get("XDG_CACHE_HOME", ""))
    if not env["XDG_CACHE_HOME"]:
        del env["XDG_CACHE_HOME"]
    env.update(extra)
    return env


# ----- the tree -----------------------------------------------------------------------------------------------

def build_tree(base: Path, subject: str = "folder", mb: float = 0.25) -> World:
    """A runs root under `base` with the run acted on (`folder`: a runyard run; `file`: a nanoGPT log), a
    bystander run, and a file outside the root that a link in the run points at."""
    import runyard

    root = base / "runs"
    outside = base / "outside"
    outside.mkdir(parents=True)
    (outside / "data.bin").write_bytes(os.urandom(5000))
    run = runyard.init("alpha", root=root / "proj", config={"lr": 0.1}, console=False, system_metrics=False)
    for step in range(20):
        run.log({"train/loss": 1.0 / (step + 1)}, step=step)
    run.finish()
    folder = run.path
    ckpt = folder / "checkpoints"
    ckpt.mkdir(exist_ok=True)
    rng = random.Random(7)
    (ckpt / "step_10.pt").write_bytes(rng.randbytes(int(mb * 1024 * 1024)))
    os.link(ckpt / "step_10.pt", ckpt / "best.pt")                       # a hard link inside the run
    (ckpt / "step_20.pt").write_bytes(rng.randbytes(3000))
    os.symlink("checkpoints/step_20.pt", folder / "latest.pt")           # a link inside the run
    os.symlink(os.path.relpath(outside / "data.bin", folder), folder / "data")  # a link out of the root
    os.symlink("nowhere", folder / "dangling")
    (folder / "empty").mkdir()
    (folder / "notes.txt").write_text("private\n")
    os.chmod(folder / "notes.txt", 0o600)
    os.utime(folder / "notes.txt", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    logs = root / "logs"
    logs.mkdir(parents=True)
    shutil.copy2(NANOGPT_LOG, logs / NANOGPT_LOG.name)
    shutil.copy2(OTHER_LOG, logs / OTHER_LOG.name)
    bystander = runyard.init("beta", root=root, console=False, system_metrics=False)
    bystander.log({"train/loss": 1.0}, step=0)
    bystander.finish()
    subject_path = folder if subject == "folder" else logs / NANOGPT_LOG.name
    world = World(base, subject_path.relative_to(root), bystander.path.relative_to(root))
    world.expected = fingerprint(root / world.subject)
    world.bystander_print = fingerprint(root / world.bystander)
    world.other_log = fingerprint(logs / OTHER_LOG.name)
    world.outside_sha = sha256(outside / "data.bin")
    return world


@dataclass
class World:
    """A tree built by `build_tree` (paths relative to its root), and what it must hold."""

    base: Path
    subject: Path
    bystander: Path
    expected: dict[str, Any] = field(default_factory=dict)
    bystander_print: dict[str, Any] = field(default_factory=dict)
    other_log: dict[str, Any] = field(default_factory=dict)
    outside_sha: str = ""

    @property
    def root(self) -> Path:
        return self.base / "runs"

    def moved_to(self, base: Path) -> World:
        return World(base, self.subject, self.bystander, self.expected, self.bystander_print, self.other_log,
                     self.outside_sha)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(path: Path) -> dict[str, Any]:
    """Everything that must survive a move: per entry its type, sha256 (files), link target, mode, mtime (ns),
    and which entries are hard links of one file. The top entry's own mtime is left out for a file run."""
    out: dict[str, Any] = {}
    inodes: dict[tuple[int, int], str] = {}

    def one(p: Path, rel: str) -> None:
        st = os.lstat(p)
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
            for name in sorted(os.listdir(p)):
                one(p / name, f"{rel}/{name}" if rel else name)
        else:
            group = inodes.setdefault((st.st_dev, st.st_ino), rel)
            out[rel] = ("file", sha256(p), stat.S_IMODE(st.st_mode), st.st_mtime_ns, group)

    one(path, "")
    return out


def copy_tree(src: Path, dst: Path) -> None:
    """`cp -a`: links, hard links, modes and times as they are."""
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


# ----- trials -------------------------------------------------------------------------------------------------

def op_arg(world: World, op: str) -> str:
    """The argument of the operation: the run's path, its archive, or its trash id."""
    root = world.root
    if op in ("archive", "archive-z", "trash"):
        return str(root / world.subject)
    if op == "restore":
        return str(root / "archive" / world.subject)
    if op == "restore-z":
        return str(root / "archive" / world.subject) + ".tar.zst"
    return trash_id(world)


def trash_id(world: World) -> str:
    info = world.root / ".trash" / "info"
    for name in sorted(os.listdir(info)):
        data = json.loads((info / name).read_bytes())
        if data["path"] == world.subject.as_posix():
            return name[:-len(".json")]
    raise AssertionError("the run is not in the trash")


def prepare(world: World, op: str) -> None:
    """Bring a fresh tree to the state `op` starts from (archived, compressed, trashed), in this process."""
    before = PREP.get(op)
    if before is None:
        return
    from runyard.ops import archive, trash

    if before == "archive":
        archive.archive_run(world.root, world.root / world.subject)
    elif before == "archive-z":
        archive.archive_run(world.root, world.root / world.subject, compress=True)
    else:
        trash.move_to_trash(world.root, world.root / world.subject, reason="soak", kind="run")


def run_op(world: World, op: str, fault: str | None = None, kill_after: float | None = None,
           timeout: float = 120) -> tuple[int, float]:
    """Run `op` in a child on `world` (with `RUNYARD_FAULT=fault`; or SIGKILLed `kill_after` seconds after its
    imports); its exit status (-9 when killed) and how long it ran after its imports."""
    env = child_env(**({"RUNYARD_FAULT": fault} if fault else {}))
    arg = op_arg(world, op) if op != "recover" else ""
    child = subprocess.Popen([sys.executable, "-c", RUNNER, str(world.root), op, arg], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    child.stdout.readline()
    started = time.perf_counter()
    if kill_after is not None:
        time.sleep(kill_after)
        child.send_signal(signal.SIGKILL)
    try:
        _, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        raise
    ran = time.perf_counter() - started
    if child.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"{op} failed ({child.returncode}): {err.strip()[-2000:]}")
    return child.returncode, ran


def count_points(world: World, op: str, scratch: Path) -> tuple[list[str], float]:
    """The kill points `op` passes on `world` (a copy is used), in order, and how long it ran."""
    base = scratch / "count"
    copy_tree(world.base, base)
    points = scratch / "points.txt"
    points.unlink(missing_ok=True)
    code, ran = run_op(world.moved_to(base), op, fault=f"count@{points}")
    assert code == 0
    names = points.read_text().split() if points.exists() else []
    shutil.rmtree(base)
    return names, ran


# ----- checks -------------------------------------------------------------------------------------------------

def places(world: World, scratch: Path) -> dict[str, dict[str, Any] | None]:
    """Every copy of the run there is: place -> its fingerprint (None: a part only, as a tar without manifest)."""
    root = world.root
    found: dict[str, dict[str, Any] | None] = {}
    if os.path.lexists(root / world.subject):
        found["origin"] = fingerprint(root / world.subject)
    plain = root / "archive" / world.subject
    if os.path.lexists(plain):
        found["archive"] = fingerprint(plain)
    tar, manifest = Path(f"{plain}.tar.zst"), Path(f"{plain}.manifest.json")
    if tar.exists() and manifest.exists():
        from runyard.ops import tarzst

        loaded = tarzst.read_manifest(manifest)
        tarzst.verify_archive(tar, loaded)
        out = scratch / "extracted"
        if out.exists():
            shutil.rmtree(out)
        tarzst.extract_archive(tar, loaded, out / "item")
        found["archive-z"] = fingerprint(out / "item")
        shutil.rmtree(out)
    elif tar.exists() or manifest.exists():
        found["archive-z"] = None
    info = root / ".trash" / "info"
    if info.is_dir():
        for name in sorted(os.listdir(info)):
            if not name.endswith(".json"):
                continue
            data = json.loads((info / name).read_bytes())
            item = root / ".trash" / "files" / name[:-len(".json")]
            if data["path"] == world.subject.as_posix() and os.path.lexists(item):
                assert "trash" not in found, "the run is in the trash twice"
                found["trash"] = fingerprint(item)
    return found


def check_at_kill(world: World, op: str, scratch: Path) -> None:
    """At the kill instant: a copy that can be seen is whole, and at least one is (unless emptying the trash)."""
    found = places(world, scratch)
    whole = {k: v for k, v in found.items() if v is not None}
    for place, seen in whole.items():
        if seen != world.expected:
            raise AssertionError(f"{op}: the copy in {place} is not whole at the kill: {diff(seen, world.expected)}")
    if not whole and op != "trash-empty":
        raise AssertionError(f"{op}: at the kill the run exists nowhere")
    check_scan(world, op, once=False)  # between placing a copy and removing the other, both are listed


def check_after(world: World, op: str, scratch: Path) -> str:
    """After recovery: the run is in exactly one allowed place, whole; nothing is left behind. The place."""
    found = places(world, scratch)
    if any(v is None for v in found.values()):
        raise AssertionError(f"{op}: a compressed archive in parts after recovery: {sorted(found)}")
    if len(found) > 1:
        raise AssertionError(f"{op}: the run exists {len(found)} times after recovery: {sorted(found)}")
    place = next(iter(found), "gone")
    if place not in ALLOWED[op]:
        raise AssertionError(f"{op}: after recovery the run is in {place}, not in {sorted(ALLOWED[op])}")
    if place != "gone" and found[place] != world.expected:
        raise AssertionError(f"{op}: the run in {place} differs: {diff(found[place], world.expected)}")
    root = world.root
    for folder in (".runyard/journal", ".runyard/locks", ".runyard/staging"):
        left = os.listdir(root / folder) if (root / folder).is_dir() else []
        if left:
            raise AssertionError(f"{op}: left in {folder}: {left}")
    for folder, _dirs, files in os.walk(root / "archive"):
        temps = [f for f in files if f.startswith(".") and f.endswith(".tmp")]
        if temps:
            raise AssertionError(f"{op}: temporary files left in {folder}: {temps}")
    infos = {n[:-5] for n in _list(root / ".trash" / "info") if n.endswith(".json")}
    items = set(_list(root / ".trash" / "files"))
    if infos != items:
        raise AssertionError(f"{op}: trash info and items differ: {sorted(infos ^ items)}")
    if fingerprint(root / world.bystander) != world.bystander_print:
        raise AssertionError(f"{op}: the bystander run changed")
    if fingerprint(root / "logs" / OTHER_LOG.name) != world.other_log:
        raise AssertionError(f"{op}: the other log beside the run changed")
    if sha256(world.base / "outside" / "data.bin") != world.outside_sha:
        raise AssertionError(f"{op}: the file outside the root changed")
    check_scan(world, op)
    return place


def check_scan(world: World, op: str, once: bool = True) -> None:
    """What a listing shows: nothing inside .runyard/ or .trash/, nothing half-written; no run twice (`once`)."""
    import runyard

    records = runyard.scan(world.root, use_cache=False)
    paths = [Path(r.info.path).relative_to(world.root) for r in records]
    hidden = [p for p in paths if p.parts and p.parts[0] in (".runyard", ".trash")]
    if hidden:
        raise AssertionError(f"{op}: listed from runyard's own folders: {hidden}")
    temps = [p for p in paths if p.name.startswith(".")]
    if temps:
        raise AssertionError(f"{op}: temporary files listed as runs: {temps}")
    if not once:
        return
    ids = Counter(r.info.id for r in records)
    twice = [k for k, n in ids.items() if n > 1]
    if twice:
        raise AssertionError(f"{op}: listed twice: {twice} ({paths})")


def _list(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []


def diff(a: dict[str, Any] | None, b: dict[str, Any]) -> str:
    if a is None:
        return "in parts"
    keys = sorted(set(a) | set(b))
    return "; ".join(f"{k!r}: {a.get(k)} != {b.get(k)}" for k in keys if a.get(k) != b.get(k))[:600]


def recover(world: World, rng: random.Random | None = None) -> None:
    """Recover the tree: half of the time (with `rng`) a recovery killed at a random point first."""
    if rng is not None and rng.random() < 0.5:
        run_op(world, "recover", fault=f"kill@{rng.randint(1, 6)}")
    from runyard.ops.journal import recover as recover_tree

    recover_tree(world.root)


def trial(template: World, op: str, scratch: Path, *, point: int | None = None, kill_after: float | None = None,
          rng: random.Random | None = None) -> tuple[bool, str]:
    """One kill of `op` on a copy of `template`: (killed, where the run ended up)."""
    base = scratch / "trial"
    if base.exists():
        _force_remove(base)
    copy_tree(template.base, base)
    world = template.moved_to(base)
    code, _ = run_op(world, op, fault=f"kill@{point}" if point is not None else None, kill_after=kill_after)
    killed = code == -signal.SIGKILL
    if killed:
        check_at_kill(world, op, scratch)
    recover(world, rng)
    place = check_after(world, op, scratch)
    _force_remove(base)
    return killed, place


def _force_remove(path: Path) -> None:
    for folder, dirs, _files in os.walk(path):
        for name in dirs:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                os.chmod(full, 0o755)
    shutil.rmtree(path)


def make_template(scratch: Path, op: str, subject: str, mb: float) -> World:
    base = scratch / f"template-{op}-{subject}"
    world = build_tree(base, subject, mb)
    prepare(world, op)
    return world


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=8.0, help="size of the run's checkpoint in MB")
    parser.add_argument("--random", type=int, default=12, help="random-time kills per operation and run kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=OPS, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    totals: Counter[str] = Counter()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="soak-moves-") as tmp:
        scratch = Path(tmp)
        os.environ["SOAK_CACHE"] = str(scratch / "cache")
        print(f"{'operation':<14} {'run':<7} {'points':>6} {'killed':>6} {'random':>6} {'ended at':<28} time")
        for op in OPS if args.only is None else (args.only,):
            for subject in ("folder", "file"):
                t0 = time.perf_counter()
                template = make_template(scratch, f"{op}", subject, args.mb if subject == "folder" else 0)
                names, ran = count_points(template, op, scratch)
                ends: Counter[str] = Counter()
                killed = 0
                for n in range(1, len(names) + 1):
                    hit, place = trial(template, op, scratch, point=n, rng=rng)
                    killed += hit
                    ends[place] += 1
                random_kills = 0
                for _ in range(args.random):
                    hit, place = trial(template, op, scratch, kill_after=rng.uniform(0, ran * 1.2), rng=rng)
                    random_kills += hit
                    ends[place] += 1
                shutil.rmtree(template.base)
                totals["points"] += len(names)
                totals["kills"] += killed + random_kills
                totals["trials"] += len(names) + args.random
                where = ", ".join(f"{k} {v}" for k, v in sorted(ends.items()))
                print(f"{op:<14} {subject:<7} {len(names):>6} {killed:>6} {random_kills:>6} {where:<28} "
                      f"{time.perf_counter() - t0:.1f}s", flush=True)
    print(f"\n{totals['trials']} trials, {totals['kills']} processes killed ({totals['points']} kill points), "
          f"every run whole and in one place after recovery; {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
