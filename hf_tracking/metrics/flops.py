"""FLOPs per token and model FLOPs utilisation (MFU), with the working shown.

Keys: ``throughput/model_tflops_per_second`` (model FLOPs actually achieved, all processes),
``throughput/mfu_pct`` (per-device achieved FLOPs over the device's dense peak; only when the peak
is known).

FLOPs per token for a forward and backward pass follow PaLM appendix B as nanoGPT's
``estimate_mfu`` applies it: 6 per non-embedding parameter, plus 12·L·d·T for attention scores
and values (halved when ``causal`` is asked for, since half the score matrix is masked), plus
6·d·V for the output head, which is a matmul whether or not its weight is tied to the embedding.
The Hugging Face Trainer's ``floating_point_ops`` counts only the first term.
"""

from __future__ import annotations

import re

# Dense (no sparsity) tensor-core peak TFLOP/s by device and dtype, from NVIDIA's data sheets
# (A100, H100, H200, L4, L40S, A10); the sheets print sparse figures that are twice these. There
# is no fp32 column: fp32 matmuls may run as TF32 or not, so an fp32 run gets no MFU rather than
# a guess. Patterns are tried in order, so the more specific names come first.
PEAK_TFLOPS: list[tuple[str, str, dict[str, float]]] = [
    ("H100 NVL", r"H100.*NVL", {"bf16": 835.5, "fp16": 835.5}),
    ("H100 PCIe", r"H100.*PCIE", {"bf16": 756.5, "fp16": 756.5}),
    ("H100 SXM", r"H100", {"bf16": 989.5, "fp16": 989.5}),
    ("H200", r"H200", {"bf16": 989.5, "fp16": 989.5}),
    ("A100", r"A100", {"bf16": 312.0, "fp16": 312.0}),
    ("L40S", r"L40S", {"bf16": 362.05, "fp16": 362.05}),
    ("L4", r"\bL4\b", {"bf16": 121.0, "fp16": 121.0}),
    ("A10", r"\bA10\b", {"bf16": 125.0, "fp16": 125.0}),
]


def flops_per_token(
    non_embedding_parameters: int,
    num_layers: int,
    d_model: int,
    seq_length: int,
    vocab_size: int,
    causal: bool = False,
) -> dict[str, float | int | str]:
    """Training FLOPs per token and its parts (forward + backward = 3 × forward)."""
    parameters = 6.0 * non_embedding_parameters
    attention = 12.0 * num_layers * d_model * seq_length * (0.5 if causal else 1.0)
    output_head = 6.0 * d_model * vocab_size
    return {
        "parameters": parameters,
        "attention": attention,
        "output_head": output_head,
        "total": parameters + attention + output_head,
        "seq_length": seq_length,
        "convention": "causal (attention halved)" if causal else "PaLM/nanoGPT (full attention)",
    }


def lookup_peak_tflops(device_name: str, dtype: str) -> tuple[str, float] | None:
    """(table key, dense peak TFLOP/s) for a device name and a dtype; None when not known."""
    upper = device_name.upper()
    for key, pattern, peaks in PEAK_TFLOPS:
        if re.search(pattern, upper):
            peak = peaks.get(dtype)
            return (key, peak) if peak else None
    return None


def model_tflops_per_second(tokens_per_second: float, flops_per_token_total: float) -> float:
    return tokens_per_second * flops_per_token_total / 1e12


def mfu_pct(
    tokens_per_second_per_device: float, flops_per_token_total: float, peak: float
) -> float:
    """Achieved FLOPs of one device over its peak (TFLOP/s), in percent."""
    return (
        100.0 * model_tflops_per_second(tokens_per_second_per_device, flops_per_token_total) / peak
    )
