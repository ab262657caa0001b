"""A run summarised for the terminal."""

from __future__ import annotations

from typing import Any

from hf_tracking.report.runs import (
    LEDGER_PARTS,
    ReportError,
    Run,
    count,
    duration,
    key_numbers,
    percent,
    seconds,
    text,
)


# ===================================================================== terminal summary
def summary_text(run: Run) -> str:
    """The summary as aligned ``key: value`` lines, section by section."""
    if run.summary is None:
        raise ReportError(f"run {run.name!r} has no summary file (it may still be running)")
    summary = run.summary
    numbers = key_numbers(run)
    totals = summary.get("totals") or {}
    throughput = summary.get("throughput") or {}
    steps = summary.get("step_time_seconds") or {}
    flops = summary.get("flops") or {}
    parameters = summary.get("parameters") or {}
    wandb = summary.get("wandb") or {}
    sections: list[tuple[str, list[tuple[str, Any]]]] = [
        (
            "run",
            [
                ("name", summary.get("experiment_name")),
                ("status", summary.get("status")),
                ("error", summary.get("error")),
                ("stopped by", (summary.get("stopped_by") or {}).get("message")),
                (
                    "last good checkpoint",
                    (summary.get("stopped_by") or {}).get("last_good_checkpoint"),
                ),
                ("started", summary.get("started_at")),
                ("ended", summary.get("ended_at")),
                ("run dir", str(run.run_dir)),
                ("summary", str(run.summary_path)),
                ("tags", ", ".join(summary.get("tags") or [])),
            ],
        ),
        (
            "progress",
            [
                (
                    "gradient steps",
                    f"{text(numbers['steps'])} / {text(numbers['planned_steps'])}",
                ),
                ("tokens seen", text(numbers["tokens_seen"])),
                ("wallclock", duration(numbers["wallclock_hours"])),
                ("evaluations", totals.get("evaluations")),
                ("checkpoints", totals.get("checkpoints")),
                ("resumes", totals.get("resumes")),
                ("non-finite values", totals.get("nonfinite_count")),
            ],
        ),
        (
            "loss",
            [
                ("final train loss", text(numbers["final_train_loss"], 4)),
                ("best val loss", text(numbers["best_val_loss"], 4)),
                ("best val step", numbers["best_val_step"]),
            ],
        ),
        (
            "time ledger",
            [
                (part, duration((summary.get("time_ledger_hours") or {}).get(part)))
                for part in LEDGER_PARTS
            ]
            + [("goodput", percent(summary.get("goodput_pct")))],
        ),
        (
            "throughput",
            [
                ("mean tokens/s", text(throughput.get("mean_tokens_per_second"), 0)),
                ("p50 tokens/s", text(throughput.get("p50_tokens_per_second"), 0)),
                ("step time p50", seconds(steps.get("p50"))),
                ("step time p95", seconds(steps.get("p95"))),
                ("MFU", percent(flops.get("mfu_pct")) if flops.get("mfu_pct") else None),
                ("device", flops.get("device")),
                ("dtype", flops.get("dtype")),
            ],
        ),
        (
            "model",
            [
                ("model_size", (summary.get("config") or {}).get("model_size")),
                ("parameters", count(numbers["parameters"])),
                ("non-embedding", count(parameters.get("non_embedding"))),
            ],
        ),
        ("alerts", alert_lines(summary)),
        (
            "wandb",
            [
                ("mode", wandb.get("mode")),
                ("run id", wandb.get("run_id")),
                ("path", wandb.get("path")),
                ("sync", wandb.get("sync_command")),
            ],
        ),
    ]
    lines = []
    for title, items in sections:
        items = [(key, value) for key, value in items if value not in (None, "", "-")]
        if not items:
            continue
        width = max(len(key) for key, _ in items)
        lines.append(title)
        lines += [f"  {key + ':':<{width + 1}} {value}" for key, value in items]
    return "\n".join(lines)


def alert_lines(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """The summary's alerts, one line each: ``step N: message``."""
    alerts = summary.get("alerts") or []
    lines: list[tuple[str, Any]] = [
        (f"step {alert.get('step')}", alert.get("message")) for alert in alerts
    ]
    shown, total = len(alerts), summary.get("alert_count") or len(alerts)
    if total > shown:
        lines.append(("more", f"{total - shown} later alerts are in metrics.jsonl"))
    return lines
