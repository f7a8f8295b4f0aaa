"""Opening run files for reading without ever blocking on one that is not a file.

A FIFO named `training.log` blocks `open()` until some process writes to it, and a device may never answer;
a reader that follows a tree of runs must not hang on either. Every run file is therefore opened here:
with `O_NONBLOCK` (which makes opening a FIFO return at once) and then checked with `fstat` to be a regular
file, which is what every reader expects. Anything else raises `NotRegularFile`, an `OSError`, so callers
that already treat an unreadable file as missing keep doing so.

`unreadable_reason` is the one place an `OSError` from reading a run becomes the line a person reads ("cannot
read training.log: permission denied", "cannot enter <folder>: permission denied"): the app shows it where the
file's content would go, the command line prints it on stderr.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from .reading.textsafe import clean_field

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


_DENIED = (errno.EACCES, errno.EPERM)


def unreadable_reason(exc: OSError, path: str | os.PathLike | None = None) -> str:
    """Why `path` (else the file the error names) could not be read, in one line: "cannot read <file>: <why>",
    or "cannot enter <folder>: permission denied" when the file sits in a folder closed to this user. Names are
    cleaned (`clean_field`): the line is shown as it is."""
    where = exc.filename if isinstance(exc.filename, (str, bytes, os.PathLike)) else path
    name = Path(os.fsdecode(where)).name if where is not None else "the file"
    why = (exc.strerror or str(exc) or type(exc).__name__).strip()
    why = why[:1].lower() + why[1:]
    if exc.errno in _DENIED and where is not None:
        closed = _closed_folder(Path(os.fsdecode(where)))
        if closed is not None:
            return clean_field(f"cannot enter {closed.name or closed}: {why}")
    return clean_field(f"cannot read {name}: {why}")


def _closed_folder(path: Path) -> Path | None:
    """The outermost folder this user may not enter (no search permission) on the way to `path`, or `path`
    itself when it is such a folder; None if there is none."""
    path = Path(os.path.abspath(path))
    for folder in [*reversed(path.parents), path]:
        if os.path.isdir(folder) and not os.access(folder, os.X_OK):
            return folder
    return None
