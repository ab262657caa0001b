"""The pure maths, on plain numbers."""

from __future__ import annotations

import itertools
import math

import pytest

from hf_tracking.metrics import (
    EMA,
    BoundedHistory,
    MovingAverage,
    ThroughputWindow,
    TimeLedger,
    Timer,
    eta_hours,
    flops_per_token,
    lookup_peak_tflops,
    mfu_pct,
    percentile,
    safe_perplexity,
)
from tests.support.configs import FakeClock


def test_perplexity_is_overflow_safe():
    assert safe_perplexity(0.0) == 1.0
    assert safe_perplexity(2.0) == pytest.approx(math.e**2)
    assert safe_perplexity(1000.0) == math.inf
    assert math.isnan(safe_perplexity(math.nan))
    assert safe_perplexity(None) is None


def test_percentile_matches_linear_interpolation():
    values = [5, 1, 4, 2, 3]
    assert percentile(values, 50) == 3
    assert percentile(values, 0) == 1
    assert percentile(values, 100) == 5
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([math.nan], 50) is None


def test_ema_is_bias_corrected():
    ema = EMA(decay=0.9)
    assert ema.value is None
    assert ema.update(10.0) == pytest.approx(10.0)  # no drag towards zero
    ema.update(math.nan)
    assert ema.value == pytest.approx(10.0)
    ema.update(0.0)
    assert ema.value == pytest.approx((0.9 * 1.0 * 10.0) / (1 - 0.81) * 0.1)
    with pytest.raises(ValueError):
        EMA(decay=1.0)


def test_moving_average_window():
    average = MovingAverage(window=3)
    for value in (1, 2, 3, 4):
        average.update(value)
    assert average.value == 3.0
    average.update(math.inf)
    assert average.value == 3.0


def test_timer_pause_and_resume():
    clock = FakeClock()
    timer = Timer(clock)
    with timer:
        clock.now = 2.0
    clock.now = 10.0
    timer.resume()
    clock.now = 11.5
    assert timer.elapsed == pytest.approx(3.5)
    assert timer.pause() == pytest.approx(3.5)
    clock.now = 20.0
    assert timer.elapsed == pytest.approx(3.5)


def test_throughput_window_uses_the_recent_steps():
    window = ThroughputWindow(window=4)
    for step in range(0, 11):
        # 100 tokens per step; the first 5 steps at 1 s each, then 0.5 s each.
        seconds = step if step <= 5 else 5 + (step - 5) * 0.5
        window.add(seconds, step * 100, step)
    tokens_per_second, steps_per_second = window.rates()
    assert tokens_per_second == pytest.approx(200.0)
    assert steps_per_second == pytest.approx(2.0)
    metrics = window.metrics(world_size=2)
    assert metrics["throughput/steps_per_hour"] == pytest.approx(7200.0)
    assert metrics["throughput/tokens_per_second_per_device"] == pytest.approx(100.0)


def test_throughput_needs_two_samples():
    window = ThroughputWindow()
    window.add(0.0, 0, 0)
    assert window.rates() is None
    assert window.metrics() == {}


def test_ledger_parts_add_up_and_survive_a_resume():
    clock = FakeClock()
    ledger = TimeLedger(clock)
    clock.now = 10.0
    ledger.add("train", 6.0)
    ledger.add("eval", 2.0)
    ledger.add("checkpoint", 1.0)
    ledger.add("data_wait", 0.5)
    seconds = ledger.seconds()
    assert seconds["other"] == pytest.approx(0.5)
    parts = ("train", "eval", "checkpoint", "data_wait", "other")
    assert sum(seconds[p] for p in parts) == pytest.approx(10.0)
    assert ledger.training_clock() == pytest.approx(7.0)
    metrics = ledger.metrics()
    assert metrics["efficiency/goodput_pct"] == pytest.approx(60.0)
    assert metrics["efficiency/data_wait_pct"] == pytest.approx(5.0)

    saved = ledger.state()
    clock.now = 1000.0  # downtime between the crash and the resume
    resumed = TimeLedger(clock)
    resumed.carry_over(saved)
    clock.now = 1004.0
    resumed.add("train", 3.0)
    after = resumed.seconds()
    assert after["wallclock"] == pytest.approx(14.0)
    assert after["train"] == pytest.approx(9.0)
    assert after["data_wait"] == pytest.approx(0.5)
    assert sum(after[p] for p in parts) == pytest.approx(after["wallclock"])


