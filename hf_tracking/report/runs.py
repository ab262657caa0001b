"""Reading a run for reports: its records and summary, and its key numbers."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from hf_tracking.analysis.points import compute_convention, flops_per_token
from hf_tracking.backends.local import METRICS_FILE, SUMMARY_SUFFIX
from hf_tracking.jsonio import iter_jsonl
from hf_tracking.metrics.clock import LEDGER_PARTS as CLOCK_PARTS
from hf_tracking.metrics.history import BoundedHistory
from hf_tracking.metrics.params import format_count
from hf_tracking.run_files import read_json_file

MAX_TRAIN_ROWS = 20000
PROGRESS_BYTES = 20 * 1024**2
AXES = (
    ("time/gradient_steps", "gradient steps"),
    ("time/wallclock_hours", "wallclock hours"),
    ("time/tokens_seen", "tokens seen"),
)
LEDGER_PARTS = (*CLOCK_PARTS, "other")
# Cumulative training FLOPs, an x-axis of every row: tokens seen × the run's FLOPs per token.
COMPUTE_AXIS = "compute"


class ReportError(RuntimeError):
    """A run cannot be read: no such path, no metrics, no summary."""


@dataclasses.dataclass
class Run:
    """One run's records and, when it was written, its summary."""

    name: str
    run_dir: Path
    records: list[dict[str, Any]]
    summary: dict[str, Any] | None = None
    summary_path: Path | None = None

    def series(self, x_key: str, y_key: str, event: str | None = None) -> tuple[list, list]:
        """(x, y) of the records holding finite numbers for both keys, in file order.
        ``x_key`` :data:`COMPUTE_AXIS` is the tokens seen times the run's FLOPs per token (no
        points when its summary states none)."""
        scale = 1
        if x_key == COMPUTE_AXIS:
            scale = self.flops_per_token
            if scale is None:
                return [], []
            x_key = "time/tokens_seen"
        xs, ys = [], []
        for record in self.records:
            if event is not None and record.get("event") != event:
                continue
            x, y = record.get(x_key), record.get(y_key)
            if finite(x) and finite(y):
                xs.append(x * scale)
                ys.append(y)
        return xs, ys

    @property
    def flops_per_token(self) -> float | None:
        return flops_per_token(self.summary or {})

    @property
    def compute_label(self) -> str:
        return compute_convention(self.summary or {})

    def metric_names(self) -> set[str]:
        return {key for record in self.records for key in record}


# ===================================================================== reading
def load_run(path: str | os.PathLike, summary_only: bool = False) -> Run:
    """A run from its directory or its summary file; ReportError when there is none. With
    ``summary_only``, a run whose summary has its totals is not read further (no records)."""
    path = Path(path)
    summary_path: Path | None = None
    if path.is_file() and path.name.endswith(SUMMARY_SUFFIX):
        summary_path = path
        summary = _read_summary(path)
        run_dir = _summary_run_dir(path, summary)
    elif path.is_dir():
        run_dir = path
        candidate = path.parent / f"{path.name}{SUMMARY_SUFFIX}"
        summary_path = candidate if candidate.is_file() else None
        summary = _read_summary(candidate) if summary_path else None
    elif path.exists():
        raise ReportError(f"{str(path)!r} is neither a run directory nor a *{SUMMARY_SUFFIX} file")
    else:
        raise ReportError(f"no such run: {str(path)!r}")
    metrics = run_dir / METRICS_FILE
    if not metrics.is_file():
        raise ReportError(f"no metrics in {str(run_dir)!r}: {METRICS_FILE} is missing")
    if summary_only and summary is not None and isinstance(summary.get("totals"), dict):
        name = summary.get("experiment_name") or run_dir.name
        return Run(name, run_dir, [], summary, summary_path)
    records = read_records(metrics)
    if not records:
        raise ReportError(f"no metrics in {str(metrics)!r}: the file holds no complete record")
    name = (summary or {}).get("experiment_name") or run_dir.name
    return Run(name, run_dir, records, summary, summary_path)


