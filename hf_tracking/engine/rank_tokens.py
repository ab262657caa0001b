"""Tokens of a hand-written loop on several ranks, summed over the ranks on logging steps.

With ``torch.distributed`` running more than one process and ``sum_tokens_over_ranks`` on (the
default), each rank that calls ``log_train_step`` adds its own tokens here (ints on the host,
tensors on their device: no read) and says so in the process group's key-value store. At the
first logging step rank zero waits (at most ``AGREEMENT_SECONDS``) until every rank has said so:
then every logging step runs one all_reduce of what each rank added since the last one, on the
device the process group's backend uses. When a rank never calls (a loop that logs on rank zero
only), rank zero says so once and counts its own tokens, and no rank runs a collective: such a
loop never hangs on the tracker. Only logging steps synchronise; rows between them carry the total
of the latest logging step.
"""

from __future__ import annotations

import itertools
import logging
import sys
from datetime import timedelta
from typing import Any

logger = logging.getLogger("hf_tracking")
AGREEMENT_SECONDS = 10.0
# Every rank makes its trackers in the same order, so the n-th one has the same keys on each.
_sequence = itertools.count()


def process_count() -> int:
    """The number of processes of the initialised default process group (1 without one)."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return 1
    return int(dist.get_world_size())


def _store() -> Any:
    from torch.distributed import distributed_c10d

    return distributed_c10d._get_default_store()


class RankTokens:
    def __init__(self) -> None:
        import torch.distributed as dist

        self._host = 0
        self._device: Any = None
        self._rank, self._world = dist.get_rank(), dist.get_world_size()
        self._prefix = f"hf_tracking/{next(_sequence)}/"
        self._summing: bool | None = None
        _store().set(f"{self._prefix}logs/{self._rank}", "1")

    def add(self, tokens: Any) -> None:
        """Tokens of one micro-batch on this rank: a checked int, or a 0-dim integer tensor."""
        if tokens.__class__ is int:
            self._host += tokens
        elif self._device is None:
            self._device = tokens.long().clone()
        else:
            self._device.add_(tokens)

    def _every_rank_logs(self) -> bool:
        """Decided once, by rank zero, and told to the others through the store."""
        if self._summing is None:
            store, decision = _store(), f"{self._prefix}summing"
            wait = timedelta(seconds=AGREEMENT_SECONDS)
            if self._rank == 0:
                keys = [f"{self._prefix}logs/{rank}" for rank in range(self._world)]
                try:
                    store.wait(keys, wait)
                    self._summing = True
                except RuntimeError:
                    self._summing = False
                    logger.warning(
                        "hf_tracking: only some of the %d ranks call log_train_step, so tokens are "
                        "rank zero's own; call it on every rank to count all of them (or set "
                        "sum_tokens_over_ranks: false to say tokens= is already the total)",
                        self._world,
                    )
                store.set(decision, "1" if self._summing else "0")
            else:
                try:
                    store.wait([decision], 2 * wait)
                    self._summing = store.get(decision) == b"1"
                except RuntimeError:
                    self._summing = False
        return self._summing

    def take_sum(self) -> int:
        """The tokens every rank added since the last call, summed: one all_reduce and one read.
        A collective: every rank calls it at the same logging step (this rank's own tokens when
        not every rank logs)."""
        import torch
        import torch.distributed as dist

        summing = self._every_rank_logs()
        if not summing or dist.get_backend() == "gloo":
            device = torch.device("cpu")
        elif self._device is not None:
            device = self._device.device
        else:
            device = torch.device("cuda", torch.cuda.current_device())
        total = torch.tensor(self._host, dtype=torch.int64, device=device)
        if self._device is not None:
            total += self._device.to(device)
        self._host, self._device = 0, None
        if summing:
            dist.all_reduce(total, op=dist.ReduceOp.SUM)
        tokens = int(total.item())
        if tokens < 0:
            raise ValueError(f"hf_tracking: tokens must be >= 0, got a total of {tokens}")
        return tokens
