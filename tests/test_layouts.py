"""Every foreign layout opens with the right runs, metrics, points and wallclock times (fixtures made by the
real tools, plus variants made here: other tag names, interrupted logs, restarted runs)."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime
from pathlib import Path

import pytest

import runyard
from runyard.reading.api import UnknownLayout, open_run

FIX = Path(__file__).parent / "fixtures" / "foreign"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def _age(path: Path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _ts(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp()


def test_nanogpt_complete_log():
    run = open_run(FIX / "nanogpt/logs/log_run_20240716_143052.txt")
    df = run.metrics()
    assert run.info.format == "nanogpt" and run.info.status == "finished"
    assert list(df.columns) == ["step", "time", "elapsed", "train_loss", "val_loss"]
    assert len(df) == 12 and df["step"].tolist()[:2] == [2000, 4000] and df["step"].iloc[-1] == 24000
    assert df["time"].iloc[0] == _ts("2024-07-16 14:35:52") and df["elapsed"].iloc[0] == 300.0
    assert run.config["n_layer"] == 12 and run.config["compile"] is True and run.config["dataset"] == "openwebtext"
    assert run.summary["val_loss"].min == pytest.approx(2.7761) and run.summary["val_loss"].min_step == 24000


def test_nanogpt_log_without_footer_is_interrupted_once_quiet(tmp_path):
    log = tmp_path / "log_run_20240717_091511.txt"
    shutil.copy(FIX / "nanogpt/logs/log_run_20240717_091511.txt", log)
    _age(log)
    run = open_run(log)
    assert run.info.status == "interrupted" and len(run.metrics()) == 5
    fresh = tmp_path / "log_run_20991231_000000.txt"
    lines = log.read_text().splitlines()
    now = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    fresh.write_text("\n".join(lines[:20]) + f"\n[{now}] step 2: train loss 1.0, val loss 1.1\n")
    assert open_run(fresh).info.status == "running"


def test_fpn_run_folder():
    folder = FIX / "fpn_compression/checkpoints/fpn_compression/run_20241216_145030_lambda_1.00e-03_lr_5.00e-05_bs_4"
    run = open_run(folder)
    df = run.metrics()
    assert run.info.format == "fpn" and run.info.status == "finished"
    assert set(df.columns) == {"step", "time", "elapsed", "train_loss", "val_loss", "bpp", "lr"}
    assert len(df) == 20 and df["step"].tolist() == list(range(1, 21))
    assert df["time"].iloc[0] == _ts("2024-12-16 14:57:30") and df["lr"].iloc[0] == 5e-05
    assert run.config["folder"] == {"lambda": 1e-3, "lr": 5e-5, "bs": 4}
    assert run.config["training"]["epochs"] == 20 and run.config["command"].startswith("python src/train_")
    best = [c for c in run.checkpoints if c.best]
    assert len(best) == 1 and best[0].step == 20 and best[0].metrics == {"loss": 0.1131}


def test_cs336_folder():
    run = open_run(FIX / "cs336/runs/baseline_17m")
    df = run.metrics()
    assert run.info.format == "cs336" and run.info.status == "finished" and run.info.name == "baseline_17m"
    assert len(df) == 101 and df["step"].iloc[-1] == 5000 and df["time"].iloc[0] == 1711290000.0
    assert df["elapsed"].iloc[1] == 12.5
    assert {"train_loss", "val_loss", "learning_rate", "tokens_per_sec"} <= set(df.columns)
    assert df["val_loss"].notna().sum() == run.summary["val_loss"].count
    ckpts = run.checkpoints
    assert len(ckpts) == 10 and [c.step for c in ckpts if c.best] == [4500]
    assert run.config["d_model"] == 512


def test_plain_text_log_with_default_patterns():
    run = open_run(FIX / "chatgot/runs/archive/train_old.log")
    assert run.info.format == "textlog"
    df = run.metrics()
    assert df["step"].tolist() == [100] and df["val_loss"].tolist() == [3.95]


def test_user_patterns_from_runyard_toml(tmp_path):
    (tmp_path / "runyard.toml").write_text(
        "[[patterns]]\nname = \"mine\"\nregex = 'it=(?P<step>\\d+) acc=(?P<val_acc>[0-9.]+)'\n")
    log = tmp_path / "exp" / "out.log"
    log.parent.mkdir()
    log.write_text("it=1 acc=0.5\nit=2 acc=0.75\nnothing here\n")
    records = runyard.scan(tmp_path)
    assert len(records) == 1
    df = records[0].open().metrics()
    assert df["step"].tolist() == [1, 2] and df["val_acc"].tolist() == [0.5, 0.75]


def test_unknown_layout_and_missing_path_are_clear(tmp_path):
    with pytest.raises(UnknownLayout, match="not a run folder"):
        open_run(tmp_path)
    with pytest.raises(FileNotFoundError):
        open_run(tmp_path / "nope")


def test_runyard_run_opens_with_everything(tmp_path):
    with runyard.init("own", root=tmp_path, config={"lr": 0.1}, console=False, system_metrics=False) as run:
        for s in range(5):
            run.log({"loss": 5.0 - s, "acc": s / 10}, step=s)
        run.log({"loss": float("nan")}, step=5)
        run.log_sample("text", step=5)
        run.add_checkpoint(__file__, step=5, metrics={"loss": 1.0}, best=("loss", "min"))
    view = open_run(run.path)
    df = view.metrics()
    assert view.info.status == "finished" and view.info.id == run.id and view.config == {"lr": 0.1}
    assert df["step"].tolist() == [0, 1, 2, 3, 4, 5] and (df["elapsed"] >= 0).all()
    loss = view.summary["loss"]
    assert loss.count == 6 and loss.min == 1.0 and loss.min_step == 4 and loss.last != loss.last
    assert view.samples()[0].text == "text" and view.checkpoints[0].best
    assert view.log_path.name == "training.log"
