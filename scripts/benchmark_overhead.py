"""Training-thread overhead of hf_tracking, measured side by side in one process.

    .venv/bin/python scripts/benchmark_overhead.py                # full run, about 5 minutes on 2 idle cores
    .venv/bin/python scripts/benchmark_overhead.py --quick        # tiny sizes (smoke test)
    .venv/bin/python scripts/benchmark_overhead.py --skip-trainer --output /tmp/overhead.json

Sections (all in this process, W&B offline, every output in a temporary directory):

a. ``ExperimentTracker.log_train_step``: per-call cost on the calling thread, for calls that emit
   no record and calls that emit one (``log_every_steps=10``), with W&B offline and the local
   store, ``track_memory`` off and on, and with the local store alone for reference.
b. ``TrackingCallback.on_log`` and ``on_step_begin`` + ``on_step_end`` with a real
   ``TrainingArguments``, ``TrainerState`` and ``TrainerControl``.
c. A direct ``wandb.log`` of 5 scalars (its own offline run) and its ratio to the above.
d. ``finish()`` after queueing records without waiting: W&B offline + local store, and local alone.
e. W&B start-up delay: construction + ``start()`` + the first ``log_train_step``, offline against
   disabled, cold (first W&B use in the process) and warm.
f. Whole runs of the Trainer on the CPU for ``report_to`` none / hf_tracking / wandb, interleaved,
   each in a fresh process (so W&B's start-up is paid as in a user's script; one untimed warm-up
   round first), timed from Trainer construction to train()'s return and to the process's exit
   (where W&B runs are finished), ``logging_steps=1``, with two
   evaluations and a checkpoint: on the test suite's 0.1M-parameter GPT-2 (a few milliseconds a
   step: the worst case for a fixed cost per logged step) and on the shape of ``recipes/tiny.yaml``.

Latencies come from ``time.perf_counter_ns()`` around each call; the cost of the timing itself
(an empty call timed the same way) is reported as ``timer_floor``. The writer thread, the W&B
worker thread and W&B's service process run while the calls are timed, so their share of the GIL
and of the CPU is part of what is measured.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOG_EVERY = 10
LOSS_VALUES = tuple(2.0 + 0.01 * index for index in range(7))


# ====================================================================== shared helpers
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


def versions() -> dict[str, str | None]:
    """Versions of python and of the libraries whose costs are measured."""
    from importlib import metadata

    found: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("hf-tracking", "torch", "transformers", "accelerate", "wandb", "psutil"):
        try:
            found[package.replace("-", "_")] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package.replace("-", "_")] = None
    return found


def git_state() -> dict[str, Any]:
    """The commit measured and any uncommitted change to the package (read-only git calls)."""
    import subprocess

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


def machine() -> dict[str, Any]:
    """CPU model, core counts, RAM and platform."""
    import psutil

    cpu_model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "platform": platform.platform(),
        "gpu": None,
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    """A plain fixed-width table on stdout."""
    cells = [header] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(cells):
        print(
            "  ".join(
                value.rjust(width) if column else value.ljust(width)
                for column, (value, width) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            print("  ".join("-" * width for width in widths))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON (parents created)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def quiet_environment(temp_root: Path) -> None:
    """W&B offline and silent in ``temp_root``; nothing from the Hub."""
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_DIR"] = str(temp_root / "wandb")
    os.environ["WANDB_SILENT"] = "true"
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.pop("WANDB_API_KEY", None)
    os.environ.pop("HF_TRACKING_CONFIG", None)
    (temp_root / "wandb").mkdir(parents=True, exist_ok=True)
    import logging

    logging.getLogger("hf_tracking").setLevel(logging.ERROR)


@contextlib.contextmanager
def timed_summary() -> Iterator[dict[str, float]]:
    """Time ``build_summary`` and ``write_summary`` as ``finish()`` calls them (it imports both
    from :mod:`hf_tracking.summary` at call time, so wrapping the module attributes sees them)."""
    import hf_tracking.summary as summary_module

    spent = {"build_summary_s": 0.0, "write_summary_s": 0.0}
    originals = (summary_module.build_summary, summary_module.write_summary)

    def wrap(function: Callable[..., Any], key: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start

        return timed

    summary_module.build_summary = wrap(originals[0], "build_summary_s")
    summary_module.write_summary = wrap(originals[1], "write_summary_s")
    try:
        yield spent
    finally:
        summary_module.build_summary, summary_module.write_summary = originals


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """chdir for the block (hf_tracking's default ``output_dir`` is relative)."""
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Send the Trainer's printed logs and progress bars to /dev/null (for every report_to)."""
    with (
        open(os.devnull, "w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        yield


def count_lines(path: Path) -> int:
    with open(path, "rb") as stream:
        return sum(1 for _ in stream)


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
    """Records written / dropped / lost per backend, from the reports ``finish()`` left."""
    keys = ("status", "records_written", "records_dropped", "records_lost")
    return {
        report["name"]: {key: report.get(key) for key in keys}
        for report in getattr(tracker, "backend_reports", [])
    }


# ====================================================================== a. log_train_step
def timer_floor(calls: int) -> dict[str, Any]:
    """An empty function with log_train_step's keywords, timed like the real calls."""

    def empty(**kwargs: Any) -> None:
        return None

    clock = time.perf_counter_ns
    samples = []
    for iteration in range(calls):
        start = clock()
        empty(loss=2.0, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=iteration)
        samples.append(clock() - start)
    return percentiles_us(samples)


def time_log_train_step(tracker: Any, calls: int) -> tuple[list[int], list[int]]:
    """Latencies (ns) of ``calls`` calls, split into non-emitting and emitting ones."""
    clock = time.perf_counter_ns
    log = tracker.log_train_step
    quiet: list[int] = []
    emitting: list[int] = []
    for iteration in range(calls):
        loss = LOSS_VALUES[iteration % 7]
        start = clock()
        log(loss=loss, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=iteration)
        elapsed = clock() - start
        (emitting if (iteration + 1) % LOG_EVERY == 0 else quiet).append(elapsed)
    return quiet, emitting


def log_train_step_case(output_dir: Path, calls: int, **config: Any) -> dict[str, Any]:
    """One tracker, ``calls`` timed calls, then ``finish()`` (timed, not part of the calls)."""
    from hf_tracking import ExperimentTracker
    from hf_tracking.backends import LocalRunStore

    local_only = config.pop("local_only", False)
    backends = [LocalRunStore()] if local_only else None
    tracker = ExperimentTracker(tracker_config(output_dir, **config), backends=backends)
    tracker.start()
    quiet, emitting = time_log_train_step(tracker, calls)
    start = time.perf_counter()
    tracker.finish()
    finish_s = time.perf_counter() - start
    assert tracker.run_dir is not None
    lines = count_lines(tracker.run_dir / "metrics.jsonl")
    return {
        "config": {**config, "local_only": local_only, "log_every_steps": LOG_EVERY},
        "non_emitting": percentiles_us(quiet),
        "emitting": percentiles_us(emitting),
        "records_expected": calls // LOG_EVERY,
        "metrics_jsonl_lines": lines,
        "finish_s": round(finish_s, 3),
        "backends": backend_counts(tracker),
    }


def section_log_train_step(temp: Path, calls: int) -> dict[str, Any]:
    cases = {
        "wandb_offline": {"wandb_mode": "offline", "track_memory": False},
        "wandb_offline_track_memory": {"wandb_mode": "offline", "track_memory": True},
        "local_only": {"wandb_mode": "disabled", "track_memory": False, "local_only": True},
    }
    return {
        name: log_train_step_case(temp / f"a_{name}", calls, **config)
        for name, config in cases.items()
    }


# ====================================================================== b. on_log
def trainer_objects(output_dir: Path, max_steps: int) -> tuple[Any, Any, Any]:
    """A real TrainingArguments (use_cpu, logging every step), TrainerState and TrainerControl."""
    from transformers.trainer_callback import TrainerControl, TrainerState

    from tests.support.tiny import training_arguments

    args = training_arguments(
        str(output_dir / "trainer"), report_to="none", max_steps=max_steps, logging_steps=1
    )
    state = TrainerState(max_steps=max_steps, logging_steps=1)
    return args, state, TrainerControl()


def one_training_forward(model: Any) -> None:
    """One training-mode forward, so the callback's device token counter holds counts."""
    import torch

    from tests.support.tiny import PaddedDataset

    samples = [PaddedDataset(4)[index] for index in range(4)]
    batch = {key: torch.stack([sample[key] for sample in samples]) for key in samples[0]}
    model.train()
    with torch.no_grad():
        model(**batch)


def time_callback(callback: Any, args: Any, state: Any, control: Any, calls: int) -> dict:
    """Latencies (ns) of on_step_begin + on_step_end, and of on_log, per training step."""
    clock = time.perf_counter_ns
    steps: list[int] = []
    logs_ns: list[int] = []
    for step in range(calls):
        start = clock()
        callback.on_step_begin(args, state, control)
        middle = clock()
        state.global_step += 1
        state.epoch = state.global_step / 1000
        resumed = clock()
        callback.on_step_end(args, state, control)
        end = clock()
        steps.append((middle - start) + (end - resumed))
        logs = {
            "loss": LOSS_VALUES[step % 7],
            "grad_norm": 1.0,
            "learning_rate": 3e-4,
            "epoch": state.epoch,
        }
        start = clock()
        callback.on_log(args, state, control, logs=logs)
        logs_ns.append(clock() - start)
    return {"step_begin_end": steps, "on_log": logs_ns}


def on_log_case(output_dir: Path, calls: int, track_memory: bool) -> dict[str, Any]:
    from hf_tracking import TrackingCallback
    from tests.support.tiny import tiny_model

    config = tracker_config(output_dir, track_memory=track_memory, log_every_steps=1)
    callback = TrackingCallback(config)
    args, state, control = trainer_objects(output_dir, calls)
    model = tiny_model()
    callback.on_train_begin(args, state, control, model=model)
    one_training_forward(model)
    samples = time_callback(callback, args, state, control, calls)
    tracker = callback.tracker
    start = time.perf_counter()
    callback.on_train_end(args, state, control)
    finish_s = time.perf_counter() - start
    assert tracker is not None and tracker.run_dir is not None
    return {
        "config": {"wandb_mode": "offline", "track_memory": track_memory},
        "on_log": percentiles_us(samples["on_log"]),
        "on_step_begin_plus_end": percentiles_us(samples["step_begin_end"]),
        "metrics_jsonl_lines": count_lines(tracker.run_dir / "metrics.jsonl"),
        "on_train_end_s": round(finish_s, 3),
        "backends": backend_counts(tracker),
    }


def section_on_log(temp: Path, calls: int) -> dict[str, Any]:
    return {
        "wandb_offline": on_log_case(temp / "b_on_log", calls, track_memory=False),
        "wandb_offline_track_memory": on_log_case(temp / "b_on_log_mem", calls, True),
    }


# ====================================================================== c. wandb.log
def section_wandb_log(temp: Path, calls: int) -> dict[str, Any]:
    """``run.log`` of 5 scalars on a run of its own, offline, W&B settings as hf_tracking's."""
    import wandb

    directory = temp / "c_wandb"
    directory.mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project="hf-tracking-bench",
        mode="offline",
        dir=str(directory),
        reinit="create_new",
        settings=wandb.Settings(
            x_disable_stats=True, save_code=False, x_save_requirements=False, silent=True
        ),
    )
    clock = time.perf_counter_ns
    samples = []
    for step in range(calls):
        row = {
            "train/loss": LOSS_VALUES[step % 7],
            "train/learning_rate": 3e-4,
            "train/grad_norm": 1.0,
            "time/gradient_steps": step,
            "time/tokens_seen": step * 512,
        }
        start = clock()
        run.log(row)
        samples.append(clock() - start)
    start = time.perf_counter()
    run.finish()
    return {
        "wandb_log_5_scalars": percentiles_us(samples),
        "settings": "offline, x_disable_stats, no code/requirements saving (as hf_tracking's)",
        "finish_s": round(time.perf_counter() - start, 3),
    }


def ratios(results: dict[str, Any]) -> dict[str, float | None]:
    """wandb.log p50 over each hf_tracking p50 (how many times cheaper the tracker is)."""
    wandb_p50 = results["wandb_log"]["wandb_log_5_scalars"]["p50_us"]
    base = results["log_train_step"]["wandb_offline"]
    callback = results["on_log"]["wandb_offline"]
    against = {
        "wandb_log_over_log_train_step_non_emitting": base["non_emitting"]["p50_us"],
        "wandb_log_over_log_train_step_emitting": base["emitting"]["p50_us"],
        "wandb_log_over_on_log": callback["on_log"]["p50_us"],
    }
    return {name: round(wandb_p50 / p50, 1) if p50 else None for name, p50 in against.items()}


def log_step(tracker: Any, iteration: int) -> None:
    """One ``log_train_step`` as the benchmarks make it: a varying loss, 512 tokens."""
    tracker.log_train_step(
        loss=LOSS_VALUES[iteration % 7],
        learning_rate=3e-4,
        grad_norm=1.0,
        tokens=512,
        iteration=iteration,
    )


# ====================================================================== d. finish() drain
def drain_case(output_dir: Path, records: int, local_only: bool) -> dict[str, Any]:
    """Queue ``records`` records without waiting, then time ``finish()``."""
    from hf_tracking import ExperimentTracker
    from hf_tracking.backends import LocalRunStore

    config = tracker_config(output_dir, log_every_steps=1)
    tracker = ExperimentTracker(config, backends=[LocalRunStore()] if local_only else None)
    tracker.start()
    start = time.perf_counter()
    for iteration in range(records):
        log_step(tracker, iteration)
    queue_s = time.perf_counter() - start
    dispatcher = tracker.session.dispatcher
    intake = len(dispatcher._intake) if dispatcher is not None else None
    remote = sum(worker.pending() for worker in dispatcher._workers) if dispatcher else None
    with timed_summary() as summary:
        start = time.perf_counter()
        tracker.finish()
        finish_s = time.perf_counter() - start
        tracker.wait_for_backends()
        backends_s = time.perf_counter() - start - finish_s
    assert tracker.run_dir is not None
    return {
        "backends_configured": "local" if local_only else "local + wandb offline",
        "records": records,
        "queue_s": round(queue_s, 3),
        "intake_backlog_at_finish": intake,
        "remote_backlog_at_finish": remote,
        "finish_s": round(finish_s, 3),
        "remote_backends_finished_after_s": round(backends_s, 3),
        "summary_s": round(summary["build_summary_s"] + summary["write_summary_s"], 4),
        "metrics_jsonl_lines": count_lines(tracker.run_dir / "metrics.jsonl"),
        "backends": backend_counts(tracker),
    }


def section_finish(temp: Path, records: int) -> dict[str, Any]:
    total = drain_case(temp / "d_total", records, local_only=False)
    local = drain_case(temp / "d_local", records, local_only=True)
    return {
        "local_and_wandb": total,
        "local_only": local,
        "wandb_share_s": round(
            total["finish_s"] + total["remote_backends_finished_after_s"] - local["finish_s"], 3
        ),
    }


# ====================================================================== e. start-up delay
def startup_case(output_dir: Path, mode: str, window_s: float) -> dict[str, Any]:
    """Construction + start() + first (emitting) log_train_step; then ~1 ms steps for
    ``window_s`` seconds, to see what W&B's start on the other threads costs the calls."""
    from hf_tracking import ExperimentTracker

    config = tracker_config(output_dir, wandb_mode=mode, log_every_steps=1)
    start = time.perf_counter()
    tracker = ExperimentTracker(config)
    tracker.start()
    tracker.log_train_step(loss=2.0, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=0)
    first_s = time.perf_counter() - start
    clock = time.perf_counter_ns
    samples = []
    iteration = 1
    deadline = time.perf_counter() + window_s
    while time.perf_counter() < deadline:
        time.sleep(0.001)  # a training step that releases the GIL
        begin = clock()
        tracker.log_train_step(
            loss=2.0, learning_rate=3e-4, grad_norm=1.0, tokens=512, iteration=iteration
        )
        samples.append(clock() - begin)
        iteration += 1
    tracker.finish(save_summary=False)
    return {
        "mode": mode,
        "to_first_log_return_s": round(first_s, 4),
        "calls_during_window": percentiles_us(samples),
        "window_s": window_s,
    }


def section_startup(temp: Path, window_s: float) -> dict[str, Any]:
    """Disabled then offline, twice: the first pair is cold (wandb not yet imported)."""
    wandb_imported = "wandb" in sys.modules
    results: dict[str, Any] = {"wandb_imported_before": wandb_imported}
    for phase in ("cold", "warm"):
        disabled = startup_case(temp / f"e_{phase}_disabled", "disabled", window_s)
        offline = startup_case(temp / f"e_{phase}_offline", "offline", window_s)
        difference = offline["to_first_log_return_s"] - disabled["to_first_log_return_s"]
        results[phase] = {
            "disabled": disabled,
            "offline": offline,
            "difference_s": round(difference, 4),
            "within_target_0_05_s": difference <= 0.05,
        }
    return results


# ====================================================================== f. Trainer runs
MICRO = "micro"
TINY_RECIPE = "tiny_recipe"
TINY_RECIPE_PATH = ROOT / "recipes" / "tiny.yaml"


def model_shapes() -> dict[str, dict[str, Any]]:
    """The two GPT-2s of section f: the test suite's 0.1M-parameter model (a step of a few
    milliseconds, where a per-step cost shows most) and the model of ``recipes/tiny.yaml``."""
    from hf_tracking.recipe import load_recipe

    recipe = load_recipe(TINY_RECIPE_PATH).config
    return {
        MICRO: {"recipe": None, "data": {}, "batch_size": 4, "gradient_accumulation_steps": 2},
        TINY_RECIPE: {
            "recipe": str(TINY_RECIPE_PATH),
            "data": {"seq_length": recipe.seq_length, "vocab_size": recipe.vocab_size},
            "batch_size": recipe.batch_size,
            "gradient_accumulation_steps": recipe.gradient_accumulation_steps,
        },
    }


def benchmark_model(recipe_path: str | None) -> Any:
    """The test suite's GPT-2, or the recipe's own model (``gpt2_config`` of its sizes and
    dropout; the test data's pad id stands in for the tokenizer's EOS)."""
    from tests.support.tiny import PAD, tiny_model

    if recipe_path is None:
        return tiny_model()
    import torch
    from transformers import GPT2LMHeadModel

    from hf_tracking.recipe import gpt2_config, load_recipe

    recipe = load_recipe(recipe_path)
    torch.manual_seed(recipe.training.seed)
    return GPT2LMHeadModel(gpt2_config(recipe.config, recipe.training.dropout, PAD))


def trainer_run(
    workdir: Path, report_to: str, shape: dict[str, Any], sizes: dict[str, int]
) -> dict[str, Any]:
    """One run in this process: Trainer construction + train(), timed; the W&B work left when
    train() returns (the WandbCallback's open run, hf_tracking's W&B process finishing) is done
    at interpreter exit, as in a user's script, and timed by the parent."""
    from transformers import Trainer

    import hf_tracking  # noqa: F401 (registers report_to="hf_tracking")
    from tests.support.tiny import PaddedDataset, training_arguments

    workdir.mkdir(parents=True)
    model = benchmark_model(shape["recipe"])
    train_data = PaddedDataset(64, **shape["data"])
    eval_data = PaddedDataset(16, seed=1, **shape["data"])
    args = training_arguments(
        str(workdir / "out"),
        report_to=report_to,
        logging_steps=1,
        save_only_model=True,
        disable_tqdm=True,
        per_device_train_batch_size=shape["batch_size"],
        gradient_accumulation_steps=shape["gradient_accumulation_steps"],
        **sizes,
    )
    with working_directory(workdir), silenced():
        started = time.time()
        start = time.perf_counter()
        trainer = Trainer(model=model, args=args, train_dataset=train_data, eval_dataset=eval_data)
        output = trainer.train()
        train_s = time.perf_counter() - start
    return {
        "report_to": report_to,
        "global_step": trainer.state.global_step,
        "train_runtime_s": output.metrics.get("train_runtime"),
        "train_s": train_s,
        "started_epoch_s": started,
        "model": {"d_model": model.config.n_embd, "seq_length": model.config.n_positions},
    }


def trainer_run_in_child(
    workdir: Path, report_to: str, shape: dict[str, Any], sizes: dict[str, int], threads: int
) -> dict[str, Any]:
    """A fresh interpreter per run, so W&B's start-up (import, service) is paid as a user pays it;
    ``to_exit_s`` runs from Trainer construction to the end of the exit work (W&B finishing its
    run), before the interpreter's own teardown."""
    import subprocess

    spec = {"workdir": str(workdir), "report_to": report_to, "shape": shape, "sizes": sizes}
    command = [
        sys.executable,
        __file__,
        "--torch-threads",
        str(threads),
        "--child",
        json.dumps(spec),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"trainer run failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def child_main(spec_json: str, threads: int) -> int:
    """Registered first, the report runs last at exit: after hf_tracking's wait for its W&B
    process and after wandb's own exit hook."""
    import atexit

    spec = json.loads(spec_json)
    set_torch_threads(threads)
    result: dict[str, Any] = {}

    def report() -> None:
        result["to_exit_s"] = time.time() - result.pop("started_epoch_s")
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()

    atexit.register(report)
    result.update(
        trainer_run(Path(spec["workdir"]), spec["report_to"], spec["shape"], spec["sizes"])
    )
    return 0


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
    }


def section_trainer(
    temp: Path,
    name: str,
    shape: dict[str, Any],
    repeats: int,
    sizes: dict[str, int],
    threads: int,
    warmup: bool,
) -> dict:
    """Interleaved none / hf_tracking / wandb runs of one model, each in a fresh process; one
    untimed warm-up round first (file caches). The per-step figure is the median difference over
    the steps of a run: what tracking adds to each logged step, start-up and finish included."""
    names = ("none", "hf_tracking", "wandb")
    if warmup:
        for report_to in names:
            workdir = temp / f"f_{name}_warmup_{report_to}"
            trainer_run_in_child(workdir, report_to, shape, sizes, threads)
    runs: dict[str, list[dict[str, Any]]] = {report_to: [] for report_to in names}
    for repeat in range(repeats):
        for report_to in names:
            workdir = temp / f"f_{name}_{repeat}_{report_to}"
            runs[report_to].append(trainer_run_in_child(workdir, report_to, shape, sizes, threads))
    results: dict[str, Any] = {
        "sizes": {
            **sizes,
            "logging_steps": 1,
            "per_device_train_batch_size": shape["batch_size"],
            "gradient_accumulation_steps": shape["gradient_accumulation_steps"],
            "train_samples": 64,
            "eval_samples": 16,
            **runs["none"][0]["model"],
        },
        "repeats": repeats,
        "warmup_round": warmup,
        "note": "one fresh process per run, interleaved none, hf_tracking, wandb; train_only: "
        "Trainer construction + train(); total: from Trainer construction to the end of the exit "
        "work (W&B runs finished), before the interpreter's teardown; the Trainer's printed logs "
        "go to /dev/null",
        "per_run_total_s": {
            report_to: [round(r["to_exit_s"], 3) for r in runs[report_to]] for report_to in names
        },
    }
    for report_to in names:
        results[report_to] = {
            "total": spread([run["to_exit_s"] for run in runs[report_to]]),
            "train_only": spread([run["train_s"] for run in runs[report_to]]),
        }
    for measure in ("train_only", "total"):
        base = results["none"][measure]["median_s"]
        for report_to in ("hf_tracking", "wandb"):
            median = results[report_to][measure]["median_s"]
            results[f"ratio_{report_to}_over_none_{measure}"] = round(median / base, 3)
            results[f"added_ms_per_step_{report_to}_{measure}"] = round(
                1e3 * (median - base) / sizes["max_steps"], 3
            )
    results["none_ms_per_step"] = round(
        1e3 * results["none"]["train_only"]["median_s"] / sizes["max_steps"], 2
    )
    return results


# ====================================================================== report
def latency_rows(results: dict[str, Any]) -> list[list[Any]]:
    rows = [["timer floor (empty call)", *latency_cells(results["timer_floor"])]]
    for name, case in results["log_train_step"].items():
        rows.append([f"log_train_step {name}, no record", *latency_cells(case["non_emitting"])])
        rows.append([f"log_train_step {name}, record", *latency_cells(case["emitting"])])
    for name, case in results["on_log"].items():
        rows.append([f"on_log {name}", *latency_cells(case["on_log"])])
        rows.append([f"on_step_begin+end {name}", *latency_cells(case["on_step_begin_plus_end"])])
    wandb_log = results["wandb_log"]["wandb_log_5_scalars"]
    rows.append(["wandb.log 5 scalars (offline)", *latency_cells(wandb_log)])
    return rows


def latency_cells(stats: dict[str, Any]) -> list[Any]:
    return [stats["n"], stats.get("p50_us"), stats.get("p95_us"), stats.get("p99_us")]


def oneoff_rows(results: dict[str, Any]) -> list[list[Any]]:
    finish = results["finish_drain"]
    rows: list[list[Any]] = [[f"ratio {name}", value] for name, value in results["ratios"].items()]
    for name in ("local_and_wandb", "local_only"):
        case = finish[name]
        rows.append([f"finish() after {case['records']} records, {name} (s)", case["finish_s"]])
        rows.append(
            [f"  then W&B finished after, {name} (s)", case["remote_backends_finished_after_s"]]
        )
        rows.append([f"  intake backlog at finish, {name}", case["intake_backlog_at_finish"]])
    rows.append(["  W&B's own flush and exit (s)", finish["wandb_share_s"]])
    for phase in ("cold", "warm"):
        startup = results["startup"][phase]
        for mode in ("disabled", "offline"):
            rows.append(
                [
                    f"start-up to first log, {mode}, {phase} (s)",
                    startup[mode]["to_first_log_return_s"],
                ]
            )
        rows.append(
            [f"  offline - disabled, {phase} (s) [target <= 0.05]", startup["difference_s"]]
        )
    return rows


def trainer_rows(trainer: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name in ("none", "hf_tracking", "wandb"):
        row: list[Any] = [name]
        for measure in ("train_only", "total"):
            cell = trainer[name][measure]
            ratio = 1.0 if name == "none" else trainer[f"ratio_{name}_over_none_{measure}"]
            row += [cell["median_s"], f"{cell['min_s']}-{cell['max_s']}", ratio]
        row.append(0.0 if name == "none" else trainer[f"added_ms_per_step_{name}_total"])
        rows.append(row)
    return rows


def print_report(results: dict[str, Any]) -> None:
    info = results["machine"]
    print(
        f"hf_tracking {results['versions']['hf_tracking']}, torch "
        f"{results['versions']['torch']}, transformers {results['versions']['transformers']}, "
        f"wandb {results['versions']['wandb']}, python {results['versions']['python']}; "
        f"{info['cpu_model']}, {info['cpu_count']} cores"
    )
    print_table(
        "Per-call cost on the calling thread (µs)",
        ["measurement", "n", "p50", "p95", "p99"],
        latency_rows(results),
    )
    print_table("One-off costs and ratios", ["measurement", "value"], oneoff_rows(results))
    for name, trainer in results.get("trainer", {}).items():
        sizes = trainer["sizes"]
        print_table(
            f"Trainer wallclock, {name} GPT-2 (d_model {sizes['d_model']}, seq "
            f"{sizes['seq_length']}; {trainer['none_ms_per_step']} ms a step untracked), "
            f"{sizes['max_steps']} steps, construction + train() and to the process's exit (s), "
            f"{trainer['repeats']} interleaved repeats, a fresh process each, torch threads "
            f"{results['torch_threads']}",
            [
                "report_to",
                "train() median",
                "min-max",
                "ratio",
                "to exit",
                "min-max",
                "ratio",
                "ms added a step",
            ],
            trainer_rows(trainer),
        )


# ====================================================================== main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="benchmark_overhead.json", help="JSON output path")
    parser.add_argument("--calls", type=int, default=100_000, help="log_train_step/on_log calls")
    parser.add_argument("--wandb-calls", type=int, default=20_000, help="direct wandb.log calls")
    parser.add_argument("--drain-records", type=int, default=10_000, help="records for finish()")
    parser.add_argument("--startup-window", type=float, default=1.5, help="seconds of steps")
    parser.add_argument("--repeats", type=int, default=5, help="Trainer runs per report_to")
    parser.add_argument(
        "--max-steps", type=int, default=400, help=f"Trainer max_steps, {MICRO} model"
    )
    parser.add_argument(
        "--recipe-steps", type=int, default=20, help=f"Trainer max_steps, {TINY_RECIPE} model"
    )
    parser.add_argument(
        "--models",
        default=f"{MICRO},{TINY_RECIPE}",
        help=f"comma-separated models for the Trainer runs ({MICRO}, {TINY_RECIPE})",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads for the Trainer runs (0: torch's default); on 2 cores the "
        "default 2 OpenMP threads compete with W&B's service and the writer thread and give "
        "10-50x outliers",
    )
    parser.add_argument("--skip-trainer", action="store_true", help="leave out section f")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one Trainer run of section f
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.wandb_calls, args.drain_records = 2000, 300, 500
        args.startup_window, args.repeats, args.max_steps, args.recipe_steps = 0.2, 1, 4, 2
    return args


def trainer_sizes(max_steps: int) -> dict[str, int]:
    """Evaluation every third of the run and a checkpoint at half of it (133 / 200 of 400)."""
    return {
        "max_steps": max_steps,
        "eval_steps": max(1, max_steps // 3),
        "save_steps": max(1, max_steps // 2),
    }


def set_torch_threads(threads: int) -> int:
    """Set torch's intra-op thread count (0 leaves it) and return the count in use."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def run(args: argparse.Namespace, temp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {
        "script": "benchmark_overhead",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": [sys.executable, *sys.argv],
        "args": vars(args),
        "versions": versions(),
        "machine": machine(),
        "git": git_state(),
        "gc_enabled": gc.isenabled(),
    }
    results["startup"] = section_startup(temp, args.startup_window)
    results["timer_floor"] = timer_floor(args.calls)
    results["log_train_step"] = section_log_train_step(temp, args.calls)
    results["on_log"] = section_on_log(temp, args.calls)
    results["wandb_log"] = section_wandb_log(temp, args.wandb_calls)
    results["ratios"] = ratios(results)
    results["finish_drain"] = section_finish(temp, args.drain_records)
    if not args.skip_trainer:
        results["torch_threads"] = set_torch_threads(args.torch_threads)
        shapes = model_shapes()
        steps = {MICRO: args.max_steps, TINY_RECIPE: args.recipe_steps}
        results["trainer"] = {
            name: section_trainer(
                temp,
                name,
                shapes[name],
                args.repeats,
                trainer_sizes(steps[name]),
                args.torch_threads,
                warmup=not args.quick,
            )
            for name in args.models.split(",")
        }
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args.torch_threads)
    output = Path(args.output).resolve()
    with tempfile.TemporaryDirectory(prefix="hf_tracking_bench_") as directory:
        temp = Path(directory)
        quiet_environment(temp)
        start = time.perf_counter()
        results = run(args, temp)
        results["wall_s"] = round(time.perf_counter() - start, 1)
        results["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    print_report(results)
    write_json(output, results)
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
