"""Managing runs in the app, driven as a person would: `a` archive, `d` trash, `u` restore, `C` clean up, `A` and `U`,
on real run folders. Every key previews, `n` leaves the tree as it was, `y` does it with progress; running runs are
refused; a job's reports arrive in order; quitting mid-job waits for the step under way."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

import runyard
from runyard import Busy, RunError, list_trash, path_usage
from runyard.tui.app import QuitScreen, RunyardApp
from runyard.tui.live.manage import (
    ARCHIVE,
    Advanced,
    Finished,
    Job,
    JobState,
    Outcome,
    Started,
    Step,
    StepEnded,
    human_size,
)
from runyard.tui.screens.manage import CleanupScreen, ConfirmScreen, ProgressScreen
from runyard.tui.screens.runs import RunsScreen
from tests.conftest import child_env
from tests.test_app import make_run, table, wait_for, wait_until


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def root(tmp_path) -> Path:
    root = tmp_path / "runs"
    for name, lr in (("alpha", 0.001), ("beta", 0.01), ("gamma", 0.005)):
        make_run(root, name, lr)
    return root


@pytest.fixture
def live(root):
    """A run still training (this process's pid, a fresh heartbeat): running, so refused."""
    run = make_run(root, "live", 0.002, finish=False)
    yield run
    run.finish()


def tree(root: Path) -> dict[str, int]:
    """Every file and folder under `root` with its size: what "untouched" means."""
    out = {}
    for where, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(where) / name
            # a live run's own files grow and its heartbeat rewrites run.json: their presence is what counts
            live = name in ("run.json", "metrics.jsonl", "training.log", "summary.json")
            out[str(path.relative_to(root))] = -2 if live else os.lstat(path).st_size if name in files else -1
    return out


def path_of(root: Path, name: str) -> Path:
    return next(p for p in root.iterdir() if p.name.startswith(f"{name}_"))


def key_of(app, name: str) -> str:
    return next(k for k, r in app.records.items() if r.info.name == name)


def record_notes(app) -> list[tuple[str, str]]:
    """What the app says in notifications, recorded as said (message, severity)."""
    said: list[tuple[str, str]] = []
    notify = app.notify

    def recording(message, *args, **kwargs):
        said.append((str(message), kwargs.get("severity", "information")))
        return notify(message, *args, **kwargs)

    app.notify = recording
    return said


def modal_text(screen) -> str:
    """Everything a modal shows: its lines and its table's cells, row by row."""
    parts = [str(s.render()) for s in screen.query(Static)]
    for data in screen.query(DataTable):
        for i in range(data.row_count):
            parts.append("  ".join(str(c) for c in data.get_row_at(i)))
    return "\n".join(parts)


async def ready(app, pilot, count: int) -> None:
    await wait_for(app, pilot, lambda: table(app).row_count == count)


async def highlight(app, pilot, name: str) -> None:
    table(app).highlight(key_of(app, name))
    await pilot.pause()


async def preview(app, pilot, key: str) -> ConfirmScreen:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.preview is not None)
    return app.screen


async def job_done(app, pilot) -> Finished:
    await wait_until(pilot, lambda: app.job is not None and app.job.finished is not None, timeout=30)
    await wait_until(pilot, lambda: not app.scanning and isinstance(app.screen, (RunsScreen, CleanupScreen)))
    return app.job.finished


# ----- a ---------------------------------------------------------------------------------------------------------

async def test_a_previews_each_run_with_its_size_and_n_leaves_the_tree_untouched(root):
    before = tree(root)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot, 3)
        await highlight(app, pilot, "alpha")
        modal = await preview(app, pilot, "a")
        text = modal_text(modal)
        alpha = path_of(root, "alpha")
        assert "Archive: 1 run" in text
        assert f"alpha  {human_size(path_usage(alpha).total)}  → archive/" in text
        assert "1 run, " in text and "y / enter: archive" in text and "c: compress (off)" in text
        await pilot.press("c")
        assert "→ archive/ compressed" in modal_text(modal) and "c: compress (on)" in modal_text(modal)
        await pilot.press("n")
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("a")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert isinstance(app.screen, RunsScreen) and app.job is None
    assert tree(root) == before


