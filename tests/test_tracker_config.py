"""Config sources and overrides; config files are parsed, never run."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

import runyard
from runyard.writer.config import resolve


@dataclasses.dataclass
class TrainConfig:
    lr: float = 0.001
    layers: tuple = (64, 64)
    out: Path = Path("out")


def test_sources_become_plain_dicts(tmp_path):
    assert resolve({"a": 1}).values == {"a": 1}
    assert resolve(argparse.Namespace(a=1, b="x")).values == {"a": 1, "b": "x"}
    assert resolve(TrainConfig()).values == {"lr": 0.001, "layers": [64, 64], "out": "out"}
    (tmp_path / "c.json").write_text(json.dumps({"a": {"b": [1, 2]}}))
    assert resolve(tmp_path / "c.json").values == {"a": {"b": [1, 2]}}
    (tmp_path / "c.yaml").write_text("a: 1\nb: {c: .nan}\n")
    values = resolve(str(tmp_path / "c.yaml")).values
    assert values["a"] == 1 and values["b"]["c"] != values["b"]["c"]


def test_python_config_reads_literals_and_arithmetic(tmp_path):
    cfg = tmp_path / "train_gpt.py"
    cfg.write_text(
        "# nanoGPT style\n"
        "batch_size = 12\nblock_size = 1024\ntokens = batch_size * block_size\n"
        "learning_rate = 6e-4\nbetas: tuple = (0.9, 0.95)\nwandb_log = False\n"
        "name = 'gpt2' + '-small'\nmin_lr = learning_rate / 10\n_private = 1\n"
        "import time\nrun_name = 'r' + str(time.time())\n"
    )
    resolved = resolve(cfg)
    assert resolved.values == {"batch_size": 12, "block_size": 1024, "tokens": 12288, "learning_rate": 6e-4,
                               "betas": [0.9, 0.95], "wandb_log": False, "name": "gpt2-small",
                               "min_lr": pytest.approx(6e-5)}
    assert any("import" in n for n in resolved.notes) and any("run_name" in n for n in resolved.notes)


def test_python_config_with_code_is_never_run(tmp_path, root):
    marker = tmp_path / "pwned"
    cfg = tmp_path / "evil.py"
    cfg.write_text(
        f"import os\nos.system('touch {marker}')\n"
        f"lr = open({str(marker)!r}, 'w').write('x')\n"
        f"x = __import__('os').system('touch {marker}')\n"
        f"y = [c for c in ().__class__.__base__.__subclasses__()]\n"
        "big = 10 ** 10 ** 10\nrep = 'a' * 10**9\nsafe = 3\n"
    )
    with runyard.init(config=cfg, root=root, console=False) as run:
        assert run.config == {"safe": 3}
    assert not marker.exists()
    assert "not a literal" in (run.path / "training.log").read_text()


def test_yaml_with_python_tag_is_refused_not_run(tmp_path):
    marker = tmp_path / "pwned"
    cfg = tmp_path / "evil.yaml"
    cfg.write_text(f"a: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(runyard.ConfigError, match="cannot be parsed"):
        resolve(cfg)
    assert not marker.exists()


def test_non_serialisable_value_names_the_key():
    with pytest.raises(runyard.ConfigError, match=r"'optimizer\.factory'.*function"):
        resolve({"optimizer": {"factory": lambda: None}})
    with pytest.raises(runyard.ConfigError, match=r"'layers\[1\]'"):
        resolve({"layers": [1, object()]})


def test_overrides_merge_on_top_with_types_kept(tmp_path):
    cfg = tmp_path / "base.yaml"
    cfg.write_text(yaml.safe_dump({"lr": 0.1, "steps": 100, "name": "x", "model": {"n": 2}, "flag": False}))
    values = resolve(None, [str(cfg), "--lr=1", "--steps=2e3", "--name=123", "--model.n=4",
                            "--flag=true"]).values
    assert values == {"lr": 1.0, "steps": 2000, "name": "123", "model": {"n": 4}, "flag": True}
    assert isinstance(values["lr"], float)


@pytest.mark.parametrize("argv, message", [
    (["--lrr=1"], "no such config key"),
    (["--steps=abc"], "expected int"),
    (["positional"], "cannot use argument"),
    (["--=3"], "has no key"),
    (["a.yaml", "b.yaml"], "two config files"),
])
def test_bad_overrides_are_clear_errors(argv, message):
    with pytest.raises(runyard.ConfigError, match=message):
        resolve({"lr": 0.1, "steps": 10}, argv)


@pytest.mark.parametrize("content, suffix, message", [
    ("[1, 2]", ".yaml", "must hold a mapping"),
    ("a: [1,", ".yaml", "cannot be parsed"),
    ("def (:", ".py", "not valid Python"),
    ("{", ".json", "cannot be parsed"),
    ("x", ".toml", "unknown config file type"),
])
def test_unreadable_config_files_are_clear_errors(tmp_path, content, suffix, message):
    cfg = tmp_path / f"c{suffix}"
    cfg.write_text(content)
    with pytest.raises(runyard.ConfigError, match=message):
        resolve(cfg)


def test_missing_config_file(tmp_path):
    with pytest.raises(runyard.ConfigError, match="not found"):
        resolve(tmp_path / "nope.yaml")
