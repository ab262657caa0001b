"""Runs of several sizes × compute budgets written by the real tracker in a few steps each, with
final losses from a known law L(N, D) = E + A/N^α + B/D^β (N, D and the FLOPs per token are the
tracker's own): a scaling fit over them recovers the law, and each budget's minimum is inside
its sizes. No model is trained: the dashboard's scaling view is what is under test."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import hf_tracking
from hf_tracking.backends.local import LocalRunStore
from hf_tracking.metrics.flops import flops_per_token

LAW = {"E": 1.5, "A": 400.0, "B": 400.0, "alpha": 0.4, "beta": 0.4}
WIDTHS = (16, 24, 32, 48, 64)
BUDGETS = (3e9, 1e10, 3e10)
STEPS = 4
SEQ, VOCAB = 32, 256


def law_loss(n: float, d: float) -> float:
    return LAW["E"] + LAW["A"] / n ** LAW["alpha"] + LAW["B"] / d ** LAW["beta"]


def config(output_dir: Path, name: str, width: int) -> hf_tracking.ExperimentConfig:
    return hf_tracking.ExperimentConfig(
        experiment_name=name,
        output_dir=str(output_dir),
        wandb_mode="disabled",
        vocab_size=VOCAB,
        d_model=width,
        num_layers=2,
        num_heads=2,
        seq_length=SEQ,
        batch_size=8,
        num_iterations=STEPS,
        log_every_steps=1,
        track_memory=False,
    )


def write_run(
    output_dir: Path,
    name: str,
    width: int,
    budget: float,
    extra: dict[str, Any] | None = None,
    nan_at: int | None = None,
) -> Path:
    """A finished run of ``width`` that spent about ``budget`` FLOPs; its final validation loss
    is the law's at its N and D. ``nan_at``: a non-finite train loss at that step (an alert),
    after a checkpoint saved at the step before."""
    settings = config(output_dir, name, width)
    parameters = settings.estimate_parameters()
    per_token = flops_per_token(parameters["non_embedding"], 2, width, SEQ, VOCAB)["total"]
    tokens = round(budget / per_token / STEPS)
    loss = law_loss(parameters["total"], tokens * STEPS)
    tracker = hf_tracking.ExperimentTracker(
        settings, backends=[LocalRunStore()], extra_config=extra or {}
    )
    for step in range(STEPS):
        value = math.nan if step == nan_at else loss + 0.2 * (STEPS - step)
        tracker.log_train_step(
            loss=value, learning_rate=1e-3, grad_norm=1.0, tokens=tokens, iteration=step
        )
        if nan_at is not None and step == nan_at - 1:
            tracker.log_checkpoint(str(output_dir / f"{name}-checkpoint-{step}"))
    tracker.log_validation(val_loss=loss)
    tracker.finish(wait=True)
    return output_dir / name
