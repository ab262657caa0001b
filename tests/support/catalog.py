"""The metric catalog of ../shared/design.md, as tests check it."""

AXES = ("time/gradient_steps", "time/wallclock_hours", "time/tokens_seen")
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
