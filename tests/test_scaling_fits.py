"""The scaling fits against published results and known parameters (hf_tracking.analysis)."""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest

from hf_tracking.analysis.isoflop import fit_isoflop
from hf_tracking.analysis.options import ScalingInputError
from hf_tracking.analysis.parametric import (
    COARSE_GRID,
    ParametricFit,
    bootstrap_parametric,
    fit_parametric,
)
from tests.support.scaling_data import chinchilla, porian_settings

# Besiroglu et al. (2024), Table 1: their Approach 3 fit of the extracted Chinchilla points.
EPOCH = {"A": 482.01, "B": 2085.43, "E": 1.817, "alpha": 0.3478, "beta": 0.3658}


@pytest.fixture(scope="module")
def chinchilla_fit():
    n, d, loss = chinchilla()
    wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
    fit = fit_parametric(n, d, loss)
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu
    print(
        f"\nChinchilla Approach 3, full grid: {time.perf_counter() - wall:.1f} s, user CPU {cpu:.1f} s"
    )
    return fit, (n, d, loss)


def test_approach3_reproduces_epochs_fit_of_chinchilla(chinchilla_fit):
    fit, _ = chinchilla_fit
    assert fit.n_points == 240 and fit.starts == 4500
    published_a = EPOCH["beta"] / (EPOCH["alpha"] + EPOCH["beta"])
    for key, got, want in (
        ("alpha", fit.alpha, EPOCH["alpha"]),
        ("beta", fit.beta, EPOCH["beta"]),
        ("E", fit.E, EPOCH["E"]),
        ("a", fit.a, published_a),
    ):
        assert abs(got - want) <= 0.003, (key, got, want)
    # A and B are poorly pinned down (equally good optima spread them): a few percent.
    assert pytest.approx(EPOCH["A"], rel=0.04) == fit.A
    assert pytest.approx(EPOCH["B"], rel=0.04) == fit.B


def test_bootstrap_intervals_bracket_the_chinchilla_fit(chinchilla_fit):
    fit, (n, d, loss) = chinchilla_fit
    intervals = bootstrap_parametric(fit, n, d, loss, resamples=12, level=0.9, seed=1)
    assert set(intervals) == {"A", "B", "E", "alpha", "beta", "a", "b"}
    for key in ("alpha", "beta", "E", "a"):
        low, high = intervals[key]
        assert low < high, key
        assert low - 0.05 <= getattr(fit, key) <= high + 0.05, (key, low, high)
    assert intervals["a"][0] > 0.4 and intervals["a"][1] < 0.65


def test_the_budgets_optimum_is_the_lowest_loss_on_its_isoflop_line(chinchilla_fit):
    fit, _ = chinchilla_fit
    budget = 5.76e23  # Chinchilla's own budget
    n_opt, d_opt = fit.optimal(budget)
    assert 6 * n_opt * d_opt == pytest.approx(budget)
    best = fit.loss(n_opt, d_opt)
    for factor in (0.9, 0.99, 1.01, 1.1):
        assert fit.loss(n_opt * factor, d_opt / factor) > best
    assert 3e10 < n_opt < 1e11  # Besiroglu et al. put it near 40B for this budget and fit


@pytest.mark.parametrize("noise", [0.0, 0.005])
def test_approach3_recovers_known_parameters(noise):
    truth = ParametricFit(
        A=400.0, B=1200.0, E=1.7, alpha=0.34, beta=0.30, objective=0, n_points=0, starts=0
    )
    rng = np.random.default_rng(3)
    n = np.repeat(np.geomspace(1e7, 3e9, 8), 6)
    d = np.tile(np.geomspace(1e9, 3e11, 6), 8)
    loss = truth.loss(n, d) * np.exp(noise * rng.standard_normal(len(n)))
    fit = fit_parametric(n, d, loss, grid=COARSE_GRID)
    tolerance = 0.002 if noise == 0 else 0.04
    assert fit.alpha == pytest.approx(truth.alpha, abs=tolerance)
    assert fit.beta == pytest.approx(truth.beta, abs=tolerance)
    assert pytest.approx(truth.E, rel=tolerance) == fit.E
    assert fit.a == pytest.approx(truth.a, abs=tolerance)


