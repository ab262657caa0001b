"""Memory and drain time of a million-record run with the local store only.

    .venv/bin/python scripts/benchmark_memory.py                  # 1,000,000 records
    .venv/bin/python scripts/benchmark_memory.py --quick          # 20,000 records (smoke test)
    .venv/bin/python scripts/benchmark_memory.py --flush-every 10000   # writer kept caught up

One ``ExperimentTracker`` (``backends=[LocalRunStore()]``, ``wandb_mode="disabled"``,
``track_memory=False``, ``log_every_steps=1``) gets ``--records`` calls of ``log_train_step``, so
every call emits a record. The process RSS (psutil) is read at the start, every
``--sample-every`` records and at the end; the writer thread's intake backlog (the length of the
dispatcher's deque, read without touching anything else) every 1,000 records. Then ``finish()``
is timed, with the summary's build and write timed inside it, and ``metrics.jsonl`` is counted.

Targets: RSS growth under 50 MB; summary (and ``finish()``) under 1 s; one line per record.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_overhead import (
    backend_counts,
    count_lines,
    git_state,
    log_step,
    machine,
    print_table,
    quiet_environment,
    timed_summary,
    tracker_config,
    versions,
    write_json,
)

MB = 1024**2
BACKLOG_EVERY = 1000
PEAK_RSS_EVERY = 10_000
GROWTH_TARGET_MB = 50.0
TIME_TARGET_S = 1.0


def rss_mb(process: Any) -> float:
    return process.memory_info().rss / MB


def new_tracker(output_dir: Path, records: int) -> Any:
    """A started tracker with the local store alone and a record on every call."""
    from hf_tracking import ExperimentTracker
    from hf_tracking.backends import LocalRunStore

    config = tracker_config(
        output_dir,
        wandb_mode="disabled",
        track_memory=False,
        log_every_steps=1,
        num_iterations=records,
    )
    return ExperimentTracker(config, backends=[LocalRunStore()]).start()


def drive(tracker: Any, records: int, sample_every: int, flush_every: int) -> dict[str, Any]:
    """``records`` calls of log_train_step, sampling RSS and the intake backlog as it goes."""
    import psutil

    process = psutil.Process()
    intake = tracker.session.dispatcher._intake  # read only, for the backlog figure
    start_rss = rss_mb(process)
    samples = [{"records": 0, "elapsed_s": 0.0, "rss_mb": start_rss, "intake_backlog": 0}]
    max_backlog = 0
    peak_rss = start_rss
    start = time.perf_counter()
    for iteration in range(records):
        log_step(tracker, iteration)
        done = iteration + 1
        if done % BACKLOG_EVERY == 0:
            max_backlog = max(max_backlog, len(intake))
            if done % PEAK_RSS_EVERY == 0:
                peak_rss = max(peak_rss, rss_mb(process))
            if flush_every and done % flush_every == 0:
                tracker.flush(timeout=60.0)
        if done % sample_every == 0 or done == records:
            rss = rss_mb(process)
            peak_rss = max(peak_rss, rss)
            samples.append(
                {
                    "records": done,
                    "elapsed_s": round(time.perf_counter() - start, 2),
                    "rss_mb": rss,
                    "intake_backlog": len(intake),
                }
            )
    return {
        "loop_s": time.perf_counter() - start,
        "start_rss_mb": start_rss,
        "peak_rss_mb": peak_rss,
        "max_intake_backlog": max_backlog,
        "samples": samples,
    }


def finish_timed(tracker: Any) -> dict[str, float]:
    """``finish()`` wallclock, with the summary's build and write timed inside it."""
    with timed_summary() as summary:
        start = time.perf_counter()
        tracker.finish()
        finish_s = time.perf_counter() - start
    return {
        "finish_s": finish_s,
        "build_summary_s": summary["build_summary_s"],
        "write_summary_s": summary["write_summary_s"],
        "summary_s": summary["build_summary_s"] + summary["write_summary_s"],
    }


