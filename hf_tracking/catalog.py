"""The metric catalog: every name a record may carry, its group, and the axes.

This module is the one source of names: the engine builds records from these constants, every
backend declares its axes from them, the report code and the tests read them, and the
documentation's metric catalog is generated from :data:`CATALOG` (the meanings are Markdown).
Names with ``<...>`` or ``{i}`` are families (``val/<name>/loss``,
``memory/gpu_{i}_allocated_gb``).
"""

from __future__ import annotations

STEP_KEY = "time/gradient_steps"
WALLCLOCK_KEY = "time/wallclock_hours"
TOKENS_KEY = "time/tokens_seen"
# Every row carries these three, so any metric can be plotted against any of them.
AXES = (STEP_KEY, WALLCLOCK_KEY, TOKENS_KEY)
LEDGER_KEYS = (
    "time/train_hours",
    "time/eval_hours",
    "time/checkpoint_hours",
    "time/data_wait_hours",
    "time/other_hours",
)
# Groups whose curves are plotted against the gradient steps by default.
PLOTTED_GROUPS = (
    "train",
    "val",
    "throughput",
    "memory",
    "progress",
    "tokens",
    "efficiency",
    "checkpoint",
    "custom",
    "alert",
    "layers",
)
RECORD_KINDS = ("train", "val", "checkpoint", "custom", "final", "resume", "alert")

TRAIN_LOSS = "train/loss"
TRAIN_PERPLEXITY = "train/perplexity"
LEARNING_RATE = "train/learning_rate"
GRAD_NORM = "train/grad_norm"
NONFINITE_COUNT = "train/nonfinite_count"
NONFINITE_LOSSES = "train/nonfinite_losses"
COMPLETION = "progress/completion_pct"
ETA = "progress/eta_hours"
TOKENS_PER_SECOND = "throughput/tokens_per_second"
TOKENS_PER_SECOND_PER_DEVICE = "throughput/tokens_per_second_per_device"
STEPS_PER_HOUR = "throughput/steps_per_hour"
MODEL_TFLOPS = "throughput/model_tflops_per_second"
MFU = "throughput/mfu_pct"
STEP_TIME_MAX_RANK_RATIO = "throughput/step_time_max_rank_ratio"
GOODPUT = "efficiency/goodput_pct"
DATA_WAIT_PCT = "efficiency/data_wait_pct"
PARAM_NORM = "train/param_norm"
UPDATE_NORM = "train/update_norm"
UPDATE_RATIO = "train/update_ratio"
ALERT_KIND = "alert/kind"
CUSTOM_GROUP = "custom"

