"""`import tracker` stays light: a training job never pays for the app's libraries."""

import subprocess
import sys

from tests.conftest import PROJECT, child_env

HEAVY = ("pandas", "textual", "watchdog", "plotext", "rich", "torch", "yaml", "pyarrow")


def test_import_tracker_and_start_a_run_load_no_heavy_module(tmp_path):
    code = (
        "import sys, tracker\n"
        "tracker.init\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, env=child_env(), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == ""


def test_tracker_never_imports_tui():
    for path in (PROJECT / "tracker").rglob("*.py"):
        text = path.read_text()
        assert "import tui" not in text and "from tui" not in text, path
