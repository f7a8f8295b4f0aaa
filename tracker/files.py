"""Opening run files for reading without ever blocking on one that is not a file.

A FIFO named `training.log` blocks `open()` until some process writes to it, and a device may never answer;
a reader that follows a tree of runs must not hang on either. Every run file is therefore opened here:
with `O_NONBLOCK` (which makes opening a FIFO return at once) and then checked with `fstat` to be a regular
file, which is what every reader expects. Anything else raises `NotRegularFile`, an `OSError`, so callers
that already treat an unreadable file as missing keep doing so.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


class NotRegularFile(OSError):
    """A run file exists but is not a regular file (a FIFO, a device, a folder): it is not read."""


def open_regular(path: str | os.PathLike) -> int:
    """A read-only descriptor of `path` if it is a regular file; raises NotRegularFile (or another OSError)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise NotRegularFile(errno.EINVAL, f"{kind}, not a regular file", os.fspath(path))
    return fd


def open_binary(path: str | os.PathLike) -> BinaryIO:
    """`open(path, "rb")` for regular files only (see `open_regular`)."""
    return os.fdopen(open_regular(path), "rb")


def read_bytes(path: str | os.PathLike) -> bytes:
    """`Path.read_bytes` for regular files only."""
    with open_binary(path) as fh:
        return fh.read()


def read_text(path: str | os.PathLike, encoding: str = "utf-8", errors: str = "replace") -> str:
    """`Path.read_text` for regular files only (undecodable bytes replaced unless `errors` says otherwise)."""
    return read_bytes(path).decode(encoding, errors)


def is_regular(path: str | os.PathLike) -> bool:
    """True if `path` is a regular file (following symlinks), False if it is missing or anything else."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False

