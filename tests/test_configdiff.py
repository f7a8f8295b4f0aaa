"""The N-way config diff: flattened keys, missing keys, equality by meaning, origin rows, and across layouts."""

from __future__ import annotations

import copy
import math
import pickle
import shutil
from pathlib import Path

import orjson
import pytest

import runyard
from runyard import MISSING, RunInfo, RunRecord, config_diff, format_value, origin_of

FIX = Path(__file__).parent / "fixtures"
WANDB = FIX / "foreign" / "wandb_offline"
SNAPSHOT = FIX / "snapshot" / "runs"
TB_HPARAMS = FIX / "tensorboard" / "torch_spread"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def rec(name: str, config: dict, fmt: str = "runyard/1") -> RunRecord:
    return RunRecord(RunInfo(id=name, name=name, path=Path("/runs") / name, format=fmt), config=config)


def values(diff, key, section="config"):
    row = diff.get(key, section)
    assert row is not None, f"no row {key}"
    return row.values


def test_nested_keys_are_dotted_paths_in_config_order():
    a = rec("a", {"lr": 1e-3, "model": {"n_layer": 2, "n_embd": 64}, "data": {"name": "shakespeare"}})
    b = rec("b", {"lr": 1e-3, "model": {"n_layer": 4, "n_embd": 64}, "extra": {"deep": {"er": [1, 2]}}})
    diff = config_diff([a, b], include_origin=False)
    assert [k.key for k in diff.all()] == ["lr", "model.n_layer", "model.n_embd", "data.name", "extra.deep.er"]
    assert [k.key for k in diff.differing()] == ["model.n_layer", "data.name", "extra.deep.er"]
    assert [k.key for k in diff.same()] == ["lr", "model.n_embd"]
    assert values(diff, "model.n_layer") == [2, 4]
    assert all(k.section == "config" for k in diff.all())


def test_a_missing_key_is_missing_not_none_and_none_is_a_value():
    a = rec("a", {"warmup": None, "only_a": 1, "empty": ""})
    b = rec("b", {"warmup": None, "empty": ""})
    c = rec("c", {"empty": ""})
    diff = config_diff([a, b, c], include_origin=False)
    assert values(diff, "only_a") == [1, MISSING, MISSING]
    assert values(diff, "warmup") == [None, None, MISSING]
    assert diff.get("warmup").differs  # c has no warmup at all: that is not the same as None
    assert not diff.get("empty").differs
    assert diff.get("only_a").missing == 2
    assert [format_value(v) for v in values(diff, "only_a")] == ["1", "—", "—"]
    assert format_value(None) == "None" and format_value("") == '""'
    assert MISSING is not None and str(MISSING) == "—" and repr(MISSING) == "MISSING"
    assert copy.deepcopy(MISSING) is MISSING and pickle.loads(pickle.dumps(MISSING)) is MISSING
    assert config_diff([a, b], include_origin=False).get("warmup").differs is False


@pytest.mark.parametrize(("x", "y"), [
    (3, 3.0), (1e-3, 0.001), ("1e-3", 0.001), ("3", 3), ("3.0", 3), ("0.5", 0.5), (-2, "-2"), (float("nan"), math.nan),
    ([1, 2], [1.0, 2.0]), ([{"a": 1}], [{"a": 1.0}]), (True, True), (None, None),
])
def test_values_equal_by_meaning(x, y):
    diff = config_diff([rec("a", {"k": x}), rec("b", {"k": y})], include_origin=False)
    assert not diff.get("k").differs, (x, y)
    assert diff.differing() == []


@pytest.mark.parametrize(("x", "y"), [
    (True, 1), (False, 0), (True, "True"), ("007", 7), (" 3", 3), ("nan", math.nan), ("v3", 3), ([1, 2], [2, 1]),
    (None, "None"), (None, ""), (0.1, 0.10000001), ("adam", "Adam"),
])
def test_values_that_differ(x, y):
    diff = config_diff([rec("a", {"k": x}), rec("b", {"k": y})], include_origin=False)
    assert diff.get("k").differs, (x, y)


def test_a_tensorboard_bool_read_as_1_differs_and_says_why():
    # torch's add_hparams stores a bool as the number 1.0, which the TensorBoard reader reads as 1
    a = rec("a", {"amp": True, "lr": 1})
    b = rec("b", {"amp": 1, "lr": True}, fmt="tensorboard")
    c = rec("c", {"amp": True, "lr": 1})
    diff = config_diff([a, b, c], include_origin=False)
    assert diff.get("amp").differs and diff.get("amp").note == "TensorBoard stores a bool hparam as 1 or 0"
    plain = config_diff([rec("a", {"amp": True}), rec("b", {"amp": 1})], include_origin=False)
    assert plain.get("amp").differs and plain.get("amp").note is None  # no TensorBoard run: nothing to explain


def test_values_as_shown_keep_what_was_written():
    diff = config_diff([rec("a", {"k": "3"}), rec("b", {"k": 3.0}), rec("c", {"k": [1, "x"]})],
                       include_origin=False)
    assert [format_value(v) for v in values(diff, "k")] == ["3", "3.0", "[1, 'x']"]


