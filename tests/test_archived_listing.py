"""Runs archived compressed (`archive/<rel>.tar.zst` + manifest) are listed from their manifest, without opening
the archive, and open read-only from one verified extraction in the cache folder; a broken one is a line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable

import runyard
from runyard.ops import tarformat
from runyard.ops.tarzst import archive_paths, write_archive, write_manifest
from runyard.tui.app import RunyardApp
from runyard.tui.screens.run import RunScreen
from runyard.tui.widgets.log_view import LogView

from .conftest import PROJECT, child_env
from .test_app import wait_for
from .test_run_screen import open_all

FIX = Path(__file__).parent / "fixtures" / "foreign"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def trained(root: Path, name: str = "alpha", rel: str = "") -> Path:
    run = runyard.init(name, root=root / rel if rel else root, config={"lr": 0.01, "max_steps": 40},
                       console=False, system_metrics=False, tags=["kept"])
    for step in range(40):
        run.log({"train/loss": 3.0 - step * 0.05, "val/loss": 3.2 - step * 0.04}, step=step)
        if step % 10 == 0:
            run.logger.info("step %d went well", step)
    ckpts = run.path / "checkpoints"
    ckpts.mkdir(exist_ok=True)
    weights = ckpts / "step_30.pt"
    weights.write_bytes(os.urandom(200_000))
    run.add_checkpoint(weights, step=30, metrics={"val/loss": 2.0})
    run.finish()
    return run.path


def compress(root: Path, run: Path) -> tuple[Path, Path]:
    """Archive `run` compressed as the archive operation does, and remove the original."""
    tar, man = archive_paths(root, run.relative_to(root))
    write_manifest(write_archive(run, tar), man)
    shutil.rmtree(run)
    return tar, man


def extractions(tmp_path: Path) -> list[Path]:
    base = tmp_path / "cache" / "archives"
    return sorted(base.iterdir()) if base.exists() else []


def cli(*args: str, cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runyard.tui.cli", *args], cwd=PROJECT, capture_output=True,
                          text=True, env=child_env(RUNYARD_CACHE_DIR=str(cache), PYTHONIOENCODING="utf-8"),
                          timeout=120)


def test_listed_from_the_manifest_without_opening_the_archive(tmp_path):
    root = tmp_path / "runs"
    run = trained(root, rel="exp1")
    view = runyard.open_run(run)
    run_id, rel = view.info.id, run.relative_to(root).as_posix()
    tar, _ = compress(root, run)
    assert tar == root / "archive" / f"{rel}.tar.zst"
    (record,) = runyard.scan(root)
    info = record.info
    assert info.archived and info.path == tar and info.format == "runyard/1 archived (compressed)"
    assert (info.id, info.name, info.status, info.tags, info.last_step) == (run_id, "alpha", "finished", ["kept"], 39)
    assert record.config == {"lr": 0.01, "max_steps": 40}
    assert record.summary["val/loss"].min == pytest.approx(3.2 - 39 * 0.04)
    assert record.summary["val/loss"].direction == "min"
    assert extractions(tmp_path) == []  # listing never decompressed anything
    again = runyard.scan(root)[0]  # and the second listing comes from the scan cache, the same
    assert again.info.format == info.format and again.summary["val/loss"].min == record.summary["val/loss"].min
    out = cli("ls", str(root), cache=tmp_path / "cache")
    assert out.returncode == 0 and f"archive/{rel}.tar.zst" in out.stdout and "archived (compressed)" in out.stdout


def test_opening_reads_one_verified_extraction(tmp_path):
    root = tmp_path / "runs"
    tar, _ = compress(root, trained(root))
    view = runyard.open_run(tar, root)
    assert view.info.archived and view.info.extra["archive"]["run"] == tar.name.removesuffix(".tar.zst")
    df = view.metrics()
    assert len(df) == 40 and df["train/loss"].iloc[-1] == pytest.approx(3.0 - 39 * 0.05)
    (made,) = extractions(tmp_path)
    assert view.log_path is not None and view.log_path.is_relative_to(made)
    assert "step 30 went well" in view.log_path.read_text()
    (ckpt,) = view.checkpoints
    # named where it lies, inside the archive: the extraction's copy is hollow and must not be handed out
    assert ckpt.step == 30 and ckpt.path == tar / "checkpoints" / "step_30.pt"
    # the extraction has it with its size, without its data: reading costs no disk for it
    hollow = made / "checkpoints" / "step_30.pt" if (made / "checkpoints").is_dir() else next(made.rglob("step_30.pt"))
    assert hollow.stat().st_size == 200_000 and hollow.stat().st_blocks == 0
    stamp = made.stat().st_mtime_ns, made.stat().st_ino
    assert len(runyard.open_run(tar, root).metrics()) == 40
    assert extractions(tmp_path) == [made] and (made.stat().st_mtime_ns, made.stat().st_ino) == stamp


def test_a_new_version_of_the_archive_is_extracted_anew(tmp_path):
    root = tmp_path / "runs"
    run = trained(root)
    tar, man = archive_paths(root, run.name)
    write_manifest(write_archive(run, tar), man)
    runyard.open_run(tar, root).metrics()
    (first,) = extractions(tmp_path)
    with (run / "training.log").open("a") as log:
        log.write("a line added before archiving again\n")
    tar.unlink()
    write_manifest(write_archive(run, tar), man)
    view = runyard.open_run(tar, root)
    assert "added before archiving again" in view.log_path.read_text()
    (second,) = extractions(tmp_path)
    assert second != first


def test_show_says_archived_compressed(tmp_path):
    root = tmp_path / "runs"
    tar, _ = compress(root, trained(root))
    out = cli("show", str(tar), "--root", str(root), cache=tmp_path / "cache")
    assert out.returncode == 0, out.stderr
    assert "archived (compressed)" in out.stdout and "val/loss" in out.stdout and "step_30.pt" in out.stdout
    by_name = cli("show", "alpha", "--root", str(root), cache=tmp_path / "cache")
    assert by_name.returncode == 0 and "archived (compressed)" in by_name.stdout
    assert cli("tail", str(tar), "--root", str(root), cache=tmp_path / "cache").stdout.count("went well") == 4


def test_a_damaged_archive_is_listed_and_refuses_to_open_in_one_line(tmp_path):
    root = tmp_path / "runs"
    tar, _ = compress(root, trained(root))
    data = bytearray(tar.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tar.write_bytes(bytes(data))
    (record,) = runyard.scan(root)
    assert record.info.error is None and record.info.name == "alpha"  # the manifest still lists it
    out = cli("show", str(tar), "--root", str(root), cache=tmp_path / "cache")
    assert out.returncode == 1 and out.stderr.startswith("runyard: error: ") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr and extractions(tmp_path) == []


def test_broken_pairs_are_unreadable_runs_with_a_reason(tmp_path):
    root = tmp_path / "runs"
    gone_tar, _ = compress(root, trained(root, "one"))
    gone_tar.unlink()  # its manifest is left alone
    tar, man = compress(root, trained(root, "two"))
    man.unlink()  # an archive being written (or left unfinished)
    _, broken = compress(root, trained(root, "three"))
    broken.write_text('{"format": "runyard-archive/1", "entries": ')
    records = {r.info.path.name: r for r in runyard.scan(root)}
    assert len(records) == 3
    reasons = {name: r.info.error for name, r in records.items()}
    assert all(reason and "\n" not in reason for reason in reasons.values()), reasons
    assert "only its manifest" in reasons[gone_tar.name]
    assert "manifest.json" in reasons[tar.name] and "being written" in reasons[tar.name]
    assert "not a runyard archive manifest" in next(v for k, v in reasons.items() if k.startswith("three"))
    out = cli("ls", str(root), cache=tmp_path / "cache")
    assert out.returncode == 0 and "Traceback" not in out.stderr


def test_archives_share_a_folder_with_runs_archived_plain(tmp_path):
    root = tmp_path / "runs"
    compress(root, trained(root, "packed"))
    plain = root / "archive" / "log_run_20240716_143052.txt"
    shutil.copy(FIX / "nanogpt/logs/log_run_20240716_143052.txt", plain)
    (root / "archive" / "folder_run").mkdir()
    shutil.copy(FIX / "nanogpt/logs/log_run_20240717_091511.txt", root / "archive" / "folder_run")
    found = {(r.info.format, r.info.archived) for r in runyard.scan(root)}
    assert found == {("runyard/1 archived (compressed)", True), ("nanogpt", True)} and len(runyard.scan(root)) == 3


def test_outside_archive_only_whole_pairs_are_runs(tmp_path):
    root = tmp_path / "runs"
    tar, man = compress(root, trained(root))
    elsewhere = root / "backups"
    elsewhere.mkdir()
    shutil.copy(tar, elsewhere / tar.name)
    shutil.copy(man, elsewhere / man.name)
    (elsewhere / "dataset-shard-0.tar.zst").write_bytes(b"not ours")
    paths = sorted(r.info.path.relative_to(root).as_posix() for r in runyard.scan(root))
    assert paths == [f"archive/{tar.name}", f"backups/{tar.name}"]


async def test_the_app_opens_a_compressed_run(tmp_path):
    root = tmp_path / "runs"
    compress(root, trained(root))
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_all(app, pilot, 1)
        log = screen.query_one(LogView)
        await wait_for(app, pilot, lambda: log.line_count >= 4)
        await pilot.press("5")
        table = screen.query_one("#info-table", DataTable)
        await wait_for(app, pilot, lambda: table.row_count > 0)
        cells = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert cells["format"] == "runyard/1 archived (compressed)" and cells["path"].endswith(".tar.zst")
        assert isinstance(app.screen, RunScreen)


def test_a_hostile_manifest_name_never_leaves_the_cache(tmp_path):
    root = tmp_path / "runs"
    tar, man = compress(root, trained(root))
    text = man.read_text().replace(f'"name": "{tar.name.removesuffix(".tar.zst")}"', '"name": "../../escape"', 1)
    man.write_text(text)
    (record,) = runyard.scan(root)
    assert record.info.error and "not a runyard archive manifest" in record.info.error
    assert not (tmp_path / "escape").exists() and tarformat.FORMAT in man.read_text()
