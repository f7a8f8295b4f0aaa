"""Following a W&B log as it grows: every state equals a fresh full read; truncation, replacement and rewrites
are read again; the disk cache is trusted only for the very file it describes."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from runyard.layouts import wandb as wandb_layout
from runyard.layouts.wandb import WandbRun
from runyard.reading import follow
from tests.test_wandb_decoder import _item, damage, fresh, pb, random_records, reference, snapshot, write
from tests.wandblog import frame_log


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def plain_records(steps: int, lr: str = "0.1", start: int = 0) -> list[bytes]:
    """History and summary records as wandb writes them, for steps `start`.. (`lr` the same length always)."""
    out = []
    for step in range(start, start + steps):
        record = pb.Record(num=2 * step + 3)
        keys = [("_step", str(step)), ("_timestamp", repr(1.7e9 + step)), ("loss", repr(1 / (step + 1))),
                ("lr", lr), ("epoch", str(step // 100))]
        random.Random(step).shuffle(keys)
        for key, value in keys:
            _item(record.history.item, [key], value)
        record.history.step.num = step
        out.append(record.SerializeToString())
        summary = pb.Record(num=2 * step + 4)
        for key, value in keys:
            _item(summary.summary.update, [key], value)
        _item(summary.summary.update, ["_wandb", "runtime"], str(step))
        out.append(summary.SerializeToString())
    return out


def _append(path: Path, data: bytes, upto: int) -> None:
    with path.open("ab") as fh:
        fh.write(data[path.stat().st_size:upto])


def test_every_byte_boundary_of_a_small_log(tmp_path: Path) -> None:
    """Cut anywhere (in the header, a chunk header, a record), the followed run reads as the file reads."""
    rng = random.Random(3)
    records = [r for r in random_records(rng, 40) if len(r) < 400][:14]
    data = frame_log(records)
    path = write(tmp_path / "offline-run-20260101_000000-s", b"")
    run = WandbRun(path.parent, path)
    for upto in range(len(data) + 1):
        _append(path, data, upto)
        assert snapshot(run) == fresh(path), upto


def test_growing_across_blocks_in_pieces_reads_as_a_fresh_read(tmp_path: Path) -> None:
    """Records split FIRST/MIDDLE/LAST over blocks, block trailers and damage, appended in pieces and byte by
    byte around each block boundary."""
    rng = random.Random(11)
    data = damage(frame_log(random_records(rng, 150)), rng, 3)
    assert 3 * 32768 < len(data) < 200_000
    path = write(tmp_path / "offline-run-20260101_000000-g", b"")
    run = WandbRun(path.parent, path)
    windows = [b - 40 for b in range(32768, 4 * 32768, 32768)]  # byte by byte from here to 20 past a block
    upto = 0
    while upto < len(data):
        if any(w <= upto < w + 60 for w in windows):
            upto += 1
        else:
            step = upto + rng.choice([1, 7, 40, 333, 2000, 9000, 30000])
            upto = min([len(data), step, *(w for w in windows if upto < w)])
        _append(path, data, upto)
        assert snapshot(run) == fresh(path), upto
    assert run.read_info().rows > 30


def test_truncation_replacement_and_rewrites_are_read_again(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(8)
    first = frame_log(random_records(rng, 400))
    path = write(tmp_path / "offline-run-20260101_000000-t", first)
    run = WandbRun(path.parent, path)
    assert snapshot(run) == reference(run, monkeypatch)
    path.write_bytes(first[:len(first) // 2])  # truncated
    assert snapshot(run) == reference(run, monkeypatch)
    other = frame_log(random_records(random.Random(9), 400))
    path.write_bytes(other)  # rewritten in place
    assert snapshot(run) == reference(run, monkeypatch)
    replacement = tmp_path / "new"
    replacement.write_bytes(first)
    os.replace(replacement, path)  # replaced: another inode
    assert snapshot(run) == reference(run, monkeypatch)


def test_a_same_size_same_mtime_rewrite_is_not_taken_from_the_disk_cache(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    data = frame_log(plain_records(3000))
    assert len(data) > 300_000  # big enough for the disk cache
    path = write(tmp_path / "offline-run-20260101_000000-c", data)
    first = snapshot(WandbRun(path.parent, path))
    # the disk cache holds it: a new reader reads no record
    with monkeypatch.context() as m:
        m.setattr(wandb_layout._Reader, "_take", lambda self, frames: pytest.fail("decoded again"))
        assert snapshot(WandbRun(path.parent, path)) == first
    stat = path.stat()
    rewritten = frame_log(plain_records(3000, lr="0.2"))
    assert len(rewritten) == len(data)
    path.write_bytes(rewritten)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    again = WandbRun(path.parent, path)
    assert snapshot(again) == reference(again, monkeypatch)
    assert set(again.metrics_data().values["lr"].tolist()) == {0.2}


def test_reopening_from_the_disk_cache_then_following(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = frame_log(plain_records(3000))
    path = write(tmp_path / "offline-run-20260101_000000-r", data)
    snapshot(WandbRun(path.parent, path))
    more = _framed_after(len(data), plain_records(500, start=3000))
    _append(path, data + more, len(data) + len(more) - 11)  # the last record cut short
    run = WandbRun(path.parent, path)
    assert snapshot(run) == reference(run, monkeypatch)
    assert run.read_info().pending_lines == 1
    _append(path, data + more, len(data) + len(more))
    assert snapshot(run) == reference(run, monkeypatch)
    assert run.read_info().rows == 3500
    reopened = WandbRun(path.parent, path)
    assert snapshot(reopened) == snapshot(run)


def _framed_after(size: int, payloads: list[bytes]) -> bytes:
    """`payloads` framed as the chunks that follow a log of `size` bytes (the block position goes on)."""
    return frame_log(payloads, after=size)


def test_metrics_upto_reads_a_big_log_in_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = frame_log(plain_records(3000))
    path = write(tmp_path / "offline-run-20260101_000000-u", data)
    run = WandbRun(path.parent, path)
    seen: list[int] = []
    while True:
        columns = run.metrics_upto(64 << 10)
        seen.append(len(columns))
        if columns.complete:
            break
        assert len(seen) < 100
    assert len(seen) > 5 and seen == sorted(seen) and seen[-1] == 3000
    assert snapshot(run) == reference(run, monkeypatch)


def test_a_read_in_pieces_equals_a_read_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole log read in small pieces (as a big one is) reads as it reads at once."""
    rng = random.Random(21)
    path = write(tmp_path / "offline-run-20260101_000000-p", frame_log(random_records(rng, 1500)))
    whole = fresh(path)
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "another-cache"))
    monkeypatch.setattr(follow, "BLOCK", 5000)
    assert fresh(path) == whole


