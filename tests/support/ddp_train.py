"""A tiny Trainer run for `accelerate launch --multi_gpu --num_processes 2` on the CPU (gloo)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from transformers import Trainer

import hf_tracking  # noqa: F401  (registers report_to="hf_tracking")
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments


def main(output_dir: str) -> None:
    args = training_arguments(
        output_dir, ddp_backend="gloo", max_steps=6, save_steps=6, eval_steps=3
    )
    trainer = Trainer(
        model=tiny_model(),
        args=args,
        train_dataset=PaddedDataset(32),
        eval_dataset=PaddedDataset(8, seed=1),
    )
    trainer.train()
    # A file per rank: lines the ranks print share one pipe and can interleave.
    report = Path(output_dir) / f"rank_{args.process_index}.json"
    report.write_text(json.dumps({"rank": args.process_index, "world_size": args.world_size}))
    for callback in trainer.callback_handler.callbacks:
        if hasattr(callback, "wait_for_backends"):
            callback.wait_for_backends()


if __name__ == "__main__":
    main(sys.argv[1])
    # torch 2.13's gloo process group, destroyed at interpreter exit, aborts the process now and
    # then ("terminate called without an active exception") or deadlocks, with report_to="none"
    # too; the run is complete here, so leave without that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
