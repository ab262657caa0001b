"""The checkpoint state of a tracked run: what :meth:`~hf_tracking.ExperimentTracker.state_dict`
saves, and the parts :meth:`~hf_tracking.ExperimentTracker.load_state_dict` rebuilds from it.

Version 1: the run state (name, counts, best values, checkpoints), the time ledger's seconds,
evenly spaced samples of step times and tokens/s (``CARRIED_SAMPLES`` each, for the summary's
percentiles across resumes), the longest step, the health detectors' windows and alerts
(``health``, absent in states written before them), and each backend's own state under its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hf_tracking.engine.run_state import RunState
from hf_tracking.engine.step_clock import StepClock
from hf_tracking.errors import ConfigError
from hf_tracking.metrics.history import evenly_spaced

STATE_VERSION = 1
# Step times and tokens/s samples a checkpoint's state carries to the resumed run, each.
CARRIED_SAMPLES = 512


def state_of(tracker: Any) -> dict[str, Any]:
    """The state of a tracker whose rows are all built and whose tokens are counted."""
    samples = tracker.samples()
    return {
        "version": STATE_VERSION,
        **tracker.run.state_dict(),
        **tracker.clock.state_dict(),
        "samples": {
            name: evenly_spaced(values, CARRIED_SAMPLES) for name, values in samples.items()
        },
        "max_step_seconds": tracker.clock.max_step_seconds(),
        "health": tracker.health.state_dict(),
        "backends": tracker.backend_states(),
    }


def load_parts(
    tracker: Any, state: Mapping[str, Any]
) -> tuple[RunState, StepClock, dict[str, Mapping[str, Any]]]:
    """A fresh run state and step clock from ``state``, and the backends' saved states by name
    (loaded by :func:`load_backend_states` as the run opens); the tracker's progress samples
    are loaded only when the whole state is valid."""
    if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
        raise ConfigError(f"not a hf_tracking state (version {STATE_VERSION}): {state!r:.200}")
    run = RunState(tracker.run.experiment_name)
    run.load_state_dict(state)
    clock = StepClock(tracker.clock.now, tracker.config.max_history)
    clock.load_state_dict(state)
    samples = state.get("samples") or {}
    if not isinstance(samples, Mapping):
        raise ConfigError("hf_tracking state: samples must be a mapping")
    clock.load_samples(samples, state.get("max_step_seconds"))
    saved = state.get("backends") or {}
    if not isinstance(saved, Mapping):
        raise ConfigError("hf_tracking state: backends must map backend names to states")
    saved = dict(saved)
    health = state.get("health") or {}
    if not isinstance(health, Mapping):
        raise ConfigError("hf_tracking state: health must be a mapping")
    tracker.health.load_state_dict(health)
    tracker.progress.load_samples(samples)
    if "wandb" in state:  # version 1 states written before backends kept their own
        saved.setdefault("wandb", state["wandb"])
    return run, clock, {name: value for name, value in saved.items() if isinstance(value, Mapping)}


def load_backend_states(backends: list[Any], saved: Mapping[str, Mapping[str, Any]]) -> None:
    """Give each backend the state it saved, before it starts."""
    for backend in backends:
        backend_state = saved.get(backend.name)
        if backend_state is not None:
            backend.load_state_dict(backend_state)
