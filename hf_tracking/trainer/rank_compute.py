"""Each rank's own compute time (forward and backward), gathered on logging steps: stragglers.

In a synchronous job the fast ranks wait for the slow one (DDP's gradient all-reduce is waited for
at the end of backward), so wall-clock step times are alike on every rank. What differs is each
rank's own work: a micro-batch's time from its forward pre-hook to the last parameter gradient it
accumulates (the all-reduces run beside backward; the wait for them comes after the last
gradient). Those times are summed over the micro-batches since the last logging step and gathered
once per logging step (one all_gather of one number per rank, on logging steps only): the slowest
rank's over the fastest rank's is ``throughput/step_time_max_rank_ratio``. Forwards under
``no_grad`` (evaluation) are not counted.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from hf_tracking.catalog import STEP_TIME_MAX_RANK_RATIO

TIMING = "forward and backward per rank (forward pre-hook to the last gradient accumulated)"


class RankCompute:
    """The compute timer of one rank, and (on rank zero) the run's straggler figures."""

    def __init__(self, model: Any) -> None:
        import torch

        self._torch = torch
        # First of the pre-hooks: other hooks' work is part of the forward.
        self._handles = [model.register_forward_pre_hook(self._forward_begins, prepend=True)]
        for parameter in model.parameters():
            if parameter.requires_grad:
                self._handles.append(
                    parameter.register_post_accumulate_grad_hook(self._gradient_ready)
                )
        self._started: float | None = None
        self._last_gradient: float | None = None
        self._seconds = 0.0
        self._totals: list[float] | None = None
        self._worst: tuple[float, int] | None = None

    def _forward_begins(self, module: Any, args: Any) -> None:
        if not self._torch.is_grad_enabled():
            return
        self._close_micro_batch()
        self._started = time.perf_counter()

    def _gradient_ready(self, parameter: Any) -> None:
        self._last_gradient = time.perf_counter()

    def _close_micro_batch(self) -> None:
        started, ended = self._started, self._last_gradient
        if started is not None and ended is not None and ended > started:
            self._seconds += ended - started
            self._started = None

    def gather(self, step: int) -> dict[str, float]:
        """Every rank's compute time since the last logging step (a collective: every rank calls
        it at the same logging step); the row's ratio, and the run's figures kept for the
        summary."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return {}
        self._close_micro_batch()
        seconds, self._seconds = self._seconds, 0.0
        device = "cuda" if dist.get_backend() == "nccl" else "cpu"
        mine = self._torch.tensor([seconds], dtype=self._torch.float64, device=device)
        gathered = [self._torch.empty_like(mine) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, mine)
        per_rank = [float(value.item()) for value in gathered]
        if self._totals is None:
            self._totals = [0.0] * len(per_rank)
        self._totals = [total + value for total, value in zip(self._totals, per_rank, strict=True)]
        if min(per_rank) <= 0.0:
            return {}
        ratio = max(per_rank) / min(per_rank)
        if self._worst is None or ratio > self._worst[0]:
            self._worst = (ratio, step)
        return {STEP_TIME_MAX_RANK_RATIO: ratio}

    def summary(self) -> dict[str, Any] | None:
        """The slowest and fastest rank over the run's logging windows, and the worst window."""
        totals = self._totals
        if not totals or min(totals) <= 0.0:
            return None
        slowest = max(range(len(totals)), key=totals.__getitem__)
        fastest = min(range(len(totals)), key=totals.__getitem__)
        return {
            "slowest_rank": slowest,
            "fastest_rank": fastest,
            "slowest_compute_seconds": totals[slowest],
            "fastest_compute_seconds": totals[fastest],
            "max_rank_ratio": totals[slowest] / totals[fastest],
            "worst_window_ratio": self._worst[0] if self._worst else None,
            "worst_window_step": self._worst[1] if self._worst else None,
            "timing": TIMING,
        }

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def _merged(extra: Callable[[], dict[str, Any]], figures: dict[str, float]) -> dict[str, Any]:
    return {**extra(), **figures}


def with_figures(
    extra: Callable[[], dict[str, Any]], figures: dict[str, float]
) -> Callable[[], dict[str, Any]]:
    """The row's extra keys (made on the writer thread) with the gathered ``figures``."""
    return functools.partial(_merged, extra, figures) if figures else extra
