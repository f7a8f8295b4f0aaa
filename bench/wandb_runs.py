"""Real W&B offline runs for benchmarks, made once with the installed wandb and kept outside the repository.

`offline_run(steps)` returns the `offline-run-*` folder of a run logged with `wandb.init(mode="offline")`: per
step `train/loss`, `train/lr`, `train/grad_norm`, `perf/tokens_per_sec` and `epoch` (one `wandb.log(...,
commit=True)` each), every 500 steps `val/loss` and `val/acc`, `define_metric("val/loss", summary="min")` and a
config of ten hyperparameters. It is cached under `~/.cache/runyard-bench/wandb/<steps>/`.

Runs longer than `REAL_MAX` steps would take wandb itself many minutes to log, so they are made from the
200,000-step run instead: its records are copied in order (run, config, telemetry, metric, ... as wandb wrote
them), its history records repeated with `_step`, `step.num`, `_timestamp` and `_runtime` moved on so that the
steps keep counting, and everything framed again here as wandb frames its log (7-byte header, 32 KiB blocks of
CRC-checked FULL/FIRST/MIDDLE/LAST chunks). The records are wandb's own; only the framing is ours.

    python bench/wandb_runs.py [STEPS ...]   # make (or find) the runs and print their folders
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

CACHE = Path.home() / ".cache" / "runyard-bench" / "wandb"
REAL_MAX = 200_000  # the longest run made by wandb itself; longer ones repeat its records
HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
CONFIG = {"lr": 3e-4, "batch_size": 64, "epochs": 10, "model": "gpt2-small", "d_model": 768, "n_layers": 12,
          "dropout": 0.1, "weight_decay": 0.01, "warmup_steps": 2000, "seed": 1337}

_LOG_SCRIPT = r"""
import json, math, os, sys
os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DISABLE_GIT="true",
                  WANDB_DISABLE_CODE="true", WANDB_CONSOLE="off")
import wandb
steps, folder = int(sys.argv[1]), sys.argv[2]
config = json.loads(sys.argv[3])
run = wandb.init(mode="offline", dir=folder, project="bench", config=config,
                 settings=wandb.Settings(disable_git=True, save_code=False, console="off",
                                         x_disable_stats=True, x_disable_meta=True))
