"""A TensorBoard event file written on the calling thread, unbuffered, one write per batch.

tensorboardX's own writer hands events to a thread of its own: when a write there fails (a full
disk) that thread dies, its queue fills and the next ``add_summary`` blocks for good, with the
error seen by no one. Written here instead, a failed write raises in the backend's call (its
records are counted lost, the error reported), and like the local store the file is cut back to
its last whole event before the next write, so a torn event is never followed by more.

The format is TensorBoard's: each event a record of its length, the masked CRC-32C of the length,
the serialized ``Event`` and its masked CRC-32C.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from typing import Any

from hf_tracking.backends.appends import WholeAppends, write_all


class EventFile:
    """``events.out.tfevents.<seconds>.<host><suffix>`` in ``logdir``; a ``purge_step`` makes
    TensorBoard drop the points earlier files hold from that step on."""

    def __init__(self, logdir: str, suffix: str, purge_step: int | None = None) -> None:
        from tensorboardX.proto.event_pb2 import Event, SessionLog

        os.makedirs(logdir, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}{suffix}"
        self.path = os.path.join(logdir, name)
        self._file = WholeAppends(self.path, write=write_all)
        first = [Event(wall_time=time.time(), file_version="brain.Event:2")]
        if purge_step is not None:
            start = SessionLog(status=SessionLog.START)
            first.append(Event(step=purge_step, file_version="brain.Event:2"))
            first.append(Event(step=purge_step, session_log=start))
        self.write(first)

    def write(self, events: list[Any]) -> None:
        """Append ``events`` in one write; raises the ``OSError`` of a failed one."""
        self._file.append(b"".join(_framed(event.SerializeToString()) for event in events))

    def close(self) -> None:
        self._file.close()


def _framed(data: bytes) -> bytes:
    from tensorboardX.record_writer import masked_crc32c

    header = struct.pack("<Q", len(data))
    return b"".join(
        (
            header,
            struct.pack("<I", masked_crc32c(header)),
            data,
            struct.pack("<I", masked_crc32c(data)),
        )
    )