def measure(temp: Path, records: int, sample_every: int, flush_every: int) -> dict[str, Any]:
    import psutil

    process = psutil.Process()
    wall_start = time.perf_counter()
    tracker = new_tracker(temp / "memory", records)
    gc.collect()
    loop = drive(tracker, records, sample_every, flush_every)
    finish = finish_timed(tracker)
    after_finish = rss_mb(process)
    wall_s = time.perf_counter() - wall_start
    lines = count_lines(tracker.run_dir / "metrics.jsonl")
    start_rss = loop["start_rss_mb"]
    end_rss = loop["samples"][-1]["rss_mb"]
    return {
        "records": records,
        "flush_every": flush_every,
        "rss_mb": {
            "start": round(start_rss, 1),
            "end_of_loop": round(end_rss, 1),
            "peak": round(loop["peak_rss_mb"], 1),
            "after_finish": round(after_finish, 1),
        },
        "growth_mb": {
            "end_of_loop": round(end_rss - start_rss, 1),
            "peak": round(loop["peak_rss_mb"] - start_rss, 1),
            "after_finish": round(after_finish - start_rss, 1),
        },
        "samples": [{**sample, "rss_mb": round(sample["rss_mb"], 1)} for sample in loop["samples"]],
        "max_intake_backlog": loop["max_intake_backlog"],
        "history_len": len(tracker.history),
        "history_stride": tracker.history.stride,
        "metrics_jsonl_lines": lines,
        "lines_equal_records": lines == records,
        "loop_s": round(loop["loop_s"], 2),
        "calls_per_second": round(records / loop["loop_s"]),
        **{key: round(value, 4) for key, value in finish.items()},
        "wall_s": round(wall_s, 2),
        "backends": backend_counts(tracker),
    }


def targets(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target with its value and, when missed, by how much."""
    checks = {
        "peak_growth_under_50_mb": (result["growth_mb"]["peak"], GROWTH_TARGET_MB),
        "end_of_loop_growth_under_50_mb": (result["growth_mb"]["end_of_loop"], GROWTH_TARGET_MB),
        "summary_under_1_s": (result["summary_s"], TIME_TARGET_S),
        "finish_under_1_s": (result["finish_s"], TIME_TARGET_S),
    }
    report = {
        name: {"value": value, "limit": limit, "met": value < limit, "over_by": None}
        for name, (value, limit) in checks.items()
    }
    for entry in report.values():
        if not entry["met"]:
            entry["over_by"] = round(entry["value"] - entry["limit"], 3)
    report["lines_equal_records"] = {"met": result["lines_equal_records"]}
    return report


def print_report(result: dict[str, Any], info: dict[str, Any]) -> None:
    print(
        f"hf_tracking {info['versions']['hf_tracking']}, python {info['versions']['python']}; "
        f"{info['machine']['cpu_model']}, {info['machine']['cpu_count']} cores; "
        f"{result['records']} records, local store only, flush_every={result['flush_every']}"
    )
    start = result["rss_mb"]["start"]
    rows = [
        [
            sample["records"],
            sample["elapsed_s"],
            sample["rss_mb"],
            round(sample["rss_mb"] - start, 1),
            sample["intake_backlog"],
        ]
        for sample in result["samples"]
    ]
    rows.append(
        [
            "after finish()",
            None,
            result["rss_mb"]["after_finish"],
            result["growth_mb"]["after_finish"],
            0,
        ]
    )
    print_table(
        "RSS while logging", ["records", "elapsed s", "RSS MB", "growth MB", "intake backlog"], rows
    )
    summary_rows = [
        ["RSS growth, peak (MB) [target < 50]", result["growth_mb"]["peak"]],
        ["RSS growth, end of loop (MB) [target < 50]", result["growth_mb"]["end_of_loop"]],
        ["max intake backlog (records)", result["max_intake_backlog"]],
        ["len(tracker.history)", result["history_len"]],
        ["metrics.jsonl lines", result["metrics_jsonl_lines"]],
        ["lines == records", result["lines_equal_records"]],
        ["logging loop (s)", result["loop_s"]],
        ["calls per second", result["calls_per_second"]],
        ["finish() (s) [target < 1]", result["finish_s"]],
        ["summary build + write (s) [target < 1]", result["summary_s"]],
        ["total wall (s)", result["wall_s"]],
    ]
    print_table("Million-record run", ["measurement", "value"], summary_rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default="benchmark_memory.json", help="JSON output path")
    parser.add_argument("--records", type=int, default=1_000_000, help="log_train_step calls")
    parser.add_argument("--sample-every", type=int, default=100_000, help="RSS sample interval")
    parser.add_argument(
        "--flush-every", type=int, default=0, help="tracker.flush() every N records (0: never)"
    )
    parser.add_argument("--quick", action="store_true", help="20,000 records (smoke test)")
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.sample_every = 20_000, 5_000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    output = Path(args.output).resolve()
    info = {"versions": versions(), "machine": machine(), "git": git_state()}
    with tempfile.TemporaryDirectory(prefix="hf_tracking_memory_") as directory:
        quiet_environment(Path(directory))
        result = measure(Path(directory), args.records, args.sample_every, args.flush_every)
    data = {
        "script": "benchmark_memory",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": [sys.executable, *sys.argv],
        "args": vars(args),
        **info,
        **result,
        "targets": targets(result),
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }
    print_report(result, info)
    write_json(output, data)
    print(f"\nwrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
