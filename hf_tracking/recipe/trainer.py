"""Recipe model and training: the GPT-2 config, TrainingArguments and the Trainer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hf_tracking.config import ExperimentConfig
from hf_tracking.recipe.data import build_datasets, build_tokenizer, load_texts
from hf_tracking.recipe.settings import Recipe

logger = logging.getLogger("hf_tracking")


# ===================================================================== model, arguments, Trainer
def gpt2_config(
    config: ExperimentConfig, dropout: float = 0.0, eos_token_id: int | None = None
) -> Any:
    """The ``GPT2Config`` of the experiment's sizes: ``n_positions = seq_length``,
    ``n_inner = d_ff``, tied embeddings as configured; EOS also serves as BOS and padding."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.seq_length,
        n_embd=config.d_model,
        n_layer=config.num_layers,
        n_head=config.num_heads,
        n_inner=config.d_ff,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        bos_token_id=eos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=eos_token_id,
        tie_word_embeddings=config.tie_word_embeddings,
    )


def build_model(recipe: Recipe, tokenizer: Any) -> Any:
    """A freshly initialised ``GPT2LMHeadModel`` (seeded with ``training.seed``)."""
    from transformers import GPT2LMHeadModel, set_seed

    set_seed(recipe.training.seed)
    return GPT2LMHeadModel(
        gpt2_config(recipe.config, recipe.training.dropout, tokenizer.eos_token_id)
    )


def resolve_experiment_name(recipe: Recipe) -> str:
    """The config's name, or ``default_name()`` chosen on the main process and shared."""
    if not recipe.config.experiment_name:
        from accelerate import PartialState
        from accelerate.utils import broadcast_object_list

        PartialState()
        recipe.config.experiment_name = broadcast_object_list([recipe.config.default_name()])[0]
    return recipe.config.experiment_name


def precision_flags(precision: str) -> dict[str, bool]:
    """``bf16``/``fp16`` TrainingArguments flags; set only where CUDA supports them."""
    import torch

    cuda = torch.cuda.is_available()
    flags = {
        "bf16": precision == "bf16"
        and cuda
        and torch.cuda.is_bf16_supported(including_emulation=False),
        "fp16": precision == "fp16" and cuda,
    }
    if precision != "fp32" and not any(flags.values()):
        logger.warning(
            "hf_tracking: precision %s needs a CUDA GPU that has it; using fp32", precision
        )
    return flags


def build_training_arguments(recipe: Recipe) -> Any:
    """TrainingArguments from the training section; ``report_to="none"`` because the Trainer
    gets ``TrackingCallback(config)`` directly (see :func:`build_trainer`)."""
    import torch
    from transformers import TrainingArguments

    config, training = recipe.config, recipe.training
    name = resolve_experiment_name(recipe)
    return TrainingArguments(
        output_dir=str(Path(config.output_dir) / "checkpoints" / name),
        run_name=name,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        max_steps=training.max_steps,
        warmup_steps=training.warmup_steps,
        lr_scheduler_type=training.lr_scheduler_type,
        weight_decay=training.weight_decay,
        max_grad_norm=training.max_grad_norm,
        logging_steps=training.logging_steps,
        logging_first_step=True,
        eval_strategy="steps",
        eval_steps=training.eval_steps,
        save_strategy="steps",
        save_steps=training.save_steps,
        save_total_limit=training.save_total_limit,
        seed=training.seed,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=training.dataloader_num_workers,
        ddp_find_unused_parameters=False,
        report_to="none",
        **precision_flags(training.precision),
    )


def build_trainer(recipe: Recipe) -> tuple[Any, Any]:
    """(Trainer, TrackingCallback) ready to ``train()``.

    The callback is passed with the recipe's config instead of ``report_to="hf_tracking"``, which
    would build a second, config-less TrackingCallback. Data and tokenizer are prepared by the
    main process first (the others then read its caches).
    """
    from transformers import Trainer, default_data_collator

    from hf_tracking.trainer.callback import TrackingCallback

    args = build_training_arguments(recipe)
    with args.main_process_first(desc="tokenizer and data"):
        train_texts, validation_texts = load_texts(recipe)
        tokenizer = build_tokenizer(recipe, train_texts)
        train, validation = build_datasets(recipe, tokenizer, train_texts, validation_texts)
    callback = TrackingCallback(recipe.config)
    trainer = Trainer(
        model=build_model(recipe, tokenizer),
        args=args,
        train_dataset=train,
        eval_dataset=validation,
        processing_class=tokenizer,
        data_collator=default_data_collator,
        callbacks=[callback],
    )
    return trainer, callback