CATALOG: dict[str, str] = {
    STEP_KEY: "optimizer steps taken (not micro-batches)",
    WALLCLOCK_KEY: "training wallclock, accumulated across resumes (downtime not counted)",
    TOKENS_KEY: "real (non-padding) input tokens, summed over all processes",
    TRAIN_LOSS: "training loss, mean over the logging window",
    TRAIN_PERPLEXITY: "exp(train/loss), inf past overflow",
    LEARNING_RATE: (
        "learning rate at that step (the Trainer reports the value before the scheduler steps)"
    ),
    GRAD_NORM: "L2 norm of the gradients, pre-clip",
    NONFINITE_COUNT: "NaN/inf values logged so far (they are written as null)",
    NONFINITE_LOSSES: (
        "micro-batch losses that were NaN/inf in the logging window (Trainer runs; its "
        "default NaN filter keeps them out of `train/loss`)"
    ),
    PARAM_NORM: "L2 norm of all parameters after the step (`track_layers`)",
    UPDATE_NORM: "L2 norm of the step's parameter change (`track_layers`)",
    UPDATE_RATIO: "`train/update_norm` / `train/param_norm` (`track_layers`)",
    "train/<key>": "other keys of the Trainer's logs, under clean names (`train/epoch`, ...)",
    COMPLETION: "100 × gradient_steps / planned steps",
    ETA: (
        "remaining steps at the recent step rate, plus the evaluations and saves still due at "
        "their measured cost"
    ),
    TOKENS_PER_SECOND: (
        "global tokens per second over the last `throughput_window` steps, evaluation and "
        "checkpoint time excluded"
    ),
    TOKENS_PER_SECOND_PER_DEVICE: "the same over the number of processes",
    STEPS_PER_HOUR: "gradient steps per hour over the same window",
    MODEL_TFLOPS: "achieved model FLOPs (FLOPs per token × tokens per second)",
    MFU: "per-device achieved FLOPs over the device's dense peak; only where the peak is known",
    STEP_TIME_MAX_RANK_RATIO: "over several ranks: the slowest rank's own compute time (forward and backward, not its wall-clock step) since the last log over the fastest rank's; the summary's `stragglers` names the slowest rank",
    "tokens/slots": "input positions including padding",
    "tokens/loss_bearing": "labels other than -100, after the causal shift",
    "tokens/padding_efficiency_pct": "100 × real tokens / slots",
    "time/train_hours": (
        "time inside training steps (the ledger's five parts add up to `time/wallclock_hours`)"
    ),
    "time/eval_hours": "time evaluating",
    "time/checkpoint_hours": "time saving checkpoints",
    "time/data_wait_hours": (
        "time waiting for the next batch: from the end of the last event (step, log, "
        "evaluation, save) to the start of the next step"
    ),
    "time/other_hours": "everything else: logging, start-up",
    GOODPUT: "training-step time over wallclock",
    DATA_WAIT_PCT: "data-loader wait over wallclock",
    "val/loss": "validation loss (`val/<name>/...` per eval dataset)",
    "val/perplexity": "exp(val/loss)",
    "val/eval_time_seconds": "how long that validation took (the Trainer's `eval_runtime`)",
    "val/num_batches": "batches in that validation, when given",
    "val/train_val_gap": "val/loss − the training loss of the latest window",
    "val/<metric>": (
        "other evaluation metrics (`val/samples_per_second`, your `compute_metrics` keys)"
    ),
    "memory/gpu_{i}_allocated_gb": "GPU i's allocated memory now (absent on the CPU, never zero)",
    "memory/gpu_{i}_max_allocated_gb": (
        "GPU i's peak allocated since the previous log (reset after reading)"
    ),
    "memory/gpu_{i}_reserved_gb": "GPU i's reserved memory",
    "memory/gpu_{i}_fragmentation_gb": "reserved − allocated",
    "memory/gpu_{i}_alloc_retries": "cudaMalloc retries",
    "memory/gpu_{i}_ooms": "out-of-memory errors",
    "memory/gpu_max_<figure>": (
        "in a multi-GPU run, the maximum of each GPU figure over the ranks (every rank's own "
        "is logged as `memory/gpu_{rank}_*`)"
    ),
    "memory/system_memory_percent": "host RAM in use, percent",
    "memory/process_rss_gb": "this process's resident memory",
    "checkpoint/count": "checkpoints saved so far",
    "checkpoint/step": "the step of this checkpoint",
    "checkpoint/is_best": "1 when it is the best so far",
    "checkpoint/seconds": "seconds the save took",
    "checkpoint/size_mb": "size on disk",
    "custom/<name>": (
        "`log_custom_metric` values (a name with a `group/` keeps it; the `time/` group and "
        "the axes are refused)"
    ),
    "final/<key>": (
        "the Trainer's end-of-training figures (`final/runtime`, `final/loss`, ...): in the "
        "summary and the W&B run summary, never as curve points"
    ),
    "resume/from_step": (
        "on the `resume` row the local store writes where a resumed session starts: the step "
        "it continues from"
    ),
    "resume/count": (
        "on the same row: the run's resumes up to this one (the summary's `totals.resumes`)"
    ),
    ALERT_KIND: (
        "on an `alert` row: `nonfinite_loss`, `nonfinite_grad_norm`, `loss_spike`, "
        '`grad_norm_spike` or `input_bound` (a string; see "Training health")'
    ),
    "alert/value": "the value that fired it",
    "alert/baseline": "the recent mean it was compared with, where the rule has one",
    "alert/threshold": "the threshold it passed",
    "alert/message": "the alert in words (a string)",
    "layers/<block>/grad_norm": (
        "a block's gradient norm, pre-clip (`track_layers`; blocks: `embeddings`, "
        "`block_0`..., `head`)"
    ),
    "layers/<block>/param_norm": "the block's parameter norm after the step",
    "layers/<block>/update_norm": "the norm of the block's parameter change in the step",
    "layers/<block>/update_ratio": "`update_norm` / `param_norm` of the block",
}


def group(name: str) -> str:
    """``train`` for ``train/loss``; a name without a group belongs to ``custom``."""
    head, _, rest = name.partition("/")
    return head if rest else CUSTOM_GROUP


def custom_name(name: str) -> str:
    """The key of a custom metric: ``custom/<name>``, or ``name`` when it has a group already.

    The axes and the ``time/`` group are the tracker's own: a user's value there is refused.
    """
    key = name if "/" in name else f"{CUSTOM_GROUP}/{name}"
    if key in AXES or group(key) == "time":
        raise ValueError(
            f"hf_tracking: {name!r} is a name the tracker owns (the time/ group and its axes); "
            "log it under another name"
        )
    return key