def test_mixed_layouts_wandb_runyard_tensorboard():
    records = [*runyard.scan(WANDB), *[r for r in runyard.scan(SNAPSHOT) if r.info.name in ("baseline", "high_lr")],
               *runyard.scan(TB_HPARAMS)]
    assert [r.info.format for r in records] == ["wandb", "wandb", "runyard/1", "runyard/1", "tensorboard"]
    names = [r.info.name for r in records]
    diff = config_diff(records)
    differing = {k.key for k in diff.differing() if k.section == "config"}
    assert {"model.num_layers", "training.learning_rate", "learning_rate", "lr", "optimizer"} <= differing
    assert values(diff, "training.learning_rate") == [0.0001, 0.001, MISSING, MISSING, MISSING]
    assert values(diff, "learning_rate") == [MISSING, MISSING, 0.004, 0.02, MISSING]
    assert values(diff, "lr") == [MISSING, MISSING, MISSING, MISSING, 0.001]
    assert values(diff, "batch_size") == [MISSING, MISSING, MISSING, MISSING, 32]
    # the two W&B runs agree on everything but layers and learning rate
    two = config_diff(records[:2], include_origin=False)
    assert [k.key for k in two.differing()] == ["model.num_layers", "training.learning_rate"]
    assert names[0] == "transformer-training"


def test_origin_rows_from_each_layout():
    records = [*runyard.scan(WANDB), *[r for r in runyard.scan(SNAPSHOT) if r.info.name in ("baseline", "high_lr")],
               *runyard.scan(TB_HPARAMS)]
    diff = config_diff(records)
    origin = diff.section("origin")
    assert [k.key for k in origin] == ["git.commit", "git.dirty", "argv", "python", "torch", "host", "started"]
    assert values(diff, "git.commit", "origin") == [MISSING, MISSING, "0123456", "0123456", MISSING]
    assert values(diff, "git.dirty", "origin") == [MISSING, MISSING, False, False, MISSING]
    assert values(diff, "argv", "origin") == [MISSING, MISSING, "train.py configs/baseline.yaml",
                                              "train.py configs/high_lr.yaml", MISSING]
    assert values(diff, "python", "origin") == ["3.11.7", "3.11.7", "3.11.7", "3.11.7", MISSING]
    assert values(diff, "torch", "origin") == ["2.13.0+cpu"] * 4 + [MISSING]
    assert values(diff, "host", "origin") == ["gpu-node-01", "gpu-node-01", "snapshot-host", "snapshot-host", "vm"]
    assert all(isinstance(v, str) for v in values(diff, "started", "origin"))
    assert not any(k.section == "origin" for k in config_diff(records, include_origin=False).all())


def test_origin_is_the_same_from_a_cached_scan_and_a_fresh_read():
    fresh = [runyard.open_run(SNAPSHOT / "baseline_20260101_000000").record]
    runyard.scan(SNAPSHOT)
    cached = [r for r in runyard.scan(SNAPSHOT) if r.info.name == "baseline"]
    assert cached[0].info.extra == {}  # the listing cache keeps no details: origin reads them from the run
    assert origin_of(cached[0]) == origin_of(fresh[0])
    assert origin_of(fresh[0])["git.commit"] == "0123456"


def test_wandb_origin_from_metadata_requirements_and_patch(tmp_path):
    run = tmp_path / "wandb" / "offline-run-20261122_145303-lssbftrw"
    shutil.copytree(WANDB / "wandb" / run.name, run)
    (run / "files" / "wandb-metadata.json").write_bytes(orjson.dumps({
        "git": {"commit": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "remote": "git@example:x.git"},
        "program": "train.py", "args": ["--lr", "0.001"], "python": "CPython 3.12.1", "host": "gpu-node-07"}))
    (run / "files" / "diff.patch").write_text("--- a/train.py\n+++ b/train.py\n")
    facts = origin_of(runyard.scan(tmp_path)[0])
    assert facts["git.commit"] == "a1b2c3d" and facts["git.dirty"] is True
    assert facts["argv"] == "train.py --lr 0.001" and facts["python"] == "3.12.1"
    assert facts["host"] == "gpu-node-07" and facts["torch"] == "2.13.0+cpu"


def test_tensorboard_host_from_event_file_names(tmp_path):
    from runyard.layouts.tensorboard import _WRITER_NAME

    assert _WRITER_NAME.fullmatch("events.out.tfevents.1795359182.vm.5731.1.v2").group(1) == "vm"
    assert _WRITER_NAME.fullmatch("events.out.tfevents.1700000000.node1.cluster.local.4242.0").group(1) == \
        "node1.cluster.local"
    assert _WRITER_NAME.fullmatch("events.out.tfevents.1700000000") is None


def test_a_run_without_origin_facts_has_missing_rows_only_where_others_have_them():
    diff = config_diff([rec("a", {"x": 1}), rec("b", {"x": 2})])
    assert diff.section("origin") == []  # no source and no host or start: nothing to show
    a = rec("a", {"x": 1})
    a.info.host = "h1"
    diff = config_diff([a, rec("b", {"x": 1})])
    assert values(diff, "host", "origin") == ["h1", MISSING]
