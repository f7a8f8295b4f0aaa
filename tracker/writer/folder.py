"""A run folder held open by its descriptor, so the run keeps writing into it wherever it is moved.

A user may rename a run folder or move it into `archive/` while the training still writes it. Every file the
writer touches is opened, replaced, created or removed relative to the folder's descriptor (`openat`,
`renameat`...), never through its path, so a move changes nothing for the writer: rows, the log, run.json,
summary.json and checkpoints all land in the folder where it is now. Where the platform cannot open files
relative to a descriptor, the folder's path is used as before.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import IO

from ..contract import replace_via_temp

_RELATIVE = {os.open, os.rename, os.mkdir, os.unlink, os.stat} <= os.supports_dir_fd
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class RunFolder:
    """A run folder open for writing; its files are named relative to it (`"checkpoints/index.jsonl"`)."""

    def __init__(self, path: Path) -> None:
        self._opened_at = Path(path)  # where it was opened, or last found
        self.fd: int | None = os.open(path, os.O_RDONLY | _DIRECTORY) if _RELATIVE else None

    @property
    def path(self) -> Path:
        """Where the folder is now: the path it was opened at while it is still there (as given, relative or
        through a symlink), else followed through its descriptor where the system says (Linux, macOS)."""
        fd = self.fd
        if fd is not None:
            try:
                here, there = os.fstat(fd), os.stat(self._opened_at)
                if (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino):
                    return self._opened_at
            except OSError:
                pass
            try:
                if sys.platform.startswith("linux"):
                    where = os.readlink(f"/proc/self/fd/{fd}")
                    if not where.endswith(" (deleted)"):
                        self._opened_at = Path(where)
                        return self._opened_at
                elif sys.platform == "darwin":
                    import fcntl

                    where = fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024)).rstrip(b"\0").decode()
                    self._opened_at = Path(where)
                    return self._opened_at
            except OSError:
                pass
        return self._opened_at

    def _where(self, name: str) -> tuple[str | Path, dict[str, int]]:
        """A file's name and the keyword that makes a call resolve it in this folder."""
        if self.fd is None:
            return self._opened_at / name, {}
        return name, {"dir_fd": self.fd}

    def open(self, name: str, flags: int, mode: int = 0o644) -> int:
        """`os.open` of a file in the folder."""
        where, relative = self._where(name)
        return os.open(where, flags, mode, **relative)

    def open_append(self, name: str) -> int:
        """An O_APPEND descriptor: each `os.write` of a whole line lands at the end, in one piece."""
        return self.open(name, os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def open_file(self, name: str, mode: str, encoding: str | None = None) -> IO:
        """A Python file object (`"ab"`, `"wb"`, `"a"`...) on a file in the folder."""
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
        return open(self.open(name, flags), mode, encoding=encoding)

    def mkdir(self, name: str) -> None:
        """Create a subfolder if it is not there yet."""
        where, relative = self._where(name)
        with contextlib.suppress(FileExistsError):
            os.mkdir(where, **relative)

    def replace(self, src: str, dst: str) -> None:
        """Rename `src` to `dst` in the folder, replacing `dst` (atomic on one filesystem)."""
        if self.fd is None:
            os.replace(self._opened_at / src, self._opened_at / dst)
        else:
            os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def unlink(self, name: str) -> None:
        """Remove a file of the folder; one already gone is fine."""
        where, relative = self._where(name)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where, **relative)

    def stat(self, name: str) -> os.stat_result:
        """`os.stat` of a file in the folder (symlinks not followed)."""
        where, relative = self._where(name)
        return os.stat(where, follow_symlinks=False, **relative)

    def fsync(self, name: str = "") -> None:
        """Make renames in the folder (or in its subfolder `name`) durable; a no-op where folders cannot be synced."""
        if not name and self.fd is not None:
            with contextlib.suppress(OSError):
                os.fsync(self.fd)
            return
        try:
            fd = self.open(name, os.O_RDONLY | _DIRECTORY) if name else os.open(self._opened_at, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def write_atomic(self, name: str, data: bytes, *, fsync: bool = False) -> None:
        """Replace a file with `data` via a temp file and rename, so readers never see a half-written file.

        A write that fails (a full disk) removes its temp file and raises; `name` keeps its previous content.
        """
        tmp = f"{os.path.dirname(name)}/.{os.path.basename(name)}.{os.getpid()}.tmp".lstrip("/")
        replace_via_temp(data, fsync, open_tmp=lambda: self.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                         commit=lambda: self.replace(tmp, name), discard=lambda: self.unlink(tmp))
        if fsync:
            self.fsync(os.path.dirname(name))

    def close(self) -> None:
        """Let the folder go; `path` keeps saying where it was last."""
        if self.fd is not None:
            self._opened_at = self.path
            os.close(self.fd)
            self.fd = None
