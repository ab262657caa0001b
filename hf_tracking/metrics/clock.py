"""Clocks: a pausable Timer, and the time ledger that splits wallclock into where it went.

Ledger keys (hours): ``time/train_hours`` (inside training steps), ``time/eval_hours``
(validation), ``time/checkpoint_hours`` (saving checkpoints), ``time/data_wait_hours`` (waiting for
the next batch: from the end of the last event to the start of the next step), ``time/other_hours``
(everything else: logging, start-up), which add up to ``time/wallclock_hours``;
``efficiency/goodput_pct`` is training-step time over wallclock and ``efficiency/data_wait_pct`` the
data-loader wait over wallclock. Evaluation and checkpoint time are kept out of the training clock
on purpose, so throughput measures training only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
LEDGER_PARTS = ("train", "eval", "checkpoint", "data_wait")


class Timer:
    """Elapsed seconds with start/stop/pause/resume; also a context manager."""

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self._clock = clock
        self._accumulated = 0.0
        self._started_at: float | None = None

    def start(self) -> Timer:
        if self._started_at is None:
            self._started_at = self._clock()
        return self

    resume = start

    def pause(self) -> float:
        if self._started_at is not None:
            self._accumulated += self._clock() - self._started_at
            self._started_at = None
        return self._accumulated

    stop = pause

    def reset(self) -> None:
        self._accumulated = 0.0
        self._started_at = None

    @property
    def running(self) -> bool:
        return self._started_at is not None

    @property
    def elapsed(self) -> float:
        running = self._clock() - self._started_at if self._started_at is not None else 0.0
        return self._accumulated + running

    def __enter__(self) -> Timer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.pause()


class TimeLedger:
    """Wallclock of a run, split into training, evaluation, checkpoints, data wait and the rest.

    Seconds carried over from before a resume are added as an offset, so the axes continue and the
    time between a crash and the resume is never counted.
    """

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self._clock = clock
        self._session_start = clock()
        self._stopped_at: float | None = None
        self.carried = dict.fromkeys(("wallclock", *LEDGER_PARTS), 0.0)
        self.session = dict.fromkeys(LEDGER_PARTS, 0.0)

    def add(self, part: str, seconds: float) -> None:
        self.session[part] += max(0.0, seconds)

    def carry_over(self, seconds_by_part: dict[str, float]) -> None:
        for part, seconds in seconds_by_part.items():
            if part in self.carried:
                self.carried[part] = float(seconds)

    @property
    def stopped(self) -> bool:
        return self._stopped_at is not None

    def stop(self) -> None:
        """Freeze the clock at the end of the run (finishing backends is not run time)."""
        if self._stopped_at is None:
            self._stopped_at = self._clock()

    def wallclock_at(self, now: float) -> float:
        """Wallclock seconds of the run at clock reading ``now``, across resumes."""
        if self._stopped_at is not None:
            now = min(now, self._stopped_at)
        return self.carried["wallclock"] + now - self._session_start

    def seconds(
        self, now: float | None = None, session: dict[str, float] | None = None
    ) -> dict[str, float]:
        """Seconds per part, ``other`` and ``wallclock`` (at clock reading ``now``), across
        resumes; ``session`` is a copy of :attr:`session` taken at ``now``, for a row built
        later on another thread."""
        wallclock = self.wallclock_at(self._clock() if now is None else now)
        carried = self.carried
        session = self.session if session is None else session
        # Spelled out, not a comprehension: this runs for every training record.
        train = carried["train"] + session["train"]
        evaluation = carried["eval"] + session["eval"]
        checkpoint = carried["checkpoint"] + session["checkpoint"]
        data_wait = carried["data_wait"] + session["data_wait"]
        return {
            "train": train,
            "eval": evaluation,
            "checkpoint": checkpoint,
            "data_wait": data_wait,
            "other": max(0.0, wallclock - (train + evaluation + checkpoint + data_wait)),
            "wallclock": wallclock,
        }

    def part_seconds(self, part: str) -> float:
        """Seconds of one part ("train", "eval", "checkpoint", "data_wait") across resumes."""
        return self.carried[part] + self.session[part]

    def training_clock(
        self, now: float | None = None, session: dict[str, float] | None = None
    ) -> float:
        """Session seconds (at clock reading ``now``) with evaluation and checkpoint time taken
        out: the throughput clock (``session`` as in :meth:`seconds`)."""
        wallclock = self.wallclock_at(self._clock() if now is None else now)
        session = self.session if session is None else session
        return wallclock - self.carried["wallclock"] - session["eval"] - session["checkpoint"]

    def metrics(self, now: float | None = None) -> dict[str, float]:
        """The ledger keys at clock reading ``now``."""
        return ledger_metrics(self.seconds(now))

    def state(self) -> dict[str, float]:
        return {part: seconds for part, seconds in self.seconds().items() if part != "other"}


def ledger_metrics(seconds: dict[str, float]) -> dict[str, float]:
    """The ledger keys of :meth:`TimeLedger.seconds`."""
    wallclock = seconds["wallclock"]
    return {
        "time/train_hours": seconds["train"] / 3600.0,
        "time/eval_hours": seconds["eval"] / 3600.0,
        "time/checkpoint_hours": seconds["checkpoint"] / 3600.0,
        "time/data_wait_hours": seconds["data_wait"] / 3600.0,
        "time/other_hours": seconds["other"] / 3600.0,
        "efficiency/goodput_pct": 100.0 * seconds["train"] / wallclock if wallclock else 0.0,
        "efficiency/data_wait_pct": 100.0 * seconds["data_wait"] / wallclock if wallclock else 0.0,
    }
