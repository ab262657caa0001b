"""The writer thread: takes records off the training thread and hands them to the backends.

The training thread only appends to a deque (well under a microsecond, no lock it can wait on).
The writer thread polls it, adds the host probes (psutil) to training records, writes every record
to the run's local store itself (the source of truth, so it waits on no other backend) and then
offers a copy of it to every other backend's worker (:class:`hf_tracking.slots.RemoteWorker`),
whose bounded queue drops its oldest record when full and counts the drop. Nothing a backend
raises, ``SystemExit`` included, stops the writer; a failure of the writer's own work costs the
records in hand, counted as lost for every backend and said on stderr.

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
from hf_tracking.backends.registry import LOCAL
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


def is_local_store(backend: Backend) -> bool:
    """The run's local store (the source of truth), written by the writer thread itself."""
    return backend.name == LOCAL and not backend.remote


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
        # The local run store: the only backend the writer thread calls itself.
        self._local = next((slot for slot in self.slots if is_local_store(slot.backend)), None)
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
        self._block_timeout = block_timeout
        self._drain_timeout = drain_timeout
        self._intake: deque[Item] = deque()
        self._workers = [
            RemoteWorker(slot, self._run, queue_size)
            for slot in self.slots
            if slot is not self._local
        ]
        self._busy = False
        self._closing = False
        # Records the writer has taken off the intake: how put() tells a slow writer from a stuck one.
        self._progress = 0
        self._stalled_at: int | None = None
        self.stall_dropped = 0
        # Records the writer took but could not hand on (its own work failed), and why.
        self.writer_lost = 0
        self.writer_error: str | None = None
        self.failed_jobs = 0
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hf_tracking-writer", daemon=True)
        self._thread.start()

    @property
    def has_remote_backends(self) -> bool:
        """Whether backends other than the local store (finished in the background) run."""
        return bool(self._workers)

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
        if self._local is not None:
            self._local.start(self._run)
        while True:
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            batch: list[Record] = []
            try:
                self._drain(batch)
            except BaseException as error:  # the writer's own work: it goes on
                self._writer_failed(error, batch)
            self._busy = False
            if self._closing and not self._intake:
                return

    def _drain(self, batch: list[Record]) -> None:
        """Deliver what waits, in order, in batches: one write and one flush per batch.
        ``batch`` holds the records taken and not yet delivered (for the count on a failure)."""
        while self._intake:
            self._busy = True
            pattern = redact.current_pattern(max_age=ENVIRONMENT_RESCAN_SECONDS)
            while self._intake and len(batch) < BATCH_SIZE:
                item = self._intake.popleft()
                self._progress += 1
                if item.__class__ is tuple:
                    item = Record(*item)
                if isinstance(item, Record):
                    batch.append(item)
                    self._prepare(item)
                    if not item.values:  # a row whose build failed
                        batch.pop()
                        continue
                    item.values = redact.mask_record(item.values, pattern)
                    continue
                self._deliver(batch)
                try:
                    item()
                except BaseException as error:
                    self._job_failed(error)
            self._deliver(batch)

    def _writer_failed(self, error: BaseException, batch: list[Record]) -> None:
        """Count the records in hand as lost for every backend, and say it (the first time)."""
        self.writer_lost += len(batch)
        batch.clear()
        if self.writer_error is None:
            self.writer_error = redact.mask_text(f"{type(error).__name__}: {error}")
            logger.error(
                "hf_tracking: the writer thread failed (%s); the records it held are counted "
                "as lost in the summary, and it goes on with the next ones",
                self.writer_error,
            )

    def _job_failed(self, error: BaseException) -> None:
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
            except BaseException:
                logger.exception("hf_tracking: preparing a %s record failed", record.kind)
        if record.kind == "train" and self._host_probe is not None:
            try:
                record.values.update(self._host_probe())
            except BaseException:
                self._host_probe = None

    def _deliver(self, batch: list[Record]) -> None:
        """The local store first, then a copy to every other backend; empties ``batch``."""
        if not batch:
            return
        if self._local is not None:
            self._local.log(batch)
        for worker in self._workers:
            worker.offer(batch)
        batch.clear()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued record has reached every backend; True when it did."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while time.monotonic() < deadline:
            waiting = [worker for worker in self._workers if worker.pending()]
            if not self._intake and not self._busy and not waiting:
                return True
            for worker in waiting:
                worker.hurry()
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
        local = self._local
        if local is not None and local.finish_status == "finishing":
            local.finish(status, exit_code)
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
            if slot is self._local:
                slot.give_up(0, f"writer stalled: not finished within {self._drain_timeout:g} s")

    def wait_for_remote(self, timeout: float) -> list[dict[str, Any]]:
        """Wait for the remote backends to finish, each within ``timeout``; then report."""
        deadline = time.monotonic() + timeout
        for worker in self._workers:  # they finish side by side: each gets the whole timeout
            worker.wait(timeout, deadline)
        return self.reports()

    def reports(self) -> list[dict[str, Any]]:
        reports = []
        for slot in self.slots:
            slot.stalled = self.stall_dropped
            report = {"name": slot.backend.name, **slot.report()}
            if self.writer_lost:
                report["records_lost"] += self.writer_lost
                report["writer_error"] = self.writer_error
            reports.append(report)
        return reports
