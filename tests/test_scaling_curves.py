"""Loss curves over compute and Approach 2 read on them (hf_tracking.analysis.loss_curves), on numbers."""

from __future__ import annotations

import numpy as np
import pytest

from hf_tracking.analysis.loss_curves import LossCurve, NotReached, budget_groups, loss_curve
from hf_tracking.analysis.options import ScalingInputError
from hf_tracking.analysis.parametric import ParametricFit
from hf_tracking.analysis.points import ScalingPoints
from hf_tracking.analysis.scaling import fit_scaling

TRUTH = ParametricFit(
    A=400.0, B=1200.0, E=1.7, alpha=0.34, beta=0.30, objective=0, n_points=0, starts=0
)


def test_a_run_counts_for_every_budget_its_curve_reached():
    curve = LossCurve(np.array([1.0, 10.0, 100.0]), np.array([4.0, 3.0, 2.0]), per_token=2.0)
    groups = budget_groups([5.0], [curve], [10.0, np.sqrt(1000.0), 105.0, 200.0, 0.5], 0.1)
    (c1, n1, d1, l1), (_, _, _, l2), (_, _, d3, l3), (_, n4, _, _), (_, n5, _, _) = groups
    assert c1 == 10.0 and list(n1) == [5.0] and list(d1) == [5.0] and list(l1) == [3.0]
    assert l2 == pytest.approx([2.5])  # halfway in ln(compute) between two rows
    assert list(d3) == [50.0] and list(l3) == [2.0]  # 5% past its end: read at its end
    assert len(n4) == 0 and len(n5) == 0  # beyond its end, before its start
    with pytest.raises(NotReached, match="outside the curve"):
        curve.at(200.0)
    assert issubclass(NotReached, ValueError)


def test_interpolated_budgets_recover_a_known_exponent_where_final_computes_cannot():
    """One run per size, all to the same final compute, each logging its loss as it trains: the
    final computes make one budget (no fit), the curves make every budget they pass."""
    sizes = np.geomspace(5e6, 5e9, 10)
    final = 3e21
    curves = [_curve(n, np.geomspace(1e17, final, 200)) for n in sizes]
    points = ScalingPoints(
        sizes,
        final / (6 * sizes),
        np.full(len(sizes), final),
        [curve.loss[-1] for curve in curves],
        tuple(f"n{index}" for index in range(len(sizes))),
        "6ND",
        curves=tuple(curves),
    )
    with pytest.raises(ScalingInputError, match="at least 2 budgets"):
        fit_scaling(points, approaches=["2"], budget_rule="tolerance")
    with pytest.raises(ScalingInputError, match="at least 2 budgets"):
        fit_scaling(points, approaches=["2"])  # one budget still: the final computes make it
    # A grid of budgets from runs of several lengths: every run counts for each budget it passed.
    budgets = np.geomspace(1e18, 1e21, 7)
    groups = budget_groups(sizes, curves, budgets, 0.1)
    assert [len(group[1]) for group in groups] == [len(sizes)] * len(budgets)
    runs = [(n, b) for b in budgets for n in sizes]  # each size trained to each budget
    short = [_curve(n, np.geomspace(1e17, b, 100)) for n, b in runs]
    short = ScalingPoints(
        [n for n, _ in runs],
        [b / (6 * n) for n, b in runs],
        [b for _, b in runs],
        [curve.loss[-1] for curve in short],
        tuple(f"{n:.0e}@{b:.0e}" for n, b in runs),
        "6ND",
        curves=tuple(short),
    )
    result = fit_scaling(short, approaches=["2"], loss_noise=0.002)
    two = result["approach2"]
    assert two["budget_rule"] == "interpolate" and result["points"]["budget_rule"] == "interpolate"
    assert two["a"] == pytest.approx(TRUTH.a, abs=0.03)
    # Each budget reads every curve that reached it, not only the runs that ended there.
    assert [b["n_points"] for b in two["budgets"]] == [
        len(sizes) * (len(budgets) - k) for k in range(len(budgets))
    ]


def _curve(n: float, compute: np.ndarray) -> LossCurve:
    """A run of N = n that logged the known law's loss at each compute (6ND)."""
    return LossCurve(compute, TRUTH.loss(n, compute / (6 * n)), per_token=6 * n)


def test_loss_curve_input_errors_are_clear():
    rows = [{"event": "train", "train/loss": 3.0, "time/gradient_steps": 1}]
    with pytest.raises(ScalingInputError, match="no train/loss rows with time/tokens_seen"):
        loss_curve(rows, loss="smoothed_train", per_token=10.0, name="r")
    with pytest.raises(ScalingInputError, match="loss must be one of"):
        loss_curve(rows, loss="median", per_token=10.0)
    with pytest.raises(ScalingInputError, match="smoothing must be > 0"):
        loss_curve(rows, loss="train", per_token=10.0, smoothing=0.0)
    tokens = [{"event": "val", "val/loss": v, "time/tokens_seen": t} for t, v in ((1, 3), (2, 4))]
    assert list(loss_curve(tokens, loss="best_val", per_token=1.0).loss) == [3.0, 3.0]
    with pytest.raises(ScalingInputError, match="needs each run's loss against compute"):
        fit_scaling(
            ScalingPoints([1, 2, 3], [1, 1, 1], [1, 1, 1], [3, 2, 3], ("a", "b", "c"), "csv"),
            budget_rule="interpolate",
        )
