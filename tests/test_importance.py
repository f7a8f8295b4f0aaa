"""Which config keys go with a better metric: rank statistics on constructed runs with known relations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from runyard import MetricSummary, RunInfo, RunRecord, config_diff, key_importance
from runyard.ops.importance import MIN_RUNS, TOO_FEW, best_values, kruskal_epsilon, ranks, spearman


def rec(i: int, config: dict, loss: float | None = None, *, metric: str = "val/loss", goal: str = "min",
        stats: MetricSummary | None = None) -> RunRecord:
    summary = {}
    if stats is not None:
        summary[metric] = stats
    elif loss is not None:
        summary[metric] = MetricSummary(first=loss + 1, last=loss + 0.1, min=loss, max=loss + 1, count=10,
                                        direction=goal, direction_source="declared")
    return RunRecord(RunInfo(id=f"r{i}", name=f"r{i}", path=Path(f"/runs/r{i}"), format="runyard/1"),
                     config=config, summary=summary)


def sweep(n: int = 10) -> list[RunRecord]:
    """lr drives the loss up (monotone, not linear); the optimizer matters; the seed is noise."""
    rng = np.random.default_rng(7)
    seeds = rng.permutation(n)
    out = []
    for i in range(n):
        lr = 1e-4 * 2 ** i
        opt = "adam" if i % 2 == 0 else "sgd"
        loss = math.log(lr) + 20 + (0.0 if opt == "adam" else 0.01)
        out.append(rec(i, {"lr": lr, "seed": int(seeds[i]), "opt": opt, "model": {"n_layer": 4}}, loss))
    return out


def test_a_monotone_key_ranks_first_with_rho_one():
    result = key_importance(sweep(), "val/loss")
    first = result[0]
    assert first.key == "lr" and first.kind == "numeric"
    assert first.score == pytest.approx(1.0) and first.strength == pytest.approx(1.0)
    assert first.better == "lower"  # a lower lr goes with a lower (better) loss
    assert first.n == 10 and first.note is None
    assert "model.n_layer" not in [k.key for k in result]  # the same everywhere: not a differing key


def test_an_unrelated_key_scores_low_and_ranks_below():
    result = {k.key: k for k in key_importance(sweep(), "val/loss")}
    assert abs(result["seed"].score) < 0.5
    keys = [k.key for k in key_importance(sweep(), "val/loss")]
    assert keys.index("lr") < keys.index("seed")


def test_a_categorical_key_gets_epsilon_squared_and_its_best_value():
    runs = []
    for i in range(12):
        opt = ("adam", "sgd", "lion")[i % 3]
        runs.append(rec(i, {"opt": opt, "seed": i}, {"adam": 1.0, "sgd": 2.0, "lion": 3.0}[opt] + i * 0.01))
    result = {k.key: k for k in key_importance(runs, "val/loss")}
    opt = result["opt"]
    assert opt.kind == "categorical" and opt.better == "adam"
    assert 0.8 < opt.score <= 1.0 and opt.strength == opt.score
    assert result["seed"].kind == "numeric"


def test_direction_max_flips_which_way_is_better():
    runs = [rec(i, {"width": 64 * (i + 1)}, stats=MetricSummary(min=0.5 + i / 100, max=0.6 + i / 100, count=3,
                                                                 direction="max", direction_source="declared"),
                metric="val/acc") for i in range(6)]
    (width,) = key_importance(runs, "val/acc")
    assert width.score == pytest.approx(1.0) and width.better == "higher"
    assert best_values(runs, "val/acc") == [pytest.approx(0.6 + i / 100) for i in range(6)]


def test_too_few_runs_to_tell():
    runs = sweep(MIN_RUNS - 1)
    result = key_importance(runs, "val/loss")
    assert result and all(k.note == TOO_FEW and k.score is None for k in result)
    assert all(k.n == MIN_RUNS - 1 for k in result)
    assert key_importance(sweep(MIN_RUNS), "val/loss")[0].note is None


def test_nan_is_never_best_and_runs_without_the_metric_do_not_count():
    runs = sweep(8)
    runs[0].summary["val/loss"] = MetricSummary(count=5, direction="min", direction_source="declared")  # only NaN
    runs[1].summary = {}
    (lr, *_) = key_importance(runs, "val/loss")
    assert lr.key == "lr" and lr.n == 6
    assert best_values(runs, "val/loss")[:2] == [None, None]


def test_a_key_constant_among_the_runs_with_the_metric_is_noted():
    runs = [rec(i, {"bs": 32, "lr": 1e-3 * (i + 1)}, 1.0 + i) for i in range(6)]
    runs.append(rec(6, {"bs": 64, "lr": 1.0}))  # the only other bs never logged the metric
    result = {k.key: k for k in key_importance(runs, "val/loss")}
    assert result["bs"].score is None and "one value" in result["bs"].note
    assert result["lr"].score == pytest.approx(1.0)
    assert [k.key for k in key_importance(runs, "val/loss")] == ["lr", "bs"]  # noted keys come last


def test_every_run_its_own_category_tells_nothing():
    runs = [rec(i, {"tag": f"t{i}"}, float(i)) for i in range(6)]
    (tag,) = key_importance(runs, "val/loss")
    assert tag.score is None and tag.note == "every run has its own value"


def test_numeric_strings_count_as_numbers_and_a_given_diff_is_used():
    runs = [rec(i, {"lr": str(10 ** -(i + 1))}, 5.0 - i) for i in range(6)]
    diff = config_diff(runs)
    (lr,) = key_importance(runs, "val/loss", diff=diff)
    assert lr.kind == "numeric" and lr.score == pytest.approx(1.0)  # a smaller lr, a smaller loss


def test_ranks_and_spearman_with_ties_match_the_textbook():
    assert ranks([10, 20, 20, 30]).tolist() == [1.0, 2.5, 2.5, 4.0]
    # Pearson's r on the tied ranks, worked by hand: x ranks 1..5, y = [5, 6, 7, 8, 7] -> ranks 1, 2, 3.5, 5, 3.5
    x, y = np.array([1, 2, 3, 4, 5.0]), np.array([5, 6, 7, 8, 7.0])
    rx, ry = np.array([1, 2, 3, 4, 5.0]), np.array([1, 2, 3.5, 5, 3.5])
    expected = np.corrcoef(rx, ry)[0, 1]
    assert spearman(x, y) == pytest.approx(expected)
    assert math.isnan(spearman(x, np.ones(5)))


def test_kruskal_epsilon_matches_h_over_n_minus_one():
    groups = ["a", "a", "a", "b", "b", "b", "c", "c"]
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    # H without ties: 12/(n(n+1)) * sum(R_i^2/n_i) - 3(n+1); ranks are the values themselves
    n = 8
    sums = {"a": 6.0, "b": 15.0, "c": 15.0}
    sizes = {"a": 3, "b": 3, "c": 2}
    h = 12 / (n * (n + 1)) * sum(sums[g] ** 2 / sizes[g] for g in sums) - 3 * (n + 1)
    eps, best = kruskal_epsilon(groups, values)
    assert eps == pytest.approx(h / (n - 1)) and best == "a"
    assert kruskal_epsilon(groups, values, maximise=True)[1] == "c"


def test_a_metric_spelled_otherwise_counts_and_an_unknown_one_is_an_error():
    runs = [rec(i, {"lr": 10.0 ** -i}, 5.0 - i, metric="val/loss" if i % 2 else "val_loss") for i in range(6)]
    (lr,) = key_importance(runs, "val/loss")
    assert lr.n == 6 and lr.score == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no run has a metric 'val/acc'"):
        key_importance(runs, "val/acc")
