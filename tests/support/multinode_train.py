"""A tiny Trainer run, then a hand-written DDP loop, for torchrun agents on the CPU (gloo): each
rank reports, to a file in a directory of the test's, its ranks as the launcher set them and its
real tokens per step in each; the rank given as the second argument sleeps inside every training
forward of the Trainer run (a straggler). With a third argument ``loop``, the hand-written loop
alone, in a gloo process group of its own (``accelerate launch`` on several machines)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
from transformers import Trainer

import hf_tracking  # (also registers report_to="hf_tracking")
from tests.support.tiny import PaddedDataset, tiny_model, training_arguments

SLEEP_SECONDS = 0.3
LOOP_STEPS, LOOP_BATCH = 3, 2


def hand_written_loop(rank: int, world: int) -> list[int]:
    """Every rank logs its own shard's tokens each step; the tracker sums them over the ranks."""
    model = torch.nn.parallel.DistributedDataParallel(tiny_model())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = PaddedDataset(LOOP_STEPS * LOOP_BATCH * world, seed=2).samples[rank::world]
    config = hf_tracking.ExperimentConfig(
        model_size="28K", vocab_size=64, d_model=32, num_layers=2, num_heads=2, seq_length=16,
        batch_size=LOOP_BATCH, num_iterations=LOOP_STEPS, log_every_steps=1,
        experiment_name="multinode_loop", track_memory=False,
    )  # fmt: skip
    tracker = hf_tracking.ExperimentTracker(config, model.module)
    tokens_per_step = []
    for iteration in range(LOOP_STEPS):
        samples = data[iteration * LOOP_BATCH : (iteration + 1) * LOOP_BATCH]
        batch = {key: torch.stack([sample[key] for sample in samples]) for key in samples[0]}
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tokens = int(batch["attention_mask"].sum())
        tokens_per_step.append(tokens)
        tracker.log_train_step(loss.detach(), 1e-3, tokens=tokens, iteration=iteration)
    tracker.finish()
    return tokens_per_step


RANK_VARIABLES = ("RANK", "LOCAL_RANK", "GROUP_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE")


def loop_only(report_dir: str) -> None:
    torch.distributed.init_process_group("gloo")
    rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    report = {name.lower(): int(os.environ[name]) for name in RANK_VARIABLES}
    report.update(cwd=os.getcwd(), world=world, loop_tokens_per_step=hand_written_loop(rank, world))
    (Path(report_dir) / f"rank_{rank}.json").write_text(json.dumps(report))


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
    report = {name.lower(): int(os.environ[name]) for name in RANK_VARIABLES}
    for callback in trainer.callback_handler.callbacks:
        if hasattr(callback, "wait_for_backends"):
            callback.wait_for_backends()
    loop_tokens = hand_written_loop(args.process_index, args.world_size)
    report.update(
        cwd=os.getcwd(), tokens_per_step=tokens_per_step, world=args.world_size,
        loop_tokens_per_step=loop_tokens,
    )  # fmt: skip
    (Path(report_dir) / f"rank_{args.process_index}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    if sys.argv[3:] == ["loop"]:
        loop_only(sys.argv[1])
    else:
        main(sys.argv[1], int(sys.argv[2]))
    # As in ddp_train.py: leave without the gloo process group's teardown at interpreter exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
