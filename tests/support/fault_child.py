"""Child processes for the fault-injection harness (tests/test_faults.py).

usage: fault_child.py MODE OUTPUT_DIR RECORDS
MODE:
  finish   log RECORDS records, print "finishing", call finish(), print "done"
  stall    a local store whose writes block after the first; log RECORDS records (past the
           writer's high-water mark and spill), print "ready", then keep logging until a signal
  loop     log forever with a checkpoint every 10 steps, print "ready" after 20 steps
"""

from __future__ import annotations

import sys
import time

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore

SMALL = {"vocab_size": 64, "d_model": 32, "num_layers": 2, "num_heads": 2, "seq_length": 16}


def tracker_for(output_dir: str, backends: list) -> ExperimentTracker:
    config = {
        **SMALL,
        "experiment_name": "fault",
        "output_dir": output_dir,
        "log_every_steps": 1,
        "wandb_mode": "disabled",
        "track_memory": False,
        "num_iterations": 10**9,
        "writer_block_timeout": 0.2,
        "backend_finish_timeout": 1.0,
    }
    return ExperimentTracker(config, backends=backends)


def main(mode: str, output_dir: str, records: int) -> None:
    if mode == "stall":
        from tests.support.faults import BlockingLocalStore

        tracker = tracker_for(output_dir, [BlockingLocalStore(block_on=2)])
    else:
        tracker = tracker_for(output_dir, [LocalRunStore()])
    step = 0
    while mode == "loop" or step < records:
        tracker.log_train_step(loss=1.0 / (1 + step), learning_rate=1e-3, tokens=16)
        step += 1
        if mode == "loop":
            if step % 10 == 0:
                tracker.log_checkpoint(f"{output_dir}/checkpoint-{step}")
            if step == 20:
                print("ready", flush=True)
            time.sleep(0.0005)
    if mode == "finish":
        print("finishing", flush=True)
        tracker.finish()
        print("done", flush=True)
        return
    print("ready", flush=True)
    while True:  # stall: training goes on until a signal
        tracker.log_train_step(loss=1.0, tokens=16)
        time.sleep(0.001)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
