"""The training-health fields of :class:`~hf_tracking.ExperimentConfig`: their checks.

Defaults and their sources: ``spike_ratio`` 2.0, ``spike_window`` 100 and ``spike_patience`` 4 are
llm-foundry's kill-loss-spike callback; ``zscore_sigmas`` 6, ``zscore_window`` 128 and
``zscore_min_values`` 64 are OLMo-core's stability monitor; ``input_bound_pct`` 20 and
``input_bound_rows`` 10 are hf_tracking's own (torchtitan and OLMo-core log the wait share but
do not alert on it).
"""

from __future__ import annotations

import math
from typing import Any

ON_ALERT = ("warn", "stop", "checkpoint_and_stop")
POSITIVE_INTS = (
    "spike_window",
    "spike_patience",
    "zscore_window",
    "zscore_min_values",
    "input_bound_rows",
)


def health_problem(config: Any) -> tuple[str, Any, str] | None:
    """The first (field, value, problem) of the health fields, or None when they are valid."""
    if config.on_alert not in ON_ALERT:
        return "on_alert", config.on_alert, f"must be one of {ON_ALERT}"
    for name in POSITIVE_INTS:
        if getattr(config, name) < 1:
            return name, getattr(config, name), "must be >= 1"
    if not (config.spike_ratio > 1.0 and math.isfinite(config.spike_ratio)):
        return "spike_ratio", config.spike_ratio, "must be a finite number > 1"
    if not (config.zscore_sigmas > 0.0 and math.isfinite(config.zscore_sigmas)):
        return "zscore_sigmas", config.zscore_sigmas, "must be a finite number > 0"
    if not 0.0 < config.input_bound_pct <= 100.0:
        return "input_bound_pct", config.input_bound_pct, "must be in (0, 100]"
    if config.track_layers_every is not None and config.track_layers_every < 1:
        return "track_layers_every", config.track_layers_every, "must be >= 1"
    return None