def read_records(path: Path, max_train_rows: int = MAX_TRAIN_ROWS) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl`` in file order, training rows thinned evenly to at most
    ``max_train_rows`` (the first and the last kept; a plot has no use for a million points) and
    every other row kept. A large file shows a progress bar while it is read."""
    from tqdm.auto import tqdm

    train = BoundedHistory(max_train_rows)
    others: list[tuple[int, dict[str, Any]]] = []
    last: tuple[int, dict[str, Any]] | None = None
    large = path.stat().st_size > PROGRESS_BYTES
    rows = tqdm(iter_jsonl(path), desc=f"reading {path}", unit=" records", disable=not large)
    for index, record in enumerate(rows):
        if record.get("event") == "train":
            train.append((index, record))
            last = (index, record)
        else:
            others.append((index, record))
    kept = train.rows()
    if last is not None and (not kept or kept[-1][0] != last[0]):
        kept.append(last)
    return [record for _, record in sorted(kept + others, key=lambda item: item[0])]


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = read_json_file(path)
    except (OSError, ValueError) as error:
        raise ReportError(f"cannot read the summary {str(path)!r}: {error}") from None
    if not isinstance(summary, dict):
        raise ReportError(f"{str(path)!r} is not a run summary")
    return summary


def _summary_run_dir(path: Path, summary: dict[str, Any]) -> Path:
    """The summary's ``run_dir``; when it was relative to another working directory, the
    directory beside the summary."""
    stored = summary.get("run_dir")
    if stored and Path(stored).is_dir():
        return Path(stored)
    name = Path(stored).name if stored else path.name[: -len(SUMMARY_SUFFIX)]
    return path.parent / name


def key_numbers(run: Run) -> dict[str, Any]:
    """The headline numbers of a run: from its summary, else from its records."""
    summary = run.summary or {}
    totals = summary.get("totals") or {}
    last = {key: value for record in run.records for key, value in record.items()}
    train = run.series("time/gradient_steps", "train/loss", "train")[1]
    steps, val = run.series("time/gradient_steps", "val/loss", "val")
    best = (summary.get("best") or {}).get("val")
    if best is None and val:
        index = min(range(len(val)), key=val.__getitem__)
        best = {"loss": val[index], "step": steps[index]}
    rates = run.series("time/gradient_steps", "throughput/tokens_per_second", "train")[1]
    parameters = summary.get("parameters") or {}
    return {
        "name": run.name,
        "status": summary.get("status", "no summary (the run did not finish)"),
        "steps": totals.get("gradient_steps", last.get("time/gradient_steps")),
        "planned_steps": totals.get("planned_steps"),
        "tokens_seen": totals.get("tokens_seen", last.get("time/tokens_seen")),
        "wallclock_hours": totals.get("wallclock_hours", last.get("time/wallclock_hours")),
        "final_train_loss": (summary.get("final") or {}).get(
            "train/loss", train[-1] if train else None
        ),
        "best_val_loss": best["loss"] if best else None,
        "best_val_step": best["step"] if best else None,
        "tokens_per_second": (summary.get("throughput") or {}).get(
            "mean_tokens_per_second", sum(rates) / len(rates) if rates else None
        ),
        "goodput_pct": summary.get("goodput_pct", last.get("efficiency/goodput_pct")),
        "checkpoints": totals.get(
            "checkpoints", sum(record.get("event") == "checkpoint" for record in run.records)
        ),
        "parameters": parameters.get("actual_total", parameters.get("total")),
    }


def is_val_loss(key: str) -> bool:
    return key.startswith("val/") and key.endswith("/loss")


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def text(value: Any, digits: int | None = None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if digits is None and float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{4 if digits is None else digits}f}"


def count(value: Any) -> str:
    return "-" if value is None else f"{format_count(value)} ({int(value):,})"


def percent(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}%"


def seconds(value: Any) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def duration(hours: Any) -> str:
    if hours is None:
        return "-"
    seconds = hours * 3600.0
    if seconds < 120:
        return f"{hours:.4f} h ({seconds:.1f} s)"
    if seconds < 7200:
        return f"{hours:.3f} h ({seconds / 60:.1f} min)"
    return f"{hours:.2f} h"
