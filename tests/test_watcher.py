"""RunWatcher: events and polling both report appends and new runs, batched, and fall back to polling when told."""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runyard.tui.live import watcher as watcher_mod
from runyard.tui.live.watcher import MAX_EVENT_RUNS, Changes, RunWatcher, filesystem_type, is_network_filesystem

TIMEOUT = 5.0  # generous: a loaded CI box may be slow to deliver
QUIET = 1.0  # no callback for this long means the burst is over

MOUNTS = "\n".join([
    "/dev/vda / ext4 rw,relatime 0 0",
    "server:/export /mnt/nfs nfs4 rw,vers=4.2 0 0",
    "10.0.0.1@tcp:/scratch /lustre lustre rw,flock 0 0",
    "u@box: /home/u/remote\\040box fuse.sshfs rw,user_id=1000 0 0",
    "//srv/share /mnt/smb cifs rw,vers=3.0 0 0",
    "/dev/sdb /data xfs rw 0 0",
    "/dev/sdc /data/btr btrfs rw 0 0",
    "tmpfs /scratch tmpfs rw 0 0",
    "overlay /var/lib/docker/merged overlay rw 0 0",
    "/dev/sdd /stacked ext4 rw 0 0",
    "server:/stacked /stacked nfs rw 0 0",
])


class Collector:
    """An on_change callback that queues what it gets, and helpers to wait for a matching batch."""

    def __init__(self) -> None:
        self.queue: queue.Queue[Changes] = queue.Queue()
        self.seen: list[Changes] = []

    def __call__(self, changes: Changes) -> None:
        self.queue.put(changes)

    def _next(self, timeout: float) -> Changes:
        changes = self.queue.get(timeout=timeout)
        assert changes, "on_change was called with empty Changes"
        self.seen.append(changes)
        return changes

    def wait_for(self, match: Callable[[Changes], bool]) -> Changes:
        """The first batch that matches, failing after TIMEOUT seconds."""
        deadline = time.monotonic() + TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            try:
                changes = self._next(left)
            except queue.Empty:
                break
            if match(changes):
                return changes
        raise AssertionError(f"no matching change within {TIMEOUT}s; got {self.seen}")

    def until_quiet(self) -> list[Changes]:
        """Every batch until none has come for QUIET seconds."""
        batches = []
        while True:
            try:
                batches.append(self._next(QUIET))
            except queue.Empty:
                return batches


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for name in ("r1", "r2"):
        (root / name).mkdir(parents=True)
        (root / name / "metrics.jsonl").write_text('{"step": 0}\n')
    return root


@pytest.fixture
def make(runs: Path) -> Iterator[Callable[..., tuple[RunWatcher, Collector]]]:
    """Build a started watcher on `runs` (stopped at teardown); reconcile is long unless a test asks."""
    made: list[RunWatcher] = []

    def build(*, follow: tuple[str, ...] = ("r1",), **kwargs) -> tuple[RunWatcher, Collector]:
        kwargs = {"interval": 0.05, "coalesce": 0.05, "reconcile": 60.0, **kwargs}
        collector = Collector()
        w = RunWatcher(runs, collector, **kwargs)
        made.append(w)
        w.follow([runs / name for name in follow])
        w.start()
        return w, collector

    yield build
    for w in made:
        w.stop()


def append(path: Path, text: str = '{"step": 1}\n') -> None:
    with path.open("a") as fh:
        fh.write(text)


def has(path: Path) -> Callable[[Changes], bool]:
    return lambda changes: path in changes.paths


@pytest.mark.parametrize("poll", [False, True], ids=["events", "poll"])
def test_append_to_a_followed_run_is_reported(make, runs, poll):
    w, got = make(poll=poll)
    assert w.mode == ("poll" if poll else "events")
    append(runs / "r1" / "metrics.jsonl")
    changes = got.wait_for(has(runs / "r1" / "metrics.jsonl"))
    assert not changes.rescan


@pytest.mark.parametrize("poll", [False, True], ids=["events", "poll"])
def test_new_run_folder_under_root_or_container_asks_for_rescan(make, runs, poll):
    (runs / "archive").mkdir()
    w, got = make(poll=poll)
    w.watch_containers([runs / "archive"])
    (runs / "r3").mkdir()
    got.wait_for(lambda c: c.rescan)
    (runs / "archive" / "old").mkdir()
    got.wait_for(lambda c: c.rescan)


