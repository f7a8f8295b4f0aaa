"""A line nested tens of thousands of levels deep (a damaged or hostile metrics file) is skipped and counted.

pyarrow's JSON reader crashes the whole process on such a line (a segfault, not an exception), so the reading
side must never hand it one. Each read runs in a child process: a crash fails the test instead of the suite.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from runyard.reading import metrics_jsonl
from tests.conftest import child_env

READ = """
import json, sys, runyard
view = runyard.open_run(sys.argv[1])
frame = view.metrics()
print(json.dumps({"steps": [int(s) for s in frame["step"]], "skipped": view.info.skipped_lines}))
"""


def rows(steps) -> str:
    return "".join(json.dumps({"step": s, "time": 1.7e9 + s, "loss": 1.0 / (s + 1)}) + "\n" for s in steps)


@pytest.mark.parametrize("opener, closer", [("[", "]"), ('{"a":', "}")])
@pytest.mark.parametrize("padding", [0, 300_000])  # small files are read whole, large ones through a memory map
def test_a_deeply_nested_line_is_skipped_not_a_crash(tmp_path, opener, closer, padding):
    run = tmp_path / "deep"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"format": "runyard/1", "name": "deep", "status": "finished"}))
    deep = '{"step": 3, "x": ' + opener * 40_000 + "1" + closer * 40_000 + "}\n"
    filler = json.dumps({"step": 1, "time": 1.7e9, "loss": 0.5, "note_pad": "p" * 200}) + "\n"
    body = rows(range(3)) + deep + rows(range(4, 6))
    if padding:  # a large file: what comes before the deep line pushes it past the memory-map threshold
        body = rows([0]) + filler * (padding // len(filler)) + deep + rows(range(4, 6))
    (run / "metrics.jsonl").write_text(body)
    done = subprocess.run([sys.executable, "-c", READ, str(run)], capture_output=True, text=True, env=child_env(),
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout)
    assert 3 not in seen["steps"] and seen["steps"][-2:] == [4, 5]  # the deep row is passed over, the rest read
    assert seen["skipped"] >= 1


def test_long_lines_are_found_by_windows():
    short = b"x" * 100 + b"\n"
    assert not metrics_jsonl.has_long_line(short * 1000)
    assert metrics_jsonl.has_long_line(short * 10 + b"y" * (2 * metrics_jsonl.LONG_LINE) + b"\n" + short)
    assert metrics_jsonl.nesting_depth(b'{"a": [[1, 2], {"b": 3}]}\n{"a": 1}\n') == 3
