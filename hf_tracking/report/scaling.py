"""Plots of a scaling fit: IsoFLOP profiles with their minima, the compute-optimal frontier, and
loss against compute for every run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hf_tracking.analysis.curves import budget_profiles
from hf_tracking.analysis.points import ScalingPoints
from hf_tracking.report.plots import _pyplot, _save
from hf_tracking.report.runs import COMPUTE_AXIS, Run


def plot_scaling(
    points: ScalingPoints,
    result: dict[str, Any],
    directory: str | Path,
    runs: Sequence[Run] = (),
) -> list[Path]:
    """``isoflop.png``, ``frontier.png`` and (with runs) ``loss_vs_compute.png`` in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    made = [plot_isoflop(points, result, directory / "isoflop.png")]
    made.append(plot_frontier(points, result, directory / "frontier.png"))
    if runs:
        made.append(plot_loss_against_compute(runs, directory / "loss_vs_compute.png"))
    return made


def plot_isoflop(points: ScalingPoints, result: dict[str, Any], path: Path) -> Path:
    """Loss against N, one colour per budget (each size's lowest loss at that budget, as
    Approach 2 read it), each budget's minimum starred; with Approach 3, its predicted loss along
    each budget as a dashed line."""
    plt = _pyplot()
    figure, panel = plt.subplots(figsize=(8, 5.2))
    budgets = (result.get("approach2") or {}).get("budgets") or []
    profiles = budget_profiles(points, result)
    three = result.get("approach3")
    colors = plt.get_cmap("viridis")
    for index, (compute, sizes, tokens, losses) in enumerate(profiles):
        if len(sizes) == 0:
            continue
        color = colors(index / max(len(profiles) - 1, 1))
        panel.plot(sizes, losses, "o-", color=color, label=f"C = {compute:.2g}")
        if three and len(sizes) > 1:
            # Along the budget, D follows the runs' own tokens (their FLOPs convention).
            grid = np.geomspace(sizes[0], sizes[-1], 60)
            along = np.exp(np.interp(np.log(grid), np.log(sizes), np.log(tokens)))
            panel.plot(grid, _parametric(three, grid, along), "--", color=color)
    for budget in budgets:
        if budget["used"]:
            panel.plot(budget["n_opt"], budget["loss_opt"], "*", color="black", markersize=13)
    panel.set_xscale("log")
    panel.set_xlabel("parameters N")
    panel.set_ylabel("loss")
    panel.grid(alpha=0.3)
    panel.legend(fontsize=8)
    title = "IsoFLOP profiles (stars: minima)"
    if three:
        title += "; dashed: Approach 3"
    return _save(figure, path, title)


def plot_frontier(points: ScalingPoints, result: dict[str, Any], path: Path) -> Path:
    """N* against C: the IsoFLOP minima, Approach 2's line and Approach 3's frontier."""
    plt = _pyplot()
    figure, panel = plt.subplots(figsize=(8, 5.2))
    panel.scatter(points.c, points.n, s=14, color="#bbbbbb", label="runs")
    span = np.geomspace(points.c.min(), points.c.max(), 50)
    two = result.get("approach2")
    if two:
        used = [b for b in two["budgets"] if b["used"]]
        panel.plot(
            [b["compute"] for b in used],
            [b["n_opt"] for b in used],
            "*",
            color="black",
            markersize=12,
            label="IsoFLOP minima",
        )
        panel.plot(
            span,
            two["coefficient"] * span ** two["a"],
            color="#e76f51",
            label=f"Approach 2: N* ∝ C^{two['a']:.3f}",
        )
    three = result.get("approach3")
    if three:
        g = (three["alpha"] * three["A"] / (three["beta"] * three["B"])) ** (
            1.0 / (three["alpha"] + three["beta"])
        )
        panel.plot(
            span,
            g * (span / 6.0) ** three["a"],
            "--",
            color="#264653",
            label=f"Approach 3: N* ∝ C^{three['a']:.3f}",
        )
    panel.set_xscale("log")
    panel.set_yscale("log")
    panel.set_xlabel(f"compute C (FLOPs; {points.convention})")
    panel.set_ylabel("parameters N")
    panel.grid(alpha=0.3)
    panel.legend(fontsize=8)
    return _save(figure, path, "compute-optimal frontier")


def plot_loss_against_compute(runs: Sequence[Run], path: Path) -> Path:
    """Every run's training loss (line) and validation loss (dots) against cumulative FLOPs."""
    plt = _pyplot()
    figure, panel = plt.subplots(figsize=(8, 5.2))
    conventions = set()
    for run in runs:
        if run.flops_per_token is None:
            continue
        conventions.add(run.compute_label)
        xs, ys = run.series(COMPUTE_AXIS, "train/loss", "train")
        (line,) = panel.plot(xs, ys, linewidth=1.2, label=run.name)
        xs, ys = run.series(COMPUTE_AXIS, "val/loss", "val")
        panel.plot(xs, ys, "o", color=line.get_color(), markersize=3)
    panel.set_xscale("log")
    panel.set_xlabel("compute (FLOPs: " + "; ".join(sorted(conventions)) + ")")
    panel.set_ylabel("loss")
    panel.grid(alpha=0.3)
    if len(runs) <= 16:
        panel.legend(fontsize=7, ncol=2)
    return _save(figure, path, "loss against compute (dots: validation)")


def _parametric(fit: dict[str, Any], n: np.ndarray, d: np.ndarray) -> np.ndarray:
    return fit["E"] + fit["A"] / n ** fit["alpha"] + fit["B"] / d ** fit["beta"]
