"""The vectorised event decoder against TensorBoard's protobuf classes: fixtures and random event files."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np
import pytest

from runyard.layouts import tensorboard, tfevents

FIXTURES = Path(__file__).parent / "fixtures"
EVENT_FILES = sorted(FIXTURES.rglob("events.out.tfevents.*"))


def _protobuf_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every record go through the protobuf classes, as before the decoder existed."""
    monkeypatch.setattr(tfevents, "decode", lambda data, frames, known=None: ([], np.arange(len(frames.starts))))


def _bits(values: object) -> bytes:
    return np.asarray(values, dtype=np.float64).tobytes()


def assert_same(a: tensorboard._FileEvents, b: tensorboard._FileEvents) -> None:
    """Identical contents, floats bit for bit (so NaN equals NaN)."""
    assert (a.name, a.skipped, a.folder) == (b.name, b.skipped, b.folder)
    assert _bits([a.first_time, a.min_time]) == _bits([b.first_time, b.min_time])
    assert np.asarray(a.steps, dtype=np.int64).tolist() == np.asarray(b.steps, dtype=np.int64).tolist()
    assert _bits(a.times) == _bits(b.times)
    assert list(a.columns) == list(b.columns)
    for tag, (rows, values) in a.columns.items():
        assert np.asarray(rows).tolist() == np.asarray(b.columns[tag][0]).tolist(), tag
        assert _bits(values) == _bits(b.columns[tag][1]), tag
    assert [_sample(s) for s in a.samples] == [_sample(s) for s in b.samples]
    assert (a.sample_rows, a.hparams, a.starts) == (b.sample_rows, b.hparams, b.starts)


def _sample(sample: object) -> tuple[object, ...]:
    """A sample with its time as bits (NaN equals NaN)."""
    return (sample.text, sample.step, _bits([sample.time]), sample.extra)  # type: ignore[attr-defined]


