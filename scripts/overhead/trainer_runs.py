"""f. Whole Trainer runs side by side: report_to none / wandb / trackio / hf_tracking (default,
with ``wandb.run`` in use, with ``wandb_attach: never``, local store only), each in a fresh
process, interleaved (the order rotates every repetition), after untimed warm-up runs (none, wandb,
hf_tracking).

CPU is counted over the whole process tree: this process makes itself a child subreaper, so the
W&B processes a run leaves behind (hf_tracking's W&B process, W&B's service) are reparented here
when the training process exits, and their CPU time is collected when they are reaped. The CPU a
configuration spends on tracking is its tree's CPU minus the tree of the "none" run of the same
repetition; per 1,000 records it is over the run's Trainer log events (the same count for every
configuration: train logs, evaluations, the final log).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from overhead.common import spread
from overhead.trainer_child import CONFIGS, SHAPES

PR_SET_CHILD_SUBREAPER = 36
ORPHAN_WAIT_S = 60.0
SCRIPT = Path(__file__).resolve().parents[1] / "benchmark_overhead.py"


def become_subreaper() -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children() -> set[int]:
    import psutil

    return {child.pid for child in psutil.Process().children()}


def run_in_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One run; CPU of the training process and of every process it left, reaped here."""
    before = _children()
    process = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--child", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"trainer run {spec['config']} failed: {stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    left = 0.0
    deadline = time.monotonic() + ORPHAN_WAIT_S
    while orphans := _children() - before:
        for pid in orphans:
            if time.monotonic() > deadline:  # a process that would never end
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                reaped, _, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if reaped:
                left += usage.ru_utime + usage.ru_stime
        time.sleep(0.02)
    result["cpu_left_behind_s"] = left
    return result


def _tree_cpu_s(before: Any, after: Any) -> float:
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measured_run(spec: dict[str, Any]) -> dict[str, Any]:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_in_child(spec)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # RUSAGE_CHILDREN grows by every process reaped here: the training process with the
    # descendants it waited for, and the orphans reaped above.
    result["cpu_tree_s"] = _tree_cpu_s(before, after)
    result["cpu_children_s"] = result["cpu_tree_s"] - result["cpu_self_s"]
    # Every other thread (also those that ended) and every other process of the run.
    result["cpu_off_training_thread_s"] = result["cpu_tree_s"] - result["cpu_main_thread_s"]
    return result


def section_trainer(
    temp: Path,
    shape: str,
    configs: list[str],
    repeats: dict[int, int],
    sizes: dict[str, int],
    warmup: bool,
    runs_log: Path | None = None,
) -> dict[str, Any]:
    """One table per torch thread setting (``repeats``: the repetitions of each), the settings
    interleaved with the configurations (a repetition runs each configuration under each setting
    that has repetitions left). ``runs_log``: every run's figures appended as a JSON line as it
    ends, for :func:`from_runs_log` (a long benchmark on a busy machine can be stopped and
    summarized)."""
    thread_settings = list(repeats)

    def spec(config: str, tag: str, threads: int) -> dict[str, Any]:
        workdir = temp / f"f_{shape}_{tag}_t{threads}_{config}"
        return {
            "workdir": str(workdir),
            "shape": shape,
            "config": config,
            "sizes": sizes,
            "threads": threads,
        }

    if warmup:  # file caches and compiled bytecode of every library, untimed
        for config in ("none", "wandb", "hf_tracking"):
            measured_run(spec(config, "warmup", thread_settings[0]))
    runs: dict[int, dict[str, list[dict[str, Any]]]] = {
        threads: {config: [] for config in configs} for threads in thread_settings
    }
    for repeat in range(max(repeats.values())):
        shift = repeat % len(configs)
        settings = thread_settings if repeat % 2 == 0 else thread_settings[::-1]
        for threads in (threads for threads in settings if repeat < repeats[threads]):
            for config in configs[shift:] + configs[:shift]:
                result = measured_run(spec(config, str(repeat), threads))
                runs[threads][config].append(result)
                if runs_log is not None:
                    line = {"shape": shape, "config": config, "repeat": repeat, "sizes": sizes}
                    with open(runs_log, "a", encoding="utf-8") as stream:
                        line.update(threads=threads, result=result)
                        stream.write(json.dumps(line) + "\n")
    return {
        threads_label(threads): summarize(runs[threads], sizes, shape, repeats[threads], threads)
        for threads in thread_settings
    }


def threads_label(threads: int) -> str:
    return "torch's default threads" if threads == 0 else f"torch threads {threads}"


def from_runs_log(paths: list[Path]) -> dict[str, Any]:
    """The section's results from runs logs (each log's repetitions apart), over the
    repetitions every configuration finished, per shape and thread setting."""
    lines = []
    for index, path in enumerate(paths):
        for text in path.read_text(encoding="utf-8").splitlines():
            line = json.loads(text)
            lines.append({**line, "repeat": (index, line["repeat"])})
    results: dict[str, dict[str, Any]] = {}
    for shape, threads in dict.fromkeys((line["shape"], line["threads"]) for line in lines):
        mine = [line for line in lines if (line["shape"], line["threads"]) == (shape, threads)]
        configs = list(dict.fromkeys(line["config"] for line in mine))
        configs = ["none", *[config for config in configs if config != "none"]]
        done = [
            repeat
            for repeat in sorted({line["repeat"] for line in mine})
            if {line["config"] for line in mine if line["repeat"] == repeat} == set(configs)
        ]
        runs = {
            config: [
                next(x["result"] for x in mine if x["config"] == config and x["repeat"] == repeat)
                for repeat in done
            ]
            for config in configs
        }
        results.setdefault(shape, {})[threads_label(threads)] = summarize(
            runs, mine[0]["sizes"], shape, len(done), threads
        )
    return results


def summarize(
    runs: dict[str, list[dict[str, Any]]],
    sizes: dict[str, int],
    shape: str,
    repeats: int,
    threads: int,
) -> dict[str, Any]:
    base = runs["none"]
    results: dict[str, Any] = {
        "shape": {**SHAPES[shape], **sizes},
        "repeats": repeats,
        "torch_threads": threads,
        "torch_threads_used": base[0].get("torch_threads_used"),
        "none_ms_per_step": round(
            1e3 * statistics.median(r["train_s"] for r in base) / sizes["max_steps"], 2
        ),
        "configs": {},
    }
    for config, config_runs in runs.items():
        ratios = [r["train_s"] / b["train_s"] for r, b in zip(config_runs, base, strict=True)]
        exit_ratios = [
            r["to_exit_s"] / b["to_exit_s"] for r, b in zip(config_runs, base, strict=True)
        ]
        extra = [r["cpu_tree_s"] - b["cpu_tree_s"] for r, b in zip(config_runs, base, strict=True)]
        per_thousand = [1e3 * cpu / r["records"] for cpu, r in zip(extra, config_runs, strict=True)]
        # The extra off the training thread (other threads, other processes): training's own
        # compute is left out, so it moves little with the machine's load; what the tracking
        # does on the training thread (W&B's import and start-up, its per-row log) is not in
        # it. Only with torch on one thread: torch's own threads are off the training thread.
        off_thread = [
            r["cpu_off_training_thread_s"] - b["cpu_off_training_thread_s"]
            for r, b in zip(config_runs, base, strict=True)
            if threads == 1 and "cpu_main_thread_s" in r and "cpu_main_thread_s" in b
        ]
        results["configs"][config] = {
            "what": CONFIGS[config],
            "train_s": spread([r["train_s"] for r in config_runs]),
            "train_ratio": spread(ratios),
            "to_exit_ratio": spread(exit_ratios),
            "cpu_self_s": spread([r["cpu_self_s"] for r in config_runs], 2),
            "cpu_children_s": spread([r["cpu_children_s"] for r in config_runs], 2),
            "cpu_tree_s": spread([r["cpu_tree_s"] for r in config_runs], 2),
            "extra_cpu_tree_s": spread(extra, 2),
            "extra_cpu_off_thread_s": spread(off_thread, 2) if off_thread else None,
            "cpu_s_per_1000_records": spread(per_thousand, 2),
            "records": config_runs[0]["records"],
            "thread_us_per_step": spread([r["thread_us_per_step"] for r in config_runs], 1),
            "thread_us_per_step_typical": spread(
                [r.get("thread_us_per_step_typical", 0.0) for r in config_runs], 1
            ),
            "thread_us_per_step_net": spread(
                [r.get("thread_us_per_step_net", 0.0) for r in config_runs], 1
            ),
            "timer_us_a_call": spread([r.get("timer_us_a_call", 0.0) for r in config_runs], 2),
            "event_us_per_step": event_medians(config_runs),
            "setup_ms": config_runs[0]["setup_ms"],
            "wandb_file_kb": round(statistics.median(r["wandb_file_kb"] for r in config_runs), 1),
            "per_run_train_s": [round(r["train_s"], 3) for r in config_runs],
        }
    return results


def event_medians(config_runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per event, the median over the runs of its µs a step (total and typical)."""
    events = [r.get("event_us_per_step", {}) for r in config_runs]
    return {
        name: {
            kind: round(statistics.median(e[name].get(kind, 0.0) for e in events if name in e), 1)
            for kind in ("total", "typical", "net")
        }
        for name in dict.fromkeys(name for e in events for name in e)
    }