def _plain_log(rows: int, exit_code: int | None) -> bytes:
    """A run record, `rows` history rows of two metrics, then (if `exit_code` is not None) the exit record."""
    records = []
    run = pb.Record(num=1)
    run.run.run_id, run.run.display_name = "r4nd0m", "first-look"
    run.run.start_time.seconds = 1_700_000_000
    _item(run.run.config.update, "lr", "0.001")
    records.append(run.SerializeToString())
    for step in range(rows):
        history = pb.Record(num=step + 2)
        for key, value in (("_step", str(step)), ("_timestamp", str(1_700_000_000 + step * 0.5)),
                           ("loss", str(1.0 / (step + 1))), ("lr", "0.001")):
            _item(history.history.item, key, value)
        records.append(history.SerializeToString())
    if exit_code is not None:
        done = pb.Record(num=rows + 2)
        done.exit.exit_code, done.exit.runtime = exit_code, rows // 2
        records.append(done.SerializeToString())
    return frame_log(records)


@pytest.mark.parametrize("exit_code", [0, 1, None])
def test_a_first_look_tells_the_run_from_its_first_part_and_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    exit_code: int | None) -> None:
    """A screen opening on a big log at once: identity, status, last step and clock as a whole read gives them,
    from a first part and the last blocks; only the row count waits for the whole read."""
    monkeypatch.setattr(wandb_layout, "FIRST_LOOK_BYTES", 64 << 10)
    path = write(tmp_path / "offline-run-20260101_000000-r4nd0m", _plain_log(20_000, exit_code))
    assert path.stat().st_size > 10 * wandb_layout.FIRST_LOOK_BYTES
    look = WandbRun(path.parent, path).first_info()
    whole = WandbRun(path.parent, path).read_info()
    assert look.rows is None and whole.rows == 20_000
    for name in ("id", "name", "status", "created", "ended", "last_time", "last_step", "quiet_status"):
        assert getattr(look, name) == getattr(whole, name), name
    assert look.last_step == 19_999 and look.status == whole.status
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "another-cache"))  # not from the whole read's entry
    run = WandbRun(path.parent, path)
    run.first_info()
    assert run._followed.behind and run.first_config() == {"lr": 0.001}
    assert run._followed.behind  # told without reading on
