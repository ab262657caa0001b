"""The run summary: ``{output_dir}/{experiment_name}_summary.json``, written atomically.

It holds the name (and the name asked for, when it had to be made safe), status and error, start
and end times, the resolved config (credentials redacted), final and best metrics, totals, the
time ledger and goodput, throughput (mean over the training clock, p50 over the run), step-time
percentiles, FLOPs per token and MFU with their working, checkpoints, parameter counts, hardware and
versions, what each backend did, and a section per backend that asks for one (W&B: id, mode, path
and the sync command when offline). It is built from a :class:`SummarySnapshot`, on the writer
thread.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hf_tracking.engine.snapshot import SummarySnapshot
from hf_tracking.engine.step_clock import WARMUP_STEPS
from hf_tracking.jsonio import atomic_write_json
from hf_tracking.metrics.stats import percentile
from hf_tracking.redact import mask
from hf_tracking.topology import layout

FINAL_GROUPS = ("train/", "throughput/", "progress/", "time/")


def build_summary(snapshot: Any) -> dict[str, Any]:
    """The summary of a :class:`SummarySnapshot` (or of a tracker: its current snapshot)."""
    if not isinstance(snapshot, SummarySnapshot):
        snapshot = snapshot.snapshot()
    from hf_tracking.system import hardware_fingerprint

    ledger = snapshot.ledger_seconds
    # The throughput clock: wallclock minus evaluation and checkpoint time.
    train_seconds = ledger["train"] + ledger["data_wait"] + ledger["other"]
    step_seconds = snapshot.step_seconds
    summary = {
        "experiment_name": snapshot.experiment_name,
        "requested_name": snapshot.requested_name,
        "status": snapshot.status,
        "error": snapshot.error,
        "stopped_by": stopped_by(snapshot.stopped_by),
        "started_at": snapshot.started_at,
        "ended_at": not_before(datetime.now(timezone.utc), snapshot.started_at),
        "run_dir": snapshot.run_dir,
        "config": snapshot.config,
        "tags": snapshot.tags,
        "totals": {
            "gradient_steps": snapshot.gradient_steps,
            "planned_steps": snapshot.planned_steps,
            "tokens_seen": snapshot.tokens_seen,
            "wallclock_hours": ledger["wallclock"] / 3600.0,
            "evaluations": snapshot.eval_count,
            "checkpoints": len(snapshot.checkpoints),
            "nonfinite_count": snapshot.nonfinite_count,
            "resumes": snapshot.resume_count,
        },
        "time_ledger_hours": {part: seconds / 3600.0 for part, seconds in ledger.items()},
        "goodput_pct": 100.0 * ledger["train"] / ledger["wallclock"]
        if ledger["wallclock"]
        else None,
        "final": {
            key: value
            for key, value in snapshot.latest_train.items()
            if key.startswith(FINAL_GROUPS)
        },
        "best": snapshot.best,
        "trainer_final_metrics": snapshot.final_trainer_metrics,
        "throughput": {
            "mean_tokens_per_second": snapshot.tokens_seen / train_seconds
            if train_seconds
            else None,
            "p50_tokens_per_second": percentile(snapshot.tokens_per_second, 50),
            "latest": snapshot.latest_throughput,
            "clock": "wallclock minus evaluation and checkpoint time",
        },
        "step_time_seconds": {
            "p50": percentile(step_seconds, 50),
            "p95": percentile(step_seconds, 95),
            "max": snapshot.max_step_seconds,
            "warmup_steps_excluded": WARMUP_STEPS,
            "samples": len(step_seconds),
        },
        "tokens": {"counting": snapshot.token_counting, **snapshot.token_kinds},
        "flops": snapshot.compute,
        "checkpoints": snapshot.checkpoint_entries(),
        "parameters": snapshot.parameters,
        "history": {"rows_kept": snapshot.history_rows, "stride": snapshot.history_stride},
        "memory": {
            "gpu_peak_allocated_gb": {
                key.removeprefix("memory/").removesuffix("_max_allocated_gb"): value
                for key, value in snapshot.peak_memory_gb.items()
            },
            "process_peak_rss_gb": peak_rss_gb(),
        },
        **layout(snapshot.world_size),
        "stragglers": snapshot.stragglers,
        "hardware": hardware_fingerprint(),
        "backends": snapshot.backend_reports,
        "alerts": [alert_entry(alert) for alert in snapshot.alerts],
        "alert_count": snapshot.alert_count,
    }
    if snapshot.earlier_configs:
        summary["earlier_configs"] = snapshot.earlier_configs
    for name, section in snapshot.backend_sections.items():
        summary.setdefault(name, section)
    # Secrets masked in every string: error text, tags, paths, metric names (hf_tracking.redact).
    return mask(summary)


def alert_entry(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert as the summary lists it: what fired, where, and the last checkpoint before it."""
    keys = ("kind", "step", "value", "baseline", "threshold", "message", "checkpoint")
    return {key: alert.get(key) for key in keys}


def stopped_by(alert: dict[str, Any] | None) -> dict[str, Any] | None:
    """Why a run that an alert stopped (``on_alert`` other than ``warn``) ended, and the last
    checkpoint saved before the alert: the one to resume from."""
    if alert is None:
        return None
    return {
        "kind": alert["kind"],
        "step": alert["step"],
        "message": alert["message"],
        "last_good_checkpoint": alert.get("checkpoint"),
    }


def not_before(now: datetime, started_at: str) -> str:
    """``now`` as the summary writes it, or ``started_at`` when the clock was set back below it
    (between the sessions of a resumed run, or during one): a run never ends before it started."""
    try:
        started = datetime.fromisoformat(started_at)
        if started.tzinfo is not None and now < started:
            return started_at
    except (TypeError, ValueError):
        pass
    return now.isoformat(timespec="seconds")


def peak_rss_gb() -> float | None:
    """Peak resident memory of this process (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**3 if sys.platform == "darwin" else 1024**2)


def write_summary(
    path: str | Path, summary: dict[str, Any], temporary_dir: str | Path | None = None
) -> None:
    """Write the summary atomically; its temporary file goes in ``temporary_dir`` (the run
    directory), so a kill mid-write leaves nothing beside the summaries."""
    atomic_write_json(path, summary, temporary_dir)
