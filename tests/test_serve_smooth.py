"""The time-weighted EMA (hf_tracking.metrics.time_ema) and the dashboard slider's τ
(hf_tracking.serve.smooth), on numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hf_tracking.metrics.time_ema import ema
from hf_tracking.serve.smooth import tau_of


def reference(x: np.ndarray, y: np.ndarray, tau: float) -> np.ndarray:
    """The defining integral, by a fine trapezoid rule over the straight lines between points."""
    out = [y[0]]
    for end in range(1, len(x)):
        t = np.linspace(x[0], x[end], 20_001)
        values = np.interp(t, x[: end + 1], y[: end + 1]) * np.exp(-(x[end] - t) / tau)
        weights = np.exp(-(x[end] - t) / tau)
        out.append(np.trapezoid(values, t) / np.trapezoid(weights, t))
    return np.array(out)


def test_same_curve_sampled_at_two_spacings_smooths_to_the_same_values():
    coarse_x = np.arange(0.0, 1001.0, 10.0)
    rng = np.random.default_rng(0)
    coarse_y = 3.0 + rng.normal(size=len(coarse_x))
    fine_x = np.arange(0.0, 1001.0, 1.0)  # the same piecewise-linear curve, ten times denser
    fine_y = np.interp(fine_x, coarse_x, coarse_y)
    tau = 25.0
    coarse = ema(coarse_x, coarse_y, tau)
    fine = ema(fine_x, fine_y, tau)
    assert fine[::10] == pytest.approx(coarse, rel=1e-9, abs=1e-12)
    assert np.std(coarse) > 0.05  # the values do vary: the match is not of a flat line


def test_irregular_spacing_matches_the_integral():
    x = np.array([0.0, 1.0, 1.5, 4.0, 4.1, 9.0, 30.0])
    y = np.array([5.0, 4.0, 4.5, 2.0, 3.0, 1.0, 0.5])
    assert ema(x, y, 3.0) == pytest.approx(reference(x, y, 3.0), rel=1e-6)


def test_first_point_is_kept_and_a_constant_stays_constant():
    x = np.cumsum(np.random.default_rng(1).uniform(0.1, 5.0, size=500))
    smoothed = ema(x, np.full(500, 2.5), 7.0)
    assert smoothed == pytest.approx(np.full(500, 2.5), rel=1e-12)
    # A learning rate held flat stays exactly flat (a panel's y-axis would show the rounding).
    assert np.array_equal(ema(x, np.full(500, 3e-4), 7.0), np.full(500, 3e-4))
    assert ema(np.array([0.0, 1.0]), np.array([9.0, 1.0]), 1.0)[0] == 9.0


def test_a_window_of_the_full_series_is_the_same_curve():
    """Smoothing the full series and cutting a zoom window gives the window's values unchanged,
    whichever block boundaries the vectorised recurrence used (a long series spans many)."""
    x = np.arange(40_000, dtype=np.float64)
    y = np.sin(x / 300.0) + 0.1 * np.random.default_rng(2).normal(size=len(x))
    tau = 50.0
    full = ema(x, y, tau)
    stepwise = np.empty_like(y)  # the plain recurrence, one point at a time, on a slice
    lo, hi = 30_000, 30_400
    num = den = 0.0
    for i in range(lo - 3000, hi):
        d = math.exp(-1.0 / tau)
        ramp = (1 - (1 + 1 / tau) * d) * tau  # (1 - (1 + r) e^{-r}) / r for r = 1/tau
        num = d * num + y[i] * (1 - d) - (y[i] - y[i - 1]) * ramp
        den = d * den + (1 - d)
        stepwise[i] = num / den
    assert stepwise[lo:hi] == pytest.approx(full[lo:hi], rel=1e-9)


def test_duplicate_x_and_long_gaps_stay_finite():
    x = np.array([0.0, 0.0, 1.0, 1.0, 1e6, 1e6 + 1])
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    out = ema(x, y, 0.5)
    assert np.all(np.isfinite(out))
    assert out[4] == pytest.approx(5.0)  # the gap forgets everything before it


def test_tau_of_reads_the_slider():
    assert tau_of(0.0, 100.0) is None
    assert tau_of(0.5, 0.0) is None
    assert tau_of(0.9, 1000.0) == pytest.approx(1000.0 / (1000.0 * -math.log(math.sqrt(0.9))))
    with pytest.raises(ValueError, match="smoothing"):
        tau_of(1.0, 10.0)
    with pytest.raises(ValueError, match="tau"):
        ema(np.zeros(3), np.zeros(3), 0.0)
