"""Efficiency metrics on a tracker driven by a fake clock: ETA after a resume, MFU with and
without a known peak, the ledger through a resume."""

from __future__ import annotations

import pytest

from hf_tracking import ExperimentConfig, ExperimentTracker
from hf_tracking.backends import LocalRunStore
from tests.support.configs import FakeClock, small_config
from tests.support.runs import metrics_rows, strict_json


def config(tmp_path, **overrides) -> ExperimentConfig:
    fields = {
        "log_every_steps": 10,
        "num_iterations": 100,
        "wandb_mode": "disabled",
        "track_memory": False,
        "throughput_window": 10,
    }
    fields.update(overrides)
    return small_config(tmp_path, **fields)


def train(
    tracker: ExperimentTracker, clock: FakeClock, steps: range, seconds_per_step: float
) -> None:
    for iteration in steps:
        clock.now += seconds_per_step
        tracker.log_train_step(loss=1.0, tokens=100, iteration=iteration)


def test_eta_uses_the_resumed_rate(tmp_path):
    clock = FakeClock(1000.0)
    first = ExperimentTracker(config(tmp_path), clock=clock, backends=[LocalRunStore()])
    train(first, clock, range(0, 40), seconds_per_step=1.0)
    assert first.latest_train["progress/eta_hours"] == pytest.approx(60 * 1.0 / 3600)
    state = first.state_dict()
    first.finish()

    clock.now += 5000.0  # downtime
    second = ExperimentTracker(config(tmp_path), clock=clock, backends=[LocalRunStore()])
    second.load_state_dict(state)
    train(second, clock, range(40, 50), seconds_per_step=0.25)
    # 50 steps left at the resumed 4 steps/s, not at the 1 step/s of the whole history.
    assert second.latest_train["progress/eta_hours"] == pytest.approx(50 * 0.25 / 3600)
    second.finish()
    rows = metrics_rows(second.run_dir)
    assert rows[-1]["time/wallclock_hours"] == pytest.approx((40 + 2.5) / 3600)


def test_step_times_and_throughput_of_the_summary_span_a_resume(tmp_path):
    clock = FakeClock(1000.0)
    first = ExperimentTracker(config(tmp_path), clock=clock, backends=[LocalRunStore()])
    train(first, clock, range(0, 40), seconds_per_step=1.0)
    state = first.state_dict()
    first.finish()

    second = ExperimentTracker(config(tmp_path), clock=clock, backends=[LocalRunStore()])
    second.load_state_dict(state)
    train(second, clock, range(40, 50), seconds_per_step=0.25)
    summary = strict_json(second.finish())
    steps = summary["step_time_seconds"]
    # Warm-up steps excluded in each session: 35 steps of 1 s, then 5 of 0.25 s.
    assert steps["samples"] == 40
    assert steps["p50"] == pytest.approx(1.0)
    assert steps["max"] == pytest.approx(1.0)
    # 100 tokens a step: 100 tokens/s before the resume (3 windowed samples), 400 after (1).
    assert summary["throughput"]["p50_tokens_per_second"] == pytest.approx(100.0)


def test_eta_adds_the_evaluations_and_saves_still_due(tmp_path):
    clock = FakeClock(1000.0)
    tracker = ExperimentTracker(
        config(tmp_path, eval_every_steps=25, save_every_steps=50),
        clock=clock,
        backends=[LocalRunStore()],
    )
    train(tracker, clock, range(0, 10), seconds_per_step=1.0)
    clock.now += 30.0
    tracker.log_validation(val_loss=1.0, eval_seconds=30.0)
    clock.now += 60.0
    tracker.log_checkpoint("nowhere", seconds=60.0)
    train(tracker, clock, range(10, 20), seconds_per_step=1.0)
    # 80 steps at 1 s, evaluations at 25, 50, 75, 100 (4 × 30 s), saves at 50, 100 (2 × 60 s).
    assert tracker.latest_train["progress/eta_hours"] == pytest.approx((80 + 120 + 120) / 3600)
    # Evaluation and checkpoint time stay out of throughput: 100 tokens a second throughout.
    assert tracker.latest_train["throughput/tokens_per_second"] == pytest.approx(100.0)
    ledger = {
        k: tracker.latest_train[f"time/{k}_hours"] * 3600
        for k in ("train", "eval", "checkpoint", "other")
    }
    # The first step ran before the first call: a hand-written loop's set-up counts as "other".
    assert ledger == pytest.approx({"train": 19.0, "eval": 30.0, "checkpoint": 60.0, "other": 1.0})
    assert tracker.latest_train["efficiency/goodput_pct"] == pytest.approx(100 * 19 / 110)
    tracker.finish()


