"""Per-call costs on the calling thread: a. ``ExperimentTracker.log_train_step`` (calls that emit
no record and calls that emit one, ``log_every_steps=10``; W&B offline, ``track_memory`` off and
on, and the local store alone); b. ``TrackingCallback.on_log`` and ``on_step_begin`` +
``on_step_end`` with a real ``TrainingArguments``, ``TrainerState`` and ``TrainerControl``;
c. a direct ``wandb.log`` of 5 scalars on its own offline run, and its ratio to the above.

The writer thread, the W&B worker thread and W&B's processes run while the calls are timed, so
their share of the GIL and of the CPU is part of what is measured.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from overhead.common import (
    LOG_EVERY,
    LOSS_VALUES,
    backend_counts,
    count_lines,
    padded_samples,
    percentiles_us,
    tracker_config,
    training_arguments,
)
from overhead.trainer_child import MICRO_SEQ, MICRO_VOCAB, micro_model


def timer_floor(calls: int) -> dict[str, Any]:
    """An empty function with log_train_step's keywords, timed like the real calls."""

    def empty(**kwargs: Any) -> None:
        return None

    clock = time.perf_counter_ns
    samples = []
    for iteration in range(calls):
        start = clock()
        empty(loss=2.0, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=iteration)
        samples.append(clock() - start)
    return percentiles_us(samples)


def time_log_train_step(tracker: Any, calls: int) -> tuple[list[int], list[int]]:
    """Latencies (ns) of ``calls`` calls, split into non-emitting and emitting ones."""
    clock = time.perf_counter_ns
    log = tracker.log_train_step
    quiet: list[int] = []
    emitting: list[int] = []
    for iteration in range(calls):
        loss = LOSS_VALUES[iteration % 7]
        start = clock()
        log(loss=loss, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=iteration)
        elapsed = clock() - start
        (emitting if (iteration + 1) % LOG_EVERY == 0 else quiet).append(elapsed)
    return quiet, emitting


def log_train_step_case(output_dir: Path, calls: int, **config: Any) -> dict[str, Any]:
    """One tracker, ``calls`` timed calls, then ``finish()`` (timed, not part of the calls)."""
    from hf_tracking import ExperimentTracker
    from hf_tracking.backends import LocalRunStore

    local_only = config.pop("local_only", False)
    backends = [LocalRunStore()] if local_only else None
    tracker = ExperimentTracker(tracker_config(output_dir, **config), backends=backends)
    tracker.start()
    quiet, emitting = time_log_train_step(tracker, calls)
    start = time.perf_counter()
    tracker.finish()
    finish_s = time.perf_counter() - start
    assert tracker.run_dir is not None
    lines = count_lines(tracker.run_dir / "metrics.jsonl")
    return {
        "config": {**config, "local_only": local_only, "log_every_steps": LOG_EVERY},
        "non_emitting": percentiles_us(quiet),
        "emitting": percentiles_us(emitting),
        "records_expected": calls // LOG_EVERY,
        "metrics_jsonl_lines": lines,
        "finish_s": round(finish_s, 3),
        "backends": backend_counts(tracker),
    }


def section_log_train_step(temp: Path, calls: int) -> dict[str, Any]:
    cases = {
        "wandb_offline": {"wandb_mode": "offline", "track_memory": False},
        "wandb_offline_track_memory": {"wandb_mode": "offline", "track_memory": True},
        "local_only": {"wandb_mode": "disabled", "track_memory": False, "local_only": True},
    }
    return {
        name: log_train_step_case(temp / f"a_{name}", calls, **config)
        for name, config in cases.items()
    }


def trainer_objects(output_dir: Path, max_steps: int) -> tuple[Any, Any, Any]:
    """A real TrainingArguments (use_cpu, logging every step), TrainerState and TrainerControl."""
    from transformers.trainer_callback import TrainerControl, TrainerState

    args = training_arguments(str(output_dir / "trainer"), max_steps=max_steps)
    state = TrainerState(max_steps=max_steps, logging_steps=1)
    return args, state, TrainerControl()


def one_training_forward(model: Any) -> None:
    """One training-mode forward, so the callback's device token counter holds counts."""
    import torch

    samples = padded_samples(4, MICRO_SEQ, MICRO_VOCAB)
    batch = {key: torch.stack([sample[key] for sample in samples]) for key in samples[0]}
    model.train()
    with torch.no_grad():
        model(**batch)


