"""TrackingCallback: Hugging Face Trainer events → ExperimentTracker calls. No maths here.

| Trainer event | what happens |
| --- | --- |
| ``on_init_end`` | with ``report_to`` naming ``wandb`` too, the WandbCallback is removed (one W&B run, one set of names) and a warning says so |
| ``on_train_begin`` | the run starts (or resumes from the checkpoint's saved state), on the world-process-zero rank; a forward pre-hook starts counting tokens on the device |
| ``on_step_begin`` / ``on_step_end`` | the training-step clock of the time ledger |
| ``on_log`` | a training record: ``train/*``, the three axes, ``progress/*``, ``throughput/*``, ``tokens/*``, ``memory/*``; other keys pass through as ``train/<key>``; the end-of-training log goes to the summary and the W&B run summary as ``final/*`` (``final/runtime``, ``final/loss``, ...), never as curve points |
| ``on_evaluate`` | ``val/loss``, ``val/perplexity``, ``val/eval_time_seconds`` (the Trainer's ``eval_runtime``), ``val/train_val_gap``, other eval metrics under ``val/`` (``val/<name>/`` per eval dataset) |
| ``on_save`` | a checkpoint event with path, step, is_best and the seconds the save took |
| ``on_train_end`` | the summary is written and the backends finish; a later ``train()`` is a new run |

Every rank receives every event; collectives (token sums, memory maxima) run on logging steps
only, where all ranks are inside ``on_log``. Only the world-process-zero rank writes anything.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from typing import Any

from transformers.trainer_callback import CallbackHandler, ExportableState, TrainerCallback

from hf_tracking.config import ExperimentConfig
from hf_tracking.errors import ConfigError
from hf_tracking.metrics.params import format_count
from hf_tracking.redact import add_secret
from hf_tracking.tokens import TokenCounter
from hf_tracking.tracker import ExperimentTracker, as_config

logger = logging.getLogger("hf_tracking")
CONFIG_ENVIRONMENT = "HF_TRACKING_CONFIG"
# Keys of the Trainer's own logs that hf_tracking replaces with better-defined metrics.
REPLACED_TRAINER_KEYS = {"loss", "learning_rate", "grad_norm", "num_input_tokens_seen"}
REPLACED_TRAINER_KEYS |= {"train_tokens_per_second", "train_runtime"}


class TrackingCallback(TrainerCallback, ExportableState):
    """Tracks a Trainer run with hf_tracking. ``config`` is an :class:`ExperimentConfig`, a
    mapping or a YAML/JSON path; without one it comes from ``HF_TRACKING_CONFIG`` or from the
    TrainingArguments and the model."""

    def __init__(self, config: ExperimentConfig | dict | str | None = None) -> None:
        self.config = config
        self.tracker: ExperimentTracker | None = None
        self.tracker_state: dict[str, Any] | None = None
        self.summary_path: str | None = None
        self._token_counter: TokenCounter | None = None
        self._token_base: dict[str, int] = {}
        self._last_event_end = time.perf_counter()

    # ------------------------------------------------------------------ checkpoint state
    def state(self) -> dict[str, Any]:
        config = self.config.to_dict() if isinstance(self.config, ExperimentConfig) else self.config
        tracker_state = (
            self.tracker.state_dict() if self.tracker is not None else self.tracker_state
        )
        return {"args": {"config": config}, "attributes": {"tracker_state": tracker_state}}

    # ------------------------------------------------------------------ events
    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        report_to = args.report_to if isinstance(args.report_to, list) else [args.report_to]
        if "wandb" in report_to:
            _remove_wandb_callback()

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        if self.tracker is not None:  # the last train() ended with an exception
            self.tracker.finish(status="failed", error="train() ended without on_train_end")
        config = self._resolve_config(args, state, model)
        add_secret(getattr(args, "hub_token", None))  # to_sanitized_dict() hides it, text may not
        tracker = ExperimentTracker(
            config,
            model,
            is_main_process=state.is_world_process_zero,
            world_size=args.world_size,
            extra_config={
                "global_batch_size": args.per_device_train_batch_size
                * args.gradient_accumulation_steps
                * args.world_size,
                **args.to_sanitized_dict(),
            },
            planned_steps=state.max_steps or None,
        )
        saved = _saved_tracker_state(state) or self.tracker_state
        if state.global_step > 0 and saved:
            tracker.load_state_dict(saved)
            tracker.note_resumed_checkpoint(
                os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            )
        self.tracker = tracker
        self.tracker_state = None
        self._token_base = {"real": tracker.tokens_seen, **tracker.token_kinds}
        if args.include_num_input_tokens_seen in ("no", False, None) and model is not None:
            self._token_counter = TokenCounter(
                pad_token_id=_pad_token_id(kwargs.get("processing_class")),
                main_input_name=getattr(model, "main_input_name", "input_ids"),
            )
            self._token_counter.attach(model)
            tracker.token_counting = "hf_tracking forward pre-hook (non-padding, on device)"
        else:
            tracker.token_counting = (
                f"Trainer include_num_input_tokens_seen={args.include_num_input_tokens_seen!r}"
            )
        tracker.start()
        self._last_event_end = time.perf_counter()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.tracker is not None:
            self.tracker.step_begin()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.tracker is not None:
            self.tracker.step_end(state.global_step)
        self._last_event_end = time.perf_counter()

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any
    ) -> None:
        tracker = self.tracker
        if tracker is None or not logs:
            return
        logs = dict(logs)  # Trainer.log's dict is changed in place by other callbacks
        if any(key.startswith("eval_") for key in logs):
            return  # on_evaluate logs it
        if "train_samples_per_second" in logs:  # the end-of-training log
            tracker.log_final({final_key(key): value for key, value in logs.items()})
            return
        tokens_seen, token_kinds = self._tokens(state)
        memory = _gathered_gpu_memory() if tracker.config.track_memory else None
        extra = {
            train_key(key): value
            for key, value in logs.items()
            if key not in REPLACED_TRAINER_KEYS and isinstance(value, (int, float))
        }
        tracker.log_train_values(
            loss=logs.get("loss"),
            learning_rate=logs.get("learning_rate"),
            grad_norm=logs.get("grad_norm"),
            tokens_seen=tokens_seen,
            token_kinds=token_kinds,
            extra=extra,
            memory=memory,
        )
        self._last_event_end = time.perf_counter()

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict | None = None, **kwargs: Any
    ) -> None:
        if self.tracker is None or not metrics:
            return
        for name, prefix in _eval_datasets(metrics):
            extra = {
                key[len(prefix) :]: value
                for key, value in metrics.items()
                if key.startswith(prefix)
                and key[len(prefix) :] not in ("loss", "runtime")
                and isinstance(value, (int, float))
                and not _belongs_to_other_dataset(key, prefix, metrics)
            }
            self.tracker.log_validation(
                metrics[f"{prefix}loss"],
                eval_seconds=metrics.get(f"{prefix}runtime"),
                name=name,
                extra=extra,
            )
        self._last_event_end = time.perf_counter()

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.tracker is None:
            return
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        best = state.best_model_checkpoint
        is_best = best is not None and os.path.abspath(best) == os.path.abspath(path)
        # No hook runs before a save: it began when the last preceding event ended.
        self.tracker.log_checkpoint(
            path, is_best=is_best, seconds=time.perf_counter() - self._last_event_end
        )
        self._last_event_end = time.perf_counter()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._token_counter is not None:
            self._token_counter.detach()
            self._token_counter = None
        if self.tracker is not None:
            path = self.tracker.finish()
            self.summary_path = str(path) if path else None
            self.tracker_state = self.tracker.state_dict()
            self.finished_tracker = self.tracker
            self.tracker = None

    finished_tracker: ExperimentTracker | None = None

    def wait_for_backends(self, timeout: float | None = None) -> bool:
        """Wait until the last run's remote backends (W&B) have finished and its summary holds
        their final reports (training does not wait for them; the interpreter does at exit)."""
        tracker = self.finished_tracker
        return tracker.wait_for_backends(timeout) if tracker is not None else True

    # ------------------------------------------------------------------ helpers
    def _tokens(self, state: Any) -> tuple[int, dict[str, int] | None]:
        """Run totals over all processes; reads the device counter once (logging steps only)."""
        if self._token_counter is None:
            return int(state.num_input_tokens_seen), None
        if self._token_counter.seq_length:
            self.tracker.observe_seq_length(self._token_counter.seq_length)
        counts = self._token_counter.read(sum_over_processes=True)
        kinds = {"slots": self._token_base.get("slots", 0) + counts["slots"]}
        if counts["loss_bearing"]:
            kinds["loss_bearing"] = self._token_base.get("loss_bearing", 0) + counts["loss_bearing"]
        return self._token_base["real"] + counts["real"], kinds

    def _resolve_config(self, args: Any, state: Any, model: Any) -> ExperimentConfig:
        if self.config is not None:
            config = as_config(self.config)
        elif os.environ.get(CONFIG_ENVIRONMENT):
            config = ExperimentConfig.load(os.environ[CONFIG_ENVIRONMENT])
        else:
            config = config_from_trainer(args, state, model)
        # A copy, filled from the Trainer's arguments: the user's config object stays as it was.
        return dataclasses.replace(
            config,
            eval_every_steps=config.eval_every_steps
            or _interval(args.eval_strategy, args.eval_steps),
            save_every_steps=config.save_every_steps
            or _interval(args.save_strategy, args.save_steps),
            compute_dtype=config.compute_dtype
            or ("bf16" if args.bf16 else "fp16" if args.fp16 else None),
        )


def train_key(key: str) -> str:
    """A clean name for a key of a training log: ``epoch`` → ``train/epoch``,
    ``train_foo`` → ``train/foo``; a key that has a ``group/`` already is kept."""
    if "/" in key:
        return key
    return "train/" + key.removeprefix("train_")


def final_key(key: str) -> str:
    """A clean name for the end-of-training log: ``train_runtime`` → ``final/runtime``."""
    return "final/" + key.removeprefix("train_")


def config_from_trainer(args: Any, state: Any, model: Any) -> ExperimentConfig:
    """A config read off the TrainingArguments and the model (the zero-argument callback)."""
    model_config = getattr(model, "config", None)

    def size(*names: str) -> Any:
        for name in names:
            value = getattr(model_config, name, None)
            if isinstance(value, int) and value > 0:
                return value
        return None

    fields: dict[str, Any] = {
        "dataset": "custom",
        "experiment_type": "trainer",
        "vocab_size": size("vocab_size"),
        "d_model": size("n_embd", "hidden_size", "d_model"),
        "num_layers": size("n_layer", "num_hidden_layers"),
        "num_heads": size("n_head", "num_attention_heads"),
        "d_ff": size("n_inner", "intermediate_size"),
        "seq_length": size("n_positions", "max_position_embeddings"),
        "tie_word_embeddings": bool(getattr(model_config, "tie_word_embeddings", True)),
        "batch_size": args.per_device_train_batch_size,
        "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "learning_rate": args.learning_rate,
        "num_iterations": state.max_steps or None,
        "log_every_steps": 1,
        "project": os.environ.get("WANDB_PROJECT", "huggingface"),
        "entity": os.environ.get("WANDB_ENTITY"),
        "experiment_name": args.run_name or None,
    }
    if model is not None and hasattr(model, "parameters"):
        fields["model_size"] = format_count(sum(p.numel() for p in model.parameters()))
    fields = {key: value for key, value in fields.items() if value is not None}
    try:
        return ExperimentConfig.from_dict(fields, source="TrainingArguments and the model")
    except ConfigError:
        # A model whose sizes do not describe a GPT-2-style decoder: keep what is generic.
        generic = ("model_size", "batch_size", "gradient_accumulation_steps", "learning_rate")
        generic += ("num_iterations", "log_every_steps", "project", "entity", "experiment_name")
        return ExperimentConfig.from_dict({key: fields[key] for key in generic if key in fields})


def _interval(strategy: Any, steps: Any) -> int | None:
    if str(getattr(strategy, "value", strategy)) == "steps" and steps and steps >= 1:
        return int(steps)
    return None


def _saved_tracker_state(state: Any) -> dict[str, Any] | None:
    saved = (state.stateful_callbacks or {}).get(TrackingCallback.__name__)
    if isinstance(saved, list):
        saved = saved[0] if saved else None
    if isinstance(saved, dict):
        return saved.get("attributes", {}).get("tracker_state")
    return None


def _pad_token_id(processing_class: Any) -> int | None:
    return getattr(processing_class, "pad_token_id", None)


def _eval_datasets(metrics: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(dataset name, key prefix) of each evaluation in an ``on_evaluate`` metrics dict: a
    ``eval_[name_]loss`` key with its ``eval_[name_]runtime`` beside it (a ``compute_metrics``
    key such as ``eval_aux_loss`` has no runtime of its own)."""
    found = []
    for key in metrics:
        if key.startswith("eval_") and key.endswith("loss"):
            middle = key[len("eval_") : -len("loss")]
            if f"eval_{middle}runtime" in metrics:
                found.append((middle.rstrip("_") or None, f"eval_{middle}"))
    return found


