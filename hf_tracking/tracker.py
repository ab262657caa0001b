"""ExperimentTracker: the one engine behind the hand-written-loop API and the Trainer callback.

Records carry the three axes on every row: ``time/gradient_steps`` (optimizer steps),
``time/wallclock_hours`` (across resumes, downtime excluded) and ``time/tokens_seen`` (all
processes). A training record (every ``log_every_steps`` gradient steps) adds:

| key | meaning |
| --- | --- |
| ``train/loss`` | mean loss over the micro-batches of the logging window |
| ``train/perplexity`` | exp(train/loss), inf past overflow |
| ``train/learning_rate``, ``train/grad_norm`` | latest values in the window |
| ``train/nonfinite_count`` | logged values so far that were NaN or inf |
| ``progress/completion_pct`` | 100 × gradient_steps / planned steps |
| ``progress/eta_hours`` | see :mod:`hf_tracking.metrics.eta` |
| ``throughput/*`` | see :mod:`hf_tracking.metrics.throughput` and :mod:`hf_tracking.metrics.flops` |
| ``time/*_hours``, ``efficiency/goodput_pct`` | the time ledger, :mod:`hf_tracking.metrics.clock` |
| ``tokens/slots``, ``tokens/loss_bearing``, ``tokens/padding_efficiency_pct`` | token kinds, when counted |
| ``memory/*`` | see :mod:`hf_tracking.system` |

Validation records: ``val/loss``, ``val/perplexity``, ``val/eval_time_seconds``,
``val/train_val_gap``, ``val/num_batches``. Checkpoint records: ``checkpoint/count``,
``checkpoint/step``, ``checkpoint/is_best``, ``checkpoint/seconds``, ``checkpoint/size_mb``.
Custom metrics: ``custom/<name>`` unless the name already has a ``group/`` prefix.

Cost on the training thread: a call that completes no logging step does arithmetic and appends to
a list; tensors passed as loss or grad norm are read (one ``.item()`` on a stacked mean) only on
logging steps, so a GPU loop is never synchronised on other steps. Records go to a deque that a
writer thread drains (:mod:`hf_tracking.dispatch`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hf_tracking import lifecycle
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.local import LocalRunStore, reserve_run_dir
from hf_tracking.backends.wandb import WandbBackend, new_run_id, resolve_mode
from hf_tracking.config import ExperimentConfig, safe_name
from hf_tracking.dispatch import Dispatcher
from hf_tracking.errors import ConfigError
from hf_tracking.metrics.clock import Clock, TimeLedger
from hf_tracking.metrics.eta import eta_hours
from hf_tracking.metrics.flops import (
    flops_per_token,
    lookup_peak_tflops,
    mfu_pct,
    model_tflops_per_second,
)
from hf_tracking.metrics.history import BoundedHistory, evenly_spaced
from hf_tracking.metrics.stats import safe_perplexity
from hf_tracking.metrics.throughput import ThroughputWindow
from hf_tracking.redact import redact
from hf_tracking.summary import claim_summary, write_owned_summary

logger = logging.getLogger("hf_tracking")
STATE_VERSION = 1
# Step times and tokens/s samples a checkpoint's state carries to the resumed run, each.
CARRIED_SAMPLES = 512
# Step times of the first steps (compilation, allocator warm-up) are left out of percentiles.
WARMUP_STEPS = 5


def _as_float(value: Any) -> float | None:
    """A Python float from a float, an int or a 0-dim tensor (one device read)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    return float(value)


def _mean(values: list[Any]) -> float | None:
    """Mean of floats and/or 0-dim tensors, with a single device read for tensors."""
    if not values:
        return None
    tensors = [value for value in values if hasattr(value, "detach")]
    if not tensors:
        return math.fsum(values) / len(values)
    import torch

    # One stack and one .item(): a single host-device sync on a logging step.
    tensor_sum = torch.stack([t.detach().float().reshape(()) for t in tensors]).sum().item()
    plain = [value for value in values if not hasattr(value, "detach")]
    return (tensor_sum + math.fsum(plain)) / len(values)


