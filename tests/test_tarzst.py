"""The compressed archive format: a run goes into a .tar.zst and comes back exactly (content, modes, mtimes in ns,
symlinks, hard links, empty folders, odd names); a damaged or hostile archive is an ArchiveMismatch and never
writes outside its destination."""

from __future__ import annotations

import hashlib
import io
import math
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import types
from pathlib import Path

import orjson
import pytest
import zstandard

import runyard
from runyard.errors import RunError
from runyard.ops import tarformat, tarzst
from runyard.ops.tarzst import (
    FORMAT,
    ArchiveMismatch,
    Entry,
    Manifest,
    archive_paths,
    extract_archive,
    read_manifest,
    verify_archive,
    write_archive,
    write_manifest,
)

from .conftest import PROJECT, child_env

FIX = Path(__file__).parent / "fixtures" / "foreign"
ODD = "odd name é ✓\nsecond line"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def realistic_run(root: Path) -> Path:
    """A tracker-written run with checkpoints, a symlink out of the tree, a hard link, empty folders, odd names,
    odd modes and mtimes to the nanosecond."""
    run = runyard.init("real", root=root, config={"lr": 3e-4, "layers": 2}, console=False, system_metrics=False,
                       tags=["t"])
    for step in range(50):
        run.log({"train/loss": 3.0 - step * 0.01, "val/loss": math.nan if step == 7 else 3.1 - step * 0.01},
                step=step)
    run.logger.info("hello")
    folder = run.path
    ckpts = folder / "checkpoints"
    ckpts.mkdir(exist_ok=True)
    rng = __import__("numpy").random.default_rng(0)
    for step in (10, 20):
        path = ckpts / f"ckpt_{step}.pt"
        path.write_bytes((rng.standard_normal(50_000).astype("float32") * 0.02).tobytes())
        run.add_checkpoint(path, step=step, metrics={"val/loss": 3.0 - step * 0.01})
    run.finish()
    os.symlink("/etc/hostname", folder / "outside_link")
    os.symlink("checkpoints/ckpt_20.pt", folder / "last.pt")
    os.link(ckpts / "ckpt_20.pt", folder / "best.pt")
    (folder / "empty").mkdir()
    (folder / "empty" / "deeper").mkdir()
    (folder / ODD).write_text("odd\n")
    (folder / "samples ü").mkdir()
    (folder / "samples ü" / ODD).write_bytes(b"\x00\x01binary")
    private = folder / "private.txt"
    private.write_text("secret")
    private.chmod(0o600)
    (folder / "samples ü").chmod(0o750)
    for i, path in enumerate(sorted(folder.rglob("*"), key=lambda p: -len(p.parts))):
        os.utime(path, ns=(1_700_000_000_123_456_789 + i, 1_700_000_000_123_456_789 + i), follow_symlinks=False)
    os.utime(folder, ns=(1_700_000_001_987_654_321, 1_700_000_001_987_654_321))
    return folder


def tree(top: Path) -> dict[str, tuple]:
    """Every path under `top` (itself as "."): type, mode, mtime_ns, sha256 or link target, and which paths share
    an inode (hard links), as one comparable value."""
    out: dict[str, tuple] = {}
    inodes: dict[tuple[int, int], str] = {}
    for path in [top, *sorted(top.rglob("*"))]:
        st = os.lstat(path)
        rel = "." if path == top else path.relative_to(top).as_posix()
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("link", os.readlink(path), st.st_mtime_ns)
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("dir", stat.S_IMODE(st.st_mode), st.st_mtime_ns)
        else:
            first = inodes.setdefault((st.st_dev, st.st_ino), rel)
            out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns,
                        hashlib.sha256(path.read_bytes()).hexdigest(), first)
    return out


def archive(run: Path, root: Path) -> tuple[Path, Path, Manifest]:
    tar, man = archive_paths(root, run.relative_to(root))
    manifest = write_archive(run, tar)
    write_manifest(manifest, man)
    return tar, man, manifest


