"""The writer thread: takes records off the training thread and hands them to the backends.

The training thread only appends to a deque (well under a microsecond, no lock it can wait on).
The writer thread polls it, adds the host probes (psutil) to training records, writes every record
to the local backends itself (they never drop a record) and offers it to each remote backend's
worker, whose bounded queue drops its oldest record when full and counts the drop. Every backend
call is guarded: a failing backend is reported once and never stops training or the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from hf_tracking.backends.base import Backend, Record, RunInfo

logger = logging.getLogger("hf_tracking")
POLL_SECONDS = 0.02
BATCH_SIZE = 1000
# Records waiting for the writer before put() waits for room (about 15 MB of records).
HIGH_WATER = 10000


class BackendSlot:
    """A backend with what happened to it: started, failed, records written, lost and dropped."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.started = False
        self.error: str | None = None
        self.written = 0
        self.lost = 0
        self.dropped = 0
        self.finish_status = "finishing"

    def _report(self, what: str, error: BaseException) -> None:
        message = f"{type(error).__name__}: {error}"
        if self.error is None:
            self.error = f"{what}: {message}"
            logger.warning(
                "hf_tracking: backend %r failed in %s (%s); training goes on, the local run store "
                "keeps every record, and the summary records the failure",
                self.backend.name,
                what,
                message,
            )

    def start(self, run: RunInfo) -> None:
        try:
            self.backend.start(run)
            self.started = True
        except Exception as error:  # a backend never stops training
            self._report("start", error)

    def log(self, records: list[Record]) -> None:
        if not self.started:
            self.lost += len(records)
            return
        if type(self.backend).log_batch is not Backend.log_batch:
            self._call(self.backend.log_batch, records, len(records))
        else:
            for record in records:
                self._call(self.backend.log, record, 1)

    def _call(self, method: Callable[[Any], None], argument: Any, count: int) -> None:
        try:
            method(argument)
            self.written += count
        except Exception as error:
            self.lost += count
            self._report("log", error)

    def finish(self, status: str, exit_code: int) -> None:
        if not self.started:
            self.finish_status = "never started"
            return
        try:
            self.backend.finish(status, exit_code)
            self.finish_status = "finished"
        except Exception as error:
            self.finish_status = "failed"
            self._report("finish", error)

    def report(self) -> dict[str, Any]:
        try:
            info = self.backend.info()
        except Exception as error:
            info = {"info_error": str(error)}
        written, lost = self.written, self.lost
        acknowledged = self.backend.acknowledged() if self.started else None
        if acknowledged is not None:
            written = min(acknowledged, self.written)
            if self.error or self.finish_status != "finishing":
                lost += self.written - written
        return {
            "status": "failed" if self.error else self.finish_status,
            "error": self.error,
            "records_written": written,
            "records_lost": lost,
            "records_dropped": self.dropped,
            **info,
        }


class RemoteWorker:
    """One remote backend on a thread of its own, behind a bounded queue."""

    def __init__(self, slot: BackendSlot, run: RunInfo, queue_size: int) -> None:
        self.slot = slot
        self._run = run
        self._queue: deque[Record] = deque()
        self._in_flight = 0
        self._queue_size = queue_size
        self._condition = threading.Condition()
        self._closing: tuple[str, int] | None = None
        self._thread = threading.Thread(
            target=self._loop, name=f"hf_tracking-{slot.backend.name}", daemon=True
        )
        self._thread.start()

    def offer(self, records: list[Record]) -> None:
        """Queue records, dropping the oldest past ``queue_size``; one wake-up per batch."""
        with self._condition:
            for record in records:
                if len(self._queue) >= self._queue_size:
                    self._queue.popleft()
                    self.slot.dropped += 1
                self._queue.append(record)
            self._condition.notify()

    def pending(self) -> int:
        """Records queued or being sent."""
        return len(self._queue) + self._in_flight

    def _loop(self) -> None:
        self.slot.start(self._run)
        while True:
            with self._condition:
                while not self._queue and self._closing is None:
                    self._condition.wait()
                batch = list(self._queue)
                self._queue.clear()
                self._in_flight = len(batch)
                closing = self._closing
            if batch:
                self.slot.log(batch)
                self._in_flight = 0
            elif closing is not None:
                self.slot.finish(*closing)
                return

    def request_close(self, status: str, exit_code: int) -> None:
        """Finish after the queued records; returns at once."""
        with self._condition:
            self._closing = (status, exit_code)
            self._condition.notify()

    def wait(self, timeout: float) -> None:
        """Wait for the finish; past ``timeout`` the backend is stopped and the rest counted lost."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.slot.finish_status = f"did not finish within {timeout:g} s"
            self.slot.lost += len(self._queue)
            logger.warning(
                "hf_tracking: backend %r did not finish within %g s; stopped waiting for it",
                self.slot.backend.name,
                timeout,
            )
            try:
                self.slot.backend.kill()
            except Exception:
                logger.exception("hf_tracking: stopping backend %r failed", self.slot.backend.name)


class Dispatcher:
    """Owns the writer thread and every backend of one run."""

    def __init__(
        self,
        backends: list[Backend],
        run: RunInfo,
        host_probe: Callable[[], dict[str, float]] | None = None,
        queue_size: int = 10000,
    ) -> None:
        self.slots = [BackendSlot(backend) for backend in backends]
        self._run = run
        self._host_probe = host_probe
        self._queue_size = queue_size
        self._intake: deque[Record | Callable[[], None]] = deque()
        self._workers: list[RemoteWorker] = []
        self._busy = False
        self._closing = False
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hf_tracking-writer", daemon=True)
        self._thread.start()

    @property
    def has_remote_backends(self) -> bool:
        return any(slot.backend.remote for slot in self.slots)

    def put(self, item: Record | Callable[[], None]) -> None:
        """Queue a record, or a job to run on the writer thread. Called on the training thread:
        an append, unless more than ``HIGH_WATER`` items wait (a loop emitting records faster
        than a disk takes them), when it waits for the writer to catch up rather than let memory
        grow without bound."""
        self._intake.append(item)
        if len(self._intake) > HIGH_WATER:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        self._wake.set()
        while len(self._intake) > HIGH_WATER // 2 and self._thread.is_alive():
            time.sleep(0.001)

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
            while self._intake and len(batch) < BATCH_SIZE:
                item = self._intake.popleft()
                if isinstance(item, Record):
                    self._prepare(item)
                    batch.append(item)
                    continue
                self._deliver(batch, local)
                batch = []
                try:
                    item()
                except Exception:
                    logger.exception("hf_tracking: a write on the writer thread failed")
            self._deliver(batch, local)
            self._busy = False

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
        """Drain the queue and finish the local backends; remote ones are asked to finish after
        their queues and do so on their own threads (see :meth:`wait_for_remote`)."""
        self._closing = True
        self._wake.set()
        self._thread.join()
        for worker in self._workers:
            worker.request_close(status, exit_code)
        for slot in self.slots:
            if not slot.backend.remote:
                slot.finish(status, exit_code)
        return self.reports()

    def wait_for_remote(self, timeout: float) -> list[dict[str, Any]]:
        """Wait for the remote backends to finish, each within ``timeout``; then report."""
        for worker in self._workers:
            worker.wait(timeout)
        return self.reports()

    def reports(self) -> list[dict[str, Any]]:
        return [{"name": slot.backend.name, **slot.report()} for slot in self.slots]
