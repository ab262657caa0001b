"""The step clock: the time ledger, the mark of the last event, and step times.

Each session (a start or a resume) is anchored at its first step: set-up before it counts as
"other" time and stays out of throughput and step times. From then on, the time between the end of
the last event (a step, a log, an evaluation, a save) and the start of the next step is the wait
for its batch: the ledger's data-wait part. Step times of the first
``WARMUP_STEPS`` steps of a session (compilation, allocator warm-up) are left out of percentiles.
Evaluation and checkpoint time go to their own ledger parts, never to training.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from hf_tracking.engine.values import is_seconds
from hf_tracking.errors import ConfigError
from hf_tracking.metrics.clock import Clock, TimeLedger
from hf_tracking.metrics.history import BoundedHistory

WARMUP_STEPS = 5


class StepClock:
    def __init__(self, clock: Clock = time.perf_counter, max_history: int = 10000) -> None:
        self.now = clock
        self.ledger = TimeLedger(clock)
        self.mark = clock()
        self.anchored = False
        self.session_steps = 0
        self._step_seconds = BoundedHistory(max_history)
        # Step times not yet in the bounded history: a list append is the cheapest thing a step
        # can do; they are moved over when read, or every ``max_history`` steps.
        self._recent: list[float] = []
        self._recent_limit = max_history
        # Step times of the sessions before a resume, from the checkpoint's state.
        self._carried_step_seconds: list[float] = []
        self._carried_max: float | None = None
        self._validation_started: float | None = None
        self._pending_eval_seconds: float | None = None

    def anchor(self) -> None:
        """The session's first step begins now."""
        self.mark = self.now()
        self.anchored = True

    def begin_step(self) -> None:
        """A step begins now: the time since the last event was spent fetching its batch (the
        session's first step: set-up, left in "other")."""
        now = self.now()
        if self.anchored:
            self.ledger.session["data_wait"] += now - self.mark
        self.mark = now
        self.anchored = True

    def close_step(self) -> float:
        """The step that began at the last event ends now; returns the clock reading."""
        now = self.now()
        seconds = now - self.mark
        self.ledger.session["train"] += seconds
        if self.session_steps >= WARMUP_STEPS:
            recent = self._recent
            recent.append(seconds)
            if len(recent) >= self._recent_limit:
                self._move_recent()
        self.session_steps += 1
        self.mark = now
        return now

    def _move_recent(self) -> None:
        recent, self._recent = self._recent, []
        for seconds in recent:
            self._step_seconds.append(seconds)

    @property
    def step_seconds(self) -> BoundedHistory:
        """This session's step times (warm-up excluded), thinned to ``max_history``."""
        self._move_recent()
        return self._step_seconds

    def seconds_per_step(self) -> float:
        """The session's mean step time so far, the step now running counted."""
        running = self.now() - self.mark if self.anchored else 0.0
        return (self.ledger.session["train"] + running) / (self.session_steps + 1)

    def charge(self, part: str, now: float, seconds: float | None = None) -> float:
        """Book ``seconds`` (default: since the last event) to a ledger part; returns them.
        Once the clock has stopped (evaluations after training) nothing is booked."""
        seconds = now - self.mark if seconds is None else float(seconds)
        if not self.ledger.stopped:
            self.ledger.add(part, seconds)
        self.mark = now
        return seconds

    def begin_validation(self) -> None:
        self._validation_started = self.now()

    def end_validation(self) -> None:
        if self._validation_started is not None:
            self._pending_eval_seconds = self.now() - self._validation_started
            self._validation_started = None

    def eval_seconds(self, now: float, given: float | None) -> float:
        """How long a validation took: ``given``, else the time a ``validation()`` block measured,
        else the time since the last event."""
        if given is None:
            if self._validation_started is not None:
                given = now - self._validation_started
                self._validation_started = None
            elif self._pending_eval_seconds is not None:
                given = self._pending_eval_seconds
        self._pending_eval_seconds = None
        return self.charge("eval", now, given)

    def wallclock_hours(self, now: float) -> float:
        return self.ledger.wallclock_at(now) / 3600.0

    def step_second_samples(self) -> list[float]:
        """Step times of the whole run: the carried samples, then this session's."""
        return self._carried_step_seconds + self.step_seconds.rows()

    def max_step_seconds(self) -> float | None:
        known = [s for s in (*self.step_seconds, self._carried_max) if s is not None]
        return max(known) if known else None

    def state_dict(self) -> dict[str, Any]:
        return {"ledger_seconds": self.ledger.state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        ledger = state.get("ledger_seconds") or {}
        if not isinstance(ledger, Mapping) or not all(is_seconds(v) for v in ledger.values()):
            raise ConfigError(
                f"hf_tracking state: ledger_seconds must map parts to seconds >= 0, got {ledger!r:.80}"
            )
        self.ledger.carry_over(dict(ledger))

    def load_samples(self, samples: Mapping[str, Any], max_step_seconds: Any) -> None:
        values = samples.get("step_seconds") or []
        if not isinstance(values, list) or not all(is_seconds(v) for v in values):
            raise ConfigError("hf_tracking state: samples.step_seconds must be a list of numbers")
        self._carried_step_seconds = [float(v) for v in values]
        if max_step_seconds is not None and not is_seconds(max_step_seconds):
            raise ConfigError("hf_tracking state: max_step_seconds must be a number")
        self._carried_max = max_step_seconds
