"""Seed groups: runs whose configs differ only in the seed (or in fields the user names), and a
group's curves as one mean with a band.

Curves are interpolated linearly onto a common x (the span all of a group's curves cover)
before averaging, so runs that logged at different steps or token counts average point for
point. The band is the min–max over the runs or the mean ± its standard error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

# Fields that differ between any two runs of one config: never part of what makes a group.
RUN_FIELDS = ("experiment_name", "output_dir", "logging_dir", "run_name", "tags", "notes")
SEED_FIELDS = ("seed", "data_seed")
BANDS = ("minmax", "se")


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config as ``{"a.b": value}``; lists become tuples so values can be compared."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = tuple(value) if isinstance(value, list) else value
    return flat


def seed_groups(
    configs: Mapping[str, Mapping[str, Any]], fields: Iterable[str] = SEED_FIELDS
) -> list[list[str]]:
    """Run names grouped by their config with ``fields`` (and the run's own name and paths) left
    out; a field matches by its full dotted name or its last part (``seed`` is also
    ``trainer.seed``). Groups keep the order of their first run."""
    ignored = set(fields) | set(RUN_FIELDS)
    groups: dict[tuple, list[str]] = {}
    for name, config in configs.items():
        kept = tuple(
            sorted(
                (key, repr(value))
                for key, value in flatten(config).items()
                if key not in ignored and key.rsplit(".", 1)[-1] not in ignored
            )
        )
        groups.setdefault(kept, []).append(name)
    return list(groups.values())


def mean_band(
    curves: Sequence[tuple[Sequence[float], Sequence[float]]],
    band: str = "minmax",
    points: int = 200,
) -> dict[str, np.ndarray]:
    """The curves' mean on a common x with a band: ``{"x", "mean", "low", "high", "runs"}``.

    x spans where every curve has data (empty arrays when the spans do not overlap)."""
    if band not in BANDS:
        raise ValueError(f"band must be one of {', '.join(BANDS)}, got {band!r}")
    usable = []
    for xs, ys in curves:
        xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
        keep = np.isfinite(xs) & np.isfinite(ys)
        if keep.any():
            order = np.argsort(xs[keep], kind="stable")
            usable.append((xs[keep][order], ys[keep][order]))
    empty = np.array([])
    if not usable:
        return {"x": empty, "mean": empty, "low": empty, "high": empty, "runs": 0}
    start = max(xs[0] for xs, _ in usable)
    stop = min(xs[-1] for xs, _ in usable)
    if start > stop:
        return {"x": empty, "mean": empty, "low": empty, "high": empty, "runs": len(usable)}
    x = np.linspace(start, stop, points) if stop > start else np.array([start])
    values = np.array([np.interp(x, xs, ys) for xs, ys in usable])
    mean = values.mean(axis=0)
    if band == "minmax":
        low, high = values.min(axis=0), values.max(axis=0)
    else:
        error = values.std(axis=0, ddof=1) / np.sqrt(len(usable)) if len(usable) > 1 else 0 * mean
        low, high = mean - error, mean + error
    return {"x": x, "mean": mean, "low": low, "high": high, "runs": len(usable)}
