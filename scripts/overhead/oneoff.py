"""One-off costs: d. ``finish()`` after queueing records without waiting (W&B offline + local
store, and the local store alone); e. W&B start-up delay: construction + ``start()`` + the first
``log_train_step``, offline against disabled, cold (first W&B use in the process) and warm."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from overhead.calls import log_step
from overhead.common import backend_counts, count_lines, percentiles_us, tracker_config


@contextlib.contextmanager
def timed_summary() -> Iterator[dict[str, float]]:
    """Time ``build_summary`` and ``write_summary`` as ``finish()`` calls them (through
    :mod:`hf_tracking.session`, whose names for them are wrapped here)."""
    import hf_tracking.session as summary_module

    spent = {"build_summary_s": 0.0, "write_summary_s": 0.0}
    originals = (summary_module.build_summary, summary_module.write_summary)

    def wrap(function: Callable[..., Any], key: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start

        return timed

    summary_module.build_summary = wrap(originals[0], "build_summary_s")
    summary_module.write_summary = wrap(originals[1], "write_summary_s")
    try:
        yield spent
    finally:
        summary_module.build_summary, summary_module.write_summary = originals


def drain_case(output_dir: Path, records: int, local_only: bool) -> dict[str, Any]:
    """Queue ``records`` records without waiting, then time ``finish()``."""
    from hf_tracking import ExperimentTracker
    from hf_tracking.backends import LocalRunStore

    config = tracker_config(output_dir, log_every_steps=1)
    tracker = ExperimentTracker(config, backends=[LocalRunStore()] if local_only else None)
    tracker.start()
    start = time.perf_counter()
    for iteration in range(records):
        log_step(tracker, iteration)
    queue_s = time.perf_counter() - start
    dispatcher = tracker.session.dispatcher
    intake = len(dispatcher._intake) if dispatcher is not None else None
    remote = sum(worker.pending() for worker in dispatcher._workers) if dispatcher else None
    with timed_summary() as summary:
        start = time.perf_counter()
        tracker.finish()
        finish_s = time.perf_counter() - start
        tracker.wait_for_backends()
        backends_s = time.perf_counter() - start - finish_s
    assert tracker.run_dir is not None
    return {
        "backends_configured": "local" if local_only else "local + wandb offline",
        "records": records,
        "queue_s": round(queue_s, 3),
        "intake_backlog_at_finish": intake,
        "remote_backlog_at_finish": remote,
        "finish_s": round(finish_s, 3),
        "remote_backends_finished_after_s": round(backends_s, 3),
        "summary_s": round(summary["build_summary_s"] + summary["write_summary_s"], 4),
        "metrics_jsonl_lines": count_lines(tracker.run_dir / "metrics.jsonl"),
        "backends": backend_counts(tracker),
    }


def section_finish(temp: Path, records: int) -> dict[str, Any]:
    total = drain_case(temp / "d_total", records, local_only=False)
    local = drain_case(temp / "d_local", records, local_only=True)
    return {
        "local_and_wandb": total,
        "local_only": local,
        "wandb_share_s": round(
            total["finish_s"] + total["remote_backends_finished_after_s"] - local["finish_s"], 3
        ),
    }


def startup_case(output_dir: Path, mode: str, window_s: float) -> dict[str, Any]:
    """Construction + start() + first (emitting) log_train_step; then ~1 ms steps for
    ``window_s`` seconds, to see what W&B's start on the other threads costs the calls."""
    from hf_tracking import ExperimentTracker

    config = tracker_config(output_dir, wandb_mode=mode, log_every_steps=1)
    start = time.perf_counter()
    tracker = ExperimentTracker(config)
    tracker.start()
    tracker.log_train_step(loss=2.0, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=0)
    first_s = time.perf_counter() - start
    clock = time.perf_counter_ns
    samples = []
    iteration = 1
    deadline = time.perf_counter() + window_s
    while time.perf_counter() < deadline:
        time.sleep(0.001)  # a training step that releases the GIL
        begin = clock()
        tracker.log_train_step(
            loss=2.0, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=iteration
        )
        samples.append(clock() - begin)
        iteration += 1
    tracker.finish(save_summary=False)
    return {
        "mode": mode,
        "to_first_log_return_s": round(first_s, 4),
        "calls_during_window": percentiles_us(samples),
        "window_s": window_s,
    }


def section_startup(temp: Path, window_s: float) -> dict[str, Any]:
    """Disabled then offline, twice: the first pair is cold (wandb not yet imported)."""
    wandb_imported = "wandb" in sys.modules
    results: dict[str, Any] = {"wandb_imported_before": wandb_imported}
    for phase in ("cold", "warm"):
        disabled = startup_case(temp / f"e_{phase}_disabled", "disabled", window_s)
        offline = startup_case(temp / f"e_{phase}_offline", "offline", window_s)
        difference = offline["to_first_log_return_s"] - disabled["to_first_log_return_s"]
        results[phase] = {
            "disabled": disabled,
            "offline": offline,
            "difference_s": round(difference, 4),
            "within_target_0_05_s": difference <= 0.05,
        }
    return results
