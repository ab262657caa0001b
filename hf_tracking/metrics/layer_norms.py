"""Per-block optimizer health from sums of squares: numbers in, norms out.

Per block and over the whole model: ``grad_norm`` (the gradient L2 norm, pre-clip),
``param_norm`` (parameters after the step), ``update_norm`` (the step's parameter change) and
``update_ratio`` (update_norm / param_norm). Blocks partition the parameters, so the whole
model's norms are the square roots of the summed squares. The catalog names (``layers/<block>/*``,
``train/param_norm``, ...) are given in :mod:`hf_tracking.layers`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# torch.nn.utils.clip_grad_norm_ scales gradients by max_norm / (total + 1e-6) when that is < 1.
CLIP_EPSILON = 1e-6


def clip_coefficient(pre_clip_norm: float | None, max_norm: float | None) -> float:
    """The factor clipping multiplied the gradients by (1 when it did not clip)."""
    if not max_norm or max_norm <= 0 or pre_clip_norm is None or not math.isfinite(pre_clip_norm):
        return 1.0
    return min(1.0, max_norm / (pre_clip_norm + CLIP_EPSILON))


def block_norms(
    grad_squares: float | None, update_squares: float, param_squares: float, clip: float = 1.0
) -> dict[str, float]:
    """The four figures of one block (or the whole model) from its sums of squares; ``clip``
    undoes the clipping the gradients saw (their norm is divided by it)."""
    update, param = math.sqrt(update_squares), math.sqrt(param_squares)
    values = {"param_norm": param, "update_norm": update}
    values["update_ratio"] = update / param if param else math.nan
    if grad_squares is not None:
        values["grad_norm"] = math.sqrt(grad_squares) / clip
    return values


def layer_norms(
    blocks: Sequence[str],
    grad_squares: Sequence[float] | None,
    update_squares: Sequence[float],
    param_squares: Sequence[float],
    clip: float = 1.0,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """(block → its figures, the whole model's figures)."""
    per_block = {
        block: block_norms(
            None if grad_squares is None else grad_squares[index],
            update_squares[index],
            param_squares[index],
            clip,
        )
        for index, block in enumerate(blocks)
    }
    total = block_norms(
        None if grad_squares is None else math.fsum(grad_squares),
        math.fsum(update_squares),
        math.fsum(param_squares),
        clip,
    )
    return per_block, total
