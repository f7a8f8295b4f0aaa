"""Mirror of a run's scalars and samples into TensorBoard event files in the run folder.

Written with the `tensorboard` package's own event writer and protobuf classes, so neither TensorFlow nor
torch is needed and `tensorboard --logdir runs` keeps working on runyard runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import RunError


class TensorBoardMirror:
    """Adds every logged scalar and text sample to an `events.out.tfevents.*` file."""

    def __init__(self, run_dir: Path) -> None:
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
        except ImportError as exc:
            raise RunError("tensorboard=True needs the tensorboard package: pip install 'runyard[tensorboard]'") \
                from exc
        self._event_pb2, self._summary_pb2 = event_pb2, summary_pb2
        self._tensor_pb2, self._shape_pb2 = tensor_pb2, tensor_shape_pb2
        self._writer = EventFileWriter(str(run_dir), max_queue_size=100, flush_secs=5)

    def scalars(self, values: dict[str, Any], step: int, wall_time: float) -> None:
        """One event holding every numeric value of a logged row."""
        summary = self._summary_pb2.Summary(value=[
            self._summary_pb2.Summary.Value(tag=tag, simple_value=float(v))
            for tag, v in values.items() if isinstance(v, (int, float))
        ])
        self._writer.add_event(self._event_pb2.Event(wall_time=wall_time, step=step, summary=summary))

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
        self._writer.add_event(self._event_pb2.Event(wall_time=wall_time, step=step, summary=summary))

    def close(self) -> None:
        self._writer.flush()
        self._writer.close()
