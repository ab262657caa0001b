"""An MLflow run's metric points on their way to the tracking store, through its outages.

Points wait in :class:`Delivery` until the store holds them, and go in order, in calls of at
most ``METRICS_PER_CALL``. A call the store does not take for now (:class:`StoreUnavailable`: a
server stopped or restarting, a timeout, a 5xx or 429 answer, a SQLite store locked by another
writer) keeps every point: the same call is tried again when the next one is due, after waits
of 1, 2, 4, 8 and then 10 seconds, for at most ``retry_seconds`` from the first
failure (and once more at that bound). While it lasts, training goes on and its points wait.
Past the bound the delivery gives up: the points it holds and every later record are not
delivered, and :attr:`Delivery.records_delivered` tells the summary how many records the store
holds. Sending a call twice (one that reached the store but whose answer was lost) is harmless:
MLflow keeps one point per key, step, timestamp and value.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from hf_tracking.backends.mlflow_reach import StoreUnavailable

logger = logging.getLogger("hf_tracking")
METRICS_PER_CALL = 1000
RETRY_SECONDS = 300.0
FIRST_WAIT = 1.0
MAX_WAIT = 10.0


class Delivery:
    """The points not yet in the store, and the outages met on the way. ``send`` makes one call
    with a list of points; it raises :class:`StoreUnavailable` when the store did not take it."""

    def __init__(
        self, send: Callable[[list[Any]], None], store: str, retry_seconds: float = RETRY_SECONDS
    ) -> None:
        self._send = send
        self.store = store
        self.retry_seconds = retry_seconds
        self._points: deque[Any] = deque()
        # Per record not yet in the store, the number of points added up to its last one.
        self._ends: deque[int] = deque()
        self._added = 0
        self._sent = 0
        self.records_delivered = 0
        self.outages = 0
        self.failed_calls = 0
        self.longest_outage = 0.0
        self.gave_up: str | None = None
        self.points_given_up = 0
        self.stopped = False
        self._down_since: float | None = None
        self._next_try = 0.0
        self._wait = FIRST_WAIT

    def add(self, points: list[Any]) -> None:
        """One record's points (none where all were sent before)."""
        self._points.extend(points)
        self._added += len(points)
        self._ends.append(self._added)
        self._count_delivered()

    @property
    def waiting(self) -> int:
        """Points not in the store yet."""
        return len(self._points)

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def flush(self, finishing: bool = False) -> None:
        """Send what waits: until a call fails (the rest waits for a later flush) or, when
        ``finishing``, until everything is sent or the bound is passed (sleeping between
        tries)."""
        while self._points and self.gave_up is None and not self.stopped:
            now = time.monotonic()
            if self._down_since is not None and now < self._next_try:
                if not finishing:
                    return
                time.sleep(self._next_try - now)
                continue
            chunk = list(itertools.islice(self._points, METRICS_PER_CALL))
            try:
                self._send(chunk)
            except StoreUnavailable as error:
                self._failed(error)
                if finishing:
                    continue
                return
            except Exception:
                self._passed(len(chunk))  # refused for good: counted by the caller
                raise
            self._passed(len(chunk))
            self._answered()

    def _passed(self, count: int) -> None:
        for _ in range(count):
            self._points.popleft()
        self._sent += count
        self._count_delivered()

    def _count_delivered(self) -> None:
        while self._ends and self._ends[0] <= self._sent:
            self._ends.popleft()
            self.records_delivered += 1

    def _failed(self, error: StoreUnavailable) -> None:
        now = time.monotonic()
        self.failed_calls += 1
        if self._down_since is None:
            self._down_since, self._wait = now, FIRST_WAIT
            self.outages += 1
            logger.warning(
                "hf_tracking: MLflow tracking store %s did not take a call (%s); its points are "
                "kept and sent again for up to %g s",
                self.store,
                error,
                self.retry_seconds,
            )
        down = now - self._down_since
        if down >= self.retry_seconds:
            self.longest_outage = max(self.longest_outage, down)
            self.gave_up = (
                f"MLflow tracking store {self.store} did not answer for {down:.0f} s "
                f"({self.failed_calls} calls failed; the last: {error}); {len(self._points)} "
                f"points of {len(self._ends)} records and every later record are not delivered"
            )
            self.points_given_up = len(self._points)
            self._points.clear()
            return
        self._next_try = min(now + self._wait, self._down_since + self.retry_seconds)
        self._wait = min(2 * self._wait, MAX_WAIT)

    def _answered(self) -> None:
        if self._down_since is None:
            return
        down = time.monotonic() - self._down_since
        self.longest_outage = max(self.longest_outage, down)
        self._down_since = None
        logger.info(
            "hf_tracking: MLflow tracking store %s answered again after %.1f s; the points kept "
            "meanwhile are being sent",
            self.store,
            down,
        )

    def info(self) -> dict[str, Any]:
        return {
            "outages": self.outages,
            "failed_calls": self.failed_calls,
            "longest_outage_seconds": round(self.longest_outage, 1),
            "retry_seconds": self.retry_seconds,
            "points_not_delivered": len(self._points) + self.points_given_up,
        }