def test_round_trip_is_exact(tmp_path):
    root = tmp_path / "runs"
    run = realistic_run(root)
    before = tree(run)
    seen = []
    tar, man, manifest = archive(run, root)
    assert tree(run) == before  # archiving reads, never changes a thing
    assert tar == root / "archive" / f"{run.name}.tar.zst" and man.exists()
    manifest = read_manifest(man)
    assert manifest.format == FORMAT and manifest.run == run.name and manifest.name == run.name
    assert manifest.kind == "dir" and manifest.layout == "runyard/1"
    assert manifest.created[-6] in "+-" or manifest.created.endswith("Z")  # a time with its zone
    kinds = {e.path.split("/", 1)[-1]: e for e in manifest.entries}
    assert kinds["outside_link"].type == "symlink" and kinds["outside_link"].target == "/etc/hostname"
    assert kinds["best.pt"].type == "hardlink" or kinds["checkpoints/ckpt_20.pt"].type == "hardlink"
    assert kinds[ODD].type == "file" and kinds["empty/deeper"].type == "dir"
    assert manifest.totals["archive"] == tar.stat().st_size and manifest.totals["files"] >= 8
    assert manifest.totals["apparent"] >= 400_000 and manifest.totals["disk"] >= manifest.totals["apparent"] // 2
    verify_archive(tar, manifest, progress=lambda done, total, what: seen.append((done, total)))
    assert seen[-1][0] == seen[-1][1] == sum(e.size for e in manifest.entries if e.type == "file")
    dest = tmp_path / "back" / run.name
    extract_archive(tar, manifest, dest)
    assert tree(dest) == before
    assert os.readlink(dest / "outside_link") == "/etc/hostname"  # recreated as a link, never followed


def test_the_listing_facts_are_the_reading_sides(tmp_path):
    root = tmp_path / "runs"
    run = realistic_run(root)
    view = runyard.open_run(run)
    _, man, _ = archive(run, root)
    manifest = read_manifest(man)
    info = manifest.info
    assert (info["id"], info["name"], info["status"], info["tags"]) == (view.info.id, "real", "finished", ["t"])
    assert info["last_step"] == 49 and info["created"] == pytest.approx(view.info.created)
    assert manifest.config == {"lr": 3e-4, "layers": 2}
    assert manifest.summary["val/loss"]["min"] == pytest.approx(view.summary["val/loss"].min)
    raw = orjson.loads(man.read_bytes())  # the file is plain JSON: no NaN token anywhere
    assert raw["format"] == FORMAT and "NaN" not in man.read_text()


def test_nan_stays_nan_in_the_manifest(tmp_path):
    root = tmp_path / "runs"
    run = runyard.init("nan", root=root, config={}, console=False, system_metrics=False)
    for step in range(3):
        run.log({"loss": math.nan, "up": math.inf}, step=step)
    run.finish()
    _, man, _ = archive(run.path, root)
    summary = runyard.scan(root)[0].summary
    assert summary["loss"].count == 3 and summary["loss"].last != summary["loss"].last  # NaN
    assert summary["up"].last == math.inf
    assert '"nan"' in man.read_text()


def test_a_one_file_run(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    log = root / "log_run_20240716_143052.txt"
    shutil.copy(FIX / "nanogpt/logs/log_run_20240716_143052.txt", log)
    os.utime(log, ns=(1_600_000_000_000_000_001, 1_600_000_000_000_000_001))
    tar, man, manifest = archive(log, root)
    assert tar.name == "log_run_20240716_143052.txt.tar.zst" and manifest.kind == "file"
    assert manifest.layout == "nanogpt" and manifest.config["n_layer"] == 12
    verify_archive(tar, read_manifest(man))
    dest = tmp_path / "back.txt"
    extract_archive(tar, read_manifest(man), dest)
    assert dest.read_bytes() == log.read_bytes() and dest.stat().st_mtime_ns == 1_600_000_000_000_000_001


def test_other_tools_read_the_archive(tmp_path):
    if shutil.which("tar") is None or shutil.which("zstd") is None:
        pytest.skip("tar or zstd is not installed")
    root = tmp_path / "runs"
    run = realistic_run(root)
    tar, _, _ = archive(run, root)
    out = tmp_path / "by_tar"
    out.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(tar), "-C", str(out)], check=True)
    assert tree(out / run.name) == tree(run)