def test_approach2_reproduces_porians_exponent_in_every_setting():
    misses = {}
    for key, points in porian_settings().items():
        noise = 0.002 if key[0] == "rw" else 0.01  # their seed-noise levels per dataset
        fit = fit_isoflop(
            points["n_params"], points["tokens"], points["loss"], points["flops"], loss_noise=noise
        )
        misses[key] = fit.a - points["a"]
    assert len(misses) == 10
    assert max(abs(miss) for miss in misses.values()) <= 0.03, misses


def test_a_parabola_through_every_point_misses_porians_exponent():
    misses = []
    for points in porian_settings().values():
        fit = fit_isoflop(
            points["n_params"], points["tokens"], points["loss"], points["flops"], method="parabola"
        )
        misses.append(abs(fit.a - points["a"]))
    assert max(misses) > 0.05  # why the Akima interpolation is the default


def test_approach2_recovers_the_exponent_of_a_known_law():
    truth = ParametricFit(
        A=400.0, B=1200.0, E=1.7, alpha=0.34, beta=0.30, objective=0, n_points=0, starts=0
    )
    rng = np.random.default_rng(5)
    rows = []
    for compute in np.geomspace(1e18, 1e21, 7):
        center, _ = truth.optimal(compute)
        for n in center * np.geomspace(0.2, 5.0, 9):
            d = compute / (6 * n)
            rows.append((n, d, compute, truth.loss(n, d) + 0.002 * rng.standard_normal()))
    n, d, c, loss = map(np.array, zip(*rows, strict=True))
    fit = fit_isoflop(n, d, loss, c, loss_noise=0.002)
    assert fit.a == pytest.approx(truth.a, abs=0.03)
    assert all(budget.used for budget in fit.budgets)
    for budget in fit.budgets:
        assert budget.n_opt == pytest.approx(truth.optimal(budget.compute)[0], rel=0.35)


def test_bad_input_is_a_clear_error():
    n, d, loss = [1e6, 2e6, 4e6, 8e6, 1.6e7], [1e9] * 5, [3.0, 2.9, 2.8, 2.7, 2.6]
    with pytest.raises(ScalingInputError, match="at least 6 runs, got 5"):
        fit_parametric(n, d, loss)
    with pytest.raises(ScalingInputError, match=r"loss must be finite and > 0.*row 2"):
        fit_parametric([*n, 1e8], [*d, 1e9], [3.0, -1.0, 2.8, 2.7, 2.6, 2.5])
    with pytest.raises(ScalingInputError, match="same length"):
        fit_parametric([*n, 1e8], d, [*loss, 2.5])
    with pytest.raises(ScalingInputError, match="at least 2 budgets"):
        fit_isoflop(n[:3], d[:3], [3.0, 2.9, 3.0], [1e16] * 3)
    with pytest.raises(ScalingInputError, match="N must be finite"):
        fit_isoflop([0, 1, 2], [1, 1, 1], [1, 1, 1], [1, 1, 1])
    with pytest.raises(ScalingInputError, match="resamples"):
        bootstrap_parametric(
            ParametricFit(1, 1, 1, 0.3, 0.3, 0, 6, 1),
            [*n, 1e8],
            [*d, 1e9],
            [*loss, 2.5],
            resamples=1,
        )


def test_the_objectives_gradient_is_its_derivative():
    from scipy.optimize import approx_fprime

    from hf_tracking.analysis.parametric import log_space_objective

    rng = np.random.default_rng(2)
    log_n, log_d = np.log(rng.uniform(1e7, 1e9, 30)), np.log(rng.uniform(1e9, 1e11, 30))
    log_loss = np.log(rng.uniform(2.0, 3.5, 30))
    for params in ([6.0, 7.5, 0.6, 0.35, 0.36], [1.0, 20.0, -1.0, 0.1, 1.5]):
        for delta in (1e-3, 10.0):  # residuals outside and inside the quadratic part
            data = (log_n, log_d, log_loss, delta)
            _, gradient = log_space_objective(np.array(params), *data)
            numeric = approx_fprime(
                params, lambda p, data=data: log_space_objective(p, *data)[0], 1e-7
            )
            assert gradient == pytest.approx(numeric, rel=1e-4, abs=1e-6)
