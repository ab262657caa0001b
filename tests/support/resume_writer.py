"""A process that resumes a run from a saved tracker state, for the one-writer-per-run tests.

usage: resume_writer.py OUTPUT_DIR STATE_JSON ROWS LOSS [--hold]
Logs one row and flushes (its local store has started), prints "ready", and with --hold waits for a
line on stdin; then logs the other rows and finishes, printing its local store's report as JSON.
"""

from __future__ import annotations

import json
import sys

from hf_tracking import ExperimentTracker
from hf_tracking.backends import LocalRunStore

SMALL = {"vocab_size": 64, "d_model": 32, "num_layers": 2, "num_heads": 2, "seq_length": 16}


def main(output_dir: str, state_path: str, rows: int, loss: float, hold: bool) -> None:
    config = {
        **SMALL,
        "experiment_name": "shared",
        "output_dir": output_dir,
        "log_every_steps": 1,
        "wandb_mode": "disabled",
        "track_memory": False,
    }
    tracker = ExperimentTracker(config, backends=[LocalRunStore()])
    with open(state_path) as stream:
        tracker.load_state_dict(json.load(stream))
    tracker.log_train_step(loss=loss, tokens=1)
    tracker.flush()
    print("ready", flush=True)
    if hold:
        sys.stdin.readline()
    for _ in range(rows - 1):
        tracker.log_train_step(loss=loss, tokens=1)
    tracker.finish()
    # This process's own report: the summary file is shared by the writers of one run.
    (local,) = tracker.backend_reports
    print(json.dumps(local), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), "--hold" in sys.argv)
