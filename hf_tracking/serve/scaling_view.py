"""``/api/scaling``: the served runs' final losses against compute with the fits of
``hf-tracking scaling`` (:func:`hf_tracking.analysis.scaling.fit_scaling`, the same code).

| query | meaning |
| --- | --- |
| ``run=R`` (repeatable) | the runs to fit (default: every finished run) |
| ``loss=val\\|best_val\\|train\\|smoothed_train`` | the run's last validation loss (default), best one, last train loss, train loss smoothed over compute |
| ``compute=run\\|6nd`` | C from the run's own FLOPs per token (default) or 6ND |
| ``grid=coarse\\|full`` | Approach 3's starting points: 108 (default, a quick answer) or the command's 4,500 |

The answer lists each run's point (N, D, C, loss and its FLOPs convention) or why it was left
out, and the fit: ``status`` is ``fitted`` (with ``fit``, the command's ``--json``, ``curves``
and ``budget_rule``, how Approach 2 formed its budgets in words), ``fitting`` (ask again) or
``error`` (the fit's own message: too few runs, no budget with a minimum, scipy not installed).
A run's point is kept while its files stay; a fit is kept by the runs' files it was made from,
so polling refits only when a run finishes or changes. Points and curves are read as the
command reads them (:func:`run_point_and_curve`), the rows out of each run's metrics index.
Fits run one at a time on a daemon thread; a request waits for one at most ``wait_seconds``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hf_tracking.analysis.options import (
    CONVENTIONS,
    LOSSES,
    ScalingInputError,
)
from hf_tracking.analysis.points import ScalingPoints, compute_convention, run_point_and_curve
from hf_tracking.serve.api import ApiError
from hf_tracking.serve.runs import Run, RunCatalog

GRIDS = ("coarse", "full")
MAX_RUNS = 5000
KEPT_FITS = 8  # fits kept, least recently asked for dropped first
MAX_WAITING = 4  # fits queued at once; past that a request for another is refused (429)
WAIT_SECONDS = 2.0
TOKENS = "time/tokens_seen"
INSTALL = "the scaling fits need scipy: pip install 'hf-tracking[analysis]'"


class _Fit:
    """One fit on its way: done once ``answer`` is set."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: dict[str, Any] = {}


