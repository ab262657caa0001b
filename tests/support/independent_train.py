"""A half-configured launch: a 2-process torch.distributed group that the Trainer does not use
(its world size is 1), as `accelerate launch --multi_gpu` without GPUs or --use_cpu leaves it.
Usage: independent_train.py RANK PORT OUTPUT_DIR."""

from __future__ import annotations

import os
import sys

import torch.distributed as dist
from transformers import Trainer

import hf_tracking  # noqa: F401  (registers report_to="hf_tracking")
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments


def main(rank: int, port: str, output_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    args = training_arguments(
        f"{output_dir}/rank_{rank}", max_steps=4, eval_strategy="no", save_strategy="no"
    )
    Trainer(model=tiny_model(), args=args, train_dataset=PaddedDataset(32)).train()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # without gloo's teardown at exit (see ddp_train.py)
