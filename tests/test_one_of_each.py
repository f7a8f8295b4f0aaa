"""One of each: the JSONL reader every file goes through, the resume rule, the liveness rules and the small helpers
that used to have twins. Each is checked for what it does, and the source is checked for stray copies."""

from __future__ import annotations

import ast
import json
import os
import random
import re
import time
from pathlib import Path

import numpy as np
import pytest

import runyard
from runyard import contract, liveness
from runyard.contract import resume_cuts, standing_rows
from runyard.jsonl import Skipped, as_float, as_int, iter_records, read_records
from runyard.layouts.runyard import RunyardSource
from runyard.layouts.textlog import TextLogSource
from runyard.model import CRASHED, RUNNING, STALLED, RunInfo
from runyard.reading import metrics_jsonl
from runyard.reading.tail import MetricsTail
from runyard.writer.checkpoints import CheckpointBook
from runyard.writer.folder import RunFolder
from runyard.writer.run import read_rows
from tests.conftest import PROJECT

TRACKER = PROJECT / "tracker"


def records(data, **kw) -> tuple[list[dict], int]:
    skipped = Skipped()
    return list(iter_records(data, skipped, **kw)), skipped.lines


def sources() -> dict[Path, str]:
    return {p: p.read_text() for p in sorted(TRACKER.rglob("*.py"))}


# ----- the JSONL reader ------------------------------------------------------------------------------------

def test_good_lines_blank_lines_and_line_endings():
    data = b'{"step":0}\n\n  \n{"step":1}\r\n{"step":2}'
    assert records(data) == ([{"step": 0}, {"step": 1}, {"step": 2}], 0)


def test_bad_lines_are_skipped_and_counted():
    data = b'{"step":0}\n\x00\x00garbage\n[1, 2]\n"text"\n42\n{"step":1}\n'
    assert records(data) == ([{"step": 0}, {"step": 1}], 4)


def test_a_truncated_last_line_is_counted_and_its_inner_dict_is_not_a_record():
    cut = b'{"step":0,"metrics":{"val/loss":1.5}'
    assert records(b'{"step":0}\n' + cut) == ([{"step": 0}], 1)
    assert records(b'{"step":0,"lo') == ([], 1)


def test_glued_lines_keep_every_whole_record():
    # a writer killed mid-line, then a resumed one appending: the cut record is lost, the marker after it is not
    killed_then_resumed = b'{"step":7,"time":1.5,"lo{"_event":"resume","step":5,"time":9.0}\n'
    assert records(killed_then_resumed) == ([{"_event": "resume", "step": 5, "time": 9.0}], 1)
    # two whole records without the newline between them
    assert records(b'{"step":1}{"step":2}\n{"step":3} {"step":4}\n') == ([{"step": i} for i in range(1, 5)], 0)
    # a record cut inside a nested dict, then a whole one: the nested dict is never taken for a record
    assert records(b'{"step":1,"metrics":{"a":1}{"step":2}\n') == ([{"step": 2}], 1)
    # garbage, a record, garbage again: two bad stretches
    assert records(b'xx{"step":1}{"st\n') == ([{"step": 1}], 2)


def test_text_and_lists_of_lines_read_alike():
    text = '{"step":0}\nnope\n{"step":1}'
    assert records(text) == records(text.encode()) == records(text.encode().split(b"\n")) == \
        ([{"step": 0}, {"step": 1}], 1)


def test_a_long_glued_line_is_read_in_linear_time():
    line = b"".join(b'{"step":%d,"loss":1.5}' % i for i in range(20_000))
    started = time.perf_counter()
    found, bad = records(line)
    assert (len(found), bad) == (20_000, 0) and time.perf_counter() - started < 5


def test_read_records_of_a_missing_file_is_empty(tmp_path):
    assert read_records(tmp_path / "nope.jsonl") == []


def test_every_jsonl_reader_of_the_tracker_uses_the_shared_one():
    stray = [f"{p.relative_to(PROJECT)}" for p, text in sources().items()
             if p.name != "jsonl.py" and re.search(r"loads\(line\)|\.splitlines\(\)\s*:\s*\n\s*try:", text)]
    assert stray == []
    users = {p.relative_to(TRACKER).as_posix() for p, text in sources().items()
             if re.search(r"\b(iter_records|read_records)\b", text) and p.name != "jsonl.py"}
    assert users >= {"writer/run.py", "writer/checkpoints.py", "layouts/runyard.py", "reading/tail.py",
                     "reading/metrics_jsonl.py"}


GLUED_METRICS = (b'{"step":0,"time":1.0,"loss":3.0}\n{"step":1,"time":2.0,"loss":2.0}\n'
                 b'{"step":2,"time":3.0,"lo{"_event":"resume","step":1,"time":4.0}\n'
                 b'{"step":1,"time":5.0,"loss":1.0}\nnot json\n')