def _belongs_to_other_dataset(key: str, prefix: str, metrics: dict[str, Any]) -> bool:
    """With datasets ``a`` and ``a_b``, ``eval_a_b_loss`` starts with ``eval_a_`` too."""
    return any(
        other != prefix and other.startswith(prefix) and key.startswith(other)
        for _, other in _eval_datasets(metrics)
    )


def _gathered_gpu_memory() -> dict[str, float] | None:
    """This rank's GPU memory, and every rank's in a multi-process run (one all_gather, on
    logging steps only, where every rank is inside on_log). None without CUDA."""
    from hf_tracking.system import gpu_memory_metrics

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return gpu_memory_metrics()
    local = gpu_memory_metrics(index=dist.get_rank())
    names = [key.split("_", 2)[-1] for key in local]
    values = torch.tensor(list(local.values()), dtype=torch.float64, device="cuda")
    gathered = [torch.empty_like(values) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, values)
    memory: dict[str, float] = {}
    for rank, row in enumerate(gathered):
        for name, value in zip(names, row.tolist(), strict=True):
            memory[f"memory/gpu_{rank}_{name}"] = value
    for name in names:
        memory[f"memory/gpu_max_{name}"] = max(
            memory[f"memory/gpu_{r}_{name}"] for r in range(len(gathered))
        )
    return memory


def _remove_wandb_callback() -> None:
    """Take the WandbCallback out of the Trainer being built, so hf_tracking's W&B run is the only
    one. ``on_init_end`` is called by the Trainer's CallbackHandler, found on the call stack."""
    frame = sys._getframe(1)
    while frame is not None and not isinstance(frame.f_locals.get("self"), CallbackHandler):
        frame = frame.f_back
    if frame is None:
        logger.warning("hf_tracking: report_to names wandb too; two W&B runs may be made")
        return
    from transformers.integrations import WandbCallback

    frame.f_locals["self"].remove_callback(WandbCallback)
    logger.warning(
        "hf_tracking: report_to names both hf_tracking and wandb; hf_tracking already sends every "
        "metric to W&B, so the WandbCallback is left out: one W&B run with one set of names"
    )
