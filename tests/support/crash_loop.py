"""A training loop that ends badly, for the interrupt and crash tests.

usage: crash_loop.py OUTPUT_DIR MODE [--no-tracker | SIGNAL]
MODE: exception (a bug in user code after 20 steps), wait (log forever, printing "ready" after 20
steps, until a signal arrives), trainer-exception (a Trainer run whose callback raises at step 5),
trainer-signal (a Trainer run that gets SIGNAL, e.g. SIGHUP, at step 5, as from outside).
"""

from __future__ import annotations

import sys
import time


def hand_loop(output_dir: str, mode: str, use_tracker: bool) -> None:
    import hf_tracking

    tracker = None
    if use_tracker:
        config = hf_tracking.ExperimentConfig(
            experiment_name="crash",
            output_dir=output_dir,
            log_every_steps=1,
            wandb_mode="offline",
            vocab_size=64,
            d_model=32,
            num_layers=2,
            num_heads=2,
            seq_length=16,
            num_iterations=1_000_000,
        )
        tracker = hf_tracking.ExperimentTracker(config)
    step = 0
    while True:
        if tracker is not None:
            tracker.log_train_step(
                loss=2.0 / (1 + step), learning_rate=1e-3, grad_norm=1.0, tokens=128
            )
            if step % 10 == 9:
                tracker.log_checkpoint(f"{output_dir}/checkpoint-{step + 1}")
        step += 1
        if step == 20:
            if mode == "exception":
                raise ValueError("boom in user code")
            print("ready", flush=True)
        time.sleep(0.002)


def trainer_run(output_dir: str, use_tracker: bool, signal_name: str | None = None) -> None:
    import os
    import signal

    from transformers import Trainer, TrainerCallback

    import hf_tracking  # noqa: F401
    from tests.support.tiny import PaddedDataset, tiny_model, training_arguments

    class Failing(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 5 and signal_name:
                os.kill(os.getpid(), getattr(signal, signal_name))
            elif state.global_step == 5:
                raise RuntimeError("bug in a user callback")

    args = training_arguments(
        f"{output_dir}/out",
        report_to="hf_tracking" if use_tracker else "none",
        logging_steps=1,
        eval_strategy="no",
    )
    Trainer(
        model=tiny_model(), args=args, train_dataset=PaddedDataset(32), callbacks=[Failing()]
    ).train()


if __name__ == "__main__":
    output, mode = sys.argv[1], sys.argv[2]
    with_tracker = "--no-tracker" not in sys.argv
    if mode == "trainer-exception":
        trainer_run(output, with_tracker)
    elif mode == "trainer-signal":
        trainer_run(output, True, sys.argv[3])
    else:
        hand_loop(output, mode, with_tracker)
