"""The W&B offline reader: the real tool's two runs in fixtures/foreign/wandb_offline, plus damaged, unfinished and
synthetic logs made here with wandb's own record classes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runyard.errors import TrackerError
from runyard.layouts.wandb import MISSING_WANDB, WandbRun, detect
from runyard.liveness import derive_status
from runyard.reading.records import settle_status

from .conftest import PROJECT, child_env
from .wandblog import assemble, chunks, frame_log

FIXTURE = Path(__file__).parent / "fixtures" / "foreign" / "wandb_offline" / "wandb"
RUN_A = FIXTURE / "offline-run-20261122_145303-l1kbyplv"
RUN_B = FIXTURE / "offline-run-20261122_145303-lssbftrw"
METRICS = ["train/loss", "train/learning_rate", "epoch", "val/loss", "val/perplexity", "train/gradient_norm",
           "train/step_time"]
LONG_AGO = time.time() - 3600  # older than the 10 minutes after which a run without exit record is crashed

EXPECTED: dict[Path, dict[str, Any]] = {
    RUN_A: {
        "id": "l1kbyplv", "name": "transformer-training", "created": 1795359183.233696,
        "first_time": 1795359183.572458, "last_time": 1795359183.6835244,
        "config": {"model": {"num_layers": 4, "d_model": 256, "num_heads": 8},
                   "training": {"learning_rate": 0.0001, "batch_size": 32, "num_epochs": 2}},
        "first_loss": 4.092602763830212, "last_loss": 1.2625614074529417,
        "summary": {"_runtime": 0.449857316, "_step": 399, "_timestamp": 1795359183.6835244, "epoch": 1,
                    "final_val_loss": 1.6, "train/gradient_norm": 0.784076960341856,
                    "train/learning_rate": 0.0001, "train/loss": 1.2625614074529417,
                    "train/step_time": 0.05332026507466831, "val/loss": 1.536118408550721,
                    "val/perplexity": 4.646519331968249},
    },
    RUN_B: {
        "id": "lssbftrw", "name": "lr-ablation-0.001", "created": 1795359183.698269,
        "first_time": 1795359183.87111, "last_time": 1795359184.0521991,
        "config": {"model": {"num_layers": 6, "d_model": 256, "num_heads": 8},
                   "training": {"learning_rate": 0.001, "batch_size": 32, "num_epochs": 2}},
        "first_loss": 4.295291261130099, "last_loss": 1.3286968827207988,
        "summary": {"_runtime": 0.354565108, "_step": 399, "_timestamp": 1795359184.0521991, "epoch": 1,
                    "final_val_loss": 1.6, "train/gradient_norm": 1.0281674217396695,
                    "train/learning_rate": 0.001, "train/loss": 1.3286968827207988,
                    "train/step_time": 0.051528180075267924, "val/loss": 1.5449227581954574,
                    "val/perplexity": 4.687609533618452},
    },
}


@pytest.fixture
def pb() -> Any:
    """wandb's record classes; tests that read a log skip when wandb is not installed."""
    return pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb is not installed")


