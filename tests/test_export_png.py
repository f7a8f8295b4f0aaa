"""PNG figures: `runyard export --png` and `runyard plot --png`, drawn headless with matplotlib.

Each test opens the file written and looks at its pixels: the size the figure promises, something drawn (many
colours, many non-white pixels inside the frame), and each run's colour from the palette the app and `runyard
plot` use, in the order the runs were given, with no colour of a run that was not asked for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import runyard
from runyard.ops.figures import LOSS_SIZE, LR_SIZE, NONFINITE_COLOUR, PLOT_SIZE, run_labels
from runyard.tui.cli import main
from runyard.tui.formatting import PALETTE
from tests.conftest import child_env

pytest.importorskip("matplotlib")

FIXTURES = Path(__file__).parent / "fixtures"
SNAPSHOT = FIXTURES / "snapshot/runs"
SNAPSHOT_RUNS = sorted(p for p in SNAPSHOT.iterdir() if p.is_dir())  # baseline, high_lr, nan_probe, stale
MISSING = "runyard: error: PNG export needs matplotlib: pip install 'runyard[png]'"


def pixels(path: Path) -> np.ndarray:
    """The image as (height, width, 3) integers 0-255."""
    from matplotlib.image import imread

    image = imread(path)
    return (image[..., :3] * 255).round().astype(int)


def size_of(inches: tuple[float, float]) -> tuple[int, int]:
    return round(inches[1] * 100), round(inches[0] * 100)


def count(image: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 12) -> int:
    """Pixels of `rgb` (give or take the anti-aliasing at a line's edge)."""
    return int((np.abs(image - np.array(rgb)).max(axis=-1) <= tolerance).sum())


def assert_drawn(image: np.ndarray) -> None:
    """Not blank: inside the middle of the figure, many pixels are not white and many colours are used."""
    h, w, _ = image.shape
    middle = image[h // 8: h * 3 // 4, w // 10: w * 9 // 10]
    not_white = (middle < 245).any(axis=-1).mean()
    colours = len(np.unique(middle.reshape(-1, 3), axis=0))
    assert not_white > 0.02 and colours > 50, (not_white, colours)


def assert_run_colours(image: np.ndarray, runs: int) -> None:
    """Run k drawn in PALETTE[k], and no palette colour beyond the runs drawn."""
    for k in range(runs):
        assert count(image, PALETTE[k]) >= 20, f"run {k}'s colour {PALETTE[k]} missing"
    for k in range(runs, len(PALETTE)):
        assert count(image, PALETTE[k]) < 5, f"colour {PALETTE[k]} of no run drawn"


def test_export_figures_of_runyard_runs(tmp_path, capsys):
    out = tmp_path / "figures"
    assert main(["export", *map(str, SNAPSHOT_RUNS), "--png", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert f"wrote {out / 'loss_curves.png'}" in err and f"wrote {out / 'lr_schedule.png'}" in err
    # nan_probe logged one NaN val/loss: left out of the line, counted, and marked on the frame's edge
    assert "note: loss_curves.png: nan_probe val/loss: 1 non-finite value (1 NaN) left out, marked x on the edge" \
        in err
    loss = pixels(out / "loss_curves.png")
    assert loss.shape[:2] == size_of(LOSS_SIZE)
    assert_drawn(loss)
    assert_run_colours(loss, len(SNAPSHOT_RUNS))
    assert count(loss, NONFINITE_COLOUR, tolerance=20) >= 6  # the red cross, on both axes
    lr = pixels(out / "lr_schedule.png")
    assert lr.shape[:2] == size_of(LR_SIZE)
    assert_drawn(lr)
    assert_run_colours(lr, len(SNAPSHOT_RUNS))
    assert count(lr, NONFINITE_COLOUR, tolerance=20) == 0
    assert not any("log-scale" in line for line in err)  # a loss within a decade stays on a linear axis


def test_the_order_of_runs_gives_the_colours(tmp_path):
    """Two runs given: the first two colours, whichever runs they are."""
    out = tmp_path / "two"
    assert main(["export", str(SNAPSHOT_RUNS[3]), str(SNAPSHOT_RUNS[0]), "--png", str(out)]) == 0
    assert_run_colours(pixels(out / "loss_curves.png"), 2)


def test_export_figures_of_foreign_runs(tmp_path, capsys):
    """CSV (CS336), TensorBoard (ChatGoT) and FPN runs: each finds its loss and learning rate by name."""
    runs = [FIXTURES / "foreign/cs336/runs/baseline_17m",
            FIXTURES / "foreign/chatgot/runs/chatgot_small_char_20250324_134501",
            sorted((FIXTURES / "foreign/fpn_compression/checkpoints/fpn_compression").glob("run_*"))[0]]
    views = [runyard.open_run(p) for p in runs]
    assert [runyard.ops.figures.lr_metric(v) for v in views] == ["learning_rate", "LR", "lr"]
    assert [runyard.ops.figures.loss_metrics(v) for v in views] == [
        ["train_loss", "val_loss"], ["Loss/train", "Loss/val"], ["train_loss", "val_loss"]]
    out = tmp_path / "foreign"
    assert main(["export", *map(str, runs), "--png", str(out)]) == 0
    for name, inches in (("loss_curves.png", LOSS_SIZE), ("lr_schedule.png", LR_SIZE)):
        image = pixels(out / name)
        assert image.shape[:2] == size_of(inches)
        assert_drawn(image)
        assert_run_colours(image, len(runs))


def test_a_figure_no_run_has_data_for_is_left_out_with_a_note(tmp_path, capsys):
    root = tmp_path / "runs"
    with runyard.init("steady", root=root, console=False, system_metrics=False) as run:
        for step in range(50):
            run.log({"train/loss": 100 * 0.85 ** step}, step=step)  # four decades
    out = tmp_path / "figs"
    assert main(["export", "steady", "--root", str(root), "--png", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: lr_schedule.png not written: no run logs a learning rate" in err
    assert "log-scale y: the loss spans" in err  # decades of loss: a log axis, and the figure says why
    assert sorted(p.name for p in out.iterdir()) == ["loss_curves.png"]
    assert_drawn(pixels(out / "loss_curves.png"))


def test_runs_with_neither_loss_nor_learning_rate_are_an_error(tmp_path, capsys):
    root = tmp_path / "runs"
    with runyard.init("acc_only", root=root, console=False, system_metrics=False) as run:
        for step in range(5):
            run.log({"acc": step / 5}, step=step)
    assert main(["export", "acc_only", "--root", str(root), "--png", str(tmp_path / "f")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "runyard: error: no figure to write: these runs log no loss and no learning rate"


def test_odd_names_are_drawn_as_written(tmp_path):
    """A `$` would start matplotlib's math text, CJK glyphs are missing from its font: neither stops a figure."""
    root = tmp_path / "runs"
    with runyard.init("α $x_1$ 中文", root=root, console=False, system_metrics=False) as run:
        for step in range(10):
            run.log({"loss $ [bold]": 1.0 / (step + 1), "learning_rate": 0.1}, step=step)
    run_dir = next(p for p in root.iterdir() if p.is_dir())
    done = runyard.export_figures([runyard.open_run(run_dir)], tmp_path / "f", palette=PALETTE)
    assert [p.name for p in done.written] == ["loss_curves.png", "lr_schedule.png"]
    assert_run_colours(pixels(done.written[0]), 1)


def test_legend_names_are_the_shortest_that_tell_runs_apart(tmp_path):
    root = tmp_path / "runs"
    for name in ("lr-ablation-0.001", "lr-ablation-0.003", "lr-ablation-0.003"):
        with runyard.init(name, root=root, console=False, system_metrics=False) as run:
            run.log({"loss": 1.0}, step=0)
    views = [runyard.open_run(p) for p in sorted(root.iterdir())]
    assert run_labels(views) == ["0.001", "0.003", "0.003#2"]


def test_plot_png_draws_what_the_terminal_plot_draws(tmp_path, capsys):
    runs = [str(p) for p in SNAPSHOT_RUNS[1:3]]  # high_lr, nan_probe (with its NaN)
    options = ["-m", "train/loss", "-m", "val/loss", "--smooth", "0.5"]
    assert main(["plot", *runs, *options, "--width", "100", "--height", "20"]) == 0
    terminal = capsys.readouterr().out.splitlines()
    png = tmp_path / "plot.png"
    assert main(["plot", *runs, *options, "--png", str(png)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # the figure went to the file, not the terminal
    notes = [line.removeprefix("note: ") for line in captured.err.splitlines()]
    assert notes and notes == terminal[-len(notes):]  # the same series, y-range and marks: the same notes
    image = pixels(png)
    assert image.shape[:2] == size_of(PLOT_SIZE)
    assert_drawn(image)
    assert_run_colours(image, 4)  # two runs x two metrics: four curves, in the terminal's colour order
    assert count(image, NONFINITE_COLOUR, tolerance=20) >= 3


def test_plot_png_with_json_and_a_log_axis(tmp_path, capsys):
    import json

    png = tmp_path / "logy.png"
    run = FIXTURES / "cases/reading/logy_nonpositive/run"
    assert main(["plot", str(run), "-m", "grad_norm", "--log-y", "--png", str(png), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["series"][0]["metric"] == "grad_norm"
    assert "grad_norm: 3 of 6 values are zero or negative, left out of the log scale" in captured.err
    assert_run_colours(pixels(png), 1)


def test_plot_png_of_a_series_with_nothing_finite(tmp_path, capsys):
    png = tmp_path / "nan.png"
    assert main(["plot", str(FIXTURES / "cases/reading/nonfinite_only/nan_only"), "-m", "loss",
                 "--png", str(png)]) == 0
    assert "loss: nothing finite to draw" in capsys.readouterr().err
    image = pixels(png)
    assert image.shape[:2] == size_of(PLOT_SIZE)
    assert count(image, NONFINITE_COLOUR, tolerance=20) >= 4  # the four NaN, marked on the frame


def test_without_matplotlib_png_is_one_line_and_exit_1(tmp_path, capsys, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails as if not installed
    out = tmp_path / "figs"
    assert main(["export", str(SNAPSHOT_RUNS[0]), "--png", str(out)]) == 1
    assert capsys.readouterr().err.splitlines() == [MISSING]
    assert not out.exists()  # nothing made before failing
    assert main(["plot", str(SNAPSHOT_RUNS[0]), "--png", str(tmp_path / "p.png")]) == 1
    assert capsys.readouterr().err.splitlines() == [MISSING]
    assert main(["export", str(SNAPSHOT_RUNS[0]), "--csv", str(tmp_path / "m.csv")]) == 0  # CSV needs no matplotlib


def test_import_runyard_does_not_load_matplotlib(tmp_path):
    code = ("import sys, runyard\n"
            "runyard.export_figures, runyard.plot_figure, runyard.write_metrics_csv, runyard.FigureCurve\n"
            "print('matplotlib' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=child_env(), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"
