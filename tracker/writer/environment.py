"""What `run.json` records about where and how a run started: host, user, git, versions, hardware.

Everything here is best effort and bounded in time: a missing git, a hung nvidia-smi or an unreadable
/proc never stops a training job from starting. torch is consulted only when the script already imported it.
"""

from __future__ import annotations

import getpass
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from typing import Any

from ..contract import utf8_text
from ..liveness import this_host


def _run(cmd: list[str], cwd: str | None = None, timeout: float = 3.0) -> str | None:
    """stdout of a short command, or None if it is missing, fails or takes too long."""
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_info(cwd: str) -> dict[str, Any] | None:
    """Commit, branch and dirtiness of the repository holding `cwd`; None outside a repository."""
    if shutil.which("git") is None:
        return None
    commit = _run(["git", "rev-parse", "HEAD"], cwd)
    if commit is None:
        return None
    branch = _run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd)
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd)
    return {"commit": commit, "branch": branch, "dirty": bool(status) if status is not None else None}


def user_name() -> str | None:
    """The login name, or None where it cannot be told (containers without a passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it, else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torch_env() -> dict[str, Any]:
    """torch and CUDA versions and GPU names; torch is only asked if the script already imported it."""
    torch = sys.modules.get("torch")
    if torch is None:
        try:
            return {"torch": metadata.version("torch"), "cuda": None, "gpus": _nvidia_smi_gpus()}
        except metadata.PackageNotFoundError:
            return {"torch": None, "cuda": None, "gpus": _nvidia_smi_gpus()}
    gpus: list[str] = []
    try:
        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:
        gpus = []
    return {"torch": getattr(torch, "__version__", None), "cuda": getattr(torch.version, "cuda", None),
            "gpus": gpus}


def _nvidia_smi_gpus() -> list[str]:
    if shutil.which("nvidia-smi") is None:
        return []
    out = _run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], timeout=5.0)
    return [line.strip() for line in out.splitlines() if line.strip()] if out else []


def capture() -> dict[str, Any]:
    """The identity fields of run.json that describe the process and machine."""
    cwd = os.getcwd()
    tenv = torch_env()
    return {
        "host": this_host(),  # what liveness compares with, to tell whether the pid can be checked here
        "pid": os.getpid(),
        "user": user_name(),
        "argv": [utf8_text(arg) for arg in sys.argv],  # an argument or folder in no encoding must not stop the run
        "cwd": utf8_text(cwd),
        "git": git_info(cwd),
        "env": {
            "python": platform.python_version(),
            "torch": tenv["torch"],
            "cuda": tenv["cuda"],
            "platform": platform.platform(),
        },
        "hardware": {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "gpus": tenv["gpus"]},
    }