class ScalingView:
    def __init__(self, catalog: RunCatalog, wait_seconds: float = WAIT_SECONDS) -> None:
        self.catalog = catalog
        self.wait_seconds = wait_seconds
        self.fits_made = 0
        self._points: dict[tuple, tuple[tuple, dict[str, Any], Any]] = {}
        self._fits: OrderedDict[tuple, _Fit] = OrderedDict()
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()

    def answer(self, query: dict[str, list[str]]) -> dict[str, Any]:
        options = {
            "loss": _choice(query, "loss", LOSSES),
            "compute": _choice(query, "compute", CONVENTIONS),
            "grid": _choice(query, "grid", GRIDS),
        }
        runs = self._runs(query.get("run") or [])
        points, curves, files, left_out = [], [], [], []
        for run in runs:
            found, curve, key = self._point(run, options["loss"], options["compute"])
            if "n" in found:
                points.append(found)
                curves.append(curve)
                files.append((run.id, key))
            else:
                left_out.append(found)
        answer: dict[str, Any] = {
            "selected": bool(query.get("run")),
            "options": options,
            "points": points,
            "left_out": left_out,
            "convention": "6ND"
            if options["compute"] == "6nd"
            else "tokens × the run's FLOPs/token",
            "fit": None,
            "curves": None,
        }
        if not points:
            whose = "selected" if query.get("run") else "finished"
            return {**answer, "status": "error", "error": f"no {whose} run gives a point to fit"}
        # the runs' files, as the points and their curves were read from them
        key = (tuple(options.values()), tuple(files))
        fit = self._fit(key, lambda: _fit(points, curves, answer["convention"], options["grid"]))
        if not fit.done.wait(self.wait_seconds):
            return {**answer, "status": "fitting", "error": None}
        return {**answer, **fit.answer}

    def _runs(self, ids: list[str]) -> list[Run]:
        if len(ids) > MAX_RUNS:
            raise ApiError(400, f"at most {MAX_RUNS} runs can be fitted at once, got {len(ids)}")
        if not ids:
            return [run for run in self.catalog.runs() if run.status() == "finished"]
        runs = []
        for run_id in dict.fromkeys(ids):
            run = self.catalog.get(run_id)
            if run is None:
                raise ApiError(404, f"no run with id {run_id!r}")
            runs.append(run)
        return runs

    def _point(self, run: Run, loss: str, compute: str) -> tuple[dict[str, Any], Any, tuple]:
        """The run's point (or why it has none) and its loss against compute (None where its
        rows give none), as ``hf-tracking scaling`` reads them; kept while the run's files
        stay; the files' key is the third value."""
        files = run.files_key()
        held = self._points.get((run.id, loss, compute))
        if held is not None and held[0] == files:
            return held[1], held[2], files
        found: dict[str, Any] = {"id": run.id, "name": run.name}
        curve = None
        summary = run.summary()
        if run.status() != "finished" or summary is None:
            found["reason"] = f"the run is {run.status()}: only finished runs are fitted"
        else:
            try:
                point, curve = run_point_and_curve(
                    summary,
                    self._records(run, loss),
                    name=run.name,
                    loss=loss,
                    convention=compute,
                )
            except ScalingInputError as error:
                found["reason"] = str(error)
            except (AttributeError, TypeError, ValueError):
                found["reason"] = "its summary does not hold the fields a point needs"
            else:
                found.update(point)
                found["convention"] = "6ND" if compute == "6nd" else compute_convention(summary)
        self._points[(run.id, loss, compute)] = (files, found, curve)
        return found, curve, files

    def _records(self, run: Run, loss: str) -> list[dict[str, float]]:
        """The rows a point and its curve are read from (the tokens seen and the loss of each
        validation or train row), out of the run's metrics index."""
        event, key = ("val", "val/loss") if loss in ("val", "best_val") else ("train", "train/loss")
        tokens, values = self.catalog.index(run).columns(event, (TOKENS, key))
        if tokens is None or values is None:
            return []
        return [
            {"event": event, TOKENS: float(x), key: float(y)}
            for x, y in zip(tokens.tolist(), values.tolist(), strict=True)
        ]

    def _fit(self, key: tuple, work: Callable[[], dict[str, Any]]) -> _Fit:
        """The fit of ``key``, started on a thread when it is not held."""
        with self._lock:
            fit = self._fits.get(key)
            if fit is not None:
                self._fits.move_to_end(key)
                return fit
            waiting = sum(not held.done.is_set() for held in self._fits.values())
            if waiting >= MAX_WAITING:
                raise ApiError(429, f"{waiting} scaling fits are running; ask again shortly")
            fit = self._fits[key] = _Fit()
            while len(self._fits) > KEPT_FITS:
                oldest = next(iter(self._fits))
                if not self._fits[oldest].done.is_set():
                    break
                del self._fits[oldest]

        def run() -> None:
            with self._one_at_a_time:
                try:
                    fit.answer = work()
                except Exception as error:  # the page says what went wrong; the server stays up
                    fit.answer = _failed(f"the fit failed: {type(error).__name__}: {error}")
                self.fits_made += 1
            fit.done.set()

        threading.Thread(target=run, name="hf-tracking-scaling-fit", daemon=True).start()
        return fit


def _fit(
    points: list[dict[str, Any]], curves: list[Any], convention: str, grid: str
) -> dict[str, Any]:
    """``fit_scaling`` over the points with the command's defaults, and its curves."""
    try:
        from hf_tracking.analysis.curves import fitted_curves
        from hf_tracking.analysis.scaling import BUDGET_RULE_TEXT, fit_scaling
    except ImportError:
        return _failed(INSTALL)
    scaling_points = ScalingPoints(
        [point["n"] for point in points],
        [point["d"] for point in points],
        [point["c"] for point in points],
        [point["loss"] for point in points],
        tuple(point["name"] for point in points),
        convention,
        # as points_from_runs: Approach 2 reads the curves where every run has one
        curves=None if any(curve is None for curve in curves) else tuple(curves),
    )
    try:
        result = fit_scaling(scaling_points, grid=grid)
    except ScalingInputError as error:
        return _failed(str(error))
    curves = fitted_curves(scaling_points, result)
    rule = BUDGET_RULE_TEXT.get(result["points"].get("budget_rule"))
    return {"status": "fitted", "error": None, "fit": result, "curves": curves, "budget_rule": rule}


def _failed(message: str) -> dict[str, Any]:
    return {"status": "error", "error": message}


def _choice(query: dict[str, list[str]], name: str, choices: tuple[str, ...]) -> str:
    value = (query.get(name) or [choices[0]])[0]
    if value not in choices:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ApiError(400, f"{name} must be one of {', '.join(choices)}, got {shown!r}")
    return value
