"""What each :class:`~hf_tracking.ExperimentConfig` field means, in a sentence.

The config reference of the documentation is generated from the dataclass's fields (name, type,
default) and these texts; a test checks that they name every field and nothing else, so a new
field cannot reach the reference undocumented. They live here rather than in ``config.py``
because that module holds the validation.
"""

from __future__ import annotations

FIELD_DOCS: dict[str, str] = {
    "model_size": "A label for the run's name and tags (`17M`, `125M`); "
    "`verify_model_size()` says when it is off, and a tracker given a model warns when it is "
    "more than 2× away from both the total and the non-embedding parameter count.",
    "dataset": "The data set's name, for the run's name and tags.",
    "experiment_type": "`baseline`, `ablation`, ...: for the run's name and tags.",
    "vocab_size": "Vocabulary size (FLOPs per token and the parameter breakdown).",
    "d_model": "Hidden size; must be divisible by `num_heads`.",
    "num_layers": "Number of transformer blocks.",
    "num_heads": "Attention heads per block.",
    "d_ff": "MLP inner size; null means 4 × `d_model` (GPT-2's `n_inner`).",
    "seq_length": "Tokens per sequence (the attention term of the FLOPs).",
    "batch_size": "Sequences per device per micro-batch.",
    "gradient_accumulation_steps": "Micro-batches per optimizer step.",
    "learning_rate": "Peak learning rate. YAML reads `3e-4` as a string; it becomes a float.",
    "num_iterations": "Planned optimizer steps (completion, ETA).",
    "tie_word_embeddings": "Whether the output head shares the token embedding "
    "(the parameter breakdown; the Trainer fills it from the model).",
    "tags": "Tags of the run, beside the generated ones (model size, dataset, type).",
    "project": "The W&B project (`WANDB_PROJECT` wins), MLflow experiment and trackio project.",
    "entity": "The W&B entity (`WANDB_ENTITY` wins); null is your default entity.",
    "experiment_name": "The run's name; null gives "
    "`{model_size}_{dataset}_{experiment_type}_{YYYYMMDD_HHMMSS}`. It is made safe for a file "
    "name; the summary keeps the name asked for.",
    "output_dir": "Where run directories and summaries go.",
    "track_memory": "Log GPU and host memory on training rows.",
    "log_every_steps": "A training row every this many optimizer steps in hand-written loops; "
    "the Trainer logs at its `logging_steps`.",
    "wandb_mode": "`auto` (online when an API key is found and `WANDB_MODE` does not say "
    "otherwise, else offline), `online`, `offline` or `disabled`.",
    "wandb_diagnostics_seconds": "W&B gets the diagnostic keys of training rows at most this "
    "often (0: on every row); loss, learning rate and grad norm go on every row.",
    "wandb_attach": "`auto`, `always` or `never`: attach `wandb.run` in the training process to "
    "the W&B run (`auto`: when the script imports wandb).",
    "wandb_offline": "`deferred` or `live`: an offline W&B run is written after training from the "
    "local store (`hf-tracking sync RUN`), or by a W&B process during training (as when the "
    "script imports wandb).",
    "max_history": "Rows kept in memory; older rows are thinned evenly, never the start.",
    "notes": "Notes of the run (W&B notes, MLflow description).",
    "throughput_window": "Gradient steps over which throughput is measured.",
    "eval_every_steps": "Evaluation interval, for the ETA (the Trainer fills it).",
    "save_every_steps": "Checkpoint interval, for the ETA (the Trainer fills it).",
    "peak_tflops": "Your device's dense peak TFLOP/s, for MFU where the table has no entry.",
    "compute_dtype": "`bf16`, `fp16` or `fp32` when training under autocast, for the MFU peak "
    "(the Trainer fills it from its `bf16`/`fp16` flags).",
    "causal_attention_flops": "Halve the attention FLOPs (12·L·d·T) for causal masking.",
    "backend_queue_size": "Records queued per remote backend; when full, its oldest are dropped "
    "and counted.",
    "backend_finish_timeout": "Seconds a remote backend (and the writer, at finish) may take to "
    "finish before it is given up.",
    "writer_block_timeout": "The most seconds one log call waits for a writer that has fallen "
    "behind.",
    "backends": "Where records go: `local` (always on, first), `wandb`, `tensorboard`, "
    "`mlflow`, `trackio`; `HF_TRACKING_BACKENDS` replaces the list.",
    "sum_tokens_over_ranks": "Hand-written loops on several ranks: every rank calls "
    "`log_train_step` and the tracker sums the tokens; false takes rank zero's counts as given.",
    "health_checks": "Run the training-health detectors (spikes, non-finite values, input-bound).",
    "on_alert": "`warn`, `stop` or `checkpoint_and_stop` (Trainer: or `HF_TRACKING_ON_ALERT`).",
    "spike_ratio": "An outlier is at least this many times the window's mean (llm-foundry).",
    "spike_window": "Rows in the spike window: max(this, 5% of the run's planned rows).",
    "spike_patience": "Outliers in a row that make a spike.",
    "zscore_sigmas": "Or one value above mean + this many sigma (OLMo-core)...",
    "zscore_window": "...of the last this many rows...",
    "zscore_min_values": "...once this many are known.",
    "input_bound_pct": "Alert when data-loader wait is over this % of step time...",
    "input_bound_rows": "...summed over the last this many rows.",
    "track_layers": "Per-block gradient, parameter and update norms on logging steps...",
    "track_layers_every": "...on those that are a multiple of this; unset: spaced to cost at "
    "most 5 us a step on the training thread (or 0.02% of a step).",
}
