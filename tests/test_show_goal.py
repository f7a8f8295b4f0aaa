"""`runyard show` says which way each metric is better and whether that was declared or only guessed."""

from __future__ import annotations

import runyard
from runyard.tui.cli import main


def test_show_marks_guessed_directions_and_names_the_best_checkpoint_rule(tmp_path, capsys):
    root = tmp_path / "runs"
    with runyard.init("goals", root=root, console=False, system_metrics=False) as run:
        run.define_metric("val/margin", goal="max")
        for step, (margin, loss) in enumerate([(0.1, 3.0), (0.4, 2.0), (0.3, 2.5)]):
            run.log({"val/margin": margin, "train/loss": loss}, step=step)
            run.add_checkpoint(_touch(run.path / f"ck{step}.bin"), step=step, metrics={"val/margin": margin},
                               best=("val/margin", "max"))
    assert main(["show", str(run.path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ ")}
    assert "max" in rows["val/margin"] and "guessed" not in rows["val/margin"]
    assert "min (guessed)" in rows["train/loss"]
    assert "best by val/margin, max" in out


def _touch(path):
    path.write_bytes(b"x")
    return path
