"""TrackingCallback: Hugging Face Trainer events → ExperimentTracker calls.

| Trainer event | what happens |
| --- | --- |
| ``on_init_end`` | with ``report_to`` naming ``wandb`` too, the WandbCallback is removed (one W&B run, one set of names) and a warning says so |
| ``on_train_begin`` | the run starts (or resumes from the checkpoint's saved state), on the world-process-zero rank; a forward pre-hook starts keeping the micro-batches' inputs for the token count |
| ``on_step_begin`` / ``on_step_end`` | the training-step clock of the time ledger (the time from the last event to ``on_step_begin`` is the data-loader wait); on a step that logs, evaluates, saves or ends training, the token count is read (see below) |
| ``on_pre_optimizer_step`` / ``on_optimizer_step``, and health in ``on_log`` | :mod:`.health`: per-block norms (``track_layers``), the micro-batch losses the NaN filter hides, an alert's action on ``control`` |
| ``on_log`` | a training record: ``train/*``, the three axes, ``progress/*``, ``throughput/*``, ``tokens/*``, ``memory/*``; other keys pass through as ``train/<key>``; the end-of-training log goes to the summary and the W&B run summary as ``final/*`` (``final/runtime``, ``final/loss``, ...), never as curve points |
| ``on_evaluate`` | ``val/loss``, ``val/perplexity``, ``val/eval_time_seconds`` (the Trainer's ``eval_runtime``), ``val/train_val_gap``, other eval metrics under ``val/`` (``val/<name>/`` per eval dataset) |
| ``on_save`` | a checkpoint event with path (in a hyperparameter search, the trial's ``run-<n>/checkpoint-<step>``), step, is_best and the seconds the save took |
| ``on_train_end`` | the last figures and a complete summary are written; the run's directory, summary and sync command are logged |
| ``on_evaluate`` / ``on_predict`` after ``train()`` | logged at the final step (``val/...``, ``val/test/...``) into the same run, and the summary updated; the run closes at exit, at :meth:`TrackingCallback.wait_for_backends` or with the next ``train()`` |

Tokens on every row: the micro-batches the forward pre-hook kept (:mod:`hf_tracking.tokens`) are
closed into a cut in ``on_step_end`` of a step whose control flags say it logs, evaluates, saves
or stops (the Trainer decided the flags before), and at ``on_epoch_end``, ``on_evaluate``,
``on_save`` and ``on_train_end``: at most once per step, never on a plain step. In one process
the cut is counted as its row is built, on the writer thread; over several, it is counted and
summed there and then (every rank is at those events). So every row and every checkpoint state
(taken in ``_save_checkpoint`` before ``on_save``, on the saving rank only, where no collective
may run) holds the exact count of its step. The sum runs over the Trainer's world
(``args.world_size``), never over a process group it does not use.
Only the world-process-zero rank writes anything.
The config comes from :mod:`.trainer_config`, log keys are mapped by :mod:`.logs`, figures across
ranks are gathered by :mod:`.gather`.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import sys
import time
from typing import Any

from transformers.trainer_callback import CallbackHandler, ExportableState, TrainerCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from hf_tracking.config import ExperimentConfig
from hf_tracking.redact import add_secret
from hf_tracking.tokens import TokenCounter, split_totals
from hf_tracking.tracker import ExperimentTracker
from hf_tracking.trainer import logs as trainer_logs
from hf_tracking.trainer.gather import cuda_usable, gathered_gpu_memory
from hf_tracking.trainer.health import TrainerHealth, nonfinite_extra
from hf_tracking.trainer.rank_compute import RankCompute, with_figures
from hf_tracking.trainer.trainer_config import extra_config, resolve_config
from hf_tracking.trainer.world import warn_if_independent

logger = logging.getLogger("hf_tracking")


class TrackingCallback(TrainerCallback, ExportableState):
    """Tracks a Trainer run with hf_tracking. ``config`` is an :class:`ExperimentConfig`, a
    mapping or a YAML/JSON path; without one it comes from ``HF_TRACKING_CONFIG`` or from the
    TrainingArguments and the model."""

    finished_tracker: ExperimentTracker | None = None

    def __init__(self, config: ExperimentConfig | dict | str | None = None) -> None:
        self.config = config
        self.tracker: ExperimentTracker | None = None
        self.tracker_state: dict[str, Any] | None = None
        self.summary_path: str | None = None
        self._token_counter: TokenCounter | None = None
        self._tokens_read_at = -1
        self._sum_over_processes = False
        self._gather_memory = False
        self._last_event_end = time.perf_counter()
        self._health: TrainerHealth | None = None
        self._layers: Any = None  # the health's run_health.LayerWatch (track_layers)
        self._rank_compute: RankCompute | None = None

    # ------------------------------------------------------------------ checkpoint state
    def state(self) -> dict[str, Any]:
        """The checkpoint state, taken in ``_save_checkpoint`` on the saving rank only: no
        collective here (over several processes the tokens were summed in ``on_step_end``; in
        one, the tracker counts what its counter holds)."""
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
        if self.finished_tracker is not None:  # evaluations after the last train() are over
            self.finished_tracker.finish()
        warn_if_independent(args)
        self._sum_over_processes = args.world_size > 1
        add_secret(getattr(args, "hub_token", None))  # to_sanitized_dict() hides it, text may not
        tracker = ExperimentTracker(
            resolve_config(self.config, args, state, model),
            model,
            is_main_process=state.is_world_process_zero,
            world_size=args.world_size,
            extra_config=extra_config(args),
            planned_steps=state.max_steps or None,
        )
        saved = _saved_tracker_state(state) or self.tracker_state
        if state.global_step > 0 and saved:
            tracker.load_state_dict(saved)
            tracker.hooks.note_resumed_checkpoint(
                os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
            )
        self.tracker = tracker
        self.tracker_state = None
        self._gather_memory = tracker.config.track_memory and cuda_usable()
        self._tokens_read_at = state.global_step
        if args.include_num_input_tokens_seen in ("no", False, None) and model is not None:
            self._token_counter = TokenCounter(
                pad_token_id=getattr(kwargs.get("processing_class"), "pad_token_id", None),
                main_input_name=getattr(model, "main_input_name", "input_ids"),
                base={"real": tracker.tokens_seen, **tracker.token_kinds},
            )
            self._token_counter.attach(model)
            if not self._sum_over_processes:
                tracker.hooks.count_tokens_from(self._token_counter)
            tracker.hooks.token_counting = "hf_tracking forward pre-hook (non-padding)"
        else:
            tracker.hooks.token_counting = (
                f"Trainer include_num_input_tokens_seen={args.include_num_input_tokens_seen!r}"
            )
        self._health = TrainerHealth(tracker, model, args.world_size)
        self._layers = self._health.layers
        if self._rank_compute is not None:  # the last train() ended with an exception
            self._rank_compute.detach()
        distributed = self._sum_over_processes and model is not None
        self._rank_compute = RankCompute(model) if distributed else None
        tracker.start()
        self._last_event_end = time.perf_counter()

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.tracker is not None:
            self.tracker.step_begin()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        tracker = self.tracker
        if tracker is None:
            self._last_event_end = time.perf_counter()
            return
        self._last_event_end = tracker.step_end(state.global_step)
        if self._layers is not None and not control.should_log:
            self._layers.drop()
        # In one process the tokens are cut by the row's own event: no forward runs before it.
        if self._sum_over_processes and record_follows(control):
            self._sync_tokens(state)

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        layers = self._layers  # most steps end at the cadence's test
        if layers is not None and layers.cadence.due(state.global_step + 1):
            self._health.before_optimizer_step(args, state, kwargs.get("model"))

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        layers = self._layers
        if layers is not None and layers.taking:
            layers.after(args.max_grad_norm)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.tracker is not None and record_follows(control):
            self._sync_tokens(state)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any
    ) -> None:
        tracker = self.tracker
        if tracker is None or not logs:
            return
        # A training log has the loss: the check of every key is left to the others.
        if "loss" not in logs and trainer_logs.is_evaluation_log(logs):
            return  # on_evaluate logs it
        if trainer_logs.FINAL_LOG_KEY in logs:
            tracker.hooks.log_final(
                {trainer_logs.final_key(key): value for key, value in logs.items()}
            )
            return
        if self._token_counter is None or self._sum_over_processes:
            self._sync_tokens(state)
        # The pass-through keys are picked out as the row is built, on the writer thread.
        # Without CUDA there is no GPU memory to read: an empty mapping spares the probe.
        extra = functools.partial(trainer_logs.train_extras, logs)
        if self._rank_compute is not None:
            extra = with_figures(extra, self._rank_compute.gather(state.global_step))
            tracker.hooks.stragglers = self._rank_compute.summary()
        health = self._health
        if health is not None and health.losses is not None:
            # the window's non-finite micro-batch losses, counted there too
            extra = functools.partial(nonfinite_extra, extra, health.losses.take())
        self._last_event_end = tracker.hooks.log_train_values(
            logs.get("loss"),
            logs.get("learning_rate"),
            logs.get("grad_norm"),
            extra=extra,
            memory=gathered_gpu_memory(args.world_size) if self._gather_memory else {},
        )
        if health is not None and health.acts:
            health.act(control)

    def on_evaluate(
        self, args: Any, state: Any, control: Any, metrics: dict | None = None, **kwargs: Any
    ) -> None:
        self._log_evaluation(state, metrics, "eval")

    def on_predict(
        self, args: Any, state: Any, control: Any, metrics: dict | None = None, **kwargs: Any
    ) -> None:
        self._log_evaluation(state, metrics, "test")

    def _log_evaluation(self, state: Any, metrics: dict | None, key_prefix: str) -> None:
        """During training into the live run; after ``train()`` into the run kept open for it."""
        tracker = self.tracker or self.finished_tracker
        if tracker is None or not metrics:
            return
        if self.tracker is not None:
            self._sync_tokens(state)
        for name, prefix in trainer_logs.eval_datasets(metrics, key_prefix):
            if key_prefix != "eval":
                name = f"{key_prefix}/{name}" if name else key_prefix
            tracker.log_validation(
                metrics[f"{prefix}loss"],
                eval_seconds=metrics.get(f"{prefix}runtime"),
                name=name,
                extra=trainer_logs.eval_extras(metrics, prefix),
            )
        self._last_event_end = time.perf_counter()

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.tracker is None:
            return
        self._sync_tokens(state)
        path = saved_checkpoint(args, state)
        best = state.best_model_checkpoint
        is_best = best is not None and os.path.abspath(best) == os.path.abspath(path)
        # No hook runs before a save: it began when the last preceding event ended.
        self.tracker.log_checkpoint(
            path, is_best=is_best, seconds=time.perf_counter() - self._last_event_end
        )
        self._last_event_end = time.perf_counter()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        tracker = self.tracker
        if tracker is not None:
            self._sync_tokens(state)
        if self._token_counter is not None:
            self._token_counter.detach()
            self._token_counter = None
        if self._health is not None:
            self._health.close()
            self._health = self._layers = None
        if self._rank_compute is not None:
            self._rank_compute.detach()
            self._rank_compute = None
        if tracker is None:
            return
        path = tracker.end_training()
        self.summary_path = str(path) if path else None
        self.tracker_state = tracker.state_dict()
        self.finished_tracker = tracker
        self.tracker = None

    def wait_for_backends(self, timeout: float | None = None) -> bool:
        """Close the last run (no evaluations after this one) and wait until its remote backends
        (W&B) have finished and its summary holds their final reports (training does not wait
        for them; the interpreter does at exit)."""
        tracker = self.finished_tracker
        if tracker is None:
            return True
        tracker.finish()
        return tracker.wait_for_backends(timeout)

    # ------------------------------------------------------------------ helpers
    def _sync_tokens(self, state: Any) -> None:
        """Hand the tracker the run's tokens up to this step: the Trainer's own count, or the
        counter's summed over the Trainer's processes (one device read and one all_reduce, at
        most once per step; every rank calls it at the same events). In one process the tracker
        takes the counter's micro-batches itself at every row."""
        tracker, counter = self.tracker, self._token_counter
        if tracker is None:
            return
        if counter is None:
            tracker.hooks.set_token_totals(int(state.num_input_tokens_seen))
            return
        if not self._sum_over_processes or self._tokens_read_at == state.global_step:
            return
        self._tokens_read_at = state.global_step
        tokens, kinds, seq_length = split_totals(counter.read(sum_over_processes=True))
        tracker.hooks.set_token_totals(tokens, kinds)
        if seq_length:
            tracker.hooks.observe_seq_length(seq_length)


