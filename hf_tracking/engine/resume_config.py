"""A resumed run's config against the config of the session before it: the keys that changed,
said in one warning, and the earlier configs the summary keeps (``earlier_configs``: each with
the step it held until), so a resume with another learning rate is never silent and never
forgotten."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger("hf_tracking")
# Keys that differ between sessions by their nature, not by a change of the experiment.
IGNORED = frozenset({"trainer.resume_from_checkpoint"})
# Changed keys the warning names (the summary keeps the whole configs).
NAMED = 8


def flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"trainer": {"lr": 1}}`` as ``{"trainer.lr": 1}``."""
    items: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            items.update(flat(value, f"{name}."))
        else:
            items[name] = value
    return items


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """``key: old -> new`` for every key whose value differs (absent: ``None``), sorted."""
    old, new = flat(before), flat(after)
    return [
        f"{key}: {old.get(key)!r:.40} -> {new.get(key)!r:.40}"
        for key in sorted(old.keys() | new.keys())
        if key not in IGNORED and old.get(key) != new.get(key)
    ]


def earlier_configs(
    summary: Mapping[str, Any], config: Mapping[str, Any], step: int, name: str
) -> list[dict[str, Any]]:
    """The configs the run had before this session: those the session before's ``summary``
    kept, and its own when it differs from ``config`` (then said in a warning)."""
    kept = summary.get("earlier_configs")
    history = [entry for entry in kept if isinstance(entry, dict)] if isinstance(kept, list) else []
    before = summary.get("config")
    if not isinstance(before, Mapping):
        return history
    changed = changes(before, config)
    if not changed:
        return history
    logger.warning(
        "hf_tracking: run %r resumed from step %d with a config that differs from the one it "
        "had (%s%s); the summary keeps both, the earlier one under earlier_configs",
        name,
        step,
        "; ".join(changed[:NAMED]),
        f"; {len(changed) - NAMED} more" if len(changed) > NAMED else "",
    )
    return [*history, {"until_step": step, "config": dict(before)}]
