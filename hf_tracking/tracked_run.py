"""One tracked run's parts and how they compose, behind :class:`~hf_tracking.ExperimentTracker`.

:class:`TrackedRun` builds the parts (the gradient steps with the run state, step clock, window
and progress; the compute profile; the row builds; the backends and the run session), opens the
run, builds training rows from the parts, keeps the run's tokens up to date, ends training and
the run, and saves and loads the checkpoint state. It knows nothing of the public API above it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hf_tracking import tracker_state
from hf_tracking.announce import announce_run
from hf_tracking.backends.base import Backend, Record, RunInfo
from hf_tracking.backends.registry import build_backends
from hf_tracking.config import ExperimentConfig, as_config
from hf_tracking.engine import records
from hf_tracking.engine.compute import ComputeProfile
from hf_tracking.engine.health import HealthMonitor
from hf_tracking.engine.jobs import BUILD_AHEAD, RecordJobs
from hf_tracking.engine.progress import Progress
from hf_tracking.engine.rank_tokens import RankTokens
from hf_tracking.engine.resume_config import earlier_configs
from hf_tracking.engine.run_state import RunState, earlier_checkpoints, earlier_summary
from hf_tracking.engine.size_label import size_label_warning
from hf_tracking.engine.snapshot import SummarySnapshot, take_snapshot
from hf_tracking.engine.step_clock import StepClock
from hf_tracking.engine.steps import TrainingSteps
from hf_tracking.engine.training import device_memory, train_record_values
from hf_tracking.metrics.clock import Clock
from hf_tracking.redact import redact
from hf_tracking.run_health import LayerWatch
from hf_tracking.session import RunSession
from hf_tracking.tokens import TokenCounter

logger = logging.getLogger("hf_tracking")


class TrackedRun:
    """State and composition of one tracked run; use :class:`~hf_tracking.ExperimentTracker`."""

    def __init__(
        self,
        config: ExperimentConfig | Mapping[str, Any] | str | os.PathLike | None,
        model: Any,
        is_main_process: bool | None,
        world_size: int | None,
        backends: list[Backend] | None,
        extra_config: Mapping[str, Any] | None,
        planned_steps: int | None,
        clock: Clock,
    ) -> None:
        # A checked copy: a field changed after the config was made is validated again, and
        # changing the caller's object later does not reach this run.
        self.config = config = dataclasses.replace(as_config(config))
        self.model = model
        if is_main_process is None:  # rank zero of torch.distributed unless the caller says
            is_main_process = int(os.environ.get("RANK", "0")) == 0
        self.is_main_process = is_main_process
        self.world_size = world_size or int(os.environ.get("WORLD_SIZE", "1"))
        self.planned_steps = planned_steps = planned_steps or config.num_iterations
        self.extra_config = dict(extra_config or {})
        self._run_config: dict[str, Any] | None = None
        # The backends' states a resume loaded, given to them as the run opens.
        self._backend_states: dict[str, Mapping[str, Any]] | None = None
        self.token_counting = "log_train_step(tokens=...)"
        # The ranks' compute times over the run (a Trainer run on several ranks), for the summary.
        self.stragglers: dict[str, Any] | None = None
        # The parts the gradient steps move on: the steps part and this one hold the same
        # objects (plain attributes: rows read them without a call); a resume replaces them in both.
        self.run = RunState(config.experiment_name or config.default_name())
        self.clock = StepClock(clock, config.max_history)
        self.progress = Progress(planned_steps, config.throughput_window, config.max_history)
        self.steps = TrainingSteps(
            config,
            self.run,
            self.clock,
            self.progress,
            is_main_process,
            planned_steps,
            self.warn_once,
        )
        self.window = self.steps.window
        self.steps.record = self.train_record
        self.compute = ComputeProfile(config, model)
        self.jobs = RecordJobs()
        self.health = HealthMonitor(config, self.planned_steps)
        self.layers = LayerWatch(config.track_layers_every, self.clock.seconds_per_step)
        # The token counter of the Trainer's callback, when its counts are taken at every row.
        self._token_source: TokenCounter | None = None
        self.backends = list(backends) if backends is not None else []
        if backends is None and is_main_process:
            self.backends = build_backends(config)
        self.session = RunSession(
            config.output_dir,
            self.backends,
            config.backend_finish_timeout,
            config.writer_block_timeout,
        )
        self._warned: set[str] = set()
        self.training_closed = False
        self._announced = False
        self.lock = threading.RLock()
        if is_main_process:
            warning = size_label_warning(config.model_size, model)
            if warning:
                logger.warning(warning)

    def start(self) -> None:
        """Open the run: reserve its directory and start the backends on the writer thread."""
        if self.session.dispatcher is not None or not self.is_main_process:
            return
        with self.lock:
            if self.session.dispatcher is None:
                run = self.run
                run.experiment_name = self.session.open(
                    run.experiment_name,
                    run.resumed_from_step is not None,
                    self._run_info,
                    self.config.track_memory,
                    self.config.backend_queue_size,
                )
                run.error = run.error or self.session.error
                if run.resumed_from_step is not None:
                    summary_path = self.session.earlier_summary_path
                    run.fill_checkpoint_details(earlier_checkpoints(summary_path))
                    run.earlier_configs = earlier_configs(
                        earlier_summary(summary_path),
                        self.run_config(),
                        run.resumed_from_step,
                        run.experiment_name,
                    )

    def _run_info(self, name: str, run_dir: Path | None) -> RunInfo:
        """The run as the backends start it. A resume's backends take their saved states here,
        unless the run forked (its own writer holds them): then they start a new run."""
        self.run.experiment_name = name
        if self._backend_states is not None and self.session.forked_from is None:
            tracker_state.load_backend_states(self.backends, self._backend_states)
        self._backend_states = None
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
            resumes=self.run.resume_count,
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
        return self.steps.rank_tokens()

    def sync_tokens(self) -> None:
        """Sum the tokens of every rank now (a collective: call it on every rank)."""
        ranks = self.steps.rank_tokens()
        if ranks is not None:
            self.run.tokens_seen += ranks.take_sum()

    def end_training(self, timeout: float) -> Path | None:
        """The end of training: the last rows, a complete summary written before this returns,
        every record at the backends (up to ``timeout`` seconds); the backends stay open."""
        if self.run.status == "running":
            self.run.status = "finished"
        self.close_training()
        assert self.session.dispatcher is not None
        written = threading.Event()
        self.session.write_summary_soon(self.snapshot())
        self.session.dispatcher.put(written.set)  # runs after the summary's write
        if written.wait(timeout):
            self.session.flush(timeout)  # remote backends started: their reports are known
        self._announce(self.session.summary_path)
        return self.session.summary_path

    def finish(
        self, save_summary: bool, status: str | None, error: str | None, wait: bool
    ) -> Path | None:
        """Close the training part, drain, close the backends and write the summary."""
        run = self.run
        if status is not None:
            run.status = status
        elif run.status == "running":
            run.status = "finished"
        if error is not None:
            run.error = error
        self.close_training()
        self.session.save_summary = save_summary
        exit_code = 0 if run.status == "finished" else 1
        summary_path = self.session.close(run.status, exit_code, self.snapshot, wait)
        self._announce(summary_path)
        return summary_path

    def _announce(self, summary_path: Path | None) -> None:
        if not self._announced:
            self._announced = True
            announce_run(self, summary_path)

    def close_training(self) -> None:
        """The end of training, once: the open window's record, the clock stopped, the final
        figures. Later rows (evaluations after training) are at the final step and wallclock."""
        if self.training_closed:
            return
        self.training_closed = True
        run = self.run
        self.start()
        self.steps.close_open_step()
        if self.window.has_losses and run.gradient_steps > run.logged_step:
            self.train_record(self.clock.now())
        self.count_tokens()
        self.clock.ledger.stop()
        if run.final_trainer_metrics:
            values = self.axes(self.clock.now())
            values.update(run.final_trainer_metrics)
            self.dispatch(Record("final", values))

    def observe_seq_length(self, seq_length: int) -> None:
        self.compute.observe_seq_length(seq_length)

    def set_token_totals(
        self, tokens_seen: int | None, token_kinds: Mapping[str, int] | None = None
    ) -> None:
        if tokens_seen is not None:
            self.run.tokens_seen = int(tokens_seen)
        if token_kinds:
            self.run.token_kinds = {kind: int(count) for kind, count in token_kinds.items()}

    def count_tokens_from(self, counter: TokenCounter) -> None:
        self._token_source = counter

    def train_record(
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
            self.count_tokens()
        if memory is None and self.config.track_memory:
            memory = device_memory()  # on the training thread: its current device
        run = self.run
        if window is None:
            window = self.window.close()
        if self.layers.pending is not None:  # per-block norms of this step (track_layers)
            extra = self.layers.row_extra(extra, window[2])
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
            window,
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
            self.dispatch(record)
        else:
            dispatcher.put(record)

    def state_dict(self) -> dict[str, Any]:
        self.current_run()  # every row built, the tokens counted
        return tracker_state.state_of(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self.session.dispatcher is not None:
            raise RuntimeError("hf_tracking: load_state_dict must come before the first record")
        run, clock, self._backend_states = tracker_state.load_parts(self, state)
        self.run = self.steps.run = run
        self.clock = self.steps.clock = clock

    def backend_states(self) -> dict[str, Any]:
        """Each backend's state by name (those a resume loaded, until the run opens)."""
        if self._backend_states is not None:
            return {name: dict(state) for name, state in self._backend_states.items()}
        return {backend.name: backend.state_dict() for backend in self.backends}

    def samples(self) -> dict[str, list[float]]:
        self.jobs.catch_up()
        return {
            "step_seconds": self.clock.step_second_samples(),
            "tokens_per_second": self.progress.tokens_per_second_samples(),
        }

    def snapshot(self) -> SummarySnapshot:
        self.current_run()  # every row built, the tokens counted
        return take_snapshot(self)

    def axes(self, now: float) -> dict[str, Any]:
        self.count_tokens()
        run = self.run
        return records.axes(run.gradient_steps, self.clock.wallclock_hours(now), run.tokens_seen)

    def count_tokens(self) -> None:
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

    def dispatch(self, record: Record | tuple) -> None:
        if self.session.dispatcher is None:
            self.start()
        assert self.session.dispatcher is not None
        self.session.dispatcher.put(record)

    def warn_once(self, topic: str, message: str, *args: Any) -> None:
        if topic not in self._warned and self.is_main_process:
            self._warned.add(topic)
            logger.warning(message, *args)

    @property
    def rows_closed(self) -> bool:
        """Rows come from the main process only, until the run finishes."""
        return not self.is_main_process or self.steps.finished

    def current_run(self) -> RunState:
        """The run state with every row built and the tokens counted up to now."""
        self.jobs.catch_up()
        self.count_tokens()
        return self.run

    def current_progress(self) -> Progress:
        self.jobs.catch_up()
        return self.progress

    # The run's directory and summary, for the announcement at the end.
    experiment_name = property(lambda self: self.run.experiment_name)
    run_dir = property(lambda self: self.session.run_dir)
