"""The health rules on plain numbers, and the detector state a resume keeps."""

from __future__ import annotations

import math

import pytest

from hf_tracking import ConfigError, ExperimentConfig
from hf_tracking.engine.health import HealthMonitor
from hf_tracking.metrics.layer_cadence import LayerCadence, nice_spacing
from hf_tracking.metrics.layer_norms import block_norms, clip_coefficient, layer_norms
from hf_tracking.metrics.spikes import (
    mean_and_std,
    ratio_rule,
    ratio_window_size,
    wait_share_pct,
    zscore_rule,
)


def test_ratio_rule_is_llm_foundrys_outlier_test():
    assert ratio_rule(4.0, [2.0, 2.0], 2.0) == (True, 2.0, 4.0)
    assert not ratio_rule(3.9, [2.0, 2.0], 2.0).outlier
    assert ratio_window_size(100, None) == 100
    assert ratio_window_size(100, 10_000) == 500  # 5% of the run when that is more


def test_zscore_rule_is_olmo_cores_stability_test():
    window = [1.0, 3.0] * 10
    mean, std = mean_and_std(window)
    assert (mean, std) == (2.0, 1.0)
    assert zscore_rule(8.1, window, 6.0) == (True, 2.0, 8.0)
    assert not zscore_rule(8.0, window, 6.0).outlier
    assert not zscore_rule(100.0, [1.0] * 10, 6.0).outlier  # no spread: the ratio rule's job


def test_wait_share_and_clip_and_block_norms():
    assert wait_share_pct(1.0, 3.0) == 25.0
    assert wait_share_pct(0.0, 0.0) is None
    assert clip_coefficient(4.0, 1.0) == pytest.approx(0.25)
    assert clip_coefficient(0.5, 1.0) == 1.0
    assert clip_coefficient(4.0, None) == 1.0
    assert block_norms(9.0, 1.0, 4.0, clip=0.5) == {
        "grad_norm": 6.0,
        "param_norm": 2.0,
        "update_norm": 1.0,
        "update_ratio": 0.5,
    }
    per_block, total = layer_norms(["a", "b"], [9.0, 16.0], [0.0, 1.0], [1.0, 3.0])
    assert per_block["b"]["grad_norm"] == 4.0
    assert total["grad_norm"] == 5.0 and total["param_norm"] == 2.0


def monitor(**fields):
    config = ExperimentConfig(
        spike_window=10, zscore_min_values=10, zscore_window=20, log_every_steps=1, **fields
    )
    return HealthMonitor(config, planned_steps=None)


def feed(health, step, loss, grad_norm=1.0, hidden=0, seconds=None):
    values = {"time/gradient_steps": step, "train/loss": loss, "train/grad_norm": grad_norm}
    return health.check(values, hidden, seconds or {}, [])


def test_a_spike_fires_once_per_episode_and_again_after_it_clears():
    health = monitor()
    for step in range(1, 21):
        assert feed(health, step, 3.0 + 0.01 * (step % 3)) == []
    fired = [kind for step in range(21, 27) for kind in _kinds(feed(health, step, 30.0))]
    assert fired == ["loss_spike"]  # the z-score rule at once; the episode then goes on
    for step in range(27, 60):
        feed(health, step, 3.0 + 0.01 * (step % 3))
    assert "loss_spike" not in health.open
    assert _kinds(feed(health, 60, 300.0)) == ["loss_spike"]
    assert health.alerts[0]["step"] == 21 and health.alerts[0]["baseline"] == pytest.approx(
        3.01, abs=0.01
    )


def test_ratio_rule_needs_its_patience():
    health = monitor(zscore_sigmas=1000.0, spike_patience=3)
    for step in range(1, 11):
        feed(health, step, 2.0)
    steps = [step for step in range(11, 16) if _kinds(feed(health, step, 5.0))]
    assert steps == [13]  # the third outlier in a row


