"""Approach 2 of Hoffmann et al. (2022), IsoFLOP profiles: per compute budget the model size N*
of lowest loss, then N* ∝ C^a fitted across budgets.

Per budget, as Porian et al. (arXiv:2406.19146, §2 and appendix) do: log L is interpolated over
log N with an Akima spline on a fine grid between the smallest and the largest model, and its
argmin is N*; a budget whose minimum falls on the edge of the grid is left out of the fit (its
optimum lies outside the sizes trained). Each N* gets an uncertainty from a bootstrap that adds
seed noise to the losses (``loss_noise``, in the loss's units) and finds the argmin again;
the exponent is the weighted least-squares slope of log N* on log C with weights 1/σ² of log N*.
``method="parabola"`` fits a parabola of log L on log N through all of a budget's points instead
(Hoffmann et al.'s own description; it is biased when the points are not symmetric around the
minimum).

Which runs count for a budget: :func:`fit_isoflop` groups the points whose compute lies within a
tolerance of each other; :func:`fit_budget_groups` takes the groups as given, e.g. each run's
curve read at every budget it reached (:func:`hf_tracking.analysis.loss_curves.budget_groups`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.interpolate import Akima1DInterpolator

from hf_tracking.analysis.options import (
    DEFAULT_LOSS_NOISE,
    DEFAULT_TOLERANCE,
    ISOFLOP_METHODS,
    ScalingInputError,
)
from hf_tracking.analysis.points import budget_values, positive_array

GRID_PER_INTERVAL = 25  # interpolation points per interval between two model sizes
MIN_SIZES = 3  # distinct model sizes a budget needs for a minimum
MIN_STD_FRACTION = 0.33  # floor of σ(log N*): this fraction of the mean log-spacing of the sizes
DEFAULT_RESAMPLES = 200


@dataclasses.dataclass(frozen=True)
class BudgetOptimum:
    """One compute budget's IsoFLOP minimum (``n_opt`` None when it has none inside the sizes),
    and its profile: the model sizes, their tokens and the lowest loss of each size."""

    compute: float
    n_opt: float | None
    d_opt: float | None
    loss_opt: float | None
    log_n_std: float | None
    n_points: int
    used: bool
    reason: str = ""
    sizes: tuple[float, ...] = ()
    tokens: tuple[float, ...] = ()
    losses: tuple[float, ...] = ()


@dataclasses.dataclass(frozen=True)
class IsoFlopFit:
    """N* = k·C^a over the budgets used, with each budget's optimum."""

    a: float
    coefficient: float
    budgets: tuple[BudgetOptimum, ...]
    method: str
    budget_rule: str = "tolerance"

    def n_opt(self, compute: float) -> float:
        return self.coefficient * compute**self.a

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "coefficient": self.coefficient,
            "method": self.method,
            "budget_rule": self.budget_rule,
            "budgets": [dataclasses.asdict(budget) for budget in self.budgets],
        }


