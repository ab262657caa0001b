"""Compute-optimal scaling fits over runs or a CSV: ``hf_tracking.scaling`` in Python.

    from hf_tracking import scaling
    points = scaling.points_from_runs(["experiments/n1_d1", "experiments/n2_d1", ...])
    result = scaling.fit_scaling(points, budget=1e18)
    print(scaling.scaling_table(result))

Importing this module imports scipy (``pip install 'hf-tracking[analysis]'``); ``import
hf_tracking`` does not import this module.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from hf_tracking.analysis.isoflop import BudgetOptimum, IsoFlopFit, fit_isoflop
from hf_tracking.analysis.options import ScalingInputError
from hf_tracking.analysis.parametric import ParametricFit, bootstrap_parametric, fit_parametric
from hf_tracking.analysis.points import ScalingPoints, read_csv_points, run_point
from hf_tracking.analysis.scaling import fit_scaling, scaling_table
from hf_tracking.report.runs import Run, load_run

__all__ = [
    "BudgetOptimum",
    "IsoFlopFit",
    "ParametricFit",
    "ScalingInputError",
    "ScalingPoints",
    "bootstrap_parametric",
    "fit_isoflop",
    "fit_parametric",
    "fit_scaling",
    "points_from_runs",
    "read_csv_points",
    "scaling_table",
]


def points_from_runs(
    paths: Sequence[str | os.PathLike] | Sequence[Run],
    *,
    parameters: str = "total",
    loss: str = "val",
    convention: str = "run",
) -> ScalingPoints:
    """One point per run (a run directory, a summary file or a loaded Run)."""
    runs = [path if isinstance(path, Run) else load_run(path) for path in paths]
    rows = []
    for run in runs:
        if run.summary is None:
            raise ScalingInputError(f"run {run.name!r} has no summary (it may still be running)")
        rows.append(
            run_point(
                run.summary,
                run.records,
                name=run.name,
                parameters=parameters,
                loss=loss,
                convention=convention,
            )
        )
    return ScalingPoints(
        [row["n"] for row in rows],
        [row["d"] for row in rows],
        [row["c"] for row in rows],
        [row["loss"] for row in rows],
        tuple(run.name for run in runs),
        "6ND" if convention == "6nd" else "tokens × the run's FLOPs/token",
    )
