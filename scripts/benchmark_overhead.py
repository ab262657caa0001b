"""Overhead of hf_tracking, measured side by side with report_to none, wandb and trackio.

    .venv/bin/python scripts/benchmark_overhead.py                 # everything (about 30 min on 2 cores)
    .venv/bin/python scripts/benchmark_overhead.py --quick         # tiny sizes (smoke test)
    .venv/bin/python scripts/benchmark_overhead.py --only-trainer --shapes gpt2_64 --repeats 3 \
        --repeats-default-threads 5 --no-warmup --configs none,wandb,hf_tracking,hf_tracking_local,\
hf_tracking_live --runs-log runs.jsonl   # the performance page's table (about 10 min on 2 cores)
    # then, even if stopped early: --from-runs-log runs.jsonl

Sections (W&B offline, every output in a temporary directory; the code is in scripts/overhead/):

a–c. per-call costs on the calling thread (:mod:`overhead.calls`): ``log_train_step``,
     ``TrackingCallback.on_log`` and the step events, a direct ``wandb.log``;
d–e. one-off costs (:mod:`overhead.oneoff`): ``finish()`` after a backlog, W&B start-up delay;
f.   whole Trainer runs (:mod:`overhead.trainer_runs`): report_to none / wandb / hf_tracking
     (default: W&B offline, written after training; the script imports wandb, so ``wandb.run`` is
     attached; ``wandb_offline: live``, the W&B process during training as in online mode, in
     W&B's offline mode like report_to="wandb" here; local store only; trackio, ``track_layers``
     and ``wandb_attach: never`` on request), each in a fresh process, under torch's default
     threads and one thread, all interleaved, on the test suite's GPT-2 (``micro``) and on issue
     15's shape (``gpt2_64``): ``train()`` ratio to none, CPU of the whole process tree (every
     process a run starts, W&B's service included, until it exits), its extra over none and as a
     share of report_to="wandb"'s, the tracking callback's time on the training thread per step
     (the model's hooks, step events, ``on_log``, evaluations and saves); a table per setting,
     then one with the settings side by side.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for path in (str(HERE.parent), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

from overhead import calls, common, oneoff, report, trainer_child, trainer_runs  # noqa: E402
from overhead.calls import log_step  # noqa: E402
from overhead.common import (  # noqa: E402
    backend_counts,
    count_lines,
    git_state,
    machine,
    print_table,
    quiet_environment,
    tracker_config,
    versions,
    write_json,
)
from overhead.oneoff import timed_summary  # noqa: E402

# The helpers the other benchmark scripts import from here.
__all__ = [
    "backend_counts",
    "count_lines",
    "git_state",
    "log_step",
    "machine",
    "print_table",
    "quiet_environment",
    "timed_summary",
    "tracker_config",
    "versions",
    "write_json",
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="benchmark_overhead.json", help="JSON output path")
    parser.add_argument("--calls", type=int, default=100_000, help="log_train_step/on_log calls")
    parser.add_argument("--wandb-calls", type=int, default=20_000, help="direct wandb.log calls")
    parser.add_argument("--drain-records", type=int, default=10_000, help="records for finish()")
    parser.add_argument("--startup-window", type=float, default=1.5, help="seconds of steps")
    parser.add_argument("--repeats", type=int, default=7, help="Trainer runs per configuration")
    parser.add_argument(
        "--repeats-default-threads",
        type=int,
        help="runs per configuration under torch's default threads (noisier when they take "
        "every core; default: --repeats)",
    )
    parser.add_argument("--max-steps", type=int, default=200, help="Trainer max_steps")
    parser.add_argument(
        "--shapes", default="micro,gpt2_64", help=f"models: {','.join(trainer_child.SHAPES)}"
    )
    parser.add_argument(
        "--configs",
        default=",".join(trainer_child.DEFAULT_CONFIGS),
        help=f"configurations (none first): {','.join(trainer_child.CONFIGS)}",
    )
    parser.add_argument(
        "--torch-threads",
        default="0,1",
        help="torch intra-op thread settings, interleaved (0: torch's default, what a CPU user "
        "gets; 1 leaves a core to the rest of the process tree)",
    )
    parser.add_argument("--no-warmup", action="store_true", help="no untimed warm-up runs")
    parser.add_argument("--skip-trainer", action="store_true", help="leave out section f")
    parser.add_argument("--only-trainer", action="store_true", help="section f only")
    parser.add_argument("--runs-log", help="append every Trainer run's figures to this JSONL")
    parser.add_argument(
        "--from-runs-log", help="print and write section f from runs logs (comma-separated)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one Trainer run of section f
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.wandb_calls, args.drain_records = 2000, 300, 500
        args.startup_window, args.repeats, args.max_steps = 0.2, 1, 4
        args.shapes, args.configs = "micro", "none,wandb,hf_tracking"
        args.torch_threads, args.repeats_default_threads = "0,1", 1
    return args


def trainer_sizes(max_steps: int, quick: bool) -> dict[str, int]:
    """Evaluation every quarter of the run on 64 samples, one save at the end."""
    return {
        "max_steps": max_steps,
        "eval_steps": max(1, max_steps // 4),
        "eval_samples": 8 if quick else 64,
        "save_steps": max_steps,
    }


def run(args: argparse.Namespace, temp: Path) -> dict[str, Any]:
    results: dict[str, Any] = {
        "script": "benchmark_overhead",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": [sys.executable, *sys.argv],
        "args": vars(args),
        "versions": common.versions(),
        "machine": common.machine(),
        "git": common.git_state(),
        "gc_enabled": gc.isenabled(),
    }
    if not args.only_trainer:
        results["startup"] = oneoff.section_startup(temp, args.startup_window)
        results["timer_floor"] = calls.timer_floor(args.calls)
        results["log_train_step"] = calls.section_log_train_step(temp, args.calls)
        results["on_log"] = calls.section_on_log(temp, args.calls)
        results["wandb_log"] = calls.section_wandb_log(temp, args.wandb_calls)
        results["ratios"] = calls.ratios(results)
        results["finish_drain"] = oneoff.section_finish(temp, args.drain_records)
    if not args.skip_trainer:
        results["subreaper"] = trainer_runs.become_subreaper()
        configs = args.configs.split(",")
        if configs[0] != "none":
            configs = ["none", *[config for config in configs if config != "none"]]
        repeats = {
            int(threads): args.repeats_default_threads or args.repeats
            if int(threads) == 0
            else args.repeats
            for threads in args.torch_threads.split(",")
        }
        results["trainer"] = {
            shape: trainer_runs.section_trainer(
                temp,
                shape,
                configs,
                repeats,
                trainer_sizes(args.max_steps, args.quick),
                warmup=not (args.quick or args.no_warmup),
                runs_log=Path(args.runs_log).resolve() if args.runs_log else None,
            )
            for shape in args.shapes.split(",")
        }
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return trainer_child.child_main(args.child)
    output = Path(args.output).resolve()
    if args.from_runs_log:
        results = {
            "script": "benchmark_overhead",
            "versions": common.versions(),
            "machine": common.machine(),
            "git": common.git_state(),
            "runs_log": args.from_runs_log,
            "trainer": trainer_runs.from_runs_log(
                [Path(path) for path in args.from_runs_log.split(",")]
            ),
            "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        }
        report.print_report(results)
        common.write_json(output, results)
        return 0
    with tempfile.TemporaryDirectory(prefix="hf_tracking_bench_") as directory:
        temp = Path(directory)
        common.quiet_environment(temp)
        start = time.perf_counter()
        results = run(args, temp)
        results["wall_s"] = round(time.perf_counter() - start, 1)
        results["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    report.print_report(results)
    common.write_json(output, results)
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
