"""The command line shows what was logged, fits the terminal and never shows a traceback.

Through click's CliRunner (tables forced with `-o table` and COLUMNS), through `main`, and in a child process:
piped (TSV), with COLUMNS=80, and on a pseudo-terminal 80 columns wide, as a user sees it. Inputs are the
reading cases in tests/fixtures/cases/reading (EXPECTED.md) and runs written here with odd names.
"""

from __future__ import annotations

import json
import math
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len

import runyard
from runyard.tui.cli import EXIT_CRASH, cli, main
from runyard.tui.cli.listing import TSV_COLUMNS
from tests.conftest import PROJECT, child_env

CASES = Path(__file__).parent / "fixtures" / "cases" / "reading"
ESC_RUN = CASES / "odd_tag_names" / "esc_run"
ODD_RUN = CASES / "odd_tag_names" / "run"
ODD_METRICS = ["Episode / Total timesteps (mean)", "acc %", "损失", "val/loss[0]"]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # the colours a terminal table may carry, nothing else


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COLUMNS", raising=False)


def invoke(*args: str, columns: int | None = None):
    """`runyard ARGS` through click's runner; stdout is not a terminal, so COLUMNS gives a table's width."""
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": str(columns) if columns else None})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def child(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`runyard ARGS` in a child process with stdout piped."""
    environ = child_env(**env)
    if "COLUMNS" not in env:
        environ.pop("COLUMNS", None)
    return subprocess.run([sys.executable, "-m", "runyard.tui.cli", *map(str, args)], cwd=PROJECT, env=environ,
                          capture_output=True, timeout=60)


def on_terminal(*args: str, columns: int = 80, rows: int = 40) -> str:
    """`runyard ARGS` on a pseudo-terminal of `columns` x `rows`: what a user sees, escape codes and all."""
    environ = child_env(TERM="xterm-256color")
    for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR"):
        environ.pop(name, None)
    return on_pty([str(a) for a in args], environ, columns, rows).replace("\r\n", "\n")


def on_pty(args: list[str], environ: dict[str, str], columns: int, rows: int) -> str:
    """`runyard ARGS` with `environ` on a pseudo-terminal of `columns` x `rows`; its output as written (it must
    exit 0)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "runyard.tui.cli", *args], cwd=PROJECT, env=environ,
                            stdin=follower, stdout=follower, stderr=follower, close_fds=True)
    os.close(follower)
    out = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the child closed its side
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
    finally:
        proc.wait(timeout=10)
        os.close(leader)
    text = out.decode("utf-8", errors="replace")
    assert proc.returncode == 0, text
    return text


def widest(text: str) -> int:
    return max((cell_len(ANSI.sub("", line)) for line in text.splitlines()), default=0)


def names_under(root: Path) -> list[str]:
    return sorted(r.info.name for r in runyard.scan(root))


def frame(text: str) -> list[str]:
    """The lines inside a plotext frame, from its top edge to its bottom edge."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if "┌" in line)
    bottom = next(i for i, line in enumerate(lines) if "└" in line)
    return lines[top:bottom + 1]


# --- ls fits the terminal, never loses the name -------------------------------------------------------------------

