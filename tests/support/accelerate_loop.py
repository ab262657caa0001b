"""A small hand-written loop for `accelerate launch --multi_gpu --num_processes 2` on the CPU,
logging through ``Accelerator(log_with="hf_tracking")``: 6 steps, a training log every 2 steps
with the tokens of all processes since the previous log, a validation at steps 3 and 6."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from accelerate import Accelerator

import hf_tracking  # noqa: F401  (registers log_with="hf_tracking")

STEPS = 6
BATCH = 4
TOKENS_PER_SAMPLE = 5


def main(output_dir: str) -> None:
    accelerator = Accelerator(log_with="hf_tracking", cpu=True)  # gloo on the CPU
    accelerator.init_trackers(
        "accelerate-loop",
        config={"learning_rate": 0.1, "num_iterations": STEPS, "batch_size": BATCH, "seed": 0},
        init_kwargs={"hf_tracking": {"config": {"track_memory": False}}},
    )
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    data = torch.utils.data.TensorDataset(torch.randn(64, 8), torch.randn(64, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=BATCH)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    tokens = 0
    batches = iter(loader)
    for step in range(1, STEPS + 1):
        inputs, targets = next(batches)
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        # Real tokens of every process: gathered where the loop logs anyway.
        tokens += int(accelerator.gather(torch.tensor(len(inputs) * TOKENS_PER_SAMPLE)).sum())
        if step % 2 == 0:
            mean_loss = accelerator.gather(loss.detach()).mean().item()
            accelerator.log({"loss": mean_loss, "lr": 0.1, "tokens": tokens}, step=step)
            tokens = 0
        if step % 3 == 0:
            accelerator.log({"eval_loss": 1.0 / step, "eval_runtime": 0.01}, step=step)
    accelerator.end_training()
    report = Path(output_dir) / f"rank_{accelerator.process_index}.json"
    report.write_text(
        json.dumps(
            {
                "rank": accelerator.process_index,
                "world_size": accelerator.num_processes,
                "trackers": [tracker.name for tracker in accelerator.trackers],
            }
        )
    )
    if accelerator.is_main_process:
        accelerator.get_tracker("hf_tracking", unwrap=True).wait_for_backends()


if __name__ == "__main__":
    Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)
    main(sys.argv[1])
    # As in ddp_train.py: leave without torch's gloo teardown at interpreter exit, which aborts
    # or deadlocks now and then.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
