"""The ``model_size`` label checked against the model's counted parameters, once per run: the
label goes into the run's name and tags, so one that is far off misleads every comparison."""

from __future__ import annotations

from typing import Any

from hf_tracking.metrics.params import format_count, label_is_off, parse_size_label


def size_label_warning(model_size: str, model: Any) -> str | None:
    """A warning when ``model_size`` is more than 2× away from both the model's total and its
    non-embedding parameter count; None when it is close, not a size, or there is no model."""
    labelled = parse_size_label(model_size)
    if labelled is None or model is None or not hasattr(model, "parameters"):
        return None
    total = sum(parameter.numel() for parameter in model.parameters())
    embeddings = sum(
        parameter.numel()
        for module in model.modules()
        if type(module).__name__ == "Embedding"
        for parameter in module.parameters(recurse=False)
    )
    if not label_is_off(labelled, (total, total - embeddings)):
        return None
    return (
        f"hf_tracking: model_size says {model_size} but the model has {format_count(total)} "
        f"parameters ({format_count(total - embeddings)} without embeddings); the label goes "
        "into the run's name and tags, so set model_size to match"
    )
