"""Plots of one run and its Markdown report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_tracking.jsonio import atomic_write_text
from hf_tracking.report.runs import (
    AXES,
    COMPUTE_AXIS,
    LEDGER_PARTS,
    Run,
    count,
    duration,
    is_val_loss,
    key_numbers,
    load_run,
    percent,
    text,
)

LEDGER_COLORS = {
    "train": "#2a9d8f",
    "eval": "#e9c46a",
    "checkpoint": "#e76f51",
    "data_wait": "#264653",
    "other": "#8d99ae",
}


# ===================================================================== one run
def make_report(path: str | os.PathLike, plots_dir: str | os.PathLike | None = None) -> list[Path]:
    """Write the plots and ``report.md`` of a run; returns their paths (report.md last)."""
    run = load_run(path)
    plots = Path(plots_dir) if plots_dir else run.run_dir / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    made = [
        plot_loss([run], plots / "loss.png"),
        plot_learning_rate(run, plots / "learning_rate.png"),
        plot_throughput(run, plots / "throughput.png"),
        plot_memory(run, plots / "memory.png"),
        plot_time_ledger(run, plots / "time_ledger.png"),
    ]
    images = [image for image in made if image is not None]
    report = run.run_dir / "report.md"
    atomic_write_text(report, report_markdown(run, images))
    return [*images, report]


def report_markdown(run: Run, images: Sequence[Path]) -> str:
    numbers = key_numbers(run)
    steps = text(numbers["steps"])
    if numbers["planned_steps"]:
        steps += f" of {numbers['planned_steps']} planned"
    best = text(numbers["best_val_loss"], 4)
    if numbers["best_val_step"] is not None:
        best += f" (step {numbers['best_val_step']})"
    rows = [
        ("status", numbers["status"]),
        ("gradient steps", steps),
        ("tokens seen", text(numbers["tokens_seen"])),
        ("wallclock", duration(numbers["wallclock_hours"])),
        ("final train loss", text(numbers["final_train_loss"], 4)),
        ("best val loss", best),
        ("mean tokens/s", text(numbers["tokens_per_second"], 0)),
        ("goodput", percent(numbers["goodput_pct"])),
        ("checkpoints", text(numbers["checkpoints"])),
        ("parameters", count(numbers["parameters"])),
    ]
    summary = run.summary or {}
    if summary.get("error"):
        rows.insert(1, ("error", summary["error"]))
    sync = (summary.get("wandb") or {}).get("sync_command")
    if sync:
        rows.append(("W&B (offline)", f"`{sync}`"))
    stopped = summary.get("stopped_by")
    if stopped:
        rows.insert(1, ("stopped by", stopped.get("message")))
        rows.insert(2, ("last good checkpoint", stopped.get("last_good_checkpoint")))
    lines = [f"# Run {run.name}", "", "| | |", "| --- | --- |"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    alerts = summary.get("alerts") or []
    if alerts:
        lines += ["", "## Alerts", "", "| step | kind | message |", "| --- | --- | --- |"]
        lines += [f"| {a.get('step')} | {a.get('kind')} | {a.get('message')} |" for a in alerts]
    lines += ["", "## Plots", ""]
    for image in images:
        relative = os.path.relpath(image, run.run_dir)
        lines += [f"### {image.stem.replace('_', ' ')}", "", f"![{image.stem}]({relative})", ""]
    return "\n".join(lines)


def plot_loss(runs: Sequence[Run], path: Path) -> Path:
    """Train (line) and val (dots) loss of each run against the three axes, and against
    compute (cumulative FLOPs) when every run's summary states its FLOPs per token."""
    plt = _pyplot()
    axes = loss_axes(runs)
    figure, panels = plt.subplots(1, len(axes), figsize=(5.4 * len(axes), 4.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, run in enumerate(runs):
        color = colors[index % len(colors)]
        label = "" if len(runs) == 1 else f"{run.name} "
        val_keys = sorted(key for key in run.metric_names() if is_val_loss(key))
        for panel, (x_key, x_label) in zip(panels, axes, strict=True):
            xs, ys = run.series(x_key, "train/loss", "train")
            panel.plot(xs, ys, color=color, linewidth=1.6, label=f"{label}train")
            for style, key in zip(("o--", "s:", "^:", "d:"), val_keys, strict=False):
                xs, ys = run.series(x_key, key, "val")
                name = key[: -len("/loss")]
                panel.plot(xs, ys, style, color=color, markersize=4, label=f"{label}{name}")
            if len(runs) == 1:
                for x in run.series(x_key, "checkpoint/count", "checkpoint")[0]:
                    panel.axvline(x, color="grey", linestyle=":", linewidth=0.8)
            _axis(panel, x_key, x_label, "loss")
    panels[0].legend(fontsize=8)
    title = "loss" if len(runs) > 1 else f"loss: {runs[0].name} (dotted: checkpoints)"
    return _save(figure, path, title)


def loss_axes(runs: Sequence[Run]) -> list[tuple[str, str]]:
    """The x-axes of loss plots: the three of every row, and compute where every run has it."""
    axes = list(AXES)
    if runs and all(run.flops_per_token is not None for run in runs):
        conventions = sorted({run.compute_label for run in runs})
        axes.append((COMPUTE_AXIS, "compute, FLOPs = " + "; ".join(conventions)))
    return axes


def plot_learning_rate(run: Run, path: Path) -> Path | None:
    xs, ys = run.series("time/gradient_steps", "train/learning_rate", "train")
    if not xs:
        return None
    plt = _pyplot()
    grad = run.series("time/gradient_steps", "train/grad_norm", "train")
    figure, panels = plt.subplots(1, 2 if grad[0] else 1, figsize=(12 if grad[0] else 7, 4.2))
    panels = list(panels) if grad[0] else [panels]
    panels[0].plot(xs, ys, color="#264653")
    _axis(panels[0], "time/gradient_steps", "gradient steps", "learning rate")
    if grad[0]:
        panels[1].plot(*grad, color="#e76f51")
        _axis(panels[1], "time/gradient_steps", "gradient steps", "gradient norm (pre-clip)")
    return _save(figure, path, f"learning rate schedule: {run.name}")


def plot_throughput(run: Run, path: Path) -> Path | None:
    rates = run.series("time/gradient_steps", "throughput/tokens_per_second", "train")
    if not rates[0]:
        return None
    second = next(
        (
            (key, label)
            for key, label in (
                ("throughput/mfu_pct", "MFU (%)"),
                ("throughput/model_tflops_per_second", "model TFLOP/s"),
            )
            if run.series("time/gradient_steps", key, "train")[0]
        ),
        None,
    )
    plt = _pyplot()
    figure, panels = plt.subplots(1, 2 if second else 1, figsize=(12 if second else 7, 4.2))
    panels = list(panels) if second else [panels]
    panels[0].plot(*rates, color="#2a9d8f")
    _axis(panels[0], "time/gradient_steps", "gradient steps", "tokens per second")
    _from_zero(panels[0])
    if second:
        panels[1].plot(*run.series("time/gradient_steps", second[0], "train"), color="#e9c46a")
        _axis(panels[1], "time/gradient_steps", "gradient steps", second[1])
        _from_zero(panels[1])
    return _save(figure, path, f"throughput (training clock): {run.name}")


def plot_memory(run: Run, path: Path) -> Path | None:
    keys = run.metric_names()
    gpu = sorted(
        key
        for key in keys
        if key.startswith("memory/gpu_")
        and key.endswith(("_allocated_gb", "_reserved_gb", "_max_allocated_gb"))
    )
    groups = [
        (gpu, "GPU memory (GB)"),
        ([key for key in ("memory/process_rss_gb",) if key in keys], "process RSS (GB)"),
        ([key for key in ("memory/system_memory_percent",) if key in keys], "host RAM used (%)"),
    ]
    groups = [(group, label) for group, label in groups if group]
    if not groups:
        return None
    plt = _pyplot()
    figure, panels = plt.subplots(1, len(groups), figsize=(5.5 * len(groups), 4.2), squeeze=False)
    for panel, (group, label) in zip(panels[0], groups, strict=True):
        for key in group:
            xs, ys = run.series("time/gradient_steps", key)
            panel.plot(xs, ys, label=key.removeprefix("memory/"))
        _axis(panel, "time/gradient_steps", "gradient steps", label)
        _from_zero(panel)
        if len(group) > 1:
            panel.legend(fontsize=7)
    return _save(figure, path, f"memory: {run.name}")


def plot_time_ledger(run: Run, path: Path) -> Path | None:
    """Where the wallclock went: one stacked bar of train, eval, checkpoint and other hours."""
    ledger = (run.summary or {}).get("time_ledger_hours")
    if not ledger:
        last = {key: value for record in run.records for key, value in record.items()}
        ledger = {part: last.get(f"time/{part}_hours") for part in LEDGER_PARTS}
    hours = {part: float(ledger.get(part) or 0.0) for part in LEDGER_PARTS}
    total = sum(hours.values())
    if total <= 0:
        return None
    plt = _pyplot()
    figure, panel = plt.subplots(figsize=(10, 2.8))
    left = 0.0
    for part in LEDGER_PARTS:
        share = 100.0 * hours[part] / total
        panel.barh([0], [hours[part]], left=left, color=LEDGER_COLORS[part], label=part)
        if share >= 4:
            panel.text(left + hours[part] / 2, 0, f"{part}\n{share:.0f}%", ha="center", va="center")
        left += hours[part]
    panel.set_yticks([])
    panel.set_xlabel("hours")
    panel.set_xlim(0, total)
    panel.legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    goodput = (run.summary or {}).get("goodput_pct")
    title = f"time ledger: {run.name}, {duration(total)}"
    if goodput is not None:
        title += f", goodput {goodput:.1f}%"
    return _save(figure, path, title)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _axis(panel: Any, x_key: str, x_label: str, y_label: str) -> None:
    from matplotlib.ticker import EngFormatter

    panel.set_xlabel(x_label)
    panel.set_ylabel(y_label)
    panel.grid(alpha=0.3)
    if x_key == COMPUTE_AXIS:
        panel.set_xscale("log")
    elif x_key == "time/tokens_seen":
        panel.xaxis.set_major_formatter(EngFormatter())


def _from_zero(panel: Any) -> None:
    """A y axis from zero to a little above the highest point drawn."""
    top = max((max(line.get_ydata(), default=0.0) for line in panel.get_lines()), default=0.0)
    panel.set_ylim(0, top * 1.08 if top > 0 else 1.0)


def _save(figure: Any, path: Path, title: str) -> Path:
    import matplotlib.pyplot as plt

    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
