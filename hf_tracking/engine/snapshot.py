"""An immutable copy of what the summary needs, taken on the training thread (copies of a few
dicts and lists: microseconds) so the summary is built, encoded and written on the writer thread
while training goes on changing the engine's state."""

from __future__ import annotations

import dataclasses
from typing import Any

from hf_tracking.catalog import MFU
from hf_tracking.engine.run_state import with_sizes


@dataclasses.dataclass(frozen=True)
class SummarySnapshot:
    experiment_name: str
    requested_name: str
    status: str
    error: str | None
    started_at: str
    run_dir: str | None
    config: dict[str, Any]
    tags: list[str]
    gradient_steps: int
    planned_steps: int
    tokens_seen: int
    eval_count: int
    nonfinite_count: int
    resume_count: int
    ledger_seconds: dict[str, float]
    latest_train: dict[str, Any]
    best: dict[str, dict[str, Any]]
    final_trainer_metrics: dict[str, Any]
    latest_throughput: dict[str, float]
    step_seconds: list[float]
    max_step_seconds: float | None
    tokens_per_second: list[float]
    token_counting: str
    token_kinds: dict[str, int]
    compute: dict[str, Any]
    checkpoints: list[dict[str, Any]]
    parameters: dict[str, int]
    history_rows: int
    history_stride: int
    peak_memory_gb: dict[str, float]
    world_size: int
    stragglers: dict[str, Any] | None
    backend_reports: list[dict[str, Any]]
    backend_sections: dict[str, dict[str, Any]]
    alerts: list[dict[str, Any]]
    alert_count: int
    stopped_by: dict[str, Any] | None
    earlier_configs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # The run's live map of measured checkpoint sizes: the writer thread measures a checkpoint
    # after the snapshot that lists it may have been taken, and before that summary is built.
    checkpoint_sizes: dict[str, int] = dataclasses.field(default_factory=dict)

    def checkpoint_entries(self) -> list[dict[str, Any]]:
        """The checkpoint entries, each with its size as measured by now."""
        return with_sizes(self.checkpoints, self.checkpoint_sizes)


def take_snapshot(tracker: Any) -> SummarySnapshot:
    """Copy what the summary needs out of an :class:`~hf_tracking.ExperimentTracker`'s parts."""
    run, samples = tracker.run, tracker.samples()
    parameters: dict[str, Any] = tracker.config.estimate_parameters()
    if tracker.compute.unknown_sizes:  # the config's sizes are not the model's
        parameters = {"unknown": tracker.compute.unknown_sizes}
    if tracker.model is not None and hasattr(tracker.model, "parameters"):
        parameters["actual_total"] = sum(p.numel() for p in tracker.model.parameters())
    sections = {}
    for backend in tracker.backends:
        section = backend.summary_section()
        if section is not None:
            sections[backend.name] = section
    return SummarySnapshot(
        experiment_name=run.experiment_name,
        requested_name=run.requested_name,
        status=run.status,
        error=run.error,
        started_at=run.started_at,
        run_dir=str(tracker.session.run_dir) if tracker.session.run_dir else None,
        config=tracker.run_config(),
        tags=tracker.config.all_tags,
        gradient_steps=run.gradient_steps,
        planned_steps=tracker.planned_steps,
        tokens_seen=run.tokens_seen,
        eval_count=run.eval_count,
        nonfinite_count=run.nonfinite_count,
        resume_count=run.resume_count,
        ledger_seconds=tracker.clock.ledger.seconds(),
        latest_train=dict(run.latest_train),
        best={key: dict(value) for key, value in run.best.items()},
        final_trainer_metrics=dict(run.final_trainer_metrics),
        latest_throughput=dict(tracker.progress.latest_throughput),
        step_seconds=samples["step_seconds"],
        max_step_seconds=tracker.clock.max_step_seconds(),
        tokens_per_second=samples["tokens_per_second"],
        token_counting=tracker.token_counting,
        token_kinds=dict(run.token_kinds),
        compute=tracker.compute.summary(tracker.progress.latest_throughput.get(MFU)),
        checkpoints=run.checkpoint_list(),
        checkpoint_sizes=run.checkpoint_sizes,
        parameters=parameters,
        history_rows=len(tracker.progress.history),
        history_stride=tracker.progress.history.stride,
        peak_memory_gb=dict(run.peak_memory_gb),
        world_size=tracker.world_size,
        stragglers=tracker.stragglers,
        backend_reports=tracker.session.backend_reports(),
        backend_sections=sections,
        alerts=[dict(alert) for alert in tracker.health.alerts],
        alert_count=tracker.health.alert_count,
        stopped_by=dict(tracker.health.stop) if run.status == "stopped" else None,
        earlier_configs=list(run.earlier_configs),
    )