@pytest.fixture
def no_wandb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Makes every import of wandb fail as if the package were not installed."""
    for name in ("wandb", "wandb.proto", "wandb.proto.wandb_internal_pb2"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr("runyard.layouts.wandb._PB2", [])  # the record classes as if never loaded


def open_run(folder: Path) -> WandbRun:
    """The one run `detect` finds in a run folder."""
    found = detect(folder, [p.name for p in folder.iterdir()])
    assert found is not None and len(found.runs) == 1
    run = found.runs[0]
    assert isinstance(run, WandbRun)
    return run


def copy_run(src: Path, tmp_path: Path) -> Path:
    """A copy of a fixture run folder under tmp_path/wandb, to damage or age."""
    dst = tmp_path / "wandb" / src.name
    shutil.copytree(src, dst)
    return dst


def write_run(tmp_path: Path, records: list[Any], run_id: str = "abc123") -> Path:
    """A run folder `offline-run-<stamp>-<id>` whose log holds the given records."""
    folder = tmp_path / "wandb" / f"offline-run-20260101_000000-{run_id}"
    folder.mkdir(parents=True)
    (folder / f"run-{run_id}.wandb").write_bytes(frame_log([r.SerializeToString() for r in records]))
    return folder


def run_record(pb: Any, **fields: Any) -> Any:
    """A run record with the given fields, start time 1_700_000_000."""
    record = pb.Record()
    record.run.start_time.seconds = 1_700_000_000
    for key, value in fields.items():
        if key == "tags":
            record.run.tags.extend(value)
        else:
            setattr(record.run, key, value)
    return record


def history_record(pb: Any, step: int, values: dict[str, Any]) -> Any:
    """A history record as the SDK writes it: one JSON item per key, plus `_step` and `_timestamp`."""
    record = pb.Record()
    record.history.step.num = step
    for key, value in {**values, "_step": step, "_timestamp": 1_700_000_000.0 + step}.items():
        item = record.history.item.add()
        item.nested_key.append(key)
        item.value_json = json.dumps(value)
    return record


def exit_record(pb: Any, code: int) -> Any:
    """An exit record with the given exit code."""
    record = pb.Record()
    record.exit.exit_code = code
    return record


# --- detection (names only: works without wandb) ---


def test_detect_finds_exactly_the_two_runs_in_the_wandb_folder() -> None:
    found = {}
    for folder in [FIXTURE, *FIXTURE.rglob("*")]:
        if folder.is_dir() and (d := detect(folder, [p.name for p in folder.iterdir()])):
            assert d.descend is False
            found.update({run.path: run for run in d.runs})
    assert set(found) == {RUN_A, RUN_B}
    assert found[RUN_A].key_files() == [RUN_A / "run-l1kbyplv.wandb"]
    assert found[RUN_B].key_files() == [RUN_B / "run-lssbftrw.wandb"]


def test_detect_ignores_the_wandb_folder_and_its_other_files() -> None:
    names = [p.name for p in FIXTURE.iterdir()]
    assert {"debug-cli.root.log", ".wandb-leet.json"} <= set(names)
    assert detect(FIXTURE, names) is None


def test_detect_needs_a_run_folder_name_and_a_run_log(tmp_path: Path) -> None:
    assert detect(tmp_path / "offline-run-20260101_000000-abc", ["files", "logs"]) is None
    assert detect(tmp_path / "results", ["run-abc.wandb"]) is None
    assert detect(tmp_path / "latest-run", ["run-abc.wandb"]) is None
    online = detect(tmp_path / "run-20260101_000000-abc", ["run-abc.wandb", "files"])
    assert online is not None and len(online.runs) == 1
    assert online.runs[0].key_files() == [tmp_path / "run-20260101_000000-abc" / "run-abc.wandb"]


def test_detect_works_without_wandb(no_wandb: None) -> None:
    assert open_run(RUN_A).path == RUN_A


def test_reading_without_wandb_raises_one_clear_tracker_error(no_wandb: None) -> None:
    run = open_run(RUN_A)
    with pytest.raises(TrackerError) as excinfo:
        run.read_info()
    assert str(excinfo.value) == MISSING_WANDB
    assert str(excinfo.value) == "reading W&B offline runs needs the wandb package: pip install 'runyard[wandb]'"


def test_the_record_classes_load_without_the_sdk_and_wandb_imports_as_usual_after() -> None:
    """The reader loads wandb's record classes without running the SDK's import (a second, not a tenth of
    one), and leaves no trace of that: `import wandb` afterwards is the real package, reading with the same
    classes."""
    code = """
