"""Where runyard keeps its caches: outside the runs tree, in the XDG cache folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    """`$RUNYARD_CACHE_DIR`, else `$XDG_CACHE_HOME/runyard`, else `~/.cache/runyard`."""
    explicit = os.environ.get("RUNYARD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "runyard"


def cache_file(kind: str, key: str, suffix: str) -> Path:
    """A cache file for `key` (usually an absolute path) under `<cache>/<kind>/`."""
    digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return cache_root() / kind / f"{digest}{suffix}"
