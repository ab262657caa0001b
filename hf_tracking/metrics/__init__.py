"""Pure maths of tracking: no I/O, no torch, no wandb, no Trainer. Tested on plain numbers."""

from hf_tracking.metrics.clock import TimeLedger, Timer
from hf_tracking.metrics.eta import eta_hours
from hf_tracking.metrics.flops import flops_per_token, lookup_peak_tflops, mfu_pct
from hf_tracking.metrics.history import BoundedHistory
from hf_tracking.metrics.params import gpt2_parameter_breakdown
from hf_tracking.metrics.smoothing import EMA, MovingAverage
from hf_tracking.metrics.stats import percentile, safe_perplexity
from hf_tracking.metrics.throughput import ThroughputWindow

__all__ = [
    "EMA",
    "BoundedHistory",
    "MovingAverage",
    "ThroughputWindow",
    "TimeLedger",
    "Timer",
    "eta_hours",
    "flops_per_token",
    "gpt2_parameter_breakdown",
    "lookup_peak_tflops",
    "mfu_pct",
    "percentile",
    "safe_perplexity",
]
