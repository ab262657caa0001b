"""Tokens of a hand-written loop on several ranks, summed over the ranks on logging steps.

With ``torch.distributed`` running more than one process and ``sum_tokens_over_ranks`` on (the
default), every rank calls ``log_train_step``; each rank adds its own tokens here (ints on the
host, tensors on their device: no read), and on a logging step every rank takes part in one
all_reduce of what it added since the last one, on the device the process group's backend uses.
Only those steps synchronise; rows between them carry the total of the latest logging step.
"""

from __future__ import annotations

import sys
from typing import Any


def process_count() -> int:
    """The number of processes of the initialised default process group (1 without one)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return 1
    return int(dist.get_world_size())


class RankTokens:
    def __init__(self) -> None:
        self._host = 0
        self._device: Any = None

    def add(self, tokens: Any) -> None:
        """Tokens of one micro-batch on this rank: a checked int, or a 0-dim integer tensor."""
        if tokens.__class__ is int:
            self._host += tokens
        elif self._device is None:
            self._device = tokens.long().clone()
        else:
            self._device.add_(tokens)

    def take_sum(self) -> int:
        """The tokens every rank added since the last call, summed: one all_reduce and one read.
        A collective: every rank calls it at the same logging step."""
        import torch
        import torch.distributed as dist

        if dist.get_backend() == "gloo":
            device = torch.device("cpu")
        elif self._device is not None:
            device = self._device.device
        else:
            device = torch.device("cuda", torch.cuda.current_device())
        total = torch.tensor(self._host, dtype=torch.int64, device=device)
        if self._device is not None:
            total += self._device.to(device)
        self._host, self._device = 0, None
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        tokens = int(total.item())
        if tokens < 0:
            raise ValueError(f"hf_tracking: tokens must be >= 0, got a total of {tokens}")
        return tokens
