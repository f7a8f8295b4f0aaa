"""The W&B reader (numpy decoder for history and summary records, the protobuf classes for the rest, read in
pieces) against the record-by-record reference through wandb's protobuf classes: fixtures and random logs."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runyard.layouts import wandb as wandb_layout
from runyard.layouts import wandbrec
from runyard.layouts.base import MetricColumns
from runyard.layouts.wandb import WandbRun
from runyard.reading.follow import Grow

from .wandblog import assemble, chunks, frame_log, reference_load

pb = pytest.importorskip("wandb.proto.wandb_internal_pb2", reason="wandb is not installed")

FIXTURES = Path(__file__).parent / "fixtures"
LOGS = sorted(FIXTURES.rglob("*.wandb"))


# --- the reference: the whole file, one record at a time through the protobuf classes ---


class _ReferenceReader:
    """`reference_load`'s state dressed as the reader `WandbRun` asks for."""

    def __init__(self, path: Path) -> None:
        state = reference_load(path)
        self.info, self.skipped, self.cut, self.error = state, state.skipped, state.cut, state.error
        self.steps = Grow.of(np.array(state.steps, dtype=np.int64))
        self.times = Grow.of(np.array(state.times, dtype=np.float64))
        self.columns = {name: None for row in state.values for name in row}
        self._state = state

    def columns_now(self) -> MetricColumns:
        return MetricColumns.from_rows(self._state.steps, self._state.times, self._state.values)


def snapshot(run: WandbRun) -> dict[str, Any]:
    """Everything the run tells, floats as bits (a NaN equals a NaN)."""
    info = run.read_info()
    columns = run.metrics_data()
    facts = {k: v for k, v in vars(info).items() if k not in ("path",)}
    for key in ("created", "ended", "last_time", "interval_median"):
        facts[key] = _bits(facts[key])
    return {
        "info": repr(facts),
        "step": columns.step.tolist(), "time": _bits(columns.time), "names": list(columns.values),
        "values": {name: _bits(v) for name, v in columns.values.items()},
        "logged": {name: columns.mask(name).tolist() for name in columns.values},
        "config": _canon(run.config()), "summary": _canon(run.wandb_summary()),
        "goals": repr(sorted(run.goals().items())), "origin": run.origin(),
    }


def _bits(value: Any) -> Any:
    if value is None:
        return None
    return np.asarray(value, dtype=np.float64).tobytes()


def _canon(tree: Any) -> str:
    """A tree as text that tells NaN, -0.0, ints and floats apart, and keeps key order."""
    return json.dumps(tree, default=repr, allow_nan=True) + repr(tree)