import sys
from runyard.layouts import wandb as layout
Record = layout._pb2().Record
assert not [name for name in sys.modules if name == "wandb" or name.startswith("wandb.")], "left behind"
import wandb
from wandb.proto import wandb_internal_pb2
assert hasattr(wandb, "init") and wandb_internal_pb2.Record is Record
record = Record()
record.history.item.add(key="loss", value_json="0.5")
assert wandb_internal_pb2.Record.FromString(record.SerializeToString()).history.item[0].value_json == "0.5"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, env=child_env(),
                         check=False)
    assert out.stdout.strip() == "ok", out.stderr


# --- the real tool's runs ---


@pytest.mark.parametrize("folder", [RUN_A, RUN_B], ids=["l1kbyplv", "lssbftrw"])
def test_fixture_run_info(pb: Any, folder: Path) -> None:
    want = EXPECTED[folder]
    info = open_run(folder).read_info()
    assert (info.id, info.name, info.path, info.format) == (want["id"], want["name"], folder, "wandb")
    assert info.status == "finished"
    assert info.tags == ["transformer", "language-model", "cs336"]
    assert info.notes == "Training transformer language model on custom dataset"
    assert info.host == "gpu-node-01"
    assert info.created == pytest.approx(want["created"])
    assert info.ended == pytest.approx(want["last_time"])
    assert info.last_write == (folder / f"run-{want['id']}.wandb").stat().st_mtime
    assert (info.rows, info.last_step) == (400, 399)
    assert 0 < info.interval_median < 1
    assert (info.error, info.skipped_lines) == (None, 0)
    assert info.extra["project"] == "cs336-basics" and info.extra["exit_code"] == 0
    assert info.extra["wandb_summary"] == want["summary"]


@pytest.mark.parametrize("folder", [RUN_A, RUN_B], ids=["l1kbyplv", "lssbftrw"])
def test_fixture_config_and_summary(pb: Any, folder: Path) -> None:
    run = open_run(folder)
    assert run.config() == EXPECTED[folder]["config"]
    assert run.wandb_summary() == EXPECTED[folder]["summary"]


@pytest.mark.parametrize("folder", [RUN_A, RUN_B], ids=["l1kbyplv", "lssbftrw"])
def test_fixture_metrics(pb: Any, folder: Path) -> None:
    want = EXPECTED[folder]
    df = open_run(folder).metrics()
    assert list(df.columns[:2]) == ["step", "time"] and sorted(df.columns[2:]) == sorted(METRICS)  # file order
    assert str(df["step"].dtype) == "int64" and all(str(df[c].dtype) == "float64" for c in df.columns[1:])
    assert len(df) == 400 and df["step"].tolist() == list(range(400))
    assert df["time"].iloc[0] == pytest.approx(want["first_time"])
    assert df["time"].iloc[-1] == pytest.approx(want["last_time"])
    assert df["time"].is_monotonic_increasing and df["time"].diff().iloc[1:].gt(0).all()
    assert want["created"] <= df["time"].iloc[0] < want["created"] + 60
    assert df.loc[df["val/loss"].notna(), "step"].tolist() == list(range(0, 400, 50))
    assert df[[m for m in METRICS if not m.startswith("val/")]].notna().all().all()
    assert df["train/loss"].iloc[0] == pytest.approx(want["first_loss"])
    assert df["train/loss"].iloc[-1] == pytest.approx(want["last_loss"])
    assert sorted(df["epoch"].unique()) == [0.0, 1.0]


def test_fixture_has_no_console_log_but_a_copy_with_one_does(pb: Any, tmp_path: Path) -> None:
    assert open_run(RUN_A).log_path() is None
    folder = copy_run(RUN_A, tmp_path)
    (folder / "files" / "output.log").write_text("epoch 1\n")
    assert open_run(folder).log_path() == folder / "files" / "output.log"


