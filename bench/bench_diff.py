"""Diffing the configs of 1,000 runs: `runyard diff --filter ... --json` against `runyard ls -o json` on the same
tree, both as a user runs them (a new process each, the scan cache warm), measured in the same run.

The tree: 1,000 small runyard runs whose configs (about 30 keys, nested) vary in a few keys — learning rate,
layers, optimizer, seed — and whose origins vary in command line, commit and start time, as a sweep leaves them.

1. `runyard diff --root TREE --filter 'n_layer>0' --json`: every run, one column each (the filter matches all),
   the differing keys and origin rows, from the cached scan. Target: < 1 s, and within 2x `runyard ls -o json`.
2. In the process: `config_diff` of the 1,000 scanned records, with the origin rows (which read each run's
   run.json) and without; `key_importance` of every differing key against val/loss.
3. Baselines: `runyard ls TREE -o json` (the same scan, every record printed) and `runyard ls` of an empty
   folder (Python, imports and start-up).

The tree is generated in bench/out for reuse; runyard's caches go to a temporary folder.

    python bench/bench_diff.py [--runs N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
OUT = PROJECT / "bench" / "out"
RUNYARD = Path(sys.executable).parent / "runyard"
TARGET_S = 1.0


def timed(fn, repeat: int = 1) -> float:
    """The best of `repeat` wall times, in seconds (the minimum is the least noisy on a shared machine)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def make_tree(runs: int) -> Path:
    """`runs` finished runyard runs of a sweep, written as the tracker writes them (one real run, copied and
    given its own id, name, config and origin), all a day old."""
    import orjson
    import yaml

    import runyard

    root = OUT / f"diff_tree_{runs}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    template = Path(tempfile.mkdtemp(prefix="bench-diff-template-"))
    with runyard.init("template", root=template, console=False, system_metrics=False,
                      config={"lr": 1e-3}) as run:
        run.define_metric("val/loss", goal="min")
        for step in range(20):
            run.log({"train/loss": 3.0 / (step + 1), "val/loss": 3.2 / (step + 1)}, step=step)
    source = run.path
    created = time.time() - 86400
    lrs = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
    for i in range(runs):
        lr, n_layer, optimizer = lrs[i % 5], (2, 4, 8)[i // 5 % 3], ("adam", "sgd")[i // 15 % 2]
        folder = root / f"sweep_{i:04d}"
        shutil.copytree(source, folder)
        config = {
            "lr": lr, "seed": i, "optimizer": optimizer, "max_steps": 2000, "batch_size": 64, "grad_clip": 1.0,
            "model": {"n_layer": n_layer, "n_embd": 128, "n_head": 4, "dropout": 0.1, "bias": False,
                      "block_size": 256, "vocab_size": 65},
            "data": {"name": "shakespeare_char", "path": "data/shakespeare_char", "split": [0.9, 0.1]},
            "schedule": {"warmup": 100, "decay": "cosine", "min_lr": lr / 10},
            "eval": {"interval": 250, "iters": 200}, "log_interval": 10, "compile": False, "dtype": "float32",
            "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.99, "out_dir": "out", "wandb_log": False,
        }
        (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        meta = orjson.loads((folder / "run.json").read_bytes())
        stamp = created + i * 60
        meta.update(id=f"r{i:05d}", name=f"sweep-{i:04d}",
                    created=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(stamp)),
                    ended=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(stamp + 50)),
                    argv=["train.py", f"--lr={lr}", f"--seed={i}"],
                    git={"commit": f"{i // 100:07x}{'0' * 33}", "branch": "main", "dirty": i % 7 == 0})
        (folder / "run.json").write_bytes(orjson.dumps(meta))
    shutil.rmtree(template, ignore_errors=True)
    old = time.time() - 86400
    for path in root.rglob("*"):
        os.utime(path, (old, old))
    (root / ".complete").write_text("")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="bench-diff-"))
    os.environ.update({"RUNYARD_CACHE_DIR": str(tmp / "cache"), "XDG_CONFIG_HOME": str(tmp / "config")})
    try:
        tree = make_tree(args.runs)
        print(f"tree: {args.runs:,} runs in {tree} (ready in {time.perf_counter() - t0:.1f} s)")
        env = {**os.environ, "COLUMNS": "200"}

        def command(*argv: str) -> str:
            return subprocess.run([str(RUNYARD), *argv], capture_output=True, text=True, check=True, env=env).stdout

        empty = tmp / "empty"
        empty.mkdir()
        listed = json.loads(command("ls", str(tree), "-o", "json"))  # warms the scan cache
        assert len(listed) == args.runs, len(listed)
        diffed = json.loads(command("diff", "--root", str(tree), "--filter", "n_layer>0", "--json"))
        differing = sorted(k["key"] for k in diffed["keys"])
        assert len(diffed["runs"]) == args.runs, len(diffed["runs"])
        assert {"lr", "seed", "optimizer", "model.n_layer", "schedule.min_lr"} <= set(differing), differing
        assert {"argv", "git.commit", "git.dirty", "started"} <= set(differing), differing

        startup = timed(lambda: command("ls", str(empty)), args.repeat)
        ls_json = timed(lambda: command("ls", str(tree), "-o", "json"), args.repeat)
        diff_json = timed(lambda: command("diff", "--root", str(tree), "--filter", "n_layer>0", "--json"),
                          args.repeat)
        diff_table = timed(lambda: command("diff", "--root", str(tree), "--filter", "n_layer>0"), args.repeat)

        import runyard

        records = list(runyard.scan(tree))
        with_origin = timed(lambda: runyard.config_diff(records), args.repeat)
        config_only = timed(lambda: runyard.config_diff(records, include_origin=False), args.repeat)
        diff = runyard.config_diff(records)
        importance = timed(lambda: runyard.key_importance(records, "val/loss", diff=diff), args.repeat)

        rows = [
            ("`runyard diff --filter ... --json`, 1,000 runs", diff_json),
            ("`runyard diff --filter ...` piped (TSV)", diff_table),
            ("baseline: `runyard ls -o json`", ls_json),
            ("baseline: `runyard ls` of an empty folder", startup),
            ("config_diff(1,000 records), with origin", with_origin),
            ("config_diff(1,000 records), config only", config_only),
            ("key_importance(1,000 records, val/loss)", importance),
        ]
        print(f"\n{'':52} {'ms':>8} {'x ls json':>10}")
        for label, seconds in rows:
            print(f"{label:52} {seconds * 1e3:8.0f} {seconds / ls_json:10.2f}")
        verdict = "ok" if diff_json < TARGET_S else "MISSED"
        print(f"\n`runyard diff --json` of {args.runs:,} runs: {diff_json:.2f} s ({verdict}, target < {TARGET_S:g} s); "
              f"{diff_json / ls_json:.2f}x `runyard ls -o json`; {len(differing)} differing keys")
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "bench_diff.json").write_text(json.dumps(
            {"runs": args.runs, "ms": {label: round(s * 1e3, 1) for label, s in rows},
             "ratio_to_ls_json": round(diff_json / ls_json, 3), "target_s": TARGET_S, "verdict": verdict}, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
