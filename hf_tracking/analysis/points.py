"""Scaling points: (N, D, C, loss) per run or CSV row, checked before any fit.

Compute conventions: ``"run"`` takes C = D × the run's own training FLOPs per token (the
summary's ``flops.flops_per_token.total``: 6N of the non-embedding weights plus attention and the
output head, forward + backward); ``"6nd"`` takes C = 6·N·D (Kaplan et al., Hoffmann et al.).
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from hf_tracking.analysis.loss_curves import LossCurve, NoCurve, NotReached, loss_curve
from hf_tracking.analysis.options import (
    CONVENTIONS,
    DEFAULT_SMOOTHING,
    DEFAULT_TOLERANCE,
    LOSSES,
    PARAMETER_COUNTS,
    ScalingInputError,
)


@dataclasses.dataclass(frozen=True)
class ScalingPoints:
    """Parallel arrays: N (parameters), D (tokens), C (FLOPs) and the loss, one entry a run;
    ``curves`` each run's loss against compute where every run has one (runs, not a CSV), and
    ``left_out`` why runs were not made points."""

    n: np.ndarray
    d: np.ndarray
    c: np.ndarray
    loss: np.ndarray
    names: tuple[str, ...]
    convention: str
    curves: tuple[LossCurve, ...] | None = None
    left_out: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("n", "d", "c", "loss"):
            object.__setattr__(self, name, positive_array(getattr(self, name), name))
        sizes = {len(self.n), len(self.d), len(self.c), len(self.loss), len(self.names)}
        if self.curves is not None:
            sizes.add(len(self.curves))
        if len(sizes) != 1:
            raise ScalingInputError("N, D, C, loss, names and curves must have the same length")

    def __len__(self) -> int:
        return len(self.n)


def positive_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a 1-D float array of finite numbers > 0; ScalingInputError naming ``name``."""
    try:
        array = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ScalingInputError(f"{name} must be numbers") from None
    bad = ~(np.isfinite(array) & (array > 0))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise ScalingInputError(
            f"{name} must be finite and > 0: {int(bad.sum())} value(s) are not "
            f"(the first at row {index + 1}: {array[index]!r})"
        )
    return array


def read_csv_points(
    path: str | os.PathLike,
    *,
    n: str,
    loss: str,
    d: str | None = None,
    c: str | None = None,
    name: str | None = None,
) -> ScalingPoints:
    """Points from a CSV with the columns named; with C only, D = C / 6N, with D only, C = 6ND."""
    if d is None and c is None:
        raise ScalingInputError("name a token column (--d) or a compute column (--c), or both")
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            reader = csv.DictReader(stream)
            rows = list(reader)
            header = reader.fieldnames or []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ScalingInputError(f"cannot read {str(path)!r}: {error}") from None
    wanted = [column for column in (n, loss, d, c, name) if column is not None]
    missing = [column for column in wanted if column not in header]
    if missing:
        raise ScalingInputError(
            f"{str(path)!r} has no column {', '.join(map(repr, missing))} "
            f"(its columns: {', '.join(header) or 'none'})"
        )
    if not rows:
        raise ScalingInputError(f"{str(path)!r} holds no rows")

    def column(key: str) -> np.ndarray:
        values = []
        for number, row in enumerate(rows, start=2):
            try:
                values.append(float(row[key]))
            except (TypeError, ValueError):
                raise ScalingInputError(
                    f"{str(path)!r} line {number}: column {key!r} is not a number: {row[key]!r}"
                ) from None
        return positive_array(values, f"column {key!r}")

    sizes, losses = column(n), column(loss)
    tokens = column(d) if d else None
    compute = column(c) if c else None
    if tokens is None:
        tokens = compute / (6.0 * sizes)
    if compute is None:
        compute = 6.0 * sizes * tokens
    names = (
        tuple(row[name] for row in rows) if name else tuple(f"row {i}" for i in range(len(rows)))
    )
    return ScalingPoints(sizes, tokens, compute, losses, names, "csv" if c else "6nd")


def run_point(
    summary: dict[str, Any], records: Sequence[dict[str, Any]], **options: Any
) -> dict[str, float]:
    """One run's N, D, C and loss (``{"n", "d", "c", "loss"}``) from its summary and rows; the
    keywords are :func:`run_point_and_curve`'s."""
    return run_point_and_curve(summary, records, **options)[0]