def budget_optimum(
    n: Any,
    d: Any,
    loss: Any,
    compute: float,
    *,
    method: str = "akima",
    loss_noise: float = DEFAULT_LOSS_NOISE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> BudgetOptimum:
    """The minimum of one IsoFLOP profile and the bootstrap σ of its log N*."""
    if method not in ISOFLOP_METHODS:
        raise ScalingInputError(
            f"method must be one of {', '.join(ISOFLOP_METHODS)}, got {method!r}"
        )
    n, d, loss = (positive_array(v, name) for v, name in ((n, "N"), (d, "D"), (loss, "loss")))
    sizes = np.unique(n)
    # Several runs of one size at a budget: the lowest loss counts (as Porian et al. do).
    best = np.array([loss[n == size].min() for size in sizes])
    tokens = np.array([d[n == size][loss[n == size].argmin()] for size in sizes])
    profile = {
        "sizes": tuple(map(float, sizes)),
        "tokens": tuple(map(float, tokens)),
        "losses": tuple(map(float, best)),
    }
    if len(sizes) < MIN_SIZES:
        return _without_minimum(
            compute, len(n), f"{len(sizes)} model size(s); a minimum needs {MIN_SIZES}", profile
        )
    log_n = np.log(sizes)
    grid = np.linspace(log_n[0], log_n[-1], (len(sizes) - 1) * GRID_PER_INTERVAL)
    rng = np.random.default_rng(seed)
    noisy = best[:, None] + loss_noise * rng.standard_normal((len(sizes), resamples))
    curves = _profiles(
        log_n, np.log(np.column_stack((best, np.clip(noisy, 1e-12, None)))), grid, method
    )
    stars = curves.argmin(axis=0)
    inside = (stars > 0) & (stars < len(grid) - 1)
    if not inside[0]:
        return _without_minimum(
            compute, len(n), "the lowest loss is at the smallest or the largest model", profile
        )
    star = stars[0]
    valid = grid[stars[1:][inside[1:]]]
    if len(valid) < resamples / 2:
        return _without_minimum(
            compute,
            len(n),
            "under seed noise the minimum falls on an edge in most resamples",
            profile,
        )
    floor = MIN_STD_FRACTION * (log_n[-1] - log_n[0]) / (len(sizes) - 1)
    std = max(float(np.std(valid)) if len(valid) > 1 else 0.0, floor) * resamples / len(valid)
    n_opt = math.exp(grid[star])
    d_opt = math.exp(np.interp(grid[star], log_n, np.log(tokens)))
    return BudgetOptimum(
        compute, n_opt, d_opt, math.exp(curves[star, 0]), std, len(n), True, "", **profile
    )


def fit_isoflop(
    n: Any,
    d: Any,
    loss: Any,
    compute: Any,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    method: str = "akima",
    loss_noise: float = DEFAULT_LOSS_NOISE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> IsoFlopFit:
    """Group points into budgets, find each budget's N*, fit N* ∝ C^a (weighted)."""
    n, d, loss = (positive_array(v, name) for v, name in ((n, "N"), (d, "D"), (loss, "loss")))
    compute = positive_array(compute, "compute")
    if not len(n) == len(d) == len(loss) == len(compute):
        raise ScalingInputError("N, D, compute and loss must have the same length")
    if not (loss_noise >= 0 and resamples >= 1):
        raise ScalingInputError(
            f"loss_noise must be >= 0 and resamples >= 1, got {loss_noise!r} and {resamples!r}"
        )
    labels, budgets = budget_values(compute, tolerance)
    groups = [
        (budget, n[labels == k], d[labels == k], loss[labels == k])
        for k, budget in enumerate(budgets)
    ]
    return fit_budget_groups(
        groups, method=method, loss_noise=loss_noise, resamples=resamples, seed=seed
    )


def fit_budget_groups(
    groups: Sequence[tuple[float, Any, Any, Any]],
    *,
    method: str = "akima",
    loss_noise: float = DEFAULT_LOSS_NOISE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    budget_rule: str = "tolerance",
) -> IsoFlopFit:
    """Each budget's N* from its (compute, N, D, loss) group, then N* ∝ C^a (weighted);
    ``budget_rule`` names how the groups were formed."""
    budgets = []
    for label, (compute, n, d, loss) in enumerate(groups):
        if len(n) == 0:
            budgets.append(_without_minimum(compute, 0, "no run reached this compute", {}))
            continue
        budgets.append(
            budget_optimum(
                n,
                d,
                loss,
                compute,
                method=method,
                loss_noise=loss_noise,
                resamples=resamples,
                seed=seed + label,
            )
        )
    used = [budget for budget in budgets if budget.used]
    if len(used) < 2:
        raise ScalingInputError(
            f"the IsoFLOP fit (Approach 2) needs at least 2 budgets with a minimum inside the "
            f"model sizes trained, got {len(used)} of {len(budgets)} budget(s) "
            f"(a budget needs {MIN_SIZES} model sizes whose middle one has the lowest loss; "
            + "; ".join(
                f"{b.compute:.3g} FLOPs: {b.n_points} run(s) of {len(b.sizes)} size(s), {b.reason}"
                for b in budgets
                if not b.used
            )
            + ")"
        )
    x = np.log([budget.compute for budget in used])
    y = np.log([budget.n_opt for budget in used])
    weights = 1.0 / np.array([budget.log_n_std for budget in used])  # polyfit squares them
    slope, intercept = np.polyfit(x, y, 1, w=weights)
    return IsoFlopFit(float(slope), float(np.exp(intercept)), tuple(budgets), method, budget_rule)


def _without_minimum(
    compute: float, count: int, reason: str, profile: dict[str, tuple[float, ...]]
) -> BudgetOptimum:
    return BudgetOptimum(compute, None, None, None, None, count, False, reason, **profile)


def _profiles(log_n: np.ndarray, log_loss: np.ndarray, grid: np.ndarray, method: str) -> np.ndarray:
    """log L on ``grid`` for each column of ``log_loss`` (rows: the model sizes)."""
    if method == "akima":
        return Akima1DInterpolator(log_n, log_loss, axis=0)(grid)
    coefficients = np.polyfit(log_n, log_loss, 2)
    return np.vander(grid, 3) @ coefficients