def test_ls_table_at_80_columns_keeps_every_name_and_says_what_it_left_out():
    result = invoke("ls", CASES, "-o", "table", columns=80)
    assert result.exit_code == 0
    out = result.stdout
    assert widest(out) <= 80
    header = next(line for line in out.splitlines() if "name" in line and "status" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")][:3] == ["status", "name", "id"]
    for name in names_under(CASES):
        assert re.search(rf"│ {re.escape(name)}\s+│", out), name
    note = out.strip().splitlines()[-1]
    assert note == "6 columns hidden (format, start, duration, steps, best, tags): --wide shows them"


def test_ls_wide_shows_every_column_and_wide_terminals_need_no_note():
    wide = invoke("ls", CASES, "-o", "table", "--wide", columns=80).stdout
    header = next(line for line in wide.splitlines() if "status" in line)
    for column in ("status", "name", "id", "format", "start", "duration", "steps", "metric", "last", "best", "tags"):
        assert f" {column} " in header
    assert "hidden" not in wide and widest(wide) > 80
    roomy = invoke("ls", CASES, "-o", "table", columns=widest(wide)).stdout
    assert "hidden" not in roomy


@pytest.mark.parametrize("columns", [40, 60, 100, 140])
def test_ls_table_fits_any_width_with_the_name_column(columns):
    out = invoke("ls", CASES, "-o", "table", columns=columns).stdout
    assert widest(out) <= columns
    header = next(line for line in out.splitlines() if " name " in line)
    assert "status" in header or columns < 50
    assert "│ esc_run " in out and "│ nan-every-step " in out


def test_ls_on_an_80_column_terminal():
    out = on_terminal("ls", CASES, columns=80)
    plain = ANSI.sub("", out)
    assert widest(out) <= 80
    for name in names_under(CASES):
        assert f" {name} " in plain, name
    assert "hidden" in plain and "--wide" in plain
    assert "\x1b]" not in out and "\x1b[2J" not in out and "TAG-TITLE" not in out


def test_ls_piped_is_tsv_with_every_column_and_nothing_cut():
    for env in ({}, {"COLUMNS": "80"}):
        result = child("ls", CASES, **env)
        assert result.returncode == 0 and result.stderr == b""
        assert b"\x1b" not in result.stdout
        lines = result.stdout.decode().splitlines()
        assert lines[0].split("\t") == list(TSV_COLUMNS)
        rows = [dict(zip(TSV_COLUMNS, line.split("\t"), strict=True)) for line in lines[1:]]
        assert sorted(r["name"] for r in rows) == names_under(CASES)
        by_path = {Path(r["path"]).relative_to(CASES).as_posix(): r for r in rows}
        assert by_path["int64_steps/huge"]["steps"] == "9223372036854775807"
        assert by_path["tz_aware_timestamps/train.log"]["created"] == "2026-06-01T12:00:00Z"
        assert by_path["odd_tag_names/esc_run"]["metric"] == "loss"  # cleaned, whole
        assert by_path["nonfinite_only/inf_only"]["last"] == "inf"
        assert by_path["csv_new_column/appended_field"]["last"] == "2.1"  # every row read, the appended field too
        assert max(len(line) for line in lines) > 80  # the path column is not cut to COLUMNS


def test_ls_ids_tell_apart_runs_that_share_a_name_and_name_them_for_show(tmp_path):
    out = invoke("ls", CASES, "-o", "table", columns=120).stdout
    for handle in ("logy_nonpositive/run", "odd_tag_names/run", "tb_restart_purge/run"):
        assert re.search(rf"│ run\s+│ {re.escape(handle)}\s+│", out), handle
    shown = invoke("show", "tb_restart_purge/run", "--root", CASES, columns=120)
    assert shown.exit_code == 0 and "tb_restart_purge/run" in shown.stdout
    root = tmp_path / "runs"
    ids = []
    for lr in (0.1, 0.2):
        with runyard.init("same", root=root, config={"lr": lr}, console=False, system_metrics=False) as run:
            run.log({"loss": lr}, step=0)
            ids.append(run.id)
    out = invoke("ls", root, "-o", "table", columns=100).stdout
    for run_id in ids:
        assert re.search(rf"│ same\s+│ {run_id}\s+│", out)
    data = json.loads(invoke("show", ids[1], "--root", root, "--json").stdout)
    assert data["config"] == {"lr": 0.2}


def test_ls_of_unique_names_has_no_id_column(tmp_path):
    root = tmp_path / "runs"
    for name in ("alpha", "beta"):
        with runyard.init(name, root=root, console=False, system_metrics=False) as run:
            run.log({"loss": 1.0}, step=0)
    header = next(line for line in invoke("ls", root, "-o", "table", columns=200).stdout.splitlines()
                  if "status" in line)
    assert " id " not in header and " name " in header


def test_show_fits_80_columns_and_piped_cuts_nothing(tmp_path):
    out = invoke("show", CASES / "int64_steps" / "huge", columns=80).stdout
    assert widest(out) <= 80 and "9,223,372,036,854,775,807 steps" in out
    assert re.search(r"│ reward\s+│", out)
    assert re.search(r"^\d columns hidden \(summary: [a-z@, ]+\): --wide shows them$", out.strip().splitlines()[-1])
    wide = invoke("show", CASES / "int64_steps" / "huge", "--wide", columns=80).stdout
    assert "hidden" not in wide and all(f" {c} " in wide for c in ("mean", "min@step", "max@step"))
    root = tmp_path / "runs"
    long_value = "/data/" + "shard-0001/" * 30 + "train.bin"
    with runyard.init("long", root=root, config={"data": {"train_path": long_value}, "lr": 0.1}, console=False,
                      system_metrics=False) as run:
        run.log({"a_rather_long_metric_name/for_this_table": 1.0}, step=0)
    narrow = invoke("show", "long", "--root", root, columns=80).stdout
    assert widest(narrow) <= 80 and "data.train_path" in narrow
    assert "".join(line.strip() for line in narrow.splitlines()).count(long_value) == 1  # folded, all of it
    cells = [line.split("│")[1].strip() for line in narrow.splitlines() if line.startswith("│")]
    assert "".join(cells) == "a_rather_long_metric_name/for_this_table"  # folded in its column, not cut
    piped = child("show", "long", "--root", root).stdout.decode()
    assert long_value in piped and "hidden" not in piped


# --- run-derived text is inert -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, shown", [
    ("loss\x1b]0;TAG-TITLE\x07\x1b[2J\x1b[31m", "loss"),
    ("a\tb\nc\r\nd\re", "a b c d e"),
    ("bell\x07 nul\x00 csi\x9b", "bell\ufffd nul\ufffd csi\ufffd"),
    ("损失 [bold]x[/] 100% 🚀", "损失 [bold]x[/] 100% 🚀"),
])
def test_clean_field_keeps_a_name_on_one_printable_line(raw, shown):
    assert runyard.clean_field(raw) == shown


