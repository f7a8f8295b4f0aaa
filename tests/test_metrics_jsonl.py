"""metrics.jsonl loading: fast path, non-finite values, resume markers, corrupt lines, and the cache."""

from __future__ import annotations

import math

import numpy as np
import pytest

from runyard.reading import metrics_jsonl as metricsio


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def _write(path, lines):
    path.write_text("".join(x + "\n" for x in lines))


def test_nonfinite_values_are_kept_and_told_apart_from_absent(tmp_path):
    path = tmp_path / "m.jsonl"
    _write(path, ['{"step":0,"time":1.0,"a":1,"b":2}', '{"step":1,"time":2.0,"a":"nan"}',
                  '{"step":2,"time":3.0,"a":"inf","b":"-inf"}'])
    data = metricsio.load(path)
    df = data.frame()
    assert df["a"].iloc[0] == 1.0 and math.isnan(df["a"].iloc[1]) and df["a"].iloc[2] == math.inf
    assert df["b"].iloc[2] == -math.inf
    present = data.present()
    assert present["a"].tolist() == [True, True, True] and present["b"].tolist() == [True, False, True]
    assert df["step"].dtype == np.int64 and df["a"].dtype == np.float64


def test_resume_marker_supersedes_earlier_rows_at_or_after_its_step(tmp_path):
    path = tmp_path / "m.jsonl"
    _write(path, [*(f'{{"step":{s},"time":{s},"loss":{s}}}' for s in range(10)),
                  '{"_event":"resume","step":6,"time":20}',
                  *(f'{{"step":{s},"time":{20 + s},"loss":{100 + s}}}' for s in range(6, 8))])
    df = metricsio.load(path).frame()
    assert df["step"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert df["loss"].tolist()[-2:] == [106.0, 107.0]


def test_corrupt_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"step":0,"time":1.0,"a":1}\n\x00\x00garbage\n{"step":1,"time":2.0,"a":2}\n'
                     b'{"step":2,"time":3.0,"a":"oops"}\n{"step":"x"}\n{"step":3,"ti')
    data = metricsio.load(path)
    assert data.frame()["step"].tolist() == [0, 1, 2] and data.skipped == 2
    assert math.isnan(data.frame()["a"].iloc[2])


def test_missing_and_empty_files(tmp_path):
    assert metricsio.load(tmp_path / "nope.jsonl").frame().empty
    (tmp_path / "e.jsonl").write_bytes(b"")
    assert list(metricsio.load(tmp_path / "e.jsonl").frame().columns) == ["step", "time"]


def _big(path, rows, start=0):
    with open(path, "a") as fh:
        for s in range(start, start + rows):
            fh.write(f'{{"step":{s},"time":{1e9 + s},"loss":{1 / (s + 1)},"lr":0.001}}\n')


def test_cache_is_reused_and_extended_when_the_file_grows(tmp_path):
    path = tmp_path / "m.jsonl"
    _big(path, 30_000)
    first = metricsio.load(path)
    cache_files = list((tmp_path / "cache" / "metrics").iterdir())
    assert len(cache_files) == 2
    _big(path, 500, start=30_000)
    grown = metricsio.load(path)
    assert grown.frame()["step"].tolist() == list(range(30_500))
    assert first.end < grown.end == path.stat().st_size


def test_cache_of_a_rewritten_file_is_not_trusted(tmp_path):
    path = tmp_path / "m.jsonl"
    _big(path, 30_000)
    metricsio.load(path)
    path.unlink()
    _big(path, 30_000, start=7)  # same size, other content
    assert metricsio.load(path).frame()["step"].iloc[0] == 7


def test_corrupt_cache_is_rebuilt(tmp_path):
    path = tmp_path / "m.jsonl"
    _big(path, 30_000)
    metricsio.load(path)
    for f in (tmp_path / "cache" / "metrics").iterdir():
        f.write_bytes(b"\x00garbage")
    assert len(metricsio.load(path).frame()) == 30_000


def test_large_file_with_a_bad_line_and_a_partial_tail(tmp_path):
    path = tmp_path / "m.jsonl"
    _big(path, 20_000)
    with open(path, "ab") as fh:
        fh.write(b"\x00garbage\n")
    _big(path, 20_000, start=20_000)
    with open(path, "ab") as fh:
        fh.write(b'{"step":40000,"ti')  # still being written
    data = metricsio.load(path, use_cache=False)
    assert data.skipped == 1 and len(data.frame()) == 40_000
    assert data.end == path.stat().st_size - len(b'{"step":40000,"ti')
