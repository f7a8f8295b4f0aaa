"""Mirror of a run's scalars and samples into TensorBoard event files in the run folder.

Written with the `tensorboard` package's protobuf classes, so neither TensorFlow nor torch is needed and
`tensorboard --logdir runs` keeps working on runyard runs. The event file is opened relative to the run folder
(see `folder`) and framed here as TFRecords, since tensorboard's own writer reopens its file by path for every
write and would lose a folder that was moved.
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import RunError
from .appendfile import EVENTS_HELD, AppendFile
from .folder import RunFolder

_MASK_DELTA = 0xA282EAD8
_FLUSH_BYTES = 8192  # records reach the file at least this often, as with a buffered file's default buffer
_uid = itertools.count()  # event files of one process are told apart as tensorboard's own writer does


def _masked_crc(data: bytes, crc32c: Any) -> int:
    """TFRecord's masked CRC-32C of `data`."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


class TensorBoardMirror:
    """Adds every logged scalar and text sample to an `events.out.tfevents.*` file; flushed every few seconds
    (`flush`, from the run's background thread) and at the end."""

    def __init__(self, folder: RunFolder, on_trouble: Callable[[str, OSError], None] | None = None) -> None:
        try:
            import crc32c
            from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
        except ImportError as exc:
            raise RunError("tensorboard=True needs the tensorboard package: pip install 'runyard[tensorboard]'") \
                from exc
        from ..liveness import this_host

        self._event_pb2, self._summary_pb2 = event_pb2, summary_pb2
        self._tensor_pb2, self._shape_pb2 = tensor_pb2, tensor_shape_pb2
        self._crc = crc32c.crc32c
        self._lock = threading.Lock()
        now = time.time()
        self.name = f"events.out.tfevents.{int(now):010d}.{this_host()}.{os.getpid()}.{next(_uid)}"
        # records gather here between flushes; each flush appends them as one entry, whole or not at all
        self._buffer = bytearray()
        self._count = 0
        self._closed = False
        self.file = AppendFile(folder, self.name, limit=EVENTS_HELD, lines=False, on_trouble=on_trouble)
        self._add(event_pb2.Event(wall_time=now, file_version="brain.Event:2"))
        self.flush()

    def _add(self, event: Any) -> None:
        """Append one event as a TFRecord: length, its masked CRC, the data, the data's masked CRC."""
        data = event.SerializeToString()
        header = struct.pack("<Q", len(data))
        record = b"".join((header, struct.pack("<I", _masked_crc(header, self._crc)), data,
                           struct.pack("<I", _masked_crc(data, self._crc))))
        with self._lock:
            self._buffer += record
            self._count += 1
            if len(self._buffer) >= _FLUSH_BYTES:
                self._flush()

    def scalars(self, values: dict[str, Any], step: int, wall_time: float) -> None:
        """One event holding every numeric value of a logged row."""
        summary = self._summary_pb2.Summary(value=[
            self._summary_pb2.Summary.Value(tag=tag, simple_value=float(v))
            for tag, v in values.items() if isinstance(v, (int, float))
        ])
        self._add(self._event_pb2.Event(wall_time=wall_time, step=step, summary=summary))

    def text(self, tag: str, text: str, step: int, wall_time: float) -> None:
        """A text sample, in the form TensorBoard's text plugin reads."""
        s = self._summary_pb2
        metadata = s.SummaryMetadata(plugin_data=s.SummaryMetadata.PluginData(plugin_name="text"))
        tensor = self._tensor_pb2.TensorProto(
            dtype=7,  # DT_STRING
            string_val=[text.encode("utf-8")],
            tensor_shape=self._shape_pb2.TensorShapeProto(dim=[self._shape_pb2.TensorShapeProto.Dim(size=1)]),
        )
        summary = s.Summary(value=[s.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)])
        self._add(self._event_pb2.Event(wall_time=wall_time, step=step, summary=summary))

    def flush(self) -> None:
        """Hand what was added to the operating system."""
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        if self._closed:
            return
        if self._buffer:
            data, count = bytes(self._buffer), self._count
            self._buffer.clear()
            self._count = 0
            self.file.write(data, count)
        else:
            self.file.retry()

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._flush()
                self.file.sync()
                self.file.close()
                self._closed = True