def test_temp_files_and_reads_are_ignored(make, runs):
    metrics, log = runs / "r1" / "metrics.jsonl", runs / "r1" / "training.log"
    log.write_text("hello\n")
    _, got = make(poll=False)
    for _ in range(5):
        metrics.read_bytes()
        log.read_text()
    (runs / "r1" / ".run.json.1234.tmp").write_text("{}")
    (runs / "r1" / "summary.json.tmp").write_text("{}")
    (runs / ".scan.5678.tmp").write_text("{}")
    (runs / "r1" / "done").write_text("")  # a sentinel written last: once it is reported, all before it was too
    got.wait_for(has(runs / "r1" / "done"))
    assert all(c.paths <= {runs / "r1" / "done"} and not c.rescan for c in got.seen)


def test_atomic_replace_reports_the_final_name_only(make, runs):
    _, got = make(poll=False)
    tmp = runs / "r1" / ".run.json.99.tmp"
    tmp.write_text('{"status": "running"}')
    os.replace(tmp, runs / "r1" / "run.json")
    changes = got.wait_for(has(runs / "r1" / "run.json"))
    assert changes.paths == {runs / "r1" / "run.json"}


def test_many_quick_appends_are_coalesced(make, runs):
    metrics = runs / "r1" / "metrics.jsonl"
    _, got = make(poll=False, coalesce=0.3)
    for step in range(100):
        append(metrics, f'{{"step": {step}}}\n')
    batches = got.until_quiet()
    assert 1 <= len(batches) <= 10
    assert all(metrics in c.paths for c in batches)


@pytest.mark.parametrize("poll", [False, True], ids=["events", "poll"])
def test_polling_and_events_see_replacement_and_checkpoint_index(make, runs, poll):
    (runs / "r1" / "checkpoints").mkdir()
    (runs / "r1" / "run.json").write_text('{"status": "running"}')
    _, got = make(poll=poll)
    tmp = runs / "r1" / ".run.json.1.tmp"
    tmp.write_text('{"status": "finished"}')  # not the same size: mtime granularity cannot hide it
    os.replace(tmp, runs / "r1" / "run.json")
    got.wait_for(has(runs / "r1" / "run.json"))
    append(runs / "r1" / "checkpoints" / "index.jsonl", '{"step": 10}\n')
    got.wait_for(has(runs / "r1" / "checkpoints" / "index.jsonl"))


def test_polling_sees_a_same_size_replacement(make, runs):
    summary = runs / "r1" / "summary.json"
    summary.write_text('{"loss": 1}')
    _, got = make(poll=True)
    tmp = runs / "r1" / ".summary.json.1.tmp"
    tmp.write_text('{"loss": 2}')
    os.replace(tmp, summary)
    got.wait_for(has(summary))


@pytest.mark.parametrize("poll", [False, True], ids=["events", "poll"])
def test_follow_replaces_the_followed_set(make, runs, poll):
    w, got = make(poll=poll)
    append(runs / "r1" / "metrics.jsonl")
    got.wait_for(has(runs / "r1" / "metrics.jsonl"))
    got.until_quiet()
    w.follow([runs / "r2"])
    before = len(got.seen)
    append(runs / "r1" / "metrics.jsonl")
    append(runs / "r2" / "metrics.jsonl")
    got.wait_for(has(runs / "r2" / "metrics.jsonl"))
    got.until_quiet()
    assert not any(runs / "r1" / "metrics.jsonl" in c.paths for c in got.seen[before:])


@pytest.mark.parametrize("poll", [False, True], ids=["events", "poll"])
def test_reconcile_asks_for_rescan_without_any_event(make, poll):
    _, got = make(poll=poll, reconcile=0.2)
    changes = got.wait_for(lambda c: c.rescan)
    assert changes.paths == set()


