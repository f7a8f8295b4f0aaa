"""What runyard shows is what was logged, in every layout.

The inputs are the reading cases in fixtures/cases/reading (EXPECTED.md there says what a user must see) and
variants in the other layouts, written here by each tool's own writer.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import runyard
from runyard import open_run, scan
from runyard.reading import scanner


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


# ----- only metric values are decoded as numbers ---------------------------------------------------------------

def test_text_spelled_like_a_number_stays_text_through_the_scan_cache(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runs"
    with runyard.init("inf", root=root, config={"mode": "nan", "limit": "-inf", "n": 3}, tags=["nan", "inf"],
                      console=False, system_metrics=False) as run:
        run.log({"loss": math.nan}, step=0)
        run.log({"loss": math.inf}, step=1)
    first = scan(root)

    def no_reading(source: Any) -> Any:
        raise AssertionError(f"{source.path} was read again instead of taken from the cache")

    monkeypatch.setattr(scanner, "read_record", no_reading)
    for (record,) in (first, scan(root)):
        assert record.info.name == "inf" and record.info.tags == ["nan", "inf"]
        assert record.config == {"mode": "nan", "limit": "-inf", "n": 3}
        stats = record.summary["loss"]
        assert stats.count == 2 and math.isinf(stats.last) and math.isnan(stats.first)


# ----- integer hyperparameters stay integers --------------------------------------------------------------------

def test_integral_tensorboard_hparams_read_as_ints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorBoard stores every numeric hparam as a double; an integral one is read as the int it was."""
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "runs" / "hp"
    with SummaryWriter(str(run)) as w:
        w.add_hparams({"batch_size": 32, "n_layer": -4, "lr": 3e-4, "optimizer": "adam", "mode": "nan"},
                      {"hparam/acc": 0.75}, run_name=".")
    want = {"batch_size": 32, "n_layer": -4, "lr": 3e-4, "optimizer": "adam", "mode": "nan"}
    config = open_run(run).config
    assert config == want and type(config["batch_size"]) is int and type(config["lr"]) is float
    scan(run.parent)
    monkeypatch.setattr(scanner, "read_record", lambda source: pytest.fail("not taken from the cache"))
    (record,) = scan(run.parent)
    assert record.config == want and type(record.config["batch_size"]) is int