async def test_a_then_y_archives_the_marked_runs_and_the_table_follows(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        said = record_notes(app)
        await ready(app, pilot, 3)
        alpha, beta = path_of(root, "alpha"), path_of(root, "beta")
        table(app).highlight(str(alpha))
        await pilot.press("space")
        table(app).highlight(str(beta))
        await pilot.press("space")
        modal = await preview(app, pilot, "a")
        assert "Archive: 2 runs" in modal_text(modal)
        await pilot.press("y")
        finished = await job_done(app, pilot)
        assert finished.ok == 2 and finished.failed == 0
        assert not alpha.exists() and not beta.exists()
        assert (root / "archive" / alpha.name / "run.json").is_file() and (root / "archive" / beta.name).is_dir()
        await wait_until(pilot, lambda: {f.record.info.name: f.record.info.archived
                                         for f in table(app).facts.values()} ==
                         {"alpha": True, "beta": True, "gamma": False})
        assert any(m.startswith("archived 2 runs") for m, _ in said)
        assert not any("moved to" in m for m, _ in said)  # the job said where they went: no second notice


async def test_archive_compressed_leaves_a_verified_tar_zst(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot, 3)
        await highlight(app, pilot, "gamma")
        gamma = path_of(root, "gamma")
        await preview(app, pilot, "a")
        await pilot.press("c", "y")
        finished = await job_done(app, pilot)
        assert finished.ok == 1, finished.line
        assert not gamma.exists()
        assert (root / "archive" / f"{gamma.name}.tar.zst").is_file()
        assert (root / "archive" / f"{gamma.name}.manifest.json").is_file()
        # listed as archived (read from its manifest), with the size of what it takes on disk now
        await wait_until(pilot, lambda: any(f.record.info.name == "gamma" and f.record.info.archived
                                            and f.size is not None for f in table(app).facts.values()))
        facts = next(f for f in table(app).facts.values() if f.record.info.name == "gamma")
        assert facts.size > 0
        await highlight(app, pilot, "gamma")
        modal = await preview(app, pilot, "u")
        assert f"→ {gamma.name}" in modal_text(modal)
        await pilot.press("y")
        finished = await job_done(app, pilot)
        assert finished.ok == 1, finished.line
        assert (gamma / "run.json").is_file() and not (root / "archive" / f"{gamma.name}.tar.zst").exists()


# ----- d ---------------------------------------------------------------------------------------------------------

async def test_d_moves_the_run_to_the_trash_after_asking(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot, 3)
        await highlight(app, pilot, "beta")
        beta = path_of(root, "beta")
        modal = await preview(app, pilot, "d")
        assert "Move to the trash: 1 run" in modal_text(modal) and "beta" in modal_text(modal)
        assert "→ .trash/" in modal_text(modal)
        await pilot.press("y")
        finished = await job_done(app, pilot)
        assert finished.ok == 1
        assert not beta.exists()
        entries = list_trash(root)
        assert [(str(e.path), e.kind) for e in entries] == [(beta.name, "run")]
        await wait_until(pilot, lambda: sorted(f.record.info.name for f in table(app).facts.values()) ==
                         ["alpha", "gamma"])


# ----- u ---------------------------------------------------------------------------------------------------------

async def test_u_restores_an_archived_run_and_says_not_archived_of_the_others(root):
    alpha = path_of(root, "alpha")
    runyard.archive_run(root, alpha)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        said = record_notes(app)
        await ready(app, pilot, 3)
        await highlight(app, pilot, "beta")
        await pilot.press("u")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RunsScreen)  # nothing to ask about
        assert said[-1][0].startswith("beta: not archived") and said[-1][1] == "warning"
        await highlight(app, pilot, "alpha")
        assert app.records[key_of(app, "alpha")].info.archived
        modal = await preview(app, pilot, "u")
        assert "Restore from the archive: 1 run" in modal_text(modal)
        assert f"→ {alpha.name}" in modal_text(modal)
        await pilot.press("enter")
        finished = await job_done(app, pilot)
        assert finished.ok == 1
        assert (alpha / "run.json").is_file() and not (root / "archive" / alpha.name).exists()
        await wait_until(pilot, lambda: not any(f.record.info.archived for f in table(app).facts.values()))