def record_follows(control: Any) -> bool:
    """Whether the Trainer logs, evaluates, saves or stops after this step (it set the flags in
    ``on_step_end`` before ours ran): the rows and the checkpoint state that follow need tokens."""
    return bool(
        control.should_log
        or control.should_evaluate
        or control.should_save
        or control.should_training_stop
    )


def saved_checkpoint(args: Any, state: Any) -> str:
    """The directory the Trainer saved this step's checkpoint into: ``output_dir/checkpoint-N``,
    or in a hyperparameter-search trial the trial's own ``output_dir/<run>/checkpoint-N``."""
    name = f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
    if state.trial_params is None:
        return os.path.join(args.output_dir, name)
    if state.trial_name:  # named by the search's hp_name
        return os.path.join(args.output_dir, state.trial_name, name)
    # Otherwise the run is named after the trial (run-<number> with optuna), which no event
    # tells: the trial's checkpoint is the one the Trainer has just written, the newest.
    saved = glob.glob(os.path.join(glob.escape(args.output_dir), "*", name))
    if not saved:
        return os.path.join(args.output_dir, name)
    return max(saved, key=lambda path: os.stat(path).st_mtime_ns)


def _saved_tracker_state(state: Any) -> dict[str, Any] | None:
    saved = (state.stateful_callbacks or {}).get(TrackingCallback.__name__)
    if isinstance(saved, list):
        saved = saved[0] if saved else None
    if isinstance(saved, dict):
        return saved.get("attributes", {}).get("tracker_state")
    return None


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
