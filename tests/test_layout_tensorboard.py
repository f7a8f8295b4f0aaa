"""The TensorBoard layout reader: ChatGoT's fixture, and event files written here by torch's SummaryWriter."""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from runyard.layouts import tensorboard as tb
from runyard.liveness import derive_status
from runyard.model import FINISHED, RUNNING

CHATGOT = Path(__file__).parent / "fixtures" / "foreign" / "chatgot"
RUN_A = "chatgot_small_char_20250324_134501"
RUN_B = "chatgot_small_char_20250325_091500"
CHATGOT_TAGS = ["Loss/train", "Throughput/tokens_per_sec", "LR", "Loss/val", "hparam/final_val_loss"]
CHATGOT_CONFIG_A = {"lr": 0.0003, "batch_size": 64, "n_layer": 6, "n_embd": 384, "block_size": 256}


def source(folder: Path) -> tb.TensorBoardRun:
    """The one run `detect` finds in `folder`."""
    detection = tb.detect(folder, os.listdir(folder))
    assert detection is not None and detection.descend
    assert len(detection.runs) == 1
    return detection.runs[0]


def writer(folder: Path, **kwargs):
    """A torch SummaryWriter on `folder`."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(folder), **kwargs)


def loader_points(files: list[Path]) -> dict[str, list[tuple[int, float, float]]]:
    """(step, wall_time, value) per scalar tag, as tensorboard's own EventFileLoader reads the files."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.util import tensor_util

    points: dict[str, list[tuple[int, float, float]]] = {}
    for path in files:
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.WhichOneof("value") == "simple_value":
                    number = value.simple_value
                elif value.metadata.plugin_data.plugin_name == "scalars":
                    number = float(tensor_util.make_ndarray(value.tensor))
                else:
                    continue
                points.setdefault(value.tag, []).append((event.step, event.wall_time, number))
    return points


def reader_points(run: tb.TensorBoardRun) -> dict[str, list[tuple[int, float, float]]]:
    """(step, wall_time, value) per metric column of the reader's frame."""
    df = run.metrics()
    points = {}
    for tag in df.columns[2:]:
        rows = df[df[tag].notna()]
        points[tag] = list(zip(rows["step"].tolist(), rows["time"].tolist(), rows[tag].tolist(), strict=True))
    return points


def event_file(folder: Path) -> Path:
    """The only event file in `folder`."""
    (path,) = folder.glob("events.out.tfevents.*")
    return path


def write_scalars(folder: Path, steps: range, tag: str = "loss") -> Path:
    """A run of one scalar tag over `steps`; returns its event file."""
    with writer(folder) as w:
        for step in steps:
            w.add_scalar(tag, 1.0 / (step + 1), step)
    return event_file(folder)


# --- the ChatGoT fixture -------------------------------------------------------------------------------------


def test_detect_finds_one_run_per_event_folder_of_the_fixture():
    runs_dir = CHATGOT / "runs"
    found = {}
    for folder in sorted(p for p in runs_dir.iterdir() if p.is_dir()):
        detection = tb.detect(folder, os.listdir(folder))
        if detection:
            found.update({run.path.name: run for run in detection.runs})
    assert sorted(found) == [RUN_A, RUN_B]
    assert tb.detect(runs_dir, os.listdir(runs_dir)) is None
    assert tb.detect(runs_dir / "archive", os.listdir(runs_dir / "archive")) is None


@pytest.mark.parametrize("name", [RUN_A, RUN_B])
def test_fixture_scalars_match_tensorboards_own_loader(name):
    run = source(CHATGOT / "runs" / name)
    df = run.metrics()
    assert list(df.columns) == ["step", "time", *CHATGOT_TAGS]
    assert df["step"].dtype == np.int64
    assert all(df[c].dtype == np.float64 for c in df.columns[1:])
    counts = df[CHATGOT_TAGS].notna().sum().to_dict()
    assert counts == {"Loss/train": 301, "Throughput/tokens_per_sec": 301, "LR": 301, "Loss/val": 13,
                      "hparam/final_val_loss": 1}
    train = df[df["Loss/train"].notna()]
    assert (train["step"].iloc[0], train["step"].iloc[-1]) == (0, 3000)
    val = df[df["Loss/val"].notna()]
    assert (val["step"].iloc[0], val["step"].iloc[-1]) == (0, 3000)
    assert reader_points(run) == loader_points(run.event_files())


