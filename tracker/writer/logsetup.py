"""`run.logger` and the training.log file: the contract's line format, header and footer."""

from __future__ import annotations

import logging
import sys

from .appendfile import AppendFile

LINE_FORMAT = "%(asctime)s - %(levelname)s - %(message)s"  # asctime: YYYY-MM-DD HH:MM:SS,mmm


class LogFileHandler(logging.Handler):
    """A handler writing each record to training.log as one whole entry, opened by the run relative to its
    folder (so it follows a moved folder; `logging.FileHandler` reopens by path). A record the disk refuses is
    held and written later, never half-written (see `appendfile`), and never raises into the training."""

    def __init__(self, file: AppendFile) -> None:
        super().__init__()
        self.file: AppendFile | None = file

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = (self.format(record) + "\n").encode("utf-8", "backslashreplace")
        except Exception:
            self.handleError(record)
            return
        if self.file is not None:
            self.file.write(entry)

    def close(self) -> None:
        self.acquire()
        try:
            file, self.file = self.file, None
            if file is not None:
                file.close()
            super().close()
        finally:
            self.release()


class RunLogging:
    """A run's logger (file + console) and the file handler lent to the root logger while the run lives.

    The root logger gets the file handler so the training script's own `logging` records reach
    training.log; if the script set up no logging at all, it also gets a console handler at INFO.
    """

    def __init__(self, run_id: str, log_file: AppendFile, console: bool) -> None:
        formatter = logging.Formatter(LINE_FORMAT)
        self.file_handler = LogFileHandler(log_file)
        self.file_handler.setFormatter(formatter)
        self.logger = logging.getLogger(f"runyard.run.{run_id}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.logger.addHandler(self.file_handler)
        self._console: logging.Handler | None = None
        if console:
            self._console = logging.StreamHandler(sys.stderr)
            self._console.setFormatter(formatter)
            self.logger.addHandler(self._console)
        root = logging.getLogger()
        self._root_console: logging.Handler | None = None
        if not root.handlers and console:
            self._root_console = logging.StreamHandler(sys.stderr)
            self._root_console.setFormatter(formatter)
            root.addHandler(self._root_console)
            if root.level > logging.INFO:
                root.setLevel(logging.INFO)
        root.addHandler(self.file_handler)

    @property
    def has_console(self) -> bool:
        """Whether the run's records also reach the console."""
        return self._console is not None

    def close(self) -> None:
        """Detach and close every handler this run added."""
        root = logging.getLogger()
        root.removeHandler(self.file_handler)
        if self._root_console is not None:
            root.removeHandler(self._root_console)
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
        self.file_handler.close()


def null_logger() -> logging.Logger:
    """A logger that writes nothing: what ranks other than 0 get."""
    logger = logging.getLogger("runyard.run.null")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger
