"""The filter language, sorting, and the series preparation used by plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runyard.model import MetricSummary, RunInfo
from runyard.reading.curves import ema_debiased, minmax_downsample, prepare, robust_range
from runyard.reading.filters import FilterError, compile_filter, sort_records
from runyard.reading.scanner import RunRecord


def _rec(name, lr, loss, status="finished", tags=()):
    info = RunInfo(id=name, name=name, path=Path(name), format="runyard/1", status=status, tags=list(tags))
    return RunRecord(info, {"optim": {"lr": lr}, "model": "gpt"}, {"val/loss": MetricSummary(last=loss, min=loss - 1)})


RUNS = [_rec("base", 1e-3, 2.0, tags=["baseline"]), _rec("hi", 1e-2, 3.0, "running"), _rec("lo", 1e-4, 1.5)]


@pytest.mark.parametrize("text, names", [
    ("lr<1e-3", ["lo"]), ("optim.lr>=1e-3", ["base", "hi"]), ("val/loss<2.5", ["base", "lo"]),
    ("val/loss.min<1", ["lo"]), ("status=running", ["hi"]), ("base", ["base"]), ("tags~basel", ["base"]),
    ("model=gpt lr!=0.01", ["base", "lo"]), ("nosuchkey<1", []), ("", ["base", "hi", "lo"]),
])
def test_filters(text, names):
    assert [r.info.name for r in RUNS if compile_filter(text)(r)] == names


def test_bad_filter_is_a_clear_error():
    with pytest.raises(FilterError, match="no value"):
        compile_filter("lr<")
    with pytest.raises(FilterError):
        compile_filter('"unbalanced')


def test_sorting():
    assert [r.info.name for r in sort_records(RUNS, "val/loss")] == ["lo", "base", "hi"]
    assert [r.info.name for r in sort_records(RUNS, "-lr")] == ["hi", "base", "lo"]
    assert [r.info.name for r in sort_records(RUNS, "name")] == ["base", "hi", "lo"]


def test_ema_matches_tensorboard_definition():
    values = np.array([1.0, np.nan, 3.0, np.inf, 5.0])
    w = 0.6
    out = ema_debiased(values, w)
    last, n, expected = 0.0, 0, []
    for v in values:
        if not np.isfinite(v):
            expected.append(v)
            continue
        last = last * w + (1 - w) * v
        n += 1
        expected.append(last / (1 - w ** n))
    np.testing.assert_allclose(out, expected)
    assert np.array_equal(ema_debiased(np.full(5, 2.0), 0.9), np.full(5, 2.0))


def test_downsampling_keeps_spikes_and_bounds_points():
    y = np.zeros(100_000)
    y[54_321] = 9.0
    y[77_777] = -4.0
    xs, ys = minmax_downsample(np.arange(y.size, dtype=float), y, 80)
    assert xs.size <= 2 * 80 + 2 and ys.max() == 9.0 and ys.min() == -4.0
    bucket = 100_000 / 80
    assert abs(xs[np.argmax(ys)] - 54_321) <= bucket  # drawn within the column that holds the spike


def test_smoothing_does_not_depend_on_length():
    rng = np.random.default_rng(1)
    y = rng.random(2000)
    _, short = prepare(np.arange(1000.0), y[:1000], 50, 0.9)
    _, long = prepare(np.arange(2000.0), y, 50, 0.9)
    full = ema_debiased(y, 0.9)
    # every drawn point is a value of the one full-length smoothing, whatever the series length
    assert np.isin(short.y, full[:1000]).all() and np.isin(long.y, full).all()


def test_nonfinite_values_become_markers():
    raw, _ = prepare(np.arange(5.0), np.array([1.0, np.nan, 2.0, np.inf, -np.inf]), 10)
    assert raw.nan_x.tolist() == [1.0] and raw.posinf_x.tolist() == [3.0] and raw.neginf_x.tolist() == [4.0]
    assert raw.y.tolist() == [1.0, 2.0]


def test_robust_range_ignores_a_spike():
    y = np.r_[np.linspace(1, 2, 100), 1e6]
    lo, hi = robust_range([y])
    assert hi < 10 and lo <= 1.2


def test_clean_preparation_matches_the_checked_one():
    rng = np.random.default_rng(2)
    x, y = np.arange(50_000.0), rng.random(50_000)
    checked, checked_smooth = prepare(x, y, 60, 0.8)
    fast, fast_smooth = prepare(x, y, 60, 0.8, clean=True)
    assert np.array_equal(checked.x, fast.x) and np.array_equal(checked.y, fast.y)
    assert np.allclose(checked_smooth.y, fast_smooth.y)


def test_a_curve_flat_but_for_float_noise_is_drawn_flat_and_cheaply():
    """A constant learning rate smoothed into float noise spans 1e-14 of its value: drawn as flat, so that a
    point a hair away is not tens of thousands of plot heights off (each drawn through, until memory runs out)."""
    import numpy as np

    from runyard.reading.curves import robust_range

    noise = 3e-4 + np.arange(1000) * 1e-19
    lo, hi = robust_range([noise, np.array([2.7e-4])])
    assert hi - lo > 1e-5 and lo < 3e-4 < hi
    assert robust_range([np.array([1.0, 2.0])]) == (1.0, 2.0)
