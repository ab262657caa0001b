"""The run summary: ``{output_dir}/{experiment_name}_summary.json``, written atomically.

It holds the name (and the name asked for, when it had to be made safe), status and error, start
and end times, the resolved config (credentials redacted), final and best metrics, totals, the
time ledger and goodput, throughput (mean over the training clock, p50 over the run), step-time
percentiles, FLOPs per token and MFU with their working, checkpoints, parameter counts, hardware and
versions, and what each backend did (W&B id, path, mode and the sync command when offline).
"""

from __future__ import annotations

import sys
import threading
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hf_tracking.jsonio import atomic_write_json
from hf_tracking.metrics.stats import percentile
from hf_tracking.redact import mask

if TYPE_CHECKING:
    from hf_tracking.tracker import ExperimentTracker


def build_summary(tracker: ExperimentTracker) -> dict[str, Any]:
    """The summary, with secrets masked in every string of it (error text, tags, paths, metric
    names: :func:`hf_tracking.redact.mask`)."""
    return mask(_summary_fields(tracker))


def _summary_fields(tracker: ExperimentTracker) -> dict[str, Any]:
    from hf_tracking.system import hardware_fingerprint
    from hf_tracking.tracker import WARMUP_STEPS

    ledger = tracker.ledger_seconds()
    train_seconds = ledger["train"] + ledger["other"]
    samples = tracker.samples()
    step_seconds = samples["step_seconds"]
    parameters = tracker.config.estimate_parameters()
    if tracker.model is not None and hasattr(tracker.model, "parameters"):
        parameters["actual_total"] = sum(p.numel() for p in tracker.model.parameters())
    wandb_report = next(
        (report for report in tracker.backend_reports if report["name"] == "wandb"), {}
    )
    return {
        "experiment_name": tracker.experiment_name,
        "requested_name": tracker.requested_name,
        "status": tracker.status,
        "error": tracker.error,
        "started_at": tracker.started_at,
        "ended_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_dir": str(tracker.run_dir) if tracker.run_dir else None,
        "config": tracker.run_config(),
        "tags": tracker.config.all_tags,
        "totals": {
            "gradient_steps": tracker.gradient_steps,
            "planned_steps": tracker.planned_steps,
            "tokens_seen": tracker.tokens_seen,
            "wallclock_hours": ledger["wallclock"] / 3600.0,
            "evaluations": tracker.eval_count,
            "checkpoints": len(tracker.checkpoints),
            "nonfinite_count": tracker.nonfinite_count,
            "resumes": tracker.resume_count,
        },
        "time_ledger_hours": {part: seconds / 3600.0 for part, seconds in ledger.items()},
        "goodput_pct": 100.0 * ledger["train"] / ledger["wallclock"]
        if ledger["wallclock"]
        else None,
        "final": {
            key: value
            for key, value in tracker.latest_train.items()
            if key.startswith(("train/", "throughput/", "progress/", "time/"))
        },
        "best": tracker.best,
        "trainer_final_metrics": tracker.final_trainer_metrics,
        "throughput": {
            "mean_tokens_per_second": tracker.tokens_seen / train_seconds
            if train_seconds
            else None,
            "p50_tokens_per_second": percentile(samples["tokens_per_second"], 50),
            "latest": tracker.latest_throughput,
            "clock": "wallclock minus evaluation and checkpoint time",
        },
        "step_time_seconds": {
            "p50": percentile(step_seconds, 50),
            "p95": percentile(step_seconds, 95),
            "max": tracker.max_step_seconds(),
            "warmup_steps_excluded": WARMUP_STEPS,
            "samples": len(step_seconds),
        },
        "tokens": {"counting": tracker.token_counting, **tracker.token_kinds},
        "flops": {
            "flops_per_token": tracker.flops,
            "device": tracker.device_name,
            "dtype": tracker.dtype,
            "peak_table_key": tracker.peak[0] if tracker.peak else None,
            "peak_tflops": tracker.peak[1] if tracker.peak else None,
            "mfu_pct": tracker.latest_throughput.get("throughput/mfu_pct"),
            "mfu_note": None
            if tracker.peak
            else "no MFU: the device's dense peak for this dtype is not known (set peak_tflops, "
            "and compute_dtype when training under bf16/fp16 autocast)",
        },
        "checkpoints": tracker.checkpoint_list(),
        "parameters": parameters,
        "history": {"rows_kept": len(tracker.history), "stride": tracker.history.stride},
        "memory": {
            "gpu_peak_allocated_gb": {
                key.removeprefix("memory/").removesuffix("_max_allocated_gb"): value
                for key, value in tracker.peak_memory_gb.items()
            },
            "process_peak_rss_gb": peak_rss_gb(),
        },
        "world_size": tracker.world_size,
        "hardware": hardware_fingerprint(),
        "backends": tracker.backend_reports,
        "wandb": {
            "mode": tracker.wandb_mode,
            "run_id": tracker.wandb_run_id,
            "previous_run_ids": tracker.wandb_previous_ids,
            "path": wandb_report.get("path"),
            "sync_command": wandb_report.get("sync_command"),
        },
    }


def peak_rss_gb() -> float | None:
    """Peak resident memory of this process (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**3 if sys.platform == "darwin" else 1024**2)


def write_summary(path: str | Path, summary: dict[str, Any]) -> None:
    atomic_write_json(path, summary)


# The tracker that last opened each summary file. A run resumed in the same process shares its
# summary file with the tracker before it, whose background rewrite (after W&B finishes) must
# not replace the resumed run's summary.
_owners: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
_owners_lock = threading.Lock()


def claim_summary(path: str | Path, tracker: ExperimentTracker) -> None:
    """Make ``tracker`` the one writer of the summary at ``path`` from now on."""
    with _owners_lock:
        _owners[str(path)] = tracker


def write_owned_summary(path: str | Path, tracker: ExperimentTracker) -> bool:
    """Build and write ``tracker``'s summary if it still owns ``path``; False when it does not."""
    with _owners_lock:
        if _owners.get(str(path)) is not tracker:
            return False
        write_summary(path, build_summary(tracker))
        return True
