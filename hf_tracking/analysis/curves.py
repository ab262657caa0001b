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
from hf_tracking.analysis.loss_curves import budget_groups
from hf_tracking.analysis.parametric import ParametricFit
from hf_tracking.analysis.points import ScalingPoints, budget_values

SAMPLES = 60  # points along each drawn line


def fitted_curves(points: ScalingPoints, result: dict[str, Any]) -> dict[str, Any]:
    """``{"frontier": {...}, "isoflop": [...]}`` for ``points`` and their fit ``result``.

    ``frontier``: along C from the smallest to the largest run, Approach 3's N*(C) and its loss
    L(N*, D*) (``approach3``), Approach 2's N* = k C^a (``approach2``), each None when not
    fitted. ``isoflop``: per budget (:func:`budget_profiles`), its sizes and their losses, its
    minimum (None where the budget has none inside the sizes) and Approach 3's loss along it."""
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


def budget_profiles(points: ScalingPoints, result: dict[str, Any]) -> list[tuple]:
    """(compute, sizes, tokens, losses) per IsoFLOP budget, each size's lowest loss there: as
    Approach 2 read them where it was fitted, else formed as it forms them (its budget rule)."""
    budgets = (result.get("approach2") or {}).get("budgets") or []
    if budgets:
        return [
            (b["compute"], np.asarray(b["sizes"]), np.asarray(b["tokens"]), np.asarray(b["losses"]))
            for b in budgets
        ]
    settings = result["points"]
    tolerance = settings["budget_tolerance"]
    labels, computes = budget_values(points.c, tolerance)
    if settings.get("budget_rule") == "interpolate" and points.curves is not None:
        groups = budget_groups(points.n, points.curves, computes, tolerance)
    else:
        groups = [
            (compute, points.n[labels == k], points.d[labels == k], points.loss[labels == k])
            for k, compute in enumerate(computes)
        ]
    profiles = []
    for compute, n, d, loss in groups:
        sizes = np.unique(n)
        best = [np.flatnonzero(n == size)[loss[n == size].argmin()] for size in sizes]
        profiles.append((compute, sizes, d[best], loss[best]))
    return profiles


def _profiles(
    points: ScalingPoints, result: dict[str, Any], three: ParametricFit | None
) -> list[dict[str, Any]]:
    budgets = (result.get("approach2") or {}).get("budgets") or []
    drawn = []
    for index, (compute, sizes, tokens, losses) in enumerate(budget_profiles(points, result)):
        profile: dict[str, Any] = {
            "compute": float(compute),
            "n": np.asarray(sizes, dtype=float).tolist(),
            "loss": np.asarray(losses, dtype=float).tolist(),
            "minimum": None,
            "approach3": None,
        }
        if index < len(budgets) and budgets[index].get("used"):
            found = budgets[index]
            profile["minimum"] = {"n": found["n_opt"], "loss": found["loss_opt"]}
        elif index < len(budgets):
            profile["reason"] = budgets[index].get("reason")
        if three is not None and len(sizes) > 1:
            # Along the budget D follows its runs' own tokens (their FLOPs convention).
            grid = np.geomspace(sizes[0], sizes[-1], SAMPLES)
            along = np.exp(np.interp(np.log(grid), np.log(sizes), np.log(tokens)))
            profile["approach3"] = {"n": grid.tolist(), "loss": three.loss(grid, along).tolist()}
        drawn.append(profile)
    return drawn


def _parametric(section: dict[str, Any] | None) -> ParametricFit | None:
    if not section:
        return None
    names = [item.name for item in dataclasses.fields(ParametricFit)]
    return ParametricFit(**{name: section[name] for name in names})


def _isoflop(section: dict[str, Any] | None) -> IsoFlopFit | None:
    if not section:
        return None
    return IsoFlopFit(section["a"], section["coefficient"], (), section["method"])
