"""A scaling fit's curves sampled for drawing: the compute-optimal frontier in loss and in N, and
the IsoFLOP profiles with their minima. Pure: points and ``fit_scaling``'s dict in, lists out.

The curves are evaluated with the fitted objects themselves (:class:`ParametricFit` and
:class:`IsoFlopFit`), so they are the fit's own formulas, not a second copy of them. Approach 3's
allocation takes C = 6ND (Hoffmann et al.), as ``fit_scaling``'s ``budget`` does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from hf_tracking.analysis.isoflop import IsoFlopFit
from hf_tracking.analysis.parametric import ParametricFit
from hf_tracking.analysis.points import ScalingPoints, group_budgets

SAMPLES = 60  # points along each drawn line


def fitted_curves(points: ScalingPoints, result: dict[str, Any]) -> dict[str, Any]:
    """``{"frontier": {...}, "isoflop": [...]}`` for ``points`` and their fit ``result``.

    ``frontier``: along C from the smallest to the largest run, Approach 3's N*(C) and its loss
    L(N*, D*) (``approach3``), Approach 2's N* = k C^a (``approach2``), each None when not
    fitted. ``isoflop``: per budget (the fit's grouping), its runs by N, its minimum (None where
    the budget has none inside the sizes) and Approach 3's loss along it."""
    span = np.geomspace(points.c.min(), points.c.max(), SAMPLES)
    three = _parametric(result.get("approach3"))
    two = _isoflop(result.get("approach2"))
    frontier: dict[str, Any] = {"compute": span.tolist(), "approach3": None, "approach2": None}
    if three is not None:
        optimal = np.array([three.optimal(float(compute)) for compute in span])
        frontier["approach3"] = {
            "n_opt": optimal[:, 0].tolist(),
            "loss": three.loss(optimal[:, 0], optimal[:, 1]).tolist(),
            "a": three.a,
        }
    if two is not None:
        frontier["approach2"] = {"n_opt": [two.n_opt(float(c)) for c in span], "a": two.a}
    return {"frontier": frontier, "isoflop": _profiles(points, result, three)}


def _profiles(
    points: ScalingPoints, result: dict[str, Any], three: ParametricFit | None
) -> list[dict[str, Any]]:
    budgets = (result.get("approach2") or {}).get("budgets") or []
    labels = group_budgets(points.c, result["points"]["budget_tolerance"])
    profiles = []
    for label in range(int(labels.max()) + 1 if len(labels) else 0):
        members = np.flatnonzero(labels == label)
        members = members[np.argsort(points.n[members], kind="stable")]
        sizes, tokens = points.n[members], points.d[members]
        profile: dict[str, Any] = {
            "compute": float(np.exp(np.log(points.c[members]).mean())),
            "runs": [points.names[i] for i in members],
            "n": sizes.tolist(),
            "loss": points.loss[members].tolist(),
            "minimum": None,
            "approach3": None,
        }
        # fit_isoflop numbers its budgets as group_budgets does: label i is budgets[i].
        if label < len(budgets) and budgets[label].get("used"):
            found = budgets[label]
            profile["minimum"] = {"n": found["n_opt"], "loss": found["loss_opt"]}
        elif label < len(budgets):
            profile["reason"] = budgets[label].get("reason")
        if three is not None and sizes[-1] > sizes[0]:
            # Along the budget D follows its runs' own tokens (their FLOPs convention).
            grid = np.geomspace(sizes[0], sizes[-1], SAMPLES)
            along = np.exp(np.interp(np.log(grid), np.log(sizes), np.log(tokens)))
            profile["approach3"] = {"n": grid.tolist(), "loss": three.loss(grid, along).tolist()}
        profiles.append(profile)
    return profiles


def _parametric(section: dict[str, Any] | None) -> ParametricFit | None:
    if not section:
        return None
    names = [item.name for item in dataclasses.fields(ParametricFit)]
    return ParametricFit(**{name: section[name] for name in names})


def _isoflop(section: dict[str, Any] | None) -> IsoFlopFit | None:
    if not section:
        return None
    return IsoFlopFit(section["a"], section["coefficient"], (), section["method"])
