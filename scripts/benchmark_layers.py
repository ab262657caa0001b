"""What ``track_layers`` costs per logging step: per-block norms of a GPT-2 model on the CPU.

    .venv/bin/python scripts/benchmark_layers.py                  # GPT-2 small (124M), 7 repeats
    .venv/bin/python scripts/benchmark_layers.py --quick          # a tiny model (smoke test)

The model is built from a config (nothing downloaded), its gradients filled with random numbers.
Each repeat times, on the calling thread: ``LayerNorms.before_step`` (the gradients' per-block
sums of squares and the copy of the parameters), ``after_step`` (the update's and the parameters'
sums), the read of the three results (what the writer thread does as the row is built), and,
beside them, one ``AdamW.step()`` of the same model for scale. Medians over the repeats, in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}
QUICK_SIZES = {"vocab_size": 256, "n_positions": 64, "n_embd": 64, "n_layer": 2, "n_head": 2}


def measure(sizes: dict[str, int], repeats: int) -> dict[str, float]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from hf_tracking.layers import LayerNorms

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(**sizes))
    for parameter in model.parameters():
        parameter.grad = torch.randn_like(parameter) * 1e-3
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    optimizer.step()  # the optimizer's state exists before the timed steps
    norms = LayerNorms(model)
    times: dict[str, list[float]] = {"before_step": [], "after_step": [], "read": [], "adamw": []}
    for _ in range(repeats):
        start = time.perf_counter()
        norms.before_step()
        times["before_step"].append(time.perf_counter() - start)
        start = time.perf_counter()
        optimizer.step()
        times["adamw"].append(time.perf_counter() - start)
        start = time.perf_counter()
        taken = norms.after_step()
        times["after_step"].append(time.perf_counter() - start)
        start = time.perf_counter()
        norms.metrics(taken, grad_norm=None, max_grad_norm=None)
        times["read"].append(time.perf_counter() - start)
    result = {name: 1000 * statistics.median(values) for name, values in times.items()}
    result["track_layers_total"] = result["before_step"] + result["after_step"] + result["read"]
    result["parameters_millions"] = sum(p.numel() for p in model.parameters()) / 1e6
    result["blocks"] = len(norms.blocks)
    result["threads"] = torch.get_num_threads()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a tiny model (smoke test)")
    parser.add_argument("--output", help="JSON output path")
    args = parser.parse_args()
    result = measure(QUICK_SIZES if args.quick else SIZES, 2 if args.quick else args.repeats)
    for name, value in result.items():
        print(f"{name:>22}: {value:.1f}" if isinstance(value, float) else f"{name:>22}: {value}")
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
