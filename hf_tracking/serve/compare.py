"""``/api/compare?run=R&run=S[...]``: two or more runs side by side.

The answer holds, per run, its name, status and health alerts (:mod:`.alerts`); ``summary``,
one row per figure (losses, tokens, throughput, MFU, goodput, the time ledger's parts, alerts)
with a value per run (``unit`` "hours" for times) and, for a loss, which run has the lowest (for
a rate, the highest); and ``config``, one row per
config field (dotted, as the runs table flattens it) with a value per run (``missing`` where a
run has no such field), the fields whose values differ first, then the rest, each part sorted by
name.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hf_tracking.metrics.clock import LEDGER_PARTS
from hf_tracking.serve.alerts import run_alerts
from hf_tracking.serve.api import ApiError, run_row
from hf_tracking.serve.runs import Run, RunCatalog, field

MAX_RUNS = 32
MISSING = {"missing": True}
# (label, the runs-table row's key or a path into the summary, which value is best)
FIGURES = (
    ("status", "status", None),
    ("last train loss", "last_train_loss", "min"),
    ("last val loss", "last_val_loss", "min"),
    ("best val loss", "best_val_loss", "min"),
    ("gradient steps", "steps", None),
    ("tokens seen", "tokens", None),
    ("wallclock hours", "wallclock_hours", None),
    ("mean tokens/s", "tokens_per_second", "max"),
    ("MFU %", "mfu_pct", "max"),
    ("goodput %", "goodput_pct", "max"),
    ("parameters", ("parameters", "total"), None),
    ("FLOPs per token", ("flops", "flops_per_token", "total"), None),
    *((f"ledger: {part} hours", ("time_ledger_hours", part), None) for part in LEDGER_PARTS),
    ("ledger: other hours", ("time_ledger_hours", "other"), None),
    ("resumes", "resumes", None),
    ("alerts", "alerts", None),
)


def compare(catalog: RunCatalog, query: dict[str, list[str]]) -> dict[str, Any]:
    ids = list(dict.fromkeys(query.get("run") or []))
    if len(ids) < 2:
        raise ApiError(400, f"compare needs two or more runs (run=ID&run=ID), got {len(ids)}")
    if len(ids) > MAX_RUNS:
        raise ApiError(400, f"at most {MAX_RUNS} runs can be compared at once, got {len(ids)}")
    runs = []
    for run_id in ids:
        run = catalog.get(run_id)
        if run is None:
            raise ApiError(404, f"no run with id {run_id!r}")
        runs.append(run)
    rows, alerts = [], []
    for run in runs:
        index = catalog.index(run)
        row = run_row(catalog, run)
        row["last_val_loss"] = index.last("val").get("val/loss")
        rows.append(row)
        alerts.append(run_alerts(run, index))
    return {
        "runs": [
            {"id": row["id"], "name": row["name"], "status": row["status"], "live": row["live"]}
            for row in rows
        ],
        "summary": _figures(runs, rows),
        "alerts": alerts,
        "config": _config([row["config"] for row in rows]),
    }


def _figures(runs: list[Run], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    figures = []
    for label, where, better in FIGURES:
        if isinstance(where, str):
            values = [row.get(where) for row in rows]
        else:
            values = [_number(field(run.summary(), *where)) for run in runs]
        unit = "hours" if label.endswith(" hours") else None
        figure: dict[str, Any] = {"label": label, "values": values, "best": None, "unit": unit}
        numbers = [value for value in values if _number(value) is not None]
        if better and len(numbers) > 1 and len(set(numbers)) > 1:
            chosen = min(numbers) if better == "min" else max(numbers)
            figure["best"] = values.index(chosen)
        figures.append(figure)
    return figures


def _config(configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = sorted(set().union(*configs))
    rows = []
    for key in keys:
        values = [config.get(key, MISSING) for config in configs]
        shown = {json.dumps(value, sort_keys=True) for value in values}
        rows.append({"key": key, "values": values, "differs": len(shown) > 1})
    return [row for row in rows if row["differs"]] + [row for row in rows if not row["differs"]]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None