@pytest.mark.parametrize("args", [
    ["ls", CASES / "odd_tag_names", "-o", "table"],
    ["ls", CASES / "odd_tag_names", "-o", "tsv"],
    ["ls", CASES / "odd_tag_names", "--json"],
    ["show", ESC_RUN],
    ["show", ESC_RUN, "--json"],
    ["plot", ESC_RUN, "-m", "loss"],
    ["plot", ESC_RUN, "-m", "loss", "--json"],
])
def test_no_escape_byte_from_a_run_reaches_stdout(args):
    result = invoke(*args, columns=100)
    assert result.exit_code == 0, result.output
    assert b"\x1b" not in result.stdout_bytes
    assert b"TAG-TITLE" not in result.stdout_bytes or args[-1] == "--json"  # JSON keeps the name, escaped


def test_a_metric_named_with_escapes_is_listed_clean_and_plottable_by_that_name():
    show = invoke("show", ESC_RUN, columns=100).stdout
    assert re.search(r"│ loss\s+│", show) and "TAG-TITLE" not in show
    plot = invoke("plot", ESC_RUN, "-m", "loss", "--width", "60", "--height", "10")
    assert plot.exit_code == 0 and "loss" in plot.stdout and "┌" in plot.stdout


def test_show_and_plot_on_a_terminal_carry_no_escape_from_the_run():
    for args in (["show", ESC_RUN], ["plot", ESC_RUN, "-m", "loss", "--height", "12"]):
        out = on_terminal(*args, columns=80)
        assert "\x1b]" not in out and "\x1b[2J" not in out and "TAG-TITLE" not in out
        assert "loss" in ANSI.sub("", out)


def test_odd_metric_names_stay_listed_and_plottable_by_name():
    show = invoke("show", ODD_RUN, columns=120).stdout
    for name in ODD_METRICS:
        assert f"│ {name} " in show, name
    for name in ODD_METRICS:
        result = invoke("plot", ODD_RUN, "-m", name, "--width", "70", "--height", "10")
        assert result.exit_code == 0, (name, result.output)
        assert name in result.stdout
        data = json.loads(invoke("plot", ODD_RUN, "-m", name, "--json").stdout)
        assert data["series"][0]["metric"] == name and len(data["series"][0]["y"]) > 0