def _read_both(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[tensorboard._FileEvents, ...]:
    ours = tensorboard._read_file(path)
    with monkeypatch.context() as m:
        _protobuf_only(m)
        theirs = tensorboard._read_file(path)
    return ours, theirs


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixtures_read_as_the_protobuf_classes_do(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_same(*_read_both(path, monkeypatch))


def record(data: bytes) -> bytes:
    """One TFRecord."""
    import crc32c

    def masked(b: bytes) -> int:
        c = crc32c.crc32c(b)
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked(header)) + data + struct.pack("<I", masked(data))


_TAGS = ["loss", "train/loss", "lr", "ünïcødé/λ", "日本語", "a" * 200, "", "x/y/z"]
_STEPS = [0, 1, 127, 128, 16383, 16384, -1, -(2**63), 2**63 - 1, 2**31, -5]
_NUMBERS = [0.0, -0.0, 1.5, float("nan"), float("inf"), float("-inf"), 1e-45, 3.4e38,
            struct.unpack("<f", b"\x01\x00\xc0\x7f")[0]]


def random_events(rng: random.Random, count: int) -> list[bytes]:
    """Event records of every kind the layout reads, scalar ones mostly, in runs as writers produce them."""
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog

    out = [Event(wall_time=rng.random() * 2e9, file_version="brain.Event:2").SerializeToString()]
    step = rng.choice(_STEPS)
    for _ in range(count):
        step = rng.choice(_STEPS) if rng.random() < 0.3 else min(step + 1, 2**63 - 1)
        wall = rng.choice([rng.random() * 2e9, 0.0, float("nan"), float("inf"), -1.0, 1.7e9 + rng.random()])
        event = Event(step=step, wall_time=wall)
        kind = rng.random()
        values = rng.choice([1, 1, 1, 2, 3])
        for _ in range(values):
            value = event.summary.value.add(tag=rng.choice(_TAGS))
            number = rng.choice(_NUMBERS) if rng.random() < 0.3 else rng.uniform(-1e6, 1e6)
            if kind < 0.6:
                value.simple_value = number
            elif kind < 0.8:
                if rng.random() < 0.7:
                    value.metadata.plugin_data.plugin_name = "scalars"
                encoding = rng.choice(["float_val", "double_val", "float_content", "double_content", "int64",
                                       "vector"])
                tensor = value.tensor
                if encoding == "float_val":
                    tensor.dtype = 1
                    tensor.float_val.append(number)
                elif encoding == "double_val":
                    tensor.dtype = 2
                    tensor.double_val.append(number)
                elif encoding == "float_content":
                    tensor.dtype = 1
                    tensor.tensor_content = struct.pack("<f", number) if abs(number) < 3e38 else b"\0\0\0\0"
                elif encoding == "double_content":
                    tensor.dtype = 2
                    tensor.tensor_content = struct.pack("<d", number)
                elif encoding == "int64":
                    tensor.dtype = 9
                    tensor.int64_val.append(rng.choice(_STEPS))
                else:
                    tensor.dtype = 1
                    tensor.tensor_shape.dim.add(size=2)
                    tensor.float_val.extend([number, 2.0])
            elif kind < 0.87:
                value.metadata.plugin_data.plugin_name = "text"
                value.tensor.dtype = 7
                value.tensor.string_val.append(rng.choice(_TAGS).encode())
            elif kind < 0.92:
                value.histo.min = number
            else:
                value.tag = rng.choice(_TAGS)
        if kind > 0.97:
            event = Event(step=step, wall_time=wall, session_log=SessionLog(status=SessionLog.START))
        out.append(event.SerializeToString())
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_events_read_as_the_protobuf_classes_do(seed: int, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    events = random_events(rng, 3000)
    data = b"".join(record(e) for e in events)
    if seed % 2:  # a corrupt stretch, a record with a bad data CRC and a cut record at the end
        cut = len(data) // 3
        data = data[:cut] + b"\x07" * 37 + data[cut:]
        bad = bytearray(record(events[5]))
        bad[-6] ^= 0xFF
        data = data + bytes(bad) + record(events[7])[:-3]
    path = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    path.write_bytes(data)
    ours, theirs = _read_both(path, monkeypatch)
    assert_same(ours, theirs)
    assert len(ours.steps) > 1000


def test_long_scalar_runs_are_decoded_by_shape(tmp_path: Path) -> None:
    """A writer's usual stream (one tag, steps counting up) is framed and decoded without the protobuf classes
    past the first records of each shape."""
    from tensorboard.compat.proto.event_pb2 import Event

    events = []
    for step in range(20000):
        event = Event(step=step, wall_time=1.7e9 + step)
        event.summary.value.add(tag="loss", simple_value=1.0 / (step + 1))
        events.append(record(event.SerializeToString()))
    data = b"".join(events)
    frames = tfevents.frame(data)
    assert len(frames.starts) == 20000 and frames.end == len(data)
    groups, others = tfevents.decode(data, frames)
    assert len(others) == 0 and sum(len(g.index) for g in groups) == 20000


def _series(run: tensorboard.TensorBoardRun) -> tuple[object, ...]:
    """What a run reads as: its rows, restarts and every column, bit for bit."""
    files, restarts = run._lives()
    steps, times, points = run._columns(files)
    return (steps.tolist(), _bits(times), restarts, sorted((tag, np.asarray(rows).tolist(), _bits(values))
                                                           for tag, (rows, values) in points.items()))


def _fresh(folder: Path) -> tuple[object, ...]:
    return _series(tensorboard.TensorBoardRun(folder))


def test_following_a_growing_file_reads_as_a_fresh_read(tmp_path: Path) -> None:
    """Appends in small pieces, records cut anywhere, give what reading the whole file gives."""
    rng = random.Random(7)
    data = b"".join(record(e) for e in random_events(rng, 400))
    path = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    path.write_bytes(b"")
    run = tensorboard.TensorBoardRun(tmp_path)
    written = 0
    while written < len(data):
        written = min(len(data), written + rng.choice([1, 7, 40, 333, 2000]))
        with path.open("ab") as fh:
            fh.write(data[len(path.read_bytes()):written])
        assert _series(run) == _fresh(tmp_path)
    assert len(run._read_files()[0].steps) > 100


def test_truncation_replacement_and_a_new_file_are_read_again(tmp_path: Path) -> None:
    import os

    rng = random.Random(8)
    first = b"".join(record(e) for e in random_events(rng, 300))
    path = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    path.write_bytes(first)
    run = tensorboard.TensorBoardRun(tmp_path)
    assert _series(run) == _fresh(tmp_path)
    path.write_bytes(first[:len(first) // 2])  # truncated
    assert _series(run) == _fresh(tmp_path)
    other = b"".join(record(e) for e in random_events(random.Random(9), 300))
    path.write_bytes(other[:len(first) // 2] + other[len(first) // 2:])  # rewritten in place, longer
    assert _series(run) == _fresh(tmp_path)
    replacement = tmp_path / "new"
    replacement.write_bytes(first)
    os.replace(replacement, path)  # replaced: another inode
    assert _series(run) == _fresh(tmp_path)
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog

    restart = [Event(step=10, wall_time=1.8e9, session_log=SessionLog(status=SessionLog.START))]
    for step in range(10, 20):
        event = Event(step=step, wall_time=1.8e9 + step)
        event.summary.value.add(tag="loss", simple_value=float(step))
        restart.append(event)
    (tmp_path / "events.out.tfevents.1800000000.host.2.0").write_bytes(
        b"".join(record(e.SerializeToString()) for e in restart))  # a restart's own file
    assert _series(run) == _fresh(tmp_path)
    assert 10 in run._lives()[1]
