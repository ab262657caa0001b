"""Progress: the throughput window, the latest rates, the ETA and a thinned history of rows.

Keys: ``throughput/tokens_per_second``, ``throughput/tokens_per_second_per_device``,
``throughput/steps_per_hour`` (see :mod:`hf_tracking.metrics.throughput`), ``progress/completion_pct``
and ``progress/eta_hours`` (see :mod:`hf_tracking.metrics.eta`). The window opens at the session's
first step, so a resumed run is judged by its own speed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hf_tracking.catalog import (
    AXES,
    COMPLETION,
    ETA,
    LEARNING_RATE,
    STEP_KEY,
    TOKENS_PER_SECOND,
    TRAIN_LOSS,
)
from hf_tracking.errors import ConfigError
from hf_tracking.metrics.eta import eta_hours
from hf_tracking.metrics.history import BoundedHistory
from hf_tracking.metrics.throughput import ThroughputWindow

HISTORY_KEYS = (*AXES, TRAIN_LOSS, LEARNING_RATE, TOKENS_PER_SECOND)


class Progress:
    def __init__(self, planned_steps: int, window: int, max_history: int) -> None:
        self.planned_steps = planned_steps
        self.window = ThroughputWindow(window)
        self.anchored = False
        self.latest_throughput: dict[str, float] = {}
        self.history = BoundedHistory(max_history)
        self.carried_tokens_per_second: list[float] = []

    def anchor(self, training_seconds: float, tokens_seen: int, gradient_steps: int) -> None:
        """Open the window at the session's first step."""
        if not self.anchored:
            self.anchored = True
            self.window.reset()
            self.window.add(training_seconds, tokens_seen, gradient_steps)

    def add_training_metrics(
        self,
        values: dict[str, Any],
        training_seconds: float,
        tokens_seen: int,
        steps: int,
        world_size: int,
        eta_costs: tuple[int | None, float, int | None, float],
    ) -> dict[str, float]:
        """Add the completion and ETA keys to ``values``; returns the throughput keys."""
        self.window.add(training_seconds, tokens_seen, steps)
        rates = self.window.rates()
        values[COMPLETION] = 100.0 * steps / self.planned_steps
        eta = eta_hours(steps, self.planned_steps, rates[1] if rates else None, *eta_costs)
        if eta is not None:
            values[ETA] = eta
        return self.window.metrics(world_size, rates)

    def remember(self, values: Mapping[str, Any], throughput: dict[str, float]) -> None:
        if throughput:
            self.latest_throughput = throughput
        self.history.append({key: values[key] for key in HISTORY_KEYS if key in values})

    def note_validation(self, steps: int, key: str, loss: float | None) -> None:
        self.history.append({STEP_KEY: steps, key: loss})

    def tokens_per_second_samples(self) -> list[float]:
        """Windowed tokens/s of the whole run: the carried samples, then this session's."""
        own = [row[TOKENS_PER_SECOND] for row in self.history if TOKENS_PER_SECOND in row]
        return self.carried_tokens_per_second + own

    def load_samples(self, samples: Mapping[str, Any]) -> None:
        values = samples.get("tokens_per_second") or []
        if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise ConfigError("hf_tracking state: samples.tokens_per_second must be numbers")
        self.carried_tokens_per_second = [float(v) for v in values]
