"""Logs records into a slow local store, then finishes: the signal tests interrupt the finish.

usage: finish_signal.py OUTPUT_DIR RECORDS [--wandb]
Prints "finishing" just before ``finish()``; the store sleeps on every batch, so the drain lasts
about a second per 3,000 records.
"""

from __future__ import annotations

import sys
import time

import hf_tracking
from hf_tracking.backends import LocalRunStore, WandbBackend

BATCH_SLEEP = 0.3


class SlowStore(LocalRunStore):
    """The local run store on a slow disk (a fault injected for the test)."""

    def log_batch(self, records):
        time.sleep(BATCH_SLEEP)
        super().log_batch(records)


def main() -> None:
    output_dir, count = sys.argv[1], int(sys.argv[2])
    backends = [SlowStore(), WandbBackend("offline")] if "--wandb" in sys.argv else [SlowStore()]
    config = hf_tracking.ExperimentConfig(
        experiment_name="signal",
        output_dir=output_dir,
        log_every_steps=1,
        track_memory=False,
        num_iterations=count,
    )
    tracker = hf_tracking.ExperimentTracker(config, backends=backends)
    for _ in range(count):
        tracker.log_train_step(loss=1.0, tokens=1)
    print("finishing", flush=True)
    tracker.finish(wait=True)
    print("finished", flush=True)


if __name__ == "__main__":
    main()
