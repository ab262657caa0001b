"""The printed tables: per-call latencies, one-off costs, and the whole-run table of issue 15."""

from __future__ import annotations

from typing import Any

from overhead.common import print_table


def latency_cells(stats: dict[str, Any]) -> list[Any]:
    return [stats["n"], stats.get("p50_us"), stats.get("p95_us"), stats.get("p99_us")]


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


def oneoff_rows(results: dict[str, Any]) -> list[list[Any]]:
    finish = results["finish_drain"]
    rows: list[list[Any]] = [[f"ratio {name}", value] for name, value in results["ratios"].items()]
    for name in ("local_and_wandb", "local_only"):
        case = finish[name]
        rows.append([f"finish() after {case['records']} records, {name} (s)", case["finish_s"]])
        rows.append(
            [f"then W&B finished after, {name} (s)", case["remote_backends_finished_after_s"]]
        )
    rows.append(["W&B's own flush and exit (s)", finish["wandb_share_s"]])
    for phase in ("cold", "warm"):
        startup = results["startup"][phase]
        for mode in ("disabled", "offline"):
            rows.append(
                [
                    f"start-up to first log, {mode}, {phase} (s)",
                    startup[mode]["to_first_log_return_s"],
                ]
            )
        rows.append([f"offline − disabled, {phase} (s) [target ≤ 0.05]", startup["difference_s"]])
    return rows


def trainer_rows(trainer: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for name, case in trainer["configs"].items():
        ratio = case["train_ratio"]
        rows.append(
            [
                name,
                f"{ratio['median']:.3f}",
                f"{ratio['min']:.3f}–{ratio['max']:.3f}",
                case["cpu_self_s"]["median"],
                case["cpu_children_s"]["median"],
                case["cpu_s_per_1000_records"]["median"],
                case["thread_us_per_step"]["median"],
                case.get("thread_us_per_step_typical", {}).get("median"),
                case.get("thread_us_per_step_net", {}).get("median"),
                case["wandb_file_kb"] or "-",
            ]
        )
    return rows


TRAINER_HEADER = [
    "report_to",
    'train() ratio to "none" (median)',
    "min–max",
    "CPU-s of the process",
    "CPU-s of its children",
    "tracking CPU-s per 1,000 records",
    "training-thread µs a step",
    "the same from per-call medians",
    "the same, net of the timer's cost",
    ".wandb KB",
]


def event_rows(trainer: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Training-thread µs a step by event: the total / the median call × calls a step / the
    same, net of the timer's cost."""
    configs = {
        name: case["event_us_per_step"]
        for name, case in trainer["configs"].items()
        if case.get("event_us_per_step")
    }
    names = list(dict.fromkeys(event for events in configs.values() for event in events))
    rows = [
        [event]
        + [
            f"{events[event]['total']} / {events[event]['typical']} / {events[event].get('net', '-')}"
            if event in events
            else "-"
            for events in configs.values()
        ]
        for event in names
    ]
    return ["event", *configs], rows


def print_report(results: dict[str, Any]) -> None:
    versions, info = results["versions"], results["machine"]
    print(
        f"hf_tracking {versions['hf_tracking']}, torch {versions['torch']}, transformers "
        f"{versions['transformers']}, wandb {versions['wandb']}, trackio {versions['trackio']}, "
        f"python {versions['python']}; {info['cpu']}, {info['cpu_count']} cores; load average "
        f"{info['load_average_at_start']} at start, {results.get('load_average_at_end')} at end"
    )
    if "timer_floor" in results:
        print_table(
            "Per-call cost on the calling thread (µs)",
            ["measurement", "n", "p50", "p95", "p99"],
            latency_rows(results),
        )
        print_table("One-off costs and ratios", ["measurement", "value"], oneoff_rows(results))
    for name, trainer in results.get("trainer", {}).items():
        shape = trainer["shape"]
        print_table(
            f"Whole Trainer runs, {name} GPT-2 ({shape['model']}; batch {shape['batch_size']}, "
            f"{shape['max_steps']} steps, {trainer['none_ms_per_step']} ms a step untracked, "
            f"logging_steps=1, eval every {shape['eval_steps']} steps on "
            f"{shape['eval_samples']} samples, save every {shape['save_steps']}): medians of "
            f"{trainer['repeats']} interleaved repetitions, a fresh process each, torch threads "
            f"{trainer['torch_threads']}",
            TRAINER_HEADER,
            trainer_rows(trainer),
        )
        header, rows = event_rows(trainer)
        if rows:
            print_table(
                f"Training-thread µs a step by event, {name} (total / per-call median × calls / "
                "the same, net of the timer's cost)",
                header,
                rows,
            )
