"""Text logs as people write them (UTF-16 and BOMs, zoned timestamps, progress-bar redraws, CRLF and their own
patterns), files that are not runs, and a W&B run's console log: each read to the values EXPECTED.md gives."""

from __future__ import annotations

import codecs
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runyard
from runyard.layouts.common import line_time
from runyard.reading.api import UnknownLayout, find_run, open_run
from runyard.reading.tail import TailReader
from runyard.reading.textcodec import read_last_lines
from runyard.tui.cli import main
from tests.conftest import PROJECT, child_env

CASES = Path(__file__).parent / "fixtures" / "cases" / "reading"
WANDB = Path(__file__).parent / "fixtures" / "foreign" / "wandb_offline" / "wandb"
CREATED_UTC = 1780315200  # 2026-06-01 12:00 UTC


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COLUMNS", "200")


def case(name: str, into: Path) -> Path:
    """A copy of one reading case under `into` (its folder keeps its name)."""
    dest = into / name
    shutil.copytree(CASES / name, dest)
    return dest


def values(view, metric: str) -> list[tuple[int, float]]:
    s = view.series(metric)
    return list(zip(s["step"].tolist(), s["value"].tolist(), strict=True))


# ----- UTF-16 and byte-order marks ----------------------------------------------------------------------------

UTF16_LOSS = [(i * 10, round(2.0 - i * 0.1, 3)) for i in range(8)]


