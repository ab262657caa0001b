"""A run's loss as a curve over its cumulative compute, read at a given compute.

The x of a curve is the run's cumulative training FLOPs (``time/tokens_seen`` of each row times
FLOPs per token, in the chosen convention). ``"smoothed_train"`` smooths the training loss with the
time-weighted EMA of :mod:`hf_tracking.metrics.time_ema` over ln(compute), with an e-folding
length of ``smoothing`` (0.1: the weight of the past falls by e over the last ~10% of the compute),
so the smoothing follows the rows' spacing and is the same at every scale; the value at a compute
between two rows is interpolated linearly in ln(compute). The validation losses are not smoothed
(each is already a mean over the held-out set), and ``"best_val"`` is their running minimum.

For Approach 2, Porian et al. (arXiv:2406.19146) read each run's curve at each compute budget: a
run counts for every budget it reached, not only for the one its final compute falls in.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hf_tracking.analysis.options import DEFAULT_SMOOTHING, LOSSES, ScalingInputError
from hf_tracking.metrics.time_ema import ema

TOKENS = "time/tokens_seen"


class NotReached(ScalingInputError):
    """A compute outside the span a run's curve covers."""


class NoCurve(ScalingInputError):
    """A run whose rows hold no loss with its tokens seen: it has no compute axis."""


@dataclasses.dataclass(frozen=True)
class LossCurve:
    """A run's loss at increasing cumulative compute; ``per_token`` FLOPs turn compute into D."""

    compute: np.ndarray
    loss: np.ndarray
    per_token: float

    @property
    def start(self) -> float:
        return float(self.compute[0])

    @property
    def end(self) -> float:
        return float(self.compute[-1])

    def at(self, compute: float) -> float:
        """The loss at ``compute``, linear in ln(compute) between rows; NotReached outside."""
        if not self.start <= compute <= self.end:
            raise NotReached(
                f"compute {compute:.4g} FLOPs is outside the curve's {self.start:.4g} to "
                f"{self.end:.4g} FLOPs"
            )
        return float(np.interp(math.log(compute), np.log(self.compute), self.loss))


def loss_curve(
    records: Sequence[dict[str, Any]],
    *,
    loss: str,
    per_token: float,
    smoothing: float = DEFAULT_SMOOTHING,
    name: str = "run",
) -> LossCurve:
    """The curve of ``loss`` (one of LOSSES) over compute from a run's rows; NoCurve (a
    ScalingInputError) when no row carries both that loss and the tokens seen (no compute axis)."""
    if loss not in LOSSES:
        raise ScalingInputError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if not (per_token > 0 and math.isfinite(per_token)):
        raise ScalingInputError(f"per_token must be a positive number of FLOPs, got {per_token!r}")
    if not (smoothing > 0 and math.isfinite(smoothing)):
        raise ScalingInputError(f"smoothing must be > 0 (in ln compute), got {smoothing!r}")
    event, key = ("val", "val/loss") if loss in ("val", "best_val") else ("train", "train/loss")
    xs, ys = [], []
    for record in records:
        if record.get("event") != event:
            continue
        tokens, value = record.get(TOKENS), record.get(key)
        if _positive(tokens) and _positive(value) and (not xs or tokens * per_token > xs[-1]):
            xs.append(tokens * per_token)  # a resume that rewinds the tokens adds no x
            ys.append(float(value))
    if not xs:
        raise NoCurve(
            f"run {name!r} has no {key} rows with {TOKENS}, so no loss-against-compute curve"
        )
    compute, values = np.array(xs), np.array(ys)
    if loss == "best_val":
        values = np.minimum.accumulate(values)
    elif loss == "smoothed_train":
        values = ema(np.log(compute), values, smoothing)
    return LossCurve(compute, values, float(per_token))


def budget_groups(
    n: Sequence[float],
    curves: Sequence[LossCurve],
    budgets: Sequence[float],
    tolerance: float,
) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
    """Per budget C, (C, N, D, loss) of every run whose curve reached it: read at C where C lies
    on the curve, and at the curve's nearer end where that end is within ``tolerance`` of C (as
    the tolerance rule counts a run whose final compute is that close)."""
    groups = []
    for budget in budgets:
        sizes, tokens, losses = [], [], []
        for size, curve in zip(n, curves, strict=True):
            at = min(max(budget, curve.start), curve.end)
            if abs(at / budget - 1.0) > tolerance:
                continue
            sizes.append(size)
            tokens.append(at / curve.per_token)
            losses.append(curve.at(at))
        groups.append((float(budget), np.array(sizes), np.array(tokens), np.array(losses)))
    return groups


def _positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0
