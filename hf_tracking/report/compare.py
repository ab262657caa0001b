"""Comparisons of several runs: overlaid loss curves and a table."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hf_tracking.analysis.groups import SEED_FIELDS, seed_groups
from hf_tracking.jsonio import atomic_write_text
from hf_tracking.report.groups import plot_groups
from hf_tracking.report.plots import plot_loss
from hf_tracking.report.runs import (
    Run,
    count,
    key_numbers,
    load_run,
    text,
)

# ===================================================================== several runs
IGNORED_FIELDS = ("experiment_name", "trainer")
COMPARE_COLUMNS = (
    ("run", "name"),
    ("final train loss", "final_train_loss"),
    ("best val loss", "best_val_loss"),
    ("tokens/s", "tokens_per_second"),
    ("wallclock hours", "wallclock_hours"),
    ("parameters", "parameters"),
    ("steps", "steps"),
)


MAX_PLOTTED = 20  # runs whose curves are drawn (the first given)
MAX_TABLE_ROWS = 200  # rows of comparison.md; comparison.csv has every run
MAX_LISTED = 20  # up to this many runs, a differing field lists each run's value
MAX_DISTINCT = 20  # past that, its distinct values, at most this many


def compare_runs(
    paths: Sequence[str | os.PathLike],
    output_dir: str | os.PathLike,
    group_by: Sequence[str] | None = None,
    band: str = "minmax",
) -> dict:
    """Overlay loss curves and tabulate runs; returns the rows, differences and file paths.

    Runs are read one at a time and let go: a run's rows are read only when its curve is drawn
    (the first ``MAX_PLOTTED``) or it has no summary to take its numbers from, so thousands of
    runs compare in bounded memory. Every run is a line of ``comparison.csv``.

    With ``group_by`` (fields beside the seed that may differ within a group; ``[]`` for the
    seed alone) the drawn runs are also drawn as seed groups, each its mean with a ``band``
    (``"minmax"`` or ``"se"``), in ``compare_groups.png``."""
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    plotted: list[Run] = []
    rows: list[dict[str, Any]] = []
    spread = ConfigSpread()
    csv_path = output / "comparison.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow([field for _, field in COMPARE_COLUMNS])
        for number, path in enumerate(paths):
            run = load_run(path, summary_only=number >= MAX_PLOTTED)
            row = key_numbers(run)
            writer.writerow(
                ["" if row[field] is None else row[field] for _, field in COMPARE_COLUMNS]
            )
            rows.append(row)
            spread.add((run.summary or {}).get("config") or {})
            if number < MAX_PLOTTED:
                plotted.append(run)
    plot = plot_loss(plotted, output / "compare_loss.png")
    differences = spread.differences()
    table = comparison_table(rows[:MAX_TABLE_ROWS])
    lines = ["# Comparison", ""]
    if len(rows) > MAX_TABLE_ROWS or len(rows) > MAX_PLOTTED:
        lines += [
            f"{len(rows):,} runs: the first {min(len(rows), MAX_TABLE_ROWS):,} below, every one "
            f"in comparison.csv; the curves of the first {min(len(rows), MAX_PLOTTED)}.",
            "",
        ]
    lines += [table, ""]
    if differences:
        lines += ["Config differences:", ""]
        for key, values in differences:
            shown = " | ".join(map(str, values))
            if spread.runs > MAX_LISTED:
                more = "+" if spread.overflow(key) else ""
                shown = f"{len(values)}{more} distinct values: {shown}"
            lines.append(f"- `{key}`: {shown}")
        lines.append("")
    lines += ["![loss](compare_loss.png)", ""]
    paths_made = [plot]
    groups: list[list[str]] = []
    if group_by is not None:
        members = _seed_groups(plotted, group_by)
        groups = [[run.name for run in group] for group in members]
        paths_made.append(plot_groups(members, output / "compare_groups.png", band))
        lines += ["Seed groups:", ""]
        lines += [f"- {', '.join(group)}" for group in groups]
        lines += ["", "![groups](compare_groups.png)", ""]
    markdown = output / "comparison.md"
    atomic_write_text(markdown, "\n".join(lines))
    return {
        "rows": rows,
        "differences": differences,
        "table": table,
        "groups": groups,
        "paths": [*paths_made, markdown, csv_path],
    }


class ConfigSpread:
    """The config fields that differ between runs, seen one run at a time: with at most
    ``MAX_LISTED`` runs each run's value, past that each field's distinct values (at most
    ``MAX_DISTINCT`` kept)."""

    def __init__(self) -> None:
        self.runs = 0
        self.configs: list[dict[str, Any]] = []  # the first MAX_LISTED runs'
        self.seen: dict[str, int] = {}  # field -> runs holding it
        self.distinct: dict[str, dict[str, Any]] = {}  # field -> {repr: value}
        self._overflow: set[str] = set()

    def add(self, config: dict[str, Any]) -> None:
        self.runs += 1
        if self.runs <= MAX_LISTED:
            self.configs.append(config)
        for key, value in config.items():
            if key in IGNORED_FIELDS:
                continue
            self.seen[key] = self.seen.get(key, 0) + 1
            values = self.distinct.setdefault(key, {})
            text = repr(value)
            if text not in values:
                if len(values) < MAX_DISTINCT:
                    values[text] = value
                else:
                    self._overflow.add(key)

    def overflow(self, key: str) -> bool:
        return key in self._overflow

    def differences(self) -> list[tuple[str, list[Any]]]:
        keys = sorted(
            key
            for key, values in self.distinct.items()
            if len(values) > 1 or self.seen[key] < self.runs
        )
        if self.runs <= MAX_LISTED:
            return [(key, [config.get(key) for config in self.configs]) for key in keys]
        return [(key, list(self.distinct[key].values())) for key in keys]


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


def _seed_groups(runs: Sequence[Run], fields: Sequence[str]) -> list[list[Run]]:
    configs = {
        str(index): (run.summary or {}).get("config") or {} for index, run in enumerate(runs)
    }
    return [
        [runs[int(key)] for key in group] for group in seed_groups(configs, (*SEED_FIELDS, *fields))
    ]


def config_differences(runs: Sequence[Run]) -> list[tuple[str, list[Any]]]:
    """Config fields whose values differ between the runs (the name left out)."""
    spread = ConfigSpread()
    for run in runs:
        spread.add((run.summary or {}).get("config") or {})
    return spread.differences()
