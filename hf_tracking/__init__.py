"""hf_tracking: experiment tracking for small language models.

``import hf_tracking`` is cheap: it imports neither torch nor wandb nor matplotlib. It registers
``report_to="hf_tracking"`` with the Hugging Face Trainer by adding one entry to
``transformers.integrations.integration_utils.INTEGRATION_TO_CALLBACK`` as soon as that module
is imported (at once if it already is); nothing else in transformers is touched.
"""

from __future__ import annotations

from typing import Any

from hf_tracking._registration import register_report_to
from hf_tracking._version import __version__
from hf_tracking.backends.base import Backend
from hf_tracking.backends.registry import register_backend
from hf_tracking.config import ExperimentConfig
from hf_tracking.errors import ConfigError
from hf_tracking.metrics import EMA, MovingAverage, ThroughputWindow, Timer, safe_perplexity
from hf_tracking.summary import build_summary
from hf_tracking.system import gpu_memory_metrics, host_memory_metrics
from hf_tracking.tracker import ExperimentTracker

__all__ = [
    "EMA",
    "Backend",
    "ConfigError",
    "ExperimentConfig",
    "ExperimentTracker",
    "MovingAverage",
    "ThroughputWindow",
    "Timer",
    "TrackingCallback",
    "__version__",
    "build_summary",
    "gpu_memory_metrics",
    "host_memory_metrics",
    "register_backend",
    "safe_perplexity",
]


def __getattr__(name: str) -> Any:
    # The callback subclasses transformers' TrainerCallback, which imports torch: load on use.
    if name == "TrackingCallback":
        from hf_tracking.trainer.callback import TrackingCallback

        return TrackingCallback
    raise AttributeError(f"module 'hf_tracking' has no attribute {name!r}")


register_report_to()
