"""A hand-written loop logged to one backend, fresh and then resumed from an earlier step, and
the points ``metrics.jsonl`` holds, for comparing a backend's own read-back with."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from hf_tracking import ExperimentConfig, ExperimentTracker
from tests.support.runs import metrics_rows

FIRST_STEPS = 6
RESUME_STEP = 4
LAST_STEP = 8
# A name with characters some backends forbid, to exercise their documented mappings.
ODD_CUSTOM = "attention entropy (head 0)"


def backend_config(tmp_path: Path, backend: str, **overrides: Any) -> ExperimentConfig:
    fields: dict[str, Any] = {
        "experiment_name": "readback",
        "output_dir": str(tmp_path / "experiments"),
        "backends": ["local", backend],
        "log_every_steps": 1,
        "num_iterations": LAST_STEP,
        "d_model": 32,
        "num_layers": 2,
        "num_heads": 2,
        "vocab_size": 64,
        "seq_length": 16,
        "tags": ["readback", "test"],
        "notes": "a resumed run",
        "track_memory": False,
        **overrides,
    }
    return ExperimentConfig(**fields)


def train(tracker: ExperimentTracker, first: int, last: int, offset: float) -> None:
    """Gradient steps ``first``..``last`` (1-based), a validation every third step, a custom
    metric with an odd name on even steps. ``offset`` tells one session's losses from another's."""
    for step in range(first, last + 1):
        tracker.log_train_step(
            loss=3.0 - 0.1 * step + offset,
            learning_rate=1e-3 * step,
            grad_norm=0.5 + offset,
            tokens=32 + step,
            iteration=step - 1,
        )
        if step % 3 == 0:
            tracker.log_validation(2.5 - 0.05 * step + offset, num_batches=2)
        if step % 2 == 0:
            tracker.log_custom_metric(ODD_CUSTOM, 0.25 * step + offset)


def fresh_then_resumed(
    tmp_path: Path, backend: str, started_before_state: bool = True, **overrides: Any
) -> tuple[dict, dict, dict]:
    """Train to step 6 saving the state at step 4, then resume from it to step 8 with other
    losses: the backend must end with the resumed points only past step 4.
    ``started_before_state`` waits for the backend to have started (and made its run ids)
    before the state is taken; otherwise the state may be taken while it is still starting.

    Returns the fresh run's points (from its ``metrics.jsonl`` before the resume), the state at
    step 4, and the resumed tracker (finished)."""
    first = ExperimentTracker(backend_config(tmp_path, backend, **overrides))
    train(first, 1, RESUME_STEP, 0.0)
    if started_before_state:
        first.flush(timeout=60)
    state = first.state_dict()
    train(first, RESUME_STEP + 1, FIRST_STEPS, 0.0)
    first.hooks.log_final({"final/runtime": 12.5})
    first.finish(wait=True)
    fresh = expected_points(first.run_dir)
    resumed = ExperimentTracker(backend_config(tmp_path, backend, **overrides))
    resumed.load_state_dict(state)
    train(resumed, RESUME_STEP + 1, LAST_STEP, 1.0)
    resumed.finish(wait=True)
    assert resumed.run_dir == first.run_dir
    return fresh, state, {"tracker": resumed, "points": expected_points(resumed.run_dir)}


def expected_points(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every number of every row of ``metrics.jsonl`` as (step, value) per key, sorted; the
    ``resume`` row is the local store's own mark of a resumed session, not a record."""
    points: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for row in metrics_rows(run_dir):
        if row["event"] == "resume":
            continue
        step = int(row["time/gradient_steps"])
        for key, value in row.items():
            if isinstance(value, (bool, int, float)) and key != "event":
                points[key].append((step, float(value)))
    return {key: sorted(values) for key, values in points.items()}
