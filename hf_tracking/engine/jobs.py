"""Training rows built off the training thread, in the order they were asked for.

At a logging step the training thread reads only what moves on (the clock, the step, the window's
values, the token counts or the micro-batches still to count) and queues the row's build; the
writer thread runs it just before it writes the row (:meth:`RecordJobs.fill`, a record's
``prepare``). Builds update the state rows leave behind (the throughput window, the latest values,
the history, the peaks), so whoever reads that state first runs every build still waiting
(:meth:`RecordJobs.catch_up`): a validation row, the summary's snapshot, the checkpoint state.
Only the training thread queues builds, so once it has caught up nothing runs beside it until it
queues the next. It also catches up when more than ``BUILD_AHEAD`` builds wait: a
loop that logs faster than the writer builds shares the work, and the waiting builds stay bounded
when the writer is stalled.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("hf_tracking")

# Training rows left for the writer to build before the training thread builds them itself: a
# loop that logs faster than the writer builds, or a stalled writer, shares the work and leaves
# built rows behind (finish() then only writes them).
BUILD_AHEAD = 256
# A waiting build: the record's values to fill, the function that builds them, its arguments.
Build = tuple[dict[str, Any], Callable[..., dict[str, Any]], tuple]


class RecordJobs:
    def __init__(self) -> None:
        self.waiting: deque[Build] = deque()
        self._lock = threading.Lock()

    def fill(self, values: dict[str, Any]) -> None:
        """Fill ``values`` (queued in :attr:`waiting` as ``(values, function, arguments)``),
        running every build before it first. When the training thread built it already, the
        builds still waiting (all queued after it) are run now, in order. The built values are
        copied in: the writer adds host probes to its copy, the engine's stay as they are."""
        with self._lock:
            waiting = self.waiting
            while waiting:
                target = waiting[0][0]
                _run(waiting.popleft())
                if target is values:
                    return

    def catch_up(self) -> None:
        """Run every waiting build (on the calling thread), so the state they update is current;
        waits for a build the writer is running."""
        with self._lock:
            waiting = self.waiting
            while waiting:
                _run(waiting.popleft())


def _run(build: Build) -> None:
    values, function, arguments = build
    try:
        values.update(function(*arguments))
    except Exception:
        logger.exception("hf_tracking: building a training row failed; the row is left out")