def run_point_and_curve(
    summary: dict[str, Any],
    records: Sequence[dict[str, Any]],
    *,
    name: str,
    parameters: str = "total",
    loss: str = "val",
    convention: str = "run",
    at_compute: float | None = None,
    smoothing: float = DEFAULT_SMOOTHING,
) -> tuple[dict[str, float], LossCurve | None]:
    """One run's point and its loss against compute (None where its rows give none): N, D and C
    from its summary (and its rows where the summary lacks them), and its loss. With
    ``at_compute``, D, C and the loss are read on the run's loss curve at that compute
    (NotReached when the curve does not cover it)."""
    _choice(parameters, PARAMETER_COUNTS, "parameters")
    _choice(loss, LOSSES, "loss")
    _choice(convention, CONVENTIONS, "convention")
    if at_compute is not None and not (isinstance(at_compute, (int, float)) and at_compute > 0):
        raise ScalingInputError(f"at_compute must be > 0 FLOPs, got {at_compute!r}")
    counts = summary.get("parameters") or {}
    size = counts.get("non_embedding") if parameters == "non_embedding" else None
    if parameters == "total":
        size = counts.get("actual_total", counts.get("total"))
    tokens = (summary.get("totals") or {}).get("tokens_seen")
    if tokens is None:
        tokens = next(
            (r["time/tokens_seen"] for r in reversed(records) if "time/tokens_seen" in r), None
        )
    for label, number in (("parameter count", size), ("tokens seen", tokens)):
        _check_positive(name, label, number)
    per_token = 6.0 * size if convention == "6nd" else flops_per_token(summary)
    if per_token is None:
        raise ScalingInputError(
            f"run {name!r} states no FLOPs per token in its summary; use the 6ND convention"
        )
    try:
        curve = loss_curve(records, loss=loss, per_token=per_token, smoothing=smoothing, name=name)
    except NoCurve:
        if loss == "smoothed_train" or at_compute is not None:
            raise
        curve = None
    if at_compute is not None:
        try:
            value = curve.at(at_compute)
        except NotReached:
            raise NotReached(
                f"run {name!r}: its {loss} loss curve covers {curve.start:.4g} to "
                f"{curve.end:.4g} FLOPs, not {at_compute:.4g}"
            ) from None
        tokens = at_compute / per_token
    else:
        value = float(curve.loss[-1]) if loss == "smoothed_train" else _loss(summary, records, loss)
    _check_positive(name, f"{loss} loss", value)
    compute = at_compute if at_compute is not None else per_token * tokens
    point = {"n": float(size), "d": float(tokens), "c": float(compute), "loss": float(value)}
    return point, curve


def group_budgets(compute: Sequence[float], tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
    """A budget index per point: computes sorted and cut where a value exceeds the first of its
    group by more than ``tolerance`` (relative)."""
    compute = positive_array(compute, "compute")
    if not tolerance >= 0:
        raise ScalingInputError(f"tolerance must be >= 0, got {tolerance!r}")
    order = np.argsort(compute, kind="stable")
    labels = np.empty(len(compute), dtype=int)
    label, first = -1, None
    for index in order:
        if first is None or compute[index] > first * (1.0 + tolerance):
            label, first = label + 1, compute[index]
        labels[index] = label
    return labels


def budget_values(
    compute: Sequence[float], tolerance: float = DEFAULT_TOLERANCE
) -> tuple[np.ndarray, list[float]]:
    """:func:`group_budgets`' labels and each budget's compute: the geometric mean of its points."""
    compute = positive_array(compute, "compute")
    labels = group_budgets(compute, tolerance)
    budgets = [float(np.exp(np.log(compute[labels == k]).mean())) for k in range(labels.max() + 1)]
    return labels, budgets


def flops_per_token(summary: dict[str, Any]) -> float | None:
    """The run's training FLOPs per token (forward + backward), from its summary."""
    value = ((summary.get("flops") or {}).get("flops_per_token") or {}).get("total")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def compute_convention(summary: dict[str, Any]) -> str:
    """How the run counted its FLOPs, in words."""
    convention = ((summary.get("flops") or {}).get("flops_per_token") or {}).get("convention")
    return f"tokens × FLOPs/token ({convention})" if convention else "tokens × FLOPs/token"


def _loss(summary: dict[str, Any], records: Sequence[dict[str, Any]], which: str) -> Any:
    if which == "best_val":
        return ((summary.get("best") or {}).get("val") or {}).get("loss")
    key = "val/loss" if which == "val" else "train/loss"
    event = "val" if which == "val" else "train"
    for record in reversed(records):
        if record.get("event") == event and isinstance(record.get(key), (int, float)):
            return record[key]
    return (summary.get("final") or {}).get(key)


def _check_positive(name: str, label: str, number: Any) -> None:
    if not isinstance(number, (int, float)) or not number > 0:
        hint = " (choose another with --run-loss)" if label.endswith("loss") else ""
        raise ScalingInputError(f"run {name!r} has no {label}{hint}: got {number!r}")


def _choice(value: str, choices: Sequence[str], name: str) -> None:
    if value not in choices:
        raise ScalingInputError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