def _check_number(name: str, value: Any, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not (isinstance(value, (int, float)) or hasattr(value, "item")):
        raise TypeError(f"hf_tracking: {name} must be a number or a 0-dim tensor, got {value!r}")


class ExperimentTracker:
    """Tracks one training run. See the module docstring for the keys it logs.

    ``log_train_step`` is called once per micro-batch; ``iteration`` is the 0-based index of the
    optimizer step the micro-batch belongs to (as in ``for iteration in range(num_iterations)``)
    and may be left out. A call whose ``iteration`` is behind the steps already taken is skipped
    with one warning (a loop restarted without ``load_state_dict``).
    """

    def __init__(
        self,
        config: ExperimentConfig | Mapping[str, Any] | str | os.PathLike | None = None,
        model: Any = None,
        *,
        is_main_process: bool | None = None,
        world_size: int | None = None,
        backends: list[Backend] | None = None,
        extra_config: Mapping[str, Any] | None = None,
        planned_steps: int | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.config = as_config(config)
        self.model = model
        self.is_main_process = (
            int(os.environ.get("RANK", "0")) == 0 if is_main_process is None else is_main_process
        )
        self.world_size = world_size or int(os.environ.get("WORLD_SIZE", "1"))
        self.planned_steps = planned_steps or self.config.num_iterations
        self.extra_config = dict(extra_config or {})
        self._backends = backends
        self._clock = clock
        self._ledger = TimeLedger(clock)
        self._mark = self._clock()
        self._validation_started: float | None = None
        self._pending_eval_seconds: float | None = None

        self.experiment_name = self.config.experiment_name or self.config.default_name()
        self.requested_name = self.experiment_name
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.status = "running"
        self.error: str | None = None
        self.resumed_from_step: int | None = None
        self.resume_count = 0
        self.wandb_run_id: str | None = None
        self.wandb_mode = resolve_mode(self.config.wandb_mode)
        self.wandb_previous_ids: list[str] = []
        self._saved_wandb_mode: str | None = None
        self.backend_reports: list[dict[str, Any]] = []
        self._finalizer: threading.Thread | None = None
        self._save_summary = True
        self._summary_failure_said = False
        self.token_counting = "log_train_step(tokens=...)"

        self.gradient_steps = 0
        self.tokens_seen = 0
        self.token_kinds: dict[str, int] = {}
        self.nonfinite_count = 0
        self._logged_step = -1
        self._window_losses: list[Any] = []
        self._latest_learning_rate: Any = None
        self._latest_grad_norm: Any = None
        self.latest_train_loss: float | None = None
        self.latest_train: dict[str, Any] = {}
        self.latest_throughput: dict[str, float] = {}
        self.final_trainer_metrics: dict[str, Any] = {}
        self.best: dict[str, dict[str, Any]] = {}
        self.peak_memory_gb: dict[str, float] = {}
        self.checkpoints: list[dict[str, Any]] = []
        self._checkpoint_sizes: dict[str, int] = {}
        self.eval_count = 0
        self.history = BoundedHistory(self.config.max_history)
        self.step_seconds = BoundedHistory(self.config.max_history)
        # Samples of the sessions before a resume, from the checkpoint's state.
        self._carried_samples: dict[str, list[float]] = {
            "step_seconds": [],
            "tokens_per_second": [],
        }
        self._carried_max_step_seconds: float | None = None
        self._throughput = ThroughputWindow(self.config.throughput_window)
        # Each session (a start or a resume) is anchored at its first step: set-up before it
        # counts as "other" time and stays out of throughput and step times.
        self._step_clock_anchored = False
        self._window_anchored = False
        self._session_steps = 0
        self._device_tokens: Any = None
        self._last_micro_batch = self.config.gradient_accumulation_steps - 1
        self._log_every = self.config.log_every_steps
        self._warned_backwards = False

        self.flops = self._flops_per_token()
        self.device_name: str | None = None
        self.dtype: str | None = None
        self.peak: tuple[str, float] | None = None
        self._detect_device()

        self.run_dir: Path | None = None
        self.summary_path: Path | None = None
        self._dispatcher: Dispatcher | None = None
        self._finished = False
        self._lock = threading.RLock()
        if self.is_main_process:
            lifecycle.track(self)

    # ================================================================== lifecycle
    def start(self) -> ExperimentTracker:
        """Open the run: reserve its directory and start the backends on the writer thread.

        Called by the first record; call it early to overlap W&B's start-up with the first
        steps. Resume with :meth:`load_state_dict` before this.
        """
        if self._dispatcher is not None or not self.is_main_process:
            return self
        output_dir = Path(self.config.output_dir)
        backends = (
            self._backends if self._backends is not None else default_backends(self.wandb_mode)
        )
        try:
            if self.resumed_from_step is not None and (output_dir / self.experiment_name).is_dir():
                self.run_dir = output_dir / self.experiment_name
            else:
                self.experiment_name, self.run_dir = reserve_run_dir(
                    output_dir, safe_name(self.experiment_name)
                )
            self.summary_path = output_dir / f"{self.experiment_name}_summary.json"
            claim_summary(self.summary_path, self)
        except OSError as error:
            # A run that cannot write its files still trains, and still reaches remote backends.
            logger.error(
                "hf_tracking: cannot create the run directory in %s (%s); no local files for "
                "this run",
                output_dir,
                error,
            )
            self.error = f"run directory: {type(error).__name__}: {error}"
            backends = [backend for backend in backends if backend.remote]
        wandb_resume = False
        if self.wandb_mode != "disabled":
            if self.wandb_run_id and self.wandb_mode == "online" == self._saved_wandb_mode:
                wandb_resume = True
            else:
                if self.wandb_run_id:
                    self.wandb_previous_ids.append(self.wandb_run_id)
                    logger.warning(
                        "hf_tracking: W&B cannot resume the %s run %s in %s mode; the resumed part "
                        "goes to a new run named %r (both ids are in the summary)",
                        self._saved_wandb_mode,
                        self.wandb_run_id,
                        self.wandb_mode,
                        self.experiment_name,
                    )
                self.wandb_run_id = new_run_id()
        run = RunInfo(
            name=self.experiment_name,
            run_dir=str(self.run_dir),
            output_dir=str(output_dir),
            project=self.config.project,
            entity=self.config.entity,
            tags=self.config.all_tags,
            notes=self.config.notes,
            config=self.run_config(),
            wandb_mode=self.wandb_mode,
            wandb_run_id=self.wandb_run_id,
            wandb_resume=wandb_resume,
            resumed_from_step=self.resumed_from_step,
        )
        from hf_tracking.system import hardware_fingerprint, host_memory_metrics

        probe = host_memory_metrics if self.config.track_memory else None
        self._dispatcher = Dispatcher(
            backends,
            run,
            probe,
            self.config.backend_queue_size,
            block_timeout=self.config.writer_block_timeout,
            drain_timeout=self.config.backend_finish_timeout,
        )
        # The summary's hardware fingerprint (ms of probes) is taken off the training thread.
        self._dispatcher.put(hardware_fingerprint)
        lifecycle.install_exit_hooks()
        return self

    def run_config(self) -> dict[str, Any]:
        """The config a backend stores: the experiment's fields plus any extra (Trainer
        arguments), with credentials redacted."""
        config: dict[str, Any] = self.config.to_dict()
        config["experiment_name"] = self.experiment_name
        if self.extra_config:
            config["trainer"] = self.extra_config
        return redact(config)

    def finish(
        self,
        save_summary: bool = True,
        status: str | None = None,
        error: str | None = None,
        wait: bool = False,
    ) -> Path | None:
        """Drain the queue, close every backend, write the summary. Safe to call twice.

        Remote backends (W&B) finish after their queues on their own threads, so training code
        does not wait for them: the summary is written at once and rewritten with their final
        reports when they are done (:meth:`wait_for_backends` waits for that; the interpreter
        waits for it at exit). ``wait=True`` does it all before returning.

        Returns the summary path (None on a non-main process or without a summary).
        """
        with self._lock:
            if self._finished:
                if wait:
                    self.wait_for_backends()
                return self.summary_path if save_summary else None
            self._finished = True
        lifecycle.untrack(self)
        if not self.is_main_process:
            return None
        if status is not None:
            self.status = status
        elif self.status == "running":
            self.status = "finished"
        if error is not None:
            self.error = error
        self.start()
        assert self._dispatcher is not None
        if self._window_losses and self.gradient_steps > self._logged_step:
            self._train_record(self._clock())
        self._read_device_tokens()
        self._ledger.stop()
        if self.final_trainer_metrics:
            values = self._axes(self._clock())
            values.update(self.final_trainer_metrics)
            self._dispatch(Record("final", values))
        exit_code = 0 if self.status == "finished" else 1
        self.backend_reports = self._dispatcher.close(self.status, exit_code)
        self._save_summary = save_summary
        if not wait and self._dispatcher.has_remote_backends:
            written = self._write_final_summary()
            finalizer = threading.Thread(
                target=self._finish_remote,
                kwargs={"rewrite_summary": True},
                name="hf_tracking-finish",
                daemon=False,
            )
            try:
                finalizer.start()
                self._finalizer = finalizer
                return self.summary_path if written else None
            except RuntimeError:  # no new threads at interpreter shutdown: finish here
                pass
        self._finish_remote()
        return self.summary_path if self._write_final_summary() else None

    def wait_for_backends(self, timeout: float | None = None) -> bool:
        """Wait until the remote backends have finished and the summary holds their final
        reports; True when they have."""
        if self._finalizer is None:
            return True
        self._finalizer.join(timeout)
        return not self._finalizer.is_alive()

    def _finish_remote(self, rewrite_summary: bool = False) -> None:
        """Wait for the remote backends (each within ``backend_finish_timeout``), then rewrite
        the summary with their final reports when asked."""
        assert self._dispatcher is not None
        self.backend_reports = self._dispatcher.wait_for_remote(self.config.backend_finish_timeout)
        if rewrite_summary:
            self._write_final_summary()

    def _write_final_summary(self) -> bool:
        """Write the summary, trying twice (a disk that was full may have room again); if it
        cannot be written the reason goes to stderr, once per run."""
        if not self._save_summary or self.summary_path is None:
            return False
        for attempt in range(2):
            try:
                return write_owned_summary(self.summary_path, self)
            except Exception as error:  # the summary never takes the training program down
                failure = error
                if attempt == 0:
                    time.sleep(0.2)
        if not self._summary_failure_said:
            self._summary_failure_said = True
            print(
                f"hf_tracking: could not write the summary {self.summary_path}: "
                f"{type(failure).__name__}: {failure}",
                file=sys.stderr,
                flush=True,
            )
        return False

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record so far has reached every backend."""
        return self._dispatcher.flush(timeout) if self._dispatcher is not None else True

    def __enter__(self) -> ExperimentTracker:
        return self  # the run opens with the first record, so load_state_dict may still come

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> None:
        if exc is None:
            self.finish()
        else:
            self.finish(status=lifecycle.failure_status(exc), error=f"{type(exc).__name__}: {exc}")

    # ================================================================== training
    def log_train_step(
        self,
        loss: Any,
        learning_rate: Any = None,
        grad_norm: Any = None,
        tokens: int = 0,
        iteration: int | None = None,
        accumulation_step: int | None = None,
    ) -> None:
        """Account for one micro-batch; emit a record every ``log_every_steps`` gradient steps."""
        if not self.is_main_process or self._finished:
            return
        if iteration is not None and iteration < self.gradient_steps:
            self._skip_backwards(iteration)
            return
        if not self._step_clock_anchored:
            self._step_clock_anchored = True
            self._mark = self._clock()
        if loss.__class__ is not float:
            _check_number("loss", loss)
        if tokens.__class__ is int and tokens >= 0:
            self.tokens_seen += tokens
        else:
            self._add_tokens(tokens)
        self._window_losses.append(loss)
        if accumulation_step is not None and accumulation_step != self._last_micro_batch:
            return
        steps = self.gradient_steps + 1 if iteration is None else iteration + 1
        if grad_norm is not None and grad_norm.__class__ is not float:
            _check_number("grad_norm", grad_norm)
        if learning_rate is not None and learning_rate.__class__ is not float:
            _check_number("learning_rate", learning_rate)
        now = self._clock()
        self._close_step(now, steps)
        self._latest_learning_rate = learning_rate
        self._latest_grad_norm = grad_norm
        if steps % self._log_every == 0:
            self._train_record(now)

    def _skip_backwards(self, iteration: int) -> None:
        if not self._warned_backwards:
            self._warned_backwards = True
            logger.warning(
                "hf_tracking: iteration %s is behind the %s steps already logged; such calls are "
                "skipped (to resume a run, load the tracker's state_dict first)",
                iteration,
                self.gradient_steps,
            )

    def _add_tokens(self, tokens: Any) -> None:
        """A 0-dim tensor is added up on its device, read on the next logging step."""
        if hasattr(tokens, "detach") and getattr(tokens, "ndim", None) == 0:
            if tokens.is_floating_point():
                raise TypeError(f"hf_tracking: tokens must be a whole number, got {tokens!r}")
            if self._device_tokens is None:
                self._device_tokens = tokens.detach().long().clone()
            else:
                self._device_tokens.add_(tokens.detach())
            return
        self.tokens_seen += _checked_tokens(tokens)

    def _read_device_tokens(self) -> None:
        # Runs on logging steps only: one device read for the tokens since the last log.
        if self._device_tokens is not None:
            tokens = int(self._device_tokens.item())
            if tokens < 0:
                raise ValueError(f"hf_tracking: tokens must be >= 0, got a total of {tokens}")
            self.tokens_seen += tokens
            self._device_tokens = None

    def step_begin(self) -> None:
        """Mark the start of a gradient step (the Trainer's ``on_step_begin``): time before it,
        such as data loading, counts as "other" rather than training."""
        self._mark = self._clock()
        self._step_clock_anchored = True
        if not self._window_anchored:
            self._window_anchored = True
            self._throughput.reset()
            self._throughput.add(
                self._ledger.training_clock(), self.tokens_seen, self.gradient_steps
            )

    def step_end(self, gradient_steps: int) -> None:
        """Mark the end of a gradient step (the Trainer's ``on_step_end``)."""
        if self.is_main_process and not self._finished:
            self._close_step(self._clock(), gradient_steps)

    def _close_step(self, now: float, gradient_steps: int) -> None:
        seconds = now - self._mark
        self._ledger.session["train"] += seconds
        if self._session_steps >= WARMUP_STEPS:
            self.step_seconds.append(seconds)
        self._session_steps += 1
        self._mark = now
        self.gradient_steps = gradient_steps
        if not self._window_anchored:  # a hand-written loop: the window opens after step one
            self._window_anchored = True
            self._throughput.reset()
            self._throughput.add(self._ledger.training_clock(), self.tokens_seen, gradient_steps)

    def log_train_values(
        self,
        loss: Any,
        learning_rate: Any = None,
        grad_norm: Any = None,
        tokens_seen: int | None = None,
        token_kinds: Mapping[str, int] | None = None,
        extra: Mapping[str, Any] | None = None,
        memory: Mapping[str, float] | None = None,
    ) -> None:
        """Emit a training record from values already aggregated over the window (the Trainer's
        ``on_log``): ``tokens_seen`` and ``token_kinds`` are run totals over all processes."""
        if not self.is_main_process or self._finished:
            return
        if tokens_seen is not None:
            self.tokens_seen = int(tokens_seen)
        if token_kinds:
            self.token_kinds = {kind: int(count) for kind, count in token_kinds.items()}
        self._window_losses = [] if loss is None else [loss]
        self._latest_learning_rate = learning_rate
        self._latest_grad_norm = grad_norm
        self._train_record(self._clock(), extra=extra, memory=memory)

    def _train_record(
        self,
        now: float,
        extra: Mapping[str, Any] | None = None,
        memory: Mapping[str, float] | None = None,
    ) -> None:
        self._read_device_tokens()
        loss = _mean(self._window_losses)
        self._window_losses = []
        grad_norm = _as_float(self._latest_grad_norm)
        values = self._axes(now)
        steps = self.gradient_steps
        if loss is not None:
            values["train/loss"] = loss
            values["train/perplexity"] = safe_perplexity(loss)
            if math.isfinite(loss):
                self.latest_train_loss = loss
        values["train/learning_rate"] = _as_float(self._latest_learning_rate)
        values["train/grad_norm"] = grad_norm
        self._count_nonfinite(loss, grad_norm)
        values["train/nonfinite_count"] = self.nonfinite_count
        values["progress/completion_pct"] = 100.0 * steps / self.planned_steps
        values.update(self._ledger.metrics(now))

        self._throughput.add(self._ledger.training_clock(), self.tokens_seen, steps)
        rates = self._throughput.rates()
        throughput = self._throughput.metrics(self.world_size, rates)
        if throughput:
            self._add_flops(throughput)
            values.update(throughput)
            self.latest_throughput = throughput
        eta = eta_hours(
            steps,
            self.planned_steps,
            rates[1] if rates else None,
            self.config.eval_every_steps,
            self._ledger.part_seconds("eval") / self.eval_count if self.eval_count else 0.0,
            self.config.save_every_steps,
            self._ledger.part_seconds("checkpoint") / len(self.checkpoints)
            if self.checkpoints
            else 0.0,
        )
        if eta is not None:
            values["progress/eta_hours"] = eta
        if self.token_kinds:
            values.update(token_kind_metrics(self.tokens_seen, self.token_kinds))
        if self.config.track_memory:
            if memory is None:
                from hf_tracking.system import gpu_memory_metrics

                memory = gpu_memory_metrics()
            values.update(memory)
            for key, value in memory.items():
                if key.endswith("_max_allocated_gb") and value > self.peak_memory_gb.get(key, 0.0):
                    self.peak_memory_gb[key] = value
        if extra:
            values.update(extra)
        self._logged_step = steps
        self.latest_train = values
        self.history.append({key: values[key] for key in HISTORY_KEYS if key in values})
        # The writer thread adds host probes to its own copy; the engine's stays as it is.
        self._dispatch(Record("train", dict(values)))

    # ================================================================== validation
    @contextlib.contextmanager
    def validation(self) -> Iterator[ExperimentTracker]:
        """Time a validation pass: ``with tracker.validation(): ...; tracker.log_validation(...)``."""
        self._validation_started = self._clock()
        try:
            yield self
        finally:
            if self._validation_started is not None:
                self._pending_eval_seconds = self._clock() - self._validation_started
                self._validation_started = None

    def log_validation(
        self,
        val_loss: Any,
        val_perplexity: Any = None,
        num_batches: int | None = None,
        eval_seconds: float | None = None,
        name: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Log a validation result. Its duration is ``eval_seconds`` when given, else the time
        measured by :meth:`validation`, else the time since the last training step; it counts
        as evaluation time, never as training time. ``name`` logs under ``val/<name>/``."""
        if not self.is_main_process or self._finished:
            return
        _check_number("val_loss", val_loss)
        now = self._clock()
        if eval_seconds is None:
            if self._validation_started is not None:
                eval_seconds = now - self._validation_started
                self._validation_started = None
            elif self._pending_eval_seconds is not None:
                eval_seconds = self._pending_eval_seconds
            else:
                eval_seconds = now - self._mark
        self._pending_eval_seconds = None
        self._ledger.add("eval", eval_seconds)
        self._mark = now
        self.eval_count += 1
        loss = _as_float(val_loss)
        perplexity = (
            _as_float(val_perplexity) if val_perplexity is not None else safe_perplexity(loss)
        )
        prefix = f"val/{safe_name(name)}" if name else "val"
        values = self._axes(now)
        values[f"{prefix}/loss"] = loss
        values[f"{prefix}/perplexity"] = perplexity
        values[f"{prefix}/eval_time_seconds"] = eval_seconds
        if self.latest_train_loss is not None and loss is not None:
            values[f"{prefix}/train_val_gap"] = loss - self.latest_train_loss
        if num_batches is not None:
            values[f"{prefix}/num_batches"] = num_batches
        for key, value in (extra or {}).items():
            values[f"{prefix}/{key}"] = value
        self._count_nonfinite(loss)
        if loss is not None and math.isfinite(loss):
            best = self.best.get(prefix)
            if best is None or loss < best["loss"]:
                self.best[prefix] = {
                    "loss": loss,
                    "perplexity": perplexity,
                    "step": self.gradient_steps,
                }
        self.history.append({"time/gradient_steps": self.gradient_steps, f"{prefix}/loss": loss})
        self._dispatch(Record("val", values))

    # ================================================================== checkpoints, custom
    def log_checkpoint(
        self, path: str | os.PathLike, is_best: bool = False, seconds: float | None = None
    ) -> None:
        """Log a checkpoint save. ``seconds`` is how long the save took (default: the time since
        the last training step or evaluation); its size is read on the writer thread."""
        if not self.is_main_process or self._finished:
            return
        now = self._clock()
        seconds = now - self._mark if seconds is None else float(seconds)
        self._ledger.add("checkpoint", seconds)
        self._mark = now
        entry = {
            "path": str(path),
            "step": self.gradient_steps,
            "is_best": bool(is_best),
            "seconds": seconds,
            "wallclock_hours": self._ledger.seconds()["wallclock"] / 3600.0,
        }
        self.checkpoints.append(entry)
        values = self._axes(now)
        values.update(
            {
                "checkpoint/count": len(self.checkpoints),
                "checkpoint/step": self.gradient_steps,
                "checkpoint/is_best": int(bool(is_best)),
                "checkpoint/seconds": seconds,
            }
        )

        def measure(record_values: dict[str, Any]) -> None:
            size = _path_size(Path(path))
            if size is not None:
                self._checkpoint_sizes[str(path)] = size
                record_values["checkpoint/size_mb"] = size / 1e6

        self._dispatch(Record("checkpoint", values, prepare=measure))
        self._write_summary_soon()

    def log_custom_metric(self, name: str, value: Any) -> None:
        """Log any number at the current point of the axes, as ``custom/<name>`` (or ``name``
        itself when it already has a ``group/`` prefix)."""
        if not self.is_main_process or self._finished:
            return
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"hf_tracking: a metric name must be a non-empty string, got {name!r}")
        _check_number(name, value)
        number = _as_float(value)
        self._count_nonfinite(number)
        values = self._axes(self._clock())
        values[name if "/" in name else f"custom/{name}"] = number
        self._dispatch(Record("custom", values))

    def log_final(self, metrics: Mapping[str, Any]) -> None:
        """End-of-training figures (the Trainer's final log): kept for the summary and the W&B
        run summary, never logged as a row that would overwrite curves."""
        self.final_trainer_metrics.update(metrics)

    # ================================================================== state
    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state; a new tracker given it continues the same run."""
        self._read_device_tokens()
        ledger = self._ledger.state()
        return {
            "version": STATE_VERSION,
            "experiment_name": self.experiment_name,
            "gradient_steps": self.gradient_steps,
            "tokens_seen": self.tokens_seen,
            "token_kinds": dict(self.token_kinds),
            "ledger_seconds": ledger,
            "nonfinite_count": self.nonfinite_count,
            "best": {key: dict(value) for key, value in self.best.items()},
            "checkpoints": self.checkpoint_list(),
            "evaluations": self.eval_count,
            "latest_train_loss": self.latest_train_loss,
            "peak_memory_gb": dict(self.peak_memory_gb),
            "requested_name": self.requested_name,
            "wandb": {
                "run_id": self.wandb_run_id,
                "mode": self.wandb_mode,
                "previous_ids": list(self.wandb_previous_ids),
            },
            "started_at": self.started_at,
            "resume_count": self.resume_count,
            "samples": {
                name: evenly_spaced(values, CARRIED_SAMPLES)
                for name, values in self.samples().items()
            },
            "max_step_seconds": self.max_step_seconds(),
        }

    def samples(self) -> dict[str, list[float]]:
        """Step times (warm-up excluded) and windowed tokens/s of the whole run: evenly spaced
        samples of the sessions before a resume, then this session's thinned history."""
        throughput = [
            row["throughput/tokens_per_second"]
            for row in self.history
            if "throughput/tokens_per_second" in row
        ]
        return {
            "step_seconds": self._carried_samples["step_seconds"] + self.step_seconds.rows(),
            "tokens_per_second": self._carried_samples["tokens_per_second"] + throughput,
        }

    def max_step_seconds(self) -> float | None:
        """The longest step of the whole run (warm-up excluded)."""
        candidates = [*self.step_seconds, self._carried_max_step_seconds]
        known = [seconds for seconds in candidates if seconds is not None]
        return max(known) if known else None

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue a run from :meth:`state_dict`: same name, axes carried on (wallclock and tokens
        do not restart), downtime not counted. Call before the first record."""
        if self._dispatcher is not None:
            raise RuntimeError("hf_tracking: load_state_dict must come before the first record")
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise ConfigError(f"not a hf_tracking state (version {STATE_VERSION}): {state!r:.200}")
        self.experiment_name = str(state["experiment_name"])
        self.gradient_steps = int(state["gradient_steps"])
        self.tokens_seen = int(state["tokens_seen"])
        self.token_kinds = {key: int(value) for key, value in state.get("token_kinds", {}).items()}
        self._ledger.carry_over(state.get("ledger_seconds", {}))
        self.nonfinite_count = int(state.get("nonfinite_count", 0))
        self.best = {key: dict(value) for key, value in state.get("best", {}).items()}
        self.checkpoints = [
            dict(entry)
            for entry in state.get("checkpoints", [])
            if entry["step"] <= self.gradient_steps
        ]
        self.eval_count = int(state.get("evaluations", 0))
        self.latest_train_loss = state.get("latest_train_loss")
        self.peak_memory_gb = dict(state.get("peak_memory_gb", {}))
        self.requested_name = state.get("requested_name", self.experiment_name)
        wandb_state = state.get("wandb", {})
        self.wandb_run_id = wandb_state.get("run_id")
        self._saved_wandb_mode = wandb_state.get("mode")
        self.wandb_previous_ids = list(wandb_state.get("previous_ids", []))
        self.started_at = state.get("started_at", self.started_at)
        self.resume_count = int(state.get("resume_count", 0)) + 1
        carried = state.get("samples", {})
        self._carried_samples = {
            name: [float(value) for value in carried.get(name, [])]
            for name in self._carried_samples
        }
        self._carried_max_step_seconds = state.get("max_step_seconds")
        self.resumed_from_step = self.gradient_steps
        self._logged_step = self.gradient_steps

    def note_resumed_checkpoint(self, path: str | os.PathLike) -> None:
        """List the checkpoint a run resumed from: its state was saved before its save ended."""
        if not any(entry["step"] == self.gradient_steps for entry in self.checkpoints):
            self.checkpoints.append(
                {"path": str(path), "step": self.gradient_steps, "is_best": False, "seconds": None}
            )

    def checkpoint_list(self) -> list[dict[str, Any]]:
        """Copies of the checkpoint entries, with the sizes the writer thread has measured."""
        sizes = self._checkpoint_sizes
        return [
            {**entry, "size_bytes": sizes.get(entry["path"], entry.get("size_bytes"))}
            for entry in self.checkpoints
        ]

    # ================================================================== internals
    def _axes(self, now: float) -> dict[str, Any]:
        return {
            "time/gradient_steps": self.gradient_steps,
            "time/wallclock_hours": self._ledger.wallclock_at(now) / 3600.0,
            "time/tokens_seen": self.tokens_seen,
        }

    def _count_nonfinite(self, *numbers: float | None) -> None:
        for number in numbers:
            if number is not None and not math.isfinite(number):
                self.nonfinite_count += 1

    def _dispatch(self, record: Record) -> None:
        if self._dispatcher is None:
            self.start()
        assert self._dispatcher is not None
        self._dispatcher.put(record)

    def _write_summary_soon(self) -> None:
        """Queue a 'running' summary on the writer thread, so a killed run leaves a complete one."""
        from hf_tracking.jsonio import atomic_write_text, dumps_strict
        from hf_tracking.summary import build_summary

        path = self.summary_path
        if path is None or self._dispatcher is None:
            return
        # Encoded here, so the writer thread never reads state the training thread changes.
        text = dumps_strict(build_summary(self), indent=2) + "\n"
        self._dispatcher.put(lambda: atomic_write_text(path, text))

    def _flops_per_token(self, seq_length: int | None = None) -> dict[str, Any]:
        estimate = self.config.estimate_parameters()
        return flops_per_token(
            estimate["non_embedding"],
            self.config.num_layers,
            self.config.d_model,
            seq_length or self.config.seq_length,
            self.config.vocab_size,
            causal=self.config.causal_attention_flops,
        )

    def observe_seq_length(self, seq_length: int) -> None:
        """The sequence length the model actually sees (the attention FLOPs depend on it), when
        it differs from the config's, e.g. the maximum context of a model config."""
        if seq_length != self.flops["seq_length"]:
            self.flops = self._flops_per_token(seq_length)

    def _detect_device(self) -> None:
        from hf_tracking.system import device_name_and_dtype

        self.device_name, weights_dtype = device_name_and_dtype(self.model)
        # Weights stay fp32 under bf16/fp16 autocast: the compute dtype, when stated, decides.
        self.dtype = self.config.compute_dtype or weights_dtype
        if self.config.peak_tflops:
            self.peak = ("user peak_tflops", self.config.peak_tflops)
        elif self.device_name and self.dtype:
            self.peak = lookup_peak_tflops(self.device_name, self.dtype)

    def _add_flops(self, throughput: dict[str, float]) -> None:
        total = self.flops["total"]
        tokens_per_second = throughput["throughput/tokens_per_second"]
        throughput["throughput/model_tflops_per_second"] = model_tflops_per_second(
            tokens_per_second, total
        )
        if self.peak is not None:
            per_device = throughput["throughput/tokens_per_second_per_device"]
            throughput["throughput/mfu_pct"] = mfu_pct(per_device, total, self.peak[1])

    def ledger_seconds(self) -> dict[str, float]:
        return self._ledger.seconds()


HISTORY_KEYS = (
    "time/gradient_steps",
    "time/wallclock_hours",
    "time/tokens_seen",
    "train/loss",
    "train/learning_rate",
    "throughput/tokens_per_second",
)


def token_kind_metrics(tokens_seen: int, token_kinds: Mapping[str, int]) -> dict[str, float]:
    """``tokens/slots`` (padding included), ``tokens/loss_bearing`` and the padding efficiency."""
    values: dict[str, float] = {f"tokens/{kind}": count for kind, count in token_kinds.items()}
    slots = token_kinds.get("slots")
    if slots:
        values["tokens/padding_efficiency_pct"] = 100.0 * tokens_seen / slots
    return values


def _checked_tokens(tokens: Any) -> int:
    if hasattr(tokens, "item"):
        tokens = tokens.item()
    if isinstance(tokens, bool) or not isinstance(tokens, (int, float)) or tokens != int(tokens):
        raise TypeError(f"hf_tracking: tokens must be a whole number, got {tokens!r}")
    if tokens < 0:
        raise ValueError(f"hf_tracking: tokens must be >= 0, got {tokens!r}")
    return int(tokens)


def _path_size(path: Path) -> int | None:
    try:
        if path.is_file():
            return path.stat().st_size
        if path.is_dir():
            return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    except OSError:
        pass
    return None


def default_backends(wandb_mode: str) -> list[Backend]:
    """The local run store, and W&B unless it is disabled."""
    if wandb_mode == "disabled":
        return [LocalRunStore()]
    return [LocalRunStore(), WandbBackend()]


def as_config(config: Any) -> ExperimentConfig:
    if config is None:
        return ExperimentConfig()
    if isinstance(config, ExperimentConfig):
        return config
    if isinstance(config, Mapping):
        return ExperimentConfig.from_dict(config)
    if isinstance(config, (str, os.PathLike)):
        return ExperimentConfig.load(config)
    raise ConfigError(
        f"config must be an ExperimentConfig, a mapping or a path, got {type(config).__name__}"
    )
