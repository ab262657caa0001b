"""Gradient steps: the training thread's per-micro-batch path.

:class:`TrainingSteps` takes each micro-batch (``log_train_step``) and the Trainer's step events
(``step_begin``, ``step_end``), ends gradient steps and, when a step may bring a row (the
throughput window's opening, a logging step), calls ``record`` with the clock reading. It holds
the parts the training thread moves on (the run state, the step clock, the training window, the
progress) as its own attributes, so each per-step read is one lookup.

Cost on the training thread: a call that completes no logging step does arithmetic and appends to
a list; tensors are read (one ``.item()`` on a stacked mean) only on a logging step, so a GPU loop
is never synchronised on other steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hf_tracking.config import MAX_INT, ExperimentConfig
from hf_tracking.engine.progress import Progress
from hf_tracking.engine.rank_tokens import RankTokens, process_count
from hf_tracking.engine.run_state import RunState
from hf_tracking.engine.step_clock import StepClock
from hf_tracking.engine.values import check_number, checked_step, checked_tokens
from hf_tracking.engine.window import TrainingWindow


class TrainingSteps:
    """Counts micro-batches and gradient steps of one run; ``record(now)`` emits a training row
    (set by the owner before the first step). ``finished`` stops the counting."""

    def __init__(
        self,
        config: ExperimentConfig,
        run: RunState,
        clock: StepClock,
        progress: Progress,
        is_main_process: bool,
        planned_steps: int,
        warn_once: Callable[..., None],
    ) -> None:
        self.config = config
        self.run = run
        self.clock = clock
        self.window = TrainingWindow()
        self.progress = progress
        self.is_main_process = is_main_process
        self.planned_steps = planned_steps
        self.record: Callable[[float], None] = lambda now: None
        self._warn_once = warn_once
        self.finished = False
        self._last_micro_batch = config.gradient_accumulation_steps - 1
        self._log_every = config.log_every_steps
        self.open_iteration: int | None = None
        self.steps_by_iteration = False  # set when accumulation_step never ends a step
        self._ranks: RankTokens | bool | None = False  # False: not decided yet

    def rank_tokens(self) -> RankTokens | None:
        """The sum of tokens over ranks, when this loop runs on several (decided at the first
        step, when the process group is up); None in a single process."""
        if self._ranks is False:
            summing = self.config.sum_tokens_over_ranks and process_count() > 1
            self._ranks = RankTokens() if summing else None
        return self._ranks  # type: ignore[return-value]

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

        ``iteration`` is the 0-based index of the optimizer step the micro-batch belongs to (as
        in ``for iteration in range(num_iterations)``) and may be left out; a call whose
        ``iteration`` is behind the steps already taken is skipped with one warning (a loop
        restarted without ``load_state_dict``). Every argument is checked before anything is
        counted: a bad value raises an error naming it and leaves the tracker as it was. With
        ``torch.distributed`` on several processes, every rank calls it and tokens are summed
        over the ranks on logging steps (:mod:`hf_tracking.engine.rank_tokens`: a loop calling
        on rank zero only counts rank zero's tokens, with one warning;
        ``sum_tokens_over_ranks: false`` takes them as given).
        """
        if self.finished or (not self.is_main_process and self.rank_tokens() is None):
            return
        if loss.__class__ is not float:
            check_number("loss", loss)
        if learning_rate is not None and learning_rate.__class__ is not float:
            check_number("learning_rate", learning_rate)
        if grad_norm is not None and grad_norm.__class__ is not float:
            check_number("grad_norm", grad_norm)
        if tokens.__class__ is not int or tokens < 0 or tokens > MAX_INT:
            tokens = checked_tokens(tokens)
        if iteration is not None:
            if iteration.__class__ is not int or iteration < 0 or iteration > MAX_INT:
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
        if accumulation_step is not None and (
            accumulation_step.__class__ is not int or not 0 <= accumulation_step <= MAX_INT
        ):
            accumulation_step = checked_step("accumulation_step", accumulation_step)
        clock = self.clock
        if not clock.anchored:
            clock.anchor()
        open_iteration = self.open_iteration
        if open_iteration is not None and iteration is not None and iteration > open_iteration:
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
            self.steps_by_iteration = True
            self.complete_step(open_iteration + 1)
        window = self.window
        ranks = self._ranks
        if ranks is False:  # not decided yet: the first call
            ranks = self.rank_tokens()
        if ranks is None:  # one process: this is the main one
            if tokens.__class__ is int:
                self.run.tokens_seen += tokens
            else:
                window.add_device_tokens(tokens)
        else:
            ranks.add(tokens)
        if ranks is None or self.is_main_process:
            window.losses.append(loss)
            window.learning_rate = learning_rate
            window.grad_norm = grad_norm
        if accumulation_step is not None and accumulation_step != self._last_micro_batch:
            self.open_iteration = iteration
            if len(window.losses) >= window.max_losses:  # a step that never ends stays bounded
                window.fold()
            return
        # complete_step, inline: the call that most steps make.
        run = self.run
        steps = run.gradient_steps + 1 if iteration is None else iteration + 1
        self.open_iteration = None
        now = clock.close_step()
        run.gradient_steps = steps
        if steps % self._log_every == 0 or self._ranks or not self.progress.anchored:
            self._after_step(now, steps)

    def complete_step(self, steps: int) -> None:
        self.open_iteration = None
        now = self.clock.close_step()
        self.run.gradient_steps = steps
        self._after_step(now, steps)

    def close_open_step(self) -> None:
        """At the end of training, the last step of a loop counted by iterations (no collective
        here: the end runs on rank zero only)."""
        if self.steps_by_iteration and self.open_iteration is not None:
            self.clock.close_step()
            self.run.gradient_steps = self.open_iteration + 1

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
                self.record(now)

    def step_begin(self) -> None:
        """Mark the start of a gradient step (the Trainer's ``on_step_begin``; a hand-written
        loop calls it once its batch is fetched): the time since the last event (a step, a log,
        an evaluation, a save) was the wait for the batch, ``time/data_wait_hours``."""
        self.clock.begin_step()
        if not self.progress.anchored:
            self.progress.anchor(
                self.clock.ledger.training_clock(), self.run.tokens_seen, self.run.gradient_steps
            )

    def step_end(self, gradient_steps: int) -> float:
        """Mark the end of a gradient step (the Trainer's ``on_step_end``); returns the clock
        reading."""
        if self.is_main_process and not self.finished:
            self.run.gradient_steps = gradient_steps
            return self.clock.close_step()
        return self.clock.now()