def test_markup_and_controls_in_names_print_literally(tmp_path):
    root = tmp_path / "runs"
    with runyard.init("[bold red]exp[/] :rocket:", root=root, tags=["[link=http://x]t[/link]"],
                      config={"[b]key": "[i]v\tw"}, console=False, system_metrics=False) as run:
        run.log({"acc[0]": 0.5, "tab\tbed": 1.0}, step=0)
        run_id = run.id
    table = invoke("ls", root, "-o", "table", "--wide").stdout
    assert "[bold red]exp[/] :rocket:" in table and "[link=http://x]t[/link]" in table
    show = invoke("show", run_id, "--root", root, columns=160).stdout
    assert "[bold red]exp[/] :rocket:" in show and "[b]key" in show and "[i]v w" in show
    assert "acc[0]" in show and "tab bed" in show
    lines = invoke("ls", root, "-o", "tsv").stdout.splitlines()
    assert all(len(line.split("\t")) == len(TSV_COLUMNS) for line in lines)


def test_errors_naming_a_run_are_cleaned_too(capsys):
    assert main(["show", "nosuch\x1b]0;owned\x07run", "--root", str(CASES)]) == 1
    captured = capsys.readouterr()
    assert "\x1b" not in captured.err and captured.err.startswith("runyard: error: no run 'nosuch")


# --- plot draws where the data are odd ---------------------------------------------------------------------------

def test_plot_of_only_inf_draws_a_frame_with_its_four_marks():
    result = invoke("plot", CASES / "nonfinite_only" / "inf_only", "-m", "loss", "--width", "60", "--height", "12")
    assert result.exit_code == 0 and "Traceback" not in result.output
    inside = frame(result.stdout)
    assert sum(line.count("x") for line in inside) == 4
    assert "loss has 4 non-finite values (4 +inf)" in result.stdout
    assert "loss: nothing finite to draw" in result.stdout


def test_plot_of_only_nan_draws_a_frame_with_its_marks(tmp_path):
    root = tmp_path / "runs"
    with runyard.init("nan", root=root, console=False, system_metrics=False) as run:
        for step in range(4):
            run.log({"loss": math.nan}, step=step)
    result = invoke("plot", "nan", "--root", root, "-m", "loss", "--width", "60", "--height", "12")
    assert result.exit_code == 0
    assert sum(line.count("x") for line in frame(result.stdout)) == 4
    assert "loss has 4 non-finite values (4 NaN)" in result.stdout


def test_plot_of_the_nan_only_case():
    run = CASES / "nonfinite_only" / "nan_only"
    if "loss" not in runyard.open_run(run).summary:
        pytest.xfail("the TensorBoard reader does not yet keep a metric whose every value is NaN")
    result = invoke("plot", run, "-m", "loss", "--width", "60", "--height", "12")
    assert result.exit_code == 0
    assert sum(line.count("x") for line in frame(result.stdout)) == 4
    assert "loss has 4 non-finite values (4 NaN)" in result.stdout


def test_plot_log_y_draws_the_positive_points_and_counts_the_rest():
    result = invoke("plot", CASES / "logy_nonpositive" / "run", "--log-y", "-m", "grad_norm", "--width", "60",
                    "--height", "12")
    assert result.exit_code == 0, result.output
    inside = frame(result.stdout)
    assert any(re.search(r"[⠁-⣿]", line) for line in inside)  # a curve
    labels = [line.split("┤")[0].strip() for line in inside if "┤" in line]
    assert labels and all(float(v) > 0 for v in labels)  # the axis speaks in the values, all positive
    assert "grad_norm: 3 of 6 values are zero or negative, left out of the log scale" in result.stdout


@pytest.mark.parametrize("values, note", [
    ([5.0, 5.0, 5.0], None),              # constant
    ([2.0], None),                        # a single point
    ([-1.0, 0.0, -3.0], "nothing positive to draw on a log scale"),
])
def test_plot_log_y_of_constant_single_or_nonpositive_series(tmp_path, values, note):
    root = tmp_path / "runs"
    with runyard.init("odd", root=root, console=False, system_metrics=False) as run:
        for step, value in enumerate(values):
            run.log({"m": value}, step=step)
    for log in (["--log-y"], []):
        result = invoke("plot", "odd", "--root", root, "-m", "m", *log, "--width", "50", "--height", "10")
        assert result.exit_code == 0, result.output
        assert frame(result.stdout)
        if note and log:
            assert note in result.stdout


