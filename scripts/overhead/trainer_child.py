"""One whole Trainer run of section f, in a fresh interpreter (``--child SPEC``).

Timed from Trainer construction to train()'s return (``train_s``) and to the end of the exit
work (``to_exit_s``: W&B runs finished, before the interpreter's own teardown). The tracking
callback's events (``TrackingCallback``, ``WandbCallback`` or ``TrackioCallback``) and the token
pre-hook are timed on the training thread, inside real training. The timer costs something too
(two clock reads and a call, on the same cold caches): every configuration's Trainer also gets a
callback that does nothing, timed the same way, and the median of its calls is the timer's own
cost, taken off each timed call for the "net" figures (the raw ones are reported beside them). The
CPU time of this process, and of its main thread (the training thread), is read at exit; the
parent adds what its child processes spent.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import json
import os
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from overhead.common import gpt2, padded_samples, silenced, training_arguments, working_directory

MICRO_SEQ, MICRO_VOCAB = 16, 64
TRACKING_CALLBACKS = ("TrackingCallback", "WandbCallback", "TrackioCallback")
# Once per run, not per step: reported apart.
SETUP_EVENTS = ("on_init_end", "on_train_begin", "on_train_end")
# The events of the callback that does nothing (the timer's own cost) are named with this prefix.
NULL_PREFIX = "null:"

SHAPES: dict[str, dict[str, Any]] = {
    # The test suite's GPT-2 (0.1M parameters, a few ms a step): where a per-step cost shows most.
    "micro": {
        "model": {"n_embd": 32, "n_layer": 2, "n_head": 2, "vocab": MICRO_VOCAB, "positions": 16},
        "batch_size": 4,
        "gradient_accumulation_steps": 2,
        "train_samples": 64,
    },
    # Issue 15's shape: batch 8, sequence 64 (about 17 ms a step on 2 cores).
    "gpt2_64": {
        "model": {"n_embd": 64, "n_layer": 2, "n_head": 2, "vocab": 256, "positions": 64},
        "batch_size": 8,
        "gradient_accumulation_steps": 1,
        "train_samples": 256,
    },
}

CONFIGS: dict[str, dict[str, Any]] = {
    "none": {"report_to": "none"},
    "wandb": {"report_to": "wandb"},
    "trackio": {"report_to": "trackio"},
    # The default: W&B offline, written after training; the script never imports wandb.
    "hf_tracking": {"report_to": "hf_tracking"},
    # The script imports wandb (to use wandb.run): the training process attaches to the run.
    "hf_tracking_wandb_run": {"report_to": "hf_tracking", "import_wandb": True},
    # The same script with wandb_attach: never.
    "hf_tracking_no_attach": {
        "report_to": "hf_tracking",
        "import_wandb": True,
        "overrides": {"wandb_attach": "never"},
    },
    # The W&B process during training (what runs in online mode, without the network).
    "hf_tracking_live": {"report_to": "hf_tracking", "overrides": {"wandb_offline": "live"}},
    "hf_tracking_local": {"report_to": "hf_tracking", "env": {"HF_TRACKING_BACKENDS": "local"}},
    # The default with the per-block norms of every logging step (track_layers).
    "hf_tracking_layers": {"report_to": "hf_tracking", "overrides": {"track_layers": True}},
}


# The side by side the performance page's table shows (docs/performance.md).
DEFAULT_CONFIGS = (
    "none",
    "wandb",
    "hf_tracking",
    "hf_tracking_wandb_run",
    "hf_tracking_live",
    "hf_tracking_local",
)


def micro_model() -> Any:
    return gpt2(**SHAPES["micro"]["model"])


class EventClock:
    """Nanoseconds spent in each wrapped callable, on the thread that calls it: the total and
    every call (on a shared machine a call the scheduler preempts can weigh more in the total than
    a hundred typical ones, so the per-call medians are reported beside it)."""

    def __init__(self) -> None:
        self.ns: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)
        self.samples: dict[str, list[int]] = defaultdict(list)

    def wrap(self, name: str, function: Any) -> Any:
        clock = time.perf_counter_ns

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = clock() - start
                self.ns[name] += elapsed
                self.calls[name] += 1
                self.samples[name].append(elapsed)

        return timed

    def timer_ns(self) -> float:
        """The timer's own cost a call: the median call of the callback that does nothing."""
        null = [
            ns
            for name, samples in self.samples.items()
            if name.startswith(NULL_PREFIX)
            for ns in samples
        ]
        return statistics.median(null) if null else 0.0

    def per_step_us(self, steps: int) -> dict[str, dict[str, float]]:
        """Per event: µs a step from the total, from the median call (× calls a step), and
        from the median call less the timer's own cost."""
        timer = self.timer_ns()
        events = {}
        for name, samples in self.samples.items():
            if name in SETUP_EVENTS or name.startswith(NULL_PREFIX):
                continue
            median = statistics.median(samples)
            events[name] = {
                "total": round(self.ns[name] / 1e3 / steps, 2),
                "typical": round(median * len(samples) / 1e3 / steps, 2),
                "net": round(max(0.0, median - timer) * len(samples) / 1e3 / steps, 2),
            }
        return events

    def instrument(self, callback: Any, prefix: str = "") -> None:
        for name in dir(type(callback)):
            if name.startswith("on_"):
                setattr(callback, name, self.wrap(prefix + name, getattr(callback, name)))


