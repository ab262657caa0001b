"""Helpers shared by the benchmark's sections: statistics, machine and versions, tables, quiet
environment, and the benchmark's own tiny GPT-2s and padded data (no imports from tests/)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LOG_EVERY = 10
LOSS_VALUES = tuple(2.0 + 0.01 * index for index in range(7))
PAD = 0


def percentiles_us(samples_ns: list[int]) -> dict[str, float | int]:
    """n, p50/p95/p99, mean and max in µs of latencies in ns (linear interpolation)."""
    if not samples_ns:
        return {"n": 0}
    if len(samples_ns) == 1:
        cuts = [float(samples_ns[0])] * 99
    else:
        cuts = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return {
        "n": len(samples_ns),
        "p50_us": round(cuts[49] / 1e3, 3),
        "p95_us": round(cuts[94] / 1e3, 3),
        "p99_us": round(cuts[98] / 1e3, 3),
        "mean_us": round(statistics.fmean(samples_ns) / 1e3, 3),
        "max_us": round(max(samples_ns) / 1e3, 3),
    }


def spread(values: list[float], digits: int = 3) -> dict[str, float]:
    """Median, min and max."""
    return {
        "median": round(statistics.median(values), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
    }


def alternating(index: int, before: Any, after: Any) -> list[tuple[str, Any]]:
    """The two sides of a side-by-side in round ``index``'s order: the order flips every round,
    so neither side always runs first."""
    sides = [("before", before), ("after", after)]
    return sides[::-1] if index % 2 else sides


def machine() -> dict[str, Any]:
    """The package's hardware fingerprint, with the load of this shared machine."""
    from hf_tracking.system import hardware_fingerprint

    info = hardware_fingerprint()
    info["cpu_model"] = info["cpu"]  # the name the other benchmark scripts print
    info["cpus_usable"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info["load_average_at_start"] = [round(value, 2) for value in os.getloadavg()]
    return info


def versions() -> dict[str, Any]:
    """Python and the measured libraries (from the hardware fingerprint), plus trackio."""
    from importlib import metadata

    from hf_tracking.system import hardware_fingerprint

    found: dict[str, Any] = {"python": platform.python_version()}
    found.update(hardware_fingerprint()["versions"])
    for package in ("trackio", "psutil"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def git_state() -> dict[str, Any]:
    """The commit measured and any uncommitted change to the package (read-only git calls)."""

    def git(*arguments: str) -> str | None:
        try:
            completed = subprocess.run(
                ["git", "-C", str(ROOT), *arguments], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return completed.stdout.strip() if completed.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "hf_tracking")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "hf_tracking_changes": changed.splitlines() if changed else [],
    }


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """A Markdown table on stdout."""
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("| " + " | ".join("---" for _ in header) + " |")
    for row in rows:
        print("| " + " | ".join(_cell(value) for value in row) + " |")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def quiet_environment(temp_root: Path) -> None:
    """W&B offline and silent in ``temp_root``; trackio's store there too; nothing from the Hub."""
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_DIR"] = str(temp_root / "wandb")
    os.environ["WANDB_SILENT"] = "true"
    os.environ["TRACKIO_DIR"] = str(temp_root / "trackio")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    for name in ("WANDB_API_KEY", "HF_TRACKING_CONFIG", "HF_TRACKING_BACKENDS"):
        os.environ.pop(name, None)
    (temp_root / "wandb").mkdir(parents=True, exist_ok=True)
    import logging

    logging.getLogger("hf_tracking").setLevel(logging.ERROR)


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """The Trainer's printed logs and progress bars to /dev/null (for every report_to)."""
    with (
        open(os.devnull, "w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        yield


def count_lines(path: Path) -> int:
    with open(path, "rb") as stream:
        return sum(1 for _ in stream)


def tree_environment(tree: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a child that imports the ``hf_tracking`` of ``tree``; the
    installed package's start-up hook, which would register another tree's integration, off."""
    return {**os.environ, "PYTHONPATH": str(tree), "HF_TRACKING_AUTOLOAD": "0", **extra}


def tracker_config(output_dir: Path, **overrides: Any) -> Any:
    """An ExperimentConfig for the hand-written-loop measurements."""
    from hf_tracking import ExperimentConfig

    settings: dict[str, Any] = {
        "output_dir": str(output_dir),
        "wandb_mode": "offline",
        "track_memory": False,
        "log_every_steps": LOG_EVERY,
        "gradient_accumulation_steps": 1,
        "num_iterations": 1_000_000,
        "experiment_name": "bench",
    }
    settings.update(overrides)
    return ExperimentConfig(**settings)


def backend_counts(tracker: Any) -> dict[str, dict[str, Any]]:
    keys = ("status", "records_written", "records_dropped", "records_lost")
    return {
        report["name"]: {key: report.get(key) for key in keys}
        for report in getattr(tracker, "backend_reports", [])
    }


# ---------------------------------------------------------------------- models and data
def gpt2(n_embd: int, n_layer: int, n_head: int, vocab: int, positions: int, seed: int = 0) -> Any:
    """A random-init GPT-2 of these sizes (the recipes' ``gpt2_config``, GPT-2's dropout 0.1; the
    padding id stands in for EOS)."""
    import torch
    from transformers import GPT2LMHeadModel

    from hf_tracking import ExperimentConfig
    from hf_tracking.recipe import gpt2_config

    sizes = ExperimentConfig(
        vocab_size=vocab, d_model=n_embd, num_layers=n_layer, num_heads=n_head, seq_length=positions
    )
    torch.manual_seed(seed)
    return GPT2LMHeadModel(gpt2_config(sizes, dropout=0.1, eos_token_id=PAD))


def padded_samples(size: int, seq_length: int, vocab: int, seed: int = 0) -> list[dict]:
    """Samples of lengths 4..seq_length-1, right-padded, labels -100 on padding."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    samples = []
    for index in range(size):
        length = 4 + index % (seq_length - 4)
        input_ids = torch.full((seq_length,), PAD)
        input_ids[:length] = torch.randint(1, vocab, (length,), generator=generator)
        mask = torch.zeros(seq_length, dtype=torch.long)
        mask[:length] = 1
        labels = input_ids.clone()
        labels[length:] = -100
        samples.append({"input_ids": input_ids, "attention_mask": mask, "labels": labels})
    return samples


def training_arguments(output_dir: str, **overrides: Any) -> Any:
    from transformers import TrainingArguments

    settings: dict[str, Any] = {
        "output_dir": output_dir,
        "per_device_train_batch_size": 4,
        "per_device_eval_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-3,
        "logging_steps": 1,
        "report_to": "none",
        "use_cpu": True,
        "dataloader_num_workers": 0,
        "seed": 0,
        "disable_tqdm": True,
        "save_only_model": True,
    }
    settings.update(overrides)
    return TrainingArguments(**settings)
