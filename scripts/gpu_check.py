"""The GPU checks of hf_tracking, in one run on a CUDA machine (W&B off, no downloads).

    python scripts/gpu_check.py [--output gpu_check.json]

1. Sync-free logging: a hand-written bf16 loop passes 0-dim CUDA tensors as loss and grad norm;
   every ``log_train_step`` on a non-logging step runs under
   ``torch.cuda.set_sync_debug_mode("error")``, so any device synchronisation raises. Peaks reset
   per window: a 2 GiB tensor allocated and freed in one window shows in that window's
   ``max_allocated`` and not in the next.
2. The tiny recipe with the Trainer in bf16: the callback's per-step events and the token-counting
   forward pre-hook run under sync debug mode "error"; memory metrics are non-zero.
3. MFU: the 17M recipe's shape in bf16 on random tokens; MFU must be between 1% and 80%.

Prints each check and writes the figures as JSON; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import hf_tracking  # noqa: E402
from hf_tracking.jsonio import iter_jsonl  # noqa: E402
from hf_tracking.tokens import TokenCounter  # noqa: E402
from hf_tracking.trainer.callback import TrackingCallback  # noqa: E402

RESULTS: dict[str, Any] = {}
FAILURES: list[str] = []


def check(name: str, passed: bool, detail: Any) -> None:
    RESULTS[name] = {"passed": bool(passed), "detail": detail}
    print(f"[{'PASS' if passed else 'FAIL'}] {name}: {detail}", flush=True)
    if not passed:
        FAILURES.append(name)


@contextlib.contextmanager
def no_sync_allowed():
    """Any CUDA synchronisation inside raises RuntimeError."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


def rows(run_dir: Path) -> list[dict[str, Any]]:
    return list(iter_jsonl(run_dir / "metrics.jsonl"))


def small_config(output_dir: str, **fields: Any) -> hf_tracking.ExperimentConfig:
    settings = {
        "model_size": "1M",
        "dataset": "tinystories",
        "vocab_size": 1024,
        "d_model": 128,
        "num_layers": 4,
        "num_heads": 4,
        "seq_length": 128,
        "output_dir": output_dir,
        "wandb_mode": "disabled",
    }
    settings.update(fields)
    return hf_tracking.ExperimentConfig(**settings)


def gpt2(config: hf_tracking.ExperimentConfig) -> Any:
    from transformers import GPT2LMHeadModel

    from hf_tracking.recipe import gpt2_config

    return GPT2LMHeadModel(gpt2_config(config, eos_token_id=0)).cuda()


def hand_loop_check(output_dir: str) -> None:
    config = small_config(
        output_dir, log_every_steps=10, num_iterations=60, compute_dtype="bf16", batch_size=16
    )
    model = gpt2(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tracker = hf_tracking.ExperimentTracker(config, model).start()
    syncs = []
    for iteration in range(60):
        batch = torch.randint(0, config.vocab_size, (16, 128), device="cuda")
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if iteration == 24:
            spike = torch.empty(2 * 1024**3, dtype=torch.uint8, device="cuda")
            del spike
        logging_step = (iteration + 1) % config.log_every_steps == 0
        guard = contextlib.nullcontext() if logging_step else no_sync_allowed()
        try:
            with guard:
                tracker.log_train_step(
                    loss=loss.detach(),
                    learning_rate=1e-3,
                    grad_norm=grad_norm,
                    tokens=batch.numel(),
                    iteration=iteration,
                )
        except RuntimeError as error:
            syncs.append(f"step {iteration + 1}: {error}")
    tracker.finish()
    check(
        "hand loop: no device sync on non-logging steps",
        not syncs,
        syncs[:3] or "0 syncs in 54 steps",
    )
    train = [row for row in rows(tracker.run_dir) if row["event"] == "train"]
    peaks = {row["time/gradient_steps"]: row.get("memory/gpu_0_max_allocated_gb") for row in train}
    check(
        "memory peak resets per window",
        peaks.get(30, 0) > 2.0 and peaks.get(40, 99) < 1.0,
        {"max_allocated_gb_by_step": peaks},
    )


def story_blocks(seq_length: int, vocab_size: int) -> tuple[list[dict], list[dict], Any]:
    from transformers import PreTrainedTokenizerFast

    from hf_tracking.corpus import story_corpus
    from hf_tracking.recipe import END_OF_TEXT, train_bpe

    corpus = story_corpus(train_size=3000, validation_size=200)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=train_bpe(corpus.train, vocab_size), eos_token=END_OF_TEXT
    )

    def pack(texts: list[str]) -> list[dict]:
        ids: list[int] = []
        for row in tokenizer(texts, add_special_tokens=False)["input_ids"]:
            ids.extend([*row, tokenizer.eos_token_id])
        blocks = []
        for start in range(0, len(ids) - seq_length + 1, seq_length):
            block = torch.tensor(ids[start : start + seq_length])
            blocks.append(
                {"input_ids": block, "attention_mask": torch.ones_like(block), "labels": block}
            )
        return blocks

    return pack(corpus.train), pack(corpus.validation), tokenizer


