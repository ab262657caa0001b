"""A backend with what happened to it (:class:`BackendSlot`), and a backend's own thread behind a
bounded queue (:class:`RemoteWorker`).

Every backend call is guarded, against any exception a backend raises (``SystemExit`` included): a
failing backend is reported once, in words that fit it (the local run store says its records are
lost; another backend says the others still get them), and never stops training, the writer
thread or the other backends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.redact import mask_text

logger = logging.getLogger("hf_tracking")


class BackendSlot:
    """A backend with what happened to it: started, failed, records written, lost (a call that
    failed, or that had not returned when the run gave up on the backend), dropped (its queue was
    full) and dropped because the writer thread was stalled."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.started = False
        self.error: str | None = None
        self.written = 0
        self.lost = 0
        self.dropped = 0
        self.stalled = 0
        # Records of the batch in hand not written yet (handed, or next in line).
        self.pending = 0
        # Set when the run stopped waiting for the backend: a call that returns later counts
        # nothing (its records were counted lost then).
        self.abandoned = False
        # Whether its latest call failed (it is not waited on at finish then).
        self.failing = False
        self.finish_status = "finishing"

    def _report(self, what: str, error: BaseException) -> None:
        if _passes_through(error):
            raise error
        self.failing = True
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
        except BaseException as error:  # a backend never stops training
            self._report("start", error)

    def log(self, records: list[Record]) -> None:
        if not self.started:
            self.lost += len(records)
            return
        self.pending = len(records)
        if type(self.backend).log_batch is not Backend.log_batch:
            self._call(self.backend.log_batch, records, len(records))
        else:
            for record in records:
                self._call(self.backend.log, record, 1)

    def _call(self, method: Callable[[Any], None], argument: Any, count: int) -> None:
        try:
            method(argument)
            self.failing = False
            if not self.abandoned:
                self.written += count
        except BaseException as error:
            if not self.abandoned:
                self.lost += count
            self._report("log", error)
        finally:
            if not self.abandoned:
                self.pending -= count

    def give_up(self, queued: int, status: str) -> int:
        """Stop counting on the backend: what is queued and the call in progress are lost.
        Returns the records counted lost."""
        lost = queued + self.pending
        self.lost += lost
        self.pending = 0
        self.abandoned = True
        self.finish_status = status
        return lost

    def finish(self, status: str, exit_code: int) -> None:
        if not self.started:
            self.finish_status = "never started"
            return
        try:
            self.backend.finish(status, exit_code)
            if not self.abandoned:
                self.finish_status = "finished"
        except BaseException as error:
            if not self.abandoned:
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
            # Given up on: the status says when (and the error, why).
            "status": self.finish_status if self.abandoned or not self.error else "failed",
            "error": self.error,
            "records_written": written,
            "records_lost": lost,
            "records_dropped": self.dropped,
            "records_dropped_writer_stalled": self.stalled,
            **info,
        }


def _backend_health(backend: Backend) -> str | None:
    try:
        return backend.health()
    except Exception as error:
        return f"health check failed: {type(error).__name__}: {error}"


def _passes_through(error: BaseException) -> bool:
    """Ctrl-C on the main thread (a local store finished in ``finish()``) is the user's, not
    the backend's failure."""
    return (
        isinstance(error, KeyboardInterrupt)
        and threading.current_thread() is threading.main_thread()
    )


class RemoteWorker:
    """One backend on a thread of its own, behind a bounded queue. It gets its own copy of every
    record, so what one backend does to a record reaches no other."""

    # Seconds ``wait`` still gives a backend that has failed already (one that raised, or whose
    # own writer died) to finish, whatever the run's finish timeout.
    FAILED_GRACE = 1.0

    def __init__(self, slot: BackendSlot, run: RunInfo, queue_size: int) -> None:
        self.slot = slot
        self._run = run
        self._queue: deque[Record] = deque()
        self._in_flight = 0
        self._queue_size = queue_size
        self._condition = threading.Condition()
        self._closing: tuple[str, int] | None = None
        # Set by a flush: what is queued goes now, without waiting for ``batch_seconds``.
        self._hurry = False
        self._thread = threading.Thread(
            target=self._loop, name=f"hf_tracking-{slot.backend.name}", daemon=True
        )
        self._thread.start()

    def offer(self, records: list[Record]) -> None:
        """Queue copies of records, dropping the oldest past ``queue_size``; one wake-up per
        batch."""
        copies = [Record(r.kind, dict(r.values), None, r.path) for r in records]
        with self._condition:
            for record in copies:
                if len(self._queue) >= self._queue_size:
                    self._queue.popleft()
                    self.slot.dropped += 1
                self._queue.append(record)
            self._condition.notify()

    def pending(self) -> int:
        """Records queued or being sent."""
        return len(self._queue) + self._in_flight

    def hurry(self) -> None:
        """Send what is queued now, without waiting for the backend's ``batch_seconds``."""
        with self._condition:
            self._hurry = True
            self._condition.notify()

    def _loop(self) -> None:
        self.slot.start(self._run)
        hold = self.slot.backend.batch_seconds
        next_batch = 0.0
        while True:
            with self._condition:
                while self._closing is None:
                    if self._queue:
                        wait = 0.0 if self._hurry else next_batch - time.monotonic()
                        if wait <= 0:
                            break
                        self._condition.wait(wait)
                    else:
                        self._condition.wait()
                batch = list(self._queue)
                self._queue.clear()
                self._in_flight = len(batch)
                self._hurry = False
                closing = self._closing
            if batch:
                self.slot.log(batch)
                self._in_flight = 0
                next_batch = time.monotonic() + hold
            elif closing is not None:
                self.slot.finish(*closing)
                return

    def request_close(self, status: str, exit_code: int) -> None:
        """Finish after the queued records; returns at once."""
        with self._condition:
            self._closing = (status, exit_code)
            self._condition.notify()

    def wait(self, timeout: float, deadline: float | None = None) -> None:
        """Wait for the finish until ``deadline`` (``timeout`` from now by default; at most
        ``FAILED_GRACE`` for a backend whose latest call failed); past it the backend is
        stopped and what it still held is counted lost."""
        now = time.monotonic()
        end = now + timeout if deadline is None else deadline
        failed = self.slot.failing or self._failed_on_its_own()
        bound = min(timeout, self.FAILED_GRACE) if failed else timeout
        self._thread.join(max(0.0, min(end, now + bound) - now))
        if not self._thread.is_alive():
            return
        with self._condition:
            queued = len(self._queue)
            self._queue.clear()
        status = self._not_responding(bound)
        lost = self.slot.give_up(queued, status)
        logger.warning(
            "hf_tracking: backend %r %s; stopped waiting for it, %d records it had not "
            "written are counted lost",
            self.slot.backend.name,
            status,
            lost,
        )
        try:
            self.slot.backend.kill()
        except Exception:
            logger.exception("hf_tracking: stopping backend %r failed", self.slot.backend.name)

    def _failed_on_its_own(self) -> bool:
        error = _backend_health(self.slot.backend)
        if error and self.slot.error is None:
            self.slot.error = mask_text(error)
        return bool(error)

    def _not_responding(self, bound: float) -> str:
        health = _backend_health(self.slot.backend)
        if health:
            return f"did not finish within {bound:g} s ({mask_text(health)})"
        return f"did not finish within {bound:g} s"