def test_writing_refuses_what_it_should(tmp_path):
    root = tmp_path / "runs"
    run = realistic_run(root)
    tar, _, _ = archive(run, root)
    with pytest.raises(RunError, match="already exists"):
        write_archive(run, tar)
    with pytest.raises(RunError, match="no such file"):
        write_archive(root / "gone", tmp_path / "gone.tar.zst")
    stray = tmp_path / "stray"
    stray.mkdir()
    (stray / "notes.md").write_text("no run here")
    with pytest.raises(RunError, match="cannot archive"):
        write_archive(stray, tmp_path / "stray.tar.zst")
    assert not (tmp_path / "stray.tar.zst").exists()
    os.symlink(run, tmp_path / "linked")
    with pytest.raises(RunError, match="is a symlink"):
        write_archive(tmp_path / "linked", tmp_path / "linked.tar.zst")
    dest = tmp_path / "taken"
    dest.mkdir()
    with pytest.raises(RunError, match="already exists"):
        extract_archive(tar, read_manifest(tar.with_name(tar.name.replace(".tar.zst", ".manifest.json"))), dest)
    assert dest.is_dir() and not any(dest.iterdir())  # a destination found there is left as it was


def test_progress_and_kill_points(tmp_path, monkeypatch):
    calls: list[str] = []
    fake = types.ModuleType("runyard.ops.journal")
    fake.kill_point = calls.append
    monkeypatch.setitem(sys.modules, "runyard.ops.journal", fake)
    monkeypatch.setattr(tarformat, "_kill", None)
    monkeypatch.setattr(tarformat, "KILL_EVERY", 64 << 10)
    root = tmp_path / "runs"
    run = realistic_run(root)
    seen = []
    tar, _ = archive_paths(root, run.name)
    manifest = write_archive(run, tar, progress=lambda done, total, what: seen.append((done, total, what)))
    assert calls[0] == "tarzst.write.start" and calls[-1] == "tarzst.write.done"
    assert calls.count("tarzst.write.data") == 2  # two 200 kB checkpoints (read whole), a point every 64 kB
    assert seen[-1][0] == seen[-1][1] == manifest.totals["apparent"]
    calls.clear()
    extract_archive(tar, manifest, tmp_path / "back")
    assert "tarzst.extract.data" in calls and calls[-1] == "tarzst.extract.done"


def test_the_shim_is_free_without_a_journal(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "runyard.ops.journal", None)  # importing it fails
    monkeypatch.setattr(tarformat, "_kill", None)
    tarformat._kill_point("anything")
    assert tarformat._kill is not None


# ----- damage ----------------------------------------------------------------------------------------------


@pytest.fixture
def archived(tmp_path):
    root = tmp_path / "runs"
    run = realistic_run(root)
    tar, man, _ = archive(run, root)
    return tar, man


def damaged(tar: Path, how) -> Path:
    data = bytearray(tar.read_bytes())
    data = how(data)
    tar.write_bytes(bytes(data))
    return tar


def flip(at):
    def how(data):
        data[at(len(data))] ^= 0x40
        return data
    return how


