"""A backend with what happened to it (:class:`BackendSlot`), and a remote backend's own thread
behind a bounded queue (:class:`RemoteWorker`).

Every backend call is guarded: a failing backend is reported once, in words that fit it (the local
run store says its records are lost; a remote one says the others still get them), and never
stops training or the other backends.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.redact import mask_text

logger = logging.getLogger("hf_tracking")


class BackendSlot:
    """A backend with what happened to it: started, failed, records written, lost (a call that
    failed), dropped (its queue was full) and dropped because the writer thread was stalled."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.started = False
        self.error: str | None = None
        self.written = 0
        self.lost = 0
        self.dropped = 0
        self.stalled = 0
        # Records handed to the backend whose call has not returned yet.
        self.pending = 0
        self.finish_status = "finishing"

    def _report(self, what: str, error: BaseException) -> None:
        message = mask_text(f"{type(error).__name__}: {error}")
        if self.error is not None:
            return
        self.error = f"{what}: {message}"
        if self.backend.remote:
            consequence = (
                "training goes on, the other backends still get every record, and the summary "
                "records the failure"
            )
        elif what == "start":
            consequence = (
                "training goes on without it, and its records are counted as lost in the summary"
            )
        else:
            consequence = (
                "training goes on, records this store cannot write are counted as lost in the "
                "summary, and it tries again with the next records"
            )
        logger.warning(
            "hf_tracking: backend %r failed in %s (%s); %s",
            self.backend.name,
            what,
            message,
            consequence,
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
        self.pending = count
        try:
            method(argument)
            self.written += count
        except Exception as error:
            self.lost += count
            self._report("log", error)
        finally:
            self.pending = 0

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
            "records_dropped_writer_stalled": self.stalled,
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
