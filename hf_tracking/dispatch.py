"""The writer thread: takes records off the training thread and hands them to the backends.

The training thread only appends to a deque (well under a microsecond, no lock it can wait on).
The writer thread polls it, adds the host probes (psutil) to training records, writes every record
to the local backends itself and offers it to each remote backend's worker
(:class:`hf_tracking.slots.RemoteWorker`), whose bounded queue drops its oldest record when full
and counts the drop.

The training thread never waits long for the writer. Past ``HIGH_WATER`` waiting items it waits
for room, at most ``block_timeout`` seconds; a writer that made no progress in that time (a hung
network filesystem) is taken as stalled: items then go to a bounded spill of ``SPILL`` more, and
past it records are dropped and counted (``records_dropped_writer_stalled`` in every backend's
report) without waiting again until the writer moves.

Secrets (:mod:`hf_tracking.redact`) are masked here, once for every backend: in the run's name,
tags, notes and config, and in the keys and string values of every record; a secret put into the
environment during the run is masked from at most ``ENVIRONMENT_RESCAN_SECONDS`` later (one scan
of ``os.environ`` a batch would cost more than the batch's own work when training logs each
step). :meth:`Dispatcher.close` waits for the writer at most ``drain_timeout``; what it leaves
unwritten is counted the same way.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from hf_tracking import redact
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.slots import BackendSlot, RemoteWorker

logger = logging.getLogger("hf_tracking")
POLL_SECONDS = 0.02
BATCH_SIZE = 1000
# Items waiting for the writer before put() waits for room (about 15 MB of records).
HIGH_WATER = 10000
# Items held beyond HIGH_WATER while the writer is stalled, before records are dropped.
SPILL = 20000
ENVIRONMENT_RESCAN_SECONDS = 1.0

__all__ = ["BackendSlot", "Dispatcher", "RemoteWorker"]

# What the intake holds: records, the fields of records, jobs.
Item = Record | tuple | Callable[[], None]


def is_record(item: Item) -> bool:
    return item.__class__ is tuple or isinstance(item, Record)


class Dispatcher:
    """Owns the writer thread and every backend of one run."""

    def __init__(
        self,
        backends: list[Backend],
        run: RunInfo,
        host_probe: Callable[[], dict[str, float]] | None = None,
        queue_size: int = 10000,
        block_timeout: float = 5.0,
        drain_timeout: float = 60.0,
    ) -> None:
        self.slots = [BackendSlot(backend) for backend in backends]
        # What backends are told of the run passes the same masking as every record.
        self._run = dataclasses.replace(
            run,
            name=redact.mask_text(run.name),
            project=redact.mask_text(run.project),
            entity=redact.mask_text(run.entity) if run.entity else run.entity,
            tags=redact.mask(run.tags),
            notes=redact.mask_text(run.notes),
            config=redact.redact(run.config),
        )
        self._host_probe = host_probe
        self._queue_size = queue_size
        self._block_timeout = block_timeout
        self._drain_timeout = drain_timeout
        self._intake: deque[Item] = deque()
        self._workers: list[RemoteWorker] = []
        self._busy = False
        self._closing = False
        # Records the writer has taken off the intake: how put() tells a slow writer from a stuck one.
        self._progress = 0
        self._stalled_at: int | None = None
        self.stall_dropped = 0
        self.failed_jobs = 0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hf_tracking-writer", daemon=True)
        self._thread.start()

    @property
    def has_remote_backends(self) -> bool:
        return any(slot.backend.remote for slot in self.slots)

    def put(self, item: Item) -> None:
        """Queue a record (or the tuple of its fields, made into one on the writer thread:
        cheaper on the training thread), or a job to run on the writer thread. Called on the
        training thread: an append, unless ``HIGH_WATER`` items wait (see the module docstring)."""
        if len(self._intake) < HIGH_WATER:
            self._intake.append(item)
            return
        self._put_when_full(item)

    def put_now(self, item: Item) -> None:
        """Queue an item without waiting for room: for the few rows the writer thread makes
        itself while it builds a row (alerts), where waiting for itself would stall it."""
        self._intake.append(item)

    def _put_when_full(self, item: Item) -> None:
        if self._stalled_at is None or self._stalled_at != self._progress:
            self._wait_for_room()
        if len(self._intake) >= HIGH_WATER + SPILL:
            if is_record(item):
                self.stall_dropped += 1
            return
        self._intake.append(item)

    def _wait_for_room(self) -> None:
        """Wait, at most ``block_timeout``, for the writer to bring the intake below half."""
        self._wake.set()
        deadline = time.monotonic() + self._block_timeout
        while len(self._intake) > HIGH_WATER // 2 and self._thread.is_alive():
            if time.monotonic() >= deadline:
                if self._stalled_at is None:
                    logger.warning(
                        "hf_tracking: the writer thread took no records for %g s (a hung disk?); "
                        "training goes on, up to %d more records are held, then records are "
                        "dropped and counted in the summary",
                        self._block_timeout,
                        SPILL,
                    )
                self._stalled_at = self._progress
                return
            time.sleep(0.001)
        self._stalled_at = None

    def _loop(self) -> None:
        local = [slot for slot in self.slots if not slot.backend.remote]
        for slot in local:
            slot.start(self._run)
        self._workers = [
            RemoteWorker(slot, self._run, self._queue_size)
            for slot in self.slots
            if slot.backend.remote
        ]
        while True:
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            self._drain(local)
            if self._closing and not self._intake:
                return

    def _drain(self, local: list[BackendSlot]) -> None:
        """Deliver what waits, in order, in batches: one write and one flush per batch."""
        while self._intake:
            self._busy = True
            batch: list[Record] = []
            pattern = redact.current_pattern(max_age=ENVIRONMENT_RESCAN_SECONDS)
            while self._intake and len(batch) < BATCH_SIZE:
                item = self._intake.popleft()
                self._progress += 1
                if item.__class__ is tuple:
                    item = Record(*item)
                if isinstance(item, Record):
                    self._prepare(item)
                    if not item.values:  # a row whose build failed
                        continue
                    item.values = redact.mask_record(item.values, pattern)
                    batch.append(item)
                    continue
                self._deliver(batch, local)
                batch = []
                try:
                    item()
                except Exception as error:
                    self._job_failed(error)
            self._deliver(batch, local)
            self._busy = False

    def _job_failed(self, error: Exception) -> None:
        """Say the first failure of a job (a "running" summary on a full disk); count the rest."""
        self.failed_jobs += 1
        if self.failed_jobs == 1:
            logger.warning(
                "hf_tracking: a write on the writer thread failed (%s: %s); later failures are "
                "not reported, and the summary is written again at finish",
                type(error).__name__,
                error,
            )

    def _prepare(self, record: Record) -> None:
        if record.prepare is not None:
            try:
                record.prepare(record.values)
            except Exception:
                logger.exception("hf_tracking: preparing a %s record failed", record.kind)
        if record.kind == "train" and self._host_probe is not None:
            try:
                record.values.update(self._host_probe())
            except Exception:
                self._host_probe = None

    def _deliver(self, batch: list[Record], local: list[BackendSlot]) -> None:
        if not batch:
            return
        for slot in local:
            slot.log(batch)
        for worker in self._workers:
            worker.offer(batch)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record has reached every backend; True when it did."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while time.monotonic() < deadline:
            if not self._intake and not self._busy and not any(w.pending() for w in self._workers):
                return True
            time.sleep(0.002)
        return False

    def close(self, status: str, exit_code: int) -> list[dict[str, Any]]:
        """Drain the queue and finish the local backends, waiting at most ``drain_timeout`` for
        the writer; remote ones are asked to finish after their queues and do so on their own
        threads (see :meth:`wait_for_remote`)."""
        self._closing = True
        self._wake.set()
        self._thread.join(self._drain_timeout)
        if self._thread.is_alive():
            self._give_up_on_writer()
        for worker in self._workers:
            worker.request_close(status, exit_code)
        for slot in self.slots:
            if not slot.backend.remote and slot.finish_status == "finishing":
                slot.finish(status, exit_code)
        return self.reports()

    def _give_up_on_writer(self) -> None:
        """The writer is stuck inside a local backend: count what it will not write."""
        left = sum(is_record(item) for item in list(self._intake))
        self._intake.clear()
        self.stall_dropped += left
        logger.warning(
            "hf_tracking: the writer thread did not finish within %g s; %d queued records are "
            "dropped and counted in the summary",
            self._drain_timeout,
            left,
        )
        for slot in self.slots:
            if slot.pending:
                slot.lost += slot.pending
                slot.pending = 0
            if not slot.backend.remote:
                slot.finish_status = (
                    f"writer stalled: not finished within {self._drain_timeout:g} s"
                )

    def wait_for_remote(self, timeout: float) -> list[dict[str, Any]]:
        """Wait for the remote backends to finish, each within ``timeout``; then report."""
        for worker in self._workers:
            worker.wait(timeout)
        return self.reports()

    def reports(self) -> list[dict[str, Any]]:
        for slot in self.slots:
            slot.stalled = self.stall_dropped
        return [{"name": slot.backend.name, **slot.report()} for slot in self.slots]
