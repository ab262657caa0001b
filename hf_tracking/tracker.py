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
a list; tensors are read (one ``.item()`` on a stacked mean) only on a logging step, so a GPU loop
is never synchronised on other steps. There the training thread reads the clock and the window
and queues the row; the writer thread builds it (:mod:`hf_tracking.engine.jobs`) and writes it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hf_tracking import lifecycle
from hf_tracking.backends.base import Record
from hf_tracking.catalog import custom_name
from hf_tracking.config import MAX_INT, safe_name
from hf_tracking.engine import records
from hf_tracking.engine.values import (
    as_float,
    check_duration,
    check_number,
    checked_step,
    checked_tokens,
)
from hf_tracking.metrics.stats import safe_perplexity
from hf_tracking.system import path_size
from hf_tracking.tracker_base import TrackerBase

logger = logging.getLogger("hf_tracking")


class ExperimentTracker(TrackerBase):
    """Tracks one training run. See the module docstring for the keys it logs.

    ``log_train_step`` is called once per micro-batch; ``iteration`` is the 0-based index of the
    optimizer step the micro-batch belongs to (as in ``for iteration in range(num_iterations)``)
    and may be left out. A call whose ``iteration`` is behind the steps already taken is skipped
    with one warning (a loop restarted without ``load_state_dict``).
    """

    # ================================================================== lifecycle
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
        self._open_after_training.discard(self)
        if not self.is_main_process:
            return None
        with lifecycle.finishing(self):
            return self._finish(save_summary, status, error, wait)

    def _finish(
        self, save_summary: bool, status: str | None, error: str | None, wait: bool
    ) -> Path | None:
        run = self.run
        if status is not None:
            run.status = status
        elif run.status == "running":
            run.status = "finished"
        if error is not None:
            run.error = error
        self._close_training()
        self.session.save_summary = save_summary
        exit_code = 0 if run.status == "finished" else 1
        summary_path = self.session.close(run.status, exit_code, self.snapshot, wait)
        self._announce(summary_path)
        return summary_path

    def mark_interrupted(self, reason: str) -> None:
        """A signal arrived while the run was finishing: its summary says "interrupted"."""
        self.run.status = "interrupted"
        self.run.error = self.run.error or reason

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
        naming it and leaves the tracker as it was. With ``torch.distributed`` on several
        processes, every rank calls it and tokens are summed over the ranks on logging steps
        (:mod:`hf_tracking.engine.rank_tokens`: a loop calling on rank zero only counts rank
        zero's tokens, with one warning; ``sum_tokens_over_ranks: false`` takes them as given).
        """
        if self._finished or (not self.is_main_process and self.rank_tokens() is None):
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
        open_iteration = self._open_iteration
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
            self._steps_by_iteration = True
            self._complete_step(open_iteration + 1)
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
            self._open_iteration = iteration
            if len(window.losses) >= window.max_losses:  # a step that never ends stays bounded
                window.fold()
            return
        # _complete_step, inline: the call that most steps make.
        run = self.run
        steps = run.gradient_steps + 1 if iteration is None else iteration + 1
        self._open_iteration = None
        now = clock.close_step()
        run.gradient_steps = steps
        if steps % self._log_every == 0 or self._ranks or not self.progress.anchored:
            self._after_step(now, steps)

    def step_begin(self) -> None:
        """Mark the start of a gradient step (the Trainer's ``on_step_begin``): time before it,
        such as data loading, counts as "other" rather than training."""
        clock = self.clock
        clock.mark = clock.now()  # StepClock.anchor, inline: this runs on every step
        clock.anchored = True
        if not self.progress.anchored:
            self.progress.anchor(
                self.clock.ledger.training_clock(), self.run.tokens_seen, self.run.gradient_steps
            )

    def step_end(self, gradient_steps: int) -> float:
        """Mark the end of a gradient step (the Trainer's ``on_step_end``); returns the clock
        reading."""
        if self.is_main_process and not self._finished:
            self.run.gradient_steps = gradient_steps
            return self.clock.close_step()
        return self.clock.now()

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
        if tokens_seen is not None or token_kinds:
            self.set_token_totals(tokens_seen, token_kinds)
        # Read (as floats) on the writer thread as the row is built.
        window = (loss, learning_rate, grad_norm)
        self._train_record(self.clock.now(), extra=extra, memory=memory, window=window)

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
        check_duration("eval_seconds", eval_seconds)
        if num_batches is not None:
            num_batches = checked_step("num_batches", num_batches)
        extra_values = {str(key): value for key, value in (extra or {}).items()}
        for key, value in extra_values.items():
            if key in records.VALIDATION_KEYS:
                raise ValueError(
                    f"hf_tracking: extra[{key!r}] would replace the row's own val/{key}; "
                    "pass it by its argument or under another name"
                )
            check_number(f"extra[{key!r}]", value)
        self.jobs.catch_up()  # the latest training loss, the nonfinite count
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
        if self._training_closed:  # an evaluation after training updates the summary
            self.session.write_summary_soon(self.snapshot())

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
        check_duration("seconds", seconds)
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
            size = path_size(Path(path))
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
        self.jobs.catch_up()
        self.run.nonfinite_count += records.nonfinite(number)
        values = self._axes(self.clock.now())
        values[key] = number
        self._dispatch(Record("custom", values))

    def log_final(self, metrics: Mapping[str, Any]) -> None:
        """End-of-training figures (the Trainer's final log): kept for the summary and the W&B
        run summary, never logged as a row that would overwrite curves."""
        self.run.final_trainer_metrics.update(metrics)

    # ================================================================== state
