"""Plots and a Markdown report of a run, and comparisons of runs, read from the local run store.

A run is given as its directory ``{output_dir}/{name}/`` (holding ``metrics.jsonl``) or as its
summary ``{output_dir}/{name}_summary.json``. Records are read with
:func:`hf_tracking.jsonio.iter_jsonl` (a torn last line is skipped). matplotlib is imported only
when a plot is drawn (Agg backend), so ``import hf_tracking`` never needs it.

Plots of one run, in ``{run_dir}/plots/``:

| file | keys |
| --- | --- |
| ``loss.png`` | ``train/loss`` and ``val/loss`` (``val/<name>/loss`` too) against ``time/gradient_steps``, ``time/wallclock_hours`` and ``time/tokens_seen``; checkpoints as dotted lines |
| ``learning_rate.png`` | ``train/learning_rate`` and, when logged, ``train/grad_norm`` against steps |
| ``throughput.png`` | ``throughput/tokens_per_second``, and ``throughput/mfu_pct`` or else ``throughput/model_tflops_per_second`` when present |
| ``memory.png`` | ``memory/gpu_*_allocated_gb``/``reserved_gb``/``max_allocated_gb`` when present, ``memory/process_rss_gb``, ``memory/system_memory_percent`` (left out when no ``memory/*`` key was logged) |
| ``time_ledger.png`` | the summary's ``time_ledger_hours`` (train, eval, checkpoint, other) and ``goodput_pct`` |

``report.md`` beside them names the run and its status and gives the key numbers (steps, tokens,
wallclock, final train loss, best val loss, mean tokens/s, goodput, checkpoints, parameters).
:func:`compare_runs` overlays the loss curves of several runs on the three axes and writes a table
(final train loss, best val loss, tokens/s, wallclock hours, parameters) as Markdown and CSV.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_tracking.backends.local import METRICS_FILE
from hf_tracking.jsonio import atomic_write_text, iter_jsonl, read_json
from hf_tracking.metrics.clock import LEDGER_PARTS as CLOCK_PARTS
from hf_tracking.metrics.history import BoundedHistory
from hf_tracking.metrics.params import format_count

SUMMARY_SUFFIX = "_summary.json"
MAX_TRAIN_ROWS = 20000
PROGRESS_BYTES = 20 * 1024**2
AXES = (
    ("time/gradient_steps", "gradient steps"),
    ("time/wallclock_hours", "wallclock hours"),
    ("time/tokens_seen", "tokens seen"),
)
LEDGER_PARTS = (*CLOCK_PARTS, "other")
LEDGER_COLORS = {"train": "#2a9d8f", "eval": "#e9c46a", "checkpoint": "#e76f51", "other": "#8d99ae"}


class ReportError(RuntimeError):
    """A run cannot be read: no such path, no metrics, no summary."""


@dataclasses.dataclass
class Run:
    """One run's records and, when it was written, its summary."""

    name: str
    run_dir: Path
    records: list[dict[str, Any]]
    summary: dict[str, Any] | None = None
    summary_path: Path | None = None

    def series(self, x_key: str, y_key: str, event: str | None = None) -> tuple[list, list]:
        """(x, y) of the records holding finite numbers for both keys, in file order."""
        xs, ys = [], []
        for record in self.records:
            if event is not None and record.get("event") != event:
                continue
            x, y = record.get(x_key), record.get(y_key)
            if _finite(x) and _finite(y):
                xs.append(x)
                ys.append(y)
        return xs, ys

    def metric_names(self) -> set[str]:
        return {key for record in self.records for key in record}


# ===================================================================== reading
def load_run(path: str | os.PathLike) -> Run:
    """A run from its directory or its summary file; ReportError when there is none."""
    path = Path(path)
    summary_path: Path | None = None
    if path.is_file() and path.name.endswith(SUMMARY_SUFFIX):
        summary_path = path
        summary = _read_summary(path)
        run_dir = _summary_run_dir(path, summary)
    elif path.is_dir():
        run_dir = path
        candidate = path.parent / f"{path.name}{SUMMARY_SUFFIX}"
        summary_path = candidate if candidate.is_file() else None
        summary = _read_summary(candidate) if summary_path else None
    elif path.exists():
        raise ReportError(f"{str(path)!r} is neither a run directory nor a *{SUMMARY_SUFFIX} file")
    else:
        raise ReportError(f"no such run: {str(path)!r}")
    metrics = run_dir / METRICS_FILE
    if not metrics.is_file():
        raise ReportError(f"no metrics in {str(run_dir)!r}: {METRICS_FILE} is missing")
    records = read_records(metrics)
    if not records:
        raise ReportError(f"no metrics in {str(metrics)!r}: the file holds no complete record")
    name = (summary or {}).get("experiment_name") or run_dir.name
    return Run(name, run_dir, records, summary, summary_path)