def test_plot_width_is_honoured_beyond_the_terminal():
    result = child("plot", CASES / "tb_restart_purge" / "run", "-m", "loss", "--width", "100", "--height", "12",
                   COLUMNS="80")
    assert result.returncode == 0
    assert widest(result.stdout.decode()) == 100


def test_plot_of_a_missing_metric_suggests_one(capsys):
    assert main(["plot", str(CASES / "tb_restart_purge" / "run"), "-m", "los"]) == 1
    assert capsys.readouterr().err.strip() == \
        "runyard: error: no run here has the metric los; did you mean 'loss'?"


# --- filters that match nothing say why -------------------------------------------------------------------------

def test_a_filter_on_a_key_no_run_has_says_so_and_suggests_one():
    result = invoke("ls", CASES, "-f", "max_step>3", "-o", "tsv")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["\t".join(TSV_COLUMNS)]
    assert result.stderr.strip() == "runyard: warning: no run has key 'max_step'; did you mean 'max_steps'?"
    result = invoke("ls", CASES, "-f", "train_los.min<3", "-s", "-fromat", "-o", "tsv")
    assert result.stderr.splitlines() == [
        "runyard: warning: no run has key 'train_los.min'; did you mean 'train_loss.min'?",
        "runyard: warning: no run has key 'fromat' to sort by; did you mean 'format'?",
    ]
    quiet = invoke("ls", CASES, "-f", "max_steps>3 train_loss.min<3", "-s", "format", "-o", "tsv")
    assert quiet.stderr == "" and len(quiet.stdout.splitlines()) == 2


# --- help, exit codes, and no traceback --------------------------------------------------------------------------

def test_top_level_help_shows_the_app_and_the_commands():
    result = child("--help")
    out = result.stdout.decode()
    assert result.returncode == 0
    assert "Usage: runyard [PATH] [--poll]" in out and "runyard COMMAND [ARGS]..." in out
    assert "--poll" in out and all(f"  {c} " in out for c in ("ls", "show", "tail", "plot"))


@pytest.mark.parametrize("args, code", [
    (["ls", CASES, "-o", "tsv"], 0),
    (["show", "no-such-run", "--root", CASES], 1),
    (["plot", ESC_RUN, "-m", "nope"], 1),
    (["ls", CASES, "-f", "lr<"], 1),
    (["ls", CASES, "--output", "xml"], 2),
])
def test_exit_codes(args, code):
    result = child(*args)
    assert result.returncode == code
    assert b"Traceback" not in result.stderr
    if code == 1:
        assert result.stderr.decode().count("\n") == 1 and result.stderr.startswith(b"runyard: error: ")


def test_an_unexpected_failure_is_one_line_and_a_traceback_file(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNYARD_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def broken(*args, **kwargs):
        raise IndexError("list index out of range")

    monkeypatch.setattr("runyard.tui.cli.listing.runs_tsv", broken)
    result = invoke("ls", CASES, "-o", "tsv")
    assert result.exit_code == EXIT_CRASH
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("runyard: error: unexpected IndexError: list index out of range")
    written = Path(re.search(r"the traceback is in (\S+)\)$", line).group(1))
    assert written.parent == tmp_path / "xdg" / "runyard" and re.fullmatch(r"crash-\d{8}-\d{6}-\d+\.txt", written.name)
    report = written.read_text()
    assert "Traceback (most recent call last)" in report and "in broken" in report and "ls" in report


def test_an_unexpected_failure_in_a_child_process_prints_no_traceback(tmp_path):
    code = (
        "import sys\n"
        "import runyard.tui.cli.plotting as plotting\n"
        "def broken(*a, **k): raise ZeroDivisionError('division by zero')\n"
        "plotting.plot_runs = broken\n"
        "from runyard.tui.cli import main\n"
        f"sys.exit(main(['plot', {str(ESC_RUN)!r}, '-m', 'loss']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60,
                            env=child_env(RUNYARD_CACHE_DIR=str(tmp_path / "cache")))
    assert result.returncode == EXIT_CRASH and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "unexpected ZeroDivisionError" in result.stderr
    assert len(list((tmp_path / "cache").glob("crash-*.txt"))) == 1
