"""Archiving a 1 GB run compressed: `write_archive`, `verify_archive` and `extract_archive` against `tar | zstd`,
measured in the same run on the same files.

The run: a tracker-written run folder holding about 900 MB of float32 checkpoints saved with numpy (weights of
std 0.02, Adam moments, layer-norm ones and zero biases: real-ish tensors, which compress a little) and about
100 MB of logs (metrics.jsonl rows, training.log lines), generated once in bench/out.

1. `write_archive`: MB/s of run data read, hashed and compressed. Target: >= 100 MB/s on 2 cores.
2. `verify_archive`: its time over the compression's. Target: < 1.5x.
3. `extract_archive` (fsynced, as a restore does): MB/s.
4. Baseline: `tar -cf - RUN | zstd -T0 -3` (and `zstd -dc | tar -x` back) where zstd is installed, else `tar -c`.

`--matrix` also writes the archive at zstd levels 1 and 3 with 0, 1 and 2 worker threads, to pick the defaults.

    python bench/bench_archive.py [--mb 1000] [--matrix]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
OUT = PROJECT / "bench" / "out" / "archive"
WRITE_TARGET = 100.0   # MB/s
VERIFY_TARGET = 1.5    # x the compression's time


def make_run(total_mb: int) -> Path:
    """A run of about `total_mb` MB (nine tenths checkpoints, the rest logs), made once and kept."""
    import numpy as np

    import runyard

    root = OUT / f"runs_{total_mb}"
    done = root / ".complete"
    if done.exists():
        return next(p for p in root.iterdir() if p.is_dir())
    shutil.rmtree(root, ignore_errors=True)
    run = runyard.init("bench", root=root, config={"lr": 3e-4, "n_layer": 12}, console=False, system_metrics=False)
    rng = np.random.default_rng(0)
    ckpts = run.path / "checkpoints"
    ckpts.mkdir(exist_ok=True)
    per_ckpt = total_mb * 9 // 10 // 6 * 1_000_000 // 4  # floats per checkpoint, six of them
    for i in range(6):
        n = per_ckpt
        parts = [
            rng.standard_normal(n * 60 // 100, dtype=np.float32) * np.float32(0.02),            # weights
            rng.standard_normal(n * 15 // 100, dtype=np.float32) * np.float32(1e-3),            # exp_avg
            np.abs(rng.standard_normal(n * 15 // 100, dtype=np.float32)) * np.float32(1e-6),    # exp_avg_sq
            np.ones(n * 5 // 100, dtype=np.float32),                                            # layer norms
        ]
        parts.append(np.zeros(n - sum(len(p) for p in parts), dtype=np.float32))                # biases
        path = ckpts / f"ckpt_{(i + 1) * 1000}.npy"
        np.save(path, np.concatenate(parts))
        run.add_checkpoint(path, step=(i + 1) * 1000, metrics={"val/loss": 3.0 - i * 0.1})
    text_bytes = total_mb * 1_000_000 // 10
    with open(run.path / "metrics.jsonl", "a") as fh:
        step, written, t = 0, 0, time.time()
        while written < text_bytes * 7 // 10:
            line = (f'{{"step": {step}, "time": {t + step * 0.1:.3f}, "train/loss": {3.0 / (1 + step * 1e-4):.6f}, '
                    f'"lr": {3e-4 * min(1, step / 2000):.3e}, "grad_norm": {1 + (step % 97) / 97:.5f}}}\n')
            fh.write(line)
            written += len(line)
            step += 1
    with open(run.path / "training.log", "a") as fh:
        written, i = 0, 0
        while written < text_bytes * 3 // 10:
            line = (f"2026-01-01 00:{i // 6000 % 60:02d}:{i // 100 % 60:02d},{i % 1000:03d} - INFO - step {i}: "
                    f"train loss {3.0 / (1 + i * 1e-4):.4f}, {1000 + i % 500} tokens/s\n")
            fh.write(line)
            written += len(line)
            i += 1
    run.finish()
    done.touch()
    return run.path


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def fresh(path: Path) -> Path:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1000, help="size of the run in MB")
    parser.add_argument("--matrix", action="store_true", help="also try zstd levels 1/3 with 0/1/2 threads")
    args = parser.parse_args()

    from runyard.ops import tarzst
    from runyard.ops.tarzst import extract_archive, verify_archive, write_archive

    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    run = make_run(args.mb)
    mb = size_of(run) / 1e6
    print(f"run: {mb:.0f} MB in {run} (made or found in {time.perf_counter() - t0:.1f} s); "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    tar = OUT / "bench.tar.zst"

    configs = [(tarzst.LEVEL, tarzst.THREADS)]
    if args.matrix:
        configs += [(level, threads) for level in (1, 3) for threads in (0, 1, 2) if (level, threads) != configs[0]]
    for level, threads in configs:
        t = time.perf_counter()
        manifest = write_archive(run, fresh(tar), level=level, threads=threads)
        took = time.perf_counter() - t
        print(f"write_archive  level {level} threads {threads}: {took:6.2f} s  {mb / took:6.0f} MB/s  "
              f"ratio {manifest.totals['archive'] / (mb * 1e6):.3f}")
    manifest = write_archive(run, fresh(tar))
    t = time.perf_counter()
    write_archive(run, fresh(tar))
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    verify_archive(tar, manifest)
    verify_s = time.perf_counter() - t
    dest = OUT / "extracted"
    t = time.perf_counter()
    extract_archive(tar, manifest, fresh(dest))
    extract_s = time.perf_counter() - t
    fresh(dest)

    print(f"write_archive   {write_s:6.2f} s  {mb / write_s:6.0f} MB/s   (target >= {WRITE_TARGET:.0f} MB/s: "
          f"{'met' if mb / write_s >= WRITE_TARGET else 'MISSED'})")
    print(f"verify_archive  {verify_s:6.2f} s  {verify_s / write_s:6.2f} x the compression   (target < "
          f"{VERIFY_TARGET} x: {'met' if verify_s / write_s < VERIFY_TARGET else 'MISSED'})")
    print(f"extract_archive {extract_s:6.2f} s  {mb / extract_s:6.0f} MB/s (fsynced)")

    baseline = OUT / "baseline.tar.zst"
    if shutil.which("zstd"):
        name = "tar | zstd -T0 -3"
        command = f"tar -cf - -C {run.parent} {run.name} | zstd -T0 -3 -q -o {fresh(baseline)}"
    else:
        name, baseline = "tar -c (no zstd here)", OUT / "baseline.tar"
        command = f"tar -cf {fresh(baseline)} -C {run.parent} {run.name}"
    t = time.perf_counter()
    subprocess.run(command, shell=True, check=True)
    base_s = time.perf_counter() - t
    print(f"{name:15} {base_s:6.2f} s  {mb / base_s:6.0f} MB/s   (no hashes, no manifest; runyard "
          f"{base_s / write_s:.2f}x its speed)")
    if baseline.suffix == ".zst":
        back = fresh(OUT / "baseline_back")
        back.mkdir()
        t = time.perf_counter()
        subprocess.run(f"zstd -dc {baseline} | tar -xf - -C {back} && sync", shell=True, check=True)
        back_s = time.perf_counter() - t
        print(f"{'zstd -d | tar -x':15} {back_s:6.2f} s  {mb / back_s:6.0f} MB/s (then sync)")
        fresh(back)
    fresh(baseline)
    fresh(tar)


if __name__ == "__main__":
    main()
