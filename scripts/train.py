"""Train a GPT-2 from a recipe with the Hugging Face Trainer, tracked by hf_tracking.

    python scripts/train.py recipes/tiny.yaml --offline
    python scripts/train.py recipes/tinystories_17m.yaml --set training.max_steps=2000
    accelerate launch --config_file recipes/accelerate/multi_gpu.yaml scripts/train.py RECIPE

Builds the tokenizer, data, model and Trainer with :mod:`hf_tracking.recipe`, trains (the Trainer
evaluates and saves at the last step), then on the main process prints the summary path, writes
the report (plots and report.md, see :mod:`hf_tracking.report`), prints the W&B sync command
of an offline run and the ``hf-tracking serve`` line that opens the dashboard. A bad recipe or
override prints ``error: ...`` and exits 2; an unreachable Hub exits 1 with a hint to use
``--offline``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hf_tracking.recipe import Recipe


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="train.py", description="Train a GPT-2 from a recipe, tracked by hf_tracking."
    )
    parser.add_argument("recipe", help="recipe YAML file, e.g. recipes/tiny.yaml")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field or training.KEY / data.KEY (repeatable)",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="use the recipe's offline corpus and a local tokenizer; W&B offline unless set",
    )
    parser.add_argument("--output-dir", help="where runs go (the config's output_dir)")
    parser.add_argument("--no-report", action="store_true", help="skip the plots and report.md")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The tokenizer's worker threads keep spinning after use and slow CPU training down.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.offline:
        os.environ.setdefault("WANDB_MODE", "offline")

    from hf_tracking.errors import ConfigError
    from hf_tracking.recipe import HubUnreachable, build_trainer, load_recipe

    try:
        recipe = load_recipe(args.recipe, args.overrides, args.offline, args.output_dir)
        trainer, callback = build_trainer(recipe)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except HubUnreachable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    main_process = trainer.is_world_process_zero()
    if main_process:
        print(describe(recipe, trainer), flush=True)
    trainer.train()
    if main_process:
        callback.wait_for_backends()
        finish(callback.summary_path, report=not args.no_report)
    return 0


def describe(recipe: Recipe, trainer: Any) -> str:
    """What is about to run: the recipe, the model's size, the data and the device."""
    from hf_tracking.metrics.params import format_count

    config = recipe.config
    actual = sum(p.numel() for p in trainer.model.parameters())
    arguments = trainer.args
    precision = "bf16" if arguments.bf16 else "fp16" if arguments.fp16 else "fp32"
    return "\n".join(
        [
            f"recipe {recipe.name}: run {config.experiment_name}",
            f"  model     GPT-2 {format_count(actual)} parameters (model_size {config.model_size}), "
            f"d_model {config.d_model}, {config.num_layers} layers, {config.num_heads} heads, "
            f"seq_length {config.seq_length}, vocab {config.vocab_size}",
            f"  data      {recipe.data_description()}",
            f"  training  {config.num_iterations} steps x {config.batch_size} sequences "
            f"x {config.gradient_accumulation_steps} accumulation x {arguments.world_size} "
            f"processes, lr {config.learning_rate:g}, {precision} on {arguments.device}",
            f"  outputs   {config.output_dir}/ (checkpoints in {arguments.output_dir})",
        ]
    )


def finish(summary_path: str | None, report: bool) -> None:
    """Print where the run's files are, make the report, print the W&B sync command and how to
    open the dashboard."""
    from hf_tracking.jsonio import read_json

    if summary_path is None:
        print("hf_tracking: no summary was written", file=sys.stderr)
        return
    summary = read_json(summary_path)
    print(f"metrics: {Path(summary['run_dir']) / 'metrics.jsonl'}")
    print(f"summary: {summary_path}")
    if report:
        from hf_tracking.report import ReportError, make_report

        try:
            paths = make_report(summary_path)
        except (ReportError, ImportError) as error:
            print(f"report: not made ({error})", file=sys.stderr)
        else:
            for path in paths:
                print(f"report: {path}")
    sync_command = (summary.get("wandb") or {}).get("sync_command")
    if sync_command:
        print(f"W&B offline run; upload it with: {sync_command}")
    from hf_tracking.serve import DEFAULT_PORT

    print(
        f"dashboard: hf-tracking serve {Path(summary_path).parent} "
        f"(then open http://127.0.0.1:{DEFAULT_PORT}/)"
    )


if __name__ == "__main__":
    sys.exit(main())