# ----- running runs ----------------------------------------------------------------------------------------------

async def test_a_running_run_is_refused_with_why(root, live):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        said = record_notes(app)
        await ready(app, pilot, 4)
        alpha = path_of(root, "alpha")
        await highlight(app, pilot, "live")
        assert app.records[key_of(app, "live")].info.status == "running"
        await pilot.press("d")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RunsScreen)
        assert said[-1][0] == f"live: running (pid {os.getpid()}): trash it once it has ended"
        await pilot.press("space")  # live marked
        await highlight(app, pilot, "alpha")
        await pilot.press("space")
        modal = await preview(app, pilot, "a")
        text = modal_text(modal)
        assert f"refused: running (pid {os.getpid()}): archive it once it has ended" in text
        assert "1 run, " in text and "· 1 refused" in text
        await pilot.press("y")
        finished = await job_done(app, pilot)
        assert finished.ok == 1
        assert live.path.is_dir() and not alpha.exists()


# ----- jobs: their reports, errors, closing and quitting -----------------------------------------------------------

def test_a_job_reports_in_order_and_its_progress_never_goes_back():
    events = []

    def two_phases(progress):
        for phase in range(2):  # written, then read back
            for done in (0, 50, 100):
                progress(done, 100, f"phase {phase}")
        return Outcome("→ archive/one")

    def refused(progress):
        raise RunError("two is still running (pid 7)")

    def surprise(progress):
        raise KeyError("boom")

    steps = [Step("one", 1000, two_phases, "k1", phases=2), Step("two", 500, refused, "k2"),
             Step("three", 0, surprise, "k3")]
    job = Job(ARCHIVE, steps, events.append)
    import runyard.tui.live.manage as manage

    manage.PROGRESS_EVERY, saved = 0.0, manage.PROGRESS_EVERY
    try:
        job.run()
    finally:
        manage.PROGRESS_EVERY = saved
    kinds = [type(e) for e in events]
    assert kinds[0] is Started and kinds[-1] is Finished
    assert events[0].total == 1501 and events[0].steps == 3  # a step of 0 bytes still weighs one
    done = [e.done for e in events if isinstance(e, Advanced)]
    assert done == sorted(done) and done[-1] == 1501
    ends = [e for e in events if isinstance(e, StepEnded)]
    assert [(e.label, e.ok) for e in ends] == [("one", True), ("two", False), ("three", False)]
    assert ends[0].message == "→ archive/one" and ends[1].message == "two is still running (pid 7)"
    assert ends[2].message == "unexpected error: KeyError: 'boom'"
    mid = [e.done for e in events if isinstance(e, Advanced) and e.step == 0]
    assert 250 in mid and 750 in mid  # halfway through writing, halfway through reading back
    for end in ends:  # each step's end comes after the bar reached it
        before = [e for e in events[:events.index(end)] if isinstance(e, Advanced)]
        assert before[-1].step == end.index
    assert events[-1].line == "archived 1 of 3 runs; two: two is still running (pid 7) (and 1 more)"


def test_a_stopped_job_ends_after_the_step_under_way():
    events = []
    job = Job(ARCHIVE, [], events.append)
    steps = [Step(n, 10, lambda p, n=n: (job.stop(), Outcome(n))[1]) for n in ("a", "b", "c")]
    job._steps = steps
    job.run()
    assert [(e.label, e.ok) for e in events if isinstance(e, StepEnded)] == [("a", True)]
    assert events[-1].not_started == 2 and events[-1].line == "archived 1 of 3 runs; 2 not started"