def null_callback() -> Any:
    """A Trainer callback that does nothing: timed like the others, it gives the timer's cost."""
    from transformers import TrainerCallback

    return TrainerCallback()


def _prepare(config: dict[str, Any], clock: EventClock) -> None:
    os.environ.update(config.get("env", {}))
    if config.get("import_wandb"):
        import wandb  # noqa: F401 (a user's script that uses wandb.run)
    import hf_tracking  # noqa: F401 (registers report_to="hf_tracking")
    from hf_tracking.tokens import TokenCounter
    from hf_tracking.trainer.health import LossWatch

    # The model's hooks run on the training thread too: the token count's and the health
    # detectors' (each training forward's loss kept).
    TokenCounter._hook = clock.wrap("token_hook", TokenCounter._hook)
    LossWatch._hook = clock.wrap("loss_hook", LossWatch._hook)
    if config.get("overrides"):  # config fields, as a config file would set them
        import hf_tracking.trainer.callback as callback_module

        resolve = callback_module.resolve_config
        callback_module.resolve_config = lambda *args: dataclasses.replace(
            resolve(*args), **config["overrides"]
        )


def trainer_run(spec: dict[str, Any], result: dict[str, Any]) -> None:
    from transformers import Trainer

    shape, config, sizes = SHAPES[spec["shape"]], CONFIGS[spec["config"]], spec["sizes"]
    clock = EventClock()
    workdir = Path(spec["workdir"])
    workdir.mkdir(parents=True)
    os.environ["WANDB_DIR"] = str(workdir)
    os.environ["TRACKIO_DIR"] = str(workdir / "trackio")
    _prepare(config, clock)
    model = gpt2(**shape["model"])
    data = {"seq_length": shape["model"]["positions"], "vocab": shape["model"]["vocab"]}
    train_data = padded_samples(shape["train_samples"], **data)
    eval_data = padded_samples(sizes["eval_samples"], seed=1, **data)
    args = training_arguments(
        str(workdir / "out"),
        report_to=config["report_to"],
        per_device_train_batch_size=shape["batch_size"],
        gradient_accumulation_steps=shape["gradient_accumulation_steps"],
        max_steps=sizes["max_steps"],
        eval_strategy="steps",
        eval_steps=sizes["eval_steps"],
        save_strategy="steps",
        save_steps=sizes["save_steps"],
        project="hf-tracking-bench",
    )
    with working_directory(workdir), silenced():
        result["started_epoch_s"] = time.time()
        start = time.perf_counter()
        null = null_callback()
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=train_data,
            eval_dataset=eval_data,
            callbacks=[null],
        )
        for callback in trainer.callback_handler.callbacks:
            if type(callback).__name__ in TRACKING_CALLBACKS:
                clock.instrument(callback)
        clock.instrument(null, NULL_PREFIX)
        trainer.train()
        result["train_s"] = time.perf_counter() - start
    result.update(
        global_step=trainer.state.global_step,
        records=len(trainer.state.log_history),
        clock=clock,
        workdir=str(workdir),
    )


def child_main(spec_json: str) -> int:
    """Registered first, the report runs last at exit: after hf_tracking's wait for its W&B
    process and after wandb's and trackio's own exit hooks."""
    spec = json.loads(spec_json)
    import torch

    if spec["threads"] > 0:
        torch.set_num_threads(spec["threads"])
    result: dict[str, Any] = {"torch_threads_used": torch.get_num_threads()}

    def report() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        main = resource.getrusage(resource.RUSAGE_THREAD)  # atexit runs on the main thread
        clock: EventClock = result.pop("clock")
        events = clock.per_step_us(max(1, result["global_step"]))
        wandb_files = list(Path(result.pop("workdir")).rglob("run-*.wandb"))
        output = {
            **result,
            "to_exit_s": time.time() - result.pop("started_epoch_s"),
            "cpu_self_s": usage.ru_utime + usage.ru_stime,
            "cpu_main_thread_s": main.ru_utime + main.ru_stime,
            "thread_us_per_step": sum(event["total"] for event in events.values()),
            "thread_us_per_step_typical": sum(event["typical"] for event in events.values()),
            "thread_us_per_step_net": sum(event["net"] for event in events.values()),
            "timer_us_a_call": round(clock.timer_ns() / 1e3, 2),
            "event_us_per_step": events,
            "setup_ms": {n: clock.ns[n] / 1e6 for n in SETUP_EVENTS if n in clock.ns},
            "event_calls": dict(clock.calls),
            "event_us": {name: round(ns / 1e3, 1) for name, ns in clock.ns.items()},
            "wandb_file_kb": sum(path.stat().st_size for path in wandb_files) / 1e3,
        }
        sys.__stdout__.write(json.dumps(output) + "\n")
        sys.__stdout__.flush()

    atexit.register(report)
    trainer_run(spec, result)
    return 0
