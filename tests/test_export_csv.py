"""`runyard export --csv`: one row per (run, step), a column per metric, and what was logged read back unchanged.

Each test reads the CSV back (with the csv module for the exact text, with pandas for the types a notebook gets)
and compares it with the runs' own series: a step stays an integer, a logged NaN stays `nan`, a metric a row did
not log stays empty, and a time is an instant with its zone.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import runyard
from runyard.tui.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    """Two runyard runs with different metrics: NaN and infinities, an uneven val/loss, a metric named `run`."""
    root = tmp_path / "runs"
    with runyard.init("alpha", root=root, console=False, system_metrics=False) as run:
        for step in range(20):
            row = {"train/loss": 3.0 - step * 0.1, "lr": 1e-3 * (step + 1) / 20}
            if step == 7:
                row["train/loss"] = float("nan")
            if step == 9:
                row["train/loss"] = float("inf")
            if step % 5 == 0:
                row["val/loss"] = 3.2 - step * 0.05
            run.log(row, step=step)
        run.log({"val/loss": float("nan")}, step=19)  # a second row at step 19: merged into one
    with runyard.init("beta", root=root, console=False, system_metrics=False) as run:
        for step in range(0, 30, 3):
            run.log({"acc": step / 30, "run": 1.0}, step=step)
    return [root / p.name for p in sorted(root.iterdir(), key=lambda p: p.name)]


def read_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def logged(view, metric: str) -> dict[int, float]:
    """What a run logged for `metric`, per step: the last value logged at each step."""
    series = view.series(metric)
    return {int(s): float(v) for s, v in zip(series["step"], series["value"], strict=True)}


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def test_rows_columns_and_values_are_what_was_logged(runs, tmp_path, capsys):
    out = tmp_path / "metrics.csv"
    assert main(["export", *map(str, runs), "--csv", str(out)]) == 0
    assert capsys.readouterr().err.strip() == f"wrote {out} (30 rows)"
    header, rows = read_rows(out.read_text(encoding="utf-8"))
    # the fixed columns, then every metric of any run in the order first met; `run` the metric made `run_`
    assert header == ["run", "step", "time", "train/loss", "lr", "val/loss", "acc", "run_"]
    views = [runyard.open_run(p) for p in runs]
    for view in views:
        mine = [r for r in rows if r["run"] == view.info.name]
        steps = sorted(set(view.metrics()["step"].tolist()))
        assert [r["step"] for r in mine] == [str(s) for s in steps]  # one row per step, in order, as integers
        for metric in view.summary:
            column = "run_" if metric == "run" else metric
            values = logged(view, metric)
            for r in mine:
                field = r[column]
                if int(r["step"]) not in values:
                    assert field == "", (view.info.name, metric, r["step"])  # not logged: empty
                else:
                    assert field != "" and same(float(field), values[int(r["step"])])
        for other in set(header[3:]) - {"run_" if m == "run" else m for m in view.summary}:
            assert all(r[other] == "" for r in mine)  # another run's metric: empty here
    alpha = {r["step"]: r for r in rows if r["run"] == "alpha"}
    assert alpha["7"]["train/loss"] == "nan" and alpha["9"]["train/loss"] == "inf"
    assert alpha["19"]["val/loss"] == "nan" and alpha["19"]["train/loss"] != ""  # two rows at 19: one, merged
    assert alpha["3"]["val/loss"] == ""


def test_pandas_reads_integer_steps_zoned_times_and_nan(runs, tmp_path):
    out = tmp_path / "metrics.csv"
    assert main(["export", *map(str, runs), "--csv", str(out)]) == 0
    frame = pd.read_csv(out)
    assert frame["step"].dtype == np.int64
    assert frame["train/loss"].dtype == np.float64 and frame["run"].dtype != np.float64
    times = pd.to_datetime(frame["time"], format="ISO8601")
    assert str(times.dt.tz) == "UTC"  # every time carries its zone: never read as local time
    # NaN and "not logged" apart, the way the module's notes say to read them
    kept = pd.read_csv(out, keep_default_na=False, na_values={"train/loss": ["nan"]})
    alpha = kept[kept["run"] == "alpha"].set_index("step")
    assert math.isnan(alpha.loc[7, "train/loss"]) and (kept[kept["run"] == "beta"]["train/loss"] == "").all()
    assert frame[frame["run"] == "alpha"].set_index("step").loc[9, "train/loss"] == math.inf
    for path in runs:
        view = runyard.open_run(path)
        mine = frame[frame["run"] == view.info.name]
        per_step = view.metrics().groupby("step")["time"].last()
        seconds = times[mine.index].map(lambda t: t.timestamp()).to_numpy()
        assert np.allclose(seconds, per_step.loc[mine["step"]].to_numpy(), rtol=0, atol=1e-6)


def test_a_zoned_log_keeps_its_instant_and_huge_steps_stay_exact(tmp_path):
    out = tmp_path / "m.csv"
    tz_log = FIXTURES / "cases/reading/tz_aware_timestamps/train.log"
    huge = FIXTURES / "cases/reading/int64_steps/huge"
    assert main(["export", str(tz_log), str(huge), "--csv", str(out)]) == 0
    _, rows = read_rows(out.read_text(encoding="utf-8"))
    first = rows[0]
    assert first["time"] == "2026-06-01T12:00:00.000000+00:00"  # the log's `...Z`, as an instant in UTC
    steps = [r["step"] for r in rows if r["reward"] != ""]
    assert steps[-1] == "9223372036854775807" and steps[0] == "4611686018427387904"
    assert pd.read_csv(out)["step"].dtype == np.int64


def test_foreign_runs_merge_their_rows_per_step(tmp_path):
    """A TensorBoard run logs each tag in its own row: one row per step, each tag's value at that step."""
    chatgot = FIXTURES / "foreign/chatgot/runs/chatgot_small_char_20250324_134501"
    cs336 = FIXTURES / "foreign/cs336/runs/baseline_17m"
    assert runyard.open_run(chatgot).metrics()["step"].duplicated().any()  # rows to merge
    out = tmp_path / "m.csv"
    assert main(["export", str(chatgot), str(cs336), "--csv", str(out)]) == 0
    _, rows = read_rows(out.read_text(encoding="utf-8"))
    pairs = [(r["run"], r["step"]) for r in rows]
    assert len(pairs) == len(set(pairs))
    for path in (chatgot, cs336):
        view = runyard.open_run(path)
        mine = {r["step"]: r for r in rows if r["run"] == view.info.name}
        for metric in view.summary:
            for step, value in logged(view, metric).items():
                assert same(float(mine[str(step)][metric]), value)