@pytest.mark.parametrize("how", [
    flip(lambda n: n // 2),                 # inside a checkpoint's data
    flip(lambda n: 200),                    # near the start: a header
    flip(lambda n: n - 2),                  # the frame's checksum
    lambda d: d[:-1],                       # cut by one byte
    lambda d: d[:len(d) // 2],              # cut in half
    lambda d: d[:-4],                       # the checksum gone, every byte of the tar there
    lambda d: d + b"\x00",                  # something after the frame
    lambda d: d + d,                        # a second frame
], ids=["flip-data", "flip-header", "flip-checksum", "cut-1", "cut-half", "cut-checksum", "trailing", "twice"])
def test_damage_is_a_mismatch(archived, tmp_path, how):
    tar, man = archived
    manifest = read_manifest(man)
    damaged(tar, how)
    with pytest.raises(ArchiveMismatch) as caught:
        verify_archive(tar, manifest)
    assert "\n" not in str(caught.value)
    dest = tmp_path / "out"
    with pytest.raises(ArchiveMismatch):
        extract_archive(tar, manifest, dest)
    assert not os.path.lexists(dest)  # what was extracted before the damage showed is gone again


def test_a_manifest_that_differs_is_a_mismatch(archived):
    tar, man = archived
    first = next(e.path for e in read_manifest(man).entries if e.type == "file")

    def file(m: Manifest) -> Entry:
        return next(e for e in m.entries if e.path == first)

    for change, words in [
        (lambda m: setattr(file(m), "sha256", "0" * 64), "sha256"),
        (lambda m: setattr(file(m), "size", file(m).size + 1), "bytes"),
        (lambda m: m.entries.remove(file(m)), "not in its manifest"),
        (lambda m: m.entries.append(Entry(f"{m.name}/ghost", "file", 0, 0o644, 0, "0" * 64)), "not in the archive"),
        (lambda m: setattr(next(e for e in m.entries if e.type == "symlink"), "target", "/x"), "another target"),
        (lambda m: setattr(next(e for e in m.entries if e.type == "dir" and "/" in e.path), "type", "file"),
         "manifest says"),
    ]:
        changed = read_manifest(man)
        change(changed)
        with pytest.raises(ArchiveMismatch, match=words):
            verify_archive(tar, changed)


@pytest.mark.parametrize("text", [
    b"{not json", b"[]", b'{"format": "other/1"}',
    b'{"format": "runyard-archive/1", "name": "x", "run": "x", "entries": [{"path": "../x", "type": "dir",'
    b' "size": 0, "mode": 493, "mtime_ns": 0}]}',
    b'{"format": "runyard-archive/1", "name": "x", "run": "x", "entries": [{"path": "x", "type": "dir",'
    b' "size": 0, "mode": 493, "mtime_ns": 0}, {"path": "x/l", "type": "symlink", "target": "/", "size": 0,'
    b' "mode": 511, "mtime_ns": 0}, {"path": "x/l/f", "type": "file", "size": 0, "mode": 420, "mtime_ns": 0,'
    b' "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}]}',
])
def test_a_bad_manifest_is_refused_in_one_line(tmp_path, text):
    path = tmp_path / "x.manifest.json"
    path.write_bytes(text)
    with pytest.raises(ArchiveMismatch) as caught:
        read_manifest(path)
    assert "\n" not in str(caught.value) and "x.manifest.json" in str(caught.value)


# ----- hostile archives ------------------------------------------------------------------------------------


def hostile(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    """A .tar.zst holding exactly `members` (as a hostile writer would make it)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    path = tmp_path / "drop" / "evil.tar.zst"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(zstandard.ZstdCompressor(write_checksum=True).compress(raw.getvalue()))
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", target: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mode = kind, len(data), target, 0o644
    return info, data


def entry_of(name: str, kind: str, data: bytes = b"", target: str | None = None) -> Entry:
    return Entry(name, kind, len(data), 0o644 if kind != "dir" else 0o755, 0,
                 hashlib.sha256(data).hexdigest() if kind == "file" else None, target)


def everything(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", ["dotdot", "absolute", "through-link", "link-then-file", "hardlink-out",
                                  "dotdot-link-parent"])
def test_hostile_members_never_write_outside(tmp_path, case):
    victim = tmp_path / "victim"
    victim.mkdir()
    d = (member("run", tarfile.DIRTYPE), entry_of("run", "dir"))
    cases = {
        "dotdot": [d, (member("run/../x", data=b"pwned"), entry_of("run/../x", "file", b"pwned"))],
        "absolute": [d, (member(f"{victim}/x", data=b"pwned"), entry_of(f"{victim}/x", "file", b"pwned"))],
        "through-link": [d, (member("run/l", tarfile.SYMTYPE, target=str(victim)), entry_of("run/l", "symlink",
                                                                                             target=str(victim))),
                         (member("run/l/x", data=b"pwned"), entry_of("run/l/x", "file", b"pwned"))],
        "link-then-file": [d, (member("run/l", tarfile.SYMTYPE, target=str(victim / "x")),
                               entry_of("run/l", "symlink", target=str(victim / "x"))),
                           (member("run/l", data=b"pwned"), entry_of("run/l", "file", b"pwned"))],
        "hardlink-out": [d, (member("run/h", tarfile.LNKTYPE, target=str(victim / "x")),
                             entry_of("run/h", "hardlink", target=str(victim / "x")))],
        "dotdot-link-parent": [d, (member("run/..", tarfile.DIRTYPE), entry_of("run/..", "dir")),
                               (member("run/../x", data=b"pwned"), entry_of("run/../x", "file", b"pwned"))],
    }
    (victim / "x").write_text("safe")
    tar = hostile(tmp_path, [m for m, _ in cases[case]])
    before = everything(tmp_path)
    # the manifest a hostile writer would put beside it: refused as it is read ...
    bad = Manifest(run="run", name="run", created="", layout="x", entries=[e for _, e in cases[case]])
    man = tar.with_name("evil.manifest.json")
    man.write_bytes(tarzst.manifest_bytes(bad))
    with pytest.raises(ArchiveMismatch):
        read_manifest(man)
    # ... and one handed over as it is, unchecked, is caught member by member
    dest = tmp_path / "out" / "run"
    with pytest.raises((ArchiveMismatch, RunError)):
        extract_archive(tar, bad, dest)
    assert (victim / "x").read_text() == "safe" and everything(victim) == {"x"}
    assert everything(tmp_path) - before <= {"out", "drop/evil.manifest.json"}
    # and a benign manifest does not make the hostile members acceptable
    honest = Manifest(run="run", name="run", created="", layout="x", entries=[entry_of("run", "dir")])
    with pytest.raises(ArchiveMismatch):
        extract_archive(tar, honest, tmp_path / "out" / "run2")
    assert (victim / "x").read_text() == "safe" and not (tmp_path / "out" / "run2").exists()


def test_set_id_bits_are_not_restored(tmp_path):
    data = b"#!/bin/sh\n"
    info, _ = member("run", tarfile.REGTYPE, data)
    info.mode = 0o6755
    tar = hostile(tmp_path, [(info, data)])
    entry = Entry("run", "file", len(data), 0o6755, 0, hashlib.sha256(data).hexdigest())
    dest = tmp_path / "out"
    extract_archive(tar, Manifest("run", "run", "", "x", [entry]), dest)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755


def test_a_full_disk_leaves_no_partial_archive(tmp_path):
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    small = tmp_path / "small"
    small.mkdir()
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {small}"],
                           capture_output=True)
    if probe.returncode:
        pytest.skip("cannot mount a tmpfs here")
    root = tmp_path / "runs"
    run = runyard.init("big", root=root, config={}, console=False, system_metrics=False)
    run.log({"loss": 1.0}, step=0)
    run.finish()
    (run.path / "weights.bin").write_bytes(os.urandom(1 << 20))
    script = (f"from runyard.ops.tarzst import write_archive\nfrom runyard.errors import RunError\n"
              f"try:\n    write_archive({str(run.path)!r}, {str(small / 'a.tar.zst')!r})\n"
              f"except RunError as exc:\n    print('refused:', exc)\n"
              f"import os\nprint('left:', os.listdir({str(small)!r}))\n")
    out = subprocess.run(["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {small} && "
                          f"{sys.executable} -c \"$0\"", script], cwd=PROJECT, env=child_env(),
                         capture_output=True, text=True, timeout=60)
    assert "refused: cannot write" in out.stdout and "no space left" in out.stdout, out.stdout + out.stderr
    assert "left: []" in out.stdout