def test_utf16_log_is_listed_parsed_and_tailed_as_text(tmp_path, capsys):
    root = tmp_path / "runs"
    log = case("utf16_log", root) / "train.log"
    assert log.read_bytes()[:2] == codecs.BOM_UTF16_LE
    records = runyard.scan(root)
    assert [(r.info.format, r.info.name, r.info.rows) for r in records] == [("textlog", "train", 8)]
    view = records[0].open()
    assert [(s, round(v, 3)) for s, v in values(view, "loss")] == UTF16_LOSS
    assert [v for _, v in values(view, "lr")] == [0.001] * 8
    assert view.info.created == line_time("2026-11-23 08:00:00")

    assert main(["tail", str(log), "-n", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "2026-11-23 08:00:06 - INFO - step 60: loss=1.400 lr=0.001",
        "2026-11-23 08:00:07 - INFO - step 70: loss=1.300 lr=0.001",
    ]


@pytest.mark.parametrize("codec, bom", [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                        ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_byte_order_marks_read_alike_everywhere(tmp_path, codec, bom):
    lines = ["2026-11-23 08:00:00 - INFO - step 0: loss=2.5 (ünïcödé ✓)",
             "2026-11-23 08:00:01 - INFO - step 1: loss=2.25"]
    log = tmp_path / "train.log"
    log.write_bytes(bom + "\n".join(lines).encode(codec) + "\n".encode(codec))
    view = open_run(log)
    # the mark does not hide the first line's timestamp, and the first metric line is read
    assert view.info.created == line_time(lines[0])
    assert values(view, "loss") == [(0, 2.5), (1, 2.25)]
    assert [x.decode() for x in TailReader(log).read().lines] == lines
    assert read_last_lines(log, 1) == lines[-1:]


def test_utf16_tail_reader_follows_writes_cut_anywhere(tmp_path):
    """Writes that end inside the mark, inside a code unit or inside a line are read as whole UTF-16 lines."""
    log = tmp_path / "train.log"
    text = "".join(f"step {i}: loss={1 / (i + 1):.4f} ✓\n" for i in range(40))
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    log.write_bytes(b"")
    reader = TailReader(log)
    got: list[bytes] = []
    with open(log, "ab", buffering=0) as fh:
        for start in range(0, len(data), 7):  # odd-sized pieces: the mark and code units split across writes
            fh.write(data[start:start + 7])
            got += reader.read().lines
    assert [x.decode() for x in got] == text.splitlines()
    log.write_bytes(codecs.BOM_UTF16_LE + "again\n".encode("utf-16-le"))  # replaced shorter: read afresh
    chunk = reader.read()
    assert chunk.reset and chunk.lines == [b"again"]


def test_last_lines_of_a_big_utf16_log_start_on_a_code_unit(tmp_path):
    log = tmp_path / "train.log"
    text = "".join(f"line {i}\n" for i in range(5000))
    log.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    for max_bytes in (1001, 1002):
        assert read_last_lines(log, 3, max_bytes) == ["line 4997", "line 4998", "line 4999"]


async def test_log_view_shows_a_utf16_log_as_text(tmp_path):
    from textual.app import App, ComposeResult

    from runyard.tui.widgets.log_view import LogView
    from tests.test_log_view import poll

    log = case("utf16_log", tmp_path) / "train.log"

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield LogView(log)

    app = One()
    async with app.run_test(size=(100, 12)) as pilot:
        view = app.query_one(LogView)
        assert await poll(view, pilot) == 8  # the view reads in the background and reports what it showed
        assert view.lines[0] == "2026-11-23 08:00:00 - INFO - step 0: loss=2.000 lr=0.001"
        assert view.time_of(7) == line_time("2026-11-23 08:00:07")
        shown = [view.render_line(y).text.rstrip() for y in range(8)]
        assert shown[7].endswith("step 70: loss=1.300 lr=0.001") and "\x00" not in "".join(shown)


# ----- timestamps with a zone ---------------------------------------------------------------------------------

_TZ_PROBE = """
import json, sys
from runyard import open_run
from runyard.layouts.common import line_time
view = open_run(sys.argv[1])
df = view.metrics()
print(json.dumps({"created": view.info.created, "times": df["time"].tolist(),
                  "offset": line_time("2026-06-01T14:00:00+02:00 x"),
                  "spaced": line_time("2026-06-01 07:00:00 -0500 x"),
                  "local": line_time("2026-06-01 12:00:00 x")}))
"""


@pytest.mark.parametrize("tz", ["America/New_York", "Asia/Kolkata"])
def test_zoned_timestamps_mean_the_same_moment_under_any_tz(tz):
    out = subprocess.run([sys.executable, "-c", _TZ_PROBE, str(CASES / "tz_aware_timestamps" / "train.log")],
                         env=child_env(TZ=tz, RUNYARD_CACHE_DIR=os.environ["RUNYARD_CACHE_DIR"]), cwd=PROJECT,
                         capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    assert got["created"] == CREATED_UTC
    assert got["times"] == [CREATED_UTC + 60 * i for i in range(5)]
    assert got["offset"] == got["spaced"] == CREATED_UTC
    # a stamp without a zone stays local time: under these zones it is not 12:00 UTC
    assert got["local"] != CREATED_UTC


@pytest.mark.parametrize("line, expected", [
    ("2026-06-01T12:00:00Z step 0", CREATED_UTC),
    ("2026-06-01T12:00:00.250Z x", CREATED_UTC + 0.25),
    ("2026-06-01T14:00:00+02:00 x", CREATED_UTC),
    ("2026-06-01T14:00:00.5+0200 x", CREATED_UTC + 0.5),
    ("2026-06-01T09:30:00-02:30 x", CREATED_UTC),
    ("[2026-06-01 12:00:00 UTC] x", CREATED_UTC),
    ("2026-06-01T12:00:00.123456789Z x", CREATED_UTC + 0.123456789),
])
def test_zoned_stamps(line, expected):
    assert line_time(line) == pytest.approx(expected, abs=1e-6)


def test_a_dash_after_a_stamp_is_not_a_zone():
    assert line_time("2026-06-01 12:00:00 - 0500 items") == line_time("2026-06-01 12:00:00")


# ----- progress bars redrawn with \r ---------------------------------------------------------------------------

def test_tqdm_redraws_are_not_rows(tmp_path, capsys):
    log = case("tqdm_cr_progress", tmp_path) / "train.log"
    view = open_run(log)
    df = view.metrics()
    assert "v_num" not in df.columns
    assert values(view, "loss") == [(100, 1.9), (200, 1.4)]  # each bar's last drawing, at its step
    assert values(view, "val_loss") == [(100, 2.1), (200, 1.8)]
    assert view.info.rows == 4 and view.info.status == "finished"

    assert main(["tail", str(log)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "Epoch 0: 100%|##########| 100/100 [00:10<00:10, 9.80it/s, loss=1.900, v_num=0]"
    assert out[4] == "Epoch 1: 100%|##########| 100/100 [00:10<00:10, 9.80it/s, loss=1.400, v_num=0]"
    assert len(out) == 7 and not any("\r" in line or "25%" in line for line in out)


def _bar(epoch: int, n: int, total: int, postfix: str) -> str:
    filled = "█" * (10 * n // total)
    return (f"\rEpoch {epoch}: {100 * n // total:3d}%|{filled:<10}| {n}/{total} "
            f"[00:0{n % 10}<00:05, 9.87it/s, {postfix}]")


def test_lightning_bar_with_several_postfix_metrics(tmp_path):
    """Lightning 2 puts `v_num` first and the logged metrics after. At the end of an epoch its validation bar is
    drawn below the main one (a line break, escape sequences to move back up), and the main bar is drawn again
    with the validation metrics. Each epoch is one row at the bar's global step; the version number is no metric."""
    lines = ["2026-11-23 08:00:00 - INFO - fitting"]
    for epoch in range(2):
        train = [f"v_num=3, train_loss_step={0.9 - epoch * 0.2 - n / 1000:.3f}" for n in (10, 25, 40, 50)]
        drawings = [_bar(epoch, n, 50, post) for n, post in zip((10, 25, 40, 50), train, strict=True)]
        drawings.append("\n\x1b[A\rValidation DataLoader 0: 100%|██████████| 5/5 [00:00<00:00, 40.1it/s]\x1b[A")
        val = (f"val_loss={0.7 - epoch * 0.1:.3f}, val_acc={0.8 + epoch * 0.05:.3f}, "
               f"train_loss_epoch={0.85 - epoch * 0.2:.3f}")
        drawings.append(_bar(epoch, 50, 50, f"{train[-1]}, {val}"))
        lines.append("".join(drawings))
    log = tmp_path / "lightning.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    view = open_run(log)
    names = set(view.metrics().columns) - {"step", "time", "elapsed"}
    assert names == {"train_loss_step", "val_loss", "val_acc", "train_loss_epoch"}
    assert values(view, "train_loss_step") == [(50, 0.85), (100, 0.65)]
    assert values(view, "val_acc") == [(50, 0.8), (100, 0.85)]
    assert values(view, "val_loss") == [(50, 0.7), (100, 0.6)]
    assert view.info.rows == 2


def test_a_postfix_number_that_changes_is_a_metric_and_one_that_never_does_is_a_label(tmp_path):
    def bar(steps: range) -> str:
        return "".join(f"\r{n}it [00:0{n % 10}, 3.0it/s, tokens={n * 512}, seed=7, loss={1 / n:.3f}]" for n in steps)

    log = tmp_path / "train.log"
    log.write_text(bar(range(1, 6)) + "\nstep 5: val_loss=0.9\n" + bar(range(6, 9)) + "\n", encoding="utf-8")
    view = open_run(log)
    assert sorted(set(view.metrics().columns) - {"step", "time", "elapsed"}) == ["loss", "tokens", "val_loss"]
    assert values(view, "tokens") == [(5, 2560), (8, 4096)] and values(view, "val_loss") == [(5, 0.9)]


def test_a_bar_broken_by_a_nested_bar_is_still_one_row(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("\r1it [00:01, 1.0it/s, loss=0.5]\r2it [00:02, 1.0it/s, loss=0.4]\n"
                   "\x1b[A\r3it [00:03, 1.0it/s, loss=0.3]\n", encoding="utf-8")
    assert values(open_run(log), "loss") == [(3, 0.3)]
    log.write_text("\r5it [00:05, 1.0it/s, loss=0.5]\n\r1it [00:01, 1.0it/s, loss=0.9]\n", encoding="utf-8")
    assert values(open_run(log), "loss") == [(5, 0.5), (1, 0.9)]  # counted from 0 again: another bar


def test_a_script_printing_its_own_redraws_reads_as_the_last_state(tmp_path):
    log = tmp_path / "train.log"
    log.write_bytes(b"step 1: loss=3.0\r\nstep 2: loss=2.0\rstep 3: loss=1.5\r\nstep 4: loss=1.0\n")
    assert values(open_run(log), "loss") == [(1, 3.0), (3, 1.5), (4, 1.0)]


def test_tail_prints_a_bar_still_being_drawn(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("step 1: loss=2.0\n" + _bar(0, 10, 50, "loss=1.9") + _bar(0, 20, 50, "loss=1.8"))
    assert main(["tail", str(log)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Epoch 0:  40%|████")


# ----- a runyard.toml beside the log, and CRLF -----------------------------------------------------------------

def test_crlf_log_with_its_own_patterns_by_path_and_by_name(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    folder = case("crlf_user_pattern", root / "team")
    log = folder / "train.log"
    assert b"\r\n" in log.read_bytes()
    acc = [(i * 10, round(0.5 + i * 0.05, 2)) for i in range(8)]

    def check(view) -> None:
        assert [(s, round(v, 2)) for s, v in values(view, "acc")] == acc

    check(open_run(log))                        # alone
    check(open_run(log, root))                  # with its runs root two folders up
    check(find_run(str(log), root))             # by path
    check(find_run("train", root))              # by name under the root
    check(find_run(str(log), tmp_path / "elsewhere"))
    monkeypatch.chdir(folder)
    check(find_run("train.log", "."))           # relative, from inside its folder
    assert [r.info.rows for r in runyard.scan(root)] == [8]


def test_an_edited_runyard_toml_is_read_again(tmp_path):
    root = tmp_path / "runs"
    folder = case("crlf_user_pattern", root)
    assert [r.info.rows for r in runyard.scan(root)] == [8]
    toml = folder / "runyard.toml"
    toml.write_text(toml.read_text().replace("(?P<acc>", "(?P<accuracy>"))
    (record,) = runyard.scan(root)
    assert "accuracy" in record.summary and "acc" not in record.summary


# ----- files that are not runs ---------------------------------------------------------------------------------

def test_a_file_that_is_no_run_says_why(tmp_path, capsys):
    script = tmp_path / "some_script.py"
    script.write_text("import torch\n\nfor step in range(10):\n    print(step)\n")
    empty = tmp_path / "empty.log"
    empty.write_text("")
    blob = tmp_path / "weights.bin"
    blob.write_bytes(bytes(range(256)) * 64)
    for path, why in ((script, "no line in its first 64 KiB reads as a step with metric values"),
                      (empty, "the file is empty"), (blob, "a binary file")):
        with pytest.raises(UnknownLayout, match=f"not a run: {why}"):
            open_run(path)
        for argv in (["show", str(path)], ["tail", str(path)], [str(path)]):  # the last one opens the app
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert err.startswith("runyard: error: ") and "not a run" in err and why in err
            assert err.count("\n") == 1 and "Traceback" not in err


def test_a_folder_holding_one_log_opens_it(tmp_path):
    folder = case("tz_aware_timestamps", tmp_path)
    view = open_run(folder)
    assert view.path == folder / "train.log" and view.info.created == CREATED_UTC


# ----- a W&B run's console output -------------------------------------------------------------------------------

def test_wandb_console_output_is_the_log(tmp_path, capsys):
    run_dir = tmp_path / "wandb" / "offline-run-20261122_145303-lssbftrw"
    shutil.copytree(WANDB / run_dir.name, run_dir)
    wandb_file = run_dir / "run-lssbftrw.wandb"
    old = time.time() - 3600
    os.utime(wandb_file, (old, old))
    view = open_run(run_dir)
    assert view.log_path is None and view.source.log_path() is None  # finished without console output
    (run_dir / "files" / "output.log").write_text("step 0: loss=1.000\nwandb console \x1b[31mred\x1b[0m\n")
    assert open_run(run_dir).log_path == run_dir / "files" / "output.log"
    assert main(["tail", str(run_dir)]) == 0
    assert capsys.readouterr().out.splitlines() == ["step 0: loss=1.000", "wandb console red"]


def test_a_live_wandb_run_names_its_console_log_before_the_first_flush(tmp_path):
    run_dir = tmp_path / "wandb" / "offline-run-20261122_145303-lssbftrw"
    shutil.copytree(WANDB / run_dir.name, run_dir)
    wandb_file = run_dir / "run-lssbftrw.wandb"
    data = wandb_file.read_bytes()
    wandb_file.write_bytes(data[: len(data) // 2])  # still being written: no exit record yet
    output = run_dir / "files" / "output.log"
    source = open_run(run_dir).source
    assert source.read_info().status == "running"
    assert source.log_path() == output and not output.exists()  # a follower waits for it
    reader = TailReader(source.log_path())
    assert reader.read().lines == []
    output.write_text("first flush\n")
    assert reader.read().lines == [b"first flush"]


def test_non_finite_values_in_a_log_are_read(tmp_path):
    from runyard.layouts.textlog import parse_log

    log = tmp_path / "train.log"
    log.write_text("step 1: loss=nan\nstep 2: loss=inf\nstep 3: loss=0.5\n")
    rows, _ = parse_log(log)
    got = [(r["step"], r["loss"]) for r in rows]
    assert [s for s, _ in got] == [1, 2, 3] and math.isnan(got[0][1]) and got[1][1] == math.inf
