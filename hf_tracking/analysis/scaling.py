"""Both compute-optimal fits over one set of points, as a JSON-ready dict and a text table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hf_tracking.analysis.isoflop import DEFAULT_RESAMPLES, fit_budget_groups, fit_isoflop
from hf_tracking.analysis.loss_curves import budget_groups
from hf_tracking.analysis.options import (
    APPROACHES,
    BUDGET_RULES,
    DEFAULT_LOSS_NOISE,
    DEFAULT_TOLERANCE,
    ScalingInputError,
)
from hf_tracking.analysis.parametric import (
    GRIDS,
    MIN_POINTS,
    bootstrap_parametric,
    fit_parametric,
)
from hf_tracking.analysis.points import ScalingPoints, budget_values

BUDGET_RULE_TEXT = {
    "interpolate": "each run's curve read at every budget it reached",
    "tolerance": "each run at its final compute",
}


def fit_scaling(
    points: ScalingPoints,
    *,
    approaches: Sequence[str] | None = None,
    budget: float | None = None,
    bootstrap: int = 0,
    level: float = 0.95,
    method: str = "akima",
    tolerance: float = DEFAULT_TOLERANCE,
    loss_noise: float = DEFAULT_LOSS_NOISE,
    isoflop_resamples: int = DEFAULT_RESAMPLES,
    grid: str | dict[str, Sequence[float]] = "full",
    seed: int = 0,
    budget_rule: str = "auto",
) -> dict[str, Any]:
    """Approach 3 (parametric) and Approach 2 (IsoFLOP) over ``points``.

    ``approaches`` None fits whichever the points allow and says in ``"skipped"`` why a fit was
    not made; naming an approach makes its failure an error (ScalingInputError).
    ``budget_rule`` (BUDGET_RULES): Approach 2's budgets are the final computes grouped within
    ``tolerance``; ``"interpolate"`` reads every run's loss curve at each budget it reached,
    ``"tolerance"`` takes each run at its final compute only, ``"auto"`` interpolates where the
    points carry curves (runs with a compute axis). ``result["approach2"]["budget_rule"]`` names
    the rule used.
    """
    asked = approaches is not None
    chosen = list(APPROACHES if approaches is None else approaches)
    unknown = [name for name in chosen if name not in APPROACHES]
    if unknown or not chosen:
        raise ScalingInputError(f"approaches must be among {', '.join(APPROACHES)}, got {chosen}")
    if budget is not None and not budget > 0:
        raise ScalingInputError(f"budget must be > 0 FLOPs, got {budget!r}")
    if budget_rule not in BUDGET_RULES:
        raise ScalingInputError(
            f"budget_rule must be one of {', '.join(BUDGET_RULES)}, got {budget_rule!r}"
        )
    if budget_rule == "interpolate" and points.curves is None:
        raise ScalingInputError(
            "budget_rule 'interpolate' needs each run's loss against compute: give run "
            "directories whose rows log the tokens seen (or use the tolerance rule)"
        )
    if budget_rule == "auto":
        budget_rule = "tolerance" if points.curves is None else "interpolate"
    result: dict[str, Any] = {
        "points": {
            "n_points": len(points),
            "convention": points.convention,
            "budget_tolerance": tolerance,
            "budget_rule": budget_rule,
            "left_out": list(points.left_out),
        },
        "skipped": {},
    }
    fits = {
        "approach3": lambda: _approach3(points, grid, bootstrap, level, seed, budget, tolerance),
        "approach2": lambda: _approach2(
            points,
            budget,
            budget_rule,
            tolerance,
            method=method,
            loss_noise=loss_noise,
            resamples=isoflop_resamples,
            seed=seed,
        ),
    }
    for name in ("3", "2"):
        if name not in chosen:
            continue
        key = f"approach{name}"
        try:
            result[key] = fits[key]()
        except ScalingInputError as error:
            if asked:
                raise
            result["skipped"][key] = str(error)
    if "approach2" not in result and "approach3" not in result:
        reasons = "; ".join(f"{key}: {text}" for key, text in result["skipped"].items())
        raise ScalingInputError(f"no fit was possible ({reasons})")
    return result


def scaling_table(result: dict[str, Any]) -> str:
    """The fitted numbers as aligned text."""
    settings = result["points"]
    lines = [
        f"points: {settings['n_points']} (compute: {settings['convention']}; IsoFLOP budgets: "
        f"{BUDGET_RULE_TEXT[settings.get('budget_rule', 'tolerance')]})"
    ]
    lines += [f"  left out: {reason}" for reason in settings.get("left_out", [])]
    three = result.get("approach3")
    if three:
        intervals = three.get("intervals") or {}
        lines += ["", "Approach 3: L(N, D) = E + A/N^alpha + B/D^beta (Huber, L-BFGS from a grid)"]
        for key in ("E", "A", "B", "alpha", "beta", "a", "b"):
            value = f"  {key:<6} {_number(three[key])}"
            if key in intervals:
                low, high = intervals[key]
                value += f"   [{_number(low)}, {_number(high)}]"
            lines.append(value)
        lines.append(f"  objective {three['objective']:.6g} over {three['n_points']} points")
        if "budget" in three:
            budget = three["budget"]
            lines.append(
                f"  at C = {budget['compute']:.3g} FLOPs: N* = {budget['n_opt']:.4g}, "
                f"D* = {budget['d_opt']:.4g}, loss {budget['loss']:.4f}"
            )
    two = result.get("approach2")
    if two:
        lines += ["", f"Approach 2: IsoFLOP ({two['method']}), N* = k C^a: a = {two['a']:.4f}"]
        lines.append(f"  {'compute':>10} {'runs':>5} {'N*':>10} {'D*':>10} {'loss*':>8}")
        for budget in two["budgets"]:
            if budget["used"]:
                lines.append(
                    f"  {budget['compute']:>10.3g} {budget['n_points']:>5} "
                    f"{budget['n_opt']:>10.4g} {budget['d_opt']:>10.4g} {budget['loss_opt']:>8.4f}"
                )
            else:
                lines.append(
                    f"  {budget['compute']:>10.3g} {budget['n_points']:>5}   left out: "
                    f"{budget['reason']}"
                )
        if "budget" in two:
            lines.append(
                f"  at C = {two['budget']['compute']:.3g} FLOPs: N* = {two['budget']['n_opt']:.4g}"
            )
    for key, reason in result.get("skipped", {}).items():
        lines += ["", f"{key} not fitted: {reason}"]
    return "\n".join(lines)


def _approach3(
    points: ScalingPoints,
    grid: str | dict[str, Sequence[float]],
    bootstrap: int,
    level: float,
    seed: int,
    budget: float | None,
    tolerance: float,
) -> dict[str, Any]:
    if len(points) >= MIN_POINTS and len(budget_values(points.c, tolerance)[1]) < 2:
        raise ScalingInputError(
            "the parametric fit (Approach 3) needs runs at 2 or more computes (beyond the "
            "tolerance of each other): at one compute N and D move together, so A/N^alpha and "
            "B/D^beta cannot be told apart"
        )
    fit = fit_parametric(points.n, points.d, points.loss, grid=_grid(grid))
    section = fit.as_dict()
    if bootstrap:
        section["intervals"] = bootstrap_parametric(
            fit, points.n, points.d, points.loss, resamples=bootstrap, level=level, seed=seed
        )
        section["interval_level"] = level
    if budget is not None:
        n_opt, d_opt = fit.optimal(budget)
        section["budget"] = {
            "compute": budget,
            "n_opt": n_opt,
            "d_opt": d_opt,
            "loss": float(fit.loss(n_opt, d_opt)),
        }
    return section


def _approach2(
    points: ScalingPoints,
    budget: float | None,
    rule: str,
    tolerance: float,
    **options: Any,
) -> dict[str, Any]:
    if rule == "interpolate":
        _, budgets = budget_values(points.c, tolerance)
        # Several points of one run (read at several computes) share its curve: count it once.
        runs = {id(curve): (n, curve) for n, curve in zip(points.n, points.curves, strict=True)}
        sizes, curves = zip(*runs.values(), strict=True)
        groups = budget_groups(sizes, curves, budgets, tolerance)
        isoflop = fit_budget_groups(groups, budget_rule=rule, **options)
    else:
        isoflop = fit_isoflop(
            points.n, points.d, points.loss, points.c, tolerance=tolerance, **options
        )
    section = isoflop.as_dict()
    if budget is not None:
        section["budget"] = {"compute": budget, "n_opt": isoflop.n_opt(budget)}
    return section


def _grid(grid: str | dict[str, Sequence[float]]) -> dict[str, Sequence[float]]:
    if isinstance(grid, dict):
        return grid
    if grid not in GRIDS:
        raise ScalingInputError(f"grid must be one of {', '.join(GRIDS)}, got {grid!r}")
    return GRIDS[grid]


def _number(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.4g}"
