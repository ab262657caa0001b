"""Seed groups: grouping by config without the seed, the mean curve with its band, and
``hf-tracking compare --group`` drawing them (and loss against compute)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hf_tracking import ExperimentTracker
from hf_tracking.analysis.groups import flatten, mean_band, seed_groups
from hf_tracking.backends.local import LocalRunStore
from hf_tracking.cli import main
from tests.support.reporting import assert_plot_image, run_config


def test_runs_differing_only_in_the_seed_form_a_group():
    configs = {
        "a0": {"learning_rate": 1e-3, "trainer": {"seed": 0, "output_dir": "a0"}},
        "a1": {"learning_rate": 1e-3, "trainer": {"seed": 1, "output_dir": "a1"}},
        "b0": {"learning_rate": 3e-3, "trainer": {"seed": 0, "output_dir": "b0"}},
        "b1": {"learning_rate": 3e-3, "trainer": {"seed": 1, "output_dir": "b1"}},
    }
    assert seed_groups(configs) == [["a0", "a1"], ["b0", "b1"]]
    assert seed_groups(configs, ["seed", "learning_rate"]) == [["a0", "a1", "b0", "b1"]]
    assert seed_groups(configs, []) == [["a0"], ["a1"], ["b0"], ["b1"]]  # the seed counts
    same = {name: {"trainer": {"output_dir": name}} for name in ("x", "y")}
    assert seed_groups(same, []) == [["x", "y"]]  # a run's own paths never count
    assert flatten({"a": {"b": [1, 2]}}) == {"a.b": (1, 2)}


def test_curves_are_interpolated_onto_a_common_x_before_averaging():
    first = ([0, 10, 20], [4.0, 3.0, 2.0])
    second = ([5, 15, 25], [4.0, 2.0, 0.0])  # logged at other steps
    result = mean_band([first, second], points=3)
    assert result["runs"] == 2
    assert result["x"].tolist() == [5.0, 12.5, 20.0]  # where both curves have data
    expected_first, expected_second = np.array([3.5, 2.75, 2.0]), np.array([4.0, 2.5, 1.0])
    assert result["mean"] == pytest.approx((expected_first + expected_second) / 2)
    assert result["low"] == pytest.approx(np.minimum(expected_first, expected_second))
    assert result["high"] == pytest.approx(np.maximum(expected_first, expected_second))
    se = mean_band([first, second], band="se", points=3)
    error = np.abs(expected_first - expected_second) / 2  # std (ddof 1) / sqrt(2)
    assert se["high"] - se["mean"] == pytest.approx(error)
    assert mean_band([([0, 1], [1, 1]), ([2, 3], [1, 1])])["x"].size == 0
    with pytest.raises(ValueError, match="band must be one of"):
        mean_band([first], band="iqr")


def _run(output_dir, name: str, rate: float, seed: int) -> None:
    config = run_config(output_dir, name, rate, 30)
    clock = itertools.count(0.0, 0.25).__next__
    tracker = ExperimentTracker(
        config, backends=[LocalRunStore()], clock=clock, extra_config={"seed": seed}
    )
    for step in range(30):
        loss = 1.0 + 4.0 * math.exp(-step * rate / 1e-2) + 0.05 * seed
        tracker.log_train_step(loss, rate, tokens=64 + 8 * seed, iteration=step)
    tracker.finish()


def test_compare_draws_seed_groups_with_a_band_and_loss_against_compute(tmp_path, capsys):
    out = tmp_path / "experiments"
    names = []
    for rate, seed in itertools.product((1e-3, 3e-3), (0, 1, 2)):
        names.append(f"lr{rate}_s{seed}")
        _run(out, names[-1], rate, seed)
    code = main(
        [
            "compare",
            *(str(out / name) for name in names),
            "--output",
            str(tmp_path / "cmp"),
            "--group",
            "--band",
            "se",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "group: lr0.001_s0, lr0.001_s1, lr0.001_s2" in printed
    assert "group: lr0.003_s0, lr0.003_s1, lr0.003_s2" in printed
    assert_plot_image(tmp_path / "cmp" / "compare_groups.png")
    assert "Seed groups:" in (tmp_path / "cmp" / "comparison.md").read_text()


def test_loss_against_compute_uses_the_runs_flops_per_token(tmp_path):
    from hf_tracking.report import load_run
    from hf_tracking.report.plots import loss_axes
    from hf_tracking.report.runs import COMPUTE_AXIS

    _run(tmp_path, "r", 1e-3, 0)
    run = load_run(tmp_path / "r")
    tokens, loss = run.series("time/tokens_seen", "train/loss", "train")
    compute, same = run.series(COMPUTE_AXIS, "train/loss", "train")
    per_token = run.summary["flops"]["flops_per_token"]["total"]
    assert compute == pytest.approx([t * per_token for t in tokens]) and same == loss
    label = loss_axes([run])[-1]
    assert label[0] == COMPUTE_AXIS and "PaLM/nanoGPT" in label[1]
