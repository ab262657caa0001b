"""The compute profile: FLOPs per token, the device, its dtype and its dense peak.

Keys it adds to a training record: ``throughput/model_tflops_per_second`` (FLOPs per token ×
tokens per second) and ``throughput/mfu_pct`` (per-device achieved FLOPs over the dense peak, only
where the peak is known: an unknown device gives no MFU, never a guess). A run whose model sizes
are not known (:meth:`ComputeProfile.drop_sizes`) has neither key and no FLOPs per token.
"""

from __future__ import annotations

from typing import Any

from hf_tracking.catalog import MFU, MODEL_TFLOPS, TOKENS_PER_SECOND, TOKENS_PER_SECOND_PER_DEVICE
from hf_tracking.config import ExperimentConfig
from hf_tracking.metrics.flops import (
    flops_per_token,
    lookup_peak_tflops,
    mfu_pct,
    model_tflops_per_second,
)


class ComputeProfile:
    def __init__(self, config: ExperimentConfig, model: Any = None) -> None:
        from hf_tracking.system import device_name_and_dtype

        self._config = config
        self.flops: dict[str, Any] | None = self._flops_per_token(config.seq_length)
        self.unknown_sizes: str | None = None
        self.device_name, weights_dtype = device_name_and_dtype(model)
        # Weights stay fp32 under bf16/fp16 autocast: the compute dtype, when stated, decides.
        self.dtype = config.compute_dtype or weights_dtype
        self.peak: tuple[str, float] | None = None
        if config.peak_tflops:
            self.peak = ("user peak_tflops", config.peak_tflops)
        elif self.device_name and self.dtype:
            self.peak = lookup_peak_tflops(self.device_name, self.dtype)

    def _flops_per_token(self, seq_length: int) -> dict[str, Any]:
        config = self._config
        return flops_per_token(
            config.estimate_parameters()["non_embedding"],
            config.num_layers,
            config.d_model,
            seq_length,
            config.vocab_size,
            causal=config.causal_attention_flops,
        )

    def drop_sizes(self, reason: str) -> None:
        """The model's sizes are not known (``reason`` says why): no FLOPs per token, no MFU."""
        self.flops = None
        self.unknown_sizes = reason

    def observe_seq_length(self, seq_length: int) -> None:
        """The sequence length the model actually sees (attention FLOPs depend on it)."""
        if self.flops is not None and seq_length != self.flops["seq_length"]:
            self.flops = self._flops_per_token(seq_length)

    def add_flops(self, throughput: dict[str, float]) -> None:
        if self.flops is None:
            return
        total = self.flops["total"]
        throughput[MODEL_TFLOPS] = model_tflops_per_second(throughput[TOKENS_PER_SECOND], total)
        if self.peak is not None:
            per_device = throughput[TOKENS_PER_SECOND_PER_DEVICE]
            throughput[MFU] = mfu_pct(per_device, total, self.peak[1])

    def summary(self, latest_mfu: float | None) -> dict[str, Any]:
        return {
            "flops_per_token": self.flops,
            "device": self.device_name,
            "dtype": self.dtype,
            "peak_table_key": self.peak[0] if self.peak else None,
            "peak_tflops": self.peak[1] if self.peak else None,
            "mfu_pct": latest_mfu,
            "mfu_note": self._mfu_note(),
        }

    def _mfu_note(self) -> str | None:
        if self.unknown_sizes:
            return self.unknown_sizes
        if self.peak:
            return None
        return (
            "no MFU: the device's dense peak for this dtype is not known (set peak_tflops, "
            "and compute_dtype when training under bf16/fp16 autocast)"
        )
