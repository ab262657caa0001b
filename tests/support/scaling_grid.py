"""A grid of tiny GPT-2 runs (sizes × compute budgets) really trained on the CPU by the
hand-written loop, for the scaling fits: the data is a fixed random Markov chain over a small
vocabulary, so a bigger model or more tokens lowers the loss."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

from hf_tracking import ExperimentConfig, ExperimentTracker
from hf_tracking.backends.local import LocalRunStore
from hf_tracking.metrics.flops import flops_per_token

VOCAB = 64
SEQ = 32
BATCH = 8
RATE = 1e-2
WIDTHS = (8, 16, 32)
BUDGETS = (1e8, 2e8, 4e8)


@functools.cache
def markov_stream(seed: int, length: int) -> Any:
    """``length`` tokens of a sparse random first-order Markov chain (the same chain for every
    seed; the seed picks the sample)."""
    import torch

    generator = torch.Generator().manual_seed(1234)
    transition = torch.softmax(3.0 * torch.randn(VOCAB, VOCAB, generator=generator), dim=-1)
    sampler = torch.Generator().manual_seed(seed)
    chains = 64
    steps = -(-length // chains)
    tokens = torch.empty(chains, steps, dtype=torch.long)
    tokens[:, 0] = torch.randint(0, VOCAB, (chains,), generator=sampler)
    for position in range(1, steps):
        rows = transition[tokens[:, position - 1]]
        tokens[:, position] = torch.multinomial(rows, 1, generator=sampler).squeeze(1)
    return tokens.reshape(-1)[:length]


def batches(count: int, seed: int) -> Any:
    stream = markov_stream(seed, count * BATCH * SEQ)
    return stream.reshape(count, BATCH, SEQ)


def steps_for(width: int, compute: float) -> int:
    """Steps that spend about ``compute`` FLOPs on a model of ``width``, counted as the tracker
    counts them (its FLOPs per token times the tokens)."""
    config = ExperimentConfig.from_dict(_config(width, 1))
    per_token = flops_per_token(
        config.estimate_parameters()["non_embedding"], 2, width, SEQ, VOCAB
    )["total"]
    return max(3, round(compute / (per_token * BATCH * SEQ)))


def tiny_gpt2(width: int) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(
        GPT2Config(
            vocab_size=VOCAB, n_positions=SEQ, n_embd=width, n_layer=2, n_head=2,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0,
        )
    )  # fmt: skip


def train_grid(output_dir: Path, widths=WIDTHS, budgets=BUDGETS) -> list[Path]:
    """One run per width and budget; their run directories. On one thread: models this small
    spend more CPU time in a second thread's hand-offs than in their arithmetic."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return [train_run(output_dir, w, steps_for(w, c)) for c in budgets for w in widths]
    finally:
        torch.set_num_threads(threads)


def train_run(output_dir: Path, width: int, steps: int, seed: int = 0) -> Path:
    """One run of a 2-layer GPT-2 of width ``width`` for ``steps`` steps; its run directory."""
    import torch

    torch.manual_seed(seed)
    model = tiny_gpt2(width)
    config = _config(width, steps, str(output_dir))
    tracker = ExperimentTracker(
        config, model=model, backends=[LocalRunStore()], extra_config={"seed": seed}
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=RATE, weight_decay=0.0)
    for step, batch in enumerate(batches(steps, seed)):
        rate = RATE * 0.5 * (1 + math.cos(math.pi * step / steps))
        for group in optimizer.param_groups:
            group["lr"] = rate
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        tracker.log_train_step(loss.item(), rate, tokens=batch.numel(), iteration=step)
    model.eval()
    with torch.no_grad():
        held_out = batches(4, seed=10_000)
        val = sum(model(input_ids=b, labels=b).loss.item() for b in held_out) / len(held_out)
    tracker.log_validation(val)
    tracker.finish()
    return output_dir / config["experiment_name"]


def _config(width: int, steps: int, output_dir: str = "experiments") -> dict[str, Any]:
    return {
        "experiment_name": f"w{width}_s{steps}",
        "output_dir": output_dir,
        "wandb_mode": "disabled",
        "vocab_size": VOCAB,
        "d_model": width,
        "num_layers": 2,
        "num_heads": 2,
        "seq_length": SEQ,
        "batch_size": BATCH,
        "num_iterations": steps,
        "learning_rate": RATE,
        "log_every_steps": max(1, steps // 8),
    }
