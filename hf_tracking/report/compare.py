"""Comparisons of several runs: overlaid loss curves and a table."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_tracking.jsonio import atomic_write_text
from hf_tracking.report.plots import plot_loss
from hf_tracking.report.runs import (
    Run,
    count,
    key_numbers,
    load_run,
    text,
)

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
            text(row["final_train_loss"], 4),
            text(row["best_val_loss"], 4),
            text(row["tokens_per_second"], 0),
            text(row["wallclock_hours"], 4),
            count(row["parameters"]),
            text(row["steps"]),
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
