"""The files a run writes follow the runyard/1 contract; values round-trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import runyard
from runyard.writer.run import read_rows
from tests.conftest import only_run
from tests.contract import check_run_dir


def test_every_file_follows_the_contract(root):
    with runyard.init("contract", config={"lr": 0.1, "model": {"n": 2}}, root=root, tags=["a"], notes="n",
                      console=False) as run:
        for step in range(20):
            run.log({"train/loss": 2.0 - step * 0.05, "lr": 0.1}, step=step)
        run.log({"val/loss": 1.5}, step=19)
        run.log_sample("some text", prompt="so", temperature=0.8)
        run.logger.info("a line from the script")
        run.save_checkpoint({"w": torch.ones(2)}, step=19, metrics={"val/loss": 1.5}, best=("val/loss", "min"))
    info = check_run_dir(run.path)
    assert info["status"] == "finished" and info["tags"] == ["a"] and info["notes"] == "n"
    assert run.path.parent == root and run.path.name.startswith("contract_")
    rows = read_rows(run.path / "metrics.jsonl")
    assert [r["step"] for r in rows if "train/loss" in r] == list(range(20))
    summary = json.loads((run.path / "summary.json").read_text())
    loss = summary["metrics"]["train/loss"]
    assert loss["first"] == 2.0 and loss["min"] == pytest.approx(1.05) and loss["min_step"] == 19
    assert loss["max_step"] == 0 and loss["count"] == 20 and loss["mean"] == pytest.approx(1.525)
    assert summary["best_checkpoint"]["file"] == "checkpoints/step_00000019.pt"
    sample = json.loads((run.path / "samples.jsonl").read_text())
    assert sample == {"step": 19, "time": sample["time"], "text": "some text", "prompt": "so", "temperature": 0.8}
    log = (run.path / "training.log").read_text()
    assert "a line from the script" in log and "lr: 0.1" in log


def test_run_json_records_the_environment(root):
    with runyard.init("env", root=root, console=False) as run:
        pass
    info = json.loads((run.path / "run.json").read_text())
    assert info["pid"] > 0 and info["host"] and info["cwd"]
    assert info["env"]["python"].count(".") == 2 and info["env"]["torch"] == torch.__version__
    assert info["hardware"]["cpu_count"] >= 1 and info["world_size"] == 1
    assert info["git"] is None or set(info["git"]) == {"commit", "branch", "dirty"}


def test_non_finite_values_round_trip(root):
    with runyard.init("nonfinite", root=root, console=False) as run:
        run.log({"a": math.nan, "b": math.inf, "c": -math.inf, "d": 1.0})
        run.log({"a": 2.0, "b": 3.0, "c": 4.0, "d": math.nan})
    (first, second) = read_rows(run.path / "metrics.jsonl")[:2]
    assert math.isnan(first["a"]) and first["b"] == math.inf and first["c"] == -math.inf
    assert math.isnan(second["d"])
    raw = (run.path / "metrics.jsonl").read_text().splitlines()[0]
    assert '"a":"nan"' in raw and '"b":"inf"' in raw and '"c":"-inf"' in raw
    summary = json.loads((run.path / "summary.json").read_text())["metrics"]
    assert summary["a"]["first"] == "nan" and summary["a"]["min"] == 2.0 and summary["a"]["nonfinite"] == 1
    check_run_dir(run.path)


def test_torch_and_numpy_scalars_become_plain_numbers(root):
    with runyard.init("scalars", root=root, console=False) as run:
        run.log({"t": torch.tensor(1.5), "n": np.float32(2.5), "i": np.int64(3), "b": True},
                step=torch.tensor(7))
        with pytest.raises(TypeError, match="metric 'bad'"):
            run.log({"bad": "text"})
        with pytest.raises(TypeError, match="metric 'vec'"):
            run.log({"vec": torch.ones(3)})
        with pytest.raises(ValueError, match="reserved"):
            run.log({"step": 1.0})
    rows = read_rows(run.path / "metrics.jsonl")
    assert rows[0] == {"step": 7, "time": rows[0]["time"], "t": 1.5, "n": 2.5, "i": 3, "b": 1}
    assert len(rows) == 1, "a rejected row must not be written"


def test_steps_auto_increment_and_times_increase(root):
    with runyard.init("steps", root=root, console=False) as run:
        for _ in range(5):
            run.log({"x": 1.0})
        run.log({"x": 2.0}, step=100)
        run.log({"x": 3.0})
    steps = [r["step"] for r in read_rows(run.path / "metrics.jsonl")]
    assert steps == [0, 1, 2, 3, 4, 100, 101]
    check_run_dir(run.path)


def test_log_after_finish_is_a_clear_error(root):
    run = runyard.init("late", root=root, console=False)
    run.finish()
    run.finish()  # idempotent
    with pytest.raises(runyard.RunError, match="has ended"):
        run.log({"x": 1})


def test_checkpoint_retention_keeps_the_best(root):
    with runyard.init("ckpt", root=root, console=False) as run:
        for step, val in [(1, 3.0), (2, 1.0), (3, 2.0), (4, 2.5), (5, 2.2)]:
            run.save_checkpoint({"s": step}, step=step, metrics={"val/loss": val}, best=("val/loss", "min"),
                                keep_last=2)
    files = sorted(p.name for p in (run.path / "checkpoints").glob("*.pt"))
    assert files == ["step_00000002.pt", "step_00000004.pt", "step_00000005.pt"]
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["best_checkpoint"] == {"file": "checkpoints/step_00000002.pt", "step": 2,
                                          "metric": "val/loss", "mode": "min", "value": 1.0}
    index = [json.loads(x) for x in (run.path / "checkpoints/index.jsonl").read_text().splitlines()]
    assert [r["file"] for r in index if r.get("_event") == "delete"] == [
        "checkpoints/step_00000001.pt", "checkpoints/step_00000003.pt"]
    check_run_dir(run.path)


def test_add_checkpoint_registers_an_existing_file(root, tmp_path):
    outside = tmp_path / "model.bin"
    outside.write_bytes(b"x" * 100)
    with runyard.init("added", root=root, console=False) as run:
        run.add_checkpoint(outside, step=3, metrics={"acc": 0.9}, best=("acc", "max"))
        with pytest.raises(runyard.RunError, match="not found"):
            run.add_checkpoint(tmp_path / "missing.bin", step=4)
    rec = json.loads((run.path / "checkpoints/index.jsonl").read_text())
    assert rec["file"] == str(outside.resolve()) and rec["bytes"] == 100 and rec["is_best"] is True


def test_system_metrics_are_sampled(root):
    with runyard.init("sys", root=root, console=False, heartbeat_interval=0.05) as run:
        run.log({"x": 1.0})
        import time

        time.sleep(0.4)
    names = {k for r in read_rows(run.path / "metrics.jsonl") for k in r}
    assert {"sys/cpu_percent", "sys/rss_mb"} <= names
    info = json.loads((run.path / "run.json").read_text())
    assert info["heartbeat"] >= info["created"]


def test_system_metrics_can_be_turned_off(root):
    with runyard.init("nosys", root=root, console=False, heartbeat_interval=0.05, system_metrics=False) as run:
        import time

        time.sleep(0.2)
    assert (run.path / "metrics.jsonl").read_text() == ""


def test_tensorboard_mirror_is_readable_by_tensorboard(root):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util.tensor_util import make_ndarray

    with runyard.init("tb", root=root, console=False, tensorboard=True, system_metrics=False) as run:
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.log_sample("generated", step=2)
    (events,) = run.path.glob("events.out.tfevents.*")
    scalars, texts = [], []
    for event in EventFileLoader(str(events)).Load():
        for value in event.summary.value:
            if value.HasField("metadata") and value.metadata.plugin_data.plugin_name == "text":
                texts.append(value.tensor.string_val[0].decode())
            elif value.tag == "loss":
                scalars.append((event.step, round(float(make_ndarray(value.tensor)), 4)))
    assert scalars == [(0, 1.0), (1, 0.5), (2, 0.3333)] and texts == ["generated"]


def test_name_defaults_to_the_config_file_stem(root, tmp_path):
    cfg = tmp_path / "my_experiment.yaml"
    cfg.write_text("lr: 0.1\n")
    with runyard.init(config=cfg, root=root, console=False) as run:
        pass
    assert run.name == "my_experiment" and only_run(root).name.startswith("my_experiment_")
    assert json.loads((run.path / "run.json").read_text())["config_file"] == str(cfg)
