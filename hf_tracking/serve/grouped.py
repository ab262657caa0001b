"""``/api/groups``: the selected runs in groups, each drawn as its mean with a band.

| parameter | meaning |
| --- | --- |
| ``run``, ``y``, ``x``, ``lo``, ``hi``, ``points``, ``smooth`` | as for ``/api/series`` |
| ``by`` | ``seed`` (runs whose configs differ only in the seed: :func:`~hf_tracking.analysis.groups.seed_groups`) or a config field's dotted name (runs with one value of it) |
| ``band`` | ``minmax`` (default) or ``se`` (the mean ± its standard error) |

Each group's curves (every row, smoothed first under ``smooth`` with the τ ``/api/series`` uses,
kept within [lo, hi]) are interpolated onto a common x and averaged by
:func:`~hf_tracking.analysis.groups.mean_band`, at ``points`` x positions. With smoothing, the
raw curves' mean comes too, for the faint line under the smoothed one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hf_tracking.analysis.groups import BANDS, SEED_FIELDS, mean_band, seed_groups
from hf_tracking.serve import api
from hf_tracking.serve.runs import Run, RunCatalog
from hf_tracking.serve.smoothed import SmoothCache

SEED = "seed"
MAX_FIELD = 200  # characters of a config field's name


def _grouped(runs: list[Run], by: str) -> list[tuple[str, list[Run]]]:
    """(label, runs) per group, in the order of each group's first run."""
    if by == SEED:
        configs = {run.id: run.config() for run in runs}
        found = seed_groups(configs, SEED_FIELDS)
        named = {run.id: run for run in runs}
        groups = [[named[run_id] for run_id in group] for group in found]
        return [(_seed_label(group), group) for group in groups]
    by_value: dict[str, tuple[Any, list[Run]]] = {}
    for run in runs:
        value = api.flat_config(run.config()).get(by)
        by_value.setdefault(repr(value), (value, []))[1].append(run)
    return [
        (f"{by}={'(none)' if value is None else value}", group)
        for value, group in by_value.values()
    ]


def _seed_label(group: list[Run]) -> str:
    more = len(group) - 1
    return group[0].name + (f" + {more} seed{'s' if more > 1 else ''}" if more else "")


def _rows(
    run: Run, catalog: RunCatalog, asked: dict[str, Any], cache: SmoothCache | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """One run's x, raw values and smoothed values (None unsmoothed) within [lo, hi]."""
    index = catalog.index(run)
    y_key, axis, tau = asked["y"], asked["x"], asked["tau"]
    event = api.table_of(index, y_key)
    found = None if event is None else api.x_columns(index, run, event, axis, y_key)
    if found is None or found[1] is None:
        return None
    xs, ys = (np.asarray(column, dtype=np.float64) for column in found)
    smooth = None
    if tau is not None:
        smooth = api.smoothed_rows(cache, index, run, event, axis, y_key, xs, ys, tau)
    keep = np.ones(len(xs), dtype=bool)
    if asked["lo"] is not None:
        keep &= xs >= asked["lo"]
    if asked["hi"] is not None:
        keep &= xs <= asked["hi"]
    return xs[keep], ys[keep], None if smooth is None else smooth[keep]


def _listed(band: dict[str, Any]) -> dict[str, Any]:
    return {name: band[name].tolist() for name in ("x", "mean", "low", "high")}


def groups(
    catalog: RunCatalog, query: dict[str, list[str]], cache: SmoothCache | None = None
) -> dict[str, Any]:
    asked = api.curve_request(catalog, query)
    by = (query.get("by") or [SEED])[0]
    if not by or len(by) > MAX_FIELD:
        raise api.ApiError(400, f"by must be 'seed' or a config field, got {by[:MAX_FIELD]!r}")
    band = (query.get("band") or ["minmax"])[0]
    if band not in BANDS:
        raise api.ApiError(400, f"band must be one of {', '.join(BANDS)}, got {band!r}")
    runs = [api.run_by_id(catalog, run_id) for run_id in dict.fromkeys(asked["runs"])]
    answers = []
    for label, members in _grouped(runs, by):
        raw, shown = [], []
        for run in members:
            rows = _rows(run, catalog, asked, cache)
            if rows is not None:
                raw.append((rows[0], rows[1]))
                shown.append((rows[0], rows[1] if rows[2] is None else rows[2]))
        line = mean_band(shown, band, asked["points"])
        answer = {
            "label": label,
            "runs": [run.id for run in members],
            "names": [run.name for run in members],
            "count": line["runs"],
            "line": _listed(line),
            "raw": None,
            "alerts": [
                {**alert, "run": run.id}
                for run in members
                for alert in api.alerts_at_x(catalog.index(run), run, asked["x"])
            ],
        }
        if asked["tau"] is not None:
            answer["raw"] = mean_band(raw, band, asked["points"])["mean"].tolist()
        answers.append(answer)
    keys = ("x", "y", "lo", "hi", "smooth", "tau")
    return {**{key: asked[key] for key in keys}, "by": by, "band": band, "groups": answers}
