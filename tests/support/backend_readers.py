"""Each backend read back with its own reader, as points per key, for comparing with
:func:`tests.support.backend_runs.expected_points`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hf_tracking.backends.mlflow import mlflow_key
from hf_tracking.backends.tensorboard import tensorboard_tag

Points = dict[str, list[tuple[int, float]]]


def read_scalars(logdir: Path) -> tuple[Points, Any]:
    """Every scalar as TensorBoard shows it (purged points left out), and the accumulator."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    points = {}
    for tag in accumulator.Tags()["scalars"]:
        if kept := sorted((event.step, event.value) for event in accumulator.Scalars(tag)):
            points[tag] = kept  # a tag whose points were all purged keeps its name only
    return points, accumulator


def as_float32(points: Points) -> Points:
    """The expected points under their TensorBoard tags, at TensorBoard's float32 precision."""
    return {
        tensorboard_tag(key): sorted((step, float(np.float32(value))) for step, value in values)
        for key, values in points.items()
    }


def read_history(client: Any, run_id: str) -> Points:
    """Every metric of an MLflow run, from ``get_metric_history``."""
    run = client.get_run(run_id)
    return {
        key: sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        for key in run.data.metrics
    }


def under_mlflow_names(points: Points) -> Points:
    """The expected points under MLflow's names, each (step, value) once: the backend leaves
    out a point equal to the previous one of its key (the axes of a validation row)."""
    return {mlflow_key(key): sorted(set(values)) for key, values in points.items()}
