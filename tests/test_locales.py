"""Output in locales without UTF-8: every glyph the encoding lacks becomes ASCII of the same width, nothing fails.

`runyard ls`, `show`, `plot` and `tail` run as a user runs them, under a Latin-1 locale and under the C locale
(Python's UTF-8 mode off), over runs whose names and log lines hold characters neither can encode.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

import runyard
from runyard.tui.formatting import STAND_IN, can_draw, curve_marker, draw_with_stand_ins, glyph, stand_in
from tests.conftest import PROJECT
from tests.locales import c_locale_env, latin1_env, stdout_encoding

LOG_LINE = "naïve — 日本語 ✓ done"


def test_stand_ins_are_ascii_and_as_wide_as_the_glyph():
    for char in "…·●✓✗‖☠◌⌂▶▲▼★⚠─│┌┐└┘├┤┬┴┼━┃╭╮╯╰═║╔╝▁▔▊▎█░⣿⠁⣀←→日本🙂éïñ":
        out = stand_in(char)
        assert out.isascii() and out.isprintable(), (char, out)
        assert cell_len(out) == cell_len(char), (char, out)
    assert [stand_in(c) for c in "✓✗●┌─┐│"] == ["v", "x", "*", "+", "-", "+", "|"]
    assert stand_in("é") == "e" and stand_in("日") == "??"


def test_glyph_keeps_what_the_encoding_can_draw():
    assert glyph("✓ naïve · …", "utf-8") == "✓ naïve · …"
    assert glyph("✓ naïve · …", "latin-1") == "v naïve · ~"  # ï and · are Latin-1: kept
    assert glyph("✓ naïve · …", "ascii") == "v naive . ~"
    assert can_draw("⣿", "utf-8") and not can_draw("⣿", "latin-1")
    assert curve_marker("utf-8") == "braille" and curve_marker("ascii") == "*"


def test_a_stream_with_stand_ins_never_fails_to_write():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    with pytest.raises(UnicodeEncodeError):
        stream.write("✓")
        stream.flush()
    stream = io.TextIOWrapper(raw := io.BytesIO(), encoding="latin-1")
    draw_with_stand_ins(stream, None)
    assert stream.errors == STAND_IN
    stream.write("┌─┐ ✓ naïve 日本\n")
    stream.flush()
    assert raw.getvalue() == "+-+ v naïve ????\n".encode("latin-1")


@pytest.fixture(scope="module")
def hostile_root(tmp_path_factory) -> Path:
    """Runs named and logging with characters neither Latin-1 nor ASCII has."""
    root = tmp_path_factory.mktemp("locales") / "runs"
    for name, slope in (("alpha", 0.05), ("日本-run", 0.03)):
        with runyard.init(name, root=root, config={"lr": 1e-3, "note": "naïve ✓"}, console=False,
                          system_metrics=False) as run:
            for step in range(40):
                run.log({"train/loss": 3.0 - step * slope}, step=step)
            run.logger.info(LOG_LINE)
    return root


@pytest.fixture(scope="module", params=["latin-1", "C"])
def locale(request, tmp_path_factory) -> tuple[str, dict[str, str]]:
    """(the codec stdout must use, the environment) of a Latin-1 and of the C locale."""
    if request.param == "C":
        env, codec = c_locale_env(), "ascii"
    else:
        env, codec = latin1_env(tmp_path_factory.mktemp("locale")), "iso8859-1"
    assert stdout_encoding(env) == codec, "the locale under test does not give Python the encoding it should"
    return codec, env


def runyard_cli(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "runyard.tui.cli", *map(str, args)], cwd=PROJECT,
                          env={**env, "COLUMNS": "120"}, capture_output=True, timeout=120)


def check(result: subprocess.CompletedProcess[bytes], codec: str) -> str:
    """The output, after checking the command succeeded quietly and wrote only what the encoding holds."""
    assert result.returncode == 0, result.stderr.decode(codec, "replace")
    assert result.stderr == b"", result.stderr.decode(codec, "replace")
    text = result.stdout.decode(codec)  # strict: a byte the locale's encoding does not hold fails here
    assert "\\u" not in text and "Traceback" not in text
    return text


def test_ls_show_plot_tail_under_a_locale_without_utf8(hostile_root, locale, tmp_path):
    codec, env = locale
    env = {**env, "RUNYARD_CACHE_DIR": str(tmp_path / "cache")}
    table = check(runyard_cli(env, "ls", hostile_root, "-o", "table"), codec)
    assert "v finished" in table and "+--" in table and "| alpha" in table  # ASCII status and box
    assert "??-run" in table  # 日本 stood in for, two cells each
    tsv = check(runyard_cli(env, "ls", hostile_root), codec)
    assert tsv.splitlines()[0].startswith("id\tname\tstatus") and "\t????-run\t" in tsv

    show = check(runyard_cli(env, "show", "alpha", "--root", hostile_root), codec)
    assert "v finished" in show and "train/loss" in show and "+--" in show
    assert ("naïve v" if codec == "iso8859-1" else "naive v") in show  # only what the encoding lacks is replaced

    other = next(p for p in hostile_root.iterdir() if not p.name.startswith("alpha"))  # 日本 cannot be typed here
    plot = check(runyard_cli(env, "plot", "alpha", other, "--root", hostile_root, "--width", "70", "--height", "14"),
                 codec)
    frame = [line for line in plot.splitlines() if line.strip()]
    assert any(line.lstrip().startswith("+---") for line in frame), plot  # the frame in ASCII
    assert "alpha:train/loss" in plot and "??-run:train/loss" in plot
    # no braille to stand in for: the curves are drawn with ASCII markers, one per run (no colour when piped)
    legend = {line.split("|")[0].split("+ ")[-1][:2] for line in frame if ":train/loss" in line}
    assert legend == {"**", "oo"}, plot

    tail = check(runyard_cli(env, "tail", "alpha", "--root", hostile_root, "-n", "3"), codec)
    assert ("naïve - ?????? v done" if codec == "iso8859-1" else "naive - ?????? v done") in tail
