"""Any name starts a run: its folder gets a short, safe slug of it, and every reader shows the whole name, on one
line, cut in the middle where it does not fit."""

from __future__ import annotations

import os

import pytest
from rich.text import Text

import runyard
from runyard.contract import NAME_BYTES, safe_name
from runyard.tui.app import RunyardApp
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.log_view import LogView
from tests.test_app import table, wait_for, wait_until

NAMES = {
    "240 chars": "a" * 240,
    "300 chars": "long_sweep_" + "b" * 280 + "_seed3",
    "newline": "two\nlines",
    "slash": "group/sub/run",
    "dot-dot": "..",
    "escape": "../../etc/passwd",
    "dash": "-rf --no-preserve-root",
    "NUL and controls": "nul\x00tab\tbell\x07esc\x1b[31m",
    "CJK at the limit": "数据" * 21,                      # 126 bytes: just past NAME_BYTES
    "CJK beyond": "训练运行" * 40,                          # 480 bytes
    "emoji": "🚀" * 70,                                    # 280 bytes, nothing of it a letter
    "cut mid-character": "x" * (NAME_BYTES - 10) + "é数😀" * 10,
    "spaces": "  my run  ",
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_any_name_starts_logs_and_finishes_and_is_shown_whole(tmp_path, name):
    root = tmp_path / "runs"
    with runyard.init(name, root=root, console=False, system_metrics=False) as run:
        run.log({"loss": 1.0}, step=0)
        run.log({"loss": 0.5}, step=1)
    assert run.path.parent == root  # the folder is right under the root, whatever the name held
    folder = run.path.name
    raw = os.fsencode(folder)
    assert len(raw) <= NAME_BYTES + 16 + 5 < 255
    assert raw.decode("utf-8") == folder  # cut on a character boundary
    assert folder[0] not in ".-" and "/" not in folder and folder.isprintable()
    view = runyard.open_run(run.path)
    assert view.info.name == name and view.info.status == "finished"
    assert view.metrics()["loss"].tolist() == [1.0, 0.5]
    (record,) = runyard.scan(root)
    assert record.info.name == name
    header = (run.path / "training.log").read_text().splitlines()[0]
    assert header.endswith("====") and run.id in header  # the name escaped in the header: one line still


def test_long_names_alike_up_to_the_cut_get_folders_of_their_own(tmp_path):
    first, second = "p" * 200 + "_lr1e-3", "p" * 200 + "_lr3e-4"
    assert safe_name(first) != safe_name(second)
    assert len(safe_name(first).encode()) == NAME_BYTES
    assert safe_name(first).startswith("p" * 100)


def test_a_slug_keeps_letters_of_any_script_and_nothing_else():
    assert safe_name("été 数据 run") == "été-数据-run"
    assert safe_name("e\u0301te\u0301") == "été"  # composed first, so an accent is not taken for junk
    assert safe_name("a/b\\c\nd\x00e") == "a-b-c-d-e"
    assert safe_name("..") == safe_name("🚀🚀") == safe_name("") == "run"
    assert safe_name(".hidden-run.") == "hidden-run"
    cut = safe_name("数" * 100)
    assert len(cut.encode()) <= NAME_BYTES and cut.encode().decode() == cut


def test_a_name_with_undecodable_bytes_still_starts(tmp_path):
    name = os.fsdecode(b"run-\xff\xfe")  # as sys.argv gives an argument in no encoding
    with runyard.init(name, root=tmp_path / "runs", console=False, system_metrics=False) as run:
        run.log({"loss": 1.0}, step=0)
    assert runyard.open_run(run.path).info.name == "run-\ufffd\ufffd"


# ----- the app: one line, both ends in sight ----------------------------------------------------------------------

HEAD, TAIL = "head-of-the-name", "end-of-the-name"
LONG = f"{HEAD}\n" + "m" * 270 + f"-{TAIL}"


def make(root, name: str) -> runyard.Run:
    run = runyard.init(name, root=root, console=False, system_metrics=False)
    for step in range(10):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.finish()
    return run


def plain(content) -> str:
    return content.plain if isinstance(content, Text) else str(content)


async def test_a_long_name_with_a_newline_is_one_line_in_the_table_and_the_titles(tmp_path):
    root = tmp_path / "runs"
    make(root, LONG)
    make(root, "beta")
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_for(app, pilot, lambda: table(app).row_count == 2)
        t = table(app)
        shown = [t.render_line(y).text for y in range(t.size.height)]
        rows = [line for line in shown if line.strip()]
        assert len(rows) == 3  # the header and two rows: the newline broke nothing
        (long_row,) = [line for line in rows if HEAD in line]
        assert TAIL in long_row and "…" in long_row and "mmmm" in long_row
        assert sum("mmmm" in line for line in shown) == 1

        await pilot.press("home")
        if HEAD not in t.render_line(t.cursor_row + 1).text:
            await pilot.press("down")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen))
        screen = app.screen
        await wait_until(pilot, lambda: HEAD in plain(screen.query_one("#run-title").content))
        title = plain(screen.query_one("#run-title").content)
        assert "\n" not in title and TAIL in title and "…" in title and "step 9" in title

        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, RunScreen))
        await pilot.press("home", "space", "space", "enter")  # both runs overlaid: each is named in labels
        await wait_until(pilot, lambda: isinstance(app.screen, RunScreen) and len(app.screen.records) == 2)
        screen = app.screen
        labels = [screen.run_label(i).plain for i in range(2)]
        long_label = next(label for label in labels if HEAD in label)
        assert TAIL in long_label and "\n" not in long_label and len(long_label) <= 62
        title = plain(screen.query_one("#run-title").content)
        assert "\n" not in title and HEAD in title and TAIL in title and "beta" in title
        log_title = screen.query_one(LogView).border_title
        assert "\n" not in plain(log_title)


def test_a_runs_root_that_cannot_be_written_says_so_in_one_line(tmp_path):
    """As another user would meet a shared root (root ignores permissions: the child runs as nobody)."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import child_env

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        closed = tmp_path / "closed"
        closed.mkdir(mode=0o555)
        prefix: list[str] = []
    else:
        base = tmp_path / "shared"
        base.mkdir()
        os.chmod(tmp_path, 0o755)
        os.chmod(base, 0o755)  # owned by root: nobody may enter but not write
        closed = base / "runs"
        closed.mkdir(mode=0o755)
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    script = ("import runyard, sys\n"
              "try:\n    runyard.init('x', root=sys.argv[1], console=False, system_metrics=False)\n"
              "except runyard.RunError as exc:\n    print(exc)\n")
    done = subprocess.run([*prefix, sys.executable, "-c", script, str(closed)], capture_output=True, text=True,
                          env={**child_env(), "HOME": str(tmp_path)}, timeout=60)
    assert done.stdout.strip() == (f"cannot create a run folder in {closed}: permission denied "
                                   "(pass root= a folder this user can write)"), done.stderr
