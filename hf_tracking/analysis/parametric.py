"""Approach 3 of Hoffmann et al. (2022): the parametric loss L(N, D) = E + A/N^α + B/D^β.

Fitted as Hoffmann et al. (arXiv:2203.15556, appendix D.2) and Besiroglu et al.
(arXiv:2404.10102) do: in log space, log L ≈ LSE(a − α log N, b − β log D, e) with A = eᵃ,
B = eᵇ, E = eᵉ; a Huber loss (δ = 1e-3) on the residuals; L-BFGS from every point of a grid of
starting values (their grid: α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1}, a, b ∈ {0, 5, …, 25}),
keeping the lowest optimum. scipy's L-BFGS-B is the optimiser, with the exact gradient written
out below. Compute-optimal allocation under C = 6ND: N* ∝ C^a, D* ∝ C^b with a = β/(α+β),
b = α/(α+β).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from hf_tracking.analysis.options import ScalingInputError
from hf_tracking.analysis.points import positive_array

HUBER_DELTA = 1e-3
GRID = {
    "alpha": np.arange(0.0, 2.5, 0.5),
    "beta": np.arange(0.0, 2.5, 0.5),
    "e": np.arange(-1.0, 1.5, 0.5),
    "a": np.arange(0.0, 30.0, 5.0),
    "b": np.arange(0.0, 30.0, 5.0),
}
# A quick grid (108 starts) for a first look or a small set of runs.
COARSE_GRID = {
    "alpha": (0.5, 1.0),
    "beta": (0.5, 1.0),
    "e": (-1.0, 0.0, 1.0),
    "a": (0.0, 10.0, 20.0),
    "b": (0.0, 10.0, 20.0),
}
GRIDS = {"full": GRID, "coarse": COARSE_GRID}
MIN_POINTS = 6  # five parameters; one point more than that at the very least
INTERVAL_KEYS = ("A", "B", "E", "alpha", "beta", "a", "b")


@dataclasses.dataclass(frozen=True)
class ParametricFit:
    """The fitted L(N, D) = E + A/N^α + B/D^β and how it was found."""

    A: float
    B: float
    E: float
    alpha: float
    beta: float
    objective: float
    n_points: int
    starts: int

    @property
    def a(self) -> float:
        """Exponent of N* ∝ C^a."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of D* ∝ C^b."""
        return self.alpha / (self.alpha + self.beta)

    def loss(self, n: Any, d: Any) -> Any:
        n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    def optimal(self, compute: float, flops_per_param_token: float = 6.0) -> tuple[float, float]:
        """(N*, D*) minimising L(N, D) under C = k·N·D (k = 6 by default).

        From dL/dN = 0 along D = C/(kN): N* = G (C/k)^a, D* = (C/k)^b / G,
        G = (αA / βB)^(1/(α+β)) (Hoffmann et al., eq. 4)."""
        if not compute > 0:
            raise ValueError(f"compute must be > 0, got {compute!r}")
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))
        scaled = compute / flops_per_param_token
        return g * scaled**self.a, scaled**self.b / g

    def as_dict(self) -> dict[str, float | int]:
        values = dataclasses.asdict(self)
        values.update(a=self.a, b=self.b)
        return values


def log_space_objective(
    params: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_loss: np.ndarray, delta: float
) -> tuple[float, np.ndarray]:
    """Sum of Huber(LSE(a − α log N, b − β log D, e) − log L) and its gradient in
    (a, b, e, α, β)."""
    a, b, e, alpha, beta = params
    first = a - alpha * log_n
    second = b - beta * log_d
    top = np.maximum(np.maximum(first, second), e)
    w1, w2, w3 = np.exp(first - top), np.exp(second - top), np.exp(e - top)
    total = w1 + w2 + w3
    residual = top + np.log(total) - log_loss
    size = np.abs(residual)
    value = np.where(size <= delta, 0.5 * residual * residual, delta * (size - 0.5 * delta)).sum()
    # Huber's derivative times d(LSE)/d(term), the softmax of the three terms
    slope = np.clip(residual, -delta, delta) / total
    s1, s2 = slope * w1, slope * w2
    gradient = np.array(
        (s1.sum(), s2.sum(), (slope * w3).sum(), -np.dot(s1, log_n), -np.dot(s2, log_d))
    )
    return float(value), gradient


