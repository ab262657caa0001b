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

import numpy as np

from hf_tracking.analysis.isoflop import BudgetOptimum, IsoFlopFit, fit_budget_groups, fit_isoflop
from hf_tracking.analysis.loss_curves import LossCurve, NotReached, loss_curve
from hf_tracking.analysis.options import DEFAULT_SMOOTHING, ScalingInputError
from hf_tracking.analysis.parametric import ParametricFit, bootstrap_parametric, fit_parametric
from hf_tracking.analysis.points import ScalingPoints, read_csv_points, run_point_and_curve
from hf_tracking.analysis.scaling import fit_scaling, scaling_table
from hf_tracking.report.runs import Run, load_run

__all__ = [
    "BudgetOptimum",
    "IsoFlopFit",
    "LossCurve",
    "ParametricFit",
    "ScalingInputError",
    "ScalingPoints",
    "bootstrap_parametric",
    "fit_budget_groups",
    "fit_isoflop",
    "fit_parametric",
    "fit_scaling",
    "loss_curve",
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
    at_compute: float | Sequence[float] | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
) -> ScalingPoints:
    """One point per run (a run directory, a summary file or a loaded Run), with each run's loss
    against compute where every run has one. ``loss``: the last validation loss (``"val"``), the
    best one, the last training loss, or the training loss smoothed over compute
    (``"smoothed_train"``, ``smoothing`` its EMA's e-folding length in ln compute). With
    ``at_compute`` (one compute or several), each run's loss curve is read at each compute, one
    point each (named ``RUN@C`` when there are several); a run whose curve does not cover a
    compute has no point there (``points.left_out`` says which), and if no point is left that is
    an error."""
    runs = [path if isinstance(path, Run) else load_run(path) for path in paths]
    if not runs:
        raise ScalingInputError("give at least one run")
    try:
        computes = [None] if at_compute is None else [float(c) for c in np.atleast_1d(at_compute)]
    except (TypeError, ValueError):
        raise ScalingInputError(f"at_compute must be FLOPs, got {at_compute!r}") from None
    rows, curves, names, left_out = [], [], [], []
    for run in runs:
        if run.summary is None:
            raise ScalingInputError(f"run {run.name!r} has no summary (it may still be running)")
        run_curve = None  # a run's points share its one curve: Approach 2 counts it once
        for compute in computes:
            try:
                row, curve = run_point_and_curve(
                    run.summary,
                    run.records,
                    name=run.name,
                    parameters=parameters,
                    loss=loss,
                    convention=convention,
                    at_compute=compute,
                    smoothing=smoothing,
                )
            except NotReached as error:
                left_out.append(str(error))
                continue
            run_curve = curve if run_curve is None else run_curve
            rows.append(row)
            curves.append(run_curve)
            names.append(run.name if len(computes) == 1 else f"{run.name}@{compute:.3g}")
    if not rows:
        more = f"; and {len(left_out) - 1} more" if len(left_out) > 1 else ""
        asked = ", ".join(f"{compute:.4g}" for compute in computes)
        raise ScalingInputError(f"no run's loss curve covers {asked} FLOPs ({left_out[0]}{more})")
    return ScalingPoints(
        [row["n"] for row in rows],
        [row["d"] for row in rows],
        [row["c"] for row in rows],
        [row["loss"] for row in rows],
        tuple(names),
        "6ND" if convention == "6nd" else "tokens × the run's FLOPs/token",
        curves=None if any(curve is None for curve in curves) else tuple(curves),
        left_out=tuple(left_out),
    )