def test_framing_written_here_matches_the_real_file_byte_for_byte(pb: Any) -> None:

    data = (RUN_A / "run-l1kbyplv.wandb").read_bytes()
    frames = assemble(chunks(data))
    assert len(frames.records) == 1210 and (frames.damaged, frames.cut) == (0, False)
    assert frame_log(frames.records) == data


# --- damaged and unfinished logs ---


def test_truncated_copy_reads_the_complete_part(pb: Any, tmp_path: Path) -> None:
    folder = copy_run(RUN_A, tmp_path)
    log = folder / "run-l1kbyplv.wandb"
    log.write_bytes(log.read_bytes()[: log.stat().st_size // 2 + 3])
    run = open_run(folder)
    info = run.read_info()
    assert info.status == "running" and info.error is None
    assert 100 < info.rows < 400 and info.skipped_lines == 0  # the cut record may still be being written
    assert run.metrics()["step"].tolist() == list(range(info.rows))
    assert run.config() == EXPECTED[RUN_A]["config"]

    os.utime(log, (LONG_AGO, LONG_AGO))
    info = run.read_info()
    settle_status(info)  # the status as of now, from the facts the layout read
    assert info.status == "crashed" and info.skipped_lines == 1  # given up: the cut record is lost
    assert info.ended == pytest.approx(run.metrics()["time"].iloc[-1])


def test_damaged_block_is_skipped_and_counted(pb: Any, tmp_path: Path) -> None:
    folder = copy_run(RUN_A, tmp_path)
    log = folder / "run-l1kbyplv.wandb"
    data = bytearray(log.read_bytes())
    data[40_000:40_040] = bytes(range(1, 41))
    log.write_bytes(bytes(data))
    run = open_run(folder)
    info = run.read_info()
    assert info.skipped_lines >= 1 and info.error is None
    assert 300 < info.rows < 400 and info.last_step == 399
    assert info.status == "finished"
    assert run.metrics()["step"].is_monotonic_increasing


def test_garbage_file_is_an_error_not_an_exception(pb: Any, tmp_path: Path) -> None:
    folder = tmp_path / "wandb" / "offline-run-20260101_000000-junk"
    folder.mkdir(parents=True)
    (folder / "run-junk.wandb").write_bytes(b"this is not a transaction log\x00\xff" * 100)
    run = open_run(folder)
    info = run.read_info()
    assert info.error == "run-junk.wandb is not a W&B transaction log (bad header)"
    assert (info.id, info.name, info.rows, info.last_step) == ("junk", "junk", 0, None)
    assert list(run.metrics().columns) == ["step", "time"] and run.config() == {}


def test_log_with_a_good_header_and_only_damage_is_an_error(pb: Any, tmp_path: Path) -> None:
    folder = tmp_path / "wandb" / "offline-run-20260101_000000-bad"
    folder.mkdir(parents=True)
    (folder / "run-bad.wandb").write_bytes(frame_log([b""])[:7] + b"\xff" * 5000)
    info = open_run(folder).read_info()
    assert info.error == "no readable record in run-bad.wandb (1 damaged)"
    assert info.skipped_lines == 1


def test_header_only_log_is_a_run_just_started(pb: Any, tmp_path: Path) -> None:
    folder = write_run(tmp_path, [])
    info = open_run(folder).read_info()
    assert (info.status, info.rows, info.error, info.skipped_lines) == ("running", 0, None, 0)


def test_no_exit_record_is_running_until_the_log_is_ten_minutes_old(pb: Any, tmp_path: Path) -> None:
    folder = write_run(tmp_path, [run_record(pb, run_id="abc123"), history_record(pb, 0, {"loss": 1.0}),
                                  history_record(pb, 1, {"loss": 0.5})])
    run = open_run(folder)
    info = run.read_info()
    assert (info.status, info.ended) == ("running", None)
    assert derive_status(info, now=info.last_write + 599) != "crashed"  # a cached listing turns crashed on time too
    assert derive_status(info, now=info.last_write + 601) == "crashed"
    os.utime(folder / "run-abc123.wandb", (LONG_AGO, LONG_AGO))
    info = run.read_info()
    settle_status(info)
    assert (info.status, info.skipped_lines) == ("crashed", 0)
    assert info.ended == 1_700_000_001.0


# --- synthetic logs: what the fixtures do not show ---


@pytest.mark.parametrize(("code", "status"), [(0, "finished"), (1, "failed"), (254, "crashed")])
def test_exit_code_gives_the_status(pb: Any, tmp_path: Path, code: int, status: str) -> None:
    folder = write_run(tmp_path, [run_record(pb, run_id="abc123"), exit_record(pb, code)])
    info = open_run(folder).read_info()
    assert (info.status, info.extra["exit_code"]) == (status, code)


def test_name_falls_back_to_the_id_and_later_run_records_override(pb: Any, tmp_path: Path) -> None:
    first = run_record(pb, run_id="abc123", tags=["a"], notes="first")
    later = run_record(pb, run_id="abc123", display_name="renamed", tags=["b", "c"])
    run = open_run(write_run(tmp_path, [first]))
    assert run.read_info().name == "abc123"
    info = open_run(write_run(tmp_path / "2", [first, later])).read_info()
    assert (info.name, info.tags, info.notes) == ("renamed", ["b", "c"], "first")


def test_config_records_update_and_remove_nested_keys(pb: Any, tmp_path: Path) -> None:
    record = pb.Record()
    for path, value in ((["_wandb"], {}), (["opt"], {"lr": 0.1, "betas": [0.9, 0.95]}), (["seed"], 1)):
        item = record.config.update.add()
        item.nested_key.extend(path)
        item.value_json = json.dumps(value)
    change = pb.Record()
    item = change.config.update.add()
    item.nested_key.extend(["opt", "lr"])
    item.value_json = "0.01"
    change.config.remove.add().key = "seed"
    run = open_run(write_run(tmp_path, [record, change]))
    assert run.config() == {"opt": {"lr": 0.01, "betas": [0.9, 0.95]}}


def test_history_keeps_numbers_only_and_flattens_nested_dicts(pb: Any, tmp_path: Path) -> None:
    row = history_record(pb, 0, {"loss": 2.0, "flag": True, "note": "hi", "nan": float("nan"), "time": 3.0,
                                 "big": 10**400, "val": {"acc": 0.5, "top5": 0.9},
                                 "img": {"_type": "image-file", "w": 8}})
    typed = history_record(pb, 1, {})
    for key, field, value in (("loss", "number", 1.5), ("count", "integer", 7), ("text", "text", "x")):
        item = typed.history.item.add()
        item.nested_key.append(key)
        setattr(item, field, value)
    df = open_run(write_run(tmp_path, [row, typed])).metrics()
    # a user key `time` is a metric, read as `time_`: the row's time stays W&B's own `_timestamp`
    assert list(df.columns) == ["step", "time", "loss", "nan", "time_", "val.acc", "val.top5", "count"]
    assert df["time"].tolist() == [1_700_000_000.0, 1_700_000_001.0] and df["time_"].iloc[0] == 3.0
    assert df["loss"].tolist() == [2.0, 1.5] and df["count"].iloc[1] == 7.0
    assert df["nan"].isna().all() and df["val.acc"].iloc[0] == 0.5


def test_records_spanning_blocks_are_joined(pb: Any, tmp_path: Path) -> None:
    big = run_record(pb, run_id="abc123", notes="n" * 100_000)
    rows = [history_record(pb, step, {"loss": float(step)}) for step in range(2000)]
    run = open_run(write_run(tmp_path, [big, *rows, exit_record(pb, 0)]))
    info = run.read_info()
    assert (len(info.notes), info.rows, info.status, info.skipped_lines) == (100_000, 2000, "finished", 0)
    assert run.metrics()["loss"].tolist() == [float(s) for s in range(2000)]
