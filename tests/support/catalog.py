"""The keys the tests expect on each kind of row, named by the package's catalog."""

from hf_tracking.catalog import AXES

TRAIN_NAMES = (
    "train/loss",
    "train/perplexity",
    "train/learning_rate",
    "train/grad_norm",
    "progress/completion_pct",
    "throughput/tokens_per_second",
    "throughput/steps_per_hour",
    "memory/system_memory_percent",
    *AXES,
)
VAL_NAMES = ("val/loss", "val/perplexity", "val/eval_time_seconds", "val/train_val_gap", *AXES)
CHECKPOINT_NAMES = ("checkpoint/count", "checkpoint/step", "checkpoint/is_best", *AXES)
CATALOG = set(TRAIN_NAMES) | set(VAL_NAMES) | set(CHECKPOINT_NAMES)