def time_callback(callback: Any, args: Any, state: Any, control: Any, calls: int) -> dict:
    """Latencies (ns) of on_step_begin + on_step_end, and of on_log, per training step."""
    clock = time.perf_counter_ns
    steps: list[int] = []
    logs_ns: list[int] = []
    for step in range(calls):
        start = clock()
        callback.on_step_begin(args, state, control)
        middle = clock()
        state.global_step += 1
        state.epoch = state.global_step / 1000
        resumed = clock()
        callback.on_step_end(args, state, control)
        end = clock()
        steps.append((middle - start) + (end - resumed))
        logs = {
            "loss": LOSS_VALUES[step % 7],
            "grad_norm": 1.0,
            "learning_rate": 3e-4,
            "epoch": state.epoch,
        }
        start = clock()
        callback.on_log(args, state, control, logs=logs)
        logs_ns.append(clock() - start)
    return {"step_begin_end": steps, "on_log": logs_ns}


def on_log_case(output_dir: Path, calls: int, track_memory: bool) -> dict[str, Any]:
    from hf_tracking import TrackingCallback

    config = tracker_config(output_dir, track_memory=track_memory, log_every_steps=1)
    callback = TrackingCallback(config)
    args, state, control = trainer_objects(output_dir, calls)
    model = micro_model()
    callback.on_train_begin(args, state, control, model=model)
    one_training_forward(model)
    samples = time_callback(callback, args, state, control, calls)
    tracker = callback.tracker
    start = time.perf_counter()
    callback.on_train_end(args, state, control)
    finish_s = time.perf_counter() - start
    assert tracker is not None and tracker.run_dir is not None
    return {
        "config": {"wandb_mode": "offline", "track_memory": track_memory},
        "on_log": percentiles_us(samples["on_log"]),
        "on_step_begin_plus_end": percentiles_us(samples["step_begin_end"]),
        "metrics_jsonl_lines": count_lines(tracker.run_dir / "metrics.jsonl"),
        "on_train_end_s": round(finish_s, 3),
        "backends": backend_counts(tracker),
    }


def section_on_log(temp: Path, calls: int) -> dict[str, Any]:
    return {
        "wandb_offline": on_log_case(temp / "b_on_log", calls, track_memory=False),
        "wandb_offline_track_memory": on_log_case(temp / "b_on_log_mem", calls, True),
    }


def section_wandb_log(temp: Path, calls: int) -> dict[str, Any]:
    """``run.log`` of 5 scalars on a run of its own, offline, W&B settings as hf_tracking's."""
    import wandb

    directory = temp / "c_wandb"
    directory.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project="hf-tracking-bench",
        mode="offline",
        dir=str(directory),
        reinit="create_new",
        settings=wandb.Settings(
            x_disable_stats=True, save_code=False, x_save_requirements=False, silent=True
        ),
    )
    clock = time.perf_counter_ns
    samples = []
    for step in range(calls):
        row = {
            "train/loss": LOSS_VALUES[step % 7],
            "train/learning_rate": 3e-4,
            "train/grad_norm": 1.0,
            "time/gradient_steps": step,
            "time/tokens_seen": step * 512,
        }
        start = clock()
        run.log(row)
        samples.append(clock() - start)
    start = time.perf_counter()
    run.finish()
    return {
        "wandb_log_5_scalars": percentiles_us(samples),
        "settings": "offline, x_disable_stats, no code/requirements saving (as hf_tracking's)",
        "finish_s": round(time.perf_counter() - start, 3),
    }


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """wandb.log p50 over each hf_tracking p50 (how many times cheaper the tracker is)."""
    wandb_p50 = results["wandb_log"]["wandb_log_5_scalars"]["p50_us"]
    base = results["log_train_step"]["wandb_offline"]
    callback = results["on_log"]["wandb_offline"]
    against = {
        "wandb_log_over_log_train_step_non_emitting": base["non_emitting"]["p50_us"],
        "wandb_log_over_log_train_step_emitting": base["emitting"]["p50_us"],
        "wandb_log_over_on_log": callback["on_log"]["p50_us"],
    }
    return {name: round(wandb_p50 / p50, 1) if p50 else None for name, p50 in against.items()}


def log_step(tracker: Any, iteration: int) -> None:
    """One ``log_train_step`` as the benchmarks make it: a varying loss, 512 tokens."""
    tracker.log_train_step(
        loss=LOSS_VALUES[iteration % 7],
        learning_rate=3e-4,
        grad_norm=1.0,
        tokens=512,
        iteration=iteration,
    )
