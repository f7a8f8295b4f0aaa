"""Which process of a distributed job this is: only rank 0 writes a run."""

from __future__ import annotations

import os
import sys

# The order Lightning uses: a global rank first, then the launchers' own variables.
_RANK_VARS = ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK")


def global_rank() -> int:
    """The process's global rank: from an initialised torch.distributed, else the launcher's environment."""
    dist = _torch_distributed()
    if dist is not None:
        return int(dist.get_rank())
    for var in _RANK_VARS:
        value = os.environ.get(var)
        if value is not None and value.strip().lstrip("-").isdigit():
            return int(value)
    return 0


def world_size() -> int:
    """The number of processes in the job (1 when not distributed)."""
    dist = _torch_distributed()
    if dist is not None:
        return int(dist.get_world_size())
    for var in ("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        value = os.environ.get(var)
        if value and value.isdigit():
            return int(value)
    return 1


def _torch_distributed():
    """torch.distributed if torch is already imported and a process group is up; never imports torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = getattr(torch, "distributed", None)
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return dist
    except Exception:
        return None
    return None