def fit_parametric(
    n: Sequence[float],
    d: Sequence[float],
    loss: Sequence[float],
    *,
    delta: float = HUBER_DELTA,
    grid: dict[str, Sequence[float]] | None = None,
) -> ParametricFit:
    """L-BFGS from every start of ``grid`` (:data:`GRID` by default); the lowest optimum wins."""
    log_n, log_d, log_loss = _logs(n, d, loss)
    grid = GRID if grid is None else grid
    starts = [
        np.array((a, b, e, alpha, beta))
        for alpha, beta, e, a, b in itertools.product(
            grid["alpha"], grid["beta"], grid["e"], grid["a"], grid["b"]
        )
    ]
    best = _best(starts, (log_n, log_d, log_loss, delta))
    return _fit_from(best, len(log_n), len(starts))


def bootstrap_parametric(
    fit: ParametricFit,
    n: Any,
    d: Any,
    loss: Any,
    *,
    resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
    delta: float = HUBER_DELTA,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of A, B, E, α, β, a and b over fits to the points resampled with
    replacement, each resample's fit started from ``fit`` (as Besiroglu et al. do)."""
    if not (isinstance(resamples, int) and resamples >= 2 and 0 < level < 1):
        raise ScalingInputError(
            f"bootstrap needs resamples >= 2 and 0 < level < 1, got {resamples!r} and {level!r}"
        )
    log_n, log_d, log_loss = _logs(n, d, loss)
    rng = np.random.default_rng(seed)
    values = {key: [] for key in INTERVAL_KEYS}
    for _ in range(resamples):
        rows = rng.integers(0, len(log_n), len(log_n))
        data = (log_n[rows], log_d[rows], log_loss[rows], delta)
        sample = _fit_from(_best([_start(fit)], data), len(rows), 1).as_dict()
        for key in INTERVAL_KEYS:
            values[key].append(sample[key])
    tail = 100.0 * (1.0 - level) / 2.0
    return {
        key: (float(np.percentile(v, tail)), float(np.percentile(v, 100.0 - tail)))
        for key, v in values.items()
    }


def _start(fit: ParametricFit) -> np.ndarray:
    return np.array((math.log(fit.A), math.log(fit.B), math.log(fit.E), fit.alpha, fit.beta))


def _best(starts: list[np.ndarray], data: tuple) -> Any:
    # scipy's L-BFGS-B calls BLAS on vectors of five: OpenBLAS's threads only spin there and
    # cost many times the fit's own CPU time, so it runs on one thread.
    with threadpool_limits(limits=1, user_api="blas"):
        return _lowest(starts, data)


def _lowest(starts: list[np.ndarray], data: tuple) -> Any:
    best = None
    for start in starts:
        result = minimize(
            log_space_objective,
            start,
            args=data,
            jac=True,
            method="L-BFGS-B",
        )
        if np.all(np.isfinite(result.x)) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise ScalingInputError("the parametric fit found no finite optimum")
    return best


def _fit_from(result: Any, n_points: int, starts: int) -> ParametricFit:
    a, b, e, alpha, beta = (float(value) for value in result.x)
    return ParametricFit(
        A=math.exp(a),
        B=math.exp(b),
        E=math.exp(e),
        alpha=alpha,
        beta=beta,
        objective=float(result.fun),
        n_points=n_points,
        starts=starts,
    )


def _logs(n: Any, d: Any, loss: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, d, loss = positive_array(n, "N"), positive_array(d, "D"), positive_array(loss, "loss")
    if not len(n) == len(d) == len(loss):
        raise ScalingInputError(
            f"N, D and loss must have the same length, got {len(n)}, {len(d)} and {len(loss)}"
        )
    if len(n) < MIN_POINTS:
        raise ScalingInputError(
            f"the parametric fit (Approach 3) needs at least {MIN_POINTS} runs, got {len(n)}"
        )
    return np.log(n), np.log(d), np.log(loss)
