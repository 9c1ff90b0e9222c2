"""TensorBoard: scalars per figure and the provenance as a Markdown text summary, at one step per result.

Imported only when a target names TensorBoard. Two ways in:

* a writer object (``torch.utils.tensorboard.SummaryWriter``, ``tensorboardX.SummaryWriter``, the ``.experiment``
  of Lightning's ``TensorBoardLogger``): its ``add_scalar`` / ``add_text`` are called, then ``flush``;
* a log directory (``"tensorboard"`` → ``runs/eco_magic``, ``"tensorboard:DIR"``): eco_magic appends the events
  itself to an event file of its own in that directory, with the ``tensorboard`` package's protobufs and record
  framing. The file is opened, appended to and closed on every result: no writer thread, nothing to close at
  exit, and a crash loses nothing already logged.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from .fields import provenance_markdown

DEFAULT_LOGDIR = os.path.join("runs", "eco_magic")

_FILES: dict[str, Path] = {}
_LOCK = threading.Lock()


def log(arg: Any, values: dict[str, float], tags: dict[str, str], step: int | None, prefix: str) -> str | None:
    from . import next_step

    text = provenance_markdown(tags)
    if arg is None or isinstance(arg, str):
        import tensorboard  # noqa: F401 - not installed: ImportError, which log_result turns into the hint

        logdir = os.path.abspath(arg or DEFAULT_LOGDIR)
        at = next_step(("tensorboard", logdir, prefix), step)
        write_events(logdir, values, {f"{prefix}provenance": text}, at)
        return None
    writer = arg
    at = next_step(("tensorboard", id(writer), prefix), step)
    for key, value in values.items():
        writer.add_scalar(key, value, at)
    if hasattr(writer, "add_text"):
        writer.add_text(f"{prefix}provenance", text, at)
    if hasattr(writer, "flush"):
        writer.flush()
    return None


def event_file(logdir: str) -> Path:
    """This process's event file in ``logdir`` (created with its file-version header on first use)."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    with _LOCK:
        path = _FILES.get(logdir)
        if path is not None and path.exists():
            return path
        Path(logdir).mkdir(parents=True, exist_ok=True)
        # TensorBoard reads every file whose name contains "tfevents"; no host name in it (nothing from the
        # environment is written), the pid and a counter keep concurrent processes apart
        n = len(_FILES)
        path = Path(logdir) / f"events.out.tfevents.{time.time():.0f}.eco_magic.{os.getpid()}.{n}"
        header = event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2")
        with open(path, "ab") as f:
            RecordWriter(f).write(header.SerializeToString())
        _FILES[logdir] = path
        return path


def write_events(logdir: str, scalars: dict[str, float], texts: dict[str, str], step: int) -> Path:
    """Append one event holding ``scalars`` (simple values) and ``texts`` (text-plugin tensors) at ``step``."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
    from tensorboard.plugins.text import metadata as text_metadata
    from tensorboard.summary.writer.record_writer import RecordWriter

    values = [summary_pb2.Summary.Value(tag=key, simple_value=value) for key, value in scalars.items()]
    for key, text in texts.items():
        tensor = tensor_pb2.TensorProto(
            dtype="DT_STRING", string_val=[text.encode("utf-8")],
            tensor_shape=tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]))
        values.append(summary_pb2.Summary.Value(
            tag=key, tensor=tensor, metadata=text_metadata.create_summary_metadata(display_name=key,
                                                                                    description="")))
    event = event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary_pb2.Summary(value=values))
    path = event_file(logdir)
    with _LOCK, open(path, "ab") as f:
        RecordWriter(f).write(event.SerializeToString())
    return path
