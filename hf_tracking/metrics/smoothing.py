"""Smoothing of noisy curves: an exponential moving average with bias correction (as Adam and
TensorBoard do) and a plain moving average over the last ``window`` values."""

from __future__ import annotations

import math
from collections import deque


class EMA:
    """Exponential moving average; ``value`` is bias-corrected, so the first values are not
    dragged towards zero. Non-finite inputs are ignored."""

    def __init__(self, decay: float = 0.9) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay!r}")
        self.decay = decay
        self._biased = 0.0
        self._count = 0

    def update(self, value: float) -> float | None:
        if math.isfinite(value):
            self._biased = self.decay * self._biased + (1.0 - self.decay) * value
            self._count += 1
        return self.value

    @property
    def value(self) -> float | None:
        if self._count == 0:
            return None
        return self._biased / (1.0 - self.decay**self._count)


class MovingAverage:
    """Mean of the last ``window`` finite values."""

    def __init__(self, window: int = 100) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window!r}")
        self._values: deque[float] = deque(maxlen=window)

    def update(self, value: float) -> float | None:
        if math.isfinite(value):
            self._values.append(value)
        return self.value

    @property
    def value(self) -> float | None:
        return sum(self._values) / len(self._values) if self._values else None