async def test_the_app_hears_a_jobs_reports_in_order(root, monkeypatch):
    heard = []
    apply = JobState.apply

    def recording(self, event):
        heard.append(event)
        apply(self, event)

    monkeypatch.setattr(JobState, "apply", recording)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot, 3)
        for name in ("alpha", "gamma"):
            await highlight(app, pilot, name)
            await pilot.press("space")
        await preview(app, pilot, "d")
        await pilot.press("y")
        await job_done(app, pilot)
    kinds = [type(e).__name__ for e in heard]
    assert kinds[0] == "Started" and kinds[-1] == "Finished"
    assert [type(e).__name__ for e in heard if not isinstance(e, Advanced)] == \
        ["Started", "StepEnded", "StepEnded", "Finished"]
    done = [e.done for e in heard if isinstance(e, Advanced)]
    assert done == sorted(done) and done[-1] == heard[0].total


async def test_busy_and_refusals_are_one_line_never_a_traceback(root, monkeypatch):
    def busy(*args, **kwargs):
        raise Busy("runs/alpha is being archived by another runyard (pid 123)")

    monkeypatch.setattr(runyard, "archive_run", busy)
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        said = record_notes(app)
        await ready(app, pilot, 3)
        await highlight(app, pilot, "alpha")
        await preview(app, pilot, "a")
        await pilot.press("y")
        finished = await job_done(app, pilot)
        assert finished.failed == 1
        line = "archived 0 of 1 run; alpha: runs/alpha is being archived by another runyard (pid 123)"
        assert (line, "error") in said
        assert not any("Traceback" in m or "\n" in m for m, _ in said)
        assert path_of(root, "alpha").is_dir()


class Gate:
    """Holds the first operation of a job until released (so a test can act while a step is under way)."""

    def __init__(self, monkeypatch, name: str) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        real = getattr(runyard, name)
        self.calls = 0

        def gated(*args, **kwargs):
            self.calls += 1
            if self.calls == 1:
                self.entered.set()
                self.release.wait(20)
            return real(*args, **kwargs)

        monkeypatch.setattr(runyard, name, gated)


async def test_hiding_the_progress_leaves_the_job_running_and_a_shows_it_again(root, monkeypatch):
    gate = Gate(monkeypatch, "archive_run")
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot, 3)
        await highlight(app, pilot, "alpha")
        await preview(app, pilot, "a")
        await pilot.press("y")
        await wait_until(pilot, lambda: gate.entered.is_set() and isinstance(app.screen, ProgressScreen))
        assert "archiving alpha (1 of 1)" in modal_text(app.screen) or "Archive: 1 run" in modal_text(app.screen)
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen) and app.job_running
        await wait_until(pilot, lambda: "archiving alpha" in str(app.screen.query_one("#runs-title").render()))
        await pilot.press("d")  # another job waits: its progress is shown instead
        assert isinstance(app.screen, ProgressScreen)
        gate.release.set()
        finished = await job_done(app, pilot)
        assert finished.ok == 1 and (root / "archive" / path_of(root / "archive", "alpha").name).is_dir()


async def test_quitting_mid_job_asks_then_waits_for_the_step_under_way(root, monkeypatch):
    gate = Gate(monkeypatch, "archive_run")
    alpha, beta = path_of(root, "alpha"), path_of(root, "beta")
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        said = record_notes(app)
        await ready(app, pilot, 3)
        for path in (alpha, beta):
            table(app).highlight(str(path))
            await pilot.press("space")
        await preview(app, pilot, "a")
        await pilot.press("y")
        await wait_until(pilot, lambda: gate.entered.is_set())
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: isinstance(app.screen, QuitScreen))
        assert "archiving 2 runs" in modal_text(app.screen)
        await pilot.press("y")
        await pilot.pause(0.2)
        assert app.is_running and app.job.job.stopping  # the step under way is not cut short
        assert any(m.startswith("quitting once archiving alpha") for m, _ in said)
        gate.release.set()
        for _ in range(200):
            if not app.is_running:
                break
            await asyncio.sleep(0.05)
        assert not app.is_running
    assert not alpha.exists() and (root / "archive" / alpha.name / "run.json").is_file()  # the step finished
    assert beta.is_dir() and not (root / "archive" / beta.name).exists()  # the next one never started
    journal = root / ".runyard" / "journal"
    assert not journal.exists() or not [p for p in journal.iterdir() if p.suffix == ".json"]