def test_fixture_samples_are_the_text_summaries():
    samples = source(CHATGOT / "runs" / RUN_A).samples()
    assert [s.step for s in samples] == [1000, 2000, 3000]
    assert {s.text for s in samples} == {"ROMEO: What light through yonder window breaks"}
    assert all(s.extra == {"tag": "samples"} for s in samples)  # add_text("samples", ...): the name given
    assert [s.time for s in samples] == [1742824111.0, 1742824321.0, 1742824531.0]


def test_fixture_config_comes_from_hparams():
    assert source(CHATGOT / "runs" / RUN_A).config() == CHATGOT_CONFIG_A
    assert source(CHATGOT / "runs" / RUN_B).config()["lr"] == 0.001


def test_config_falls_back_to_the_training_log_config_line(tmp_path):
    folder = tmp_path / "runs" / RUN_A
    shutil.copytree(CHATGOT / "runs" / RUN_A, folder)
    for path in folder.glob("events.out.tfevents.*"):
        if path.stat().st_size < 1000:  # the hparams writer's file
            path.unlink()
    assert source(folder).config() == CHATGOT_CONFIG_A
    (folder / "training.log").unlink()
    assert source(folder).config() == {}


def test_fixture_checkpoints_match_the_run_name_only():
    checkpoints = source(CHATGOT / "runs" / RUN_A).checkpoints()
    assert [c.path.name for c in checkpoints] == [f"{RUN_A}_epoch_1.pt", f"{RUN_A}_epoch_2.pt", f"{RUN_A}_final.pt"]
    assert [c.metrics for c in checkpoints] == [{"epoch": 1.0}, {"epoch": 2.0}, {}]
    assert [c.step for c in checkpoints] == [None, None, 3000]
    assert all(c.bytes == c.path.stat().st_size for c in checkpoints)
    assert not any(c.best for c in checkpoints)
    other = source(CHATGOT / "runs" / RUN_B).checkpoints()
    assert len(other) == 3 and all(c.path.name.startswith(RUN_B) for c in other)


