"""The disk cache of decoded event files: a reopened run is the same run, bit for bit, and nothing is trusted
that may have changed under it."""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runyard.layouts import tensorboard as tb
from runyard.reading import filecache, follow

from .conftest import PROJECT, child_env

NAME = "events.out.tfevents.1700000000.host.1.0"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(cache))
    return cache


def records(start: int, count: int, scale: float = 1.0) -> bytes:
    """`count` scalar events from step `start` (two tags, NaN and infinities among them), framed as TFRecords."""
    from tensorboard.compat.proto.event_pb2 import Event

    out = []
    for step in range(start, start + count):
        event = Event(step=step, wall_time=1.7e9 + step * 0.01)
        value = [math.nan, math.inf, -math.inf][step % 3] if step % 97 == 0 else scale / (step + 1)
        event.summary.value.add(tag="train/loss", simple_value=value)
        if step % 10 == 0:
            event.summary.value.add(tag="lr", simple_value=scale * 1e-3)
        out.append(frame(event.SerializeToString()))
    return b"".join(out)


def frame(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", tb._masked_crc(header)) + data + struct.pack("<I", tb._masked_crc(data))


def snapshot(run: tb.TensorBoardRun) -> list[tuple]:
    """Everything the run's files were read as, arrays as their bytes."""
    return [(f.name, f.folder, f.first_time, f.min_time, f.skipped, bytes(f.steps), bytes(f.times),
             [(tag, bytes(rows), bytes(values)) for tag, (rows, values) in f.columns.items()],
             [(s.text, s.step, s.time, s.prompt, s.extra) for s in f.samples], f.sample_rows,
             sorted(f.hparams.items()), f.starts)
            for f in run._read_files()]


@pytest.fixture
def fed(monkeypatch):
    """The byte counts each `_FileReader.feed` was given."""
    sizes: list[int] = []
    feed = tb._FileReader.feed

    def counting(self, data):
        sizes.append(len(data))
        return feed(self, data)

    monkeypatch.setattr(tb._FileReader, "feed", counting)
    return sizes


def test_reopening_in_a_fresh_process_decodes_nothing_and_gives_the_same_bits(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / NAME).write_bytes(records(0, 10_000))
    assert (run_dir / NAME).stat().st_size >= follow.CACHE_MIN_BYTES
    first = tb.TensorBoardRun(run_dir)
    columns = first.metrics_data()
    assert len(columns.step) == 10_000
    assert any(cache_dir.rglob("*.parsed"))
    code = f"""
import json, sys
from pathlib import Path
from runyard.layouts import tensorboard as tb
sizes = []
feed = tb._FileReader.feed
tb._FileReader.feed = lambda self, data: (sizes.append(len(data)), feed(self, data))[1]
run = tb.TensorBoardRun(Path({str(run_dir)!r}))
columns = run.metrics_data()
print(json.dumps({{"fed": sizes, "step": bytes(columns.step).hex(), "time": bytes(columns.time).hex(),
                  "values": {{k: bytes(v).hex() for k, v in columns.values.items()}},
                  "logged": {{k: None if v is None else bytes(v).hex() for k, v in columns.logged.items()}}}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT,
                         env=child_env(RUNYARD_CACHE_DIR=str(cache_dir)), check=True)
    child = json.loads(out.stdout)
    assert sum(child["fed"]) == 0  # only what follows the cached offset: nothing
    assert child["step"] == bytes(columns.step).hex()
    assert child["time"] == bytes(columns.time).hex()
    assert child["values"] == {k: bytes(v).hex() for k, v in columns.values.items()}
    assert child["logged"] == {k: None if v is None else bytes(v).hex() for k, v in columns.logged.items()}


def test_text_hparams_and_restarts_round_trip(tmp_path, monkeypatch, fed):
    from torch.utils.tensorboard import SummaryWriter

    monkeypatch.setattr(follow, "CACHE_MIN_BYTES", 0)
    with SummaryWriter(str(tmp_path)) as w:
        for step in range(50):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_text("generated", "héllo wörld", 20)
        w.add_hparams({"lr": 0.01, "optimizer": "adam", "layers": 4, "flag": True}, {"hparam/acc": 0.5},
                      run_name=".")
    with SummaryWriter(str(tmp_path), purge_step=30, filename_suffix=".b") as w:
        for step in range(30, 40):
            w.add_scalar("loss", 2.0 / (step + 1), step)
    first = tb.TensorBoardRun(tmp_path)
    expected = snapshot(first)
    info = first.read_info()
    assert info.restarts_at == [30]
    fed.clear()
    again = tb.TensorBoardRun(tmp_path)
    assert snapshot(again) == expected
    assert sum(fed) == 0  # each file read from its cached offset: nothing more
    assert again.config() == {"lr": 0.01, "optimizer": "adam", "layers": 4, "flag": True}
    assert [(s.text, s.step) for s in again.samples()] == [("héllo wörld", 20)]
    assert again.read_info() == info


def test_a_rewrite_of_the_same_size_and_mtime_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setattr(follow, "CACHE_MIN_BYTES", 0)
    path = tmp_path / NAME
    path.write_bytes(records(0, 2000))
    before = path.stat()
    old = tb.TensorBoardRun(tmp_path).metrics_data()
    new_bytes = records(0, 2000, scale=3.0)
    assert len(new_bytes) == before.st_size
    with path.open("r+b") as fh:  # in place: same inode
        fh.write(new_bytes)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    fresh = tb.TensorBoardRun(tmp_path).metrics_data()
    assert np.nanmax(fresh.values["lr"]) == pytest.approx(3e-3)
    assert np.nanmax(old.values["lr"]) == pytest.approx(1e-3)


def test_a_replaced_file_is_not_trusted(tmp_path, monkeypatch):
    monkeypatch.setattr(follow, "CACHE_MIN_BYTES", 0)
    path = tmp_path / NAME
    path.write_bytes(records(0, 500))
    tb.TensorBoardRun(tmp_path).metrics_data()
    other = tmp_path / "other"
    other.write_bytes(records(0, 700, scale=2.0))
    os.replace(other, path)
    assert len(tb.TensorBoardRun(tmp_path).metrics_data().step) == 700


def test_a_grown_file_is_read_from_the_cached_offset(tmp_path, monkeypatch, fed):
    monkeypatch.setattr(follow, "CACHE_MIN_BYTES", 0)
    path = tmp_path / NAME
    cut = records(2000, 1)
    path.write_bytes(records(0, 2000) + cut[:7])  # the last record cut short: read again whole later
    tb.TensorBoardRun(tmp_path).metrics_data()
    more = records(2001, 300)
    with path.open("ab") as fh:
        fh.write(cut[7:] + more)
    fed.clear()
    grown = tb.TensorBoardRun(tmp_path)
    got = snapshot(grown)
    assert fed == [len(cut) + len(more)]
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert got == snapshot(tb.TensorBoardRun(tmp_path))
    assert len(grown.metrics_data().step) == 2301


def test_a_file_changed_before_the_cached_offset_is_read_again(tmp_path, monkeypatch, fed):
    monkeypatch.setattr(follow, "CACHE_MIN_BYTES", 0)
    path = tmp_path / NAME
    data = records(0, 2000)
    path.write_bytes(data)
    tb.TensorBoardRun(tmp_path).metrics_data()
    changed = data[:-100] + records(0, 2000, scale=5.0)[-100:]
    with path.open("r+b") as fh:
        fh.write(changed + records(2000, 10))  # changed near the end, and grown
    fed.clear()
    tb.TensorBoardRun(tmp_path).metrics_data()
    assert fed == [path.stat().st_size]


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
def test_a_corrupt_cache_entry_is_ignored(tmp_path, monkeypatch, fed, damage):
    monkeypatch.setattr(follow, "CACHE_MIN_BYTES", 0)
    path = tmp_path / NAME
    path.write_bytes(records(0, 1000))
    expected = snapshot(tb.TensorBoardRun(tmp_path))
    entry = filecache.entry_path(tb.CACHE_KIND, str(path.absolute()))
    raw = bytearray(entry.read_bytes())
    if damage == "flip":
        raw[-100] ^= 0x40  # in the values: only the CRC tells
    elif damage == "truncate":
        raw = raw[:len(raw) // 2]
    elif damage == "garbage":
        raw = bytearray(os.urandom(len(raw)))
    else:
        raw = bytearray()
    entry.write_bytes(bytes(raw))
    fed.clear()
    assert snapshot(tb.TensorBoardRun(tmp_path)) == expected
    assert fed == [path.stat().st_size]


def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch):
    monkeypatch.setattr(follow, "CACHE_MIN_BYTES", 0)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(blocker))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / NAME).write_bytes(records(0, 100))
    assert len(tb.TensorBoardRun(run_dir).metrics_data().step) == 100
    assert Path(blocker).is_file()
