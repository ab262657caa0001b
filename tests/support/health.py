"""Faults for the training-health tests: learnable data, a NaN loss, a learning-rate burst, a
slow data loader."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from typing import Any

from transformers import TrainerCallback

from tests.support.tiny import SEQ, VOCAB


class CountingDataset:
    """Runs of consecutive token ids (a pattern a tiny model learns in a few dozen steps)."""

    def __init__(self, size: int = 64, sleep_seconds: float = 0.0) -> None:
        import torch

        self.samples = []
        for index in range(size):
            ids = torch.tensor([(index + i) % (VOCAB - 1) + 1 for i in range(SEQ)])
            self.samples.append({"input_ids": ids, "labels": ids.clone()})
        self.sleep_seconds = sleep_seconds
        self.slept = 0.0  # seconds __getitem__ slept, as the loader saw them

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self.sleep_seconds:
            started = time.perf_counter()
            time.sleep(self.sleep_seconds)
            self.slept += time.perf_counter() - started
        return self.samples[index]


class NanLossAt:
    """A forward hook making the loss of the given training forwards (1-based) NaN with finite
    gradients: the value a diverging step reports, without wrecking the weights."""

    def __init__(self, model: Any, *forwards: int) -> None:
        self.forwards = set(forwards)
        self.count = 0
        model.register_forward_hook(self._hook)

    def _hook(self, module: Any, args: Any, output: Any) -> None:
        if not module.training:
            return
        self.count += 1
        if self.count in self.forwards:
            loss = output["loss"]
            output["loss"] = loss.detach() * math.nan + (loss - loss.detach())


class LearningRateBurst(TrainerCallback):
    """Multiplies the learning rate by ``factor`` for the steps ``first``..``last`` (the
    scheduler sets it back at the next step)."""

    def __init__(self, first: int, last: int, factor: float = 1000.0) -> None:
        self.first, self.last, self.factor = first, last, factor

    def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
        if self.first <= state.global_step + 1 <= self.last:
            for group in optimizer.param_groups:
                group["lr"] *= self.factor


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Tiny models on one intra-op thread: on a shared 2-core machine a second thread only waits
    for the first (steps ran 50× slower under load)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