def test_checkpoints_of_a_run_whose_name_extends_this_ones_are_not_matched(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    for name in ("exp_epoch_1.pt", "exp_final.pt", "exp_2_epoch_1.pt", "exp_2_final.pt", "exp_notes.txt"):
        (models / name).write_bytes(b"x" * 10)
    write_scalars(tmp_path / "runs" / "exp", range(3))
    checkpoints = source(tmp_path / "runs" / "exp").checkpoints()
    assert [c.path.name for c in checkpoints] == ["exp_epoch_1.pt", "exp_final.pt"]
    assert checkpoints[-1].step == 2


def test_fixture_info_key_files_and_log():
    folder = CHATGOT / "runs" / RUN_A
    run = source(folder)
    info = run.read_info()
    assert (info.id, info.name, info.path, info.format) == (RUN_A, RUN_A, folder, "tensorboard")
    assert info.status == FINISHED
    assert info.created == 1742823901.0  # 2025-03-24 13:45:01 UTC, the log's first line
    assert (info.rows, info.last_step, info.skipped_lines) == (917, 3000, 0)
    assert info.interval_median == pytest.approx(2.1)  # 52.5 s per 250 steps, scalars every 10 steps
    assert info.last_write == max(p.stat().st_mtime for p in run.event_files())
    assert run.log_path() == folder / "training.log"
    assert run.key_files() == [*sorted(folder.glob("events.out.tfevents.*")), folder / "training.log"]


# --- event files written here ----------------------------------------------------------------------------------


def test_simple_and_tensor_scalars_of_any_tag_match_the_loader(tmp_path):
    with writer(tmp_path) as w:
        for step in range(0, 50, 5):
            w.add_scalar("train/loss", 2.0 - step / 100, step)
            w.add_scalar("eval/acc", step / 100, step, new_style=True)
            w.add_scalar("lr", 1e-3 * 0.9 ** step, step, new_style=True, double_precision=True)
    run = source(tmp_path)
    df = run.metrics()
    assert list(df.columns) == ["step", "time", "train/loss", "eval/acc", "lr"]
    assert len(df) == 30 and df["lr"].notna().sum() == 10
    assert df["lr"].dropna().iloc[-1] == 1e-3 * 0.9 ** 45  # a double tensor keeps its precision
    assert reader_points(run) == loader_points([event_file(tmp_path)])


def test_tensor_scalars_with_metadata_on_the_first_value_only_and_tensor_content(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    meta = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    values = [
        summary_pb2.Summary.Value(tag="x", metadata=meta, tensor=tensor_pb2.TensorProto(dtype=2, double_val=[0.5])),
        summary_pb2.Summary.Value(tag="x", tensor=tensor_pb2.TensorProto(dtype=1, float_val=[1.5])),
        summary_pb2.Summary.Value(tag="x", tensor=tensor_pb2.TensorProto(
            dtype=2, tensor_content=np.array([2.5], dtype=np.float64).tobytes())),
    ]
    events = EventFileWriter(str(tmp_path))
    for step, value in enumerate(values):
        events.add_event(event_pb2.Event(wall_time=100.0 + step, step=step, summary=summary_pb2.Summary(value=[value])))
    events.close()
    df = source(tmp_path).metrics()
    assert df.to_dict("list") == {"step": [0, 1, 2], "time": [100.0, 101.0, 102.0], "x": [0.5, 1.5, 2.5]}


def test_a_restarted_run_concatenates_its_event_files_in_order(tmp_path):
    write_scalars(tmp_path, range(10))
    first = event_file(tmp_path)
    time.sleep(0.01)
    with writer(tmp_path, purge_step=5) as w:
        for step in range(5, 15):
            w.add_scalar("loss", 1.0 / (step + 1), step)
    run = source(tmp_path)
    assert len(run.event_files()) == 2
    df = run.metrics()
    # The second file follows the first; its purge step supersedes the first life's steps 5-9.
    assert df["step"].tolist() == list(range(15))
    second = next(p for p in run.event_files() if p != first)
    loaded = loader_points([first, second])["loss"]
    assert reader_points(run)["loss"] == [p for p in loaded[:10] if p[0] < 5] + loaded[10:]
    info = run.read_info()
    assert (info.rows, info.last_step, info.restarts_at) == (15, 14, [5])


def test_event_files_are_ordered_by_the_number_in_their_names_then_by_wall_time(tmp_path):
    write_scalars(tmp_path / "a", range(3))
    write_scalars(tmp_path / "b", range(3, 6))
    write_scalars(tmp_path / "c", range(6, 9))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # "1000" sorts before "999" as text: the name's number decides. Equal numbers: the earlier first event,
    # whatever the rest of the name says.
    shutil.copy(event_file(tmp_path / "c"), run_dir / "events.out.tfevents.1000.host.1.0")
    shutil.copy(event_file(tmp_path / "b"), run_dir / "events.out.tfevents.999.host.1.5")
    shutil.copy(event_file(tmp_path / "a"), run_dir / "events.out.tfevents.999.host.1.9")
    assert source(run_dir).metrics()["step"].tolist() == list(range(9))


def test_text_samples(tmp_path):
    with writer(tmp_path) as w:
        w.add_scalar("loss", 1.0, 0)
        w.add_text("generated", "Once upon a time", 10)
        w.add_text("generated", "héllo wörld", 20)
    samples = source(tmp_path).samples()
    assert [(s.text, s.step, s.extra) for s in samples] == [
        ("Once upon a time", 10, {"tag": "generated"}),
        ("héllo wörld", 20, {"tag": "generated"}),
    ]
    assert all(s.time and s.time > 1e9 for s in samples)


def test_hparams_in_the_run_folder_and_in_torchs_own_subfolder(tmp_path):
    hparams = {"lr": 0.01, "optimizer": "adam", "layers": 4}
    with writer(tmp_path / "same") as w:
        w.add_scalar("loss", 1.0, 0)
        w.add_hparams(hparams, {"hparam/acc": 0.75}, run_name=".")
    run = source(tmp_path / "same")
    assert run.config() == hparams
    assert run.metrics()["hparam/acc"].dropna().tolist() == [0.75]

    with writer(tmp_path / "default") as w:
        w.add_scalar("loss", 1.0, 0)
        w.add_hparams(hparams, {"hparam/acc": 0.5})
    # torch's own subfolder belongs to the run that wrote it; opened by itself, it still reads as what it holds
    assert source(tmp_path / "default").config() == hparams
    (sub,) = [p for p in (tmp_path / "default").iterdir() if p.is_dir()]
    assert source(sub).config() == hparams


def test_a_record_cut_short_ends_the_reading_cleanly(tmp_path):
    data = write_scalars(tmp_path / "whole", range(100)).read_bytes()
    last_record = len(data) - len(write_scalars(tmp_path / "less", range(99)).read_bytes())
    folder = tmp_path / "cut"
    folder.mkdir()
    for cut in range(1, last_record):
        (folder / "events.out.tfevents.1.host").write_bytes(data[:-cut])
        run = source(folder)
        assert run.metrics()["step"].tolist() == list(range(99)), cut
        assert run.read_info().skipped_lines == 0


def test_garbage_is_skipped_and_counted(tmp_path):
    path = write_scalars(tmp_path / "clean", range(20))
    data = path.read_bytes()
    garbage = b"\x00\x01 not a record at all \xff" * 4

    appended = tmp_path / "appended"
    appended.mkdir()
    (appended / path.name).write_bytes(data + garbage)
    run = source(appended)
    assert run.metrics()["step"].tolist() == list(range(20))
    assert run.read_info().skipped_lines == 1

    between = tmp_path / "between"
    between.mkdir()
    more = write_scalars(tmp_path / "more", range(20, 40)).read_bytes()
    (between / path.name).write_bytes(data + garbage + more)
    run = source(between)
    assert run.metrics()["step"].tolist() == list(range(40))
    assert run.read_info().skipped_lines == 1


def test_a_damaged_record_is_skipped_and_counted(tmp_path):
    path = write_scalars(tmp_path, range(20))
    data = bytearray(path.read_bytes())
    at = data.index(b"loss", len(data) // 2) + 6  # inside a record's float value: it would still decode
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    run = source(tmp_path)
    assert len(run.metrics()) == 19
    assert run.read_info().skipped_lines == 1


def test_status_and_interval(tmp_path):
    with writer(tmp_path) as w:
        for step in range(5):
            w.add_scalar("loss", 1.0, step, walltime=1000.0 + 2 * step)
            w.add_scalar("acc", 0.5, step, walltime=1000.5 + 2 * step)
    run = source(tmp_path)
    info = run.read_info()
    assert info.status == RUNNING
    assert info.interval_median == 2.0
    assert info.created is not None and info.created == 1000.0
    old = time.time() - 3600
    os.utime(event_file(tmp_path), (old, old))
    assert derive_status(run.read_info()) == FINISHED  # quiet for ten minutes: derived from the facts read
    (tmp_path / "training.log").write_text("2025-03-24 13:45:01,000 - INFO - Step 0: train loss 4.2\n")
    assert derive_status(source(tmp_path).read_info()) == FINISHED
    os.utime(event_file(tmp_path))
    assert derive_status(source(tmp_path).read_info()) == RUNNING
    with (tmp_path / "training.log").open("a") as fh:
        fh.write("2025-03-24 13:55:31,000 - INFO - Training complete\n")
    assert source(tmp_path).read_info().status == FINISHED


def test_an_event_file_without_scalars(tmp_path):
    with writer(tmp_path):
        pass
    run = source(tmp_path)
    df = run.metrics()
    assert list(df.columns) == ["step", "time"] and len(df) == 0
    info = run.read_info()
    assert (info.rows, info.last_step, info.interval_median) == (0, None, None)
    assert info.created is not None and math.isfinite(info.created)
    assert (run.samples(), run.config(), run.checkpoints()) == ([], {}, [])


def test_a_file_that_grows_is_read_again(tmp_path):
    path = write_scalars(tmp_path, range(8))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    run = source(tmp_path)
    assert 0 < len(run.metrics()) < 8
    path.write_bytes(data)
    assert len(run.metrics()) == 8


def test_detect_needs_an_event_file(tmp_path):
    assert tb.detect(tmp_path, []) is None
    assert tb.detect(tmp_path, ["training.log", "events.out"]) is None