def test_no_mfu_on_an_unknown_device_and_mfu_with_a_given_peak(tmp_path):
    clock = FakeClock(1000.0)
    cpu = ExperimentTracker(config(tmp_path), clock=clock, backends=[LocalRunStore()])
    train(cpu, clock, range(0, 20), seconds_per_step=0.1)
    summary = strict_json(cpu.finish())
    rows = metrics_rows(cpu.run_dir)
    assert all("throughput/mfu_pct" not in row for row in rows)
    assert all("throughput/model_tflops_per_second" in row for row in rows[1:])
    assert summary["flops"]["mfu_pct"] is None and "not known" in summary["flops"]["mfu_note"]
    assert not any(key.startswith("memory/gpu") for row in rows for key in row)

    clock = FakeClock(1000.0)
    given = ExperimentTracker(
        config(tmp_path, peak_tflops=0.001), clock=clock, backends=[LocalRunStore()]
    )
    train(given, clock, range(0, 20), seconds_per_step=0.1)
    summary = strict_json(given.finish())
    flops = summary["flops"]["flops_per_token"]["total"]
    expected = 100 * (1000 * flops / 1e12) / 0.001  # 1000 tokens/s on one device
    assert given.latest_train["throughput/mfu_pct"] == pytest.approx(expected)
    assert summary["flops"]["peak_table_key"] == "user peak_tflops"
    assert summary["flops"]["flops_per_token"]["convention"].startswith("PaLM")


def test_step_time_percentiles_leave_out_warmup(tmp_path):
    clock = FakeClock(1000.0)
    tracker = ExperimentTracker(config(tmp_path), clock=clock, backends=[LocalRunStore()])
    train(tracker, clock, range(0, 5), seconds_per_step=9.0)  # warm-up: compilation, allocator
    train(tracker, clock, range(5, 105), seconds_per_step=0.5)
    summary = strict_json(tracker.finish())
    assert summary["step_time_seconds"]["p50"] == pytest.approx(0.5)
    assert summary["step_time_seconds"]["p95"] == pytest.approx(0.5)
    assert summary["step_time_seconds"]["max"] == pytest.approx(0.5)
    assert summary["throughput"]["p50_tokens_per_second"] == pytest.approx(200.0)
    assert summary["hardware"]["versions"]["torch"]
    assert summary["memory"]["process_peak_rss_gb"] > 0


def test_set_up_before_the_first_step_is_other_time_not_training(tmp_path):
    clock = FakeClock(1000.0)
    tracker = ExperimentTracker(
        config(tmp_path, log_every_steps=5), clock=clock, backends=[LocalRunStore()]
    )
    clock.now += 50.0  # loading data, building the model, compiling
    train(tracker, clock, range(0, 20), seconds_per_step=1.0)
    values = tracker.latest_train
    assert values["throughput/tokens_per_second"] == pytest.approx(100.0)
    assert values["time/other_hours"] * 3600 == pytest.approx(51.0)
    assert values["time/train_hours"] * 3600 == pytest.approx(19.0)
    summary = strict_json(tracker.finish())
    assert summary["step_time_seconds"]["max"] == pytest.approx(1.0)
