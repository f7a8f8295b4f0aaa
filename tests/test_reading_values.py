"""What runyard shows is what was logged, in every layout: NaN and infinities, metric names that meet the
computed columns, CSV columns that appear mid-file, integer steps, text spelled like a number, integer
hyperparameters.

The inputs are the reading cases in fixtures/cases/reading (EXPECTED.md there says what a user must see) and
variants in the other layouts, written here by each tool's own writer; foreign readings are cross-checked
against TensorBoard's `EventAccumulator` and Python's csv module.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runyard
from runyard import open_run, scan
from runyard.layouts.base import metric_column
from runyard.reading import scanner
from runyard.tui.cli import main
from runyard.tui.live.runstate import LiveRun

CASES = Path(__file__).parent / "fixtures" / "cases" / "reading"
WANDB_NAN = CASES / "wandb_nan" / "wandb" / "offline-run-20261124_000000-nanrun01"
T0 = 1_795_420_800.0
INT64_MAX = 2**63 - 1


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def pb() -> Any:
    """wandb's record classes (the W&B reader needs the wandb package)."""
    return pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb is not installed")


def same(actual: Any, expected: list[float]) -> bool:
    """Equal value for value, NaN equal to NaN."""
    return np.array_equal(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                          equal_nan=True)


def accumulator(folder: Path) -> Any:
    """TensorBoard's own reader over a run folder, every scalar kept."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    ea.Reload()
    return ea


def plot_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[dict[str, Any], str]:
    """`runyard plot ... --json`, parsed, and its text as printed."""
    assert main(["plot", *argv, "--json"]) == 0
    text = capsys.readouterr().out
    return json.loads(text), text


# ----- runs written by each tool, all logging the same rows ----------------------------------------------------

# step 0: a=1; step 1: a=NaN and b=NaN; step 2: a=+inf; step 3: a=2.  b is logged once, and only as NaN.
ROWS: list[tuple[int, dict[str, float]]] = [
    (0, {"a": 1.0}), (1, {"a": math.nan, "b": math.nan}), (2, {"a": math.inf}), (3, {"a": 2.0})]


def write_runyard(folder: Path, rows: list[tuple[int, dict[str, float]]]) -> Path:
    with runyard.init("variant", root=folder, console=False, system_metrics=False) as run:
        for step, values in rows:
            run.log(values, step=step)
        return run.path


def write_tensorboard(folder: Path, rows: list[tuple[int, dict[str, float]]]) -> Path:
    """One event per row, written by tensorboard's own event file writer."""
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    run = folder / "tb_run"
    writer = EventFileWriter(str(run))
    for i, (step, values) in enumerate(rows):
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=v) for tag, v in values.items()])
        writer.add_event(Event(step=step, wall_time=T0 + i, summary=summary))
    writer.close()
    return run


def write_wandb(folder: Path, rows: list[tuple[int, dict[str, float]]]) -> Path:
    from tests.test_layout_wandb import exit_record, history_record, run_record, write_run

    wb = pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb is not installed")
    history = [history_record(wb, step, values) for step, values in rows]
    return write_run(folder, [run_record(wb, run_id="abc123"), *history, exit_record(wb, 0)])


