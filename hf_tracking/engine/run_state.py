"""Run state: identity, counters, best values, checkpoints and memory peaks of one run.

Its ``state_dict`` slice is most of the tracker's checkpoint state (format version 1); a state
read back is validated first, so a damaged or hostile one is refused with a ConfigError naming the
field and never enters the tracker (a stored name goes through the same cleaning as any other).
After a resume, what the checkpoint entries lack is filled from the summary of the session before
(:func:`earlier_checkpoints`, read once when the resumed run opens).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hf_tracking.config import MAX_INT, safe_name
from hf_tracking.errors import ConfigError

# What a checkpoint entry may lack after a resume, filled from the session before.
CHECKPOINT_DETAILS = ("seconds", "size_bytes", "wallclock_hours")


def with_sizes(entries: list[dict[str, Any]], sizes: Mapping[str, int]) -> list[dict[str, Any]]:
    """Copies of checkpoint entries, each with its size as measured by now."""
    return [
        {**entry, "size_bytes": sizes.get(entry["path"], entry.get("size_bytes"))}
        for entry in entries
    ]


class RunState:
    def __init__(self, experiment_name: str) -> None:
        self.experiment_name = experiment_name
        self.requested_name = experiment_name
        self.started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.status = "running"
        self.error: str | None = None
        self.gradient_steps = 0
        self.tokens_seen = 0
        self.token_kinds: dict[str, int] = {}
        self.nonfinite_count = 0
        self.eval_count = 0
        self.resume_count = 0
        self.resumed_from_step: int | None = None
        self.logged_step = -1
        self.latest_train_loss: float | None = None
        self.latest_train: dict[str, Any] = {}
        self.final_trainer_metrics: dict[str, Any] = {}
        self.best: dict[str, dict[str, Any]] = {}
        self.peak_memory_gb: dict[str, float] = {}
        self.checkpoints: list[dict[str, Any]] = []
        # Written by the writer thread (sizes are read off the disk there), read here.
        self.checkpoint_sizes: dict[str, int] = {}
        # The configs of earlier sessions that differ from this one's (see engine.resume_config).
        self.earlier_configs: list[dict[str, Any]] = []

    def note_best(self, prefix: str, loss: float | None, perplexity: float | None) -> None:
        if loss is None or not math.isfinite(loss):
            return
        best = self.best.get(prefix)
        if best is None or loss < best["loss"]:
            self.best[prefix] = {
                "loss": loss,
                "perplexity": perplexity,
                "step": self.gradient_steps,
            }

    def note_memory_peaks(self, memory: Mapping[str, float]) -> None:
        for key, value in memory.items():
            if key.endswith("_max_allocated_gb") and value > self.peak_memory_gb.get(key, 0.0):
                self.peak_memory_gb[key] = value

    def note_resumed_checkpoint(self, path: str) -> None:
        """The checkpoint a run resumed from, unless listed already (its save's time and
        wallclock are unknown: its state was saved before the save ended)."""
        if not any(entry["step"] == self.gradient_steps for entry in self.checkpoints):
            entry = {"path": path, "step": self.gradient_steps, "is_best": False}
            self.checkpoints.append({**entry, "seconds": None, "wallclock_hours": None})

    def checkpoint_list(self) -> list[dict[str, Any]]:
        """Copies of the checkpoint entries, with the sizes the writer thread has measured."""
        return with_sizes(self.checkpoints, self.checkpoint_sizes)

    def fill_checkpoint_details(self, earlier: list[Any]) -> None:
        """Fill what this run's checkpoint entries lack (``seconds``, ``size_bytes``,
        ``wallclock_hours``: a checkpoint's own state is taken before its save ends) from the
        entries of the session before a resume, matched by path; an earlier entry up to the
        resumed step that the state never held (saved after ``state_dict()``) is listed again.
        Known values stay."""
        known = {entry.get("path"): entry for entry in earlier if isinstance(entry, Mapping)}
        listed = {entry["path"] for entry in self.checkpoints}
        for path, entry in known.items():
            step = entry.get("step")
            known_step = isinstance(step, int) and 0 <= step <= self.gradient_steps
            if path not in listed and isinstance(path, str) and known_step:
                is_best = bool(entry.get("is_best"))
                self.checkpoints.append({"path": path, "step": step, "is_best": is_best})
        self.checkpoints.sort(key=lambda entry: entry["step"])
        for entry in self.checkpoints:
            previous = known.get(entry["path"])
            if previous is None:
                continue
            for key in CHECKPOINT_DETAILS:
                value = previous.get(key)
                if entry.get(key) is None and isinstance(value, (int, float)):
                    entry[key] = value
            size = entry.get("size_bytes")
            if isinstance(size, int):
                self.checkpoint_sizes.setdefault(entry["path"], size)

    def state_dict(self) -> dict[str, Any]:
        return {
            "experiment_name": self.experiment_name,
            "gradient_steps": self.gradient_steps,
            "tokens_seen": self.tokens_seen,
            "token_kinds": dict(self.token_kinds),
            "nonfinite_count": self.nonfinite_count,
            "best": {key: dict(value) for key, value in self.best.items()},
            "checkpoints": self.checkpoint_list(),
            "evaluations": self.eval_count,
            "latest_train_loss": self.latest_train_loss,
            "peak_memory_gb": dict(self.peak_memory_gb),
            "requested_name": self.requested_name,
            "started_at": self.started_at,
            "resume_count": self.resume_count,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        checked = validated(state)
        self.experiment_name = checked["experiment_name"]
        self.gradient_steps = checked["gradient_steps"]
        self.tokens_seen = checked["tokens_seen"]
        self.token_kinds = checked["token_kinds"]
        self.nonfinite_count = checked["nonfinite_count"]
        self.best = checked["best"]
        self.checkpoints = [
            entry for entry in checked["checkpoints"] if entry["step"] <= self.gradient_steps
        ]
        self.eval_count = checked["evaluations"]
        self.latest_train_loss = checked["latest_train_loss"]
        self.peak_memory_gb = checked["peak_memory_gb"]
        self.requested_name = checked["requested_name"]
        self.started_at = checked["started_at"] or self.started_at
        self.resume_count = checked["resume_count"] + 1
        self.resumed_from_step = self.gradient_steps
        self.logged_step = self.gradient_steps


def _count(state: Mapping[str, Any], key: str, required: bool = False) -> int:
    if key not in state and not required:
        return 0
    value = state.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_INT:
        raise ConfigError(
            f"hf_tracking state: {key} must be a whole number >= 0, got {value!r:.80}"
        )
    return value


def _mapping(state: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = state.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"hf_tracking state: {key} must be a mapping, got {value!r:.80}")
    return dict(value)


def _number_or_none(key: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"hf_tracking state: {key} must be a number, got {value!r:.80}")
    try:
        return float(value)
    except OverflowError:
        raise ConfigError(f"hf_tracking state: {key} is too large, got {value!r:.40}") from None


def validated(state: Mapping[str, Any]) -> dict[str, Any]:
    """The run-state fields of a saved state, checked and cleaned; a ConfigError naming the field
    for anything missing, mistyped or out of range."""
    name = state.get("experiment_name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"hf_tracking state: experiment_name must be a name, got {name!r:.80}")
    checked: dict[str, Any] = {
        "experiment_name": safe_name(name),
        "gradient_steps": _count(state, "gradient_steps", required=True),
        "tokens_seen": _count(state, "tokens_seen", required=True),
        "nonfinite_count": _count(state, "nonfinite_count"),
        "evaluations": _count(state, "evaluations"),
        "resume_count": _count(state, "resume_count"),
        "latest_train_loss": _number_or_none("latest_train_loss", state.get("latest_train_loss")),
    }
    kinds = _mapping(state, "token_kinds")
    checked["token_kinds"] = {str(kind): _count(kinds, kind) for kind in kinds}
    peaks = _mapping(state, "peak_memory_gb")
    checked["peak_memory_gb"] = {str(k): _number_or_none(k, v) or 0.0 for k, v in peaks.items()}
    best = _mapping(state, "best")
    for key, entry in best.items():
        loss = entry.get("loss") if isinstance(entry, Mapping) else None
        if isinstance(loss, bool) or not isinstance(loss, (int, float)):
            raise ConfigError(
                f"hf_tracking state: best[{key!r}] must hold a loss, got {entry!r:.80}"
            )
    checked["best"] = {str(key): dict(entry) for key, entry in best.items()}
    checkpoints = state.get("checkpoints") or []
    if not isinstance(checkpoints, list) or not all(
        isinstance(entry, Mapping) and isinstance(entry.get("path"), str) for entry in checkpoints
    ):
        raise ConfigError("hf_tracking state: checkpoints must be a list of {path, step, ...}")
    checked["checkpoints"] = [
        {**entry, "step": _count(entry, "step", required=True)} for entry in checkpoints
    ]
    requested = state.get("requested_name", name)
    checked["requested_name"] = requested if isinstance(requested, str) else name
    started = state.get("started_at")
    checked["started_at"] = started if isinstance(started, str) else None
    return checked


def earlier_summary(summary_path: Path | None) -> dict[str, Any]:
    """The summary a resumed run replaces (empty when absent or unreadable)."""
    try:
        summary = json.loads(Path(summary_path).read_text()) if summary_path else {}
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def earlier_checkpoints(summary_path: Path | None) -> list[Any]:
    """The checkpoint entries of the summary a resumed run replaces (none when unreadable)."""
    checkpoints = earlier_summary(summary_path).get("checkpoints")
    return checkpoints if isinstance(checkpoints, list) else []
