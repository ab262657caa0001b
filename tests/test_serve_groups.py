"""The workspace's groups (/api/groups) and smoothing on zoom, on numbers: a group's mean and band
are hf_tracking.analysis.groups' maths over the runs' rows, and a zoom reuses the smoothed curve
of the whole view, kept in a cache of bounded size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_tracking.analysis.groups import mean_band
from hf_tracking.metrics.time_ema import ema
from hf_tracking.serve import api
from hf_tracking.serve.runs import RunCatalog
from hf_tracking.serve.smoothed import SmoothCache
from tests.support.dashboard import seed_run
from tests.test_serve_api import get, get_json
from tests.test_serve_api import serve as serve  # the fixture

STEP, LOSS = "time/gradient_steps", "train/loss"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    """Three runs of one config that differ in the seed, and one of another learning rate."""
    directory = tmp_path_factory.mktemp("seeds")
    for seed in range(3):
        seed_run(directory, f"s{seed}", seed)
    seed_run(directory, "other", 0, steps=40, learning_rate=3e-3)
    return directory


def rows(directory, name: str) -> tuple[np.ndarray, np.ndarray]:
    with open(directory / name / "metrics.jsonl") as stream:
        found = [json.loads(line) for line in stream]
    train = [row for row in found if row.get("event", "train") == "train" and LOSS in row]
    return np.array([row[STEP] for row in train]), np.array([row[LOSS] for row in train])


def test_seed_groups_are_the_mean_and_band_of_their_runs(seeds, serve):
    url = serve(seeds) + "api/groups?" + "&".join(f"run={n}" for n in ("s0", "s1", "s2", "other"))
    answer = get_json(url + "&by=seed&points=50")
    assert [group["runs"] for group in answer["groups"]] == [["s0", "s1", "s2"], ["other"]]
    group = answer["groups"][0]
    assert group["label"] == "s0 + 2 seeds" and group["count"] == 3
    expected = mean_band([rows(seeds, f"s{seed}") for seed in range(3)], "minmax", 50)
    for name in ("x", "mean", "low", "high"):
        assert group["line"][name] == pytest.approx(expected[name].tolist(), rel=1e-12)
    assert group["line"]["x"][-1] == 40  # the span every run covers
    assert max(np.subtract(group["line"]["high"], group["line"]["low"])) > 0.05  # a band

    # By a config field: one group per value; the standard-error band.
    by_rate = get_json(url + "&by=learning_rate&band=se&points=20")
    assert [g["label"] for g in by_rate["groups"]] == [
        "learning_rate=0.0003",
        "learning_rate=0.003",
    ]
    assert by_rate["groups"][0]["runs"] == ["s0", "s1", "s2"]
    expected = mean_band([rows(seeds, f"s{seed}") for seed in range(3)], "se", 20)
    assert by_rate["groups"][0]["line"]["low"] == pytest.approx(expected["low"].tolist())

    # Smoothed: the mean of the runs' time-weighted EMAs, with the raw mean beside it.
    smooth = get_json(url + "&by=seed&points=50&smooth=0.6")
    tau = smooth["tau"]
    curves = []
    for seed in range(3):
        xs, ys = rows(seeds, f"s{seed}")
        curves.append((xs, ema(xs, ys, tau)))
    expected = mean_band(curves, "minmax", 50)
    assert smooth["groups"][0]["line"]["mean"] == pytest.approx(expected["mean"].tolist())
    assert smooth["groups"][0]["raw"] == pytest.approx(group["line"]["mean"])

    for bad, said in (
        ("&band=wide", b"band must be"),
        ("&by=" + "x" * 300, b"by must be"),
        ("&x=epochs", b"x must"),
    ):
        status, body = get(url + bad)
        assert status == 400 and said in body, body


def test_a_zoom_reuses_the_whole_view_s_smoothed_curve(seeds):
    catalog = RunCatalog([seeds])
    cache = SmoothCache()
    query = {"run": ["s0", "s2"], "y": [LOSS], "smooth": ["0.7"], "points": ["1000"]}
    whole = api.series(catalog, query, cache)
    zoom = api.series(catalog, {**query, "lo": ["10"], "hi": ["20"]}, cache)
    assert (cache.misses, cache.hits) == (2, 2)  # smoothed once per run
    assert zoom["tau"] == whole["tau"]
    for full, part in zip(whole["runs"], zoom["runs"], strict=True):
        at = dict(zip(full["line"]["x"], full["line"]["smooth"], strict=True))
        shared = [x for x in part["line"]["x"] if 10 <= x <= 20]
        assert len(shared) >= 10
        assert [at[x] for x in shared] == [
            dict(zip(part["line"]["x"], part["line"]["smooth"], strict=True))[x] for x in shared
        ]
        # and without the cache, the same values
    again = api.series(catalog, {**query, "lo": ["10"], "hi": ["20"]})
    assert again["runs"][0]["line"]["smooth"] == zoom["runs"][0]["line"]["smooth"]


def test_the_smoothed_cache_stays_within_its_bytes():
    cache = SmoothCache(max_bytes=3 * 8 * 1000)  # three curves of 1,000 rows
    xs = np.arange(1000.0)
    for number in range(10):
        cache.smoothed(("run", number), xs, np.sin(xs / (number + 1)), 5.0)
        assert cache.nbytes <= cache.max_bytes
    assert len(cache) == 3 and cache.nbytes == 3 * 8 * 1000
    cache.smoothed(("run", 7), xs, np.sin(xs / 8), 5.0)  # kept: a hit, now the newest
    assert cache.hits == 1
    cache.smoothed(("run", 10), xs, np.sin(xs / 11), 5.0)  # drops the oldest, 8
    cache.smoothed(("run", 7), xs, np.sin(xs / 8), 5.0)
    assert cache.hits == 2
    big = cache.smoothed(("big",), np.arange(5000.0), np.ones(5000), 5.0)  # over the budget
    assert len(big) == 5000 and len(cache) == 3 and cache.nbytes <= cache.max_bytes
    grown = cache.smoothed(("run", 7), np.arange(1001.0), np.sin(np.arange(1001.0) / 8), 5.0)
    assert len(grown) == 1001  # a run that grew is smoothed again, not served stale
    with pytest.raises(ValueError, match="max_bytes"):
        SmoothCache(max_bytes=-1)