def test_csv_to_stdout_and_names_repeated(runs, tmp_path, capsys):
    twin_root = tmp_path / "other"
    with runyard.init("alpha", root=twin_root, console=False, system_metrics=False) as run:
        run.log({"train/loss": 1.0}, step=0)
    twin = next(p for p in twin_root.iterdir() if p.is_dir())
    assert main(["export", str(runs[0]), str(twin), str(runs[0]), "--csv", "-"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # stdout holds only the table
    _, rows = read_rows(captured.out)
    names = {r["run"] for r in rows}
    ids = {runyard.open_run(runs[0]).info.id, runyard.open_run(twin).info.id}
    assert names == {f"alpha [{i}]" for i in ids}  # the same name twice: told apart by id
    assert len(rows) == 21  # a run named twice is exported once


@pytest.mark.parametrize("argv, message", [
    (["export", "RUN"], "export needs --png DIR, --csv FILE"),
    (["export", "nosuch", "--root", "ROOT", "--csv", "-"], "no run 'nosuch'"),
    (["export", "RUN", "--csv", "MISSING/m.csv"], "no such folder"),
    (["export", "RUN", "--csv", "TMP"], "is a folder"),
    (["export", "RUN", "--png", "AFILE"], "cannot make the folder"),
])
def test_errors_are_one_line(runs, tmp_path, capsys, argv, message):
    (tmp_path / "afile").write_text("x")
    swap = {"RUN": str(runs[0]), "ROOT": str(runs[0].parent), "MISSING": str(tmp_path / "missing"),
            "TMP": str(tmp_path), "AFILE": str(tmp_path / "afile")}
    argv = ["/".join(swap.get(part, part) for part in a.split("/")) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("runyard: error:") and message in err and "\n" not in err, err
    assert not list(tmp_path.glob("**/.*.tmp"))  # nothing half-written left behind