def guard_callback_events() -> list[str]:
    """Run the callback's per-step events and the token hook under sync debug mode "error"
    (except ``on_step_end`` of a step that logs, evaluates, saves or stops: it reads tokens)."""
    from hf_tracking.trainer.callback import record_follows

    syncs: list[str] = []

    def guarded(method):
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            if method.__name__ == "on_step_end" and record_follows(args[3]):
                return method(*args, **kwargs)
            try:
                with no_sync_allowed():
                    return method(*args, **kwargs)
            except RuntimeError as error:
                syncs.append(f"{method.__qualname__}: {error}")

        return wrapper

    for name in ("on_step_begin", "on_step_end", "on_substep_end"):
        setattr(TrackingCallback, name, guarded(getattr(TrackingCallback, name)))
    TokenCounter._hook = guarded(TokenCounter._hook)
    return syncs


def trainer_check(output_dir: str) -> None:
    from transformers import Trainer

    from hf_tracking.recipe import build_training_arguments, load_recipe

    recipe = load_recipe(
        ROOT / "recipes" / "tiny.yaml",
        ["training.precision=bf16", "wandb_mode=disabled"],
        offline=True,
        output_dir=output_dir,
    )
    train, validation, _ = story_blocks(recipe.config.seq_length, recipe.config.vocab_size)
    args = build_training_arguments(recipe)
    syncs = guard_callback_events()
    callback = TrackingCallback(recipe.config)
    trainer = Trainer(
        model=gpt2(recipe.config),
        args=args,
        train_dataset=train,
        eval_dataset=validation[:64],
        callbacks=[callback],
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    summary = json.loads(Path(callback.summary_path).read_text())
    train_rows = [row for row in rows(Path(summary["run_dir"])) if row["event"] == "train"]
    last = train_rows[-1]
    check(
        "trainer: no device sync in per-step events and the token hook",
        not syncs,
        syncs[:3] or f"0 syncs in {trainer.state.global_step} steps",
    )
    memory = {key: value for key, value in last.items() if key.startswith("memory/gpu")}
    check(
        "trainer: GPU memory metrics non-zero",
        memory.get("memory/gpu_0_allocated_gb", 0) > 0
        and memory.get("memory/gpu_0_reserved_gb", 0) > 0,
        memory,
    )
    check(
        "trainer: tiny recipe trains in bf16 with MFU from the table",
        summary["flops"]["dtype"] == "bf16" and summary["flops"]["peak_table_key"] is not None,
        {
            "seconds": round(seconds, 1),
            "first_loss": train_rows[0]["train/loss"],
            "last_loss": last["train/loss"],
            "mfu_pct": last.get("throughput/mfu_pct"),
            "device": summary["flops"]["device"],
            "peak_key": summary["flops"]["peak_table_key"],
            "tokens_per_second": last.get("throughput/tokens_per_second"),
        },
    )
    RESULTS["tiny_summary_excerpt"] = {
        key: summary[key]
        for key in (
            "flops",
            "step_time_seconds",
            "throughput",
            "time_ledger_hours",
            "memory",
            "hardware",
        )
    }


class RandomTokens(torch.utils.data.Dataset):
    def __init__(self, count: int, seq_length: int, vocab_size: int) -> None:
        generator = torch.Generator().manual_seed(0)
        self.data = torch.randint(0, vocab_size, (count, seq_length), generator=generator)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ids = self.data[index]
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}


def mfu_check(output_dir: str) -> None:
    from transformers import Trainer, TrainingArguments

    config = small_config(
        output_dir,
        model_size="17M",
        vocab_size=50257,
        d_model=512,
        num_layers=8,
        num_heads=8,
        seq_length=512,
        batch_size=32,
        num_iterations=80,
        dataset="random",
    )
    args = TrainingArguments(
        output_dir=f"{output_dir}/mfu_out",
        per_device_train_batch_size=32,
        max_steps=80,
        logging_steps=10,
        bf16=True,
        report_to="none",
        save_strategy="no",
        learning_rate=3e-4,
        dataloader_num_workers=2,
        disable_tqdm=True,
    )
    callback = TrackingCallback(config)
    Trainer(
        model=gpt2(config),
        args=args,
        train_dataset=RandomTokens(32 * 80, 512, 50257),
        callbacks=[callback],
    ).train()
    summary = json.loads(Path(callback.summary_path).read_text())
    train_rows = [row for row in rows(Path(summary["run_dir"])) if row["event"] == "train"]
    mfu = [row.get("throughput/mfu_pct") for row in train_rows[2:]]
    check(
        "17M shape bf16: MFU plausible (1%..80%)",
        bool(mfu) and all(value is not None and 1.0 <= value <= 80.0 for value in mfu),
        {
            "mfu_pct": [round(v, 2) for v in mfu if v is not None],
            "tokens_per_second": train_rows[-1].get("throughput/tokens_per_second"),
            "flops_per_token": summary["flops"]["flops_per_token"],
            "peak": [summary["flops"]["peak_table_key"], summary["flops"]["peak_tflops"]],
            "step_time_seconds": summary["step_time_seconds"],
            "goodput_pct": summary["goodput_pct"],
            "memory": summary["memory"],
        },
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="gpu_check.json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 2
    RESULTS["device"] = torch.cuda.get_device_name()
    RESULTS["versions"] = {
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
    }
    with tempfile.TemporaryDirectory() as scratch:
        for step in (hand_loop_check, trainer_check, mfu_check):
            try:
                step(scratch)
            except Exception as error:  # report and go on to the next check
                import traceback

                traceback.print_exc()
                check(step.__name__, False, f"{type(error).__name__}: {error}")
    Path(args.output).write_text(json.dumps(RESULTS, indent=2, default=str))
    print(f"wrote {args.output}; {len(FAILURES)} failed: {FAILURES}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
