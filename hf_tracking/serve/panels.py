"""The workspace's panels: which metric groups a set of runs logged, and the names each draws.

One panel per group of :mod:`hf_tracking.catalog` that holds at least one logged name, in the
order a researcher reads them (loss first); a group's names are drawn together on one panel, at
most MAX_KEYS of them (the first in catalog order, then by name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from hf_tracking import catalog

MAX_KEYS = 6
ALERT_VALUE = "alert/value"
_GRAD = (catalog.GRAD_NORM, catalog.PARAM_NORM, catalog.UPDATE_NORM, catalog.UPDATE_RATIO)
_LEARNING = (catalog.LEARNING_RATE,)
# The tracker's own groups; a name in any other group is one of the user's (custom).
_KNOWN = {catalog.group(name) for name in catalog.CATALOG} - {catalog.CUSTOM_GROUP}

# (id, title, whether a name belongs, names first in line)
PANELS: tuple[tuple[str, str, Callable[[str], bool], tuple[str, ...]], ...] = (
    (
        "train",
        "train",
        lambda n: catalog.group(n) == "train" and n not in _GRAD + _LEARNING,
        (catalog.TRAIN_LOSS, catalog.TRAIN_PERPLEXITY),
    ),
    ("val", "validation", lambda n: catalog.group(n) == "val", ("val/loss", "val/perplexity")),
    ("lr", "learning rate", lambda n: n in _LEARNING, _LEARNING),
    ("grad", "grad norm", lambda n: n in _GRAD, _GRAD),
    (
        "throughput",
        "throughput",
        lambda n: catalog.group(n) in ("throughput", "efficiency"),
        (catalog.TOKENS_PER_SECOND, catalog.MFU, catalog.GOODPUT),
    ),
    ("ledger", "time ledger", lambda n: n in catalog.LEDGER_KEYS, catalog.LEDGER_KEYS),
    ("tokens", "tokens", lambda n: catalog.group(n) == "tokens", ()),
    ("memory", "memory", lambda n: catalog.group(n) == "memory", ()),
    ("health", "health (alerts)", lambda n: n == ALERT_VALUE, (ALERT_VALUE,)),
    ("custom", "custom", lambda n: catalog.group(n) not in _KNOWN, ()),
)


def panels(names: Iterable[str]) -> list[dict[str, Any]]:
    """``[{"id", "title", "keys"}]`` for the groups among ``names`` (plotted metric names)."""
    logged = set(names)
    found = []
    for panel_id, title, belongs, first in PANELS:
        members = {name for name in logged if belongs(name)}
        if not members:
            continue
        keys = [name for name in first if name in members]
        keys += sorted(members - set(keys))
        found.append({"id": panel_id, "title": title, "keys": keys[:MAX_KEYS]})
    return found