def reference(run: WandbRun, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as m:
        m.setattr(WandbRun, "_reader", lambda self, budget=None: _ReferenceReader(self.wandb_file))
        return snapshot(WandbRun(run.path, run.wandb_file))


def fresh(path: Path) -> dict[str, Any]:
    return snapshot(WandbRun(path.parent, path))


# --- random logs, made with wandb's own record classes ---





KEYS = ["train/loss", "val/acc", "lr", "ünïcødé/λ", "损失", "epoch", "a.b", "step", "time", "_runtime", "x" * 40]
NESTED = [["opt", "lr"], ["opt", "beta", "1"], ["deep", "er", "est", "leaf"], [""]]


def _value(rng: random.Random) -> str:
    """A value_json as W&B writes one: numbers mostly, and everything else a run may log."""
    pick = rng.random()
    if pick < 0.35:
        return repr(rng.uniform(-1e3, 1e3))
    if pick < 0.5:
        return str(rng.choice([0, 1, -1, 7, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, 10**30]))
    if pick < 0.6:
        return rng.choice(["NaN", "Infinity", "-Infinity", "-0.0", "1e308", "5e-324", "1E5", "-2.5e-3"])
    if pick < 0.7:
        return repr(float(rng.randint(-5, 5)))
    if pick < 0.76:
        return json.dumps({"_type": "image-file", "path": "media/x.png", "width": 4})
    if pick < 0.84:
        return json.dumps({"x": rng.random(), "y": {"z": rng.randint(0, 9), "s": "t"}, "n": None})
    if pick < 0.88:
        return json.dumps(rng.choice(["hello", "1.5", "", "ünï"]))
    if pick < 0.92:
        return rng.choice(["true", "false", "null", "[1, 2]", "[]"])
    if pick < 0.94:
        return rng.choice(["01", "1.", ".5", "+1", "1,2", "nan", "inf", " 3", "3 "])  # not JSON numbers
    return repr(rng.randint(-10**6, 10**6))


def _item(message: Any, key: Any, value: str) -> None:
    item = message.add()
    if isinstance(key, list):
        item.nested_key.extend(key)
    else:
        item.key = key
    item.value_json = value


def random_records(rng: random.Random, count: int) -> list[bytes]:
    """`count` records of every kind the reader folds, in a plausible order, serialized."""
    out: list[bytes] = []
    header = pb.Record(num=1)
    header.header.version_info.producer = "0.31.0"
    out.append(header.SerializeToString())
    run = pb.Record(num=2)
    run.run.run_id, run.run.display_name, run.run.project = "r4nd0m", "random-run", "tests"
    run.run.start_time.seconds = 1_700_000_000
    run.run.host = "gpu-1"
    run.run.tags.extend(["a", "b"])
    _item(run.run.config.update, "lr", "0.001")
    _item(run.run.config.update, ["model", "layers"], "12")
    out.append(run.SerializeToString())
    step = 0
    for n in range(3, count):
        pick = rng.random()
        record = pb.Record(num=n)
        if pick < 0.55:
            history = record.history
            keys = rng.sample(KEYS, rng.randint(0, 6)) + rng.sample(NESTED, rng.randint(0, 1))
            if rng.random() < 0.95:
                keys.append("_step")
            if rng.random() < 0.9:
                keys.append("_timestamp")
            if rng.random() < 0.03 and keys:
                keys.append(keys[0])  # the same key twice
            rng.shuffle(keys)
            for key in keys:
                if key == "_step":
                    value = rng.choice([str(step)] * 8 + [f"{step}.0", str(2**63 - 1), "-3", "1e30", '"7"'])
                elif key == "_timestamp":
                    value = rng.choice([repr(1.7e9 + step * 0.37)] * 9 + ["NaN", '"late"'])
                else:
                    value = _value(rng)
                if rng.random() < 0.02 and key != "_step":
                    item = history.item.add()  # a typed value, no value_json
                    item.key = key if isinstance(key, str) else "typed"
                    item.number = rng.random()
                    continue
                # a plain key mostly as wandb writes it (a one-element nested_key), sometimes in `key`
                _item(history.item, [key] if isinstance(key, str) and rng.random() < 0.8 else key, value)
            if rng.random() < 0.9:
                history.step.num = step
            step += rng.choice([1, 1, 1, 0, 5])
        elif pick < 0.8:
            summary = record.summary
            for key in rng.sample(KEYS, rng.randint(1, 4)):
                _item(summary.update, [key] if rng.random() < 0.8 else key, _value(rng))
            if rng.random() < 0.3:
                _item(summary.update, ["_wandb", "runtime"], str(n))
            if rng.random() < 0.05:
                _item(summary.update, ["opt"], json.dumps({"lr": 1}))
            if rng.random() < 0.05:
                _item(summary.update, ["opt", "lr"], "2")
            if rng.random() < 0.04:
                item = summary.remove.add()
                item.nested_key.extend([rng.choice(KEYS)])
        elif pick < 0.85:
            _item(record.config.update, rng.choice([["opt", "lr"], "batch", ["model", "width"]]), _value(rng))
            if rng.random() < 0.2:
                item = record.config.remove.add()
                item.key = "batch"
        elif pick < 0.88:
            metric = record.metric
            if rng.random() < 0.5:
                metric.name = rng.choice(KEYS)
            else:
                metric.glob_name = rng.choice(["val/*", "train/*", "*"])
            if rng.random() < 0.5:
                metric.goal = rng.choice([1, 2])
            else:
                setattr(metric.summary, rng.choice(["min", "max"]), True)
        elif pick < 0.9:
            record.stats.stats_type = 0
            _item(record.stats.item, "gpu", "0.5")
        elif pick < 0.92:
            record.output_raw.line = "progress " * rng.randint(1, 5000)  # big: split over chunks and blocks
        elif pick < 0.94:
            history = record.history  # a big history record
            _item(history.item, ["_step"], str(step))
            _item(history.item, ["big"], json.dumps("y" * rng.randint(1, 40000)))
            _item(history.item, ["loss"], "0.5")
            step += 1
        elif pick < 0.95:
            record.run.display_name = f"renamed-{n}"
            _item(record.run.summary.update, ["from_run"], str(n))
        else:
            record.telemetry.python_version = "3.11.7"
        out.append(record.SerializeToString())
    if rng.random() < 0.5:
        exit_record = pb.Record(num=count)
        exit_record.exit.exit_code = rng.choice([0, 1, 254])
        exit_record.exit.runtime = 12
        out.append(exit_record.SerializeToString())
    return out


def damage(data: bytes, rng: random.Random, times: int) -> bytes:
    """`data` with some bytes after the header flipped (chunk headers, data, CRCs alike)."""
    out = bytearray(data)
    for _ in range(times):
        at = rng.randrange(7, len(out))
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def write(folder: Path, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run-r4nd0m.wandb"
    path.write_bytes(data)
    return path


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


# --- the tests ---


@pytest.mark.parametrize("path", LOGS, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixtures_read_as_the_protobuf_classes_do(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = WandbRun(path.parent, path)
    assert snapshot(run) == reference(run, monkeypatch)


@pytest.mark.parametrize("seed", range(12))
def test_random_logs_read_as_the_protobuf_classes_do(seed: int, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    data = frame_log(random_records(rng, rng.choice([40, 300, 1500])))
    variants = [data, damage(data, rng, 1), damage(data, rng, 6), data[:rng.randrange(7, len(data))],
                damage(data, rng, 2)[:rng.randrange(7, len(data))]]
    for n, variant in enumerate(variants):
        path = write(tmp_path / f"offline-run-20260101_000000-v{n}", variant)
        run = WandbRun(path.parent, path)
        assert snapshot(run) == reference(run, monkeypatch), n


def test_the_numpy_decoder_and_the_protobuf_path_of_the_reader_agree(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every record through the protobuf classes (the decoder leaving all to them) reads as the decoder does."""
    rng = random.Random(99)
    path = write(tmp_path / "offline-run-20260101_000000-x", frame_log(random_records(rng, 2000)))
    ours = fresh(path)
    real = wandbrec.decode

    def nothing(frames: Any, item_class: Any, decode_error: Any) -> Any:
        decoded = real(frames, item_class, decode_error)
        decoded.kind[:] = 0
        return decoded

    monkeypatch.setattr(wandbrec, "decode", nothing)
    assert fresh(path) == ours


def test_plain_runs_take_the_numpy_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """History and summary records as wandb writes them are not parsed by the protobuf classes one by one (but
    for the first of each metric, which cross-checks the decoder)."""
    records = []
    for step in range(3000):
        record = pb.Record(num=step + 3)
        keys = [("_step", str(step)), ("_timestamp", repr(1.7e9 + step)), ("loss", repr(1 / (step + 1))),
                ("lr", "NaN" if step % 7 == 0 else "0.1"), ("epoch", str(step // 100))]
        random.Random(step).shuffle(keys)
        for key, value in keys:
            _item(record.history.item, [key], value)
        record.history.step.num = step
        records.append(record.SerializeToString())
        summary = pb.Record(num=step + 4)
        for key, value in keys:
            _item(summary.summary.update, [key], value)
        _item(summary.summary.update, ["_wandb", "runtime"], str(step))
        records.append(summary.SerializeToString())
    path = write(tmp_path / "offline-run-20260101_000000-p", frame_log(records))
    parsed = []
    real = wandb_layout._protobuf

    class Counting:
        def __init__(self) -> None:
            self.inner = real()[0]()

        def ParseFromString(self, data: bytes) -> None:
            parsed.append(len(data))
            self.inner.ParseFromString(data)

        @classmethod
        def FromString(cls, data: bytes) -> Any:
            record = cls()
            record.ParseFromString(data)
            return record.inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    monkeypatch.setattr(wandb_layout, "_protobuf", lambda: (Counting, real()[1]))
    run = WandbRun(path.parent, path)
    columns = run.metrics_data()
    assert len(columns) == 3000 and len(parsed) < 10  # only the few records the decoder is cross-checked on
    assert math.isnan(columns.values["lr"][0]) and columns.mask("lr").all()
    assert run.wandb_summary()["epoch"] == 29
    monkeypatch.undo()
    assert snapshot(WandbRun(path.parent, path)) == reference(run, monkeypatch)


@pytest.mark.parametrize("few", [0, 10**9], ids=["blocks-in-step", "chunk-by-chunk"])
def test_frame_counts_damage_as_the_reference_does(few: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both walks of the chunks (all blocks in step, or one chunk after another) join and count as the
    reference does."""
    monkeypatch.setattr(wandbrec, "_FEW_BLOCKS", few)
    rng = random.Random(5)
    data = frame_log(random_records(rng, 800))
    for n in range(40):
        damaged = damage(data, random.Random(n), n % 5 + 1)[:len(data) - n * 97]
        frames = wandbrec.frame(damaged, 7, 0, False)
        reference = assemble(chunks(damaged))
        ours = [frames.buf[s:s + ln] for s, ln in zip(frames.starts.tolist(), frames.lengths.tolist(), strict=True)]
        assert ours == reference.records
        assert frames.damaged + frames.pending == reference.damaged
        assert frames.cut == reference.cut
