"""Min/max downsampling of curves for the dashboard: pure numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_tracking.serve.downsample import downsample, minmax_indices, window


def test_short_series_are_returned_whole():
    x = np.arange(10.0)
    xs, ys = downsample(x, x * 2, max_points=40)
    assert xs.tolist() == x.tolist()
    assert ys.tolist() == (x * 2).tolist()


def test_a_long_series_keeps_first_last_and_every_spike_within_budget():
    n = 100_000
    x = np.arange(n, dtype=float)
    y = np.linspace(5.0, 2.0, n)
    y[12_345] = 50.0  # a loss spike one step wide
    y[67_890] = -1.0
    xs, ys = downsample(x, y, max_points=400)
    assert len(xs) <= 400 + 2
    assert xs[0] == 0 and xs[-1] == n - 1
    assert 12_345 in xs and 67_890 in xs
    assert ys.max() == 50.0 and ys.min() == -1.0
    assert np.all(np.diff(xs) > 0)
    assert np.array_equal(ys, y[xs.astype(int)])  # real points, not averages


def test_kept_points_survive_any_budget():
    n = 50_000
    x = np.arange(n, dtype=float)
    keep = np.arange(0, n, 997)
    xs, _ = downsample(x, np.sin(x), max_points=40, keep=keep)
    assert set(keep.tolist()) <= set(xs.astype(int).tolist())


def test_non_finite_points_are_left_out():
    x = np.array([0.0, 1.0, 2.0, 3.0, np.nan])
    y = np.array([1.0, np.nan, np.inf, 4.0, 5.0])
    xs, ys = downsample(x, y)
    assert xs.tolist() == [0.0, 3.0] and ys.tolist() == [1.0, 4.0]


def test_zoom_cuts_to_the_range_with_one_point_either_side_and_shows_more_detail():
    n = 200_000
    x = np.arange(n, dtype=float)
    y = np.random.default_rng(0).normal(size=n)
    full_x, _ = downsample(x, y, max_points=1000)
    zoom_x, zoom_y = downsample(x, y, max_points=1000, lo=1000.0, hi=2000.0)
    assert zoom_x[0] == 999 and zoom_x[-1] == 2001
    inside = (full_x >= 1000) & (full_x <= 2000)
    assert len(zoom_x) > 5 * inside.sum()
    assert np.array_equal(zoom_y, y[zoom_x.astype(int)])


def test_window_on_unsorted_x_falls_back_to_a_mask():
    x = np.array([3.0, 1.0, 2.0, 5.0])
    xs, _ = downsample(x, x, lo=1.5, hi=3.5)
    assert sorted(xs.tolist()) == [2.0, 3.0]


def test_window_bounds():
    x = np.arange(10.0)
    assert window(x, None, None) == (0, 10)
    assert window(x, 3.0, 5.0) == (2, 7)
    assert window(x, 20.0, 30.0) == (9, 10)


def test_bad_budgets_name_the_argument():
    with pytest.raises(ValueError, match="max_points"):
        downsample(np.arange(3.0), np.arange(3.0), max_points=2)
    with pytest.raises(ValueError, match="buckets"):
        minmax_indices(np.arange(3.0), 0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=3000),
    st.integers(4, 200),
)
def test_extremes_and_ends_are_always_kept(values, budget):
    y = np.array(values)
    x = np.arange(len(y), dtype=float)
    xs, ys = downsample(x, y, max_points=budget)
    assert xs[0] == 0 and xs[-1] == len(y) - 1
    assert ys.max() == y.max() and ys.min() == y.min()
    assert len(xs) <= max(budget, 4) + 2 or len(xs) == len(y)
