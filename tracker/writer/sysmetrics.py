"""Samples of the training process's own resource use, logged as `sys/...` metrics by the heartbeat thread."""

from __future__ import annotations

import sys


class SystemSampler:
    """CPU percent and resident memory of this process and, with CUDA, GPU memory allocated and reserved."""

    def __init__(self) -> None:
        import psutil  # imported here so that `import runyard` stays cheap

        self._proc = psutil.Process()
        self._proc.cpu_percent(None)  # the first call only sets the reference point

    def sample(self) -> dict[str, float]:
        """One reading; every value is a plain float, sizes in MiB."""
        values = {
            "sys/cpu_percent": float(self._proc.cpu_percent(None)),
            "sys/rss_mb": self._proc.memory_info().rss / 2**20,
        }
        values.update(_cuda_memory())
        return values


def _cuda_memory() -> dict[str, float]:
    """Per-device allocated and reserved memory when the script uses CUDA; torch is never imported here."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
            return {}
        out = {}
        for i in range(torch.cuda.device_count()):
            suffix = "" if i == 0 else str(i)
            out[f"sys/gpu{suffix}_allocated_mb"] = torch.cuda.memory_allocated(i) / 2**20
            out[f"sys/gpu{suffix}_reserved_mb"] = torch.cuda.memory_reserved(i) / 2**20
        return out
    except Exception:
        return {}
