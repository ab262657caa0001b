"""Runs of ``tests/fixtures/clm_no_trainer.py`` (an accelerate loop that never imports
hf_tracking): its offline inputs, and its runs in this process or under ``accelerate launch``."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

from tests.support.clm_example import save_tokenizer_and_config
from tests.support.launch import accelerate_launch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "fixtures" / "clm_no_trainer.py"


def loop_inputs(directory: Path) -> list[str]:
    """A tiny GPT-2 config, a tokenizer and one sentence a line (shorter than a block, so the
    batches are padded); returns the script's arguments for them."""
    from hf_tracking.corpus import story_corpus

    corpus = story_corpus(train_size=40, validation_size=4)
    for name, stories in (("train", corpus.train), ("validation", corpus.validation)):
        sentences = [part.strip() + "." for story in stories for part in story.split(". ")]
        (directory / f"{name}.txt").write_text("\n".join(sentences) + "\n")
    save_tokenizer_and_config(directory, corpus.train, 256)
    return [
        "--train_file", str(directory / "train.txt"),
        "--validation_file", str(directory / "validation.txt"),
        "--config_name", str(directory / "config"),
        "--tokenizer_name", str(directory / "tokenizer"),
        "--block_size", "32",
        "--max_train_samples", "32",
        "--per_device_eval_batch_size", "8",
    ]  # fmt: skip


def run_in_process(arguments: list[str]) -> None:
    """Run the script's ``main`` here (accelerate's process state is reset after)."""
    import torch
    from accelerate.state import AcceleratorState, PartialState

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as OMP_NUM_THREADS=1 under accelerate launch: tiny ops, 2 cores
    try:
        runpy.run_path(str(SCRIPT), run_name="clm_no_trainer")["main"](arguments)
    finally:
        torch.set_num_threads(threads)
        AcceleratorState._reset_state(reset_partial_state=True)
        PartialState._reset_state()


def launch(arguments: list[str], cwd: Path, environment: dict[str, str] | None = None):
    """Two processes under ``accelerate launch --multi_gpu``; ``ACCELERATE_USE_CPU=1`` in
    ``environment`` joins them into one gloo job, without it they run independently."""
    return accelerate_launch(SCRIPT, *arguments, cwd=cwd, environment=environment)


def reports(output_dir: Path) -> dict[int, dict]:
    """The script's own figures, per process: ``real_tokens`` (non-padding tokens of its
    training forwards), ``real_tokens_by_step`` (up to each optimizer step) and
    ``evaluation_seconds``."""
    return {
        int(path.stem.removeprefix("real_tokens_rank")): json.loads(path.read_text())
        for path in output_dir.glob("real_tokens_rank*.json")
    }