def test_nonfinite_and_input_bound():
    health = monitor(input_bound_rows=2)
    assert _kinds(feed(health, 1, 2.0, hidden=1)) == ["nonfinite_loss"]
    assert _kinds(feed(health, 2, math.nan, grad_norm=math.inf)) == ["nonfinite_grad_norm"]
    assert health.alerts[0]["message"].startswith("nonfinite_loss at step 1: 1 micro-batch")
    assert feed(health, 3, 2.0, seconds={"data_wait": 0.0, "train": 0.0}) == []
    assert feed(health, 4, 2.0, seconds={"data_wait": 1.0, "train": 9.0}) == []  # 10%
    fired = feed(health, 5, 2.0, seconds={"data_wait": 5.0, "train": 12.0})
    # Over the last two rows: 5 s of waiting in 17 s.
    assert _kinds(fired) == ["input_bound"] and fired[0]["value"] == pytest.approx(500 / 17)


def test_the_last_good_checkpoint_is_the_last_one_before_the_alert():
    health = monitor(on_alert="stop")
    checkpoints = [{"path": "a", "step": 5}, {"path": "b", "step": 10}]
    values = {"time/gradient_steps": 10, "train/loss": math.nan}
    (alert,) = health.check(values, 0, {}, checkpoints)
    assert alert["checkpoint"] == "a" and health.stop is alert


def test_detector_state_survives_a_resume():
    health = monitor()
    for step in range(1, 21):
        feed(health, step, 3.0 + 0.01 * (step % 3))
    feed(health, 21, 30.0)
    resumed = monitor(on_alert="stop")
    resumed.load_state_dict(health.state_dict())
    assert resumed.alerts == health.alerts
    # Armed again: a spike still there after the resume is reported (and acted on) again,
    # against the baseline from before it.
    (again,) = feed(resumed, 22, 30.0)
    assert again["baseline"] == health.alerts[0]["baseline"] and resumed.stop is again
    assert list(resumed.watches["train/loss"].values) == list(health.watches["train/loss"].values)
    with pytest.raises(ConfigError, match="health"):
        monitor().load_state_dict({"windows": {"train/loss": ["x"]}})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("on_alert", "explode"),
        ("spike_ratio", 1.0),
        ("spike_patience", 0),
        ("input_bound_rows", 0),
        ("track_layers_every", 0),
    ],
)
def test_bad_health_fields_are_config_errors(field, value):
    with pytest.raises(ConfigError, match=field):
        ExperimentConfig(**{field: value})


def test_per_block_norms_are_spaced_within_their_budget():
    cadence = LayerCadence()
    assert [step for step in range(1, 4) if cadence.due(step)] == [1, 2, 3]  # first take: any
    # 300 us a take, 17 ms steps: 0.02% of a step is 3.4 us, below the 5 us floor -> 60 -> 100.
    assert cadence.taken(300e-6, 0.017) == 100
    assert [step for step in range(1, 301) if cadence.due(step)] == [100, 200, 300]
    # A preempted take (the scheduler, not the work) does not widen the spacing: least of three.
    assert cadence.taken(3e-3, 0.017) is None and cadence.spacing == 100
    # Slow steps (GPT-2 small on the CPU): 0.02% of a 2 s step is 0.4 ms; 0.36 s -> 900 -> 1000.
    assert LayerCadence().taken(0.36, 2.0) == 1000
    # A GPU step of 0.1 s: 20 us a step; a take of 1 ms of launches -> 50.
    assert LayerCadence().taken(1e-3, 0.1) == 50
    fixed = LayerCadence(every=1)
    assert fixed.taken(1.0, 0.001) is None and all(fixed.due(step) for step in range(1, 9))
    spacings = [nice_spacing(x) for x in (0.2, 1, 1.5, 3, 7, 11, 49, 51)]
    assert spacings == [1, 1, 2, 5, 10, 20, 50, 100]


def _kinds(alerts):
    return [alert["kind"] for alert in alerts]
