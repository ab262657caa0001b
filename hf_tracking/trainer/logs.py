"""The Trainer's log dicts → catalog names: training logs, the final log, evaluation metrics."""

from __future__ import annotations

from typing import Any

from hf_tracking.engine.records import VALIDATION_KEYS

# Keys of the Trainer's own logs that hf_tracking replaces with better-defined metrics.
REPLACED_TRAINER_KEYS = frozenset(
    {
        "loss",
        "learning_rate",
        "grad_norm",
        "num_input_tokens_seen",
        "train_tokens_per_second",
        "train_runtime",
    }
)


def train_key(key: str) -> str:
    """A clean name for a key of a training log: ``epoch`` → ``train/epoch``,
    ``train_foo`` → ``train/foo``; a key that has a ``group/`` already is kept."""
    if "/" in key:
        return key
    return "train/" + key.removeprefix("train_")


def final_key(key: str) -> str:
    """A clean name for the end-of-training log: ``train_runtime`` → ``final/runtime``."""
    return "final/" + key.removeprefix("train_")


# A key only the end-of-training log has.
FINAL_LOG_KEY = "train_samples_per_second"


def is_evaluation_log(logs: dict[str, Any]) -> bool:
    """An evaluation's log (a key starts with ``eval_``): on_evaluate logs it."""
    return any(key.startswith("eval_") for key in logs)


def train_extras(logs: dict[str, Any]) -> dict[str, Any]:
    """The numeric keys of a training log that pass through under clean names."""
    return {
        train_key(key): value
        for key, value in logs.items()
        if key not in REPLACED_TRAINER_KEYS and isinstance(value, (int, float))
    }


def eval_datasets(
    metrics: dict[str, Any], key_prefix: str = "eval"
) -> list[tuple[str | None, str]]:
    """(dataset name, key prefix) of each evaluation in an ``on_evaluate`` metrics dict (or an
    ``on_predict`` one, ``key_prefix="test"``): a ``eval_[name_]loss`` key with its
    ``eval_[name_]runtime`` beside it (a ``compute_metrics`` key such as ``eval_aux_loss`` has
    no runtime of its own)."""
    found = []
    start = f"{key_prefix}_"
    for key in metrics:
        if key.startswith(start) and key.endswith("loss"):
            middle = key[len(start) : -len("loss")]
            if f"{start}{middle}runtime" in metrics:
                found.append((middle.rstrip("_") or None, f"{start}{middle}"))
    return found


def eval_extras(metrics: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The other numeric metrics of the evaluation under ``prefix``, without the prefix (a
    ``compute_metrics`` key the row builds itself, such as ``eval_perplexity``, is left out)."""
    return {
        key[len(prefix) :]: value
        for key, value in metrics.items()
        if key.startswith(prefix)
        and key[len(prefix) :] not in ("runtime", *VALIDATION_KEYS)
        and isinstance(value, (int, float))
        and not _belongs_to_other_dataset(key, prefix, metrics)
    }


def _belongs_to_other_dataset(key: str, prefix: str, metrics: dict[str, Any]) -> bool:
    """With datasets ``a`` and ``a_b``, ``eval_a_b_loss`` starts with ``eval_a_`` too."""
    return any(
        other != prefix and other.startswith(prefix) and key.startswith(other)
        for _, other in eval_datasets(metrics, prefix.split("_", 1)[0])
    )