run.define_metric("val/loss", summary="min")
per_epoch = max(1, steps // config["epochs"])
for step in range(steps):
    loss = 4.0 * math.exp(-step / (steps / 3 + 1)) + 0.05 * math.sin(step / 50.0) + 1.0
    row = {"train/loss": loss, "train/lr": config["lr"] * min(1.0, (step + 1) / config["warmup_steps"]),
           "train/grad_norm": 0.5 + 0.3 * math.cos(step / 37.0), "perf/tokens_per_sec": 51234.5 + (step % 97),
           "epoch": step // per_epoch}
    if step % 500 == 499:
        row["val/loss"] = loss + 0.1
        row["val/acc"] = 1.0 / (1.0 + loss)
    run.log(row, step=step, commit=True)
run.finish()
"""


def offline_run(steps: int = 200_000) -> Path:
    """The `offline-run-*` folder of a finished W&B run of `steps` steps, made once and cached (module doc)."""
    base = CACHE / str(steps)
    found = _run_folder(base)
    if found is not None:
        return found
    if steps <= REAL_MAX:
        _log_with_wandb(steps, base)
    else:
        _repeat(offline_run(REAL_MAX), steps, base)
    found = _run_folder(base)
    if found is None:
        raise RuntimeError(f"no offline run was made under {base}")
    return found


def wandb_file(folder: Path) -> Path:
    """The run's `.wandb` transaction log."""
    return next(folder.glob("run-*.wandb"))


def _run_folder(base: Path) -> Path | None:
    """The finished run under `base` (its `done` marker written last), if one was made."""
    if not (base / "done").exists():
        return None
    return next((base / "wandb").glob("offline-run-*"), None)


def _log_with_wandb(steps: int, base: Path) -> None:
    """Log the run with the installed wandb, in its own process (wandb keeps global state)."""
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true"}
    command = [sys.executable, "-c", _LOG_SCRIPT, str(steps), str(base), json.dumps(CONFIG)]
    subprocess.run(command, check=True, env=env, cwd=base)
    (base / "done").write_text("")


def records(path: Path) -> list[bytes]:
    """Every record of a `.wandb` log, joined from its chunks (damaged chunks are not expected here)."""
    data = path.read_bytes()
    out: list[bytes] = []
    parts: list[bytes] = []
    pos = len(HEADER)
    while pos < len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:
            pos += room
            continue
        if pos + 7 > len(data):
            break
        _, length, kind = struct.unpack_from("<IHB", data, pos)
        if kind == 0 and length == 0:
            pos += room
            continue
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (FULL, FIRST):
            parts = [chunk]
        else:
            parts.append(chunk)
        if kind in (FULL, LAST):
            out.append(b"".join(parts))
    return out


class Framer:
    """Frames records as wandb's log does, for a file already `size` bytes long (header included)."""

    def __init__(self, size: int = 0) -> None:
        self.size = size

    def frame(self, payloads: list[bytes]) -> bytes:
        """The bytes that append `payloads` to the file (the header first when the file is empty)."""
        out = bytearray()
        if self.size == 0:
            out += HEADER
            self.size = len(HEADER)
        for payload in payloads:
            first = True
            view = memoryview(payload)
            while True:
                room = BLOCK - self.size % BLOCK
                if room < 7:
                    out += b"\0" * room
                    self.size += room
                    room = BLOCK
                take = min(len(view), room - 7)
                last = take == len(view)
                kind = FULL if first and last else FIRST if first else LAST if last else MIDDLE
                chunk = bytes(view[:take])
                out += struct.pack("<IHB", zlib.crc32(chunk, zlib.crc32(bytes([kind]))), take, kind) + chunk
                self.size += 7 + take
                view = view[take:]
                first = False
                if last:
                    break
        return bytes(out)


def history_rows(template: bytes, start: int, count: int, seconds: float) -> list[bytes]:
    """`count` history records shaped as `template` (a real one), for steps `start`... (`seconds` apart)."""
    from wandb.proto import wandb_internal_pb2

    record = wandb_internal_pb2.Record.FromString(template)
    items = {item.key: item for item in record.history.item}
    base_time = float(items["_timestamp"].value_json) if "_timestamp" in items else 1.7e9
    out = []
    for step in range(start, start + count):
        record.history.step.num = step
        for key, item in items.items():
            if key == "_step":
                item.value_json = str(step)
            elif key == "_timestamp":
                item.value_json = repr(base_time + step * seconds)
            elif key == "_runtime":
                item.value_json = repr(step * seconds)
            elif key == "train/loss":
                item.value_json = repr(1.0 + 3.0 / (1.0 + step / 1000.0))
        out.append(record.SerializeToString())
    return out


def _repeat(real: Path, steps: int, base: Path) -> None:
    """A run of `steps` history rows made from the records of `real` (module docstring)."""
    from wandb.proto import wandb_internal_pb2

    payloads = records(wandb_file(real))
    history = [i for i, p in enumerate(payloads)
               if wandb_internal_pb2.Record.FromString(p).WhichOneof("record_type") == "history"]
    head, body, tail = payloads[:history[0]], payloads[history[0]:history[-1] + 1], payloads[history[-1] + 1:]
    real_rows = len(history)
    out_dir = base / "wandb" / real.name
    shutil.rmtree(base, ignore_errors=True)
    (out_dir / "files").mkdir(parents=True)
    framer = Framer()
    with open(out_dir / wandb_file(real).name, "wb") as fh:
        fh.write(framer.frame(head))
        done = 0
        while done < steps:
            # the real records between history rows (stats, summaries...) come along; history is renumbered
            take = min(real_rows, steps - done)
            batch: list[bytes] = []
            seen = 0
            for payload in body:
                record = wandb_internal_pb2.Record.FromString(payload)
                if record.WhichOneof("record_type") == "history":
                    if seen == take:
                        break
                    batch.extend(history_rows(payload, done + seen, 1, 0.01) if done else [payload])
                    seen += 1
                else:
                    batch.append(payload)
            fh.write(framer.frame(batch))
            done += take
        fh.write(framer.frame(tail))
    (base / "done").write_text("")


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["200000"]:
        print(offline_run(int(arg)))
