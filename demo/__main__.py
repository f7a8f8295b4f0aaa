"""`python -m demo` (what `make demo` runs): train the bundled configs in the background and follow them live.

The trainings start first, then the app opens on ./runs, where their runs appear within a second. Quitting
the app stops the trainings that are still going (their runs are marked interrupted, nothing is lost);
`--no-app` just trains and prints where the runs are.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CONFIGS = ("configs/small.yaml", "configs/small_lowlr.yaml", "configs/tiny_fast.py")


def start_trainings(root: Path, logs: Path) -> list[subprocess.Popen]:
    """One background process per config; each one's console output goes to a file beside the runs."""
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for cfg in CONFIGS:
        out = open(logs / f"{Path(cfg).stem}.out", "w")  # noqa: SIM115 - the child keeps writing to it
        procs.append(subprocess.Popen([sys.executable, "-m", "demo.train", str(PROJECT / cfg), f"--root={root}"],
                                      cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT))
    return procs


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM (the tracker marks the runs interrupted and closes them), then wait."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-app", action="store_true", help="train without opening the app")
    args = parser.parse_args()
    root = PROJECT / "runs"
    before = set(root.glob("*_*")) if root.exists() else set()
    procs = start_trainings(root, root / ".demo-console")
    print(f"training {', '.join(CONFIGS)} in the background")
    try:
        if args.no_app:
            for proc in procs:
                proc.wait()
        else:
            from runyard.tui.app import RunyardApp

            time.sleep(0.5)
            RunyardApp(root).run()
    except KeyboardInterrupt:
        pass
    finally:
        stop(procs)
    new = sorted(set(root.glob("*_*")) - before)
    print("runs written:" if new else "no run was written")
    for path in new:
        print(f"  {path.relative_to(PROJECT)}")
    print("open them again with: .venv/bin/runyard runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
