"""TensorBoard event files of a run, written with tensorboardX (no TensorFlow needed).

Where: ``{run_dir}/tensorboard`` (``tensorboard --logdir experiments/NAME/tensorboard``).

What: every key of every record as a scalar at ``global_step`` = ``time/gradient_steps`` (the
axes ``time/wallclock_hours`` and ``time/tokens_seen`` are scalars of their own, so a curve can be
read against them through TensorBoard's step axis); ``final/*`` values as scalars at the last
step; at finish, the flattened config as hparams in ``tensorboard/hparams`` (a run of its own, as
``add_hparams`` makes one), with the last ``final/*``, ``train/loss`` and ``val/loss`` as its
metrics. TensorBoard stores scalars as float32. Tags keep the catalog
names; characters outside letters, digits, ``_ - . /`` become ``_`` (TensorBoard's own rule).

Resume from step S: the writer opens with ``purge_step=S + 1``, so TensorBoard drops the points
a previous session wrote past S and shows one history.

tensorboardX rather than ``torch.utils.tensorboard``: the latter needs the ``tensorboard``
package (about 44 MB with grpcio and its data server) and costs ~0.3 s to import next to torch;
tensorboardX is an 88 KB wheel on protobuf and numpy, ~0.05 s to import. Its protobufs and
checksum are used; the files are written by :mod:`hf_tracking.backends.tensorboard_events`, on
the backend's own thread, so that a failed write (a full disk) is reported with its error and
counts instead of stopping the backend silently.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from typing import Any

from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.flat import flatten_config, numeric_values, record_step
from hf_tracking.backends.tensorboard_events import EventFile
from hf_tracking.catalog import STEP_KEY, TRAIN_LOSS

SUBDIRECTORY = "tensorboard"
HPARAMS_SUBDIRECTORY = "hparams"
FINAL_PREFIX = "final/"
HPARAM_METRICS = (TRAIN_LOSS, "val/loss")
_NOT_IN_A_TAG = re.compile(r"[^-/\w.]")


def tensorboard_tag(key: str) -> str:
    """The tag TensorBoard shows for ``key``."""
    return _NOT_IN_A_TAG.sub("_", key).lstrip("/")


class TensorBoardBackend(Backend):
    name = "tensorboard"
    remote = True

    def __init__(self) -> None:
        self.writer: EventFile | None = None
        self.logdir: str | None = None
        self.purge_step: int | None = None
        self._hparams: dict[str, Any] = {}
        self._metrics: dict[str, float] = {}
        self._last_step = 0
        self.records_skipped = 0

    def start(self, run: RunInfo) -> None:
        self.logdir = os.path.join(run.run_dir, SUBDIRECTORY)
        if run.resumed_from_step is not None:
            self.purge_step = run.resumed_from_step + 1
        # tensorboardX names a file by the second and the host: a session resumed within the
        # same second would overwrite the last one's file. The suffix (nanoseconds) keeps them
        # apart and in the order TensorBoard must read them for the purge.
        self.writer = EventFile(self.logdir, f".{time.time_ns()}", self.purge_step)
        self._hparams = flatten_config(run.config)

    def log_batch(self, records: list[Record]) -> None:
        """One event per record, all its scalars in one Summary."""
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.proto.summary_pb2 import Summary

        assert self.writer is not None, "TensorBoardBackend.log_batch before start"
        events, metrics, last_step = [], dict(self._metrics), self._last_step
        wall_time = time.time()
        for record in records:
            values = numeric_values(record.values)
            step = record_step(values, STEP_KEY)
            if step is None:  # no step TensorBoard can store: the record is left out
                self.records_skipped += 1
                continue
            summary = Summary(
                value=[
                    Summary.Value(tag=tensorboard_tag(key), simple_value=value)
                    for key, value in values.items()
                ]
            )
            events.append(Event(summary=summary, step=step, wall_time=wall_time))
            last_step = max(last_step, step)
            for key, value in values.items():
                if key.startswith(FINAL_PREFIX) or key in HPARAM_METRICS:
                    metrics[key] = value
        self.writer.write(events)  # what a failed write loses is not counted as shown either
        self._metrics, self._last_step = metrics, last_step

    def finish(self, status: str, exit_code: int) -> None:
        if self.writer is None:
            return
        self.writer.close()
        self.writer = None
        if self._hparams and self._metrics:
            self._write_hparams()

    def _write_hparams(self) -> None:
        """The config and the run's final figures as one hparams session in ``hparams/``,
        rewritten at every finish so that it describes the run as it ends (TensorBoard keeps
        the first hparams it reads in a directory)."""
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.proto.summary_pb2 import Summary
        from tensorboardX.summary import hparams

        assert self.logdir is not None
        directory = os.path.join(self.logdir, HPARAMS_SUBDIRECTORY)
        shutil.rmtree(directory, ignore_errors=True)
        metrics = {tensorboard_tag(key): value for key, value in self._metrics.items()}
        values = [Summary.Value(tag=key, simple_value=value) for key, value in metrics.items()]
        now = time.time()
        events = [
            Event(summary=summary, wall_time=now) for summary in hparams(self._hparams, metrics)
        ]
        events.append(Event(summary=Summary(value=values), step=self._last_step, wall_time=now))
        writer = EventFile(directory, f".{time.time_ns()}")
        try:
            writer.write(events)
        finally:
            writer.close()

    def info(self) -> dict[str, Any]:
        return {
            "logdir": self.logdir,
            "purge_step": self.purge_step,
            "records_skipped": self.records_skipped,
        }
