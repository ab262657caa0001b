"""Whole-run overhead of hf_tracking with all four remote backends against the Trainer's own
integrations.

Each Trainer run is a fresh interpreter (so every library's import and start-up is paid as in a
user's script), on the test suite's tiny random-init GPT-2 (tests/support/tiny.py), logging
every step, with two evaluations and a checkpoint. The runs are interleaved round by round:

- ``none``: ``report_to="none"``, the baseline;
- ``hf_tracking``: ``report_to="hf_tracking"`` with ``HF_TRACKING_BACKENDS=wandb,tensorboard,
  mlflow,trackio`` (the local run store always on);
- ``trainer_3``: ``report_to=["tensorboard", "mlflow", "trackio"]``, the Trainer's integrations;
- ``trainer_4``: the same plus ``"wandb"``, like for like with ``hf_tracking``.

W&B is offline, MLflow writes to a SQLite store (``MLFLOW_TRACKING_URI``) and trackio to its
own directory (``TRACKIO_DIR``), all in the run's temporary directory, for every configuration.
``train`` is Trainer construction + ``train()``; ``to exit`` runs on to the end of the exit work
(remote backends finished, the Trainer's open runs closed), before the interpreter's teardown.

    python scripts/benchmark_backends.py                 # 3 rounds, 200 steps: a few minutes
    python scripts/benchmark_backends.py --quick         # 1 round, 20 steps: a smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REMOTE_BACKENDS = "wandb,tensorboard,mlflow,trackio"
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "none": {"report_to": "none"},
    "hf_tracking": {"report_to": "hf_tracking", "backends": REMOTE_BACKENDS},
    "trainer_3": {"report_to": ["tensorboard", "mlflow", "trackio"]},
    "trainer_4": {"report_to": ["wandb", "tensorboard", "mlflow", "trackio"]},
}


def child_environment(workdir: Path, configuration: dict[str, Any]) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        {
            "WANDB_MODE": "offline",
            "WANDB_SILENT": "true",
            "WANDB_DIR": str(workdir),
            "MLFLOW_TRACKING_URI": f"sqlite:///{workdir}/mlflow.db",
            "TRACKIO_DIR": str(workdir / "trackio"),
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "PYTHONPATH": os.pathsep.join([str(ROOT), environment.get("PYTHONPATH", "")]),
        }
    )
    for name in ("WANDB_API_KEY", "HF_TRACKING_CONFIG", "HF_TRACKING_BACKENDS"):
        environment.pop(name, None)
    if "backends" in configuration:
        environment["HF_TRACKING_BACKENDS"] = configuration["backends"]
    return environment


def run_in_child(workdir: Path, name: str, steps: int, threads: int) -> dict[str, Any]:
    workdir.mkdir(parents=True)
    spec = {"workdir": str(workdir), "name": name, "steps": steps, "threads": threads}
    completed = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        env=child_environment(workdir, CONFIGURATIONS[name]),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{name} run failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    if name == "hf_tracking":
        result["backends"] = backend_reports(workdir)
    return result


def backend_reports(workdir: Path) -> dict[str, Any]:
    """What each backend of the hf_tracking run did, from its summary."""
    (path,) = (workdir / "experiments").glob("*_summary.json")
    summary = json.loads(path.read_text())
    return {
        report["name"]: {key: report.get(key) for key in ("status", "records_written", "error")}
        for report in summary["backends"]
    }


def child_main(spec: dict[str, Any]) -> int:
    """One Trainer run. The report is registered first, so it runs last at exit: after the
    exit hooks of hf_tracking, wandb, trackio and mlflow."""
    import atexit

    import torch

    if spec["threads"] > 0:
        torch.set_num_threads(spec["threads"])
    result: dict[str, Any] = {"name": spec["name"]}

    def report() -> None:
        result["to_exit_s"] = time.time() - result.pop("started_epoch_s")
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()

    atexit.register(report)
    from transformers import Trainer

    import hf_tracking  # noqa: F401 (registers report_to="hf_tracking")
    from tests.support.tiny import PaddedDataset, tiny_model, training_arguments

    workdir = Path(spec["workdir"])
    steps = spec["steps"]
    args = training_arguments(
        str(workdir / "out"),
        report_to=CONFIGURATIONS[spec["name"]]["report_to"],
        run_name="benchmark",
        max_steps=steps,
        logging_steps=1,
        eval_steps=steps // 2,
        save_steps=steps,
        save_only_model=True,
    )
    model = tiny_model()
    os.chdir(workdir)
    with (
        open(os.devnull, "w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        result["started_epoch_s"] = time.time()
        start = time.perf_counter()
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=PaddedDataset(64),
            eval_dataset=PaddedDataset(16, seed=1),
        )
        trainer.train()
        result["train_s"] = time.perf_counter() - start
    result["global_step"] = trainer.state.global_step
    return 0


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 3),
        "min_s": round(min(values), 3),
        "max_s": round(max(values), 3),
    }


def benchmark(rounds: int, steps: int, threads: int, temp: Path) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGURATIONS}
    for round_index in range(rounds):
        for name in CONFIGURATIONS:
            runs[name].append(run_in_child(temp / f"{round_index}_{name}", name, steps, threads))
    results: dict[str, Any] = {
        "rounds": rounds,
        "steps": steps,
        "torch_threads": threads,
        "configurations": {name: spec for name, spec in CONFIGURATIONS.items()},
        "hf_tracking_backends": [run["backends"] for run in runs["hf_tracking"]],
    }
    base = {
        measure: statistics.median(run[measure] for run in runs["none"])
        for measure in ("train_s", "to_exit_s")
    }
    for name, measured in runs.items():
        entry: dict[str, Any] = {
            "global_steps": [run["global_step"] for run in measured],
            "per_round": {
                m: [round(run[m], 3) for run in measured] for m in ("train_s", "to_exit_s")
            },
        }
        for measure in ("train_s", "to_exit_s"):
            values = [run[measure] for run in measured]
            median = statistics.median(values)
            entry[measure] = spread(values)
            entry[f"ratio_{measure}"] = round(median / base[measure], 3)
            entry[f"added_ms_per_step_{measure}"] = round(1e3 * (median - base[measure]) / steps, 2)
        results[name] = entry
    return results


def print_table(results: dict[str, Any]) -> None:
    print(f"\n{results['rounds']} rounds of {results['steps']} steps, medians (min–max)")
    header = ["configuration", "train()", "ratio", "ms/step", "to exit", "ratio", "ms/step"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for name in CONFIGURATIONS:
        entry = results[name]
        cells = [name]
        for measure in ("train_s", "to_exit_s"):
            stats = entry[measure]
            cells += [
                f"{stats['median_s']:.2f} s ({stats['min_s']:.2f}–{stats['max_s']:.2f})",
                f"{entry[f'ratio_{measure}']:.3f}",
                f"{entry[f'added_ms_per_step_{measure}']:+.1f}",
            ]
        print("| " + " | ".join(cells) + " |")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="benchmark_backends.json", help="JSON output path")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=200, help="gradient steps a run")
    parser.add_argument("--torch-threads", type=int, default=1, help="0: torch's default")
    parser.add_argument("--quick", action="store_true", help="1 round of 20 steps")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_args(argv)
    if arguments.child:
        return child_main(json.loads(arguments.child))
    rounds, steps = (1, 20) if arguments.quick else (arguments.rounds, arguments.steps)
    with tempfile.TemporaryDirectory(prefix="benchmark_backends_") as temp:
        results = benchmark(rounds, steps, arguments.torch_threads, Path(temp))
    Path(arguments.output).write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    print(f"\nwritten: {arguments.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
