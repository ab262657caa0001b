"""What training health costs on the training thread: the loss hook, an action's row build, and
``track_layers`` per logging step on a GPT-2 model on the CPU.

    .venv/bin/python scripts/benchmark_health.py                  # GPT-2 small (124M)
    .venv/bin/python scripts/benchmark_health.py --quick          # a tiny model (smoke test)

Three figures, each the median over repeats, on the calling thread:

- ``loss_hook``: the forward hook that keeps each training micro-batch's loss (what the Trainer's
  NaN filter would hide), per call over a hook that does nothing, logging every 10 calls; and the
  device-side fold a logging interval of more than 64 micro-batches runs every 64;
- ``act_us``: ``log_train_step`` plus ``should_stop`` on a logging step with ``on_alert: stop``
  (the row is built on the training thread so the decision is made at that step) over the same
  with ``on_alert: warn`` (the row is built on the writer thread), local store only;
- ``track_layers``: ``LayerNorms.before_step`` (the gradients' per-block sums of squares and the
  copy of the parameters), ``after_step`` (the update's and parameters' sums) and the read of the
  results (done on the writer thread), in ms, beside one ``AdamW.step()`` of the same model.
  The model is built from a config (nothing downloaded), its gradients random.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {"vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12}
QUICK_SIZES = {"vocab_size": 256, "n_positions": 64, "n_embd": 64, "n_layer": 2, "n_head": 2}


def loss_hook(calls: int, repeats: int, interval: int = 10) -> dict[str, float]:
    import torch
    from transformers.modeling_outputs import CausalLMOutput

    from hf_tracking.trainer import health

    module = torch.nn.Linear(1, 1).train()
    output = CausalLMOutput(loss=torch.tensor(1.0))
    watch = health.LossWatch()

    def noop(*_: Any) -> None:
        return None

    def per_call(hook: Any) -> float:
        start = time.perf_counter_ns()
        for call in range(calls):
            hook(module, None, output)
            if call % interval == 0:
                watch.take()  # a logging step hands the kept losses to its row
        return (time.perf_counter_ns() - start) / calls

    hook_ns = statistics.median(per_call(watch._hook) - per_call(noop) for _ in range(repeats))
    folds = []
    for _ in range(repeats):
        watch.kept = [torch.tensor(1.0) for _ in range(health.MAX_KEPT)]
        start = time.perf_counter_ns()
        watch._fold()
        folds.append((time.perf_counter_ns() - start) / 1000)
    return {"per_call_ns": hook_ns, "fold_of_64_us": statistics.median(folds)}


def act_us(steps: int, repeats: int) -> float:
    from hf_tracking import ExperimentConfig, ExperimentTracker
    from hf_tracking.backends import LocalRunStore

    def per_step(on_alert: str) -> float:
        with tempfile.TemporaryDirectory() as output_dir:
            config = ExperimentConfig(
                output_dir=output_dir, log_every_steps=1, track_memory=False, on_alert=on_alert
            )
            tracker = ExperimentTracker(config, backends=[LocalRunStore()])
            times = []
            for step in range(steps):
                start = time.perf_counter_ns()
                tracker.log_train_step(2.0 + 0.01 * (step % 5), 1e-3, 1.0, tokens=512)
                stop = tracker.should_stop
                times.append(time.perf_counter_ns() - start)
                assert not stop
            tracker.finish()
        return statistics.median(times) / 1000

    return statistics.median(per_step("stop") - per_step("warn") for _ in range(repeats))


def track_layers(sizes: dict[str, int], repeats: int) -> dict[str, float]:
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
    result = {f"{name}_ms": 1000 * statistics.median(values) for name, values in times.items()}
    result["total_ms"] = result["before_step_ms"] + result["after_step_ms"] + result["read_ms"]
    result["parameters_millions"] = sum(p.numel() for p in model.parameters()) / 1e6
    result["blocks"] = len(norms.blocks)
    result["torch_threads"] = torch.get_num_threads()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a tiny model (smoke test)")
    parser.add_argument("--output", help="JSON output path")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    result = {
        "loss_hook": loss_hook(2000 if args.quick else 50_000, repeats),
        "act_us": act_us(200 if args.quick else 3000, repeats),
        "track_layers": track_layers(QUICK_SIZES if args.quick else SIZES, repeats),
    }
    print(json.dumps(result, indent=2))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
