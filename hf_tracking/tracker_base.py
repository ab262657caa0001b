"""The tracker's parts and how they compose: the base of :class:`~hf_tracking.ExperimentTracker`.

It builds the parts (run state, step clock, training window, progress, compute profile, the
backends and the run session), opens the run, builds records from the parts, and saves and loads
the checkpoint state; the public logging calls, their argument checks and the way out are in
:mod:`hf_tracking.tracker`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from hf_tracking import lifecycle, tracker_state
from hf_tracking.announce import announce_run
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.registry import build_backends
from hf_tracking.config import ExperimentConfig, as_config
from hf_tracking.engine import records
from hf_tracking.engine.compute import ComputeProfile
from hf_tracking.engine.jobs import BUILD_AHEAD, RecordJobs
from hf_tracking.engine.progress import Progress
from hf_tracking.engine.rank_tokens import RankTokens, process_count
from hf_tracking.engine.run_state import RunState, earlier_checkpoints
from hf_tracking.engine.size_label import size_label_warning
from hf_tracking.engine.snapshot import SummarySnapshot, take_snapshot
from hf_tracking.engine.step_clock import StepClock
from hf_tracking.engine.training import device_memory, train_record_values
from hf_tracking.engine.window import TrainingWindow
from hf_tracking.metrics.clock import Clock
from hf_tracking.redact import redact
from hf_tracking.session import RunSession
from hf_tracking.tokens import TokenCounter

logger = logging.getLogger("hf_tracking")


class TrackerBase:
    """State and composition of one tracked run; use :class:`~hf_tracking.ExperimentTracker`."""

    # Runs whose training ended but which stay open for evaluations after it: held here so that
    # the exit hooks (which hold runs weakly) still find and finish them once the Trainer is gone.
    _open_after_training: ClassVar[set[TrackerBase]] = set()

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
        # A checked copy: a field changed after the config was made is validated again, and
        # changing the caller's object later does not reach this run.
        self.config = dataclasses.replace(as_config(config))
        self.model = model
        self.is_main_process = (
            int(os.environ.get("RANK", "0")) == 0 if is_main_process is None else is_main_process
        )
        self.world_size = world_size or int(os.environ.get("WORLD_SIZE", "1"))
        self.planned_steps = planned_steps or self.config.num_iterations
        self.extra_config = dict(extra_config or {})
        self._run_config: dict[str, Any] | None = None
        self.token_counting = "log_train_step(tokens=...)"
        config = self.config
        self.run = RunState(config.experiment_name or config.default_name())
        self.clock = StepClock(clock, config.max_history)
        self.window = TrainingWindow()
        self.progress = Progress(self.planned_steps, config.throughput_window, config.max_history)
        self.compute = ComputeProfile(config, model)
        self.jobs = RecordJobs()
        # The token counter of the Trainer's callback, when its counts are taken at every row.
        self._token_source: TokenCounter | None = None
        self.backends = list(backends) if backends is not None else []
        if backends is None and self.is_main_process:
            self.backends = build_backends(config)
        self.session = RunSession(
            config.output_dir,
            self.backends,
            config.backend_finish_timeout,
            config.writer_block_timeout,
        )
        self._last_micro_batch = config.gradient_accumulation_steps - 1
        self._log_every = config.log_every_steps
        self._open_iteration: int | None = None
        self._steps_by_iteration = False  # set when accumulation_step never ends a step
        self._warned: set[str] = set()
        self._finished = False
        self._training_closed = False
        self._announced = False
        self._ranks: RankTokens | bool | None = False  # False: not decided yet
        self._lock = threading.RLock()
        if self.is_main_process:
            lifecycle.track(self)
            warning = size_label_warning(config.model_size, model)
            if warning:
                logger.warning(warning)

    def start(self) -> TrackerBase:
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
                if self.run.resumed_from_step is not None:
                    self.run.fill_checkpoint_details(earlier_checkpoints(self.summary_path))
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
        arguments), with credentials redacted. Made once per run name (redacting a Trainer's
        arguments takes milliseconds, and every summary snapshot carries it): shared, not to be
        changed. Secret values learnt later are masked where the summary is written."""
        cached = self._run_config
        if cached is None or cached["experiment_name"] != self.run.experiment_name:
            config: dict[str, Any] = self.config.to_dict()
            config["experiment_name"] = self.run.experiment_name
            if self.extra_config:
                config["trainer"] = self.extra_config
            cached = self._run_config = redact(config)
        return cached

    def rank_tokens(self) -> RankTokens | None:
        """The sum of tokens over ranks, when this loop runs on several (decided at the first
        step, when the process group is up); None in a single process."""
        if self._ranks is False:
            summing = self.config.sum_tokens_over_ranks and process_count() > 1
            self._ranks = RankTokens() if summing else None
        return self._ranks  # type: ignore[return-value]

    def sync_tokens(self) -> None:
        """Sum the tokens of every rank now (a collective: call it on every rank), so that the
        next row between logging steps, or the state of a checkpoint, has the exact count."""
        ranks = self.rank_tokens()
        if ranks is not None:
            self.run.tokens_seen += ranks.take_sum()

    def _complete_step(self, steps: int) -> None:
        self._open_iteration = None
        now = self.clock.close_step()
        self.run.gradient_steps = steps
        self._after_step(now, steps)

    def _after_step(self, now: float, steps: int) -> None:
        """What a completed step may bring: the window's opening, a record. ``log_train_step``
        calls it only when one of them can be due (a plain step costs no call)."""
        run = self.run
        if not self.progress.anchored:  # a hand-written loop: the window opens after step one
            self.progress.anchor(self.clock.ledger.training_clock(now), run.tokens_seen, steps)
        # Several ranks (``_ranks`` set by log_train_step): the last planned step is a logging
        # step too, so the run ends exact.
        if steps % self._log_every == 0 or (self._ranks and steps == self.planned_steps):
            if self._ranks:
                run.tokens_seen += self._ranks.take_sum()
            if self.is_main_process:
                self._train_record(now)

    def end_training(self, timeout: float = 5.0) -> Path | None:
        """End the training part of the run (the Trainer's ``on_train_end``): the last window's
        record and the final figures are logged, the clock stops and a complete summary is
        written before this returns (and every record has reached the backends, up to
        ``timeout`` seconds). The backends stay open: evaluations after training are logged at
        the final step and update the summary, until :meth:`finish` (at exit, or by the next
        ``train()``). Returns the summary path (None on a non-main process)."""
        if not self.is_main_process or self._finished:
            return None
        if self.run.status == "running":
            self.run.status = "finished"
        self._close_training()
        self._open_after_training.add(self)
        assert self.session.dispatcher is not None
        written = threading.Event()
        self.session.write_summary_soon(self.snapshot())
        self.session.dispatcher.put(written.set)  # runs after the summary's write
        if written.wait(timeout):
            self.session.flush(timeout)  # remote backends started: their reports are known
        self._announce(self.session.summary_path)
        return self.session.summary_path

    def _announce(self, summary_path: Path | None) -> None:
        if not self._announced:
            self._announced = True
            announce_run(self, summary_path)

    def _close_training(self) -> None:
        """The end of training, once: the open window's record, the clock stopped, the final
        figures. Later rows (evaluations after training) are at the final step and wallclock."""
        if self._training_closed:
            return
        self._training_closed = True
        run = self.run
        self.start()
        if self._steps_by_iteration and self._open_iteration is not None:
            # The loop's last open step (no collective here: finish runs on rank zero only).
            self.clock.close_step()
            self.run.gradient_steps = self._open_iteration + 1
        if self.window.has_losses and run.gradient_steps > run.logged_step:
            self._train_record(self.clock.now())
        self._sync_tokens()
        self.clock.ledger.stop()
        if run.final_trainer_metrics:
            values = self._axes(self.clock.now())
            values.update(run.final_trainer_metrics)
            self._dispatch(Record("final", values))

    def note_resumed_checkpoint(self, path: str | os.PathLike) -> None:
        """List the checkpoint a run resumed from: its state was saved before its save ended."""
        self.run.note_resumed_checkpoint(str(path))

    # ================================================================== internals
    def observe_seq_length(self, seq_length: int) -> None:
        """The sequence length the model actually sees, when it differs from the config's."""
        self.compute.observe_seq_length(seq_length)

    def set_token_totals(
        self, tokens_seen: int | None, token_kinds: Mapping[str, int] | None = None
    ) -> None:
        """Run totals counted outside the tracker (the Trainer's callback, over all ranks)."""
        if tokens_seen is not None:
            self.run.tokens_seen = int(tokens_seen)
        if token_kinds:
            self.run.token_kinds = {kind: int(count) for kind, count in token_kinds.items()}

    def count_tokens_from(self, counter: TokenCounter) -> None:
        """Take the run's tokens from ``counter`` at every row (counted as the row is built)."""
        self._token_source = counter

    def _train_record(
        self,
        now: float,
        extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        memory: Mapping[str, float] | None = None,
        window: tuple[Any, Any, Any] | None = None,
    ) -> None:
        """Read what moves on (the clock, the counts, the window) and hand the row's build to
        the writer thread (:mod:`hf_tracking.engine.jobs`). ``extra`` may be a function that
        gives the extra keys, called as the row is built."""
        source = self._token_source
        if source is None:
            self._sync_tokens()
        if memory is None and self.config.track_memory:
            memory = device_memory()  # on the training thread: its current device
        run = self.run
        # TrainInputs' fields, as a plain tuple (cheaper to make than the named one).
        inputs = (
            run.gradient_steps,
            run.tokens_seen,
            run.token_kinds,
            source,
            None if source is None else source.take(),
            now,
            self.clock.ledger.session.copy(),
            run.eval_count,
            len(run.checkpoints),
            self.window.close() if window is None else window,
            extra,
            memory,
        )
        run.logged_step = run.gradient_steps
        jobs, values = self.jobs, {}
        waiting = jobs.waiting
        waiting.append((values, train_record_values, (self, inputs)))
        if len(waiting) > BUILD_AHEAD:  # the writer is behind (or stalled): build them here
            jobs.catch_up()
        record = ("train", values, jobs.fill)  # Record's fields: made into one by the writer
        dispatcher = self.session.dispatcher
        if dispatcher is None:
            self._dispatch(record)
        else:
            dispatcher.put(record)

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable state; a new tracker given it continues the same run."""
        self._current_run()  # every row built, the tokens counted
        return tracker_state.state_of(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue a run from :meth:`state_dict`: same name, axes carried on (wallclock and tokens
        do not restart), downtime not counted. Call before the first record."""
        if self.session.dispatcher is not None:
            raise RuntimeError("hf_tracking: load_state_dict must come before the first record")
        self.run, self.clock = tracker_state.load_parts(self, state)

    def samples(self) -> dict[str, list[float]]:
        """Step times (warm-up excluded) and windowed tokens/s of the whole run."""
        self.jobs.catch_up()
        return {
            "step_seconds": self.clock.step_second_samples(),
            "tokens_per_second": self.progress.tokens_per_second_samples(),
        }

    def snapshot(self) -> SummarySnapshot:
        """An immutable copy of what the summary needs (cheap; taken on the training thread)."""
        self._current_run()  # every row built, the tokens counted
        return take_snapshot(self)

    def _axes(self, now: float) -> dict[str, Any]:
        self._sync_tokens()
        run = self.run
        return records.axes(run.gradient_steps, self.clock.wallclock_hours(now), run.tokens_seen)

    def _sync_tokens(self) -> None:
        """Bring the run's tokens up to now: add those ``log_train_step`` counted on a device
        since the last record (one device read), or count the latest token source's."""
        if self.window.device_tokens is not None:
            self.run.tokens_seen += self.window.take_device_tokens()
        source = self._token_source
        if source is not None:
            self.jobs.catch_up()  # the rows before count what they took first
            tokens, kinds, seq_length = source.run_totals(source.take())
            self.set_token_totals(tokens, kinds)
            if seq_length:
                self.compute.observe_seq_length(seq_length)

    def _dispatch(self, record: Record | tuple) -> None:
        if self.session.dispatcher is None:
            self.start()
        assert self.session.dispatcher is not None
        self.session.dispatcher.put(record)

    def _warn_once(self, topic: str, message: str, *args: Any) -> None:
        if topic not in self._warned and self.is_main_process:
            self._warned.add(topic)
            logger.warning(message, *args)

    def _current_run(self) -> RunState:
        """The run state with every row built and the tokens counted up to now."""
        self.jobs.catch_up()
        self._sync_tokens()
        return self.run

    def _current_progress(self) -> Progress:
        self.jobs.catch_up()
        return self.progress

    # Read-only views of the parts, under the attribute names of the public API.
    experiment_name = property(lambda self: self.run.experiment_name)
    gradient_steps = property(lambda self: self.run.gradient_steps)
    tokens_seen = property(lambda self: self._current_run().tokens_seen)
    token_kinds = property(lambda self: self._current_run().token_kinds)
    status = property(lambda self: self.run.status)
    error = property(lambda self: self.run.error)
    best = property(lambda self: self.run.best)
    checkpoints = property(lambda self: self.run.checkpoints)
    latest_train = property(lambda self: self._current_run().latest_train)
    latest_throughput = property(lambda self: self._current_progress().latest_throughput)
    history = property(lambda self: self._current_progress().history)
    step_seconds = property(lambda self: self.clock.step_seconds)
    flops = property(lambda self: self.compute.flops)
    peak = property(lambda self: self.compute.peak)
    device_name = property(lambda self: self.compute.device_name)
    dtype = property(lambda self: self.compute.dtype)
    run_dir = property(lambda self: self.session.run_dir)
    summary_path = property(lambda self: self.session.summary_path)
    backend_reports = property(lambda self: self.session.backend_reports())
