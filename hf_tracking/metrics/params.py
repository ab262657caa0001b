"""Parameter counts of a GPT-2-style decoder, from its sizes alone.

The layout is that of ``transformers.GPT2LMHeadModel``: learned token and position embeddings,
``num_layers`` blocks of (LayerNorm, attention with a fused QKV projection, LayerNorm, MLP), a final
LayerNorm and an output head that is tied to the token embedding unless told otherwise. Every
linear layer has a bias, every LayerNorm a weight and a bias.
"""

from __future__ import annotations

import re
from typing import Any

_SIZE_LABEL = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMbBtT]?)\s*$")
_SIZE_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def gpt2_parameter_breakdown(
    vocab_size: int,
    d_model: int,
    num_layers: int,
    seq_length: int,
    d_ff: int | None = None,
    tie_word_embeddings: bool = True,
) -> dict[str, int]:
    """Parameter count of each part of a GPT-2 decoder, with totals."""
    d_ff = d_ff or 4 * d_model
    token_embedding = vocab_size * d_model
    position_embedding = seq_length * d_model
    # Per block: fused QKV (d x 3d + 3d) and output projection (d x d + d).
    attention = num_layers * (d_model * 3 * d_model + 3 * d_model + d_model * d_model + d_model)
    # Per block: up projection (d x d_ff + d_ff) and down projection (d_ff x d + d).
    mlp = num_layers * (d_model * d_ff + d_ff + d_ff * d_model + d_model)
    # Two LayerNorms per block and the final one, each weight + bias.
    norms = (2 * num_layers + 1) * 2 * d_model
    output_head = 0 if tie_word_embeddings else vocab_size * d_model
    total = token_embedding + position_embedding + attention + mlp + norms + output_head
    return {
        "token_embedding": token_embedding,
        "position_embedding": position_embedding,
        "attention": attention,
        "mlp": mlp,
        "norms": norms,
        "output_head": output_head,
        "total": total,
        "non_embedding": total - token_embedding - position_embedding - output_head,
    }


def parse_size_label(label: str) -> float | None:
    """``"17M"`` → 17e6, ``"1.5B"`` → 1.5e9; None when the label is not a size."""
    match = _SIZE_LABEL.match(str(label))
    if not match:
        return None
    return float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]


def format_count(count: float) -> str:
    """A parameter count as people write it: 51.2M, 124.4M, 1.3B."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(count) >= scale:
            return f"{count / scale:.1f}{unit}"
    return str(int(count))


def label_is_off(labelled: float, counts: tuple[int, ...], factor: float = 2.0) -> bool:
    """True when a size label is more than ``factor`` times away from every one of ``counts``
    (the total and the non-embedding count: either is a fair reading of a label)."""
    return all(
        count <= 0 or max(labelled, count) / min(labelled, count) > factor for count in counts
    )


# A label within this factor of a count is taken to describe it.
LABEL_TOLERANCE = 1.25


def _close(a: float, b: float) -> bool:
    return b > 0 and a > 0 and max(a, b) / min(a, b) <= LABEL_TOLERANCE


def size_label_report(label: str, estimate: dict[str, int], actual: int | None) -> dict[str, Any]:
    """Compare a ``model_size`` label with a parameter estimate and, when known, the real count.

    Returns the numbers and a plain-language ``message``; ``label_matches`` is False when the
    label is further than 25% from both the total and the non-embedding count.
    """
    counted = actual if actual is not None else estimate["total"]
    labelled = parse_size_label(label)
    non_embedding = estimate["non_embedding"]
    embeddings = counted - non_embedding
    result: dict[str, Any] = {
        "label": label,
        "label_parameters": labelled,
        "estimated_total": estimate["total"],
        "estimated_non_embedding": non_embedding,
        "actual_total": actual,
        "estimate_matches_model": None if actual is None else actual == estimate["total"],
    }
    counts = f"{format_count(counted)} parameters ({format_count(embeddings)} of them embeddings)"
    if labelled is None:
        result["label_matches"] = None
        result["message"] = f"model_size {label!r} is not a size; the model has {counts}"
    elif _close(labelled, counted):
        result["label_matches"] = True
        result["message"] = f"model_size {label} matches: {counts}"
    elif _close(labelled, non_embedding):
        result["label_matches"] = True
        result["message"] = (
            f"model_size {label} matches the non-embedding count "
            f"{format_count(non_embedding)}; the whole model has {counts}"
        )
    else:
        result["label_matches"] = False
        result["message"] = (
            f"model_size says {label} but the model has {counts}; "
            f"non-embedding {format_count(non_embedding)}"
        )
    if actual is not None and actual != estimate["total"]:
        result["message"] += (
            f"; the estimate from the config ({format_count(estimate['total'])}) differs "
            "from the model: its sizes do not match the config"
        )
    return result