# ----- C ---------------------------------------------------------------------------------------------------------

def checkpointed_run(root: Path, name: str, count: int) -> Path:
    run = runyard.init(name, root=root, config={"lr": 0.1}, console=False, system_metrics=False)
    for step in range(count):
        loss = 3.0 - step * 0.1
        run.log({"val/loss": loss}, step=step)
        path = run.path / "checkpoints" / f"step_{step:03d}.pt"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(os.urandom(4096 * (step + 1)))
        run.add_checkpoint(path, step=step, metrics={"val/loss": loss}, best=("val/loss", "min"))
    run.finish()
    return run.path


def failed_run(root: Path, name: str) -> Path:
    run = runyard.init(name, root=root, console=False, system_metrics=False)
    run.log({"val/loss": 1.0}, step=0)
    run.finish("failed")
    return run.path


def rows(screen, selector: str) -> list[str]:
    data = screen.query_one(selector, DataTable)
    return ["  ".join(str(c) for c in data.get_row_at(i)) for i in range(data.row_count)]


async def test_C_plans_by_policy_with_reasons_and_applies_after_asking(tmp_path, live):
    root = live.path.parent
    ckpts = checkpointed_run(root, "ckpts", 5)
    broken = failed_run(root, "broken")
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        said = record_notes(app)
        await ready(app, pilot, 6)
        await pilot.press("slash", *"ck", "enter")  # the runs screen's filter comes along
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, CleanupScreen))
        screen = app.screen
        assert screen.query_one("#clean-filter", Input).value == "ck"
        screen.query_one("#clean-filter", Input).value = ""  # no filter: every run
        summary = screen.query_one("#clean-summary", Static)
        await wait_until(pilot, lambda: "no rule yet" in str(summary.render()))
        screen.query_one("#keep-best", Input).focus()  # the plan has the focus at first; tab reaches the rules
        await pilot.press(*"2", "tab", "tab", *"10m")  # keep best 2; failed under 10 minutes
        await wait_until(pilot, lambda: "would free" in str(summary.render())
                         and any(broken.name in r for r in rows(screen, "#remove")))
        remove = rows(screen, "#remove")
        assert any(r.startswith(broken.name) and "→ .trash/" in r and "failed after" in r for r in remove)
        for step in (0, 1, 2):
            assert any(f"step_{step:03d}.pt" in r and "not among best 2 by val/loss" in r for r in remove)
        keep = rows(screen, "#keep")
        assert any("step_004.pt" in r and "best val/loss" in r and "latest" in r for r in keep)
        assert any(r.startswith(live.path.name) and r.endswith("running") for r in keep)
        assert str(summary.render()).startswith(f"would free {human_size(screen.plan.reclaim)} of "
                                                f"{human_size(screen.plan.total)}")
        before = tree(root)
        await pilot.press("enter")  # from the last box to the plan
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Apply the cleanup: 4 items" in modal_text(app.screen)
        await pilot.press("n")
        assert tree(root) == before
        await pilot.press("y")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        late = failed_run(root, "late")  # a run the plan shown did not know: never touched unseen
        app.scan_tree()
        await wait_until(pilot, lambda: str(late) in app.records)
        await pilot.press("y")
        finished = await job_done(app, pilot)
        assert finished.ok == 4, finished.line
        assert "1 newly planned left alone (look again)" in finished.line
        assert late.is_dir() and not broken.exists() and live.path.is_dir()
        assert sorted(p.name for p in (ckpts / "checkpoints").glob("*.pt")) == ["step_003.pt", "step_004.pt"]
        assert any(m.startswith("cleaned up 4 items") for m, _ in said)
        # the trash: restore one, delete the rest for good
        await pilot.press("t")
        trash = screen.query_one("#trash-table", DataTable)
        await wait_until(pilot, lambda: trash.row_count == 4)
        assert screen.query_one("#trash-table", DataTable).has_focus
        first = rows(screen, "#trash-table")[0]
        await pilot.press("u")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.preview is not None)
        assert "Restore from the trash: 1 item" in modal_text(app.screen)
        await pilot.press("y")
        await job_done(app, pilot)
        await wait_until(pilot, lambda: trash.row_count == 3)
        restored = next(p for p in (*(ckpts / "checkpoints").glob("*.pt"), broken) if p.exists() and
                        str(p.relative_to(root)) in first)
        assert restored.exists()
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.preview is not None)
        text = modal_text(app.screen)
        assert "Empty the trash: 3 items" in text and "this cannot be undone" in text
        await pilot.press("y")
        await job_done(app, pilot)
        await wait_until(pilot, lambda: trash.row_count == 0)
        assert list_trash(root) == []


