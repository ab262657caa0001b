"""A hand-written DDP loop for `accelerate launch --multi_gpu --num_processes 2` on the CPU (gloo):
every rank calls ``log_train_step`` with its own real tokens (each rank's shard has other
padding), rank zero alone validates and saves. Each rank reports its tokens per step to a file.
With ``--rank-zero-only`` only rank zero calls the tracker (a loop that must not hang)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

import hf_tracking
from tests.support.tiny import PaddedDataset, tiny_model

STEPS, ACCUMULATION, BATCH = 5, 2, 4


def main(output_dir: str, rank_zero_only: bool) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    model = torch.nn.parallel.DistributedDataParallel(tiny_model())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = PaddedDataset(STEPS * ACCUMULATION * BATCH * 2).samples[rank::2]  # a shard per rank
    config = hf_tracking.ExperimentConfig(
        model_size="28K", vocab_size=64, d_model=32, num_layers=2, num_heads=2, seq_length=16,
        batch_size=BATCH, gradient_accumulation_steps=ACCUMULATION, num_iterations=STEPS,
        log_every_steps=2, experiment_name="ddp_loop", track_memory=False,
    )  # fmt: skip
    tracker = hf_tracking.ExperimentTracker(config, model.module)
    tokens_per_step = []
    for iteration in range(STEPS):
        step_tokens = 0
        for micro_step in range(ACCUMULATION):
            start = (iteration * ACCUMULATION + micro_step) * BATCH
            batch = {
                key: torch.stack([sample[key] for sample in data[start : start + BATCH]])
                for key in ("input_ids", "attention_mask", "labels")
            }
            loss = model(**batch).loss
            (loss / ACCUMULATION).backward()
            tokens = batch["attention_mask"].sum()
            step_tokens += int(tokens)
            if rank == 0 or not rank_zero_only:
                tracker.log_train_step(
                    loss.detach(), 1e-3, tokens=tokens, iteration=iteration,
                    accumulation_step=micro_step,
                )  # fmt: skip
        optimizer.step()
        optimizer.zero_grad()
        tokens_per_step.append(step_tokens)
        steps = iteration + 1
        if steps == 3 and (rank == 0 or not rank_zero_only):
            tracker.sync_tokens()  # every rank: the row between logging steps is exact too
        if rank == 0 and steps in (2, 3, 4):
            tracker.log_validation(loss.item() + 0.1)
        if rank == 0 and steps == 4:
            tracker.log_custom_metric("probe", 1.0)
    tracker.finish()
    report = Path(output_dir) / f"rank_{rank}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"rank": rank, "tokens_per_step": tokens_per_step}))


if __name__ == "__main__":
    main(sys.argv[1], rank_zero_only="--rank-zero-only" in sys.argv)
    # torch's gloo teardown at interpreter exit aborts or deadlocks now and then: leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