def test_glued_resume_marker_is_honoured_by_every_metrics_reader(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(GLUED_METRICS)
    data = metrics_jsonl.load(path, use_cache=False)
    assert data.frame()["step"].tolist() == [0, 1] and data.frame()["loss"].tolist() == [3.0, 1.0]
    assert data.skipped == 2
    assert [(r["step"], r["loss"]) for r in read_rows(path)] == [(0, 3.0), (1, 1.0)]
    chunk = MetricsTail(path).read()
    assert chunk.resumes == [1] and chunk.skipped == 2 and [r["step"] for r in chunk.rows] == [0, 1, 1, 1]


def test_checkpoint_index_and_samples_survive_bad_lines(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "a.pt").write_bytes(b"a")
    (tmp_path / "checkpoints" / "b.pt").write_bytes(b"b")
    (tmp_path / "checkpoints" / "index.jsonl").write_bytes(
        b'{"step":1,"time":1.0,"file":"checkpoints/a.pt","bytes":1,"metrics":{"val/loss":2.0}}\n'
        b'\x00garbage\n{"step":2,"time":2.0,"file":"checkpoints/b.pt","bytes":"x","metrics":{"val/l'
        b'{"step":2,"time":2.5,"file":"checkpoints/b.pt","bytes":1,"metrics":{}}\n{"step":3}\n')
    (tmp_path / "samples.jsonl").write_bytes(b'{"step":1,"time":1.0,"text":"hi"}{"step":2,"time":2.0,"text":"yo"}\n'
                                             b'{"step":3,"te')
    folder = RunFolder(tmp_path)
    book = CheckpointBook(folder)
    assert [(e.step, e.file) for e in book.entries] == [(1, "checkpoints/a.pt"), (2, "checkpoints/b.pt")]
    folder.close()
    source = RunyardSource(tmp_path)
    assert [(c.step, c.time, c.bytes) for c in source.checkpoints()] == [(1, 1.0, 1), (2, 2.5, 1)]
    assert [s.text for s in source.samples()] == ["hi", "yo"]


# ----- the resume rule -------------------------------------------------------------------------------------

def test_resume_cuts_say_which_rows_stand():
    assert resume_cuts([]) == []
    assert resume_cuts([(3, 2), (6, 5), (8, 1)]) == [(0, 3, 1), (4, 6, 1), (7, 8, 1)]
    assert resume_cuts([(2, 4), (5, 9)]) == [(0, 2, 4), (3, 5, 9)]


def _random_lines(rng: random.Random) -> list[dict]:
    lines, step = [], 0
    for _ in range(rng.randint(0, 40)):
        if rng.random() < 0.15:
            step = rng.randint(0, step + 1)
            lines.append({"_event": "resume", "step": step, "time": 0.0})
        else:
            lines.append({"step": step, "time": 0.0, "v": float(len(lines))})
            step += 1
    return lines


def test_every_reader_applies_the_one_resume_rule(tmp_path):
    rng = random.Random(7)
    for case in range(60):
        lines = _random_lines(rng)
        expected = [(r["step"], r["v"]) for r in standing_rows(lines)]
        path = tmp_path / f"m{case}.jsonl"
        path.write_bytes(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
        frame = metrics_jsonl.load(path, use_cache=False).frame()
        assert list(zip(frame["step"].tolist(), frame["v"].tolist() if "v" in frame else [], strict=True)) == \
            expected
        assert [(r["step"], r["v"]) for r in read_rows(path)] == expected


def test_standing_rows_by_hand():
    lines = [{"step": i} for i in range(4)] + [{"_event": "resume", "step": 2}] + [{"step": 2}, {"step": 3}] + \
        [{"_event": "note", "step": 9}, {"step": "x"}]
    assert standing_rows(lines) == [{"step": 0}, {"step": 1}, {"step": 2}, {"step": 3}]


def test_a_resumed_run_starts_a_fresh_line_after_a_cut_one(root):
    with runyard.init("cut", root=root, console=False, system_metrics=False) as run:
        for step in range(3):
            run.log({"loss": 1.0}, step=step)
    with (run.path / "metrics.jsonl").open("ab") as fh:
        fh.write(b'{"step":3,"time":1.0,"lo')  # killed in the middle of a write
    with runyard.init(resume=run.path, root=root, console=False, system_metrics=False) as again:
        again.log({"loss": 0.5}, step=2)
    lines = (run.path / "metrics.jsonl").read_bytes().split(b"\n")
    assert lines[3] == b'{"step":3,"time":1.0,"lo' and json.loads(lines[4])["_event"] == "resume"
    assert [(r["step"], r["loss"]) for r in read_rows(run.path / "metrics.jsonl")] == [(0, 1.0), (1, 1.0), (2, 0.5)]


# ----- liveness ----------------------------------------------------------------------------------------------

def test_liveness_constants_and_rules_exist_once():
    texts = sources()
    defined = {name: [p.name for p, t in texts.items() if re.search(rf"^{name}\s*=", t, re.M)]
               for name in ("STALE_AFTER", "HEARTBEAT_MISSES", "STALL_FACTOR", "STALL_FLOOR")}
    assert defined == {name: ["liveness.py"] for name in defined}
    for rule in ("def pid_alive", "def _pid_alive", "def interval_median", "def _median_gap", "def _interval_median"):
        assert [p.name for p, t in texts.items() if rule + "(" in t] in (["liveness.py"], [])
    assert [p.name for p, t in texts.items()
            if p.name != "liveness.py" and re.search(r"os\.kill\(|(?<!interval_)median\(|gethostname", t)] == []
    assert not [p for p, t in texts.items() if re.search(r"\b3 \* (interval|info\.heartbeat)", t)]


def test_heartbeat_pid_and_stall_rules():
    now = 10_000.0
    base = dict(id="a", name="a", path=Path("a"), format="runyard/1", status=RUNNING)
    beat = RunInfo(**base, heartbeat=now - 29, heartbeat_interval=10)
    assert liveness.derive_status(beat, now) == RUNNING
    beat.heartbeat = now - 31
    assert liveness.derive_status(beat, now) == CRASHED
    assert liveness.heartbeat_stale(now - 31, None, now) and not liveness.heartbeat_stale(None, 10, now)
    gone = RunInfo(**base, pid=2**22 + 12345, host=liveness.this_host())
    assert not liveness.pid_alive(gone.pid) and liveness.derive_status(gone, now) == CRASHED
    elsewhere = RunInfo(**base, pid=2**22 + 12345, host="another-host")
    assert liveness.derive_status(elsewhere, now) == RUNNING
    assert liveness.pid_alive(os.getpid()) and not liveness.pid_alive(0) and not liveness.pid_alive("12")
    quiet = RunInfo(**base, last_write=now - 121, interval_median=1.0)
    assert liveness.derive_status(quiet, now) == STALLED
    quiet.interval_median = 10.0
    assert liveness.derive_status(quiet, now) == RUNNING


def test_interval_median_ignores_ties_clock_steps_and_nan_alike_for_lists_and_arrays():
    times = [0.0, 1.0, 1.0, 3.0, float("nan"), 2.5, 5.0, 8.0]
    assert liveness.interval_median(times) == liveness.interval_median(np.array(times)) == 2.25  # 1, 2, 2.5, 3
    assert liveness.interval_median([1.0]) is None and liveness.interval_median(np.array([1.0, 1.0])) is None


def test_every_layout_without_a_heartbeat_goes_quiet_after_the_same_time(tmp_path, monkeypatch):
    log = tmp_path / "train.log"
    log.write_text("step 1: train loss 2.0, val loss 2.5\n")
    old = time.time() - 60
    os.utime(log, (old, old))
    assert liveness.derive_status(TextLogSource(log).read_info()) == "running"
    monkeypatch.setattr(liveness, "STALE_AFTER", 30.0)
    assert liveness.derive_status(TextLogSource(log).read_info()) == "interrupted"
    assert liveness.went_quiet(old) and not liveness.went_quiet(time.time())


def test_the_writer_finds_a_run_folder_under_its_own_name():
    from runyard.writer import start

    assert hasattr(start, "find_run_dir") and not hasattr(start, "find_run")
    assert runyard.find_run.__module__ == "runyard.reading.api"


# ----- numbers from JSON -------------------------------------------------------------------------------------

def test_number_coercion_has_one_home():
    assert [as_float(v) for v in (1, 2.5, True, "3", None, 10**400)] == [1.0, 2.5, None, None, None, None]
    assert [as_int(v) for v in (1, 2.9, False, "3", float("nan"), float("inf"))] == [1, 2, None, None, None, None]
    twins = [p.name for p, t in sources().items() if re.search(r"def _(as_)?(float|int)\(", t)]
    assert twins == []


def code_strings(text: str) -> set[str]:
    """The string constants of a module's code, docstrings left out."""
    tree = ast.parse(text)
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs}


@pytest.mark.parametrize("name", ["EVENT", "RESUME", "DELETE"])
def test_event_names_come_from_the_contract(name):
    value = getattr(contract, name)
    stray = [p.name for p, t in sources().items() if p.name != "contract.py" and value in code_strings(t)]
    assert stray == []
