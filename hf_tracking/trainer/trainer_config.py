"""The tracker's config for a Trainer run: the user's, ``HF_TRACKING_CONFIG``, or one read off the
TrainingArguments and the model; the evaluation and save intervals and the compute dtype are
filled in from the arguments either way, and ``HF_TRACKING_ON_ALERT`` sets ``on_alert``."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from hf_tracking.config import ExperimentConfig, as_config
from hf_tracking.errors import ConfigError
from hf_tracking.metrics.params import format_count

CONFIG_ENVIRONMENT = "HF_TRACKING_CONFIG"
# What an alert does in a Trainer run (report_to users): warn | stop | checkpoint_and_stop.
ON_ALERT_ENVIRONMENT = "HF_TRACKING_ON_ALERT"
GENERIC_FIELDS = (
    "model_size",
    "batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "num_iterations",
    "log_every_steps",
    "project",
    "entity",
    "experiment_name",
)


def resolve_config(user_config: Any, args: Any, state: Any, model: Any) -> ExperimentConfig:
    if user_config is not None:
        config = as_config(user_config)
    elif os.environ.get(CONFIG_ENVIRONMENT):
        config = ExperimentConfig.load(os.environ[CONFIG_ENVIRONMENT])
    else:
        config = config_from_trainer(args, state, model)
    on_alert = os.environ.get(ON_ALERT_ENVIRONMENT) or config.on_alert
    # A copy, filled from the Trainer's arguments: the user's config object stays as it was.
    return dataclasses.replace(
        config,
        on_alert=on_alert.strip(),
        eval_every_steps=config.eval_every_steps or interval(args.eval_strategy, args.eval_steps),
        save_every_steps=config.save_every_steps or interval(args.save_strategy, args.save_steps),
        compute_dtype=config.compute_dtype
        or ("bf16" if args.bf16 else "fp16" if args.fp16 else None),
    )


def model_fields(model: Any) -> dict[str, Any]:
    """The config fields a model's own config and parameters give (sizes, tying, size label)."""
    model_config = getattr(model, "config", None)

    def size(*names: str) -> Any:
        for name in names:
            value = getattr(model_config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    fields: dict[str, Any] = {
        "vocab_size": size("vocab_size"),
        "d_model": size("n_embd", "hidden_size", "d_model"),
        "num_layers": size("n_layer", "num_hidden_layers"),
        "num_heads": size("n_head", "num_attention_heads"),
        "d_ff": size("n_inner", "intermediate_size"),
        "seq_length": size("n_positions", "max_position_embeddings"),
    }
    if model_config is not None:
        fields["tie_word_embeddings"] = bool(getattr(model_config, "tie_word_embeddings", True))
    if model is not None and hasattr(model, "parameters"):
        fields["model_size"] = format_count(sum(p.numel() for p in model.parameters()))
    return {key: value for key, value in fields.items() if value is not None}


def config_from_trainer(args: Any, state: Any, model: Any) -> ExperimentConfig:
    """A config read off the TrainingArguments and the model (the zero-argument callback)."""
    fields: dict[str, Any] = {
        "dataset": "custom",
        "experiment_type": "trainer",
        **model_fields(model),
        "batch_size": args.per_device_train_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "learning_rate": args.learning_rate,
        "num_iterations": state.max_steps or None,
        "log_every_steps": 1,
        "project": os.environ.get("WANDB_PROJECT", "huggingface"),
        "entity": os.environ.get("WANDB_ENTITY"),
        "experiment_name": args.run_name or None,
    }
    fields = {key: value for key, value in fields.items() if value is not None}
    try:
        return ExperimentConfig.from_dict(fields, source="TrainingArguments and the model")
    except ConfigError:
        # A model whose sizes do not describe a GPT-2-style decoder: keep what is generic.
        return ExperimentConfig.from_dict({k: fields[k] for k in GENERIC_FIELDS if k in fields})


def interval(strategy: Any, steps: Any) -> int | None:
    if str(getattr(strategy, "value", strategy)) == "steps" and steps and steps >= 1:
        return int(steps)
    return None


def extra_config(args: Any) -> dict[str, Any]:
    """The TrainingArguments as the run's config stores them, with the global batch size."""
    return {
        "global_batch_size": args.per_device_train_batch_size
        * args.gradient_accumulation_steps
        * args.world_size,
        **args.to_sanitized_dict(),
    }