def write_csv(folder: Path, rows: list[tuple[int, dict[str, float]]]) -> Path:
    """A CS336 ExperimentTracker folder: an empty field where a row did not log a metric."""
    run = folder / "csv_run"
    run.mkdir()
    (run / "config.json").write_text('{"experiment_name": "variant"}')
    names = list(dict.fromkeys(name for _, values in rows for name in values))
    with open(run / "metrics.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["step", "wallclock_time", "elapsed_time", *names])
        for i, (step, values) in enumerate(rows):
            out.writerow([step, T0 + i, float(i), *(repr(values[n]) if n in values else "" for n in names)])
    return run


def write_textlog(folder: Path, rows: list[tuple[int, dict[str, float]]]) -> Path:
    """A plain log: `step N name=value ...` lines under a logging timestamp."""
    path = folder / "train.log"
    lines = [f"2026-11-23 08:00:0{i} - INFO - step {step} " + " ".join(f"{k}={v!r}" for k, v in values.items())
             for i, (step, values) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


WRITERS: dict[str, Callable[[Path, list[tuple[int, dict[str, float]]]], Path]] = {
    "runyard": write_runyard, "tensorboard": write_tensorboard, "wandb": write_wandb, "cs336": write_csv,
    "textlog": write_textlog,
}


# ----- 1. a logged NaN or infinity is data --------------------------------------------------------------------

def test_wandb_nan_is_counted_shown_and_last(pb: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """EXPECTED: `value` 20 points, 16 NaN, last value NaN at step 19; `loss` unchanged."""
    view = open_run(WANDB_NAN)
    series = view.series("value")
    assert len(series) == 20 and int(series["value"].isna().sum()) == 16
    assert series["step"].iloc[-1] == 19 and math.isnan(series["value"].iloc[-1])
    stats = view.summary["value"]
    assert (stats.count, stats.last_step, stats.first, stats.min, stats.max) == (20, 19, 1.0, 1.0, 1.0)
    assert math.isnan(stats.last)
    loss = view.summary["loss"]
    assert (loss.count, loss.last_step, loss.first) == (20, 19, 1.0) and loss.last == pytest.approx(0.05)
    # the same through a listing (the scan's record summary) and through the app's live state
    (record,) = scan(CASES / "wandb_nan")
    assert record.summary["value"].count == 20 and math.isnan(record.summary["value"].last)
    live = LiveRun(view)
    live.apply(live.read())  # a read lane reads, the app folds in
    assert len(live.series["value"]) == 20 and live.nonfinite["value"] == 16
    data, _ = plot_json(capsys, str(WANDB_NAN), "-m", "value")
    (drawn,) = data["series"]
    assert drawn["nonfinite"] == 16 and drawn["x"] == [0, 5, 10, 15]
    assert drawn["nonfinite_at"] == [s for s in range(20) if s % 5]


@pytest.mark.parametrize("case, value", [("inf_only", math.inf), ("nan_only", math.nan)])
def test_a_series_of_only_nan_or_inf_is_a_metric_with_points(case: str, value: float,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = CASES / "nonfinite_only" / case
    theirs = accumulator(folder).Scalars("loss")
    view = open_run(folder)
    series = view.series("loss")
    assert series["step"].tolist() == [e.step for e in theirs] == [0, 1, 2, 3]
    assert same(series["value"], [e.value for e in theirs]) and same(series["value"], [value] * 4)
    stats = view.summary["loss"]
    assert stats.count == 4 and stats.last_step == 3 and (stats.min, stats.max, stats.mean) == (None, None, None)
    assert main(["plot", str(folder), "-m", "loss", "--width", "60", "--height", "12"]) == 0
    out = capsys.readouterr().out
    frame = [line for line in out.splitlines() if any(edge in line for edge in "┤│┌└")]
    assert sum(line.count("x") for line in frame) == 4  # four red crosses on the top edge
    kind = "NaN" if case == "nan_only" else "+inf"
    assert out.rstrip().endswith(f"loss has 4 non-finite values (4 {kind}), marked x on the frame's edge\n"
                                 "loss: nothing finite to draw")
    data, _ = plot_json(capsys, str(folder), "-m", "loss")
    assert data["series"][0]["nonfinite"] == 4 and data["series"][0]["nonfinite_at"] == [0, 1, 2, 3]


@pytest.mark.parametrize("layout", WRITERS)
def test_every_layout_keeps_a_logged_nan_apart_from_nothing_logged(layout: str, tmp_path: Path) -> None:
    root = tmp_path / "runs"
    root.mkdir()
    path = WRITERS[layout](root, ROWS)
    view = open_run(path)
    a, b = view.series("a"), view.series("b")
    assert a["step"].tolist() == [0, 1, 2, 3] and same(a["value"], [1.0, math.nan, math.inf, 2.0])
    assert b["step"].tolist() == [1] and same(b["value"], [math.nan])
    assert view.metrics()["b"].isna().all()  # the frame shows NaN either way; presence says which was logged
    assert (view.summary["a"].count, view.summary["a"].last, view.summary["a"].max) == (4, 2.0, 2.0)
    assert view.summary["b"].count == 1 and math.isnan(view.summary["b"].last)
    (record,) = scan(root)
    assert record.summary["a"].count == 4 and record.summary["b"].count == 1
    live = LiveRun(view)
    live.apply(live.read())  # a read lane reads, the app folds in
    assert (len(live.series["a"]), len(live.series["b"])) == (4, 1)
    assert live.nonfinite == {"a": 2, "b": 1}


# ----- 2. metric names that meet the computed columns -----------------------------------------------------------

def test_runyard_metric_named_elapsed(capsys: pytest.CaptureFixture[str]) -> None:
    """EXPECTED: `metrics()` works; `elapsed` the metric is readable and plottable, distinct from the column."""
    folder = CASES / "reserved_names" / "runyard" / "own_elapsed"
    view = open_run(folder)
    df = view.metrics()
    assert list(df.columns) == ["step", "time", "elapsed", "loss", "elapsed_"]
    assert df["elapsed_"].tolist() == [0.0, 1.5, 3.0, 4.5, 6.0]
    assert df["elapsed"].tolist() == pytest.approx((df["time"] - view.info.created).tolist())
    assert df["elapsed"].max() < 1  # the computed column: this run took milliseconds
    assert view.summary["elapsed_"].last == 6.0 and "elapsed" not in view.summary
    (record,) = scan(folder.parent)  # the writer's own summary.json names it `elapsed`; listed by the same rule
    assert set(record.summary) == {"loss", "elapsed_"} and record.summary["elapsed_"].max == 6.0
    data, _ = plot_json(capsys, str(folder), "-m", "elapsed_")
    assert data["series"][0]["y"] == [0.0, 1.5, 3.0, 4.5, 6.0] and data["series"][0]["x"] == [0, 1, 2, 3, 4]
    assert main(["show", str(folder)]) == 0
    assert "elapsed_" in capsys.readouterr().out


def test_tensorboard_tags_step_and_time_are_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    """EXPECTED: tags `step` and `time` both readable as metrics; nothing dropped without a word."""
    folder = CASES / "reserved_names" / "tb_tags"
    ea = accumulator(folder)
    tags = ea.Tags()["scalars"]
    assert {"step", "time"} <= set(tags)
    view = open_run(folder)
    assert set(view.summary) == {metric_column(tag) for tag in tags} == {"loss", "step_", "time_", "elapsed_"}
    for tag in tags:
        series = view.series(metric_column(tag))
        assert series["step"].tolist() == [e.step for e in ea.Scalars(tag)]
        assert same(series["value"], [e.value for e in ea.Scalars(tag)])
    df = view.metrics()
    assert df["step"].tolist() == [0, 1, 2, 3, 4] and df["step_"].tolist() == [0.0, 32.0, 64.0, 96.0, 128.0]
    assert df["time"].min() > T0 - 1 and df["time_"].tolist() == [0.25] * 5
    data, _ = plot_json(capsys, str(folder), "-m", "step_")
    assert data["series"][0]["y"] == [0.0, 32.0, 64.0, 96.0, 128.0]


def test_text_log_pattern_yielding_elapsed() -> None:
    """EXPECTED: `metrics()` works; the metric is kept."""
    view = open_run(CASES / "reserved_names" / "textlog" / "train.log")
    df = view.metrics()
    assert df["elapsed_"].tolist() == [1.5, 3.0, 4.5] and df["loss"].tolist() == [1.5, 1.0, 0.5]
    assert df["elapsed"].tolist() == [0.0, 1.0, 2.0]  # seconds since the first line
    assert set(view.summary) >= {"loss", "elapsed_"}


# runyard's writer refuses `step` and `time` as metric names; a CSV's `step` column is its step
NAMES_TAKEN = {"runyard": ["elapsed", "elapsed_"], "cs336": ["time", "elapsed", "time_"]}


@pytest.mark.parametrize("layout", ["wandb", "tensorboard", "cs336", "runyard"])
def test_names_of_the_computed_columns_in_other_layouts(layout: str, tmp_path: Path) -> None:
    """One rule everywhere: a metric named `step`, `time` or `elapsed` (or that with underscores) gets one `_`
    more, so `step` and a metric already named `step_` stay two metrics."""
    names = NAMES_TAKEN.get(layout, ["step", "time", "elapsed", "step_"])
    rows = [(s, {name: float(10 * s + i) for i, name in enumerate(names)}) for s in range(3)]
    view = open_run(WRITERS[layout](tmp_path, rows))
    df = view.metrics()
    assert df["step"].tolist() == [0, 1, 2]
    for i, name in enumerate(names):
        assert df[metric_column(name)].tolist() == [float(10 * s + i) for s in range(3)]
        assert view.summary[metric_column(name)].count == 3
    assert len(df.columns) == 3 + len(names)


def test_a_live_run_follows_a_metric_named_elapsed(tmp_path: Path) -> None:
    """Rows read live (metrics.jsonl followed row by row) name the metric as the full read does."""
    with runyard.init("live", root=tmp_path, console=False, system_metrics=False) as run:
        run.log({"elapsed": 1.0, "loss": 2.0}, step=0)
        live = LiveRun(open_run(run.path))
        live.apply(live.read())  # a read lane reads, the app folds in
        run.log({"elapsed": 2.0, "loss": 1.0}, step=1)
        assert live.apply(live.read()) == 1
    assert set(live.series) == {"elapsed_", "loss"}
    assert live.series["elapsed_"].value.view.tolist() == [1.0, 2.0]


# ----- 3. CSV columns that appear mid-file ----------------------------------------------------------------------

def test_csv_field_appended_to_later_rows() -> None:
    """EXPECTED: 10 rows; `train_loss` 10 values (last 2.1 at step 9), the new column 5 values (2.4 ... 2.0).

    The file names no fifth column (its header has four fields), so it is read as `column_5`."""
    folder = CASES / "csv_new_column" / "appended_field"
    with open(folder / "metrics.csv", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    view = open_run(folder)
    df = view.metrics()
    assert len(df) == len(rows) == 10 and view.info.rows == 10 and view.info.skipped_lines == 0
    assert df["step"].tolist() == [int(r[0]) for r in rows]
    train = view.series("train_loss")
    assert train["value"].tolist() == [float(r[3]) for r in rows] and len(train) == 10
    assert (train["step"].iloc[-1], train["value"].iloc[-1]) == (9, 2.1)
    added = view.series("column_5")
    assert added["value"].tolist() == [float(r[4]) for r in rows if len(r) > len(header)]
    assert added["value"].tolist() == [2.4, 2.3, 2.2, 2.1, 2.0] and added["step"].tolist() == [5, 6, 7, 8, 9]


def test_csv_header_written_again_names_the_new_column(tmp_path: Path) -> None:
    """A writer that writes its header again when a metric appears: the rows after it are read by the new one;
    a line that is not a row is skipped and counted."""
    run = tmp_path / "rewritten"
    shutil.copytree(CASES / "csv_new_column" / "appended_field", run)
    with open(run / "metrics.csv", newline="") as fh:
        header, *rows = list(csv.reader(fh))
    with open(run / "metrics.csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerows([header, *rows[:5], [*header, "val_loss"], *rows[5:7], ["garbage"], *rows[7:]])
    view = open_run(run)
    assert len(view.metrics()) == 10 and view.info.skipped_lines == 1
    assert view.series("val_loss")["value"].tolist() == [2.4, 2.3, 2.2, 2.1, 2.0]
    assert view.summary["train_loss"].count == 10 and view.summary["train_loss"].last == 2.1


# ----- 4. steps are integers end to end -------------------------------------------------------------------------

def test_int64_steps_exact_in_frame_series_summary_and_plot_json(capsys: pytest.CaptureFixture[str]) -> None:
    """EXPECTED: 9,223,372,036,854,775,807 is not printed as ...808."""
    folder = CASES / "int64_steps" / "huge"
    theirs = [e.step for e in accumulator(folder).Scalars("reward")]
    view = open_run(folder)
    df = view.metrics()
    assert df["step"].dtype == np.int64 and df["step"].tolist() == theirs and theirs[-1] == INT64_MAX
    series = view.series("reward")
    assert series["step"].dtype == np.int64 and series["step"].tolist() == theirs
    assert view.summary["reward"].last_step == INT64_MAX == view.summary["reward"].max_step
    (record,) = scan(folder.parent)
    assert record.info.last_step == INT64_MAX and record.summary["reward"].last_step == INT64_MAX
    data, text = plot_json(capsys, str(folder), "-m", "reward")
    assert data["series"][0]["x"] == theirs
    assert "9223372036854775807" in text and "9223372036854775808" not in text and "e+18" not in text


def test_plot_json_steps_stay_logged_steps_when_points_are_thinned(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Beyond 2**53 neighbouring steps share one float64; every plotted x is still a step that was logged."""
    base = 2**62
    rows = [(base + s, {"loss": float(s % 7) if s % 50 else math.nan}) for s in range(400)]
    run = write_tensorboard(tmp_path, rows)
    data, _ = plot_json(capsys, str(run), "-m", "loss", "--width", "20")
    (drawn,) = data["series"]
    logged = {step for step, _ in rows}
    assert 0 < len(drawn["x"]) < 400 and set(drawn["x"]) <= logged and drawn["x"] == sorted(drawn["x"])
    assert drawn["nonfinite_at"] == [base + s for s in range(0, 400, 50)]


def test_wandb_step_near_the_int64_limit(pb: Any, tmp_path: Path) -> None:
    view = open_run(write_wandb(tmp_path, [(INT64_MAX - 1, {"loss": 1.0}), (INT64_MAX, {"loss": 0.5})]))
    assert view.metrics()["step"].tolist() == [INT64_MAX - 1, INT64_MAX]
    assert view.info.last_step == INT64_MAX and view.summary["loss"].last_step == INT64_MAX


# ----- 5. only metric values are decoded as numbers ------------------------------------------------------------

def test_text_spelled_like_a_number_stays_text_through_the_scan_cache(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runs"
    with runyard.init("inf", root=root, config={"mode": "nan", "limit": "-inf", "n": 3}, tags=["nan", "inf"],
                      console=False, system_metrics=False) as run:
        run.log({"loss": math.nan}, step=0)
        run.log({"loss": math.inf}, step=1)
    first = scan(root)

    def no_reading(source: Any) -> Any:
        raise AssertionError(f"{source.path} was read again instead of taken from the cache")

    monkeypatch.setattr(scanner, "read_record", no_reading)
    for (record,) in (first, scan(root)):
        assert record.info.name == "inf" and record.info.tags == ["nan", "inf"]
        assert record.config == {"mode": "nan", "limit": "-inf", "n": 3}
        stats = record.summary["loss"]
        assert stats.count == 2 and math.isinf(stats.last) and math.isnan(stats.first)


# ----- 6. integer hyperparameters stay integers ----------------------------------------------------------------

def test_integral_tensorboard_hparams_read_as_ints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorBoard stores every numeric hparam as a double; an integral one is read as the int it was."""
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "runs" / "hp"
    with SummaryWriter(str(run)) as w:
        w.add_hparams({"batch_size": 32, "n_layer": -4, "lr": 3e-4, "optimizer": "adam", "mode": "nan"},
                      {"hparam/acc": 0.75}, run_name=".")
    want = {"batch_size": 32, "n_layer": -4, "lr": 3e-4, "optimizer": "adam", "mode": "nan"}
    config = open_run(run).config
    assert config == want and type(config["batch_size"]) is int and type(config["lr"]) is float
    scan(run.parent)
    monkeypatch.setattr(scanner, "read_record", lambda source: pytest.fail("not taken from the cache"))
    (record,) = scan(run.parent)
    assert record.config == want and type(record.config["batch_size"]) is int


def test_wandb_config_ints_stay_ints(pb: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_layout_wandb import history_record, run_record, write_run

    record = run_record(pb, run_id="abc123")
    for key, value in (("batch_size", 32), ("lr", 0.001), ("mode", "nan")):
        item = record.run.config.update.add()
        item.key = key
        item.value_json = json.dumps({"value": value})
    folder = write_run(tmp_path, [record, history_record(pb, 0, {"loss": 1.0})])
    config = open_run(folder).config
    assert config == {"batch_size": {"value": 32}, "lr": {"value": 0.001}, "mode": {"value": "nan"}}
    assert type(config["batch_size"]["value"]) is int
    assert main(["show", str(folder), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["config"]
    assert shown["batch_size"] == {"value": 32} and "32.0" not in json.dumps(shown)
