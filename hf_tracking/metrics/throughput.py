"""Throughput over a recent window of gradient steps, on the training clock.

Keys: ``throughput/tokens_per_second`` (global tokens per second over the window),
``throughput/steps_per_hour`` (gradient steps per hour over the same window),
``throughput/tokens_per_second_per_device`` (the former over the number of processes).
The clock given to :meth:`add` must exclude evaluation and checkpoint time.
"""

from __future__ import annotations

from collections import deque


class ThroughputWindow:
    """Rates over the last ``window`` gradient steps, like Lightning's ``Throughput``.

    Samples of cumulative (training seconds, tokens, steps) are added on logging steps; the window
    is the shortest run of recent samples that spans at least ``window`` steps (or the two latest
    samples when logging is sparser than that). A resumed run starts a fresh window at its resumed
    counters, so its rates are the resumed rates.
    """

    def __init__(self, window: int = 100) -> None:
        self.window = window
        self._samples: deque[tuple[float, int, int]] = deque()

    def add(self, training_seconds: float, tokens_seen: int, gradient_steps: int) -> None:
        samples = self._samples
        samples.append((training_seconds, tokens_seen, gradient_steps))
        while len(samples) > 2 and gradient_steps - samples[1][2] >= self.window:
            samples.popleft()

    def reset(self) -> None:
        self._samples.clear()

    def rates(self) -> tuple[float, float] | None:
        """(tokens per second, steps per second) over the window; None before two samples."""
        if len(self._samples) < 2:
            return None
        seconds0, tokens0, steps0 = self._samples[0]
        seconds1, tokens1, steps1 = self._samples[-1]
        elapsed = seconds1 - seconds0
        if elapsed <= 0:
            return None
        return (tokens1 - tokens0) / elapsed, (steps1 - steps0) / elapsed

    def metrics(
        self, world_size: int = 1, rates: tuple[float, float] | None = None
    ) -> dict[str, float]:
        """The throughput keys; ``rates`` when the caller already has them from :meth:`rates`."""
        rates = rates or self.rates()
        if rates is None:
            return {}
        tokens_per_second, steps_per_second = rates
        return {
            "throughput/tokens_per_second": tokens_per_second,
            "throughput/tokens_per_second_per_device": tokens_per_second / max(1, world_size),
            "throughput/steps_per_hour": steps_per_second * 3600.0,
        }