def read_records(path: Path, max_train_rows: int = MAX_TRAIN_ROWS) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl`` in file order, training rows thinned evenly to at most
    ``max_train_rows`` (the first and the last kept; a plot has no use for a million points) and
    every other row kept. A large file shows a progress bar while it is read."""
    from tqdm.auto import tqdm

    train = BoundedHistory(max_train_rows)
    others: list[tuple[int, dict[str, Any]]] = []
    last: tuple[int, dict[str, Any]] | None = None
    large = path.stat().st_size > PROGRESS_BYTES
    rows = tqdm(iter_jsonl(path), desc=f"reading {path}", unit=" records", disable=not large)
    for index, record in enumerate(rows):
        if record.get("event") == "train":
            train.append((index, record))
            last = (index, record)
        else:
            others.append((index, record))
    kept = train.rows()
    if last is not None and (not kept or kept[-1][0] != last[0]):
        kept.append(last)
    return [record for _, record in sorted(kept + others, key=lambda item: item[0])]


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = read_json(path)
    except (OSError, ValueError) as error:
        raise ReportError(f"cannot read the summary {str(path)!r}: {error}") from None
    if not isinstance(summary, dict):
        raise ReportError(f"{str(path)!r} is not a run summary")
    return summary


def _summary_run_dir(path: Path, summary: dict[str, Any]) -> Path:
    """The summary's ``run_dir``; when it was relative to another working directory, the
    directory beside the summary."""
    stored = summary.get("run_dir")
    if stored and Path(stored).is_dir():
        return Path(stored)
    name = Path(stored).name if stored else path.name[: -len(SUMMARY_SUFFIX)]
    return path.parent / name


def key_numbers(run: Run) -> dict[str, Any]:
    """The headline numbers of a run: from its summary, else from its records."""
    summary = run.summary or {}
    totals = summary.get("totals") or {}
    last = {key: value for record in run.records for key, value in record.items()}
    train = run.series("time/gradient_steps", "train/loss", "train")[1]
    steps, val = run.series("time/gradient_steps", "val/loss", "val")
    best = (summary.get("best") or {}).get("val")
    if best is None and val:
        index = min(range(len(val)), key=val.__getitem__)
        best = {"loss": val[index], "step": steps[index]}
    rates = run.series("time/gradient_steps", "throughput/tokens_per_second", "train")[1]
    parameters = summary.get("parameters") or {}
    return {
        "name": run.name,
        "status": summary.get("status", "no summary (the run did not finish)"),
        "steps": totals.get("gradient_steps", last.get("time/gradient_steps")),
        "planned_steps": totals.get("planned_steps"),
        "tokens_seen": totals.get("tokens_seen", last.get("time/tokens_seen")),
        "wallclock_hours": totals.get("wallclock_hours", last.get("time/wallclock_hours")),
        "final_train_loss": (summary.get("final") or {}).get(
            "train/loss", train[-1] if train else None
        ),
        "best_val_loss": best["loss"] if best else None,
        "best_val_step": best["step"] if best else None,
        "tokens_per_second": (summary.get("throughput") or {}).get(
            "mean_tokens_per_second", sum(rates) / len(rates) if rates else None
        ),
        "goodput_pct": summary.get("goodput_pct", last.get("efficiency/goodput_pct")),
        "checkpoints": totals.get(
            "checkpoints", sum(record.get("event") == "checkpoint" for record in run.records)
        ),
        "parameters": parameters.get("actual_total", parameters.get("total")),
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
    steps = _text(numbers["steps"])
    if numbers["planned_steps"]:
        steps += f" of {numbers['planned_steps']} planned"
    best = _text(numbers["best_val_loss"], 4)
    if numbers["best_val_step"] is not None:
        best += f" (step {numbers['best_val_step']})"
    rows = [
        ("status", numbers["status"]),
        ("gradient steps", steps),
        ("tokens seen", _text(numbers["tokens_seen"])),
        ("wallclock", _duration(numbers["wallclock_hours"])),
        ("final train loss", _text(numbers["final_train_loss"], 4)),
        ("best val loss", best),
        ("mean tokens/s", _text(numbers["tokens_per_second"], 0)),
        ("goodput", _percent(numbers["goodput_pct"])),
        ("checkpoints", _text(numbers["checkpoints"])),
        ("parameters", _count(numbers["parameters"])),
    ]
    summary = run.summary or {}
    if summary.get("error"):
        rows.insert(1, ("error", summary["error"]))
    sync = (summary.get("wandb") or {}).get("sync_command")
    if sync:
        rows.append(("W&B (offline)", f"`{sync}`"))
    lines = [f"# Run {run.name}", "", "| | |", "| --- | --- |"]
    lines += [f"| {label} | {value} |" for label, value in rows]
    lines += ["", "## Plots", ""]
    for image in images:
        relative = os.path.relpath(image, run.run_dir)
        lines += [f"### {image.stem.replace('_', ' ')}", "", f"![{image.stem}]({relative})", ""]
    return "\n".join(lines)


def plot_loss(runs: Sequence[Run], path: Path) -> Path:
    """Train (line) and val (dots) loss of each run against the three axes."""
    plt = _pyplot()
    figure, panels = plt.subplots(1, 3, figsize=(16, 4.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, run in enumerate(runs):
        color = colors[index % len(colors)]
        label = "" if len(runs) == 1 else f"{run.name} "
        val_keys = sorted(key for key in run.metric_names() if _is_val_loss(key))
        for panel, (x_key, x_label) in zip(panels, AXES, strict=True):
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
    panel.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.35))
    goodput = (run.summary or {}).get("goodput_pct")
    title = f"time ledger: {run.name}, {_duration(total)}"
    if goodput is not None:
        title += f", goodput {goodput:.1f}%"
    return _save(figure, path, title)


# ===================================================================== several runs
COMPARE_COLUMNS = (
    ("run", "name"),
    ("final train loss", "final_train_loss"),
    ("best val loss", "best_val_loss"),
    ("tokens/s", "tokens_per_second"),
    ("wallclock hours", "wallclock_hours"),
    ("parameters", "parameters"),
    ("steps", "steps"),
)


def compare_runs(paths: Sequence[str | os.PathLike], output_dir: str | os.PathLike) -> dict:
    """Overlay loss curves and tabulate runs; returns the rows, differences and file paths."""
    runs = [load_run(path) for path in paths]
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    rows = [key_numbers(run) for run in runs]
    differences = config_differences(runs)
    plot = plot_loss(runs, output / "compare_loss.png")
    table = comparison_table(rows)
    lines = ["# Comparison", "", table, ""]
    if differences:
        lines += ["Config differences:", ""]
        lines += [f"- `{key}`: " + " | ".join(map(str, values)) for key, values in differences]
        lines.append("")
    lines += ["![loss](compare_loss.png)", ""]
    markdown = output / "comparison.md"
    atomic_write_text(markdown, "\n".join(lines))
    csv_path = output / "comparison.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow([field for _, field in COMPARE_COLUMNS])
        for row in rows:
            writer.writerow(
                ["" if row[field] is None else row[field] for _, field in COMPARE_COLUMNS]
            )
    return {
        "rows": rows,
        "differences": differences,
        "table": table,
        "paths": [plot, markdown, csv_path],
    }


def comparison_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of the runs' key numbers."""
    lines = [
        "| " + " | ".join(title for title, _ in COMPARE_COLUMNS) + " |",
        "|" + "---|" * len(COMPARE_COLUMNS),
    ]
    for row in rows:
        cells = [
            row["name"],
            _text(row["final_train_loss"], 4),
            _text(row["best_val_loss"], 4),
            _text(row["tokens_per_second"], 0),
            _text(row["wallclock_hours"], 4),
            _count(row["parameters"]),
            _text(row["steps"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def config_differences(runs: Sequence[Run]) -> list[tuple[str, list[Any]]]:
    """Config fields whose values differ between the runs (the name left out)."""
    configs = [(run.summary or {}).get("config") or {} for run in runs]
    keys = sorted({key for config in configs for key in config} - {"experiment_name", "trainer"})
    found = []
    for key in keys:
        values = [config.get(key) for config in configs]
        if any(value != values[0] for value in values[1:]):
            found.append((key, values))
    return found


# ===================================================================== terminal summary
def summary_text(run: Run) -> str:
    """The summary as aligned ``key: value`` lines, section by section."""
    if run.summary is None:
        raise ReportError(f"run {run.name!r} has no summary file (it may still be running)")
    summary = run.summary
    numbers = key_numbers(run)
    totals = summary.get("totals") or {}
    throughput = summary.get("throughput") or {}
    steps = summary.get("step_time_seconds") or {}
    flops = summary.get("flops") or {}
    parameters = summary.get("parameters") or {}
    wandb = summary.get("wandb") or {}
    sections: list[tuple[str, list[tuple[str, Any]]]] = [
        (
            "run",
            [
                ("name", summary.get("experiment_name")),
                ("status", summary.get("status")),
                ("error", summary.get("error")),
                ("started", summary.get("started_at")),
                ("ended", summary.get("ended_at")),
                ("run dir", str(run.run_dir)),
                ("summary", str(run.summary_path)),
                ("tags", ", ".join(summary.get("tags") or [])),
            ],
        ),
        (
            "progress",
            [
                (
                    "gradient steps",
                    f"{_text(numbers['steps'])} / {_text(numbers['planned_steps'])}",
                ),
                ("tokens seen", _text(numbers["tokens_seen"])),
                ("wallclock", _duration(numbers["wallclock_hours"])),
                ("evaluations", totals.get("evaluations")),
                ("checkpoints", totals.get("checkpoints")),
                ("resumes", totals.get("resumes")),
                ("non-finite values", totals.get("nonfinite_count")),
            ],
        ),
        (
            "loss",
            [
                ("final train loss", _text(numbers["final_train_loss"], 4)),
                ("best val loss", _text(numbers["best_val_loss"], 4)),
                ("best val step", numbers["best_val_step"]),
            ],
        ),
        (
            "time ledger",
            [
                (part, _duration((summary.get("time_ledger_hours") or {}).get(part)))
                for part in LEDGER_PARTS
            ]
            + [("goodput", _percent(summary.get("goodput_pct")))],
        ),
        (
            "throughput",
            [
                ("mean tokens/s", _text(throughput.get("mean_tokens_per_second"), 0)),
                ("p50 tokens/s", _text(throughput.get("p50_tokens_per_second"), 0)),
                ("step time p50", _seconds(steps.get("p50"))),
                ("step time p95", _seconds(steps.get("p95"))),
                ("MFU", _percent(flops.get("mfu_pct")) if flops.get("mfu_pct") else None),
                ("device", flops.get("device")),
                ("dtype", flops.get("dtype")),
            ],
        ),
        (
            "model",
            [
                ("model_size", (summary.get("config") or {}).get("model_size")),
                ("parameters", _count(numbers["parameters"])),
                ("non-embedding", _count(parameters.get("non_embedding"))),
            ],
        ),
        (
            "wandb",
            [
                ("mode", wandb.get("mode")),
                ("run id", wandb.get("run_id")),
                ("path", wandb.get("path")),
                ("sync", wandb.get("sync_command")),
            ],
        ),
    ]
    lines = []
    for title, items in sections:
        items = [(key, value) for key, value in items if value not in (None, "", "-")]
        if not items:
            continue
        width = max(len(key) for key, _ in items)
        lines.append(title)
        lines += [f"  {key + ':':<{width + 1}} {value}" for key, value in items]
    return "\n".join(lines)


# ===================================================================== helpers
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
    if x_key == "time/tokens_seen":
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


def _is_val_loss(key: str) -> bool:
    return key.startswith("val/") and key.endswith("/loss")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any, digits: int | None = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if digits is None and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{4 if digits is None else digits}f}"


def _count(value: Any) -> str:
    return "-" if value is None else f"{format_count(value)} ({int(value):,})"


def _percent(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def _duration(hours: Any) -> str:
    if hours is None:
        return "-"
    seconds = hours * 3600.0
    if seconds < 120:
        return f"{hours:.4f} h ({seconds:.1f} s)"
    if seconds < 7200:
        return f"{hours:.3f} h ({seconds / 60:.1f} min)"
    return f"{hours:.2f} h"
