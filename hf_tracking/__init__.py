"""hf_tracking: experiment tracking for small language models.

``import hf_tracking`` is cheap: it imports neither torch nor wandb nor matplotlib nor
accelerate. It registers ``report_to="hf_tracking"`` with the Hugging Face Trainer (one entry in
``transformers.integrations.integration_utils.INTEGRATION_TO_CALLBACK``) and
``log_with="hf_tracking"`` with accelerate (``accelerate.tracking.register_tracker_class``) as soon
as those modules are imported (at once if they already are); nothing else is touched. The
start-up hook that the install puts in site-packages (:mod:`hf_tracking_startup`) does the same
for scripts that never import hf_tracking.
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
    "AccelerateTracker",
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
    # These subclass transformers' TrainerCallback and accelerate's GeneralTracker, which import
    # torch: load on use.
    if name == "TrackingCallback":
        from hf_tracking.trainer.callback import TrackingCallback

        return TrackingCallback
    if name == "AccelerateTracker":
        from hf_tracking.trainer.accelerate_tracker import AccelerateTracker

        return AccelerateTracker
    raise AttributeError(f"module 'hf_tracking' has no attribute {name!r}")


register_report_to()
