"""`python -m demo`: train the bundled configs side by side and say where their runs are.

`configs/small.yaml` trains in the foreground with its log on the console; the other configs train at the
same time in the background (their logs are in their own run folders).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
FOREGROUND = "configs/small.yaml"
BACKGROUND = ("configs/tiny_fast.py",)


def main() -> int:
    root = PROJECT / "runs"
    before = set(root.glob("*")) if root.exists() else set()
    background = [
        subprocess.Popen([sys.executable, "-m", "demo.train", str(PROJECT / cfg), f"--root={root}"],
                         cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for cfg in BACKGROUND
    ]
    print(f"training {FOREGROUND} here and {', '.join(BACKGROUND)} in the background; Ctrl-C stops all")
    try:
        code = subprocess.call([sys.executable, "-m", "demo.train", str(PROJECT / FOREGROUND), f"--root={root}"],
                               cwd=PROJECT)
        for proc in background:
            proc.wait()
    except KeyboardInterrupt:
        for proc in background:
            proc.terminate()
            proc.wait()
        code = 130
    new = sorted(set(root.glob("*")) - before)
    print("\nruns written:" if new else "\nno run was written")
    for path in new:
        print(f"  {path.relative_to(PROJECT)}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
