"""A tiny Trainer run for torchrun agents on the CPU (gloo): each rank reports, to a file in a
directory of the test's, its ranks as the launcher set them and its real tokens per step; the rank
given by ``--slow-rank`` sleeps inside every training forward (a straggler)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
from transformers import Trainer

import hf_tracking  # noqa: F401  (registers report_to="hf_tracking")
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments

SLEEP_SECONDS = 0.3


def main(report_dir: str, slow_rank: int) -> None:
    args = training_arguments(
        str(Path(report_dir) / "trainer"), ddp_backend="gloo", max_steps=4, logging_steps=1,
        per_device_train_batch_size=2, gradient_accumulation_steps=1, eval_strategy="no",
        save_strategy="no",
    )  # fmt: skip
    model = tiny_model()
    tokens_per_step: list[int] = []

    def forward_begins(module, positional, keywords):
        if torch.is_grad_enabled():
            tokens_per_step.append(int(keywords["attention_mask"].sum()))
            if args.process_index == slow_rank:
                time.sleep(SLEEP_SECONDS)

    model.register_forward_pre_hook(forward_begins, with_kwargs=True)
    trainer = Trainer(model=model, args=args, train_dataset=PaddedDataset(32))
    trainer.train()
    names = ("RANK", "LOCAL_RANK", "GROUP_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")
    report = {name.lower(): int(os.environ[name]) for name in names}
    report.update(cwd=os.getcwd(), tokens_per_step=tokens_per_step, world=args.world_size)
    (Path(report_dir) / f"rank_{args.process_index}.json").write_text(json.dumps(report))
    for callback in trainer.callback_handler.callbacks:
        if hasattr(callback, "wait_for_backends"):
            callback.wait_for_backends()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
    # As in ddp_train.py: leave without the gloo process group's teardown at interpreter exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