async def test_C_on_an_empty_policy_says_so_and_applies_nothing(root):
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        said = record_notes(app)
        await ready(app, pilot, 3)
        await pilot.press("C")
        await wait_until(pilot, lambda: isinstance(app.screen, CleanupScreen))
        summary = app.screen.query_one("#clean-summary", Static)
        await wait_until(pilot, lambda: "no rule yet: nothing would be cleaned" in str(summary.render()))
        box = app.screen.query_one("#keep-best", Input)
        box.focus()  # the plan has the focus at first, so that y, t, u and x work at once
        await pilot.press(*"x-1")  # a letter never gets into a count's box; a minus does, and is refused
        assert box.value == "-1"
        await wait_until(pilot, lambda: "is not a count" in str(summary.render()))
        assert box.has_class("-invalid")
        await pilot.press("escape", "y")
        assert said[-1][0].startswith("nothing to apply")
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


# ----- A and U ---------------------------------------------------------------------------------------------------

async def test_A_hides_archived_runs_and_U_unmarks_all(root):
    runyard.archive_run(root, path_of(root, "alpha"))
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot, 3)
        await pilot.press("A")
        await wait_until(pilot, lambda: table(app).row_count == 2)
        await pilot.press("A")
        await wait_until(pilot, lambda: table(app).row_count == 3)
        await pilot.press("space", "space")
        assert len(table(app).marked()) == 2
        await pilot.press("U")
        assert table(app).marked() == []


# ----- a runyard killed mid-operation ------------------------------------------------------------------------------

def archive_in_a_child(root: Path, run: Path, fault: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runyard.tui.cli", "archive", "--root", str(root), "--yes",
                           str(run)], env=child_env(RUNYARD_FAULT=fault,
                                                    RUNYARD_CACHE_DIR=os.environ["RUNYARD_CACHE_DIR"]),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("point", ["archive.begin", "archive.moved"])
async def test_the_app_finishes_or_rolls_back_what_a_killed_runyard_left(root, tmp_path, point):
    alpha = path_of(root, "alpha")
    rehearsal = tmp_path / "rehearsal"  # the same operation on a copy, to number its kill points
    shutil.copytree(root, rehearsal)
    archive_in_a_child(rehearsal, rehearsal / alpha.name, f"count@{tmp_path / 'points'}")
    points = (tmp_path / "points").read_text().split()
    done = archive_in_a_child(root, alpha, f"kill@{points.index(point) + 1}")
    assert done.returncode == -9, done.stderr  # killed mid-way: its journal is left behind
    journal = root / ".runyard" / "journal"
    assert [p for p in journal.iterdir() if p.suffix == ".json"]
    app = RunyardApp(root, watch=False)
    said = record_notes(app)  # before it starts: recovery comes first thing
    async with app.run_test(size=(100, 30)) as pilot:
        await ready(app, pilot, 3)
        await wait_until(pilot, lambda: any(alpha.name in m for m, _ in said))
        await wait_until(pilot, lambda: not [p for p in journal.iterdir() if p.suffix == ".json"])
        names = [f.record.info.name for f in table(app).facts.values()]
        assert names.count("alpha") == 1  # in one place, whichever the journal settled on
    assert alpha.is_dir() != (root / "archive" / alpha.name).is_dir()