@pytest.mark.parametrize(("path", "fstype", "network"), [
    ("/mnt/nfs/runs", "nfs4", True),
    ("/lustre/team/runs", "lustre", True),
    ("/home/u/remote box/runs", "fuse.sshfs", True),
    ("/mnt/smb", "cifs", True),
    ("/mnt/nfsother/runs", "ext4", False),  # a prefix by characters, not by path components
    ("/home/u/runs", "ext4", False),
    ("/data/runs", "xfs", False),
    ("/data/btr/runs", "btrfs", False),  # the longest mount point wins
    ("/scratch/runs", "tmpfs", False),
    ("/var/lib/docker/merged/runs", "overlay", False),
    ("/stacked/runs", "nfs", True),  # of two mounts on one point, the later one is on top
])
def test_filesystem_type_from_mounts_text(path, fstype, network):
    assert filesystem_type(Path(path), mounts_text=MOUNTS) == fstype
    assert is_network_filesystem(fstype) is network


def test_network_filesystem_names():
    for name in ("nfs", "nfs4", "lustre", "gpfs", "beegfs", "ceph", "9p", "cifs", "smb3", "fuse", "fuse.sshfs"):
        assert is_network_filesystem(name), name
    for name in ("ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "apfs", "fuseblk", "unknown"):
        assert not is_network_filesystem(name), name


def test_network_root_chooses_polling(runs, monkeypatch):
    monkeypatch.setattr(watcher_mod, "filesystem_type", lambda path: "nfs4")
    w = RunWatcher(runs, Collector())
    assert (w.mode, w.reason) == ("poll", "nfs4 filesystem: inotify sees no remote writes")


def test_local_root_chooses_events(runs, monkeypatch):
    monkeypatch.setattr(watcher_mod, "filesystem_type", lambda path: "ext4")
    w = RunWatcher(runs, Collector())
    assert (w.mode, w.reason) == ("events", "local ext4 filesystem")
    assert RunWatcher(runs, Collector(), poll=True).reason == "--poll"


@pytest.mark.parametrize("when", ["start", "follow"])
def test_watch_limit_falls_back_to_polling(make, runs, monkeypatch, when):
    def refuse(*args, **kwargs):
        raise OSError(28, "inotify watch limit reached")

    if when == "start":
        monkeypatch.setattr(watcher_mod.Observer, "schedule", refuse)
        w, got = make(poll=False)
    else:
        w, got = make(poll=False, follow=())
        assert w.mode == "events"
        monkeypatch.setattr(watcher_mod.Observer, "schedule", refuse)
        w.follow([runs / "r1"])
    assert w.mode == "poll"
    assert "fs.inotify.max_user_watches" in w.reason
    got.wait_for(lambda c: c.rescan)  # the app hears of the switch
    append(runs / "r1" / "metrics.jsonl")
    got.wait_for(has(runs / "r1" / "metrics.jsonl"))


@pytest.mark.parametrize("poll", [False, True], ids=["events", "poll"])
def test_stop_is_idempotent_and_leaves_no_thread(runs, poll):
    before = set(threading.enumerate())  # other tests' daemon threads may end meanwhile: count only new ones
    got = Collector()
    w = RunWatcher(runs, got, poll=poll, interval=0.05, coalesce=0.05, reconcile=0.05)
    w.stop()  # before start: harmless
    w.follow([runs / "r1"])
    w.start()
    got.wait_for(lambda c: c.rescan)
    w.stop()
    w.stop()
    assert [t for t in threading.enumerate() if t not in before] == []
    while not got.queue.empty():
        got.queue.get()
    append(runs / "r1" / "metrics.jsonl")
    with pytest.raises(queue.Empty):
        got.queue.get(timeout=0.3)


def test_many_followed_runs_are_polled_while_new_runs_still_come_by_events(make, runs):
    names = [f"many{i:02d}" for i in range(MAX_EVENT_RUNS + 5)]
    for name in names:
        (runs / name).mkdir()
        (runs / name / "metrics.jsonl").write_text('{"step": 0}\n')
    w, got = make(poll=False, follow=tuple(names))
    assert w.mode == "events" and w._polled_runs() == frozenset(runs / n for n in names)
    assert not any(d in w._watches for d in w._polled_runs())  # no inotify watch spent on them
    append(runs / names[-1] / "metrics.jsonl")
    got.wait_for(has(runs / names[-1] / "metrics.jsonl"))
    (runs / "newcomer").mkdir()
    got.wait_for(lambda changes: changes.rescan)
