"""An immutable copy of what the summary needs, taken on the training thread (copies of a few
dicts and lists: microseconds) so the summary is built, encoded and written on the writer thread
while training goes on changing the engine's state."""

from __future__ import annotations

import dataclasses
from typing import Any


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
    backend_reports: list[dict[str, Any]]
    backend_sections: dict[str, dict[str, Any]]
