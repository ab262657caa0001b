"""ExperimentTracker: the public API of the engine, a facade over its parts.

Records carry the three axes on every row: ``time/gradient_steps`` (optimizer steps),
``time/wallclock_hours`` (across resumes, downtime excluded) and ``time/tokens_seen`` (all
processes), exact at every row: tokens added on a device are read whenever a record is built. A
training record (every ``log_every_steps`` gradient steps) adds:

| key | meaning |
| --- | --- |
| ``train/loss`` | mean loss over the micro-batches of the logging window |
| ``train/perplexity`` | exp(train/loss), inf past overflow |
| ``train/learning_rate``, ``train/grad_norm`` | latest values in the window |
| ``train/nonfinite_count`` | logged values so far that were NaN or inf |
| ``progress/*``, ``throughput/*`` | see :mod:`hf_tracking.engine.progress` and :mod:`~hf_tracking.engine.compute` |
| ``time/*_hours``, ``efficiency/goodput_pct`` | the time ledger, :mod:`hf_tracking.metrics.clock` |
| ``tokens/*`` | token kinds, when counted (:mod:`hf_tracking.engine.records`) |
| ``memory/*`` | see :mod:`hf_tracking.system` |

Validation, checkpoint and custom rows: see :mod:`hf_tracking.engine.records`. Custom metrics are
``custom/<name>`` unless the name has a ``group/`` prefix; the ``time/`` group is the tracker's.

Cost on the training thread: a call that completes no logging step does arithmetic and appends to
a list; tensors are read (one ``.item()`` on a stacked mean) only when a record is built, so a GPU
loop is never synchronised on other steps. Records go to a deque that a writer thread drains.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hf_tracking import lifecycle
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.registry import build_backends
from hf_tracking.catalog import custom_name
from hf_tracking.config import ExperimentConfig, as_config, safe_name
from hf_tracking.engine import records
from hf_tracking.engine.compute import ComputeProfile
from hf_tracking.engine.progress import Progress
from hf_tracking.engine.run_state import RunState
from hf_tracking.engine.snapshot import SummarySnapshot
from hf_tracking.engine.step_clock import StepClock
from hf_tracking.engine.values import as_float, check_number, checked_step, checked_tokens
from hf_tracking.engine.window import TrainingWindow
from hf_tracking.errors import ConfigError
from hf_tracking.metrics.clock import Clock
from hf_tracking.metrics.history import evenly_spaced
from hf_tracking.metrics.stats import safe_perplexity
from hf_tracking.redact import redact
from hf_tracking.session import RunSession

logger = logging.getLogger("hf_tracking")
STATE_VERSION = 1
# Step times and tokens/s samples a checkpoint's state carries to the resumed run, each.
CARRIED_SAMPLES = 512


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
        self.token_counting = "log_train_step(tokens=...)"
        config = self.config
        self.run = RunState(config.experiment_name or config.default_name())
        self.clock = StepClock(clock, config.max_history)
        self.window = TrainingWindow()
        self.progress = Progress(self.planned_steps, config.throughput_window, config.max_history)
        self.compute = ComputeProfile(config, model)
        self.backends = list(backends) if backends is not None else []
        if backends is None and self.is_main_process:
            self.backends = build_backends(config)
        self.session = RunSession(config.output_dir, self.backends, config.backend_finish_timeout)
        self._last_micro_batch = config.gradient_accumulation_steps - 1
        self._open_iteration: int | None = None
        self._warned: set[str] = set()
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
        if self.session.dispatcher is not None or not self.is_main_process:
            return self
        with self._lock:
            if self.session.dispatcher is None:
                self.run.experiment_name = self.session.open(
                    self.run.experiment_name,
                    self.run.resumed_from_step is not None,
                    self._run_info,
                    self.config.track_memory,
                    self.config.backend_queue_size,
                )
                self.run.error = self.run.error or self.session.error
        return self

    def _run_info(self, name: str, run_dir: Path | None) -> RunInfo:
        self.run.experiment_name = name
        return RunInfo(
            name=name,
            run_dir=str(run_dir),
            output_dir=str(self.session.output_dir),
            project=self.config.project,
            entity=self.config.entity,
            tags=self.config.all_tags,
            notes=self.config.notes,
            config=self.run_config(),
            resumed_from_step=self.run.resumed_from_step,
            model=self.model,
        )

    def run_config(self) -> dict[str, Any]:
        """The config a backend stores: the experiment's fields plus any extra (Trainer
        arguments), with credentials redacted."""
        config: dict[str, Any] = self.config.to_dict()
        config["experiment_name"] = self.run.experiment_name
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
                return self.session.summary_path if save_summary else None
            self._finished = True
        lifecycle.untrack(self)
        if not self.is_main_process:
            return None
        run = self.run
        if status is not None:
            run.status = status
        elif run.status == "running":
            run.status = "finished"
        if error is not None:
            run.error = error
        self.start()
        if self.window.has_losses and run.gradient_steps > run.logged_step:
            self._train_record(self.clock.now())
        self._sync_tokens()
        self.clock.ledger.stop()
        if run.final_trainer_metrics:
            values = self._axes(self.clock.now())
            values.update(run.final_trainer_metrics)
            self._dispatch(Record("final", values))
        self.session.save_summary = save_summary
        exit_code = 0 if run.status == "finished" else 1
        return self.session.close(run.status, exit_code, self.snapshot, wait)

    def wait_for_backends(self, timeout: float | None = None) -> bool:
        """Wait until the remote backends have finished and the summary holds their final
        reports; True when they have."""
        return self.session.wait_for_backends(timeout)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record so far has reached every backend."""
        return self.session.flush(timeout)

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
        tokens: Any = 0,
        iteration: int | None = None,
        accumulation_step: int | None = None,
    ) -> None:
        """Account for one micro-batch; emit a record every ``log_every_steps`` gradient steps.

        Every argument is checked before anything is counted: a bad value raises an error
        naming it and leaves the tracker as it was.
        """
        if not self.is_main_process or self._finished:
            return
        if loss.__class__ is not float:
            check_number("loss", loss)
        if learning_rate is not None and learning_rate.__class__ is not float:
            check_number("learning_rate", learning_rate)
        if grad_norm is not None and grad_norm.__class__ is not float:
            check_number("grad_norm", grad_norm)
        tokens = checked_tokens(tokens)
        if iteration is not None:
            iteration = checked_step("iteration", iteration)
            if iteration < self.run.gradient_steps:
                self._warn_once(
                    "backwards",
                    "hf_tracking: iteration %s is behind the %s steps already logged; such calls "
                    "are skipped (to resume a run, load the tracker's state_dict first)",
                    iteration,
                    self.run.gradient_steps,
                )
                return
        if accumulation_step is not None:
            accumulation_step = checked_step("accumulation_step", accumulation_step)
        clock = self.clock
        if not clock.anchored:
            clock.anchor()
        open_iteration = self._open_iteration
        if iteration is not None and open_iteration is not None and iteration > open_iteration:
            # The open step never saw its last micro-batch: it ends where the next one begins.
            self._warn_once(
                "accumulation",
                "hf_tracking: iteration %s began before iteration %s saw accumulation_step %s "
                "(gradient_accumulation_steps is %s); each new iteration counts as a step",
                iteration,
                open_iteration,
                self._last_micro_batch,
                self.config.gradient_accumulation_steps,
            )
            self._complete_step(open_iteration + 1)
        if tokens.__class__ is int:
            self.run.tokens_seen += tokens
        else:
            self.window.add_device_tokens(tokens)
        self.window.add_loss(loss)
        self.window.learning_rate = learning_rate
        self.window.grad_norm = grad_norm
        if accumulation_step is not None and accumulation_step != self._last_micro_batch:
            self._open_iteration = iteration
            return
        self._complete_step(self.run.gradient_steps + 1 if iteration is None else iteration + 1)

    def _complete_step(self, steps: int) -> None:
        self._open_iteration = None
        now = self.clock.now()
        self._close_step(now, steps)
        if steps % self.config.log_every_steps == 0:
            self._train_record(now)

    def step_begin(self) -> None:
        """Mark the start of a gradient step (the Trainer's ``on_step_begin``): time before it,
        such as data loading, counts as "other" rather than training."""
        self.clock.anchor()
        self.progress.anchor(
            self.clock.ledger.training_clock(), self.run.tokens_seen, self.run.gradient_steps
        )

    def step_end(self, gradient_steps: int) -> None:
        """Mark the end of a gradient step (the Trainer's ``on_step_end``)."""
        if self.is_main_process and not self._finished:
            self._close_step(self.clock.now(), gradient_steps)

    def _close_step(self, now: float, gradient_steps: int) -> None:
        self.clock.close_step(now)
        self.run.gradient_steps = gradient_steps
        # A hand-written loop: the window opens after step one.
        self.progress.anchor(
            self.clock.ledger.training_clock(), self.run.tokens_seen, gradient_steps
        )

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
        self.set_token_totals(tokens_seen, token_kinds)
        self.window.set_loss(loss)
        self.window.learning_rate = learning_rate
        self.window.grad_norm = grad_norm
        self._train_record(self.clock.now(), extra=extra, memory=memory)

    def set_token_totals(
        self, tokens_seen: int | None, token_kinds: Mapping[str, int] | None = None
    ) -> None:
        """Run totals counted outside the tracker (the Trainer's callback, over all ranks)."""
        if tokens_seen is not None:
            self.run.tokens_seen = int(tokens_seen)
        if token_kinds:
            self.run.token_kinds = {kind: int(count) for kind, count in token_kinds.items()}

    def _train_record(
        self,
        now: float,
        extra: Mapping[str, Any] | None = None,
        memory: Mapping[str, float] | None = None,
    ) -> None:
        run, ledger = self.run, self.clock.ledger
        self._sync_tokens()
        loss, learning_rate, grad_norm = self.window.close()
        values = self._axes(now)
        values.update(records.train_values(loss, learning_rate, grad_norm))
        if loss is not None and records.nonfinite(loss) == 0:
            run.latest_train_loss = loss
        run.nonfinite_count += records.nonfinite(loss, grad_norm)
        values.update(records.nonfinite_value(run.nonfinite_count))
        steps = run.gradient_steps
        checkpoints = len(run.checkpoints)
        eta_costs = (
            self.config.eval_every_steps,
            ledger.part_seconds("eval") / run.eval_count if run.eval_count else 0.0,
            self.config.save_every_steps,
            ledger.part_seconds("checkpoint") / checkpoints if checkpoints else 0.0,
        )
        completion, throughput = self.progress.training_metrics(
            ledger.training_clock(), run.tokens_seen, steps, self.world_size, eta_costs
        )
        values.update(completion)
        values.update(ledger.metrics(now))
        if throughput:
            self.compute.add_flops(throughput)
            values.update(throughput)
        if run.token_kinds:
            values.update(records.token_kind_metrics(run.tokens_seen, run.token_kinds))
        if self.config.track_memory:
            if memory is None:
                from hf_tracking.system import gpu_memory_metrics

                memory = gpu_memory_metrics()
            values.update(memory)
            run.note_memory_peaks(memory)
        if extra:
            values.update(extra)
        run.logged_step = steps
        run.latest_train = values
        self.progress.remember(values, throughput)
        # The writer thread adds host probes to its own copy; the engine's stays as it is.
        self._dispatch(Record("train", dict(values)))

    # ================================================================== validation
    @contextlib.contextmanager
    def validation(self) -> Iterator[ExperimentTracker]:
        """Time a validation pass: ``with tracker.validation(): ...; tracker.log_validation(...)``."""
        self.clock.begin_validation()
        try:
            yield self
        finally:
            self.clock.end_validation()

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
        check_number("val_loss", val_loss)
        check_number("val_perplexity", val_perplexity, allow_none=True)
        check_number("eval_seconds", eval_seconds, allow_none=True)
        if num_batches is not None:
            num_batches = checked_step("num_batches", num_batches)
        extra_values = {str(key): value for key, value in (extra or {}).items()}
        for key, value in extra_values.items():
            check_number(f"extra[{key!r}]", value)
        now = self.clock.now()
        seconds = self.clock.eval_seconds(now, as_float(eval_seconds))
        run = self.run
        run.eval_count += 1
        loss = as_float(val_loss)
        perplexity = (
            as_float(val_perplexity) if val_perplexity is not None else safe_perplexity(loss)
        )
        prefix = f"val/{safe_name(name)}" if name else "val"
        values = self._axes(now)
        extra_numbers = {key: as_float(value) for key, value in extra_values.items()}
        values.update(
            records.validation_values(
                prefix, loss, perplexity, seconds, run.latest_train_loss, num_batches, extra_numbers
            )
        )
        run.nonfinite_count += records.nonfinite(loss)
        run.note_best(prefix, loss, perplexity)
        self.progress.note_validation(run.gradient_steps, f"{prefix}/loss", loss)
        self._dispatch(Record("val", values))

    # ================================================================== checkpoints, custom
    def log_checkpoint(
        self, path: str | os.PathLike, is_best: bool = False, seconds: float | None = None
    ) -> None:
        """Log a checkpoint save. ``seconds`` is how long the save took (default: the time since
        the last training step or evaluation); its size is read on the writer thread."""
        if not self.is_main_process or self._finished:
            return
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"hf_tracking: path must be a str or os.PathLike, got {path!r}")
        check_number("seconds", seconds, allow_none=True)
        now = self.clock.now()
        seconds = self.clock.charge("checkpoint", now, as_float(seconds))
        run = self.run
        entry = {
            "path": str(path),
            "step": run.gradient_steps,
            "is_best": bool(is_best),
            "seconds": seconds,
            "wallclock_hours": self.clock.wallclock_hours(now),
        }
        run.checkpoints.append(entry)
        values = self._axes(now)
        values.update(
            records.checkpoint_values(
                len(run.checkpoints), run.gradient_steps, bool(is_best), seconds
            )
        )
        sizes = run.checkpoint_sizes

        def measure(record_values: dict[str, Any]) -> None:
            size = _path_size(Path(path))
            if size is not None:
                sizes[str(path)] = size
                record_values["checkpoint/size_mb"] = size / 1e6

        self._dispatch(Record("checkpoint", values, prepare=measure, path=str(path)))
        self.session.write_summary_soon(self.snapshot())

    def log_custom_metric(self, name: str, value: Any) -> None:
        """Log any number at the current point of the axes, as ``custom/<name>`` (or ``name``
        itself when it already has a ``group/`` prefix; the ``time/`` group is refused)."""
        if not self.is_main_process or self._finished:
            return
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"hf_tracking: a metric name must be a non-empty string, got {name!r}")
        key = custom_name(name)
        check_number(name, value)
        number = as_float(value)
        self.run.nonfinite_count += records.nonfinite(number)
        values = self._axes(self.clock.now())
        values[key] = number
        self._dispatch(Record("custom", values))

    def log_final(self, metrics: Mapping[str, Any]) -> None:
        """End-of-training figures (the Trainer's final log): kept for the summary and the W&B
        run summary, never logged as a row that would overwrite curves."""
        self.run.final_trainer_metrics.update(metrics)

    # ================================================================== state
    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state; a new tracker given it continues the same run."""
        self._sync_tokens()
        samples = self.samples()
        return {
            "version": STATE_VERSION,
            **self.run.state_dict(),
            **self.clock.state_dict(),
            "samples": {
                name: evenly_spaced(values, CARRIED_SAMPLES) for name, values in samples.items()
            },
            "max_step_seconds": self.max_step_seconds(),
            "backends": {backend.name: backend.state_dict() for backend in self.backends},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue a run from :meth:`state_dict`: same name, axes carried on (wallclock and tokens
        do not restart), downtime not counted. Call before the first record."""
        if self.session.dispatcher is not None:
            raise RuntimeError("hf_tracking: load_state_dict must come before the first record")
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise ConfigError(f"not a hf_tracking state (version {STATE_VERSION}): {state!r:.200}")
        # Loaded into fresh parts, swapped in only when the whole state is valid.
        run = RunState(self.run.experiment_name)
        run.load_state_dict(state)
        clock = StepClock(self.clock.now, self.config.max_history)
        clock.load_state_dict(state)
        samples = state.get("samples") or {}
        if not isinstance(samples, Mapping):
            raise ConfigError("hf_tracking state: samples must be a mapping")
        clock.load_samples(samples, state.get("max_step_seconds"))
        self.progress.load_samples(samples)
        self.run, self.clock = run, clock
        saved = dict(state.get("backends") or {})
        if "wandb" in state:  # version 1 states written before backends kept their own
            saved.setdefault("wandb", state["wandb"])
        for backend in self.backends:
            backend_state = saved.get(backend.name)
            if isinstance(backend_state, Mapping):
                backend.load_state_dict(backend_state)

    def note_resumed_checkpoint(self, path: str | os.PathLike) -> None:
        """List the checkpoint a run resumed from: its state was saved before its save ended."""
        run = self.run
        if not any(entry["step"] == run.gradient_steps for entry in run.checkpoints):
            run.checkpoints.append(
                {"path": str(path), "step": run.gradient_steps, "is_best": False, "seconds": None}
            )

    def samples(self) -> dict[str, list[float]]:
        """Step times (warm-up excluded) and windowed tokens/s of the whole run."""
        return {
            "step_seconds": self.clock.step_second_samples(),
            "tokens_per_second": self.progress.tokens_per_second_samples(),
        }

    def max_step_seconds(self) -> float | None:
        """The longest step of the whole run (warm-up excluded)."""
        return self.clock.max_step_seconds()

    def snapshot(self) -> SummarySnapshot:
        """An immutable copy of what the summary needs (cheap; taken on the training thread)."""
        run, samples = self.run, self.samples()
        parameters = self.config.estimate_parameters()
        if self.model is not None and hasattr(self.model, "parameters"):
            parameters["actual_total"] = sum(p.numel() for p in self.model.parameters())
        sections = {}
        for backend in self.backends:
            section = backend.summary_section()
            if section is not None:
                sections[backend.name] = section
        return SummarySnapshot(
            experiment_name=run.experiment_name,
            requested_name=run.requested_name,
            status=run.status,
            error=run.error,
            started_at=run.started_at,
            run_dir=str(self.session.run_dir) if self.session.run_dir else None,
            config=self.run_config(),
            tags=self.config.all_tags,
            gradient_steps=run.gradient_steps,
            planned_steps=self.planned_steps,
            tokens_seen=run.tokens_seen,
            eval_count=run.eval_count,
            nonfinite_count=run.nonfinite_count,
            resume_count=run.resume_count,
            ledger_seconds=self.clock.ledger.seconds(),
            latest_train=dict(run.latest_train),
            best={key: dict(value) for key, value in run.best.items()},
            final_trainer_metrics=dict(run.final_trainer_metrics),
            latest_throughput=dict(self.progress.latest_throughput),
            step_seconds=samples["step_seconds"],
            max_step_seconds=self.max_step_seconds(),
            tokens_per_second=samples["tokens_per_second"],
            token_counting=self.token_counting,
            token_kinds=dict(run.token_kinds),
            compute=self.compute.summary(self.progress.latest_throughput.get("throughput/mfu_pct")),
            checkpoints=run.checkpoint_list(),
            parameters=parameters,
            history_rows=len(self.progress.history),
            history_stride=self.progress.history.stride,
            peak_memory_gb=dict(run.peak_memory_gb),
            world_size=self.world_size,
            backend_reports=self.session.backend_reports(),
            backend_sections=sections,
        )

    # ================================================================== internals
    def _axes(self, now: float) -> dict[str, Any]:
        self._sync_tokens()
        run = self.run
        return records.axes(run.gradient_steps, self.clock.wallclock_hours(now), run.tokens_seen)

    def _sync_tokens(self) -> None:
        """Add the tokens counted on the device since the last record (one device read)."""
        self.run.tokens_seen += self.window.take_device_tokens()

    def _dispatch(self, record: Record) -> None:
        if self.session.dispatcher is None:
            self.start()
        assert self.session.dispatcher is not None
        self.session.dispatcher.put(record)

    def _warn_once(self, topic: str, message: str, *args: Any) -> None:
        if topic not in self._warned:
            self._warned.add(topic)
            logger.warning(message, *args)

    def observe_seq_length(self, seq_length: int) -> None:
        """The sequence length the model actually sees, when it differs from the config's."""
        self.compute.observe_seq_length(seq_length)

    def ledger_seconds(self) -> dict[str, float]:
        return self.clock.ledger.seconds()

    def checkpoint_list(self) -> list[dict[str, Any]]:
        return self.run.checkpoint_list()

    # Read-only views of the parts, for callers of the first release's attributes.
    experiment_name = property(lambda self: self.run.experiment_name)
    gradient_steps = property(lambda self: self.run.gradient_steps)
    tokens_seen = property(lambda self: self.run.tokens_seen)
    token_kinds = property(lambda self: self.run.token_kinds)
    status = property(lambda self: self.run.status)
    error = property(lambda self: self.run.error)
    best = property(lambda self: self.run.best)
    checkpoints = property(lambda self: self.run.checkpoints)
    latest_train = property(lambda self: self.run.latest_train)
    latest_throughput = property(lambda self: self.progress.latest_throughput)
    history = property(lambda self: self.progress.history)
    step_seconds = property(lambda self: self.clock.step_seconds)
    flops = property(lambda self: self.compute.flops)
    peak = property(lambda self: self.compute.peak)
    device_name = property(lambda self: self.compute.device_name)
    dtype = property(lambda self: self.compute.dtype)
    run_dir = property(lambda self: self.session.run_dir)
    summary_path = property(lambda self: self.session.summary_path)
    backend_reports = property(lambda self: self.session.backend_reports())


def _path_size(path: Path) -> int | None:
    try:
        if path.is_file():
            return path.stat().st_size
        if path.is_dir():
            return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())
    except OSError:
        pass
    return None