def test_bounded_history_thins_instead_of_forgetting():
    history = BoundedHistory(max_rows=100)
    for step in range(1_000_000):
        history.append(step)
    rows = history.rows()
    assert len(rows) < 100
    assert rows[0] == 0  # the start is kept
    gaps = {b - a for a, b in itertools.pairwise(rows)}
    assert gaps == {history.stride}  # evenly spaced
    assert rows[-1] > 1_000_000 - 2 * history.stride


def nanogpt_flops_per_token(n_params_without_wpe, n_layer, n_head, n_embd, block_size):
    """nanoGPT's estimate_mfu: flops_per_token = 6N + 12*L*H*Q*T (model.py, PaLM appendix B)."""
    head_dim = n_embd // n_head
    return 6 * n_params_without_wpe + 12 * n_layer * n_head * head_dim * block_size


@pytest.mark.parametrize(
    ("vocab", "d", "layers", "heads", "seq"),
    [(8192, 384, 8, 6, 512), (50257, 512, 8, 8, 512), (50304, 768, 12, 12, 1024)],
)
def test_flops_match_nanogpt(vocab, d, layers, heads, seq):
    from hf_tracking.metrics.params import gpt2_parameter_breakdown

    parts = gpt2_parameter_breakdown(vocab, d, layers, seq)
    ours = flops_per_token(parts["non_embedding"], layers, d, seq, vocab)
    theirs = nanogpt_flops_per_token(
        parts["total"] - parts["position_embedding"], layers, heads, d, seq
    )
    assert ours["total"] == pytest.approx(theirs, rel=0.01)
    # nanoGPT's estimate_mfu: flops achieved / 312e12 (A100 bf16) for the same rate.
    tokens_per_second = 50_000
    expected = tokens_per_second * theirs / 312e12 * 100
    assert mfu_pct(tokens_per_second, ours["total"], 312.0) == pytest.approx(expected, rel=0.01)


def test_flops_breakdown_and_causal_convention():
    full = flops_per_token(1_000_000, 4, 256, 128, 1000)
    causal = flops_per_token(1_000_000, 4, 256, 128, 1000, causal=True)
    assert full["parameters"] == 6_000_000
    assert full["attention"] == 12 * 4 * 256 * 128
    assert full["output_head"] == 6 * 256 * 1000
    assert causal["attention"] == full["attention"] / 2
    assert "causal" in causal["convention"]


@pytest.mark.parametrize(
    ("name", "dtype", "expected"),
    [
        ("NVIDIA H100 80GB HBM3", "bf16", ("H100 SXM", 989.5)),
        ("NVIDIA H100 PCIe", "bf16", ("H100 PCIe", 756.5)),
        ("NVIDIA H100 NVL", "fp16", ("H100 NVL", 835.5)),
        ("NVIDIA H200", "bf16", ("H200", 989.5)),
        ("NVIDIA A100-SXM4-80GB", "bf16", ("A100", 312.0)),
        ("NVIDIA L40S", "bf16", ("L40S", 362.05)),
        ("NVIDIA L4", "bf16", ("L4", 121.0)),
        ("NVIDIA A10", "bf16", ("A10", 125.0)),
        ("NVIDIA GeForce GTX 1080", "bf16", None),
        ("Some Future Accelerator", "bf16", None),
        ("NVIDIA A100-SXM4-80GB", "fp8", None),
        ("NVIDIA H100 80GB HBM3", "fp32", None),
    ],
)
def test_peak_table_never_guesses(name, dtype, expected):
    assert lookup_peak_tflops(name, dtype) == expected


def test_eta_counts_remaining_evaluations_and_saves():
    # 100 steps left at 2 steps/s = 50 s; evals at 50,100,...,200 → 2 left (150, 200) at 3 s;
    # saves at 100, 200 → 1 left at 10 s.
    hours = eta_hours(
        100,
        200,
        2.0,
        eval_interval=50,
        mean_eval_seconds=3.0,
        save_interval=100,
        mean_save_seconds=10.0,
    )
    assert hours == pytest.approx((50 + 6 + 10) / 3600)
    assert eta_hours(200, 200, 2.0) == 0.0
    assert eta_hours(10, 200, None) is None


def test_evenly_spaced_keeps_the_ends():
    from hf_tracking.metrics.history import evenly_spaced

    assert evenly_spaced(list(range(10)), 20) == list(range(10))
    assert evenly_spaced(list(range(101)), 5) == [0, 25, 50, 75, 100]
    assert evenly_spaced(list(range(10)), 1) == [9]
    assert evenly_spaced(list(range(10)), 0) == []
