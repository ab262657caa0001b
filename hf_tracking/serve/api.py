"""The dashboard's JSON answers, built from a :class:`~hf_tracking.serve.runs.RunCatalog`.

| endpoint | answer |
| --- | --- |
| ``/api/runs[?offset=&limit=&sort=&dir=&q=&tag=&run=]`` | a page of rows, one per run: status, live, steps, tokens, wallclock, best val loss, last train loss, tokens/s, goodput, MFU, tags, flat config; the counts, the selected runs' rows, the tags |
| ``/api/run?id=R`` | the run's summary and config (redacted), backends, W&B sync command, event list, health alerts |
| ``/api/keys?run=R&run=S`` | the metric names of those runs, by event kind |
| ``/api/series?run=R&y=KEY&x=AXIS[&lo=&hi=&points=N&smooth=S]`` | per run, the curve of KEY against AXIS downsampled to N points within [lo, hi] (all its validation points kept), with S > 0 its time-weighted EMA at the same points, the validation points of its ``val/`` counterpart, checkpoint, resume and health-alert markers |

AXIS is ``time/gradient_steps``, ``time/wallclock_hours``, ``time/tokens_seen`` or ``compute``
(cumulative FLOPs: tokens × the run's FLOPs per token, computed here). Smoothing
(:mod:`hf_tracking.metrics.time_ema`) runs on every row the index holds, before downsampling, with one
τ for all the runs asked (from S and the widest x extent among them), so a zoom, a resume or
another run's sampling leaves a curve as it is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hf_tracking.serve.alerts import run_alerts
from hf_tracking.serve.downsample import DEFAULT_POINTS, downsample_indices
from hf_tracking.serve.panels import panels
from hf_tracking.serve.runs import Run, RunCatalog, field
from hf_tracking.serve.smooth import tau_of
from hf_tracking.serve.smoothed import SmoothCache, smoothed
from hf_tracking.serve.table import RunsTable, TableError

AXES = ("time/gradient_steps", "time/wallclock_hours", "time/tokens_seen", "compute")
TOKENS = "time/tokens_seen"
STEP = "time/gradient_steps"
MAX_POINTS = 20000
MAX_EVENTS = 2000
MAX_EVENT_VALUES = 50_000  # a run logging thousands of names per event
EVENT_ORDER = ("train", "val", "custom", "checkpoint", "resume", "final", "alert")
PANEL_EVENTS = ("train", "val", "custom", "alert")
MAX_CONFIG_DEPTH = 16
CONFIG_HIDDEN = ("experiment_name", "output_dir", "tags", "notes")


class ApiError(ValueError):
    """A request the API cannot answer: ``status`` is the HTTP status to reply with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def run_row(catalog: RunCatalog, run: Run) -> dict[str, Any]:
    """One line of the runs table. A run still being written is read from its index. Every
    summary field is read defensively: one of the wrong type reads as missing."""
    summary = run.summary() or {}
    status = run.status()
    tags = summary.get("tags") or run.config().get("tags") or []
    row: dict[str, Any] = {
        "id": run.id,
        "name": run.name,
        "dir": str(run.root),
        "status": status,
        "live": run.live(),
        "steps": _number(field(summary, "totals", "gradient_steps")),
        "planned_steps": _number(field(summary, "totals", "planned_steps")),
        "tokens": _number(field(summary, "totals", "tokens_seen")),
        "wallclock_hours": _number(field(summary, "totals", "wallclock_hours")),
        "best_val_loss": _number(field(summary, "best", "val", "loss")),
        "last_train_loss": _number(field(summary, "final", "train/loss")),
        "tokens_per_second": _number(field(summary, "throughput", "mean_tokens_per_second")),
        "goodput_pct": _number(summary.get("goodput_pct")),
        "mfu_pct": _number(field(summary, "flops", "mfu_pct")),
        "resumes": _number(field(summary, "totals", "resumes")),
        "alerts": len(alerts) if isinstance(alerts := field(summary, "alerts"), list) else None,
        "tags": [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else [],
        "config": flat_config(run.config()),
        "rows": None,
        "updated": run.metrics_mtime(),
    }
    for key in ("steps", "planned_steps", "tokens", "resumes"):
        if row[key] is not None and row[key].is_integer() and abs(row[key]) < 2**53:
            row[key] = int(row[key])
    if status == "running" or not summary:
        index = catalog.index(run)
        last = index.last("train")
        row.update(
            steps=last.get(STEP, row["steps"]),
            tokens=last.get(TOKENS, row["tokens"]),
            wallclock_hours=last.get("time/wallclock_hours", row["wallclock_hours"]),
            last_train_loss=last.get("train/loss", row["last_train_loss"]),
            tokens_per_second=last.get("throughput/tokens_per_second"),
            goodput_pct=last.get("efficiency/goodput_pct", row["goodput_pct"]),
            mfu_pct=last.get("throughput/mfu_pct", row["mfu_pct"]),
            rows=index.rows,
            alerts=index.detail("alert", STEP)[0],
        )
        val = index.series("val", "val/loss")
        if val is not None and np.isfinite(val).any():
            row["best_val_loss"] = float(np.nanmin(val))
    return {
        key: _number(value) if isinstance(value, float) else value for key, value in row.items()
    }


def flat_config(config: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    """Scalar config values under dotted names (for the columns that differ between runs), at
    most MAX_CONFIG_DEPTH levels down."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if not prefix and key in CONFIG_HIDDEN:
            continue
        if isinstance(value, dict):
            if depth < MAX_CONFIG_DEPTH:
                flat.update(flat_config(value, f"{name}.", depth + 1))
        elif value is None or isinstance(value, (str, int, float, bool)):
            flat[name] = _number(value) if isinstance(value, float) else value
    return flat


def runs_table(table: RunsTable, query: dict[str, list[str]]) -> dict[str, Any]:
    """One page of the runs table (:mod:`hf_tracking.serve.table`)."""
    try:
        return table.page(query)
    except TableError as error:
        raise ApiError(400, str(error)) from None


def run_by_id(catalog: RunCatalog, run_id: str | None) -> Run:
    run = catalog.get(run_id or "")
    if run is None:
        raise ApiError(404, f"no run with id {run_id!r}")
    return run


def run_detail(catalog: RunCatalog, run_id: str | None) -> dict[str, Any]:
    run = run_by_id(catalog, run_id)
    index = catalog.index(run)
    summary = run.summary()
    backends, sync = field(summary, "backends"), field(summary, "wandb", "sync_command")
    events = []
    keys = index.keys()
    for event in EVENT_ORDER[1:]:
        events.extend({"event": event, **row} for row in index.tail(event, MAX_EVENTS))
    events.sort(key=lambda item: item.get(STEP) or 0.0)
    values = 0
    for first in range(len(events) - 1, -1, -1):  # the newest events, up to MAX_EVENT_VALUES
        values += len(events[first])
        if values > MAX_EVENT_VALUES:
            events = events[first + 1 :]
            break
    return {
        "row": run_row(catalog, run),
        "summary": summary,
        "config": run.config(),
        "backends": backends if isinstance(backends, list) else [],
        "sync_command": sync if isinstance(sync, str) else None,
        "events": events[-MAX_EVENTS:],
        "keys": keys,
        "rows": index.rows,
        "alerts": run_alerts(run, index),
    }


def metric_keys(catalog: RunCatalog, run_ids: list[str]) -> dict[str, Any]:
    """The runs' metric names by event kind, and the workspace's panels for them."""
    keys: dict[str, set[str]] = {}
    for run_id in run_ids:
        for event, names in catalog.index(run_by_id(catalog, run_id)).keys().items():
            keys.setdefault(event, set()).update(name for name in names if name not in AXES)
    curves = set().union(*(keys.get(event, set()) for event in PANEL_EVENTS))
    return {
        "keys": {event: sorted(names) for event, names in keys.items()},
        "panels": panels(curves),
    }


def _float_param(query: dict[str, list[str]], name: str) -> float | None:
    values = query.get(name)
    if not values or values[0] == "":
        return None
    try:
        value = float(values[0])
    except ValueError:
        raise ApiError(400, f"{name} must be a number, got {values[0]!r}") from None
    if not math.isfinite(value):
        raise ApiError(400, f"{name} must be finite, got {values[0]!r}")
    return value


def x_columns(index: Any, run: Run, event: str, axis: str, *keys: str) -> list[Any] | None:
    """The x column (``compute`` worked out from tokens) and ``keys`` of one event kind, taken
    together so that they have the same length while a read adds rows; None without x."""
    flops = run.flops_per_token() if axis == "compute" else None
    x_key = TOKENS if axis == "compute" else axis
    xs, *rest = index.columns(event, (x_key, *keys))
    if xs is None or (axis == "compute" and flops is None):
        return None
    return [xs * flops if axis == "compute" else xs, *rest]


def table_of(index: Any, key: str) -> str | None:
    """The first event kind (train before val before the others) whose rows hold ``key``."""
    keys = index.keys()
    return next((event for event in EVENT_ORDER if key in keys.get(event, ())), None)


def _points(xs: np.ndarray, ys: np.ndarray) -> dict[str, list[float]]:
    return {"x": xs.tolist(), "y": ys.tolist()}


def _markers(index: Any, run: Run, event: str, axis: str) -> list[dict[str, Any]]:
    found = x_columns(index, run, event, axis, STEP, "checkpoint/is_best")
    if found is None:
        return []
    xs, steps, best = found
    markers = []
    for position, x in enumerate(xs.tolist()):
        if math.isfinite(x):
            marker = {"x": x, "step": _number(steps[position]) if steps is not None else None}
            if best is not None:
                marker["best"] = bool(best[position] == 1)
            markers.append(marker)
    return markers


def _extent(index: Any, run: Run, axis: str, key: str) -> float:
    """The x extent of the rows of ``run`` holding ``key`` (0 when none)."""
    event = table_of(index, key)
    found = None if event is None else x_columns(index, run, event, axis, key)
    if found is None or found[1] is None:
        return 0.0
    xs = found[0][np.isfinite(found[0]) & np.isfinite(found[1])]
    return float(xs.max() - xs.min()) if len(xs) else 0.0


def alerts_at_x(index: Any, run: Run, axis: str) -> list[dict[str, Any]]:
    """The run's health alerts at their x: step and value from its ``alert`` rows, the kind and
    message from its summary's ``alerts`` (the index holds numbers only)."""
    found = x_columns(index, run, "alert", axis, STEP, "alert/value")
    if found is None:
        return []
    listed = field(run.summary() or {}, "alerts")
    words = {}
    for alert in listed if isinstance(listed, list) else []:
        if isinstance(alert, dict) and _number(alert.get("step")) is not None:
            words[_number(alert["step"])] = alert
    xs, steps, values = found
    alerts = []
    for position, x in enumerate(xs.tolist()[-MAX_EVENTS:], start=max(len(xs) - MAX_EVENTS, 0)):
        if not math.isfinite(x):
            continue
        step = _number(steps[position]) if steps is not None else None
        said = words.get(step, {})
        kind, message = said.get("kind"), said.get("message")
        alerts.append(
            {
                "x": x,
                "step": step,
                "value": _number(values[position]) if values is not None else None,
                "kind": kind if isinstance(kind, str) else None,
                "message": message if isinstance(message, str) else None,
            }
        )
    return alerts


def _curve(
    index: Any,
    run: Run,
    event: str,
    axis: str,
    key: str,
    points: int,
    window: tuple[Any, Any],
    tau: float | None = None,
    cache: SmoothCache | None = None,
) -> tuple[dict[str, list[float]], int] | None:
    """The downsampled curve of ``key`` (with its smoothed values under ``smooth`` when ``tau``
    is given) and how many rows hold it in all."""
    found = x_columns(index, run, event, axis, key)
    if found is None or found[1] is None:
        return None
    xs, ys = np.asarray(found[0], dtype=np.float64), np.asarray(found[1], dtype=np.float64)
    keep = np.arange(len(ys)) if event == "val" else None  # every validation point
    chosen = downsample_indices(xs, ys, points, *window, keep)
    line = _points(xs[chosen], ys[chosen])
    if tau is not None:
        smooth = smoothed_rows(cache, index, run, event, axis, key, xs, ys, tau)
        line["smooth"] = smooth[chosen].tolist()
    return line, index.detail(event, key)[0]


def smoothed_rows(
    cache: SmoothCache | None,
    index: Any,
    run: Run,
    event: str,
    axis: str,
    key: str,
    xs: np.ndarray,
    ys: np.ndarray,
    tau: float,
) -> np.ndarray:
    """The EMA of a run's curve at every row, kept in ``cache`` under what its rows are (so
    ``/api/series`` and ``/api/groups`` share one smoothing of a curve)."""
    rows = (run.id, event, axis, key, index.detail(event, key)[1])
    return smoothed(cache, rows, xs, ys, tau)


def curve_request(catalog: RunCatalog, query: dict[str, list[str]]) -> dict[str, Any]:
    """The parameters that ``/api/series`` and ``/api/groups`` share, checked: runs, y, x, lo,
    hi, points, smooth, and τ (one for all the runs asked, from the widest x extent)."""
    run_ids = query.get("run") or []
    y_key = (query.get("y") or ["train/loss"])[0]
    axis = (query.get("x") or [STEP])[0]
    if axis not in AXES:
        raise ApiError(400, f"x must be one of {', '.join(AXES)}, got {axis!r}")
    lo, hi = _float_param(query, "lo"), _float_param(query, "hi")
    asked = _float_param(query, "points")
    points = DEFAULT_POINTS if asked is None else int(asked)
    if not 4 <= points <= MAX_POINTS:
        raise ApiError(400, f"points must be between 4 and {MAX_POINTS}, got {points}")
    smoothing = _float_param(query, "smooth") or 0.0
    if not 0.0 <= smoothing < 1.0:
        raise ApiError(400, f"smooth must be in [0, 1), got {smoothing}")
    tau = None
    if smoothing > 0.0:
        extents = [0.0]
        for run_id in run_ids:
            run = run_by_id(catalog, run_id)
            extents.append(_extent(catalog.index(run), run, axis, y_key))
        tau = tau_of(smoothing, max(extents))
    return {
        "runs": run_ids,
        "y": y_key,
        "x": axis,
        "lo": lo,
        "hi": hi,
        "points": points,
        "smooth": smoothing,
        "tau": tau,
    }


def series(
    catalog: RunCatalog, query: dict[str, list[str]], cache: SmoothCache | None = None
) -> dict[str, Any]:
    asked = curve_request(catalog, query)
    run_ids, y_key, axis = asked["runs"], asked["y"], asked["x"]
    lo, hi, points, smoothing, tau = (asked[k] for k in ("lo", "hi", "points", "smooth", "tau"))
    answers = []
    for run_id in run_ids:
        run = run_by_id(catalog, run_id)
        index = catalog.index(run)
        answer: dict[str, Any] = {
            "id": run.id,
            "name": run.name,
            "rows": index.rows,
            "status": run.status(),
            "complete": index.complete,
            "line": None,
            "points": None,
        }
        event = table_of(index, y_key)
        notes = []
        if axis == "compute" and run.flops_per_token() is None:
            notes.append("no FLOPs per token known for this run")
        if not index.complete:
            notes.append(f"reading metrics: {index.rows:,} rows so far")
        curve = None
        if event is not None:
            curve = _curve(index, run, event, axis, y_key, points, (lo, hi), tau, cache)
        if curve is not None:
            answer["line"], answer["total"] = curve
            bucket = index.detail(event, y_key)[1]
            if bucket > 1:  # a zoom past a bucket a point shows the rows kept
                notes.append(f"held as each {bucket:,} rows' first, last, lowest and highest")
        if notes:
            answer["note"] = "; ".join(notes)
        if y_key.startswith("train/"):
            val_key = "val/" + y_key.removeprefix("train/")
            curve = _curve(index, run, "val", axis, val_key, points, (lo, hi))
            if curve is not None:
                answer["points"], answer["points_key"] = curve[0], val_key
        answer["checkpoints"] = _markers(index, run, "checkpoint", axis)
        answer["resumes"] = _markers(index, run, "resume", axis)
        answer["alerts"] = alerts_at_x(index, run, axis)
        answers.append(answer)
    answer = {"x": axis, "y": y_key, "lo": lo, "hi": hi, "smooth": smoothing, "tau": tau}
    return {**answer, "runs": answers}
