"""Seed groups drawn: each group's mean loss curve with its band, on every loss axis."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hf_tracking.analysis.groups import mean_band
from hf_tracking.report.plots import _axis, _pyplot, _save, loss_axes
from hf_tracking.report.runs import Run


def plot_groups(groups: Sequence[Sequence[Run]], path: Path, band: str = "minmax") -> Path:
    """Training loss of each group as its mean over runs (line) and band (shade)."""
    plt = _pyplot()
    axes = loss_axes([run for group in groups for run in group])
    figure, panels = plt.subplots(1, len(axes), figsize=(5.4 * len(axes), 4.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, group in enumerate(groups):
        color = colors[index % len(colors)]
        label = f"{group_label(group)} ({len(group)} run{'s' if len(group) > 1 else ''})"
        for panel, (x_key, x_label) in zip(panels, axes, strict=True):
            curves = [run.series(x_key, "train/loss", "train") for run in group]
            summary = mean_band(curves, band=band)
            if summary["x"].size:
                panel.fill_between(
                    summary["x"],
                    summary["low"],
                    summary["high"],
                    color=color,
                    alpha=0.25,
                    linewidth=0,
                )
                panel.plot(summary["x"], summary["mean"], color=color, label=label)
            _axis(panel, x_key, x_label, "train loss")
    panels[0].legend(fontsize=8)
    shade = "min–max" if band == "minmax" else "± standard error"
    return _save(figure, path, f"seed groups: mean train loss, shaded {shade}")


def group_label(group: Sequence[Run]) -> str:
    """The runs' names when few, else the first name and a count."""
    names = [run.name for run in group]
    return ", ".join(names) if len(names) <= 3 else f"{names[0]} and {len(names) - 1} more"
