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
    configs = trainer["configs"]
    wandb_extra = configs.get("wandb", {}).get("extra_cpu_tree_s", {}).get("median")
    rows = []
    for name, case in configs.items():
        ratio = case["train_ratio"]
        extra = case["extra_cpu_tree_s"]["median"]
        rows.append(
            [
                name,
                f"{ratio['median']:.3f}",
                f"{ratio['min']:.3f}–{ratio['max']:.3f}",
                case["cpu_tree_s"]["median"],
                f"{extra:+.2f}",
                f"{extra / wandb_extra:.2f}" if wandb_extra and wandb_extra > 0 else "-",
                f"{case['thread_us_per_step']['median']} / "
                f"{case['thread_us_per_step_typical']['median']} / "
                f"{case['thread_us_per_step_net']['median']}",
                case["wandb_file_kb"] or "-",
            ]
        )
    return rows


TRAINER_HEADER = [
    "report_to",
    'train() ratio to "none" (median)',
    "min–max",
    "CPU-s, whole process tree",
    "extra CPU-s against none",
    "÷ wandb's extra",
    "training-thread µs a step: all calls / median calls / net of the timer",
    ".wandb KB",
]


def side_by_side(by_threads: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """One row per configuration, for every thread setting side by side: the ``train()`` ratio to
    "none" (median, min–max), the extra CPU-s of the whole process tree against "none" with its
    share of report_to="wandb"'s, and the training thread's µs a step net of the timer."""
    header = ["report_to"]
    for label, trainer in by_threads.items():
        runs = trainer["repeats"]
        where = f"{label} ({trainer.get('torch_threads_used')}), {runs} run{'s' * (runs != 1)}"
        header += [
            f'{where}: train() ratio to "none", median (min–max)',
            "extra CPU-s, whole tree (÷ wandb's)",
            "of which off the training thread (one torch thread only)",
            "training thread, µs a step",
        ]
    configs = list(dict.fromkeys(c for trainer in by_threads.values() for c in trainer["configs"]))
    rows = []
    for name in configs:
        row: list[Any] = [name]
        for trainer in by_threads.values():
            case = trainer["configs"].get(name)
            if case is None:
                row += ["-"] * 4
                continue
            ratio = case["train_ratio"]
            wandb = trainer["configs"].get("wandb", case)
            row += [
                f"{ratio['median']:.3f} ({ratio['min']:.3f}–{ratio['max']:.3f})",
                _with_share(case.get("extra_cpu_tree_s"), wandb.get("extra_cpu_tree_s")),
                _with_share(case.get("extra_cpu_off_thread_s"), None),
                f"{case['thread_us_per_step_net']['median']:.1f}",
            ]
        rows.append(row)
    return header, rows


def _with_share(figure: dict[str, float] | None, wandb: dict[str, float] | None) -> str:
    """A median CPU-s figure with its share of report_to="wandb"'s, when that is positive."""
    if not figure:
        return "-"
    value, base = figure["median"], (wandb or {}).get("median")
    return f"{value:+.2f}" + (f" ({value / base:.2f})" if base and base > 0 else "")


def goal_lines(trainer: dict[str, Any]) -> list[str]:
    """The figures against the goals: the default within 1.05× of none and a third of W&B's
    extra CPU, the local store only within 1.01×, the training thread within 50 µs a step."""
    configs = trainer["configs"]
    lines = []
    default, local, wandb = (configs.get(n) for n in ("hf_tracking", "hf_tracking_local", "wandb"))
    if default:
        line = f"default: train() {default['train_ratio']['median']:.3f}× none (goal ≤ 1.05)"
        if wandb and wandb["extra_cpu_tree_s"]["median"] > 0:
            share = default["extra_cpu_tree_s"]["median"] / wandb["extra_cpu_tree_s"]["median"]
            line += f", extra CPU {share:.2f} of report_to=wandb's (goal ≤ 0.33)"
        thread = default["thread_us_per_step_net"]["median"]
        lines.append(f"{line}, training thread {thread} µs a step net (goal ≤ 50)")
    if local:
        lines.append(
            f"local store only: train() {local['train_ratio']['median']:.3f}× none (goal ≤ 1.01)"
        )
    live, layers = configs.get("hf_tracking_live"), configs.get("hf_tracking_layers")
    if live and wandb and wandb["extra_cpu_tree_s"]["median"] > 0:
        share = live["extra_cpu_tree_s"]["median"] / wandb["extra_cpu_tree_s"]["median"]
        lines.append(
            f"W&B process during training (the online path, offline here): extra CPU {share:.2f} "
            "of report_to=wandb's in the same mode (goal ≤ 0.33)"
        )
    if layers:
        lines.append(
            f"track_layers: train() {layers['train_ratio']['median']:.3f}× none, training thread "
            f"{layers['thread_us_per_step_net']['median']} µs a step net"
        )
    return lines


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
    for name, by_threads in results.get("trainer", {}).items():
        for label, trainer in by_threads.items():
            print_trainer(name, label, trainer)
        shape = next(iter(by_threads.values()))["shape"]
        header, rows = side_by_side(by_threads)
        print_table(
            f"Side by side, {name} GPT-2 (batch {shape['batch_size']}, {shape['max_steps']} steps, "
            "logging_steps=1): medians over interleaved runs, each a fresh process; the extra CPU "
            "is the whole process tree's (every process a run starts) less the \"none\" run's of "
            "the same repetition",
            header,
            rows,
        )
        for label, trainer in by_threads.items():
            for line in goal_lines(trainer):
                print(f"  {label}: {line}")


def print_trainer(name: str, label: str, trainer: dict[str, Any]) -> None:
    shape = trainer["shape"]
    print_table(
        f"Whole Trainer runs, {name} GPT-2 ({shape['model']}; batch {shape['batch_size']}, "
        f"{shape['max_steps']} steps, {trainer['none_ms_per_step']} ms a step untracked, "
        f"logging_steps=1, eval every {shape['eval_steps']} steps on {shape['eval_samples']} "
        f"samples, save every {shape['save_steps']}), {label} "
        f"({trainer.get('torch_threads_used')}): medians of {trainer['repeats']} interleaved "
        "repetitions, a fresh process each",
        TRAINER_HEADER,
        trainer_rows(trainer),
    )
    for line in goal_lines(trainer):
        print(f"  {line}")
    header, rows = event_rows(trainer)
    if rows:
        print_table(
            f"Training-thread µs a step by event, {name}, {label} (total / per-call median × "
            "calls / the same, net of the timer's cost)",
            header,
            rows,
        )
